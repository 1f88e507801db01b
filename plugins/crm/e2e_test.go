package crm_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/plugins/crm/dataverseemu"
	"github.com/syncgate/syncgate/sdk"
)

// gatewayWorld is the syncgate binary with the crm plugin against a
// Dataverse emulator and dir-mailbox, bindings for alice and bob.
type gatewayWorld struct {
	emu  *dataverseemu.Emulator
	api  *backend
	mail *dirconnector.Store
	gw   *testplugins.Gateway
}

func startGatewayWorld(t *testing.T, opts dataverseemu.Options) *gatewayWorld {
	t.Helper()
	opts.Users = []string{alice, bob}
	pluginDir, lockFile := testplugins.Build(t, "crm", "dir-mailbox")
	emu := dataverseemu.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	o := &org{emu: emu, srv: srv}
	api := &backend{t: t, org: o, user: emu.UserID(alice)}
	dir := t.TempDir()
	addr := testplugins.FreeAddr(t)
	cfg := filepath.Join(dir, "syncgate.hcl")
	src := fmt.Sprintf(`gateway {
  plugin_dir   = %q
  lock_file    = %q
  data_dir     = "data"
  admin_listen = %q
}
endpoint "dir-mailbox" "mail" {
  dir           = "mail"
  poll_interval = "1s"
}
endpoint "crm" "crm" {
  url           = "%s/api/data/v9.2"
  authority_url = %q
  tenant_id     = "contoso.onmicrosoft.com"
  client_id     = "syncgate-emulator"
  client_secret = "syncgate-emulator-secret"
  poll_interval = "1s"
}
binding "alice" {
  mailbox  = %q
  crm_user = %q
}
binding "bob" {
  mailbox  = %q
  crm_user = %q
}
policy "contact" {
  direction = "bidirectional"
  tracking {
    mode = "all"
  }
}
policy "service_appointment" {
  on_blocked = "revert"
}
`, pluginDir, lockFile, addr, srv.URL, srv.URL, alice, alice, bob, bob)
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	mail, err := dirconnector.Open(filepath.Join(dir, "mail"))
	if err != nil {
		t.Fatal(err)
	}
	gw := testplugins.StartGateway(t, cfg, addr, filepath.Join(dir, "data"))
	return &gatewayWorld{emu: emu, api: api, mail: mail, gw: gw}
}

// TestEndToEnd runs the syncgate binary with the crm plugin against the
// Dataverse emulator and dir-mailbox as the mailbox side (folders the test
// reads and writes as the users' mail clients would): a CRM contact reaches
// its owner's mailbox, a mailbox edit reaches the CRM, and a service
// appointment with two bound users as resources lands in both mailboxes,
// where an edit is reverted and never reaches the CRM.
func TestEndToEnd(t *testing.T) {
	w := startGatewayWorld(t, dataverseemu.Options{})
	emu, api, mail, gw := w.emu, w.api, w.mail, w.gw
	ctx := context.Background()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	mailItem := func(who, entity, field, value string) *dirconnector.Item {
		items, _ := mail.List(who, entity)
		for _, it := range items {
			if it.Fields[field].Str() == value {
				return &it
			}
		}
		return nil
	}

	// CRM → the owner's mailbox, and no one else's.
	var contact struct {
		ID string `json:"contactid"`
	}
	if err := api.call(ctx, "POST", "contacts", map[string]any{"firstname": "Ada", "lastname": "Lovelace",
		"ownerid@odata.bind": "/systemusers(" + emu.UserID(alice) + ")"}, &contact); err != nil {
		t.Fatal(err)
	}
	waitFor("the CRM contact in alice's mailbox", func() bool { return mailItem(alice, "contact", "surname", "Lovelace") != nil })
	if mailItem(bob, "contact", "surname", "Lovelace") != nil {
		t.Fatal("alice's contact reached bob's mailbox")
	}

	// The mailbox → CRM.
	it := mailItem(alice, "contact", "surname", "Lovelace")
	if _, err := mail.Update(alice, "contact", it.ID, "", sdk.Fields{"job_title": sdk.String("Countess")}); err != nil {
		t.Fatal(err)
	}
	waitFor("the mailbox edit in the CRM", func() bool {
		var c struct {
			JobTitle string `json:"jobtitle"`
		}
		return api.call(ctx, "GET", "contacts("+contact.ID+")?$select=jobtitle", nil, &c) == nil && c.JobTitle == "Countess"
	})

	// A service appointment booking both users as resources.
	start := time.Now().UTC().Truncate(time.Hour).Add(72 * time.Hour)
	var sa struct {
		ID string `json:"activityid"`
	}
	if err := api.call(ctx, "POST", "serviceappointments", map[string]any{
		"subject": "Site survey", "scheduledstart": start.Format(time.RFC3339), "scheduledend": start.Add(2 * time.Hour).Format(time.RFC3339),
		"serviceappointment_activity_parties": []map[string]any{
			{"participationtypemask": 10, "partyid_systemuser@odata.bind": "/systemusers(" + emu.UserID(alice) + ")"},
			{"participationtypemask": 10, "partyid_systemuser@odata.bind": "/systemusers(" + emu.UserID(bob) + ")"},
		},
	}, &sa); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{alice, bob} {
		waitFor("the service appointment in "+who+"'s mailbox", func() bool { return mailItem(who, "service_appointment", "subject", "Site survey") != nil })
	}
	own := mailItem(bob, "service_appointment", "subject", "Site survey")
	if _, err := mail.Update(bob, "service_appointment", own.ID, "", sdk.Fields{"subject": sdk.String("Bob's own title")}); err != nil {
		t.Fatal(err)
	}
	waitFor("bob's edit reverted", func() bool {
		var blocked []struct{ Action string }
		return gw.Get("/v1/blocked?binding=bob", &blocked) == nil && len(blocked) > 0 &&
			mailItem(bob, "service_appointment", "subject", "Site survey") != nil
	})
	var now struct {
		Subject string `json:"subject"`
	}
	if err := api.call(ctx, "GET", "serviceappointments("+sa.ID+")?$select=subject", nil, &now); err != nil || now.Subject != "Site survey" {
		t.Fatalf("the CRM's service appointment is %q (%v): a mailbox edit reached it", now.Subject, err)
	}
	for _, who := range []string{alice, bob} {
		if items, _ := mail.List(who, "service_appointment"); len(items) != 1 {
			t.Fatalf("%s's mailbox holds %d service appointments, want 1", who, len(items))
		}
	}
}

// TestThousandContactsThroughTheGateway: 1,000 contacts owned by alice reach
// her mailbox through the gateway while the org answers a fifth of all
// requests 429 and its change-tracking tokens expire mid-sync: every
// contact arrives exactly once, and nothing comes back to the CRM as a
// duplicate.
func TestThousandContactsThroughTheGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 contacts through real processes")
	}
	w := startGatewayWorld(t, dataverseemu.Options{RetryAfter: time.Second})
	ctx := context.Background()
	const n = 1000
	sem := make(chan struct{}, 8)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- w.api.call(ctx, "POST", "contacts", map[string]any{"firstname": "Person", "lastname": fmt.Sprintf("P%04d", i),
				"ownerid@odata.bind": "/systemusers(" + w.emu.UserID(alice) + ")"}, nil)
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	w.emu.SetFaults(dataverseemu.Faults{ThrottleShare: 0.2})
	count := func() int { items, _ := w.mail.List(alice, "contact"); return len(items) }
	waitUntil(t, "a third of the contacts in the mailbox", 2*time.Minute, func() bool { return count() >= n/3 })
	w.emu.ExpireTokens()
	waitUntil(t, "every contact in the mailbox", 3*time.Minute, func() bool { return count() >= n })
	w.emu.SetFaults(dataverseemu.Faults{})
	waitUntil(t, "the gateway to settle", time.Minute, func() bool {
		var st struct {
			Bindings []struct{ Queued int }
		}
		if w.gw.Get("/v1/status", &st) != nil {
			return false
		}
		for _, b := range st.Bindings {
			if b.Queued > 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(2 * time.Second)
	seen := map[string]int{}
	items, _ := w.mail.List(alice, "contact")
	for _, it := range items {
		seen[it.Fields["surname"].Str()]++
	}
	for i := 0; i < n; i++ {
		if k := seen[fmt.Sprintf("P%04d", i)]; k != 1 {
			t.Errorf("P%04d is in the mailbox %d times", i, k)
		}
	}
	var total struct {
		Count int `json:"@odata.count"`
	}
	if err := w.api.call(ctx, "GET", "contacts?$count=true&$select=contactid&$top=1", nil, &total); err != nil || total.Count != n {
		t.Errorf("the CRM holds %d contacts (%v), want %d", total.Count, err, n)
	}
	c := w.emu.Counters()
	if c.Throttled == 0 || !strings.Contains(w.gw.Logs(), "feed needs a resync") {
		t.Errorf("throttled %d, resync seen %v: the faults did not happen", c.Throttled, strings.Contains(w.gw.Logs(), "feed needs a resync"))
	}
	t.Logf("%d contacts through %d throttled answers and expired change-tracking tokens", n, c.Throttled)
}

func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
