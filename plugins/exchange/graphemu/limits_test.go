package graphemu

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestConcurrencyLimitPerMailbox(t *testing.T) {
	en := newEnv(t, Options{RetryAfter: 50 * time.Millisecond})
	// Latency keeps requests in flight long enough to overlap.
	en.emu.SetFaults(Faults{Latency: 400 * time.Millisecond})
	const n = 8
	var wg sync.WaitGroup
	results := make(chan resp, n+1)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- en.do("GET", "/v1.0/users/"+alice+"/contacts", nil)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(100 * time.Millisecond)
		results <- en.do("GET", "/v1.0/users/"+bob+"/contacts", nil) // another mailbox: its own limit
	}()
	wg.Wait()
	close(results)
	counts := map[int]int{}
	var throttled resp
	for r := range results {
		counts[r.status]++
		if r.status == 429 {
			throttled = r
		}
	}
	if counts[429] == 0 || counts[200] < 4 || counts[200]+counts[429] != n+1 {
		t.Fatalf("statuses %v: want at least 4 answered and some 429 among %d concurrent requests", counts, n)
	}
	if throttled.header.Get("Retry-After") != "0.05" {
		t.Errorf("Retry-After %q, want 0.05", throttled.header.Get("Retry-After"))
	}
	checkShape(t, "error-429-throttled.json", throttled.body, nil)
	c := en.emu.Counters()
	if c.MaxConcurrent[alice] <= 4 || c.MaxConcurrent[bob] != 1 || c.Throttled != counts[429] {
		t.Fatalf("counters %+v", c)
	}
}

func TestInjectedFaultsAndControlAPI(t *testing.T) {
	en := newEnv(t, Options{RetryAfter: 2128 * time.Millisecond})
	contacts := "/v1.0/users/" + alice + "/contacts"
	en.controlPost("/_emulator/faults", map[string]any{"throttleShare": 1}, 204)
	r := en.do("GET", contacts, nil).must(t, 429)
	if r.header.Get("Retry-After") != "2.128" || r.errCode() != "TooManyRequests" {
		t.Fatalf("injected 429: %v %s", r.header, r.raw)
	}
	en.controlPost("/_emulator/faults", map[string]any{"errorShare": 1}, 204)
	if r := en.do("GET", contacts, nil).must(t, 503); r.errCode() != "serviceNotAvailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("injected 503: %s", r.raw)
	}
	en.controlPost("/_emulator/faults", map[string]any{"latencyMs": 30}, 204)
	start := time.Now()
	en.do("GET", contacts, nil).must(t, 200)
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("latency not applied")
	}
	f := en.do("GET", "/_emulator/faults", nil).must(t, 200)
	if f.body["latencyMs"] != 30.0 || f.body["throttleShare"] != 0.0 {
		t.Fatalf("faults %v", f.body)
	}
	en.controlPost("/_emulator/faults", map[string]any{"throttleShare": 2}, 400)
	en.controlPost("/_emulator/faults", map[string]any{"throttle": 0.5}, 400)
	en.controlPost("/_emulator/faults", map[string]any{}, 204)

	// Faults apply to Graph only: the token endpoint and the control API
	// keep working.
	en.emu.SetFaults(Faults{ThrottleShare: 1})
	en.do("GET", "/_emulator/counters", nil).must(t, 200)
	en.emu.SetFaults(Faults{})

	c := en.do("GET", "/_emulator/counters", nil).must(t, 200)
	var counters Counters
	if err := json.Unmarshal([]byte(c.raw), &counters); err != nil {
		t.Fatal(err)
	}
	if counters.Requests["GET /users/{u}/contacts"] != 3 || counters.Throttled != 1 {
		t.Fatalf("counters %+v", counters)
	}
	en.do("GET", "/_emulator/nothing", nil).must(t, 404)
	en.do("GET", "/v1.0/users/"+alice+"/mailFolders", nil).must(t, 400)
	if got := en.emu.Counters().Requests["GET (no route)"]; got != 1 {
		t.Fatalf("unrouted requests counted %d", got)
	}
	hr, err := http.Get(en.srv.URL + "/t/oauth2/v2.0/token")
	if err != nil {
		t.Fatal(err)
	}
	hr.Body.Close()
	if hr.StatusCode != 405 {
		t.Fatalf("GET on the token endpoint: %d", hr.StatusCode)
	}
}
