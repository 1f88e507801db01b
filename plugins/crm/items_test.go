package crm

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

const accountID = "00000000-0000-0000-0000-000000000001"

// replay answers writes with a fixture's response and reads of one row with
// its current version, 536600.
func replay(t *testing.T, name string) (*fake, *Connector) {
	t.Helper()
	fx := loadFixture(t, name)
	var f *fake
	f = newFake(t, withUsers(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprintf(w, `{"@odata.etag":"W/\"536600\"","accountid":%q,"versionnumber":536600}`, accountID)
			return
		}
		serve(f, fx)(w, r)
	}))
	c := connectorFor(t, f)
	withAccounts(c)
	return f, c
}

func apply(t *testing.T, c *Connector, op sdk.Op) sdk.OpResult {
	t.Helper()
	res, err := c.Apply(t.Context(), "alice@contoso.com", "account", []sdk.Op{op})
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

// TestWritesReplayFixtures drives Apply through the documentation's write
// exchanges and checks the requests it sends and what it makes of each
// answer.
func TestWritesReplayFixtures(t *testing.T) {
	create := sdk.Op{Kind: sdk.OpCreate, CorrelationKey: "sg-1", Fields: sdk.Fields{"display_name": sdk.String("Sample Account")}}
	update := sdk.Op{Kind: sdk.OpUpdate, ID: accountID, IfMatch: "470867", Fields: sdk.Fields{"display_name": sdk.String("Updated")}}
	del := sdk.Op{Kind: sdk.OpDelete, ID: accountID, IfMatch: "470867"}
	for _, tc := range []struct {
		fixture string
		op      sdk.Op
		id, ver string
		err     sdk.ErrorKind
		current string
	}{
		{"create-return-representation-201.json", create, "d6f193fc-ce85-e611-80d8-00155d2a68de", "536530", 0, ""},
		{"create-basic-204.json", create, "7eb682f1-ca75-e511-80d4-00155d2a68d1", "536600", 0, ""},
		{"update-return-representation-200.json", update, accountID, "536537", 0, ""},
		{"update-basic-204.json", update, accountID, "536600", 0, ""},
		{"update-if-match-412.json", update, "", "", sdk.ErrConflict, "536600"},
		{"upsert-prevent-create-404.json", update, "", "", sdk.ErrNotFound, ""},
		{"delete-basic-204.json", del, accountID, "", 0, ""},
		{"delete-if-match-412.json", del, "", "", sdk.ErrConflict, "536600"},
		{"error-400-plugin-with-annotations.json", create, "", "", sdk.ErrPermanent, ""},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			f, c := replay(t, tc.fixture)
			res := apply(t, c, tc.op)
			if tc.err != 0 {
				if res.Err == nil || res.Err.Kind != tc.err || res.Err.CurrentVersion != tc.current {
					t.Fatalf("got %+v, want a %s error naming current version %q", res, tc.err, tc.current)
				}
				return
			}
			if res.Err != nil || res.ID != tc.id || res.Version != tc.ver {
				t.Fatalf("got %+v (%v), want id %s version %s", res, res.Err, tc.id, tc.ver)
			}
			var write *http.Request
			for _, r := range f.requests() {
				if r.Method != http.MethodGet {
					write = r
				}
			}
			if got := write.Header.Get("MSCRMCallerID"); got != aliceID {
				t.Errorf("the write impersonates %q, want alice (%s)", got, aliceID)
			}
			for _, h := range []string{"OData-MaxVersion", "OData-Version", "Accept"} {
				if write.Header.Get(h) == "" {
					t.Errorf("the write has no %s header", h)
				}
			}
			switch tc.op.Kind {
			case sdk.OpCreate:
				if !strings.Contains(write.Header.Get("Prefer"), "return=representation") {
					t.Errorf("a create without Prefer: return=representation")
				}
			case sdk.OpUpdate, sdk.OpDelete:
				if got := write.Header.Get("If-Match"); got != `W/"470867"` {
					t.Errorf("If-Match %q, want W/\"470867\"", got)
				}
			}
		})
	}
}

// TestCreateStampsAndLooksUp: a create carries the syncgate id in its
// column; a create that may exist looks the id up first and returns the
// row it finds without writing.
func TestCreateStampsAndLooksUp(t *testing.T) {
	var body atomic.Value
	var posts atomic.Int32
	f := newFake(t, withUsers(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && strings.Contains(r.URL.Query().Get("$filter"), "sg_syncgateid eq 'sg-1'"):
			fmt.Fprintf(w, `{"value":[{"accountid":%q,"versionnumber":77}]}`, accountID)
		case r.Method == http.MethodGet:
			w.Write([]byte(`{"value":[]}`))
		default:
			posts.Add(1)
			b, _ := io.ReadAll(r.Body)
			body.Store(string(b))
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"accountid":"00000000-0000-0000-0000-000000000009","versionnumber":78}`))
		}
	}))
	c := connectorFor(t, f)
	withAccounts(c)
	res := apply(t, c, sdk.Op{Kind: sdk.OpCreate, CorrelationKey: "sg-1", MayExist: true, Fields: sdk.Fields{"display_name": sdk.String("A")}})
	if res.Err != nil || res.ID != accountID || res.Version != "77" || posts.Load() != 0 {
		t.Fatalf("a create that may exist: %+v, %d posts; want the existing row and no write", res, posts.Load())
	}
	res = apply(t, c, sdk.Op{Kind: sdk.OpCreate, CorrelationKey: "sg-2", MayExist: true, Fields: sdk.Fields{"display_name": sdk.String("B")}})
	if res.Err != nil || res.Version != "78" || posts.Load() != 1 {
		t.Fatalf("a create that may exist but does not: %+v, %d posts", res, posts.Load())
	}
	if b := body.Load().(string); !strings.Contains(b, `"sg_syncgateid":"sg-2"`) {
		t.Errorf("the create does not stamp the syncgate id: %s", b)
	}
	res = apply(t, c, sdk.Op{Kind: sdk.OpUpdate, ID: accountID, IfMatch: "77", CorrelationKey: "sg-3", Fields: sdk.Fields{"display_name": sdk.String("C")}})
	if b := body.Load().(string); res.Err != nil || strings.Contains(b, "sg_syncgateid") {
		t.Errorf("an update wrote the stamp (%s, %v): linking must never overwrite it", b, res.Err)
	}
}

// TestThrottledApply: a 429 throttles the impersonated user for the
// Retry-After, and the ops after it are not sent.
func TestThrottledApply(t *testing.T) {
	f := newFake(t, withUsers(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "12")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}`))
	}))
	c := connectorFor(t, f)
	withAccounts(c)
	ops := []sdk.Op{
		{Kind: sdk.OpCreate, CorrelationKey: "a", Fields: sdk.Fields{"display_name": sdk.String("A")}},
		{Kind: sdk.OpCreate, CorrelationKey: "b", Fields: sdk.Fields{"display_name": sdk.String("B")}},
	}
	res, err := c.Apply(t.Context(), "alice@contoso.com", "account", ops)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err == nil || r.Err.Kind != sdk.ErrThrottled || r.Err.RetryAfter != 12*time.Second || r.Err.ThrottleScope != sdk.ThrottleScopeWide {
			t.Errorf("op %d: %+v, want throttled for 12s for the user", i, r.Err)
		}
	}
	posts := 0
	for _, r := range f.requests() {
		if r.Method == http.MethodPost {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("%d creates sent, want 1: the second would meet the same limit", posts)
	}
}

// TestAuth: a refused token is fetched again once; a second refusal, or a
// token endpoint that refuses the credentials, is an auth error that says
// what to check.
func TestAuth(t *testing.T) {
	var refusals atomic.Int32
	refusals.Store(1)
	f := newFake(t, withUsers(func(w http.ResponseWriter, r *http.Request) {
		if refusals.Add(-1) >= 0 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"accountid":%q,"versionnumber":5,"name":"A"}`, accountID)
	}))
	c := connectorFor(t, f)
	withAccounts(c)
	res, err := c.Fetch(t.Context(), "alice@contoso.com", "account", []string{accountID})
	if err != nil || res[0].Err != nil || res[0].Record.Version != "5" {
		t.Fatalf("after one refused token: %v %+v", err, res)
	}
	if f.tokens != 2 {
		t.Errorf("%d tokens fetched, want 2 (one refused, one fresh)", f.tokens)
	}
	refusals.Store(2)
	_, err = c.Fetch(t.Context(), "alice@contoso.com", "account", []string{accountID})
	if !sdk.IsKind(err, sdk.ErrAuth) {
		t.Errorf("twice refused: got %v, want auth", err)
	}

	refuse := newFake(t, nil)
	refuse.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`))
	})
	c = connectorFor(t, refuse)
	res2, err := c.Check(t.Context(), []string{"alice@contoso.com"})
	if err != nil || !res2.Diagnostics.HasErrors() || !strings.Contains(res2.Diagnostics.Err().Error(), "client_secret") {
		t.Errorf("Check with a refused secret: %v %v; want a diagnostic that names client_secret", err, res2.Diagnostics.Err())
	}
}

// TestFetchErrors: a missing row fails alone; a service that is down, or an
// answer that is not JSON, fails the call as retryable.
func TestFetchErrors(t *testing.T) {
	const gone = "00000000-0000-0000-0000-000000000002"
	var mode atomic.Value
	mode.Store("ok")
	f := newFake(t, withUsers(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case mode.Load() == "down":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":{"code":"","message":"The service is temporarily unavailable."}}`))
		case mode.Load() == "garbled":
			w.Write([]byte(`{"accountid":`))
		case strings.Contains(r.URL.Path, gone):
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":{"code":"0x80040217","message":"account With Id = %s Does Not Exist"}}`, gone)
		default:
			fmt.Fprintf(w, `{"accountid":%q,"versionnumber":5,"name":"A","_ownerid_value":%q}`, accountID, aliceID)
		}
	}))
	c := connectorFor(t, f)
	withAccounts(c)
	res, err := c.Fetch(t.Context(), "alice@contoso.com", "account", []string{accountID, gone, "not-an-id"})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].Record.Fields["display_name"].Str() != "A" || res[0].Record.RoutingKeys[0] != aliceID {
		t.Errorf("existing row: %+v", res[0])
	}
	if res[1].Err == nil || res[1].Err.Kind != sdk.ErrNotFound || res[2].Err == nil || res[2].Err.Kind != sdk.ErrNotFound {
		t.Errorf("missing row and malformed id: %+v %+v; want not_found each", res[1].Err, res[2].Err)
	}
	for _, m := range []string{"down", "garbled"} {
		mode.Store(m)
		if _, err := c.Fetch(t.Context(), "alice@contoso.com", "account", []string{accountID}); !sdk.IsKind(err, sdk.ErrRetryable) {
			t.Errorf("%s: got %v, want retryable", m, err)
		}
	}
	mode.Store("ok")
	if _, err := c.Fetch(t.Context(), "nobody@contoso.com", "account", []string{accountID}); !sdk.IsKind(err, sdk.ErrConfig) {
		t.Errorf("an unknown user: got %v, want a config error", err)
	}
}

// TestRetryAfter reads seconds and HTTP dates.
func TestRetryAfter(t *testing.T) {
	if d := parseRetryAfter("7"); d != 7*time.Second {
		t.Errorf("7: %s", d)
	}
	if d := parseRetryAfter(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)); d < 50*time.Second || d > 61*time.Second {
		t.Errorf("a date a minute ahead: %s", d)
	}
	if d := parseRetryAfter("soon"); d != 0 {
		t.Errorf("soon: %s", d)
	}
}

// TestConfig says what is wrong with each setting.
func TestConfig(t *testing.T) {
	good := sdk.Fields{"url": sdk.String("https://contoso.crm.dynamics.com/api/data/v9.2/"), "tenant_id": sdk.String("t"),
		"client_id": sdk.String("c"), "client_secret": sdk.String("s")}
	cfg, ds := parseConfig(good)
	if ds.HasErrors() || cfg.Scope != "https://contoso.crm.dynamics.com/.default" || cfg.URL != "https://contoso.crm.dynamics.com/api/data/v9.2" ||
		cfg.tokenURL() != "https://login.microsoftonline.com/t/oauth2/v2.0/token" || cfg.IDColumn != "sg_syncgateid" || cfg.MaxConcurrent != 52 {
		t.Fatalf("%+v %v", cfg, ds.Err())
	}
	for _, tc := range []struct {
		set  string
		v    sdk.Value
		path string
	}{
		{"url", sdk.String("https://contoso.crm.dynamics.com/api/data/v9.0"), "url"},
		{"url", sdk.String("contoso"), "url"},
		{"client_secret", sdk.Null, "client_secret"},
		{"id_column", sdk.String("syncgateid; drop"), "id_column"},
		{"page_size", sdk.Float(0), "page_size"},
		{"max_concurrent_per_user", sdk.Float(2.5), "max_concurrent_per_user"},
		{"tenant_id", sdk.String("a/b"), "tenant_id"},
		{"authority_url", sdk.String("login"), "authority_url"},
	} {
		f := good.Clone()
		f[tc.set] = tc.v
		_, ds := parseConfig(f)
		if !ds.HasErrors() || ds[0].Path[0] != tc.path || ds[0].Detail == "" {
			t.Errorf("%s = %v: %v, want an error at %s that says what would be right", tc.set, tc.v, ds, tc.path)
		}
	}
}

// TestLinksStayInTheOrg: a next link, cursor or page token that leads off
// the org is refused before the org's token is sent there.
func TestLinksStayInTheOrg(t *testing.T) {
	var calls atomic.Int32
	evil := newFake(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	var f *fake
	f = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"value":[],"@odata.nextLink":"%s/api/data/v9.2/contacts?$skiptoken=1"}`, evil.srv.URL)
	})
	c := connectorFor(t, f)
	page, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: "contact"}})
	if err == nil {
		_, err = c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: "contact"}, PageToken: page.NextPageToken})
	}
	if !sdk.IsKind(err, sdk.ErrPermanent) || calls.Load() != 0 {
		t.Errorf("a next link to another host: %v, %d requests there; want a permanent error and none", err, calls.Load())
	}
}

// TestApplyValidates: fields outside the canonical schema are refused
// before any request.
func TestApplyValidates(t *testing.T) {
	f := newFake(t, withUsers(func(w http.ResponseWriter, r *http.Request) { t.Errorf("unexpected %s %s", r.Method, r.URL) }))
	c := connectorFor(t, f)
	res, err := c.Apply(t.Context(), "alice@contoso.com", "contact", []sdk.Op{{Kind: sdk.OpCreate, Fields: sdk.Fields{"shoe_size": sdk.Int(9)}}})
	if err != nil || res[0].Err == nil || res[0].Err.Kind != sdk.ErrPermanent || !strings.Contains(res[0].Err.Message, "shoe_size") {
		t.Errorf("got %v %+v, want a permanent error naming the field", err, res)
	}
}
