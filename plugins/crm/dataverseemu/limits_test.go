package dataverseemu

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitInFlight waits until caller has n requests in flight.
func waitInFlight(t *testing.T, e *Emulator, caller string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		got := e.inFlight[caller]
		e.mu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("%s never had %d requests in flight", caller, n)
}

func TestConcurrencyLimitPerCaller(t *testing.T) {
	h := newHarness(t, Options{MaxConcurrentPerUser: 2, RetryAfter: 3 * time.Second})
	h.e.SetFaults(Faults{Latency: 300 * time.Millisecond})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.do("GET", api+"contacts", nil).must(t, 200)
		}()
	}
	waitInFlight(t, h.e, appCaller, 2)
	r := h.do("GET", api+"contacts", nil)
	r.wantError(t, 429, "0x80072326", "Number of concurrent requests exceeded the limit of 2.")
	if r.header.Get("Retry-After") != "3" {
		t.Errorf("Retry-After %q, want 3", r.header.Get("Retry-After"))
	}
	// another user has slots of their own
	var bobOID string
	for _, u := range h.e.Users() {
		if u.Email == "bob@example.com" {
			bobOID = u.ObjectID
		}
	}
	h.do("GET", api+"contacts", nil, "CallerObjectId", bobOID).must(t, 200)
	wg.Wait()
	c := h.e.Counters()
	if c.MaxConcurrent[appCaller] != 2 || c.MaxConcurrent["bob@example.com"] != 1 || c.Throttled != 1 {
		t.Errorf("counters %+v", c)
	}
	h.e.SetFaults(Faults{})
	h.do("GET", api+"contacts", nil).must(t, 200) // the slots are free again
}

func TestRequestCountLimit(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.mu.Lock()
	h.e.requestLimit = 3
	now := time.Now()
	h.e.now = func() time.Time { return now }
	h.e.mu.Unlock()
	for i := 0; i < 3; i++ {
		h.do("GET", api+"contacts", nil).must(t, 200)
	}
	r := h.do("GET", api+"contacts", nil)
	r.wantError(t, 429, "0x80072322", "Number of requests exceeded the limit of 3 over time window of 300 seconds.")
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want the default 1", r.header.Get("Retry-After"))
	}
	h.e.mu.Lock()
	now = now.Add(301 * time.Second) // the window slides past the first requests
	h.e.mu.Unlock()
	h.do("GET", api+"contacts", nil).must(t, 200)
}

func TestInjectedFaults(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.SetFaults(Faults{ThrottleShare: 1})
	r := h.do("GET", api+"contacts", nil)
	r.wantError(t, 429, "0x80072321", "Combined execution time")
	if r.header.Get("Retry-After") == "" {
		t.Error("injected 429 without Retry-After")
	}
	h.e.SetFaults(Faults{ErrorShare: 1})
	h.do("POST", api+"contacts", map[string]any{"firstname": "x"}).wantError(t, 503, "", "temporarily unavailable")
	h.e.SetFaults(Faults{})
	if n := len(h.do("GET", api+"contacts", nil).must(t, 200).values()); n != 0 {
		t.Errorf("a write answered 503 was stored: %d rows", n)
	}
	// a share between 0 and 1 answers some of each
	h.e.SetFaults(Faults{ThrottleShare: 0.5})
	statuses := map[int]int{}
	for i := 0; i < 60; i++ {
		statuses[h.do("GET", api+"tasks", nil).status]++
	}
	if statuses[200] == 0 || statuses[429] == 0 || statuses[200]+statuses[429] != 60 {
		t.Errorf("statuses with a 0.5 throttle share: %v", statuses)
	}
	c := h.e.Counters()
	if c.Throttled != 1+statuses[429] || c.Requests["GET /tasks"] != 60 || c.Requests["POST /contacts"] != 1 {
		t.Errorf("counters %+v", c)
	}
}

func TestControlAPI(t *testing.T) {
	h := newHarness(t, Options{})
	post := func(path, body string) *http.Response {
		t.Helper()
		resp, err := http.Post(h.srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	getJSON := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(h.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	if r := post("/_emulator/faults", `{"throttleShare":0.25,"errorShare":0.5,"latencyMs":7}`); r.StatusCode != 204 {
		t.Fatalf("POST faults: %d", r.StatusCode)
	}
	var f faultsJSON
	getJSON("/_emulator/faults", &f)
	if f != (faultsJSON{0.25, 0.5, 7}) {
		t.Errorf("faults read back %+v", f)
	}
	h.e.mu.Lock()
	if h.e.faults.Latency != 7*time.Millisecond {
		t.Errorf("latency %v", h.e.faults.Latency)
	}
	h.e.mu.Unlock()
	for _, bad := range []string{`{"throttleShare":0.8,"errorShare":0.5}`, `{"latencyMs":-1}`, `nope`} {
		if r := post("/_emulator/faults", bad); r.StatusCode != 400 {
			t.Errorf("POST faults %s: %d, want 400", bad, r.StatusCode)
		}
	}
	post("/_emulator/faults", `{}`)

	_, delta, _ := deltaRound(t, h, api+"contacts", 10)
	if r := post("/_emulator/expire-tokens", ""); r.StatusCode != 204 {
		t.Fatalf("expire-tokens: %d", r.StatusCode)
	}
	h.do("GET", delta, nil).wantError(t, 400, codeExpired, "full sync")

	var c struct {
		Requests      map[string]int `json:"requests"`
		Throttled     int            `json:"throttled"`
		MaxConcurrent map[string]int `json:"maxConcurrent"`
	}
	getJSON("/_emulator/counters", &c)
	if c.Requests["GET /contacts (track-changes)"] != 2 || c.MaxConcurrent[appCaller] != 1 || c.Requests["POST /{tenant}/oauth2/v2.0/token"] != 1 {
		t.Errorf("counters %+v", c)
	}
	var users []userInfo
	getJSON("/_emulator/users", &users)
	if len(users) != 2 || users[0].Email != "alice@example.com" || users[0].ID != h.e.UserID("alice@example.com") || users[1].ObjectID == "" {
		t.Errorf("users %+v", users)
	}
	if r := post("/_emulator/plugin-error", `{"entitySet":"contacts","message":"No."}`); r.StatusCode != 204 {
		t.Fatalf("plugin-error: %d", r.StatusCode)
	}
	r := h.do("POST", api+"contacts", map[string]any{"firstname": "x"})
	r.wantError(t, 400, codePluginError, "No.")
	if len(r.body["error"].(map[string]any)) != 2 {
		t.Errorf("annotations without Prefer: odata.include-annotations: %s", r.raw)
	}
	post("/_emulator/plugin-error", `{"entitySet":"contacts","message":""}`)
	h.create("contacts", map[string]any{"firstname": "x"})
	if r := post("/_emulator/plugin-error", `{"entitySet":"nope"}`); r.StatusCode != 400 {
		t.Errorf("plugin-error on an unknown set: %d", r.StatusCode)
	}
	if r := post("/_emulator/nothing", ""); r.StatusCode != 404 {
		t.Errorf("unknown control route: %d", r.StatusCode)
	}
}
