package dataverseemu

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/internal/fixtures"
)

type fixture struct {
	Request *struct {
		Method  string
		URL     string
		Headers map[string]string
		Body    json.RawMessage
	}
	Response struct {
		Status  *int
		Headers map[string]string
		Body    json.RawMessage
	}
}

// fixturesDir is the Dataverse documentation's samples (a copy of the
// shared fixtures, in the repository).
func fixturesDir(t *testing.T) string { return fixtures.Path("dataverse") }

const acc1 = "00000000-0000-0000-0000-000000000001"

// replayCase prepares the emulator for one fixture: it returns string
// replacements for the fixture's URL and headers (ids, etags, links the
// documentation made up), keys the emulator may add beyond the sample, and a
// check of the effect.
type replayCase struct {
	setup func(h *harness) map[string]string
	extra []string
	check func(t *testing.T, h *harness)
}

func upsertAccount(h *harness, id string, body map[string]any) string {
	r := h.do("PATCH", api+"accounts("+id+")", body).must(h.t, 204)
	_ = r
	return h.do("GET", api+"accounts("+id+")?$select=name", nil).must(h.t, 200).str("@odata.etag")
}

func sampleAccount(h *harness) map[string]string {
	tag := upsertAccount(h, acc1, map[string]any{"name": "Sample Account", "description": "d", "revenue": 5000000, "accountcategorycode": 1, "creditonhold": false, "address1_latitude": 47.63958})
	return map[string]string{`W/"468026"`: tag}
}

var replayCases = map[string]replayCase{
	"conditional-get-304.json": {setup: sampleAccount},
	"create-basic-204.json": {check: func(t *testing.T, h *harness) {
		r := h.do("GET", api+"accounts?$select=name,revenue,creditonhold", nil).must(t, 200)
		if v := r.values(); len(v) != 1 || v[0]["name"] != "Sample Account" || fmt.Sprint(v[0]["revenue"]) != "5000000" {
			t.Errorf("created account reads back as %s", r.raw)
		}
	}},
	"create-deep-insert-204.json": {check: func(t *testing.T, h *harness) {
		a := h.do("GET", api+"accounts?$select=name&$expand=primarycontactid($select=fullname),opportunity_customer_accounts($select=name)", nil).must(t, 200).values()
		if len(a) != 1 || a[0]["primarycontactid"].(map[string]any)["fullname"] != "John Smith" {
			t.Fatalf("deep insert: account %v", a)
		}
		opps := a[0]["opportunity_customer_accounts"].([]any)
		if len(opps) != 1 {
			t.Fatalf("deep insert: opportunities %v", opps)
		}
		oid := opps[0].(map[string]any)["opportunityid"].(string)
		tasks := h.do("GET", api+"tasks?$filter=_regardingobjectid_value eq "+oid+"&$select=subject", nil).must(t, 200).values()
		if len(tasks) != 1 || tasks[0]["subject"] != "Task associated to opportunity" {
			t.Errorf("deep insert: tasks of the opportunity %v", tasks)
		}
	}},
	"create-return-representation-201.json": {},
	"create-with-odata-bind-return-representation.json": {setup: func(h *harness) map[string]string {
		h.do("PATCH", api+"contacts("+acc1+")", map[string]any{"firstname": "Yvonne", "lastname": "McKay (sample)"}).must(h.t, 204)
		h.do("PATCH", api+"tasks(00000000-0000-0000-0000-000000000002)", map[string]any{"subject": "Task 1"}).must(h.t, 204)
		h.do("PATCH", api+"tasks(00000000-0000-0000-0000-000000000003)", map[string]any{"subject": "Task 2"}).must(h.t, 204)
		return nil
	}},
	"delete-basic-204.json": {setup: sampleAccount, check: func(t *testing.T, h *harness) {
		h.do("GET", api+"accounts("+acc1+")", nil).wantError(t, 404, codeNotExist, "Does Not Exist")
	}},
	"delete-if-match-412.json": {setup: sampleAccount, check: func(t *testing.T, h *harness) {
		h.do("GET", api+"accounts("+acc1+")", nil).must(t, 200)
	}},
	"delete-single-property.json": {setup: sampleAccount, check: func(t *testing.T, h *harness) {
		if v := h.do("GET", api+"accounts("+acc1+")?$select=description", nil).must(t, 200).get("description"); v != nil {
			t.Errorf("description after DELETE of the column: %v", v)
		}
	}},
	"error-400-plugin-with-annotations.json": {setup: func(h *harness) map[string]string {
		h.e.SetPluginError("accounts", "Example Error Message.")
		return nil
	}},
	"paging-maxpagesize-page1.json": {setup: fiveContacts},
	"paging-maxpagesize-page2.json": {setup: func(h *harness) map[string]string {
		fiveContacts(h)
		next := h.do("GET", api+"contacts?$select=fullname", nil, "Prefer", "odata.maxpagesize=2").must(h.t, 200).str("@odata.nextLink")
		return map[string]string{"URL": next}
	}},
	"track-changes-delta-deletedentity.json": {
		extra: []string{"accountnumber"}, // the sample's row lacks a selected column; the emulator returns every selected one
		setup: func(h *harness) map[string]string {
			a := h.create("accounts", map[string]any{"name": "Monte Orton", "telephone1": "555000"})
			b := h.create("accounts", map[string]any{"name": "To delete"})
			delta := h.do("GET", api+"accounts?$select=name,accountnumber,telephone1,fax", nil, "Prefer", "odata.track-changes").must(h.t, 200).str("@odata.deltaLink")
			h.do("PATCH", api+"accounts("+a+")", map[string]any{"fax": "10101"}).must(h.t, 204)
			h.do("DELETE", api+"accounts("+b+")", nil).must(h.t, 204)
			return map[string]string{"URL": delta}
		},
	},
	"track-changes-initial.json": {setup: func(h *harness) map[string]string {
		h.create("accounts", map[string]any{"name": "Monte Orton", "telephone1": "555000", "fax": "10101"})
		return nil
	}},
	"update-basic-204.json": {setup: sampleAccount, check: func(t *testing.T, h *harness) {
		if v := h.do("GET", api+"accounts("+acc1+")?$select=accountcategorycode", nil).must(t, 200).get("accountcategorycode"); fmt.Sprint(v) != "2" {
			t.Errorf("accountcategorycode after update: %v", v)
		}
	}},
	"update-if-match-412.json":              {setup: sampleAccount},
	"update-return-representation-200.json": {setup: sampleAccount},
	"update-single-property-put.json": {setup: sampleAccount, check: func(t *testing.T, h *harness) {
		if v := h.do("GET", api+"accounts("+acc1+")?$select=name", nil).must(t, 200).str("name"); v != "Updated Sample Account Name" {
			t.Errorf("name after PUT: %q", v)
		}
	}},
	"upsert-prevent-create-404.json": {check: func(t *testing.T, h *harness) {
		h.do("GET", api+"accounts("+acc1+")", nil).must(t, 404)
	}},
	"upsert-prevent-update-412.json": {setup: sampleAccount},
}

func fiveContacts(h *harness) map[string]string {
	for _, n := range []string{"Yvonne McKay", "Susanna Stubberod", "Nancy Anderson", "Maria Campbell", "Sidney Higa"} {
		f, l, _ := strings.Cut(n, " ")
		h.create("contacts", map[string]any{"firstname": f, "lastname": l})
	}
	return nil
}

// TestFixturesReplay sends every documented request to the emulator and
// checks that the answer has the documented status, headers and body shape.
func TestFixturesReplay(t *testing.T) {
	dir := fixturesDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no fixtures in %s", dir)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var fx fixture
			if err := json.Unmarshal(raw, &fx); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			h := newHarness(t, Options{})
			if fx.Request == nil {
				replayThrottle(t, h, fx)
				return
			}
			rc, ok := replayCases[name]
			if !ok {
				t.Fatalf("fixture %s has no replay case: add one to replayCases", name)
			}
			repl := map[string]string{}
			if rc.setup != nil {
				repl = rc.setup(h)
			}
			u := strings.ReplaceAll(fx.Request.URL, "[Organization URI]", h.srv.URL)
			u = hostRe.ReplaceAllString(u, h.srv.URL) // samples written against a real org
			if override, ok := repl["URL"]; ok {
				u = override
			}
			var headers []string
			for k, v := range fx.Request.Headers {
				for from, to := range repl {
					v = strings.ReplaceAll(v, from, to)
				}
				headers = append(headers, k, v)
			}
			var body any
			if len(fx.Request.Body) > 0 && string(fx.Request.Body) != "null" {
				body = []byte(fx.Request.Body)
			}
			got := h.do(fx.Request.Method, u, body, headers...)
			if fx.Response.Status != nil && got.status != *fx.Response.Status {
				t.Fatalf("status %d, want %d; body %s", got.status, *fx.Response.Status, got.raw)
			}
			checkHeaders(t, h, fx.Response.Headers, got)
			if len(fx.Response.Body) == 0 || string(fx.Response.Body) == "null" {
				if len(got.raw) != 0 {
					t.Errorf("body %s, want none", got.raw)
				}
			} else {
				var want any
				_ = json.Unmarshal(fx.Response.Body, &want)
				var gotBody any
				_ = json.Unmarshal(got.raw, &gotBody)
				for _, p := range sameShape(h, "$", want, gotBody, rc.extra) {
					t.Error(p)
				}
			}
			if rc.check != nil {
				rc.check(t, h)
			}
		})
	}
}

// replayThrottle reproduces the assembled 429 sample: the documented
// request-count error once a caller exceeds its request limit.
func replayThrottle(t *testing.T, h *harness, fx fixture) {
	h.e.mu.Lock()
	h.e.requestLimit = 1
	h.e.mu.Unlock()
	h.do("GET", api+"contacts", nil).must(t, 200)
	got := h.do("GET", api+"contacts", nil)
	if got.status != *fx.Response.Status {
		t.Fatalf("status %d, want %d", got.status, *fx.Response.Status)
	}
	checkHeaders(t, h, fx.Response.Headers, got)
	var want, gotBody any
	_ = json.Unmarshal(fx.Response.Body, &want)
	_ = json.Unmarshal(got.raw, &gotBody)
	for _, p := range sameShape(h, "$", want, gotBody, nil) {
		t.Error(p)
	}
	if got.str("error", "code") != "0x80072322" || !strings.HasPrefix(got.str("error", "message"), "Number of requests exceeded the limit of 1 over time window of 300 seconds") {
		t.Errorf("429 body %s", got.raw)
	}
}

var (
	hostRe     = regexp.MustCompile(`^https://[^/]+`)
	entityIDRe = regexp.MustCompile(`^http://127\.0\.0\.1:\d+/api/data/v9\.\d/accounts\([0-9a-f-]{36}\)$`)
	etagRe     = regexp.MustCompile(`^W/"\d+"$`)
)

func checkHeaders(t *testing.T, h *harness, want map[string]string, got result) {
	t.Helper()
	for k, v := range want {
		g := got.header.Get(k)
		switch k {
		case "OData-EntityId":
			if !entityIDRe.MatchString(g) {
				t.Errorf("OData-EntityId %q is not the new row's URI", g)
			}
		case "Retry-After":
			var n int
			if _, err := fmt.Sscanf(g, "%d", &n); err != nil || n < 1 {
				t.Errorf("Retry-After %q is not a number of seconds", g)
			}
		case "Content-Type":
			if got.status == 304 {
				// Go's net/http drops Content-Type from 304 answers; a 304 has
				// no body for it to describe.
				continue
			}
			mt := func(s string) string { m, _, _ := strings.Cut(s, ";"); return strings.TrimSpace(m) }
			if mt(g) != mt(v) || (strings.Contains(v, "odata.metadata=minimal") && !strings.Contains(g, "odata.metadata=minimal")) {
				t.Errorf("Content-Type %q, want %q", g, v)
			}
		default:
			if g != v {
				t.Errorf("header %s = %q, want %q", k, g, v)
			}
		}
	}
}

// sameShape compares a documented body with the emulator's: the same member
// names (annotations included) with values of the same JSON kind; the
// documentation's placeholder values are not compared, but links, etags and
// @odata.context must have the documented form.
func sameShape(h *harness, path string, want, got any, extra []string) []string {
	var probs []string
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T, want an object", path, got)}
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				probs = append(probs, fmt.Sprintf("%s: missing %q", path, k))
				continue
			}
			p := path + "." + k
			switch k {
			case "@odata.context":
				if ctxTail(wv.(string)) != ctxTail(fmt.Sprint(gv)) {
					probs = append(probs, fmt.Sprintf("%s = %v, want the form of %v", p, gv, wv))
				}
			case "@odata.nextLink", "@odata.deltaLink":
				tok := map[string]string{"@odata.nextLink": "$skiptoken=", "@odata.deltaLink": "$deltatoken="}[k]
				if s, _ := gv.(string); !strings.HasPrefix(s, h.srv.URL+"/api/data/") || !strings.Contains(s, tok) {
					probs = append(probs, fmt.Sprintf("%s = %v, want a link to the emulator with %s", p, gv, tok))
				}
			case "@odata.etag":
				if s, _ := gv.(string); !etagRe.MatchString(s) {
					probs = append(probs, fmt.Sprintf("%s = %v, want W/\"<version>\"", p, gv))
				}
			default:
				if wv != nil {
					probs = append(probs, sameShape(h, p, wv, gv, extra)...)
				}
			}
		}
		var keys []string
		for k := range g {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, ok := w[k]; !ok && !contains(extra, k) {
				probs = append(probs, fmt.Sprintf("%s: unexpected member %q", path, k))
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %v, want an array of %d", path, got, len(w))}
		}
		for i := range w {
			probs = append(probs, sameShape(h, fmt.Sprintf("%s[%d]", path, i), w[i], g[i], extra)...)
		}
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			probs = append(probs, fmt.Sprintf("%s: got %v (%T), want a %T like %v", path, got, got, want, want))
		}
	}
	return probs
}

// ctxTail reduces an @odata.context to its entity set and kind suffix:
// "…$metadata#accounts(name,fax)/$delta" → "accounts/$delta".
func ctxTail(s string) string {
	_, frag, _ := strings.Cut(s, "#")
	set := frag
	if i := strings.IndexAny(frag, "(/"); i >= 0 {
		set = frag[:i]
	}
	suffix := ""
	if i := strings.LastIndex(frag, "/$"); i >= 0 {
		suffix = frag[i:]
	}
	return set + suffix
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var _ = time.Second
