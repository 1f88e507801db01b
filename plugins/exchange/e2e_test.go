package exchange

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	"time"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/plugins/exchange/graphemu"
	"github.com/syncgate/syncgate/sdk"
)

// e2e is the whole thing with real processes: the syncgate binary, the
// exchange plugin talking HTTP to a Graph emulator, and the dir-crm plugin
// as the CRM side (a folder the test reads and writes as a CRM user would).
type e2e struct {
	t     *testing.T
	emu   *graphemu.Emulator
	graph string // the emulator's base URL
	token string
	crm   *dirconnector.Store
	gw    *testplugins.Gateway
}

func startE2E(t *testing.T, mailPoll string, opts graphemu.Options) *e2e {
	t.Helper()
	pluginDir, lockFile := testplugins.Build(t, "exchange", "dir-crm")
	opts.Users = []string{alice}
	emu := graphemu.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	dir := t.TempDir()
	addr := testplugins.FreeAddr(t)
	cfg := filepath.Join(dir, "syncgate.hcl")
	src := fmt.Sprintf(`gateway {
  plugin_dir   = %q
  lock_file    = %q
  data_dir     = "data"
  admin_listen = %q
}
endpoint "exchange" "mail" {
  tenant_id        = "contoso"
  client_id        = %q
  client_secret    = %q
  authority_url    = %q
  graph_url        = "%s/v1.0"
  notification_url = "http://%s/hooks/mail"
  poll_interval    = %q
}
endpoint "dir-crm" "crm" {
  dir           = "crm"
  poll_interval = "1s"
}
binding "alice" {
  mailbox  = %q
  crm_user = %q
}
policy "contact" {
  direction = "bidirectional"
  tracking {
    mode = "all"
  }
}
policy "appointment" {
  direction = "bidirectional"
  tracking {
    mode = "all"
  }
}
policy "service_appointment" {
  direction  = "crm_to_mailbox"
  on_blocked = "revert"
}
`, pluginDir, lockFile, addr, graphemu.DefaultClientID, graphemu.DefaultClientSecret, srv.URL, srv.URL, addr, mailPoll, alice, alice)
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	crm, err := dirconnector.Open(filepath.Join(dir, "crm"))
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, emu: emu, graph: srv.URL, crm: crm}
	e.gw = testplugins.StartGateway(t, cfg, addr, filepath.Join(dir, "data"))
	return e
}

// call is a Graph request as a user's mail client would make it.
func (e *e2e) call(method, path string, body, out any) {
	e.t.Helper()
	if e.token == "" {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {graphemu.DefaultClientID},
			"client_secret": {graphemu.DefaultClientSecret}, "scope": {graphScope}}
		res, err := http.PostForm(e.graph+"/contoso/oauth2/v2.0/token", form)
		if err != nil {
			e.t.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(res.Body).Decode(&tok)
		res.Body.Close()
		e.token = tok.AccessToken
	}
	var js []byte
	if body != nil {
		js, _ = json.Marshal(body)
	}
	var (
		res  *http.Response
		data []byte
	)
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest(method, e.graph+"/v1.0"+path, bytes.NewReader(js))
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Type", "application/json")
		var err error
		if res, err = http.DefaultClient.Do(req); err != nil {
			e.t.Fatal(err)
		}
		data, _ = io.ReadAll(res.Body)
		res.Body.Close()
		// A user's mail client is throttled too, and waits as asked.
		if (res.StatusCode != http.StatusTooManyRequests && res.StatusCode != http.StatusServiceUnavailable) || attempt == 20 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if res.StatusCode >= 300 {
		e.t.Fatalf("%s %s: HTTP %d: %s", method, path, res.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatal(err)
		}
	}
}

// waitFor polls cond until it holds, or fails the test after 30 s.
func (e *e2e) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crmItem returns alice's CRM item of entity whose field has value.
func (e *e2e) crmItem(entity, field, value string) *dirconnector.Item {
	items, err := e.crm.List(alice, entity)
	if err != nil {
		return nil
	}
	for _, it := range items {
		if it.Fields[field].Str() == value {
			return &it
		}
	}
	return nil
}

// TestEndToEnd: a contact made in Outlook reaches the CRM, a CRM edit
// reaches Outlook, a service appointment edited in Outlook is reverted and
// never reaches the CRM, and a weekly meeting with one moved occurrence
// keeps its pattern and exception.
func TestEndToEnd(t *testing.T) {
	e := startE2E(t, "1s", graphemu.Options{})
	users := "/users/" + alice

	// Outlook → CRM.
	var made struct{ ID string }
	e.call("POST", users+"/contacts", map[string]any{"givenName": "Ada", "surname": "Lovelace",
		"emailAddresses": []map[string]string{{"address": "ada@example.com", "name": "Ada Lovelace"}}}, &made)
	e.waitFor("the Outlook contact in the CRM", func() bool { return e.crmItem("contact", "surname", "Lovelace") != nil })

	// CRM → Outlook.
	it := e.crmItem("contact", "surname", "Lovelace")
	if _, err := e.crm.Update(alice, "contact", it.ID, "", sdk.Fields{"job_title": sdk.String("Countess")}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the CRM edit in Outlook", func() bool {
		var c struct{ JobTitle string }
		e.call("GET", users+"/contacts/"+made.ID, nil, &c)
		return c.JobTitle == "Countess"
	})

	// A service appointment flows CRM → mailbox only: an Outlook edit is
	// reverted from the CRM, and the CRM never sees it.
	start := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
	if _, err := e.crm.Create(alice, "service_appointment", "", sdk.Fields{"subject": sdk.String("Boiler repair"),
		"start": sdk.TimeIn(start, "UTC"), "end": sdk.TimeIn(start.Add(time.Hour), "UTC"),
		"resources": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String(alice), "role": sdk.String("resource")}))}); err != nil {
		t.Fatal(err)
	}
	event := func(subject string) string {
		var list struct {
			Value []struct{ ID, Subject string }
		}
		e.call("GET", users+"/events?$top=100", nil, &list)
		for _, ev := range list.Value {
			if ev.Subject == subject {
				return ev.ID
			}
		}
		return ""
	}
	e.waitFor("the service appointment in Outlook", func() bool { return event("Boiler repair") != "" })
	e.call("PATCH", users+"/events/"+event("Boiler repair"), map[string]any{"subject": "Moved by the resource"}, nil)
	e.waitFor("the Outlook edit reverted", func() bool { return event("Boiler repair") != "" && event("Moved by the resource") == "" })
	if e.crmItem("service_appointment", "subject", "Boiler repair") == nil || e.crmItem("service_appointment", "subject", "Moved by the resource") != nil {
		t.Fatal("the Outlook edit of a service appointment reached the CRM")
	}
	var blocked []struct{ Action string }
	if err := e.gw.Get("/v1/blocked", &blocked); err != nil || len(blocked) == 0 || blocked[0].Action != "revert" {
		t.Fatalf("blocked changes %+v %v: the revert was not reported", blocked, err)
	}

	// A weekly meeting with one moved occurrence.
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 7)
	for day.Weekday() != time.Monday {
		day = day.AddDate(0, 0, 1)
	}
	first := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, time.UTC)
	var series struct{ ID string }
	e.call("POST", users+"/events", map[string]any{
		"subject": "Weekly review",
		"start":   map[string]string{"dateTime": first.Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
		"end":     map[string]string{"dateTime": first.Add(time.Hour).Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
		"recurrence": map[string]any{
			"pattern": map[string]any{"type": "weekly", "interval": 1, "daysOfWeek": []string{"monday"}, "firstDayOfWeek": "sunday"},
			"range":   map[string]any{"type": "numbered", "startDate": first.Format(time.DateOnly), "numberOfOccurrences": 6},
		},
	}, &series)
	var inst struct {
		Value []struct {
			ID    string
			Start struct{ DateTime string }
		}
	}
	e.call("GET", fmt.Sprintf("%s/events/%s/instances?startDateTime=%s&endDateTime=%s", users, series.ID,
		first.Format(time.RFC3339), first.AddDate(0, 0, 50).Format(time.RFC3339)), nil, &inst)
	if len(inst.Value) != 6 {
		t.Fatalf("the emulator expanded %d occurrences, want 6", len(inst.Value))
	}
	sort.Slice(inst.Value, func(i, j int) bool { return inst.Value[i].Start.DateTime < inst.Value[j].Start.DateTime })
	moved := first.AddDate(0, 0, 7).Add(2 * time.Hour)
	e.call("PATCH", users+"/events/"+inst.Value[1].ID, map[string]any{
		"start": map[string]string{"dateTime": moved.Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
		"end":   map[string]string{"dateTime": moved.Add(time.Hour).Format("2006-01-02T15:04:05"), "timeZone": "UTC"},
	}, nil)
	defer func() {
		if t.Failed() {
			for _, it := range e.crmItems("appointment") {
				t.Logf("CRM appointment: %v", it.Fields)
			}
		}
	}()
	e.waitFor("the series with its exception in the CRM", func() bool {
		it := e.crmItem("appointment", "subject", "Weekly review")
		if it == nil {
			return false
		}
		rec := it.Fields["recurrence"].MapVal()
		days := rec["days_of_week"].ListVal()
		return rec["pattern"].Str() == "weekly" && len(days) == 1 && days[0].Str() == "monday" &&
			len(rec["exceptions"].ListVal()) == 1
	})
	ex := e.crmItem("appointment", "subject", "Weekly review").Fields["recurrence"].MapVal()["exceptions"].ListVal()[0].MapVal()
	if got := ex["start"].TimeVal(); !got.Equal(moved) {
		t.Fatalf("the exception starts at %v in the CRM, want %v", got, moved)
	}
	if n := len(e.crmItems("appointment")); n != 1 {
		t.Fatalf("the CRM holds %d appointments, want the one series", n)
	}
}

func (e *e2e) crmItems(entity string) []dirconnector.Item {
	items, _ := e.crm.List(alice, entity)
	return items
}

// TestNotificationLatency: with the mailbox polled every 10 minutes, 20
// Outlook edits reach the CRM through change notifications alone; the
// figures are logged, and the 95th percentile must stay under 3 s.
func TestNotificationLatency(t *testing.T) {
	e := startE2E(t, "10m", graphemu.Options{})
	users := "/users/" + alice
	// The first round (at start) subscribes to the mailbox's contacts; from
	// then on a contact created arrives through its notification.
	e.waitFor("the subscription to alice's contacts", func() bool {
		var subs struct {
			Value []struct{ Resource string }
		}
		e.call("GET", "/subscriptions", nil, &subs)
		for _, s := range subs.Value {
			if strings.Contains(s.Resource, "contacts") {
				return true
			}
		}
		return false
	})
	var made struct{ ID string }
	e.call("POST", users+"/contacts", map[string]any{"givenName": "Grace", "surname": "Hopper"}, &made)
	e.waitFor("the first contact in the CRM", func() bool { return e.crmItem("contact", "surname", "Hopper") != nil })
	var took []time.Duration
	for i := 0; i < 20; i++ {
		title := fmt.Sprintf("Rear Admiral %d", i)
		start := time.Now()
		e.call("PATCH", users+"/contacts/"+made.ID, map[string]any{"jobTitle": title}, nil)
		e.waitFor(title+" in the CRM", func() bool { return e.crmItem("contact", "job_title", title) != nil })
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	p50, p95 := took[len(took)/2], took[len(took)*95/100]
	t.Logf("20 Outlook edits → CRM through notifications (poll interval 10m): p50 %v, p95 %v, max %v",
		p50.Round(time.Millisecond), p95.Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	if p95 > 3*time.Second {
		t.Fatalf("p95 %v, want under 3s", p95)
	}
	if c := e.emu.Counters(); c.Notifications < 20 {
		t.Fatalf("%d notifications delivered, want at least 20", c.Notifications)
	}
}

// mailboxContacts lists every contact in alice's mailbox, page by page.
func (e *e2e) mailboxContacts() []struct{ ID, Surname string } {
	var all []struct{ ID, Surname string }
	path := "/users/" + alice + "/contacts?$top=500&$select=surname"
	for path != "" {
		var page struct {
			Value    []struct{ ID, Surname string }
			NextLink string `json:"@odata.nextLink"`
		}
		e.call("GET", path, nil, &page)
		all = append(all, page.Value...)
		path = strings.TrimPrefix(page.NextLink, e.graph+"/v1.0")
	}
	return all
}

// TestThousandContactsThroughTheGateway: 1,000 CRM contacts reach alice's
// mailbox through the gateway while Graph answers a fifth of all requests
// 429 (Retry-After 0.05 s) and forgets its delta state once mid-sync: every
// contact arrives exactly once, both sides settle, and the mailbox never
// has more than 4 requests in flight.
func TestThousandContactsThroughTheGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 contacts through real processes")
	}
	e := startE2E(t, "1s", graphemu.Options{RetryAfter: 50 * time.Millisecond})
	e.emu.SetFaults(graphemu.Faults{ThrottleShare: 0.2})
	const n = 1000
	for i := 0; i < n; i++ {
		if _, err := e.crm.Create(alice, "contact", "", sdk.Fields{"given_name": sdk.String("Person"), "surname": sdk.String(fmt.Sprintf("P%04d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitForN("a third of the contacts in the mailbox", 2*time.Minute, func() bool { return len(e.mailboxContacts()) >= n/3 })
	e.emu.ExpireDeltaTokens() // the mailbox's next delta round answers 410
	e.waitForN("every contact in the mailbox", 3*time.Minute, func() bool { return len(e.mailboxContacts()) >= n })
	e.emu.SetFaults(graphemu.Faults{})
	// Settled: nothing queued, and the mailbox's own feed read since.
	e.waitForN("the gateway to settle", time.Minute, func() bool {
		var st struct {
			Bindings []struct{ Queued int }
		}
		return e.gw.Get("/v1/status", &st) == nil && len(st.Bindings) == 1 && st.Bindings[0].Queued == 0
	})
	time.Sleep(2 * time.Second)
	seen := map[string]int{}
	for _, c := range e.mailboxContacts() {
		seen[c.Surname]++
	}
	for i := 0; i < n; i++ {
		if k := seen[fmt.Sprintf("P%04d", i)]; k != 1 {
			t.Errorf("P%04d is in the mailbox %d times", i, k)
		}
	}
	if len(seen) != n {
		t.Errorf("the mailbox holds %d distinct contacts, want %d", len(seen), n)
	}
	if items := e.crmItems("contact"); len(items) != n {
		t.Errorf("the CRM holds %d contacts, want %d: something came back as a duplicate", len(items), n)
	}
	c := e.emu.Counters()
	if c.MaxConcurrent[alice] > 4 {
		t.Errorf("up to %d requests in flight for alice's mailbox, Graph allows 4", c.MaxConcurrent[alice])
	}
	if c.Throttled == 0 {
		t.Error("the emulator throttled nothing: the test tested nothing")
	}
	if !strings.Contains(e.gw.Logs(), "feed needs a resync") {
		t.Error("the gateway never saw the 410: the test tested nothing")
	}
	t.Logf("%d contacts through %d throttled answers and one 410; at most %d requests in flight", n, c.Throttled, c.MaxConcurrent[alice])
}

func (e *e2e) waitForN(what string, limit time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
