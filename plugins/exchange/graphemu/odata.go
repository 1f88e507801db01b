package graphemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// prefs are the Prefer header values Graph honours for Outlook items.
type prefs struct {
	maxPageSize int    // odata.maxpagesize, 0 if absent
	timeZone    string // outlook.timezone, "" if absent
}

func readPrefs(r *http.Request) prefs {
	var p prefs
	for _, h := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(h, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			v = strings.Trim(strings.TrimSpace(v), `"`)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "odata.maxpagesize":
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					p.maxPageSize = n
				}
			case "outlook.timezone":
				p.timeZone = v
			}
		}
	}
	return p
}

// query holds the OData system query options of a request, checked.
type query struct {
	sel       []string // $select, nil for all
	expandExt *extFilter
	expandAll bool // $expand=singleValueExtendedProperties without a filter
	expandLR  bool // $expand=linkedResources
	filter    *extFilter
	top, skip int
}

// extFilter is an extended property condition: id, and value if set.
type extFilter struct {
	id, value string
	hasValue  bool
}

// queryError is a query option Graph would refuse.
type queryError struct {
	status  int
	code    string
	message string
}

func (q *queryError) Error() string { return q.message }

var (
	expandExtRE = regexp.MustCompile(`(?i)^singleValueExtendedProperties(?:\(\s*\$filter\s*=\s*id\s+eq\s+'((?:[^']|'')*)'\s*\))?$`)
	anyExtRE    = regexp.MustCompile(`(?i)^singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*(\w+)/id\s+eq\s+'((?:[^']|'')*)'(?:\s+and\s+(\w+)/value\s+eq\s+'((?:[^']|'')*)')?\s*\)$`)
)

// parseQuery reads $select, $expand, $filter, $top and $skip for typeName.
func parseQuery(r *http.Request, typeName string) (*query, error) {
	v := r.URL.Query()
	q := &query{}
	t := schema[typeName]
	if s := v.Get("$select"); s != "" {
		for _, name := range strings.Split(s, ",") {
			name = strings.TrimSpace(name)
			if _, ok := t.props()[name]; !ok {
				return nil, &queryError{400, "RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.%s'.", name, typeName)}
			}
			q.sel = append(q.sel, name)
		}
	}
	if s := v.Get("$expand"); s != "" {
		switch m := expandExtRE.FindStringSubmatch(strings.TrimSpace(s)); {
		case m != nil && typeName != "todoTask":
			if strings.Contains(strings.ToLower(s), "$filter") {
				q.expandExt = &extFilter{id: strings.ReplaceAll(m[1], "''", "'")}
			} else {
				q.expandAll = true
			}
		case strings.EqualFold(strings.TrimSpace(s), "linkedResources") && typeName == "todoTask":
			q.expandLR = true
		default:
			return nil, &queryError{400, "BadRequest", fmt.Sprintf("Parsing OData Select and Expand failed: the emulator expands %s only ('%s' given).", expandable(typeName), s)}
		}
	}
	if s := v.Get("$filter"); s != "" {
		m := anyExtRE.FindStringSubmatch(strings.TrimSpace(s))
		if m == nil || typeName == "todoTask" || m[1] != m[2] || (m[4] != "" && m[4] != m[1]) {
			return nil, &queryError{400, "ErrorInvalidUrlQueryFilter", fmt.Sprintf("The $filter '%s' is not supported: the emulator filters %ss on singleValueExtendedProperties/Any(ep: ep/id eq '<id>' and ep/value eq '<value>') only.", s, typeName)}
		}
		q.filter = &extFilter{id: strings.ReplaceAll(m[3], "''", "'")}
		if m[4] != "" {
			q.filter.value, q.filter.hasValue = strings.ReplaceAll(m[5], "''", "'"), true
		}
	}
	var err error
	if q.top, err = nonNegative(v, "$top"); err != nil {
		return nil, err
	}
	if q.skip, err = nonNegative(v, "$skip"); err != nil {
		return nil, err
	}
	return q, nil
}

func expandable(typeName string) string {
	if typeName == "todoTask" {
		return "linkedResources"
	}
	return "singleValueExtendedProperties($filter=id eq '<id>')"
}

func nonNegative(v url.Values, name string) (int, error) {
	s := v.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, &queryError{400, "BadRequest", fmt.Sprintf("Invalid value '%s' for %s: a non-negative integer is expected.", s, name)}
	}
	return n, nil
}

// matches reports whether an item passes the query's $filter, if any.
func (q *query) matches(it *item) bool { return q.filter == nil || q.filter.matches(it) }

// matches reports whether an item passes the $filter.
func (f *extFilter) matches(it *item) bool {
	for _, p := range it.ext {
		if sameExtID(p.id, f.id) && (!f.hasValue || p.value == f.value) {
			return true
		}
	}
	return false
}

// decorate applies $expand and $select to a rendered item.
func (q *query) decorate(it *item, out map[string]any) map[string]any {
	switch {
	case q.expandAll && len(it.ext) > 0:
		out["singleValueExtendedProperties"] = extJSON(it.ext, nil)
	case q.expandExt != nil:
		// Graph leaves the property out when no extended property matches.
		if ext := extJSON(it.ext, q.expandExt); len(ext) > 0 {
			out["singleValueExtendedProperties"] = ext
		}
	}
	if q.expandLR {
		out["linkedResources"] = linkedJSON(it.linked)
	}
	if q.sel == nil {
		return out
	}
	kept := map[string]any{}
	for k, v := range out {
		if strings.HasPrefix(k, "@") || k == "id" || k == "singleValueExtendedProperties" || k == "linkedResources" {
			kept[k] = v
		}
	}
	for _, k := range q.sel {
		if v, ok := out[k]; ok {
			kept[k] = v
		} else {
			kept[k] = nil
		}
	}
	return kept
}

func extJSON(ext []extProp, f *extFilter) []any {
	out := []any{}
	for _, p := range ext {
		if f == nil || sameExtID(p.id, f.id) {
			out = append(out, map[string]any{"id": p.id, "value": p.value})
		}
	}
	return out
}

func linkedJSON(lrs []map[string]any) []any {
	out := []any{}
	for _, lr := range lrs {
		out = append(out, lr)
	}
	return out
}

// pageSize is the size of a page: $top, else odata.maxpagesize, else
// Outlook's default of 10.
func pageSize(q *query, p prefs) int {
	switch {
	case q != nil && q.top > 0:
		return min(q.top, 1000)
	case p.maxPageSize > 0:
		return min(p.maxPageSize, 1000)
	}
	return 10
}

// writePage answers a collection request with one page of values and, if
// more remain, an @odata.nextLink to the same URL with $skip moved on.
func writePage(w http.ResponseWriter, r *http.Request, context string, values []map[string]any, q *query) {
	p := readPrefs(r)
	size := pageSize(q, p)
	start := min(q.skip, len(values))
	end := min(start+size, len(values))
	body := map[string]any{"@odata.context": context, "value": values[start:end]}
	if end < len(values) { // Outlook pages $top too, with $skip
		u := *r.URL
		v := u.Query()
		v.Set("$skip", strconv.Itoa(end))
		u.RawQuery = v.Encode()
		body["@odata.nextLink"] = baseURL(r) + u.RequestURI()
	}
	if p.maxPageSize > 0 {
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(p.maxPageSize))
	}
	writeJSON(w, http.StatusOK, body)
}

// baseURL is the scheme and host the client used, for links.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// metadata returns an @odata.context URL.
func metadata(r *http.Request, frag string) string {
	return baseURL(r) + "/v1.0/$metadata#" + frag
}

// readBody decodes a JSON object body.
func readBody(r *http.Request) (map[string]any, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, badBodyf("Empty Payload. JSON content expected.")
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, badBodyf("Unable to read JSON request payload: %v. Please ensure Content-Type header is set and payload is of valid JSON format.", err)
	}
	return body, nil
}

// writeErr maps a body or query error to its Graph answer.
func writeErr(w http.ResponseWriter, err error) {
	var bb *badBody
	var qe *queryError
	switch {
	case errors.As(err, &bb):
		writeError(w, http.StatusBadRequest, "RequestBodyRead", bb.msg)
	case errors.As(err, &qe):
		writeError(w, qe.status, qe.code, qe.message)
	default:
		writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
	}
}

// checkIfMatch compares an If-Match header with the item's etag; a
// mismatch is Exchange's 412 ErrorIrresolvableConflict.
func checkIfMatch(w http.ResponseWriter, r *http.Request, etag string) bool {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return true
	}
	for _, v := range strings.Split(h, ",") {
		v = strings.TrimSpace(v)
		if v == etag || strings.TrimPrefix(v, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	writeError(w, http.StatusPreconditionFailed, "ErrorIrresolvableConflict", "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.")
	return false
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
}

// parsed is a checked request body: structural properties, extended
// properties (events, contacts) and linked resources (tasks).
type parsed struct {
	props  map[string]any
	ext    []extProp
	linked []map[string]any
}

// readParsed reads a JSON body and checks it with parse; on failure it has
// answered the client and returns false.
func readParsed(w http.ResponseWriter, r *http.Request, parse func(map[string]any) (parsed, error)) (parsed, bool) {
	body, err := readBody(r)
	if err == nil {
		var p parsed
		if p, err = parse(body); err == nil {
			return p, true
		}
	}
	writeErr(w, err)
	return parsed{}, false
}

// plainBody checks a body of a type that has no inline navigation
// properties.
func plainBody(typeName string) func(map[string]any) (parsed, error) {
	return func(body map[string]any) (parsed, error) {
		props, _, err := parseBody(typeName, body)
		return parsed{props: props}, err
	}
}

// merge applies a PATCH: null removes a property, anything else sets it.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}
