package dataverseemu

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// row is one record. vals holds column values in their JSON form; kinds holds,
// for each lookup column, the entity set its value points into (a party can be
// a systemuser or a contact).
type row struct {
	vals  map[string]any
	kinds map[string]string
}

func (r *row) version() int64 {
	v, _ := r.vals["versionnumber"].(int64)
	return v
}

type tableData struct {
	rows  map[string]*row
	tombs map[string]int64 // deleted id → org version at deletion, for change tracking
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

const timeLayout = "2006-01-02T15:04:05Z"

// coerce converts a JSON value from a request body to the stored form of a
// column of type ct, or explains why it cannot.
func coerce(ct colType, name string, v any) (any, *apiError) {
	if v == nil {
		return nil, nil
	}
	bad := func() *apiError {
		b, _ := json.Marshal(v)
		return badRequest(codePayload, "Cannot convert the literal '"+strings.Trim(string(b), `"`)+
			"' to the expected type '"+ct.edm()+"' (property '"+name+"').")
	}
	switch ct {
	case tString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case tInt:
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
		}
	case tFloat, tMoney:
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				return f, nil
			}
		}
	case tBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case tDateTime:
		if s, ok := v.(string); ok {
			if t, ok := parseTime(s); ok {
				return t.UTC().Format(timeLayout), nil
			}
		}
	case tDate:
		if s, ok := v.(string); ok {
			if t, ok := parseTime(s); ok {
				return t.Format("2006-01-02"), nil
			}
		}
	case tGUID:
		if s, ok := v.(string); ok && guidRe.MatchString(strings.Trim(s, "{}")) {
			return strings.ToLower(strings.Trim(s, "{}")), nil
		}
	}
	return nil, bad()
}

func parseTime(s string) (time.Time, bool) {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// ref is a parsed "/set(id)" binding.
type ref struct{ set, id string }

func parseRef(v any) (ref, bool) {
	s, ok := v.(string)
	if !ok {
		return ref{}, false
	}
	if i := strings.Index(s, "/api/data/"); i >= 0 {
		s = s[i+len("/api/data/"):]
		if _, rest, ok := strings.Cut(s, "/"); ok {
			s = rest
		}
	}
	s = strings.TrimPrefix(s, "/")
	open := strings.IndexByte(s, '(')
	if open <= 0 || !strings.HasSuffix(s, ")") {
		return ref{}, false
	}
	id := strings.ToLower(strings.Trim(s[open+1:len(s)-1], "{}'"))
	if !guidRe.MatchString(id) {
		return ref{}, false
	}
	return ref{set: s[:open], id: id}, true
}

// writePlan is a validated request body: nothing is stored until the whole
// body (with its deep inserts) has been checked.
type writePlan struct {
	t        *table
	set      map[string]any
	binds    map[string]ref // lookup column → bound row (id "" clears)
	children []childPlan    // collection-valued deep insert
	parents  []parentPlan   // single-valued deep insert
	assoc    []assocPlan    // collection-valued @odata.bind
}

type childPlan struct {
	nav   string
	m     many
	plans []*writePlan
}

type parentPlan struct {
	s    single
	plan *writePlan
}

type assocPlan struct {
	m   many
	ids []string
}

// plan validates body for table t. creating allows the primary key.
func (e *Emulator) plan(t *table, body map[string]any, creating bool) (*writePlan, *apiError) {
	p := &writePlan{t: t, set: map[string]any{}, binds: map[string]ref{}}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := body[k]
		if nav, ok := strings.CutSuffix(k, "@odata.bind"); ok {
			if err := e.planBind(p, nav, v); err != nil {
				return nil, err
			}
			continue
		}
		if strings.Contains(k, "@") {
			continue // instance annotations such as @odata.type carry no data
		}
		if s, ok := t.singles[k]; ok {
			obj, ok := v.(map[string]any)
			tt := e.schema[s.target]
			if !ok || tt == nil {
				return nil, badRequest(codePayload, "Deep insert through '"+k+"' needs an object for a row of "+s.target+".")
			}
			sub, err := e.plan(tt, obj, true)
			if err != nil {
				return nil, err
			}
			p.parents = append(p.parents, parentPlan{s: s, plan: sub})
			continue
		}
		if m, ok := t.manys[k]; ok {
			arr, ok := v.([]any)
			if !ok {
				return nil, badRequest(codePayload, "Deep insert through '"+k+"' needs an array of objects.")
			}
			cp := childPlan{nav: k, m: m}
			tt := e.schema[m.target]
			for _, item := range arr {
				obj, ok := item.(map[string]any)
				if !ok {
					return nil, badRequest(codePayload, "Deep insert through '"+k+"' needs an array of objects.")
				}
				sub, err := e.plan(tt, obj, true)
				if err != nil {
					return nil, err
				}
				cp.plans = append(cp.plans, sub)
			}
			p.children = append(p.children, cp)
			continue
		}
		ct, ok := t.cols[k]
		if !ok {
			return nil, badRequest(codeQuery, "The property '"+k+"' does not exist on type '"+t.typeName()+
				"'. Make sure to only use property names that are defined by the type.")
		}
		if ct == tLookup {
			return nil, badRequest(codeQuery, "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead. ('"+
				k+"': bind with <navigation property>@odata.bind instead)")
		}
		if t.readOnly[k] {
			continue
		}
		cv, err := coerce(ct, k, v)
		if err != nil {
			return nil, err
		}
		if k == t.key && !creating {
			continue // the key in the URL wins; Dataverse ignores it in an update body
		}
		p.set[k] = cv
	}
	return p, nil
}

func (e *Emulator) planBind(p *writePlan, nav string, v any) *apiError {
	t := p.t
	if s, ok := t.singles[nav]; ok {
		if v == nil {
			if nav == "ownerid" {
				return badRequest(codePayload, "ownerid cannot be cleared; bind it to another /systemusers(<id>).")
			}
			p.binds[s.col] = ref{set: s.target}
			return nil
		}
		rf, ok := parseRef(v)
		if !ok || rf.set != s.target {
			return badRequest(codePayload, fmt.Sprintf("'%s@odata.bind' must be a string like \"/%s(<id>)\", not %v.", nav, s.target, v))
		}
		if err := e.mustExist(rf); err != nil {
			return err
		}
		p.binds[s.col] = rf
		return nil
	}
	if m, ok := t.manys[nav]; ok {
		arr, ok := v.([]any)
		if !ok {
			return badRequest(codePayload, "'"+nav+"@odata.bind' must be an array of \"/"+m.target+"(<id>)\" strings.")
		}
		ap := assocPlan{m: m}
		for _, item := range arr {
			rf, ok := parseRef(item)
			if !ok || rf.set != m.target {
				return badRequest(codePayload, fmt.Sprintf("'%s@odata.bind' items must be strings like \"/%s(<id>)\", not %v.", nav, m.target, item))
			}
			if err := e.mustExist(rf); err != nil {
				return err
			}
			ap.ids = append(ap.ids, rf.id)
		}
		p.assoc = append(p.assoc, ap)
		return nil
	}
	return badRequest(codeQuery, "An undeclared property '"+nav+"' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.")
}

func (e *Emulator) mustExist(rf ref) *apiError {
	td := e.data[rf.set]
	if td == nil {
		return nil // a table the emulator does not model (services): accept the reference as is
	}
	if _, ok := td.rows[rf.id]; !ok {
		return &apiError{status: http.StatusBadRequest, code: codeNotExist,
			msg: e.schema[rf.set].logical + " With Id = " + rf.id + " Does Not Exist"}
	}
	return nil
}

// bump gives r the next org-wide version and a new modifiedon.
func (e *Emulator) bump(r *row) {
	e.version++
	r.vals["versionnumber"] = e.version
	r.vals["modifiedon"] = e.now().UTC().Format(timeLayout)
}

// create stores a planned row (and its deep inserts) and returns its id.
// caller owns it unless the plan binds ownerid.
func (e *Emulator) create(p *writePlan, id, caller string, link *ref, linkCol string) (string, *apiError) {
	t := p.t
	if id == "" {
		if v, ok := p.set[t.key].(string); ok {
			id = v
		} else {
			id = newID()
		}
	}
	td := e.data[t.set]
	if _, exists := td.rows[id]; exists {
		return "", &apiError{status: http.StatusPreconditionFailed, code: codeDuplicate, msg: "A record with matching key values already exists."}
	}
	if msg := e.pluginErr[t.set]; msg != "" {
		return "", pluginError(t, msg)
	}
	var owner any
	if _, ok := t.cols["_ownerid_value"]; ok && caller != "" {
		owner = caller
	}
	r := e.newRow(t, id, "systemusers", owner)
	if link != nil {
		r.vals[linkCol] = link.id
		r.kinds[linkCol] = link.set
	}
	for _, pp := range p.parents {
		pid, err := e.create(pp.plan, "", caller, nil, "")
		if err != nil {
			return "", err
		}
		r.vals[pp.s.col] = pid
		r.kinds[pp.s.col] = pp.s.target
	}
	e.apply(t, r, p)
	td.rows[id] = r
	delete(td.tombs, id)
	e.bump(r)
	self := ref{set: t.set, id: id}
	for _, cp := range p.children {
		for _, sub := range cp.plans {
			if _, err := e.create(sub, "", caller, &self, cp.m.fk); err != nil {
				return "", err
			}
		}
	}
	e.associate(self, p.assoc)
	e.touchParentActivity(t, r)
	if t.set == "recurringappointmentmasters" {
		e.expandSeries(r)
	}
	return id, nil
}

// apply copies the plan's columns and bindings onto r and recomputes the
// columns the service derives.
func (e *Emulator) apply(t *table, r *row, p *writePlan) {
	for k, v := range p.set {
		r.vals[k] = v
	}
	for col, rf := range p.binds {
		if rf.id == "" {
			r.vals[col] = nil
			delete(r.kinds, col)
			continue
		}
		r.vals[col] = rf.id
		r.kinds[col] = rf.set
	}
	e.derive(t, r)
}

func (e *Emulator) derive(t *table, r *row) {
	str := func(k string) string { s, _ := r.vals[k].(string); return s }
	switch t.set {
	case "contacts":
		r.vals["fullname"] = strings.TrimSpace(strings.Join(strings.Fields(str("firstname")+" "+str("middlename")+" "+str("lastname")), " "))
		var parts []string
		for _, k := range []string{"address1_line1", "address1_line2", "address1_line3", "address1_city", "address1_stateorprovince", "address1_postalcode", "address1_country"} {
			if s := str(k); s != "" {
				parts = append(parts, s)
			}
		}
		if len(parts) > 0 {
			r.vals["address1_composite"] = strings.Join(parts, "\r\n")
		} else {
			r.vals["address1_composite"] = nil
		}
	case "accounts":
		if r.vals["revenue"] != nil {
			r.vals["_transactioncurrencyid_value"] = orgCurrencyID
			r.kinds["_transactioncurrencyid_value"] = "transactioncurrencies"
		}
	case "activityparties":
		if r.vals["addressused"] == nil {
			if pr := e.lookupRow(r, "_partyid_value"); pr != nil {
				if s, ok := pr.vals["internalemailaddress"].(string); ok {
					r.vals["addressused"] = s
				} else if s, ok := pr.vals["emailaddress1"].(string); ok {
					r.vals["addressused"] = s
				}
			}
		}
	}
	if t.activity {
		if s, ok1 := parseTime(str("scheduledstart")); ok1 {
			if en, ok2 := parseTime(str("scheduledend")); ok2 {
				r.vals["scheduleddurationminutes"] = int64(en.Sub(s) / time.Minute)
			}
		}
	}
}

func (e *Emulator) lookupRow(r *row, col string) *row {
	id, _ := r.vals[col].(string)
	set := r.kinds[col]
	if id == "" || e.data[set] == nil {
		return nil
	}
	return e.data[set].rows[id]
}

// associate points the lookup of each bound row at self
// (Account_Tasks@odata.bind).
func (e *Emulator) associate(self ref, assoc []assocPlan) {
	for _, a := range assoc {
		for _, id := range a.ids {
			if cr := e.data[a.m.target].rows[id]; cr != nil {
				cr.vals[a.m.fk] = self.id
				cr.kinds[a.m.fk] = self.set
				e.bump(cr)
			}
		}
	}
}

// touchParentActivity bumps the activity an activity party belongs to: a
// change of attendees is a change of the appointment for change tracking.
func (e *Emulator) touchParentActivity(t *table, r *row) {
	if t.set != "activityparties" {
		return
	}
	if pr := e.lookupRow(r, "_activityid_value"); pr != nil {
		e.bump(pr)
	}
}

// update applies a plan to an existing row. Collection-valued navigation
// properties of activity parties replace the party list, as an update of an
// activity's parties does in Dataverse.
func (e *Emulator) update(p *writePlan, r *row, caller string) *apiError {
	t := p.t
	for _, pp := range p.parents {
		pid, err := e.create(pp.plan, "", caller, nil, "")
		if err != nil {
			return err
		}
		r.vals[pp.s.col] = pid
		r.kinds[pp.s.col] = pp.s.target
	}
	e.apply(t, r, p)
	id := r.vals[t.key].(string)
	self := ref{set: t.set, id: id}
	for _, cp := range p.children {
		if cp.m.target == "activityparties" {
			for _, pr := range e.childrenOf(cp.m, id) {
				e.remove(e.schema["activityparties"], pr.vals["activitypartyid"].(string))
			}
		}
		for _, sub := range cp.plans {
			if _, err := e.create(sub, "", caller, &self, cp.m.fk); err != nil {
				return err
			}
		}
	}
	e.associate(self, p.assoc)
	if t.set == "appointments" && r.vals["instancetypecode"] == int64(instanceRecurring) {
		// an edited instance becomes an exception to its series
		r.vals["instancetypecode"] = int64(instanceException)
	}
	e.bump(r)
	e.touchParentActivity(t, r)
	if t.set == "recurringappointmentmasters" {
		e.updateSeries(r, p)
	}
	return nil
}

// childrenOf lists the rows of m.target whose m.fk is id, in key order. An
// index per (table, lookup) is rebuilt only when the organization's version
// has moved since, so expanding the parties of many appointments in one page
// does not scan every party per appointment.
func (e *Emulator) childrenOf(m many, id string) []*row {
	key := m.target + "|" + m.fk
	ix := e.fkIndex[key]
	if ix == nil || ix.version != e.version {
		ix = &fkIndex{version: e.version, by: map[string][]*row{}}
		for _, r := range e.data[m.target].rows {
			if v, ok := r.vals[m.fk].(string); ok {
				ix.by[v] = append(ix.by[v], r)
			}
		}
		for _, rows := range ix.by {
			sortRows(e.schema[m.target], rows, nil)
		}
		e.fkIndex[key] = ix
	}
	return append([]*row(nil), ix.by[id]...)
}

// fkIndex maps lookup values to the rows holding them, as of version.
type fkIndex struct {
	version int64
	by      map[string][]*row
}

// remove deletes a row, leaving a tombstone for change tracking, and what the
// service deletes with it: an activity's parties, a series' instances.
func (e *Emulator) remove(t *table, id string) {
	td := e.data[t.set]
	r := td.rows[id]
	if r == nil {
		return
	}
	delete(td.rows, id)
	e.version++
	td.tombs[id] = e.version
	if t.activity {
		for _, m := range t.manys {
			if m.target == "activityparties" {
				for _, pr := range e.childrenOf(m, id) {
					e.remove(e.schema["activityparties"], pr.vals["activitypartyid"].(string))
				}
			}
		}
	}
	if t.set == "recurringappointmentmasters" {
		e.removeInstances(id)
	}
	e.touchParentActivity(t, r)
}

func pluginError(t *table, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codePluginError, msg: msg, annotations: object{
		{"@Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus", "1"},
		{"@Microsoft.PowerApps.CDS.ErrorDetails.SubErrorCode", "12345"},
		{"@Microsoft.PowerApps.CDS.HelpLink", "http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException%3a80040265&client=platform"},
		{"@Microsoft.PowerApps.CDS.TraceText", "\r\n[syncgate.Emulator: syncgate.Emulator.Plugin ]\r\n[Create of " + t.logical + "]\r\n\r\n Entering emulated plug-in.\r\n"},
		{"@Microsoft.PowerApps.CDS.InnerError.Message", msg},
	}}
}

// sortRows orders rows by $orderby, then by primary key: with no $orderby the
// service pages in primary key order, which is what its paging cookie encodes.
func sortRows(t *table, rows []*row, order []orderItem) {
	sort.SliceStable(rows, func(i, j int) bool {
		for _, o := range order {
			a, b := rows[i].vals[o.col], rows[j].vals[o.col]
			var c int
			switch {
			case a == nil && b == nil:
				c = 0
			case a == nil:
				c = -1
			case b == nil:
				c = 1
			default:
				c = compareValues(a, b)
			}
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return rows[i].vals[t.key].(string) < rows[j].vals[t.key].(string)
	})
}

// render writes a row as the Web API does: @odata.etag, the selected columns
// (all when there is no $select), the primary key, and expansions.
func (e *Emulator) render(t *table, r *row, o *queryOptions) object {
	out := object{}
	if v := r.version(); v != 0 {
		out = append(out, field{"@odata.etag", etag(v)})
	}
	sel := o.sel
	if sel == nil {
		for c := range t.cols {
			sel = append(sel, c)
		}
		sort.Strings(sel)
	}
	seen := map[string]bool{}
	money := false
	for _, c := range sel {
		if seen[c] {
			continue
		}
		seen[c] = true
		if o.annotations != "" && t.cols[c] == tLookup && r.vals[c] != nil {
			out = append(out, e.lookupAnnotations(t, r, c, o)...)
		}
		out = append(out, field{c, r.vals[c]})
		if t.cols[c] == tMoney {
			money = true
		}
	}
	if money && !seen["_transactioncurrencyid_value"] {
		if _, ok := t.cols["_transactioncurrencyid_value"]; ok {
			out = append(out, field{"_transactioncurrencyid_value", r.vals["_transactioncurrencyid_value"]})
			seen["_transactioncurrencyid_value"] = true
		}
	}
	if !seen[t.key] {
		out = append(out, field{t.key, r.vals[t.key]})
	}
	for _, x := range o.expand {
		x.opts.annotations = o.annotations
		if s, ok := t.singles[x.name]; ok {
			tr := e.lookupRow(r, s.col)
			if tr == nil || r.kinds[s.col] != s.target {
				out = append(out, field{x.name, nil})
				continue
			}
			out = append(out, field{x.name, e.render(e.schema[s.target], tr, x.opts)})
			continue
		}
		m := t.manys[x.name]
		tt := e.schema[m.target]
		var items []object
		for _, cr := range e.childrenOf(m, r.vals[t.key].(string)) {
			if x.opts.filter != nil && !x.opts.filter.eval(cr) {
				continue
			}
			items = append(items, e.render(tt, cr, x.opts))
		}
		if items == nil {
			items = []object{}
		}
		out = append(out, field{x.name, items})
	}
	return out
}

// lookupAnnotations are the annotations the service puts before a lookup
// value when asked: the referenced row's primary name, the table it is in
// and the navigation property that sets it.
func (e *Emulator) lookupAnnotations(t *table, r *row, col string, o *queryOptions) []field {
	set := r.kinds[col]
	logical := strings.TrimSuffix(set, "s")
	if tt := e.schema[set]; tt != nil {
		logical = tt.logical
	} else if set == "transactioncurrencies" {
		logical = "transactioncurrency"
	}
	var out []field
	if o.wants("OData.Community.Display.V1.FormattedValue") {
		if tr := e.lookupRow(r, col); tr != nil {
			for _, name := range []string{"fullname", "name", "subject"} {
				if v, ok := tr.vals[name].(string); ok {
					out = append(out, field{col + "@OData.Community.Display.V1.FormattedValue", v})
					break
				}
			}
		}
	}
	if !o.wants("Microsoft.Dynamics.CRM.lookuplogicalname") {
		return out
	}
	var navs []string
	for name, s := range t.singles {
		if s.col == col && s.target == set {
			navs = append(navs, name)
		}
	}
	sort.Strings(navs)
	if len(navs) > 0 {
		out = append(out, field{col + "@Microsoft.Dynamics.CRM.associatednavigationproperty", navs[0]})
	}
	return append(out, field{col + "@Microsoft.Dynamics.CRM.lookuplogicalname", logical})
}

// contextURL is the @odata.context of a response about t.
func contextURL(req *odataRequest, t *table, o *queryOptions, suffix string) string {
	u := req.base + "/api/data/" + req.version + "/$metadata#" + t.set
	if o != nil && (len(o.sel) > 0 || len(o.expand) > 0) {
		var parts []string
		parts = append(parts, o.sel...)
		for _, x := range o.expand {
			inner := strings.Join(x.opts.sel, ",")
			parts = append(parts, x.name+"("+inner+")")
		}
		u += "(" + strings.Join(parts, ",") + ")"
	}
	return u + suffix
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
