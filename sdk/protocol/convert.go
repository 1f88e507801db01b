package protocol

import (
	"time"

	"github.com/syncgate/syncgate/sdk/internal/core"
	"github.com/syncgate/syncgate/sdk/protocol/pb"
)

// The conversions between the plain Go types and the wire types. They are the
// only place that knows both; everything else uses one or the other.

func valueToPB(v core.Value) *pb.Value {
	switch v.Kind() {
	case core.KindString:
		return &pb.Value{Kind: &pb.Value_String_{String_: v.Str()}}
	case core.KindInt:
		return &pb.Value{Kind: &pb.Value_Int{Int: v.IntVal()}}
	case core.KindFloat:
		return &pb.Value{Kind: &pb.Value_Float{Float: v.FloatVal()}}
	case core.KindBool:
		return &pb.Value{Kind: &pb.Value_Bool{Bool: v.BoolVal()}}
	case core.KindTime:
		return &pb.Value{Kind: &pb.Value_Timestamp{Timestamp: &pb.Timestamp{UnixNanos: v.UnixNanos(), Zone: v.Zone()}}}
	case core.KindList:
		items := make([]*pb.Value, len(v.ListVal()))
		for i, x := range v.ListVal() {
			items[i] = valueToPB(x)
		}
		return &pb.Value{Kind: &pb.Value_List{List: &pb.ValueList{Items: items}}}
	case core.KindMap:
		return &pb.Value{Kind: &pb.Value_Map{Map: &pb.ValueMap{Entries: fieldsToPB(v.MapVal())}}}
	}
	return &pb.Value{Kind: &pb.Value_Null{Null: true}}
}

func valueFromPB(v *pb.Value) core.Value {
	switch k := v.GetKind().(type) {
	case *pb.Value_String_:
		return core.String(k.String_)
	case *pb.Value_Int:
		return core.Int(k.Int)
	case *pb.Value_Float:
		return core.Float(k.Float)
	case *pb.Value_Bool:
		return core.Bool(k.Bool)
	case *pb.Value_Timestamp:
		return core.TimeIn(time.Unix(0, k.Timestamp.GetUnixNanos()), k.Timestamp.GetZone())
	case *pb.Value_List:
		items := make([]core.Value, len(k.List.GetItems()))
		for i, x := range k.List.GetItems() {
			items[i] = valueFromPB(x)
		}
		return core.List(items...)
	case *pb.Value_Map:
		return core.Map(fieldsFromPB(k.Map.GetEntries()))
	}
	return core.Null
}

func fieldsToPB(f map[string]core.Value) map[string]*pb.Value {
	if f == nil {
		return nil
	}
	out := make(map[string]*pb.Value, len(f))
	for k, v := range f {
		out[k] = valueToPB(v)
	}
	return out
}

func fieldsFromPB(f map[string]*pb.Value) core.Fields {
	if f == nil {
		return nil
	}
	out := make(core.Fields, len(f))
	for k, v := range f {
		out[k] = valueFromPB(v)
	}
	return out
}

func timeToPB(t time.Time) *pb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return &pb.Timestamp{UnixNanos: t.UnixNano()}
}

func timeFromPB(t *pb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Unix(0, t.UnixNanos).UTC()
}

func errorToPB(err error) *pb.Error {
	e := core.AsError(err)
	if e == nil {
		return nil
	}
	return &pb.Error{
		Kind:             pb.ErrorKind(e.Kind),
		Message:          e.Message,
		RetryAfterMillis: e.RetryAfter.Milliseconds(),
		ThrottleScope:    pb.ThrottleScope(e.ThrottleScope),
		CurrentVersion:   e.CurrentVersion,
	}
}

// errorFromPB returns a typed error, or nil. Its static type is error so that
// a nil result is a nil interface.
func errorFromPB(e *pb.Error) error {
	if te := typedErrorFromPB(e); te != nil {
		return te
	}
	return nil
}

func typedErrorFromPB(e *pb.Error) *core.Error {
	if e == nil {
		return nil
	}
	kind := core.ErrorKind(e.Kind)
	if e.Kind == pb.ErrorKind_ERROR_KIND_UNSPECIFIED {
		kind = core.ErrRetryable
	}
	return &core.Error{
		Kind:           kind,
		Message:        e.Message,
		RetryAfter:     time.Duration(e.RetryAfterMillis) * time.Millisecond,
		ThrottleScope:  core.ThrottleScope(e.ThrottleScope),
		CurrentVersion: e.CurrentVersion,
	}
}

func diagsToPB(ds core.Diagnostics) []*pb.Diagnostic {
	out := make([]*pb.Diagnostic, len(ds))
	for i, d := range ds {
		out[i] = &pb.Diagnostic{Severity: pb.Severity(d.Severity), Summary: d.Summary, Detail: d.Detail, AttributePath: d.Path}
	}
	return out
}

func diagsFromPB(ds []*pb.Diagnostic) core.Diagnostics {
	var out core.Diagnostics
	for _, d := range ds {
		sev := core.Severity(d.Severity)
		if sev == 0 {
			sev = core.SeverityError
		}
		out = append(out, core.Diagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail, Path: d.AttributePath})
	}
	return out
}

func feedToPB(f core.Feed) *pb.Feed { return &pb.Feed{Name: f.Name, Scope: f.Scope} }

func feedFromPB(f *pb.Feed) core.Feed { return core.Feed{Name: f.GetName(), Scope: f.GetScope()} }

func changeToPB(r core.ChangeRecord) *pb.ChangeRecord {
	return &pb.ChangeRecord{
		Entity: r.Entity, Id: r.ID, Kind: pb.ChangeKind(r.Kind), Version: r.Version,
		Modified: timeToPB(r.Modified), CorrelationKey: r.CorrelationKey, RoutingKeys: r.RoutingKeys,
	}
}

func changeFromPB(r *pb.ChangeRecord) core.ChangeRecord {
	return core.ChangeRecord{
		Entity: r.Entity, ID: r.Id, Kind: core.ChangeKind(r.Kind), Version: r.Version,
		Modified: timeFromPB(r.Modified), CorrelationKey: r.CorrelationKey, RoutingKeys: r.RoutingKeys,
	}
}

func recordToPB(r *core.Record) *pb.Record {
	if r == nil {
		return nil
	}
	return &pb.Record{
		Entity: r.Entity, Id: r.ID, Version: r.Version, Modified: timeToPB(r.Modified),
		CorrelationKey: r.CorrelationKey, Fields: fieldsToPB(r.Fields), RoutingKeys: r.RoutingKeys,
	}
}

func recordFromPB(r *pb.Record) *core.Record {
	if r == nil {
		return nil
	}
	return &core.Record{
		Entity: r.Entity, ID: r.Id, Version: r.Version, Modified: timeFromPB(r.Modified),
		CorrelationKey: r.CorrelationKey, Fields: fieldsFromPB(r.Fields), RoutingKeys: r.RoutingKeys,
	}
}

// opKinds maps between OpKind and the wire enum (whose delete is named REMOVE
// to stay clear of ChangeKind's DELETE in the proto package's namespace).
var opKindToPB = map[core.OpKind]pb.OpKind{core.OpCreate: pb.OpKind_CREATE, core.OpUpdate: pb.OpKind_UPDATE, core.OpDelete: pb.OpKind_REMOVE}

func opToPB(o core.Op) *pb.Op {
	return &pb.Op{Kind: opKindToPB[o.Kind], Id: o.ID, IfMatch: o.IfMatch, CorrelationKey: o.CorrelationKey, MayExist: o.MayExist, Fields: fieldsToPB(o.Fields)}
}

func opFromPB(o *pb.Op) core.Op {
	var kind core.OpKind
	for k, v := range opKindToPB {
		if v == o.Kind {
			kind = k
		}
	}
	return core.Op{Kind: kind, ID: o.Id, IfMatch: o.IfMatch, CorrelationKey: o.CorrelationKey, MayExist: o.MayExist, Fields: fieldsFromPB(o.Fields)}
}

func hintToPB(h core.Hint) *pb.Hint {
	return &pb.Hint{Feed: feedToPB(h.Feed), Reason: h.Reason, Resync: h.Resync}
}

func hintFromPB(h *pb.Hint) core.Hint {
	return core.Hint{Feed: feedFromPB(h.GetFeed()), Reason: h.GetReason(), Resync: h.GetResync()}
}
