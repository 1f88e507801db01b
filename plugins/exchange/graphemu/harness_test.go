package graphemu

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/internal/fixtures"
)

const (
	alice = "alice@contoso.example"
	bob   = "bob@contoso.example"
)

// env is an emulator behind a real HTTP server, with a token.
type env struct {
	t     *testing.T
	emu   *Emulator
	srv   *httptest.Server
	token string
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	if opts.Users == nil {
		opts.Users = []string{alice, bob}
	}
	emu := New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	en := &env{t: t, emu: emu, srv: srv}
	resp, err := http.PostForm(srv.URL+"/common/oauth2/v2.0/token", url.Values{
		"client_id": {emu.opts.ClientID}, "client_secret": {emu.opts.ClientSecret},
		"grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: status %d, %v", resp.StatusCode, err)
	}
	en.token = tok.AccessToken
	return en
}

// resp is an answer, decoded.
type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request with the token; path is relative to the server or a
// full URL (links); headers alternate name, value.
func (en *env) do(method, path string, body any, headers ...string) resp {
	en.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = en.srv.URL + path
	}
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			en.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		en.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+en.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		en.t.Fatal(err)
	}
	defer hr.Body.Close()
	data, _ := io.ReadAll(hr.Body)
	r := resp{status: hr.StatusCode, header: hr.Header, raw: string(data)}
	if len(data) > 0 && strings.HasPrefix(hr.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(data, &r.body); err != nil {
			en.t.Fatalf("%s %s: bad JSON %q: %v", method, path, data, err)
		}
	}
	checkContext(en.t, r.body)
	return r
}

// must fails unless the answer has the status.
func (r resp) must(t *testing.T, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// errCode returns error.code of an error body.
func (r resp) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (r resp) values() []map[string]any {
	var out []map[string]any
	for _, v := range r.body["value"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// allowedExtra lists, per type, names the checker accepts although the
// schema does not declare them; empty on purpose: everything emitted for a
// schema type must be in graph-v1-schema.json.
var allowedExtra = map[string][]string{}

// checkSchema fails for every property of v that graph-v1-schema.json
// does not have for typeName (declared or inherited, structural or
// navigation), recursing into complex values and expanded entities.
// Annotations (names with @) are skipped, as the schema's README says.
func checkSchema(t *testing.T, typeName string, v any) {
	t.Helper()
	for _, p := range schemaProblems(typeName, v, typeName) {
		t.Error(p)
	}
}

func schemaProblems(typeName string, v any, path string) []string {
	st := schema[typeName]
	if st == nil {
		return []string{path + ": type " + typeName + " is not in graph-v1-schema.json"}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	var out []string
	for k, x := range obj {
		if strings.Contains(k, "@") {
			continue
		}
		pt, ok := st.props()[k]
		if !ok {
			pt, ok = st.navs()[k]
		}
		if !ok {
			if typeName == "resourceData" || slices.Contains(allowedExtra[typeName], k) {
				continue // resourceData is open with no declared properties
			}
			out = append(out, path+"."+k+": not a property of "+typeName)
			continue
		}
		inner := strings.TrimSuffix(strings.TrimPrefix(pt, "Collection("), ")")
		name, isGraph := strings.CutPrefix(inner, "graph.")
		if !isGraph || schema[name] == nil || schema[name].Kind == "enum" {
			continue
		}
		if arr, ok := x.([]any); ok {
			for _, el := range arr {
				out = append(out, schemaProblems(name, el, path+"."+k+"[]")...)
			}
		} else {
			out = append(out, schemaProblems(name, x, path+"."+k)...)
		}
	}
	return out
}

// fixture is one file of ../shared/fixtures/graph.
type fixture struct {
	Request *struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    any               `json:"body"`
	} `json:"request"`
	Response struct {
		Status  *int              `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    any               `json:"body"`
	} `json:"response"`
}

// fixtureDir is the documentation samples' folder (a copy of the shared
// fixtures, in the repository).
func fixtureDir(t *testing.T) string { return fixtures.Path() }

func loadFixture(t *testing.T, name string) fixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir(t), "graph", name))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// shapeProblems lists what the fixture has that ours lacks: property names
// and annotations, recursively, with arrays compared element shape against
// the union of our elements. Values may differ; skip names a key path
// ("value[].subject") to leave out, each with a reason at the call.
func shapeProblems(fix, ours any, path string, skip map[string]string) []string {
	var out []string
	switch f := fix.(type) {
	case map[string]any:
		o, ok := ours.(map[string]any)
		if !ok {
			return []string{path + ": fixture has an object, ours is " + typeOf(ours)}
		}
		keys := make([]string, 0, len(f))
		for k := range f {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := strings.TrimPrefix(path+"."+k, ".")
			if _, skipped := skip[p]; skipped {
				continue
			}
			ov, ok := o[k]
			if !ok {
				out = append(out, p+": missing")
				continue
			}
			if f[k] != nil && ov != nil {
				out = append(out, shapeProblems(f[k], ov, p, skip)...)
			}
		}
	case []any:
		o, ok := ours.([]any)
		if !ok {
			return []string{path + ": fixture has an array, ours is " + typeOf(ours)}
		}
		if len(f) == 0 || len(o) == 0 {
			return nil
		}
		union := map[string]any{}
		for _, el := range o {
			if m, ok := el.(map[string]any); ok {
				for k, v := range m {
					if old, seen := union[k]; !seen || richness(v) > richness(old) {
						union[k] = v
					}
				}
			}
		}
		for _, el := range f {
			if _, isObj := el.(map[string]any); isObj {
				out = append(out, shapeProblems(el, union, path+"[]", skip)...)
			}
		}
	}
	return out
}

func typeOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case nil:
		return "null"
	}
	return "a scalar"
}

// checkShape fails where ours lacks the fixture's response shape.
func checkShape(t *testing.T, name string, ours any, skip map[string]string) {
	t.Helper()
	f := loadFixture(t, name)
	for _, p := range shapeProblems(f.Response.Body, ours, "", skip) {
		t.Errorf("%s: %s", name, p)
	}
}

// controlPost calls the control API (it needs no token).
func (en *env) controlPost(path string, body any, status int) resp {
	en.t.Helper()
	return en.do("POST", path, body).must(en.t, status)
}

// richness ranks values for the union of array elements: an object with
// more keys shows more of the shape than an empty one or null.
func richness(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case map[string]any:
		return 1 + len(x)
	}
	return 1
}

// contextTypes maps the end of an @odata.context to the type of what the
// answer carries, so that every answer a test receives is checked against
// the schema, not only those a test looks at.
var contextTypes = []struct{ suffix, typeName string }{
	{"/contacts/$entity", "contact"}, {"/contacts", "contact"}, {"Collection(contact)", "contact"},
	{"/events/$entity", "event"}, {"/events", "event"}, {"Collection(event)", "event"},
	{"/tasks/$entity", "todoTask"}, {"/tasks", "todoTask"}, {"Collection(todoTask)", "todoTask"},
	{"/linkedResources/$entity", "linkedResource"}, {"/linkedResources", "linkedResource"},
	{"/todo/lists/$entity", "todoTaskList"}, {"/todo/lists", "todoTaskList"},
	{"/contactFolders/$entity", "contactFolder"}, {"/contactFolders", "contactFolder"},
	{"/calendar/$entity", "calendar"}, {"/calendars", "calendar"},
	{"#subscriptions/$entity", "subscription"}, {"#subscriptions", "subscription"},
	{"#users/$entity", ""}, {"#users", ""}, // user is not in the schema extract
}

// checkContext runs checkSchema on an answer by its @odata.context.
func checkContext(t *testing.T, body map[string]any) {
	t.Helper()
	ctx := str(body["@odata.context"])
	if ctx == "" {
		return
	}
	for _, c := range contextTypes {
		if !strings.HasSuffix(ctx, c.suffix) {
			continue
		}
		if c.typeName == "" {
			return
		}
		if vals, ok := body["value"].([]any); ok && !strings.HasSuffix(c.suffix, "$entity") {
			for _, v := range vals {
				checkSchema(t, c.typeName, v)
			}
		} else {
			checkSchema(t, c.typeName, body)
		}
		return
	}
	t.Errorf("@odata.context %s names no type the tests know", ctx)
}
