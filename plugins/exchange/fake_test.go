package exchange

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/syncgate/syncgate/internal/fixtures"

	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/sdk"
)

// fakeGraph is a scripted Graph for unit tests: a token endpoint that
// checks the client secret, and handlers per "METHOD /path" that a test
// sets. It records every request and the most requests it saw in flight.
type fakeGraph struct {
	t      *testing.T
	srv    *httptest.Server
	secret string

	mu       sync.Mutex
	routes   map[string]http.HandlerFunc
	tokens   int
	requests []*http.Request
	inflight int
	maxIn    int
}

const testTenant = "contoso"

func newFakeGraph(t *testing.T) *fakeGraph {
	f := &fakeGraph{t: t, secret: "s3cret", routes: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGraph) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/"+testTenant+"/oauth2/v2.0/token" {
		r.ParseForm()
		f.mu.Lock()
		f.tokens++
		n := f.tokens
		f.mu.Unlock()
		if r.PostForm.Get("client_secret") != f.secret || r.PostForm.Get("grant_type") != "client_credentials" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"token-%d","token_type":"Bearer","expires_in":3600}`, n)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, r.Clone(r.Context()))
	f.inflight++
	f.maxIn = max(f.maxIn, f.inflight)
	route := r.Method + " " + strings.TrimPrefix(r.URL.Path, "/v1.0")
	h := f.routes[route]
	if h == nil { // a route ending in /* answers for any last segment
		h = f.routes[route[:strings.LastIndexByte(route, '/')+1]+"*"]
	}
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inflight--; f.mu.Unlock() }()
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer token-") {
		http.Error(w, `{"error":{"code":"InvalidAuthenticationToken","message":"no token"}}`, http.StatusUnauthorized)
		return
	}
	if h == nil {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"code":"ErrorItemNotFound","message":"no route %s %s"}}`, r.Method, r.URL.Path)
		return
	}
	h(w, r)
}

func (f *fakeGraph) handle(route string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = h
}

// reply answers with a status and a JSON body (a string is sent as is).
func reply(status int, body any, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		switch b := body.(type) {
		case nil:
		case string:
			fmt.Fprint(w, b)
		default:
			json.NewEncoder(w).Encode(b)
		}
	}
}

func (f *fakeGraph) config() sdk.Fields {
	return sdk.Fields{
		"tenant_id": sdk.String(testTenant), "client_id": sdk.String("app"), "client_secret": sdk.String(f.secret),
		"authority_url": sdk.String(f.srv.URL), "graph_url": sdk.String(f.srv.URL + "/v1.0"),
	}
}

func (f *fakeGraph) connector(t *testing.T, extra sdk.Fields) *Connector {
	t.Helper()
	c := New(readManifest(t))
	cfg := f.config()
	for k, v := range extra {
		cfg[k] = v
	}
	if ds := c.Configure(t.Context(), sdk.Env{Endpoint: "test", KV: newMemKV()}, cfg); ds.HasErrors() {
		t.Fatalf("Configure: %v", ds.Err())
	}
	return c
}

func (f *fakeGraph) requestCount(method, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r.Method == method && strings.TrimPrefix(r.URL.Path, "/v1.0") == path {
			n++
		}
	}
	return n
}

func readManifest(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("cmd", "exchange", "connector.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// fixture is one of the documentation samples in the shared fixtures.
type fixture struct {
	Request *struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"request"`
	Response struct {
		Status  *int              `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"response"`
}

var fixturesDir = fixtures.Path("graph")

func loadFixture(t *testing.T, name string) fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir, name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	var fx fixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return fx
}

// serveFixture answers with the fixture's response, status and headers.
func serveFixture(fx fixture) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range fx.Response.Headers {
			if !strings.EqualFold(k, "Content-Length") { // the docs' length is not the body's as re-encoded
				w.Header().Set(k, v)
			}
		}
		status := 200
		if fx.Response.Status != nil {
			status = *fx.Response.Status
		}
		w.WriteHeader(status)
		if len(fx.Response.Body) > 0 && string(fx.Response.Body) != "null" {
			w.Write(fx.Response.Body)
		}
	}
}

// newMemKV is the host's key-value store, in memory.
func newMemKV() *host.MemKV { return host.NewMemKV() }

// capture records a request's JSON body into *into, then lets h answer.
func capture(into *map[string]any, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, into)
		h(w, r)
	}
}

// notifying returns a connector with a notification_url, and its store.
func (f *fakeGraph) notifying(t *testing.T) (*Connector, *host.MemKV) {
	kv := newMemKV()
	c := New(readManifest(t))
	cfg := f.config()
	cfg["notification_url"] = sdk.String("https://gateway.example.com/hooks/exchange")
	if ds := c.Configure(t.Context(), sdk.Env{KV: kv}, cfg); ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	return c, kv
}
