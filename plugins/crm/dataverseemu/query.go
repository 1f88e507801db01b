package dataverseemu

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// odataRequest is a parsed /api/data/v9.x path.
type odataRequest struct {
	version string // v9.2
	set     string // contacts
	id      string // key in parentheses, lower case
	prop    string // a column, a collection navigation property or $count
	count   bool   // /$count on the collection

	callerUserID string
	base         string
}

var guidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func parseRequest(r *http.Request) (*odataRequest, *apiError) {
	rest := strings.TrimPrefix(r.URL.Path, "/api/data/")
	version, rest, _ := strings.Cut(rest, "/")
	req := &odataRequest{version: version}
	if version != "v9.0" && version != "v9.1" && version != "v9.2" {
		return req, &apiError{status: http.StatusNotFound, code: "",
			msg: "Web API version '" + version + "' is not served; use /api/data/v9.2"}
	}
	segs := strings.Split(rest, "/")
	first := segs[0]
	if i := strings.IndexByte(first, '('); i >= 0 && strings.HasSuffix(first, ")") {
		req.set = first[:i]
		req.id = strings.ToLower(strings.Trim(first[i+1:len(first)-1], "{}'"))
		if !guidRe.MatchString(req.id) {
			return req, badRequest(codeQuery, "Bad Request - Error in query syntax: the key '"+first[i+1:len(first)-1]+
				"' is not a GUID; address rows as /"+req.set+"(00000000-0000-0000-0000-000000000000). Alternate keys are not emulated.")
		}
	} else {
		req.set = first
	}
	switch len(segs) {
	case 1:
	case 2:
		if segs[1] == "$count" && req.id == "" {
			req.count = true
		} else if req.id != "" && segs[1] != "" {
			req.prop = segs[1]
		} else {
			return req, badRequest(codeQuery, "Resource not found for the segment '"+segs[1]+"'.")
		}
	default:
		return req, badRequest(codeQuery, "Resource not found for the segment '"+strings.Join(segs[1:], "/")+"'.")
	}
	if req.set == "" || req.set == "$batch" || req.set == "$metadata" {
		return req, &apiError{status: http.StatusNotImplemented, code: "",
			msg: "The emulator does not serve '" + req.set + "'; send requests to an entity set such as /contacts."}
	}
	return req, nil
}

// queryOptions are the system query options of a GET (and the $select of a
// write with Prefer: return=representation).
type queryOptions struct {
	sel        []string // validated column names; nil = all columns
	filter     expr
	expand     []expandItem
	count      bool
	top        int
	orderby    []orderItem
	skiptoken  string
	deltatoken string
	hasFilter  bool
	// annotations is what Prefer: odata.include-annotations asked for;
	// lookups then carry their formatted value, table and navigation
	// property.
	annotations string
}

type expandItem struct {
	name string
	opts *queryOptions
}

type orderItem struct {
	col  string
	desc bool
}

// wants reports whether the requested annotations include name, given as
// "*", a namespace wildcard ("Microsoft.Dynamics.CRM.*") or a comma list.
func (o *queryOptions) wants(name string) bool {
	for _, p := range strings.Split(o.annotations, ",") {
		p = strings.TrimSpace(p)
		if p == "*" || p == name || (strings.HasSuffix(p, ".*") && strings.HasPrefix(name, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}

func unknownProperty(t *table, name string) *apiError {
	return badRequest(codeQuery, "Could not find a property named '"+name+"' on type '"+t.typeName()+"'.")
}

// parseOptions reads the system query options in q for table t.
func (e *Emulator) parseOptions(t *table, q url.Values) (*queryOptions, *apiError) {
	o := &queryOptions{top: -1}
	for k := range q {
		if strings.HasPrefix(k, "$") {
			switch k {
			case "$select", "$filter", "$expand", "$count", "$top", "$orderby", "$skiptoken", "$deltatoken", "$format":
			default:
				return nil, badRequest(codeQuery, "The query parameter "+k+" is not supported")
			}
		}
	}
	return o, e.fillOptions(t, o, q.Get("$select"), q.Get("$filter"), q.Get("$expand"), q.Get("$count"), q.Get("$top"), q.Get("$orderby"), q.Get("$skiptoken"), q.Get("$deltatoken"))
}

func (e *Emulator) fillOptions(t *table, o *queryOptions, sel, filter, expand, count, top, orderby, skip, delta string) *apiError {
	if sel != "" {
		for _, c := range strings.Split(sel, ",") {
			c = strings.TrimSpace(c)
			if _, ok := t.cols[c]; !ok {
				return unknownProperty(t, c)
			}
			o.sel = append(o.sel, c)
		}
	}
	if filter != "" {
		f, err := parseFilter(t, filter)
		if err != nil {
			return err
		}
		o.filter, o.hasFilter = f, true
	}
	if expand != "" {
		for _, item := range splitTop(expand, ',') {
			name, inner, _ := strings.Cut(item, "(")
			name = strings.TrimSpace(name)
			target := ""
			if s, ok := t.singles[name]; ok {
				target = s.target
			} else if m, ok := t.manys[name]; ok {
				target = m.target
			} else {
				return badRequest(codeQuery, "Could not find a property named '"+name+"' on type '"+t.typeName()+"'.")
			}
			tt := e.schema[target]
			if tt == nil {
				return badRequest(codeQuery, "The emulator cannot expand '"+name+"': table '"+target+"' is not emulated.")
			}
			sub := &queryOptions{top: -1}
			if inner != "" {
				inner = strings.TrimSuffix(strings.TrimSpace(inner), ")")
				vals := map[string]string{}
				for _, part := range splitTop(inner, ';') {
					k, v, _ := strings.Cut(part, "=")
					vals[strings.TrimSpace(k)] = v
				}
				for k := range vals {
					if k != "$select" && k != "$filter" && k != "$orderby" && k != "$top" {
						return badRequest(codeQuery, "The query option "+k+" is not supported inside $expand")
					}
				}
				if err := e.fillOptions(tt, sub, vals["$select"], vals["$filter"], "", "", vals["$top"], vals["$orderby"], "", ""); err != nil {
					return err
				}
			}
			o.expand = append(o.expand, expandItem{name: name, opts: sub})
		}
	}
	switch strings.ToLower(count) {
	case "", "false":
	case "true":
		o.count = true
	default:
		return badRequest(codeQuery, "Invalid value '"+count+"' for $count; use true or false.")
	}
	if top != "" {
		n, err := strconv.Atoi(top)
		if err != nil || n < 0 {
			return badRequest(codeQuery, "Invalid value '"+top+"' for $top; use a non-negative integer.")
		}
		o.top = n
	}
	if orderby != "" {
		for _, part := range strings.Split(orderby, ",") {
			f := strings.Fields(part)
			if len(f) == 0 || len(f) > 2 || (len(f) == 2 && f[1] != "asc" && f[1] != "desc") {
				return badRequest(codeQuery, "Invalid $orderby item '"+part+"'; use '<column> [asc|desc]'.")
			}
			if _, ok := t.cols[f[0]]; !ok {
				return unknownProperty(t, f[0])
			}
			o.orderby = append(o.orderby, orderItem{col: f[0], desc: len(f) == 2 && f[1] == "desc"})
		}
	}
	o.skiptoken, o.deltatoken = skip, delta
	return nil
}

// splitTop splits s at sep outside parentheses and quotes.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == sep && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// expr is a parsed $filter.
type expr interface{ eval(r *row) bool }

type cmpExpr struct {
	col string
	op  string
	lit any // nil, string, float64 or bool
}

type logicExpr struct {
	and  bool
	l, r expr
}

type notExpr struct{ x expr }

func (n notExpr) eval(r *row) bool { return !n.x.eval(r) }

func (l logicExpr) eval(r *row) bool {
	if l.and {
		return l.l.eval(r) && l.r.eval(r)
	}
	return l.l.eval(r) || l.r.eval(r)
}

func (c cmpExpr) eval(r *row) bool {
	v := r.vals[c.col]
	if c.lit == nil || v == nil {
		switch c.op {
		case "eq":
			return v == nil && c.lit == nil
		case "ne":
			return (v == nil) != (c.lit == nil)
		}
		return false
	}
	cmp := compareValues(v, c.lit)
	switch c.op {
	case "eq":
		return cmp == 0
	case "ne":
		return cmp != 0
	case "gt":
		return cmp > 0
	case "ge":
		return cmp >= 0
	case "lt":
		return cmp < 0
	case "le":
		return cmp <= 0
	}
	return false
}

// compareValues orders two non-nil values: numbers numerically, strings
// without regard to case (Dataverse's default collation), booleans false < true.
func compareValues(a, b any) int {
	if fa, ok := toFloat(a); ok {
		if fb, ok := toFloat(b); ok {
			switch {
			case fa < fb:
				return -1
			case fa > fb:
				return 1
			}
			return 0
		}
	}
	if ba, ok := a.(bool); ok {
		if bb, ok := b.(bool); ok {
			switch {
			case ba == bb:
				return 0
			case !ba:
				return -1
			}
			return 1
		}
	}
	return strings.Compare(strings.ToLower(toString(a)), strings.ToLower(toString(b)))
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

type filterParser struct {
	t    *table
	toks []string
	pos  int
	src  string
}

// parseFilter parses the $filter subset the emulator supports: comparisons
// (eq ne gt ge lt le) of a column with a literal, combined with and, or, not
// and parentheses. Functions (contains, startswith, any...) are refused with
// a message saying so, rather than matching nothing.
func parseFilter(t *table, s string) (expr, *apiError) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{t: t, toks: toks, src: s}
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, p.syntax("unexpected '" + p.toks[p.pos] + "'")
	}
	return x, nil
}

func (p *filterParser) syntax(what string) *apiError {
	return badRequest(codeQuery, "Syntax error in $filter '"+p.src+"': "+what+
		". The emulator supports <column> eq|ne|gt|ge|lt|le <literal> joined with and, or, not and parentheses.")
}

func (p *filterParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *filterParser) or() (expr, *apiError) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" {
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = logicExpr{and: false, l: l, r: r}
	}
	return l, nil
}

func (p *filterParser) and() (expr, *apiError) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" {
		p.pos++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = logicExpr{and: true, l: l, r: r}
	}
	return l, nil
}

func (p *filterParser) unary() (expr, *apiError) {
	switch p.peek() {
	case "not":
		p.pos++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notExpr{x}, nil
	case "(":
		p.pos++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, p.syntax("missing ')'")
		}
		p.pos++
		return x, nil
	}
	return p.comparison()
}

func (p *filterParser) comparison() (expr, *apiError) {
	col := p.peek()
	if col == "" {
		return nil, p.syntax("expected a column name")
	}
	p.pos++
	if p.peek() == "(" {
		return nil, badRequest(codeQuery, "The emulator does not support the function '"+col+"' in $filter; use eq, ne, gt, ge, lt, le with and/or.")
	}
	ct, ok := p.t.cols[col]
	if !ok {
		return nil, unknownProperty(p.t, col)
	}
	op := p.peek()
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil, p.syntax("expected an operator after '" + col + "'")
	}
	p.pos++
	raw := p.peek()
	if raw == "" || raw == "(" || raw == ")" {
		return nil, p.syntax("expected a literal after '" + op + "'")
	}
	p.pos++
	lit, litType := parseLiteral(raw)
	if litType != "" && !literalFits(ct, litType) {
		return nil, badRequest(codeQuery, "A binary operator with incompatible types was detected. Found operand types '"+
			ct.edm()+"' and '"+litType+"' for operator kind '"+op+"'.")
	}
	if ct == tGUID || ct == tLookup {
		if s, ok := lit.(string); ok {
			lit = strings.ToLower(strings.Trim(s, "{}"))
		}
	}
	return cmpExpr{col: col, op: op, lit: lit}, nil
}

func parseLiteral(raw string) (any, string) {
	switch {
	case strings.HasPrefix(raw, "'"):
		return strings.ReplaceAll(raw[1:len(raw)-1], "''", "'"), "Edm.String"
	case raw == "null":
		return nil, ""
	case raw == "true" || raw == "false":
		return raw == "true", "Edm.Boolean"
	case guidRe.MatchString(raw):
		return strings.ToLower(raw), "Edm.Guid"
	}
	if f, err := strconv.ParseFloat(raw, 64); err == nil {
		return f, "Edm.Double"
	}
	return raw, "Edm.DateTimeOffset"
}

func literalFits(ct colType, lit string) bool {
	switch ct {
	case tString:
		return lit == "Edm.String"
	case tInt, tFloat, tMoney:
		return lit == "Edm.Double"
	case tBool:
		return lit == "Edm.Boolean"
	case tGUID, tLookup:
		return lit == "Edm.Guid" || lit == "Edm.String"
	case tDateTime, tDate:
		return lit == "Edm.DateTimeOffset" || lit == "Edm.String"
	}
	return true
}

func tokenize(s string) ([]string, *apiError) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			j := i + 1
			for {
				if j >= len(s) {
					return nil, badRequest(codeQuery, "Syntax error in $filter '"+s+"': unterminated string literal.")
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '(' && s[j] != ')' && s[j] != '\'' {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}
