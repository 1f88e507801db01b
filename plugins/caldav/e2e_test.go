package caldav_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/plugins/caldav/davtest"
	"github.com/syncgate/syncgate/sdk"
)

// e2e is a gateway configuration joining a Radicale account (the caldav
// plugin) and a dir-crm folder, run with the real syncgate binary.
type e2e struct {
	t       *testing.T
	dav     *davtest.Server
	crm     *dirconnector.Store
	gateway string
	cfg     string
}

func newE2E(t *testing.T) *e2e {
	dav := davtest.StartRadicale(t)
	pluginDir, lockFile := testplugins.Build(t, "caldav", "dir-crm")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "syncgate.hcl")
	src := fmt.Sprintf(`gateway {
  plugin_dir = %q
  lock_file  = %q
  data_dir   = "data"
}

endpoint "caldav" "mail" {
  url      = %q
  username = %q
  password = %q
}

endpoint "dir-crm" "crm" {
  dir = "crm"
}

binding "alice" {
  mailbox  = %q
  crm_user = "alice@example.com"
}

policy "contact" {
  tracking {
    mode = "all"
  }
}

policy "appointment" {
  tracking {
    mode = "all"
  }
}

policy "service_appointment" {
  on_blocked = "report"
}
`, pluginDir, lockFile, dav.URL+"/", dav.User, dav.Password, dav.User)
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	crm, err := dirconnector.Open(filepath.Join(dir, "crm"))
	if err != nil {
		t.Fatal(err)
	}
	return &e2e{t: t, dav: dav, crm: crm, gateway: testplugins.Syncgate(t), cfg: cfg}
}

var summaryRE = regexp.MustCompile(`(\d+) collected, (\d+) created, (\d+) updated, (\d+) deleted, (\d+) blocked, (\d+) conflicts, (\d+) errors`)

// cycle runs `syncgate run --once` and returns its counts by name.
func (e *e2e) cycle() map[string]int {
	e.t.Helper()
	counts, _ := e.cycleOut()
	return counts
}

func (e *e2e) cycleOut() (map[string]int, string) {
	e.t.Helper()
	cmd := exec.Command(e.gateway, "run", "--once", "-config", e.cfg)
	cmd.Dir = filepath.Dir(e.cfg)
	out, err := cmd.CombinedOutput()
	m := summaryRE.FindStringSubmatch(string(out))
	if err != nil || m == nil {
		e.t.Fatalf("syncgate run --once: %v\n%s", err, out)
	}
	counts := map[string]int{}
	for i, name := range []string{"collected", "created", "updated", "deleted", "blocked", "conflicts", "errors"} {
		counts[name], _ = strconv.Atoi(m[i+1])
	}
	if counts["errors"] != 0 {
		e.t.Fatalf("syncgate run --once reports errors:\n%s", out)
	}
	return counts, string(out)
}

// davItems lists the account's items of entity through the connector's
// own view of the server: the raw calendar and vCard text by href.
func (e *e2e) davItems(coll string) map[string]string {
	e.t.Helper()
	items, err := e.dav.Items(context.Background(), coll)
	if err != nil {
		e.t.Fatal(err)
	}
	return items
}

func (e *e2e) crmItems(entity string) []dirconnector.Item {
	e.t.Helper()
	items, err := e.crm.List("", entity)
	if err != nil {
		e.t.Fatal(err)
	}
	return items
}

// TestEndToEndRadicale runs the gateway with the caldav plugin against
// Radicale and dir-crm: contacts and appointments both ways, a service
// appointment written to the calendar whose mailbox-side edit is blocked,
// and a sync token that the server forgets mid-run, after which the feed
// is enumerated again without duplicating anything.
func TestEndToEndRadicale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway and two plugins")
	}
	t.Parallel()
	e := newE2E(t)
	ctx := context.Background()
	start := time.Date(2030, 5, 6, 9, 0, 0, 0, time.UTC)
	// The CRM side: a contact, a weekly series with a moved and a cancelled
	// occurrence, and a service appointment booking alice.
	if _, err := e.crm.Create("alice@example.com", "contact", "", sdk.Fields{"given_name": sdk.String("Grace"), "surname": sdk.String("Hopper"),
		"emails": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("grace@example.com"), "kind": sdk.String("work")}))}); err != nil {
		t.Fatal(err)
	}
	berlin := func(t time.Time) sdk.Value { return sdk.TimeIn(t, "Europe/Berlin") }
	series := sdk.Fields{"subject": sdk.String("Weekly review"), "start": berlin(start), "end": berlin(start.Add(time.Hour)), "all_day": sdk.Bool(false),
		"recurrence": sdk.Map(map[string]sdk.Value{"pattern": sdk.String("weekly"), "interval": sdk.Int(1), "days_of_week": sdk.Strings("monday"),
			"range": sdk.String("numbered"), "count": sdk.Int(10), "start_date": sdk.String("2030-05-06"), "zone": sdk.String("Europe/Berlin"),
			"cancelled": sdk.List(berlin(start.AddDate(0, 0, 14))),
			"exceptions": sdk.List(sdk.Map(map[string]sdk.Value{"original_start": berlin(start.AddDate(0, 0, 7)),
				"start": berlin(start.AddDate(0, 0, 8)), "end": berlin(start.AddDate(0, 0, 8).Add(time.Hour)), "subject": sdk.String("Review (moved)")}))})}
	if _, err := e.crm.Create("alice@example.com", "appointment", "", series); err != nil {
		t.Fatal(err)
	}
	sa, err := e.crm.Create("agent@example.com", "service_appointment", "", sdk.Fields{"subject": sdk.String("Boiler repair"),
		"start": berlin(start.Add(48 * time.Hour)), "end": berlin(start.Add(50 * time.Hour)), "service": sdk.String("Repair"),
		"resources": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("alice@example.com"), "role": sdk.String("resource")}))})
	if err != nil {
		t.Fatal(err)
	}
	// The mailbox side: a contact and an appointment made in a client.
	b := davtest.NewBackend(e.dav, nil)
	mContact, err := b.CreateOutOfBand(ctx, "contact", sdk.Fields{"given_name": sdk.String("Alan"), "surname": sdk.String("Turing"), "display_name": sdk.String("Alan Turing"),
		"emails": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("alan@example.com"), "kind": sdk.String("work")}))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateOutOfBand(ctx, "appointment", sdk.Fields{"subject": sdk.String("Lunch with Alan"),
		"start": berlin(start.Add(3 * time.Hour)), "end": berlin(start.Add(4 * time.Hour))}); err != nil {
		t.Fatal(err)
	}

	c := e.cycle()
	if c["created"] != 5 {
		t.Errorf("first cycle created %d items, want 5 (two contacts, two appointments, one service appointment): %v", c["created"], c)
	}
	cards := e.davItems(e.dav.Contacts)
	events := e.davItems(e.dav.Calendar)
	if len(cards) != 2 || len(events) != 3 {
		t.Fatalf("Radicale holds %d cards and %d events, want 2 and 3", len(cards), len(events))
	}
	var seriesText, saHref string
	for href, text := range events {
		if strings.Contains(text, "Weekly review") {
			seriesText = text
		}
		if strings.Contains(text, "X-SYNCGATE-ENTITY:service_appointment") {
			saHref = href
		}
	}
	for _, want := range []string{"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10", "EXDATE;TZID=Europe/Berlin:20300520T110000",
		"RECURRENCE-ID;TZID=Europe/Berlin:20300513T110000", "SUMMARY:Review (moved)", "BEGIN:VTIMEZONE", "X-SYNCGATE-ID:"} {
		if !strings.Contains(seriesText, want) {
			t.Errorf("the series in Radicale lacks %q:\n%s", want, seriesText)
		}
	}
	if saHref == "" {
		t.Fatalf("no service appointment in Radicale: %v", events)
	}
	if n := len(e.crmItems("contact")); n != 2 {
		t.Errorf("the CRM has %d contacts, want 2", n)
	}
	crmAppts := e.crmItems("appointment")
	if len(crmAppts) != 2 {
		t.Fatalf("the CRM has %d appointments, want 2", len(crmAppts))
	}
	for _, it := range crmAppts {
		if it.Fields["subject"].Str() == "Weekly review" {
			if rec := it.Fields["recurrence"]; !rec.Equal(series["recurrence"]) {
				t.Errorf("the series came back changed:\n got %v\nwant %v", rec, series["recurrence"])
			}
		}
	}
	if c := e.cycle(); c["created"]+c["updated"] != 0 {
		t.Errorf("a second cycle with nothing changed wrote %v", c)
	}

	// In one cycle: a mailbox edit of the service appointment, which is
	// blocked, and a contact edited on each side, which both flow.
	saText := events[saHref]
	put(t, e.dav, saHref, strings.Replace(saText, "SUMMARY:Boiler repair", "SUMMARY:Boiler repair (moved by alice)", 1), "text/calendar")
	cards = e.davItems(e.dav.Contacts)
	put(t, e.dav, mContact, strings.Replace(cards[mContact], "FN:Alan Turing", "FN:Alan M. Turing", 1), "text/vcard")
	for _, it := range e.crmItems("contact") {
		if it.Fields["surname"].Str() == "Hopper" {
			f := sdk.Fields{"job_title": sdk.String("Rear Admiral")}
			if _, err := e.crm.Update(it.Owner, "contact", it.ID, it.Version, f); err != nil {
				t.Fatal(err)
			}
		}
	}
	if c := e.cycle(); c["blocked"] != 1 || c["updated"] != 2 {
		t.Errorf("a service appointment edited in the mailbox and a contact edited on each side: %v, want 1 blocked and 2 updated", c)
	}
	if got, _ := e.crm.Get("agent@example.com", "service_appointment", sa.ID); got.Fields["subject"].Str() != "Boiler repair" {
		t.Errorf("the CRM's service appointment became %q", got.Fields["subject"].Str())
	}
	if !strings.Contains(strings.Join(values(e.davItems(e.dav.Contacts)), ""), "TITLE:Rear Admiral") {
		t.Error("the CRM's edit did not reach the address book")
	}
	if !hasField(e.crmItems("contact"), "display_name", "Alan M. Turing") {
		t.Error("the address book's edit did not reach the CRM")
	}

	// Radicale forgets its sync tokens while a mailbox edit waits: the
	// feed is enumerated again, the edit arrives, nothing is duplicated.
	cards = e.davItems(e.dav.Contacts)
	put(t, e.dav, mContact, strings.Replace(cards[mContact], "FN:Alan M. Turing", "FN:Alan Mathison Turing", 1), "text/vcard")
	if err := e.dav.ExpireSyncTokens(); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	for i := 0; i < 3 && !hasField(e.crmItems("contact"), "display_name", "Alan Mathison Turing"); i++ {
		c, out := e.cycleOut()
		logs.WriteString(out)
		if c["created"] != 0 {
			t.Errorf("the resync created %d items", c["created"])
		}
	}
	if !strings.Contains(logs.String(), "resync") {
		t.Errorf("the gateway did not report a resync after the server forgot its tokens:\n%s", logs.String())
	}
	if !hasField(e.crmItems("contact"), "display_name", "Alan Mathison Turing") {
		t.Error("the edit made before the resync did not reach the CRM")
	}
	if n, m := len(e.crmItems("contact")), len(e.davItems(e.dav.Contacts)); n != 2 || m != 2 {
		t.Errorf("after the resync: %d CRM contacts and %d cards, want 2 and 2", n, m)
	}
	if n, m := len(e.crmItems("appointment")), len(e.davItems(e.dav.Calendar)); n != 2 || m != 3 {
		t.Errorf("after the resync: %d CRM appointments and %d events, want 2 and 3", n, m)
	}
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func hasField(items []dirconnector.Item, field, want string) bool {
	for _, it := range items {
		if it.Fields[field].Str() == want {
			return true
		}
	}
	return false
}

func put(t *testing.T, s *davtest.Server, href, body, ctype string) {
	t.Helper()
	if _, _, err := s.Do(context.Background(), http.MethodPut, href, body, map[string]string{"Content-Type": ctype + "; charset=utf-8"}); err != nil {
		t.Fatal(err)
	}
}
