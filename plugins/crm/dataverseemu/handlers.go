package dataverseemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// dispatch serves one authenticated, admitted Web API request. The whole
// operation runs under the emulator's lock, so every request sees and leaves
// a consistent organization.
func (e *Emulator) dispatch(w http.ResponseWriter, r *http.Request, req *odataRequest) {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.handle(w, r, req)
	if err != nil {
		if _, ok := preferences(r)["odata.include-annotations"]; !ok {
			err.annotations = nil
		}
		err.write(w)
	}
}

func (e *Emulator) handle(w http.ResponseWriter, r *http.Request, req *odataRequest) *apiError {
	if req.set == "WhoAmI" && req.id == "" && req.prop == "" && r.Method == http.MethodGet {
		// the usual connection check: who the token (and impersonation) acts as
		writeJSON(w, http.StatusOK, object{
			{"@odata.context", req.base + "/api/data/" + req.version + "/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"},
			{"BusinessUnitId", nameUUID("businessunit", "root")},
			{"UserId", req.callerUserID},
			{"OrganizationId", nameUUID("organization", "syncgate-emulator")},
		})
		return nil
	}
	t := e.schema[req.set]
	if t == nil {
		return &apiError{status: http.StatusNotFound, code: codeQuery,
			msg: "Resource not found for the segment '" + req.set + "'. The emulated entity sets are contacts, appointments, recurringappointmentmasters, tasks, serviceappointments, systemusers, activityparties, accounts and opportunities."}
	}
	if t.immutable && r.Method != http.MethodGet {
		return &apiError{status: http.StatusForbidden, code: "0x80040220",
			msg: "systemusers are provisioned from the emulator's users (-users) and cannot be changed through the Web API."}
	}
	switch {
	case r.Method == http.MethodGet && req.count:
		return e.getCount(w, r, req, t)
	case r.Method == http.MethodGet && req.id == "":
		return e.getCollection(w, r, req, t)
	case r.Method == http.MethodGet && req.prop == "":
		return e.getOne(w, r, req, t)
	case r.Method == http.MethodGet:
		return e.getProperty(w, r, req, t)
	case r.Method == http.MethodPost && req.id == "" && !req.count:
		return e.post(w, r, req, t)
	case r.Method == http.MethodPatch && req.id != "" && req.prop == "":
		return e.patch(w, r, req, t)
	case (r.Method == http.MethodPut || r.Method == http.MethodDelete) && req.id != "" && req.prop != "":
		return e.setProperty(w, r, req, t)
	case r.Method == http.MethodDelete && req.id != "" && req.prop == "":
		return e.deleteRow(w, r, req, t)
	}
	return &apiError{status: http.StatusMethodNotAllowed, code: "",
		msg: r.Method + " is not supported on " + r.URL.Path + "; the emulator serves GET, POST, PATCH, DELETE on rows and PUT/DELETE on single columns."}
}

func readBody(r *http.Request) (map[string]any, *apiError) {
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil || body == nil {
		msg := "the body must be a JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, badRequest(codePayload, "Error identified in Payload provided by the user: "+msg+".")
	}
	return body, nil
}

func (e *Emulator) getCount(w http.ResponseWriter, r *http.Request, req *odataRequest, t *table) *apiError {
	o, err := e.parseOptions(t, r.URL.Query())
	if err != nil {
		return err
	}
	n := len(e.query(t, o))
	if n > 5000 {
		n = 5000 // the service never counts past 5,000
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, n)
	return nil
}

// query returns the rows of t matching o's filter, in o's order.
func (e *Emulator) query(t *table, o *queryOptions) []*row {
	var rows []*row
	for _, rw := range e.data[t.set].rows {
		if o.filter == nil || o.filter.eval(rw) {
			rows = append(rows, rw)
		}
	}
	sortRows(t, rows, o.orderby)
	return rows
}

func maxPageSize(r *http.Request) (int, bool, *apiError) {
	v, ok := preferences(r)["odata.maxpagesize"]
	if !ok {
		return 5000, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, false, badRequest(codeQuery, "Invalid Prefer: odata.maxpagesize="+v+"; use a positive integer (at most 5000).")
	}
	if n > 5000 {
		n = 5000
	}
	return n, true, nil
}

func (e *Emulator) getCollection(w http.ResponseWriter, r *http.Request, req *odataRequest, t *table) *apiError {
	o, err := e.parseOptions(t, r.URL.Query())
	if err != nil {
		return err
	}
	o.annotations = includeAnnotations(r)
	pageSize, sized, err := maxPageSize(r)
	if err != nil {
		return err
	}
	tracking := hasPreference(r, "odata.track-changes") || o.deltatoken != ""
	var applied []string
	if sized {
		applied = append(applied, "odata.maxpagesize="+strconv.Itoa(pageSize))
	}
	if tracking {
		for _, bad := range []struct {
			on   bool
			name string
		}{{o.hasFilter, "$filter"}, {len(o.orderby) > 0, "$orderby"}, {len(o.expand) > 0, "$expand"}, {o.top >= 0, "$top"}} {
			if bad.on {
				return badRequest(codeQuery, "The query option "+bad.name+" is not supported with change tracking (Prefer: odata.track-changes); request the whole table and filter the changes on the client.")
			}
		}
		return e.delta(w, r, req, t, o, pageSize, append([]string{"odata.track-changes"}, applied...))
	}
	rows := e.query(t, o)
	total := len(rows)
	if o.top >= 0 && !sized && o.top < len(rows) {
		rows = rows[:o.top]
	}
	pageNo := 1
	if o.skiptoken != "" {
		c, err := parseCookie(o.skiptoken)
		if err != nil {
			return err
		}
		pageNo = c.page
		rows = after(t, rows, c.attrs["last"], len(o.orderby) > 0)
	}
	body := object{{"@odata.context", contextURL(req, t, o, "")}}
	if o.count {
		if total > 5000 {
			total = 5000
		}
		body = append(body, field{"@odata.count", total})
	}
	var next string
	if len(rows) > pageSize {
		rows = rows[:pageSize]
		last, first := rows[len(rows)-1].vals[t.key].(string), rows[0].vals[t.key].(string)
		next = nextLink(r, req, makeCookie(pageNo+1, t.key, map[string]string{"last": last, "first": first}, false))
	}
	body = append(body, field{"value", e.renderAll(t, rows, o)})
	if next != "" {
		body = append(body, field{"@odata.nextLink", next})
	}
	if len(applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(applied, ","))
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (e *Emulator) renderAll(t *table, rows []*row, o *queryOptions) []object {
	out := make([]object, 0, len(rows))
	for _, rw := range rows {
		out = append(out, e.render(t, rw, o))
	}
	return out
}

// after drops the rows up to and including the one with id last. In key order
// a deleted row still marks its place; under $orderby it must still exist.
func after(t *table, rows []*row, last string, ordered bool) []*row {
	last = strings.ToLower(strings.Trim(last, "{}"))
	for i, rw := range rows {
		id := rw.vals[t.key].(string)
		if ordered && id == last {
			return rows[i+1:]
		}
		if !ordered && id > last {
			return rows[i:]
		}
	}
	return nil
}

// cookie is a parsed $skiptoken: the page number and the attributes of the
// inner paging cookie.
type cookie struct {
	page     int
	tracking bool
	attrs    map[string]string
}

var attrRe = regexp.MustCompile(`(\w+)="([^"]*)"`)

// makeCookie builds a $skiptoken value in the documented form: a cookie
// element whose pagingcookie attribute holds a URL-encoded inner cookie with
// the last and first keys of the page. Change-tracking rounds add the
// versions that bound the round to the inner cookie.
func makeCookie(page int, key string, attrs map[string]string, tracking bool) string {
	inner := fmt.Sprintf(`<cookie page="%d"><%s`, page-1, key)
	for _, k := range []string{"last", "first", "since", "upto", "lastversion"} {
		if v, ok := attrs[k]; ok {
			if k == "last" || k == "first" {
				v = "{" + strings.ToUpper(v) + "}"
			}
			inner += fmt.Sprintf(` %s="%s"`, k, v)
		}
	}
	inner += ` /></cookie>`
	tr := "False"
	if tracking {
		tr = "True"
	}
	return fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" istracking="%s" />`, page, escapeCookie(inner, true), tr)
}

func parseCookie(s string) (*cookie, *apiError) {
	bad := badRequest(codeQuery, "The $skiptoken is not a paging cookie this service issued; follow @odata.nextLink unchanged.")
	c := &cookie{attrs: map[string]string{}}
	var inner string
	for _, m := range attrRe.FindAllStringSubmatch(s, -1) {
		switch m[1] {
		case "pagenumber":
			n, err := strconv.Atoi(m[2])
			if err != nil {
				return nil, bad
			}
			c.page = n
		case "pagingcookie":
			inner = m[2]
		case "istracking":
			c.tracking = m[2] == "True"
		}
	}
	dec, err := unescape(inner)
	if c.page < 2 || err != nil {
		return nil, bad
	}
	for _, m := range attrRe.FindAllStringSubmatch(dec, -1) {
		c.attrs[m[1]] = m[2]
	}
	if c.attrs["last"] == "" && c.attrs["lastversion"] == "" {
		return nil, bad
	}
	return c, nil
}

func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("bad escape")
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", err
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), nil
}

// linkBase is the request URL without $skiptoken and $deltatoken, to which
// the next link's token is appended.
func linkBase(r *http.Request, req *odataRequest) string {
	var keep []string
	for _, p := range strings.Split(r.URL.RawQuery, "&") {
		name, _, _ := strings.Cut(p, "=")
		name = strings.Replace(name, "%24", "$", 1)
		if p == "" || name == "$skiptoken" || name == "$deltatoken" {
			continue
		}
		keep = append(keep, p)
	}
	u := req.base + r.URL.Path + "?"
	if len(keep) > 0 {
		u += strings.Join(keep, "&") + "&"
	}
	return u
}

func nextLink(r *http.Request, req *odataRequest, skiptoken string) string {
	u := linkBase(r, req) + "$skiptoken=" + escapeCookie(skiptoken, false)
	if dt := r.URL.Query().Get("$deltatoken"); dt != "" {
		u += "&$deltatoken=" + escapeAll(dt)
	}
	return u
}

// escapeAll percent-encodes everything but letters and digits, in lower-case
// hex, as the documented delta tokens are written (919042%2108%2f22%2f2017...).
func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02x", c)
	}
	return b.String()
}

func (e *Emulator) getOne(w http.ResponseWriter, r *http.Request, req *odataRequest, t *table) *apiError {
	o, err := e.parseOptions(t, r.URL.Query())
	if err != nil {
		return err
	}
	o.annotations = includeAnnotations(r)
	rw := e.data[t.set].rows[req.id]
	if rw == nil {
		return notFound(t, req.id)
	}
	tag := etag(rw.version())
	// A conditional GET is never answered 304 when the query expands
	// related rows: their changes do not show in this row's version.
	if inm := r.Header.Get("If-None-Match"); inm != "" && len(o.expand) == 0 && (inm == tag || inm == "*") {
		w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	body := object{{"@odata.context", contextURL(req, t, o, "/$entity")}}
	body = append(body, e.render(t, rw, o)...)
	w.Header().Set("ETag", tag)
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (e *Emulator) getProperty(w http.ResponseWriter, r *http.Request, req *odataRequest, t *table) *apiError {
	rw := e.data[t.set].rows[req.id]
	if rw == nil {
		return notFound(t, req.id)
	}
	if m, ok := t.manys[req.prop]; ok {
		tt := e.schema[m.target]
		o, err := e.parseOptions(tt, r.URL.Query())
		if err != nil {
			return err
		}
		o.annotations = includeAnnotations(r)
		var rows []*row
		for _, cr := range e.childrenOf(m, req.id) {
			if o.filter == nil || o.filter.eval(cr) {
				rows = append(rows, cr)
			}
		}
		writeJSON(w, http.StatusOK, object{
			{"@odata.context", contextURL(req, tt, o, "")},
			{"value", e.renderAll(tt, rows, o)},
		})
		return nil
	}
	if _, ok := t.cols[req.prop]; !ok {
		return unknownProperty(t, req.prop)
	}
	writeJSON(w, http.StatusOK, object{
		{"@odata.context", req.base + "/api/data/" + req.version + "/$metadata#" + t.set + "(" + req.id + ")/" + req.prop},
		{"value", rw.vals[req.prop]},
	})
	return nil
}

// represent answers a write with Prefer: return=representation: the row with
// the request's $select and (on create) $expand.
func (e *Emulator) represent(w http.ResponseWriter, r *http.Request, req *odataRequest, t *table, id string, status int, expand bool) *apiError {
	q := r.URL.Query()
	if !expand {
		q.Del("$expand") // the service ignores $expand on PATCH
	}
	o, err := e.parseOptions(t, q)
	if err != nil {
		return err
	}
	o.annotations = includeAnnotations(r)
	rw := e.data[t.set].rows[id]
	body := object{{"@odata.context", contextURL(req, t, o, "/$entity")}}
	body = append(body, e.render(t, rw, o)...)
	w.Header().Set("Preference-Applied", "return=representation")
	w.Header().Set("ETag", etag(rw.version()))
	writeJSON(w, status, body)
	return nil
}

func (e *Emulator) entityID(req *odataRequest, t *table, id string) string {
	return req.base + "/api/data/" + req.version + "/" + t.set + "(" + id + ")"
}

// includeAnnotations is the value of Prefer: odata.include-annotations
// ("" when absent): which instance annotations the client asked for.
func includeAnnotations(r *http.Request) string {
	v, ok := preferences(r)["odata.include-annotations"]
	if ok && v == "" {
		v = "*"
	}
	return v
}

func wantsRepresentation(r *http.Request) bool {
	return preferences(r)["return"] == "representation"
}

func (e *Emulator) post(w http.ResponseWriter, r *http.Request, req *odataRequest, t *table) *apiError {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if wantsRepresentation(r) {
		// validate the query before anything is stored
		if _, err := e.parseOptions(t, r.URL.Query()); err != nil {
			return err
		}
	}
	p, err := e.plan(t, body, true)
	if err != nil {
		return err
	}
	id, err := e.create(p, "", req.callerUserID, nil, "")
	if err != nil {
		return err
	}
	if wantsRepresentation(r) {
		return e.represent(w, r, req, t, id, http.StatusCreated, true)
	}
	w.Header().Set("OData-EntityId", e.entityID(req, t, id))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

const versionMismatch = "The version of the existing record doesn't match the RowVersion property provided."

// checkIfMatch applies an If-Match header to an existing row (nil if
// missing).
func checkIfMatch(r *http.Request, t *table, id string, rw *row) *apiError {
	im := strings.TrimSpace(r.Header.Get("If-Match"))
	if im == "" {
		return nil
	}
	if rw == nil {
		return &apiError{status: http.StatusNotFound, code: "", msg: t.logical + " With Id = " + id + " Does Not Exist"}
	}
	if im != "*" && im != etag(rw.version()) {
		return &apiError{status: http.StatusPreconditionFailed, code: "", msg: versionMismatch}
	}
	return nil
}

// patch updates a row, or creates it with the key from the URL (upsert).
// If-Match: * (or an etag) prevents the create, If-None-Match: * prevents
// the update.
func (e *Emulator) patch(w http.ResponseWriter, r *http.Request, req *odataRequest, t *table) *apiError {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	rw := e.data[t.set].rows[req.id]
	if strings.TrimSpace(r.Header.Get("If-None-Match")) == "*" && rw != nil {
		return &apiError{status: http.StatusPreconditionFailed, code: "", msg: "A record with matching key values already exists."}
	}
	if err := checkIfMatch(r, t, req.id, rw); err != nil {
		return err
	}
	if wantsRepresentation(r) {
		if _, err := e.parseOptions(t, r.URL.Query()); err != nil {
			return err
		}
	}
	p, err := e.plan(t, body, rw == nil)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if rw == nil {
		delete(p.set, t.key)
		if _, err := e.create(p, req.id, req.callerUserID, nil, ""); err != nil {
			return err
		}
		status = http.StatusCreated
	} else if err := e.update(p, rw, req.callerUserID); err != nil {
		return err
	}
	if wantsRepresentation(r) {
		return e.represent(w, r, req, t, req.id, status, false)
	}
	w.Header().Set("OData-EntityId", e.entityID(req, t, req.id))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setProperty serves PUT .../<column> {"value": v} and DELETE .../<column>.
func (e *Emulator) setProperty(w http.ResponseWriter, r *http.Request, req *odataRequest, t *table) *apiError {
	rw := e.data[t.set].rows[req.id]
	if rw == nil {
		return notFound(t, req.id)
	}
	var v any
	if r.Method == http.MethodPut {
		body, err := readBody(r)
		if err != nil {
			return err
		}
		var ok bool
		if v, ok = body["value"]; !ok || len(body) != 1 {
			return badRequest(codePayload, `PUT to a single column needs the body {"value": <new value>}.`)
		}
	}
	if err := checkIfMatch(r, t, req.id, rw); err != nil {
		return err
	}
	p, err := e.plan(t, map[string]any{req.prop: v}, false)
	if err != nil {
		return err
	}
	if _, ok := t.cols[req.prop]; !ok || t.readOnly[req.prop] || req.prop == t.key {
		return badRequest(codeQuery, "The column '"+req.prop+"' of "+t.logical+" cannot be set on its own.")
	}
	if err := e.update(p, rw, req.callerUserID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (e *Emulator) deleteRow(w http.ResponseWriter, r *http.Request, req *odataRequest, t *table) *apiError {
	rw := e.data[t.set].rows[req.id]
	if err := checkIfMatch(r, t, req.id, rw); err != nil {
		return err
	}
	if rw == nil {
		return notFound(t, req.id)
	}
	e.remove(t, req.id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deltaToken is an issued change-tracking token: changes of set after
// version.
type deltaToken struct {
	set     string
	version int64
	issued  time.Time
	expired bool
}

func (e *Emulator) issueToken(set string, version int64) string {
	now := e.now().UTC()
	s := itoa(version) + "!" + now.Format("01/02/2006 15:04:05")
	e.deltaTokens[set+"|"+s] = &deltaToken{set: set, version: version, issued: now}
	return s
}

func (e *Emulator) expiredToken() *apiError {
	return badRequest(codeExpired, "Version stamp associated with the client has expired. Please perform a full sync.")
}

// delta serves a change-tracking read: the initial round (every row, then a
// deltaLink) or a round from a delta token (changed rows and $deletedEntity
// entries since it, then a new deltaLink), both paged by odata.maxpagesize.
func (e *Emulator) delta(w http.ResponseWriter, r *http.Request, req *odataRequest, t *table, o *queryOptions, pageSize int, applied []string) *apiError {
	var c *cookie
	if o.skiptoken != "" {
		var err *apiError
		if c, err = parseCookie(o.skiptoken); err != nil {
			return err
		}
		if !c.tracking {
			return badRequest(codeQuery, "The $skiptoken belongs to a query without change tracking; follow the nextLink of this round unchanged.")
		}
	}
	w.Header().Set("Preference-Applied", strings.Join(applied, ","))
	upto := e.version
	if c != nil {
		n, err := strconv.ParseInt(c.attrs["upto"], 10, 64)
		if err != nil {
			return badRequest(codeQuery, "The $skiptoken is not a paging cookie this service issued; follow @odata.nextLink unchanged.")
		}
		upto = n
	}
	var body object
	var items []any
	pageNo, total := 1, 0
	var nextAttrs map[string]string
	if c != nil {
		pageNo = c.page
	}
	if o.deltatoken == "" {
		rows := e.query(t, o)
		total = len(rows)
		if c != nil {
			rows = after(t, rows, c.attrs["last"], false)
		}
		if len(rows) > pageSize {
			rows = rows[:pageSize]
			nextAttrs = map[string]string{"last": rows[len(rows)-1].vals[t.key].(string), "first": rows[0].vals[t.key].(string), "upto": itoa(upto)}
		}
		for _, rw := range rows {
			items = append(items, e.render(t, rw, o))
		}
		body = object{{"@odata.context", contextURL(req, t, o, "")}}
	} else {
		tok := e.deltaTokens[t.set+"|"+o.deltatoken]
		if tok == nil || tok.expired || (e.opts.TokenExpiry > 0 && e.now().Sub(tok.issued) > e.opts.TokenExpiry) {
			return e.expiredToken()
		}
		type change struct {
			v   int64
			id  string
			row *row
		}
		var changes []change
		for id, rw := range e.data[t.set].rows {
			if v := rw.version(); v > tok.version && v <= upto {
				changes = append(changes, change{v, id, rw})
			}
		}
		for id, v := range e.data[t.set].tombs {
			if v > tok.version && v <= upto {
				changes = append(changes, change{v, id, nil})
			}
		}
		sortChanges := func(i, j int) bool { return changes[i].v < changes[j].v }
		sort.Slice(changes, sortChanges)
		total = len(changes)
		if c != nil {
			lv, _ := strconv.ParseInt(c.attrs["lastversion"], 10, 64)
			i := 0
			for i < len(changes) && changes[i].v <= lv {
				i++
			}
			changes = changes[i:]
		}
		if len(changes) > pageSize {
			changes = changes[:pageSize]
			nextAttrs = map[string]string{"since": itoa(tok.version), "upto": itoa(upto), "lastversion": itoa(changes[len(changes)-1].v)}
		}
		for _, ch := range changes {
			if ch.row == nil {
				items = append(items, object{
					{"@odata.context", req.base + "/api/data/" + req.version + "/$metadata#" + t.set + "/$deletedEntity"},
					{"id", ch.id},
					{"reason", "deleted"},
				})
				continue
			}
			items = append(items, e.render(t, ch.row, o))
		}
		body = object{{"@odata.context", contextURL(req, t, o, "/$delta")}}
	}
	if o.count {
		body = append(body, field{"@odata.count", total})
	}
	if items == nil {
		items = []any{}
	}
	body = append(body, field{"value", items})
	if nextAttrs != nil {
		body = append(body, field{"@odata.nextLink", nextLink(r, req, makeCookie(pageNo+1, t.key, nextAttrs, true))})
	} else {
		body = append(body, field{"@odata.deltaLink", linkBase(r, req) + "$deltatoken=" + escapeAll(e.issueToken(t.set, upto))})
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}
