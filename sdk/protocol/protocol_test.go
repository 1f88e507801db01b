package protocol

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/syncgate/syncgate/sdk/internal/core"
	"github.com/syncgate/syncgate/sdk/protocol/pb"
)

// echo is a connector that hands back what it is given, so the test can
// check that every type survives the wire both ways.
type echo struct {
	lastOps  []core.Op
	lastFeed core.Feed
	fields   core.Fields
	err      error
}

func (e *echo) Manifest() []byte { return []byte("manifest bytes") }
func (e *echo) Configure(_ context.Context, env core.Env, cfg core.Fields) core.Diagnostics {
	e.fields = cfg
	return core.Diagnostics{core.Warnf([]string{"x"}, "careful", "endpoint %s", env.Endpoint)}
}
func (e *echo) Check(_ context.Context, scopes []string) (core.CheckResult, error) {
	var res core.CheckResult
	for _, s := range scopes {
		res.Scopes = append(res.Scopes, core.ScopeInfo{Scope: s, RoutingKeys: []string{"user:" + s}})
	}
	return res, nil
}
func (e *echo) PrepareSync(_ context.Context, f core.Feed, c core.Cursor) (core.Pending, error) {
	e.lastFeed = f
	return core.Pending{Kind: core.PendingEstimate, Count: int64(len(c))}, e.err
}
func (e *echo) GetSyncData(_ context.Context, r core.SyncDataRequest) (core.SyncDataPage, error) {
	if e.err != nil {
		return core.SyncDataPage{}, e.err
	}
	return core.SyncDataPage{
		Records: []core.ChangeRecord{{Entity: "contact", ID: "1", Kind: core.ChangeScopeExit, Version: "v", Modified: time.Unix(100, 5).UTC(),
			CorrelationKey: "sg-1", RoutingKeys: []string{"user:a", "user:b"}}},
		NextPageToken: []byte("next"), Cursor: append([]byte("c-"), r.PageToken...),
	}, nil
}
func (e *echo) PostSync(context.Context, core.Feed, core.Cursor) error { return e.err }
func (e *echo) Fetch(_ context.Context, _, entity string, ids []string) ([]core.FetchResult, error) {
	return []core.FetchResult{
		{ID: ids[0], Record: &core.Record{Entity: entity, ID: ids[0], Version: "3", Fields: e.fields}},
		{ID: ids[1], Err: core.NewError(core.ErrNotFound, "gone")},
	}, nil
}
func (e *echo) Apply(_ context.Context, _, _ string, ops []core.Op) ([]core.OpResult, error) {
	e.lastOps = ops
	out := make([]core.OpResult, len(ops))
	for i := range ops {
		out[i] = core.OpResult{ID: "id", Version: "2"}
	}
	out[len(out)-1].Err = core.Conflict("7", "changed")
	return out, nil
}

type watcher struct{ echo }

func (w *watcher) Watch(ctx context.Context, scope string, hints chan<- core.Hint) error {
	for i := 0; i < 3; i++ {
		hints <- core.Hint{Feed: core.Feed{Name: "calendar", Scope: scope}, Reason: "notification", Resync: i == 2}
	}
	<-ctx.Done()
	return nil
}

func (w *watcher) HandleWebhook(_ context.Context, r core.WebhookRequest) (core.WebhookResponse, error) {
	return core.WebhookResponse{Status: 200, Headers: map[string]string{"Content-Type": "text/plain"}, Body: []byte(r.Query["validationToken"]),
		Hints: []core.Hint{{Feed: core.Feed{Name: "contact", Scope: "a"}}}}, nil
}

func dial(t *testing.T, impl core.Connector) *Client {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer(serverOptions(nil)...)
	pb.RegisterConnectorServer(s, &server{impl: impl})
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		append(DialOptions(), grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return lis.Dial() }),
			grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return NewClient(conn)
}

func TestRoundTrip(t *testing.T) {
	impl := &echo{}
	c := dial(t, impl)
	ctx := context.Background()

	desc, err := c.Describe(ctx)
	if err != nil || string(desc.Manifest) != "manifest bytes" || len(desc.Capabilities) != 0 {
		t.Fatalf("Describe: %+v %v", desc, err)
	}
	zone := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	cfg := core.Fields{
		"s": core.String("x"), "i": core.Int(1 << 60), "f": core.Float(0.1), "b": core.Bool(true),
		"t": core.TimeIn(zone, "Asia/Kolkata"), "l": core.List(core.Int(1), core.Null), "m": core.Map(map[string]core.Value{"k": core.Strings("a")}),
		"null": core.Null,
	}
	diags, err := c.Configure(ctx, "ep", cfg, nil)
	if err != nil || len(diags) != 1 || diags[0].Severity != core.SeverityWarning || diags[0].Detail != "endpoint ep" || diags[0].Path[0] != "x" {
		t.Fatalf("Configure: %v %v", diags, err)
	}
	if !impl.fields.Equal(cfg) {
		t.Fatalf("config arrived as %v", impl.fields)
	}
	res, err := c.Check(ctx, []string{"a@x"})
	if err != nil || res.Scopes[0].RoutingKeys[0] != "user:a@x" {
		t.Fatalf("Check: %+v %v", res, err)
	}
	p, err := c.PrepareSync(ctx, core.Feed{Name: "contact", Scope: "a"}, []byte("abc"))
	if err != nil || p.Kind != core.PendingEstimate || p.Count != 3 || impl.lastFeed != (core.Feed{Name: "contact", Scope: "a"}) {
		t.Fatalf("PrepareSync: %+v %v %v", p, err, impl.lastFeed)
	}
	page, err := c.GetSyncData(ctx, core.SyncDataRequest{Feed: core.Feed{Name: "contact"}, PageToken: []byte("p2"), Max: 10})
	r := page.Records[0]
	if err != nil || string(page.Cursor) != "c-p2" || string(page.NextPageToken) != "next" || r.Kind != core.ChangeScopeExit ||
		!r.Modified.Equal(time.Unix(100, 5)) || r.CorrelationKey != "sg-1" || len(r.RoutingKeys) != 2 {
		t.Fatalf("GetSyncData: %+v %v", page, err)
	}
	got, err := c.Fetch(ctx, "a", "contact", []string{"1", "2"})
	if err != nil || !got[0].Record.Fields.Equal(cfg) || got[0].Err != nil || got[1].Err.Kind != core.ErrNotFound || got[1].Record != nil {
		t.Fatalf("Fetch: %+v %v", got, err)
	}
	ops := []core.Op{
		{Kind: core.OpCreate, CorrelationKey: "sg-9", MayExist: true, Fields: cfg},
		{Kind: core.OpUpdate, ID: "1", IfMatch: "2", Fields: core.Fields{"s": core.String("y")}},
		{Kind: core.OpDelete, ID: "1", IfMatch: "3"},
	}
	results, err := c.Apply(ctx, "a", "contact", ops)
	if err != nil || len(results) != 3 || results[2].Err.Kind != core.ErrConflict || results[2].Err.CurrentVersion != "7" || results[0].Err != nil {
		t.Fatalf("Apply: %+v %v", results, err)
	}
	for i, o := range impl.lastOps {
		if o.Kind != ops[i].Kind || o.ID != ops[i].ID || o.IfMatch != ops[i].IfMatch || o.MayExist != ops[i].MayExist ||
			o.CorrelationKey != ops[i].CorrelationKey || !o.Fields.Equal(ops[i].Fields) {
			t.Errorf("op %d arrived as %+v, sent %+v", i, o, ops[i])
		}
	}
	// A connector that answers a Fetch with the wrong number of results is a
	// bug the gateway must not paper over.
	if _, err := c.Fetch(ctx, "a", "contact", []string{"1", "2", "3"}); err == nil || !strings.Contains(err.Error(), "2 results for 3 ids") {
		t.Fatalf("Fetch with a short answer: %v", err)
	}
	// Optional capabilities the connector lacks.
	if err := c.Watch(ctx, "a", func(core.Hint) {}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Watch on a connector without it: %v", err)
	}
	if _, err := c.HandleWebhook(ctx, core.WebhookRequest{}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("HandleWebhook on a connector without it: %v", err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop on a connector without it: %v", err)
	}
}

func TestEveryErrorKindCrossesTheWire(t *testing.T) {
	impl := &echo{}
	c := dial(t, impl)
	kinds := []core.ErrorKind{core.ErrThrottled, core.ErrRetryable, core.ErrConflict, core.ErrNotFound,
		core.ErrPermanent, core.ErrAuth, core.ErrConfig, core.ErrResyncRequired}
	for _, k := range kinds {
		impl.err = &core.Error{Kind: k, Message: "m", RetryAfter: 250 * time.Millisecond, ThrottleScope: core.ThrottleEndpoint, CurrentVersion: "v9"}
		_, err := c.GetSyncData(context.Background(), core.SyncDataRequest{})
		var got *core.Error
		if !errors.As(err, &got) || *got != *impl.err.(*core.Error) {
			t.Errorf("%s arrived as %#v", k, err)
		}
		if err := c.PostSync(context.Background(), core.Feed{}, nil); !core.IsKind(err, k) {
			t.Errorf("PostSync: %s arrived as %v", k, err)
		}
	}
	// An untyped error from a connector becomes retryable, not lost.
	impl.err = errors.New("socket closed")
	_, err := c.PrepareSync(context.Background(), core.Feed{}, nil)
	if !core.IsKind(err, core.ErrRetryable) {
		t.Fatalf("untyped error arrived as %v", err)
	}
}

func TestWatchAndWebhook(t *testing.T) {
	c := dial(t, &watcher{})
	desc, _ := c.Describe(context.Background())
	if len(desc.Capabilities) != 2 || desc.Capabilities[0] != "watch" || desc.Capabilities[1] != "webhook" {
		t.Fatalf("capabilities %v", desc.Capabilities)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var hints []core.Hint
	done := make(chan error)
	go func() {
		done <- c.Watch(ctx, "alice", func(h core.Hint) {
			hints = append(hints, h)
			if len(hints) == 3 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not deliver three hints")
	}
	if hints[0].Feed != (core.Feed{Name: "calendar", Scope: "alice"}) || !hints[2].Resync || hints[1].Resync {
		t.Fatalf("hints %+v", hints)
	}
	res, err := c.HandleWebhook(context.Background(), core.WebhookRequest{Method: "POST", Query: map[string]string{"validationToken": "tok"}})
	if err != nil || res.Status != 200 || string(res.Body) != "tok" || res.Headers["Content-Type"] != "text/plain" || len(res.Hints) != 1 {
		t.Fatalf("HandleWebhook: %+v %v", res, err)
	}
}

func TestLargeMessages(t *testing.T) {
	impl := &echo{}
	c := dial(t, impl)
	big := make([]byte, 8<<20) // twice gRPC's default limit
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	if _, err := c.Configure(context.Background(), "ep", core.Fields{"body": core.String(string(big))}, nil); err != nil {
		t.Fatalf("8 MiB message: %v", err)
	}
	got, err := c.Fetch(context.Background(), "", "contact", []string{"1", "2"})
	if err != nil || len(got[0].Record.Fields["body"].Str()) != len(big) {
		t.Fatalf("8 MiB answer: %v", err)
	}
}
