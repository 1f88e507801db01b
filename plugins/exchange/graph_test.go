package exchange

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

const alice = "alice@contoso.com"

func TestConfigProblemsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  sdk.Fields
		path string
		want string
	}{
		{"missing tenant", sdk.Fields{"client_id": sdk.String("a"), "client_secret": sdk.String("b")}, "tenant_id", "set tenant_id"},
		{"missing secret", sdk.Fields{"tenant_id": sdk.String("t"), "client_id": sdk.String("a")}, "client_secret", "set client_secret"},
		{"bad graph url", sdk.Fields{"tenant_id": sdk.String("t"), "client_id": sdk.String("a"), "client_secret": sdk.String("b"), "graph_url": sdk.String("graph.microsoft.com")}, "graph_url", "http(s) URL"},
		{"too many requests", sdk.Fields{"tenant_id": sdk.String("t"), "client_id": sdk.String("a"), "client_secret": sdk.String("b"), "max_requests_per_mailbox": sdk.Int(8)}, "max_requests_per_mailbox", "from 1 to 4"},
		{"fractional page size", sdk.Fields{"tenant_id": sdk.String("t"), "client_id": sdk.String("a"), "client_secret": sdk.String("b"), "page_size": sdk.Float(2.5)}, "page_size", "whole number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := New(readManifest(t)).Configure(t.Context(), sdk.Env{}, tc.cfg)
			if !ds.HasErrors() {
				t.Fatal("Configure accepted the settings")
			}
			if got := ds.Err().Error(); !strings.Contains(got, tc.path) || !strings.Contains(got, tc.want) {
				t.Errorf("diagnostics %q: want %q about %s", got, tc.want, tc.path)
			}
		})
	}
}

func TestDefaultsAndTokenURL(t *testing.T) {
	c, ds := parseConfig(sdk.Fields{"tenant_id": sdk.String("contoso.onmicrosoft.com"), "client_id": sdk.String("a"), "client_secret": sdk.String("b")})
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	if c.tokenURL() != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" || c.GraphURL != "https://graph.microsoft.com/v1.0" {
		t.Errorf("token %s, graph %s", c.tokenURL(), c.GraphURL)
	}
	if c.DaysBack != 30 || c.DaysAhead != 365 || c.Concurrency != 4 {
		t.Errorf("window %d/%d, concurrency %d", c.DaysBack, c.DaysAhead, c.Concurrency)
	}
}

func TestWrongSecretIsAnAuthError(t *testing.T) {
	f := newFakeGraph(t)
	c := f.connector(t, sdk.Fields{"client_secret": sdk.String("wrong")})
	res, err := c.Check(t.Context(), []string{alice})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Diagnostics.HasErrors() || !strings.Contains(res.Diagnostics.Err().Error(), "check tenant_id, client_id and client_secret") {
		t.Errorf("Check with a wrong secret: %v", res.Diagnostics.Err())
	}
	fr, _ := c.Fetch(t.Context(), alice, "contact", []string{"x"})
	if fr[0].Err == nil || fr[0].Err.Kind != sdk.ErrAuth {
		t.Errorf("Fetch with a wrong secret: %v, want an auth error", fr[0].Err)
	}
}

func TestCheckResolvesRoutingKeys(t *testing.T) {
	f := newFakeGraph(t)
	f.handle("GET /users/"+alice, reply(200, map[string]any{"id": "1", "mail": "Alice@Contoso.com", "userPrincipalName": "alice@contoso.onmicrosoft.com"}))
	c := f.connector(t, nil)
	res, err := c.Check(t.Context(), []string{alice, "nobody@contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Scopes[0].RoutingKeys; len(got) != 2 || got[0] != alice || got[1] != "alice@contoso.onmicrosoft.com" {
		t.Errorf("routing keys %q", got)
	}
	if !res.Scopes[1].Diagnostics.HasErrors() || !strings.Contains(res.Scopes[1].Diagnostics.Err().Error(), "no such mailbox") {
		t.Errorf("unknown mailbox: %v", res.Scopes[1].Diagnostics.Err())
	}
}

// TestErrorMapping serves each documented failure to a Fetch and checks the
// typed error: what the engine does next depends on it.
func TestErrorMapping(t *testing.T) {
	const item = "/users/" + alice + "/contacts/c1"
	for _, tc := range []struct {
		name       string
		h          http.HandlerFunc
		kind       sdk.ErrorKind
		retryAfter time.Duration
		msg        string
	}{
		{"429 integer retry-after", reply(429, `{"error":{"code":"TooManyRequests","message":"slow down"}}`, "Retry-After", "10"), sdk.ErrThrottled, 10 * time.Second, alice},
		{"429 fractional retry-after", reply(429, `{"error":{"code":"TooManyRequests"}}`, "Retry-After", "2.128"), sdk.ErrThrottled, 2128 * time.Millisecond, "TooManyRequests"},
		{"429 with an unusual code string", reply(429, `{"error":{"code":"ApplicationThrottled"}}`, "Retry-After", "3"), sdk.ErrThrottled, 3 * time.Second, ""},
		{"503", reply(503, `{"error":{"code":"ServiceUnavailable"}}`, "Retry-After", "5"), sdk.ErrThrottled, 5 * time.Second, ""},
		{"503 without retry-after", reply(503, ``), sdk.ErrThrottled, defaultThrottleWait, ""},
		{"410", reply(410, `{"error":{"code":"SyncStateNotFound"}}`, "Location", "https://graph.microsoft.com/v1.0/users/x/contacts/delta"), sdk.ErrResyncRequired, 0, ""},
		{"syncStateNotFound", reply(400, `{"error":{"code":"syncStateNotFound","message":"expired"}}`), sdk.ErrResyncRequired, 0, ""},
		{"resyncRequired", reply(400, `{"error":{"code":"resyncRequired"}}`), sdk.ErrResyncRequired, 0, ""},
		{"404", reply(404, `{"error":{"code":"ErrorItemNotFound"}}`), sdk.ErrNotFound, 0, ""},
		{"403", reply(403, `{"error":{"code":"ErrorAccessDenied"}}`), sdk.ErrAuth, 0, "Contacts.ReadWrite"},
		{"500", reply(500, `{"error":{"code":"generalException"}}`), sdk.ErrRetryable, 0, ""},
		{"400", reply(400, `{"error":{"code":"ErrorInvalidProperty","message":"bad"}}`), sdk.ErrPermanent, 0, "ErrorInvalidProperty"},
		{"malformed json", reply(200, `{"id": "c1", "displayName": `), sdk.ErrRetryable, 0, "not the expected JSON"},
		{"401 after a fresh token", reply(401, `{"error":{"code":"InvalidAuthenticationToken"}}`), sdk.ErrAuth, 0, "even after a fresh one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t)
			f.handle("GET "+item, tc.h)
			c := f.connector(t, nil)
			res, err := c.Fetch(t.Context(), alice, "contact", []string{"c1"})
			if err != nil {
				t.Fatal(err)
			}
			e := res[0].Err
			if e == nil || e.Kind != tc.kind {
				t.Fatalf("got %v, want %s", e, tc.kind)
			}
			if tc.kind == sdk.ErrThrottled && (e.RetryAfter != tc.retryAfter || e.ThrottleScope != sdk.ThrottleScopeWide) {
				t.Errorf("throttled for %s (%s), want %s for the mailbox", e.RetryAfter, e.ThrottleScope, tc.retryAfter)
			}
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message %q does not say %q", e.Message, tc.msg)
			}
		})
	}
}

func TestThrottledFixture(t *testing.T) {
	fx := loadFixture(t, "error-429-throttled.json")
	f := newFakeGraph(t)
	f.handle("GET /users/"+alice+"/contacts/c1", serveFixture(fx))
	res, _ := f.connector(t, nil).Fetch(t.Context(), alice, "contact", []string{"c1"})
	if e := res[0].Err; e == nil || e.Kind != sdk.ErrThrottled || e.RetryAfter != 2128*time.Millisecond {
		t.Errorf("the documented 429: %v", e)
	}
}

// TestUnauthorizedRetriesWithAFreshToken: a 401 is retried once with a new
// token, and succeeds when the new token is accepted.
func TestUnauthorizedRetriesWithAFreshToken(t *testing.T) {
	f := newFakeGraph(t)
	fx := loadFixture(t, "contact-get.json")
	f.handle("GET /users/"+alice+"/contacts/c1", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer token-1" {
			reply(401, `{"error":{"code":"InvalidAuthenticationToken"}}`)(w, r)
			return
		}
		serveFixture(fx)(w, r)
	})
	res, _ := f.connector(t, nil).Fetch(t.Context(), alice, "contact", []string{"c1"})
	if res[0].Err != nil {
		t.Fatalf("Fetch after a refused token: %v", res[0].Err)
	}
	if f.tokens != 2 {
		t.Errorf("%d tokens fetched, want 2", f.tokens)
	}
}

// TestEveryRequestCarriesThePreferHeaders: immutable ids, so an item keeps
// its id when moved, and UTC times.
func TestEveryRequestCarriesThePreferHeaders(t *testing.T) {
	f := newFakeGraph(t)
	fx := loadFixture(t, "contact-get.json")
	f.handle("GET /users/"+alice+"/contacts/c1", serveFixture(fx))
	f.connector(t, nil).Fetch(t.Context(), alice, "contact", []string{"c1"})
	r := f.requests[0]
	if p := r.Header.Get("Prefer"); !strings.Contains(p, `IdType="ImmutableId"`) || !strings.Contains(p, `outlook.timezone="UTC"`) {
		t.Errorf("Prefer: %q", p)
	}
	if !strings.Contains(r.URL.RawQuery, "singleValueExtendedProperties") {
		t.Errorf("a contact is fetched without its syncgate id: %s", r.URL.RawQuery)
	}
}

// TestConcurrencyPerMailbox: a Fetch of many items never has more than the
// configured number of requests in flight for the mailbox.
func TestConcurrencyPerMailbox(t *testing.T) {
	for _, limit := range []int{4, 2} {
		f := newFakeGraph(t)
		var gate sync.WaitGroup
		gate.Add(1)
		fx := loadFixture(t, "contact-get.json")
		for i := range 20 {
			f.handle("GET /users/"+alice+"/contacts/c"+string(rune('a'+i)), func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(5 * time.Millisecond) // keep requests overlapping
				serveFixture(fx)(w, r)
			})
		}
		var ids []string
		for i := range 20 {
			ids = append(ids, "c"+string(rune('a'+i)))
		}
		c := f.connector(t, sdk.Fields{"max_requests_per_mailbox": sdk.Int(int64(limit))})
		res, err := c.Fetch(t.Context(), alice, "contact", ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		if f.maxIn > limit || f.maxIn < 2 {
			t.Errorf("limit %d: %d requests were in flight at once", limit, f.maxIn)
		}
	}
}

func TestLinksOutsideGraphURLAreRefused(t *testing.T) {
	f := newFakeGraph(t)
	c := f.connector(t, nil)
	cur := encodeCursor(cursorState{Feed: feedContacts, Mailbox: alice, Link: "https://evil.example.com/v1.0/users/x/contacts/delta?$deltatoken=1"})
	_, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: feedContacts, Scope: alice}, Cursor: cur})
	if !sdk.IsKind(err, sdk.ErrResyncRequired) {
		t.Errorf("a cursor pointing elsewhere: %v", err)
	}
	if len(f.requests) != 0 {
		t.Errorf("%d requests made", len(f.requests))
	}
}

// TestNoEmulatorImport: the connector and its emulator are written apart
// from the documentation; the connector's code must never import it.
func TestNoEmulatorImport(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/syncgate/syncgate/plugins/exchange", "github.com/syncgate/syncgate/plugins/exchange/cmd/exchange").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "graphemu") {
		t.Errorf("the connector imports the emulator:\n%s", out)
	}
	if strings.Contains(string(out), "msgraph-sdk-go") {
		t.Errorf("the connector imports the Graph SDK")
	}
}

func TestRetryAfterForms(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"10", 10 * time.Second},
		{"2.128", 2128 * time.Millisecond},
		{"0", 0},
		{"", defaultThrottleWait},
		{"soon", defaultThrottleWait},
		{"-3", defaultThrottleWait},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Retry-After", tc.header)
		}
		if got := retryAfter(h, defaultThrottleWait); got != tc.want {
			t.Errorf("Retry-After %q: %s, want %s", tc.header, got, tc.want)
		}
	}
	h := http.Header{}
	h.Set("Retry-After", time.Now().Add(time.Minute).UTC().Format(http.TimeFormat))
	if got := retryAfter(h, 0); got < 58*time.Second || got > time.Minute {
		t.Errorf("an HTTP date a minute ahead: %s", got)
	}
}

// TestTokenEndpointFailures: a throttled token endpoint holds back the
// whole endpoint; one that fails otherwise is passing.
func TestTokenEndpointFailures(t *testing.T) {
	for _, tc := range []struct {
		status int
		kind   sdk.ErrorKind
	}{{429, sdk.ErrThrottled}, {500, sdk.ErrRetryable}, {400, sdk.ErrAuth}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tc.status)
			w.Write([]byte(`{"error":"temporarily_unavailable"}`))
		}))
		c := New(readManifest(t))
		c.Configure(t.Context(), sdk.Env{}, sdk.Fields{"tenant_id": sdk.String("t"), "client_id": sdk.String("a"), "client_secret": sdk.String("b"),
			"authority_url": sdk.String(srv.URL), "graph_url": sdk.String(srv.URL + "/v1.0")})
		res, _ := c.Fetch(t.Context(), alice, "contact", []string{"x"})
		e := res[0].Err
		if e == nil || e.Kind != tc.kind || (tc.kind == sdk.ErrThrottled && (e.ThrottleScope != sdk.ThrottleEndpoint || e.RetryAfter != 7*time.Second)) {
			t.Errorf("token endpoint %d: %v", tc.status, e)
		}
		srv.Close()
	}
}
