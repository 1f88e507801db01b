package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

func TestContactsFlowBothWaysWithoutEchoes(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	crmAda := w.create(w.crm, alice, "contact", contact("Ada", "Lovelace"))
	w.create(w.mail, alice, "contact", contact("Grace", "Hopper"))
	w.sync()

	// Each side now has both, once; bob's mailbox has neither (alice owns them).
	if n := len(w.items(w.mail, alice, "contact")); n != 2 {
		t.Fatalf("alice's mailbox has %d contacts, want 2", n)
	}
	if n := len(w.items(w.crm, "", "contact")); n != 2 {
		t.Fatalf("the CRM has %d contacts, want 2", n)
	}
	if n := len(w.items(w.mail, bob, "contact")); n != 0 {
		t.Fatalf("bob's mailbox has %d contacts, want 0: the CRM feed was routed to the wrong binding", n)
	}
	mailAda := w.items(w.mail, alice, "contact")[1]
	if !mailAda.Fields["emails"].Equal(crmAda.Fields["emails"]) || mailAda.CorrelationKey == "" {
		t.Fatalf("mailbox copy %+v", mailAda)
	}
	c := w.counters("alice", "contact")
	if c.LastCycle.IsZero() {
		t.Fatal("no last cycle recorded")
	}
	if c.Created != 2 || c.Echoes != 2 {
		t.Fatalf("counters %+v: want 2 created and both writes' echoes recognised", c)
	}

	// A change on one side reaches the other; our write is not applied back.
	w.update(w.crm, "", "contact", crmAda, sdk.Fields{"job_title": sdk.String("Analyst")})
	w.sync()
	if got := w.items(w.mail, alice, "contact")[1].Fields["job_title"].Str(); got != "Analyst" {
		t.Fatalf("job title in the mailbox = %q", got)
	}
	versionAfter := w.items(w.crm, "", "contact")[1].Version
	w.sync()
	if v := w.items(w.crm, "", "contact")[1].Version; v != versionAfter {
		t.Fatalf("an idle sync rewrote the CRM record (version %s → %s)", versionAfter, v)
	}
	if c := w.counters("alice", "contact"); c.Updated != 1 {
		t.Fatalf("counters %+v: want exactly 1 update", c)
	}
	// The same story in the Prometheus counters.
	m := w.eng.opts.Metrics
	if n := testutil.ToFloat64(m.applied.WithLabelValues("crm", "contact", "updated")); n != 1 {
		t.Fatalf("syncgate_changes_processed_total{side=crm,outcome=updated} = %v, want 1", n)
	}
	if n := testutil.ToFloat64(m.collected.WithLabelValues("crm", "contact")); n < 2 {
		t.Fatalf("syncgate_changes_collected_total{side=crm} = %v", n)
	}
}

func TestServiceAppointmentNeverFlowsBack(t *testing.T) {
	for _, mode := range []string{"report", "revert", "ignore"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, `
policy "service_appointment" {
  on_blocked = "`+mode+`"
}`)
			sa := w.create(w.crm, "agent@example.com", "service_appointment", sdk.Fields{
				"subject":   sdk.String("Boiler repair"),
				"resources": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String(alice), "role": sdk.String("resource")}), sdk.Map(map[string]sdk.Value{"address": sdk.String(bob), "role": sdk.String("resource")})),
			})
			w.sync()
			aliceCopy := w.one(w.mail, alice, "service_appointment")
			w.one(w.mail, bob, "service_appointment")

			w.update(w.mail, alice, "service_appointment", aliceCopy, sdk.Fields{"subject": sdk.String("Let's skip it")})
			w.sync()
			if got := w.one(w.crm, "", "service_appointment").Fields["subject"].Str(); got != "Boiler repair" {
				t.Fatalf("the mailbox edit reached the CRM: %q", got)
			}
			c := w.counters("alice", "service_appointment")
			if c.Blocked != 1 {
				t.Fatalf("counters %+v: the blocked change was not counted", c)
			}
			mailSubject := w.one(w.mail, alice, "service_appointment").Fields["subject"].Str()
			var blocked int
			w.db.View(func(tx *store.Tx) error {
				return store.Scan(tx, store.BlockedPrefix("alice"), func(_ []byte, b *store.Blocked) bool {
					blocked++
					if b.Op != "update" || b.Rule == "" {
						t.Errorf("blocked entry %+v", b)
					}
					return true
				})
			})
			switch mode {
			case "revert":
				if mailSubject != "Boiler repair" || blocked != 1 {
					t.Fatalf("revert: mailbox subject %q, %d blocked entries", mailSubject, blocked)
				}
			case "report":
				if mailSubject != "Let's skip it" || blocked != 1 {
					t.Fatalf("report: mailbox subject %q, %d blocked entries", mailSubject, blocked)
				}
			case "ignore":
				if mailSubject != "Let's skip it" || blocked != 0 {
					t.Fatalf("ignore: mailbox subject %q, %d blocked entries", mailSubject, blocked)
				}
			}
			// The CRM stays the truth: its next change still reaches both.
			w.update(w.crm, "", "service_appointment", sa, sdk.Fields{"location": sdk.String("Basement")})
			w.sync()
			for _, who := range []string{alice, bob} {
				if got := w.one(w.mail, who, "service_appointment").Fields["location"].Str(); got != "Basement" {
					t.Fatalf("%s's copy has location %q", who, got)
				}
			}
		})
	}
}

func TestMeetingWithTwoBoundAttendeesStaysOneRecord(t *testing.T) {
	w := newWorld(t, "")
	attendees := sdk.List(
		sdk.Map(map[string]sdk.Value{"address": sdk.String(alice), "role": sdk.String("required")}),
		sdk.Map(map[string]sdk.Value{"address": sdk.String(bob), "role": sdk.String("required")}))
	w.create(w.crm, "carol@example.com", "appointment", sdk.Fields{"subject": sdk.String("Quarterly review"), "attendees": attendees, "ical_uid": sdk.String("uid-q1")})
	w.sync()
	aliceCopy := w.one(w.mail, alice, "appointment")
	w.one(w.mail, bob, "appointment")
	w.one(w.crm, "", "appointment")

	// Alice moves it: the CRM record follows, and so does bob's copy.
	w.update(w.mail, alice, "appointment", aliceCopy, sdk.Fields{"location": sdk.String("Room 4")})
	w.sync()
	if got := w.one(w.crm, "", "appointment").Fields["location"].Str(); got != "Room 4" {
		t.Fatalf("CRM location %q", got)
	}
	if got := w.one(w.mail, bob, "appointment").Fields["location"].Str(); got != "Room 4" {
		t.Fatalf("bob's copy did not follow alice's change: location %q", got)
	}
	w.one(w.crm, "", "appointment")
	w.one(w.mail, alice, "appointment")
}

func TestMeetingFromTwoMailboxesMatchedByUID(t *testing.T) {
	w := newWorld(t, `
policy "appointment" {
  tracking {
    mode = "all"
  }
}`)
	meeting := sdk.Fields{"subject": sdk.String("Design review"), "ical_uid": sdk.String("uid-77"),
		"attendees": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String(bob), "role": sdk.String("required")}))}
	w.create(w.mail, alice, "appointment", meeting)
	w.create(w.mail, bob, "appointment", meeting)
	w.sync()
	w.one(w.crm, "", "appointment") // one CRM appointment, not two
	w.one(w.mail, alice, "appointment")
	w.one(w.mail, bob, "appointment")
}

func TestDeletes(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	a := w.create(w.crm, alice, "contact", contact("Ada", "Lovelace"))
	w.create(w.crm, alice, "contact", contact("Bea", "Brown"))
	w.sync()
	// A CRM delete propagates (deletes from_crm defaults to propagate).
	if err := w.crm.Delete("", "contact", a.ID, ""); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if n := len(w.items(w.mail, alice, "contact")); n != 1 {
		t.Fatalf("alice's mailbox has %d contacts after a CRM delete, want 1", n)
	}
	// A mailbox delete only untracks (the manifest's and policy's default).
	bea := w.one(w.mail, alice, "contact")
	if err := w.mail.Delete(alice, "contact", bea.ID, ""); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if n := len(w.items(w.crm, "", "contact")); n != 1 {
		t.Fatalf("the CRM has %d contacts after a mailbox delete, want 1 (untrack)", n)
	}
	c := w.counters("alice", "contact")
	if c.Deleted != 1 || c.Untracked != 1 {
		t.Fatalf("counters %+v", c)
	}
	var tombstones int
	w.db.View(func(tx *store.Tx) error {
		return store.Scan(tx, store.TombstonePrefix(), func(_ []byte, _ *store.Tombstone) bool { tombstones++; return true })
	})
	if tombstones != 1 {
		t.Fatalf("%d tombstones, want 1", tombstones)
	}
}

func TestConflictPolicies(t *testing.T) {
	cases := []struct {
		policy           string
		wantTitle        string // job_title: changed on both sides
		wantDept, wantCo string // department changed in the mailbox only, company in the CRM only
	}{
		{"crm_wins", "CRM title", "", "CRM company"},
		{"mailbox_wins", "Mailbox title", "Mailbox dept", ""},
		{"newest_wins", "Mailbox title", "Mailbox dept", ""}, // the mailbox edit is made last
		{"merge", "Mailbox title", "Mailbox dept", "CRM company"},
	}
	for _, tc := range cases {
		t.Run(tc.policy, func(t *testing.T) {
			w := newWorld(t, `
policy "contact" {
  conflict = "`+tc.policy+`"
  tracking {
    mode = "all"
  }
}`)
			crmItem := w.create(w.crm, alice, "contact", contact("Ada", "Lovelace"))
			w.sync()
			mailItem := w.one(w.mail, alice, "contact")
			w.update(w.crm, "", "contact", crmItem, sdk.Fields{"job_title": sdk.String("CRM title"), "company": sdk.String("CRM company")})
			w.update(w.mail, alice, "contact", mailItem, sdk.Fields{"job_title": sdk.String("Mailbox title"), "department": sdk.String("Mailbox dept")})
			w.sync()
			crmNow, mailNow := w.one(w.crm, "", "contact").Fields, w.one(w.mail, alice, "contact").Fields
			for _, f := range []sdk.Fields{crmNow, mailNow} {
				if f["job_title"].Str() != tc.wantTitle || f["department"].Str() != tc.wantDept || f["company"].Str() != tc.wantCo {
					t.Fatalf("after the conflict: CRM %v\nmailbox %v\nwant title %q, department %q, company %q",
						crmNow, mailNow, tc.wantTitle, tc.wantDept, tc.wantCo)
				}
			}
			if c := w.counters("alice", "contact"); c.Conflicts != 1 {
				t.Fatalf("counters %+v: want one conflict", c)
			}
			var conflicts []store.Conflict
			w.db.View(func(tx *store.Tx) error {
				return store.Scan(tx, store.ConflictPrefix("alice"), func(_ []byte, c *store.Conflict) bool { conflicts = append(conflicts, *c); return true })
			})
			if len(conflicts) != 1 || conflicts[0].Policy != tc.policy || !slices.Contains(conflicts[0].Fields, "job_title") || !slices.Contains(conflicts[0].Against, "job_title") {
				t.Fatalf("conflicts recorded: %+v", conflicts)
			}
		})
	}
}

func TestUntrackedMailboxItemsStayHome(t *testing.T) {
	w := newWorld(t, "") // default tracking: the category "Tracked to CRM"
	w.create(w.mail, alice, "contact", contact("Private", "Person"))
	tracked := contact("Client", "Person")
	tracked["categories"] = sdk.Strings("Tracked to CRM")
	w.create(w.mail, alice, "contact", tracked)
	w.sync()
	if got := w.one(w.crm, "", "contact").Fields["given_name"].Str(); got != "Client" {
		t.Fatalf("the CRM got %q", got)
	}
	if c := w.counters("alice", "contact"); c.Untracked != 1 {
		t.Fatalf("counters %+v", c)
	}
}

func TestFirstSyncMatchesByNaturalKey(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	onCRM := contact("Ada", "Lovelace")
	onCRM["job_title"] = sdk.String("Analyst")
	w.create(w.crm, alice, "contact", onCRM)
	inMailbox := contact("Ada", "Lovelace") // same e-mail address
	inMailbox["emails"] = sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("ADA@customer.example")}))
	w.create(w.mail, alice, "contact", inMailbox)
	w.sync()
	crmNow, mailNow := w.one(w.crm, "", "contact"), w.one(w.mail, alice, "contact")
	if mailNow.Fields["job_title"].Str() != "Analyst" {
		t.Fatalf("the linked copies were not reconciled: mailbox %v", mailNow.Fields)
	}
	var corrs int
	w.db.View(func(tx *store.Tx) error {
		return store.Scan(tx, []byte("c\x00\x00"), func(_ []byte, c *store.Correlation) bool {
			corrs++
			if c.CRM == nil || c.CRM.Ref.ID != crmNow.ID || c.MailboxCopy("alice") == nil || c.MailboxCopy("alice").Ref.ID != mailNow.ID {
				t.Errorf("correlation %+v does not pair the two copies", c)
			}
			return true
		})
	})
	if corrs != 1 {
		t.Fatalf("%d correlations, want 1", corrs)
	}
}

// TestRunPicksUpChangesOnItsOwn runs the long-lived loop (timer heap,
// collector, processor) and makes changes on both sides while it runs.
func TestRunPicksUpChangesOnItsOwn(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	for _, f := range w.eng.feeds {
		f.interval = 50 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.eng.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	w.create(w.crm, alice, "contact", contact("Ada", "Lovelace"))
	waitFor("the CRM contact in the mailbox", func() bool { return len(w.items(w.mail, alice, "contact")) == 1 })
	w.create(w.mail, alice, "contact", contact("Grace", "Hopper"))
	waitFor("the mailbox contact in the CRM", func() bool { return len(w.items(w.crm, "", "contact")) == 2 })
	// The feeds' own reports of our writes are echoes: nothing more happens.
	time.Sleep(300 * time.Millisecond)
	if n := len(w.items(w.crm, "", "contact")); n != 2 {
		t.Fatalf("the CRM has %d contacts", n)
	}
	if n := len(w.items(w.mail, alice, "contact")); n != 2 {
		t.Fatalf("the mailbox has %d contacts", n)
	}
}

func TestMassDeleteGuard(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	var ids []string
	for i := 0; i < 10; i++ {
		ids = append(ids, w.create(w.crm, alice, "contact", contact(fmt.Sprintf("P%d", i), "Person")).ID)
	}
	w.create(w.crm, bob, "contact", contact("Bob's", "Contact"))
	w.sync()
	for _, id := range ids[:6] {
		if err := w.crm.Delete("", "contact", id, ""); err != nil {
			t.Fatal(err)
		}
	}
	w.sync()
	if n := len(w.items(w.mail, alice, "contact")); n != 10 {
		t.Fatalf("alice's mailbox has %d contacts: the mass delete went through", n)
	}
	var st store.BindingState
	w.db.View(func(tx *store.Tx) (err error) { st, err = tx.BindingState("alice"); return err })
	if !st.Paused || !strings.Contains(st.PausedReason, "6 of 10 contact items") || !strings.Contains(st.PausedReason, "syncgate resume alice --allow-deletes") {
		t.Fatalf("binding state %+v", st)
	}
	// Other bindings go on.
	w.create(w.crm, bob, "contact", contact("Another", "One"))
	w.sync()
	if n := len(w.items(w.mail, bob, "contact")); n != 2 {
		t.Fatalf("bob's mailbox has %d contacts: one paused binding held back another", n)
	}
	// A restart keeps the pause.
	w.newEngine(nil)
	w.sync()
	if n := len(w.items(w.mail, alice, "contact")); n != 10 {
		t.Fatalf("after a restart alice's mailbox has %d contacts", n)
	}
	if err := w.eng.Resume("alice", AllowDeletes); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if n := len(w.items(w.mail, alice, "contact")); n != 4 {
		t.Fatalf("after resume --allow-deletes alice's mailbox has %d contacts, want 4", n)
	}
}

// TestCursorResetHoldsInferredDeletes: a CRM that forgot its change history
// (a cursor reset) is read again in full; the contacts it no longer lists
// were deleted while nobody could tell, so their deletes are queued but held
// with the binding paused, and a plain resume is refused.
func TestCursorResetHoldsInferredDeletes(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	var ids []string
	for i := 0; i < 6; i++ {
		ids = append(ids, w.create(w.crm, alice, "contact", contact(fmt.Sprintf("P%d", i), "Person")).ID)
	}
	w.sync()
	// Two contacts vanish without a journal entry, and the history goes.
	for _, id := range ids[:2] {
		if err := os.Remove(filepath.Join(w.crm.Dir(), "items", alice, "contact", id+".json")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.crm.Rotate(); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if n := len(w.items(w.mail, alice, "contact")); n != 6 {
		t.Fatalf("alice's mailbox has %d contacts: inferred deletes went through unconfirmed", n)
	}
	st := w.bindingState("alice")
	if !st.Paused || !st.Guarded || !strings.Contains(st.PausedReason, "cursor reset") ||
		!strings.Contains(st.PausedReason, "no longer lists 2 synced contact items") {
		t.Fatalf("binding state %+v", st)
	}
	if err := w.eng.Resume("alice", HoldDeletes); !errors.Is(err, ErrDeletesHeld) ||
		!strings.Contains(err.Error(), "--untrack-deletes") {
		t.Fatalf("plain resume of a guarded binding: %v", err)
	}
	// The operator keeps the mailbox's copies: the pairs end, nothing is deleted.
	if err := w.eng.Resume("alice", UntrackDeletes); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if n := len(w.items(w.mail, alice, "contact")); n != 6 {
		t.Fatalf("after resume --untrack-deletes alice's mailbox has %d contacts, want 6", n)
	}
	if c := w.counters("alice", "contact"); c.Untracked != 2 || c.Deleted != 0 {
		t.Fatalf("counters %+v", c)
	}
	if st := w.bindingState("alice"); st.Paused {
		t.Fatalf("still paused: %+v", st)
	}
}

// TestSideThatListsNothing: a CRM whose contacts are all gone at once, with
// its history, pauses the binding even though max_delete_share is 1; the
// operator confirms and the mailbox follows.
func TestSideThatListsNothing(t *testing.T) {
	w := newWorld(t, `
policy "contact" {
  direction = "bidirectional"
  tracking {
    mode = "all"
  }
  deletes {
    max_delete_share = 1
  }
}`)
	for i := 0; i < 3; i++ {
		w.create(w.crm, alice, "contact", contact(fmt.Sprintf("P%d", i), "Person"))
	}
	w.sync()
	if err := os.RemoveAll(filepath.Join(w.crm.Dir(), "items", alice, "contact")); err != nil {
		t.Fatal(err)
	}
	if err := w.crm.Rotate(); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if n := len(w.items(w.mail, alice, "contact")); n != 3 {
		t.Fatalf("alice's mailbox has %d contacts, want 3 held", n)
	}
	if st := w.bindingState("alice"); !st.Guarded || !strings.Contains(st.PausedReason, "suddenly lists no contact items at all, where 3 were synced") {
		t.Fatalf("binding state %+v", st)
	}
	if err := w.eng.Resume("alice", AllowDeletes); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if n := len(w.items(w.mail, alice, "contact")); n != 0 {
		t.Fatalf("after resume --allow-deletes alice's mailbox has %d contacts, want 0", n)
	}
}

func TestFewDeletesPassTheGuard(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	var ids []string
	for i := 0; i < 10; i++ {
		ids = append(ids, w.create(w.crm, alice, "contact", contact(fmt.Sprintf("P%d", i), "Person")).ID)
	}
	w.sync()
	for _, id := range ids[:5] { // exactly half: not more than max_delete_share
		w.crm.Delete("", "contact", id, "")
	}
	w.sync()
	if n := len(w.items(w.mail, alice, "contact")); n != 5 {
		t.Fatalf("alice's mailbox has %d contacts, want 5", n)
	}
}

// TestEditOutlivesDelete: an item deleted in the CRM while edited in the
// mailbox comes back in the CRM with the edit, whichever record the engine
// sees first.
func TestEditOutlivesDelete(t *testing.T) {
	for _, deleteFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete_first=%v", deleteFirst), func(t *testing.T) {
			w := newWorld(t, twoWayContacts)
			crmItem := w.create(w.crm, alice, "contact", contact("Ada", "Lovelace"))
			w.sync()
			w.update(w.mail, alice, "contact", w.one(w.mail, alice, "contact"), sdk.Fields{"job_title": sdk.String("Edited")})
			if err := w.crm.Delete("", "contact", crmItem.ID, ""); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if deleteFirst {
				for _, f := range w.eng.feeds {
					if f.side == store.SideCRM {
						if _, err := w.eng.collect(ctx, f); err != nil {
							t.Fatal(err)
						}
					}
				}
				if _, _, err := w.eng.drain(ctx); err != nil {
					t.Fatal(err)
				}
			}
			w.sync()
			back := w.one(w.crm, "", "contact")
			if back.ID == crmItem.ID || back.Fields["job_title"].Str() != "Edited" {
				t.Fatalf("the CRM holds %+v, want the edited item written again", back)
			}
			if got := w.one(w.mail, alice, "contact").Fields["job_title"].Str(); got != "Edited" {
				t.Fatalf("the mailbox copy lost its edit: %q", got)
			}
			w.sync() // and it stays that way: nothing left to do
			w.one(w.crm, "", "contact")
			w.one(w.mail, alice, "contact")
		})
	}
}

func TestDeadLetterRetryAndDrop(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	w.eng.opts.MaxAttempts = 1
	bad := w.create(w.crm, alice, "contact", sdk.Fields{"surname": sdk.String("Bad"), "shoe_size": sdk.Int(44)}) // not a canonical field
	w.create(w.crm, alice, "contact", sdk.Fields{"surname": sdk.String("Worse"), "hat_size": sdk.Int(7)})
	w.sync()
	if n := len(w.items(w.mail, alice, "contact")); n != 0 {
		t.Fatalf("%d invalid contacts reached the mailbox", n)
	}
	var dead []store.DeadLetter
	list := func() {
		dead = nil
		w.db.View(func(tx *store.Tx) error {
			return store.Scan(tx, store.DeadLetterPrefix("alice"), func(_ []byte, d *store.DeadLetter) bool { dead = append(dead, *d); return true })
		})
	}
	list()
	if len(dead) != 2 || !strings.Contains(dead[0].Error, "permanent") {
		t.Fatalf("dead letters %+v", dead)
	}
	if c := w.counters("alice", "contact"); c.Dead != 2 {
		t.Fatalf("counters %+v", c)
	}
	// The user fixes one item; retrying its dead letter delivers it.
	f := bad.Fields.Clone()
	delete(f, "shoe_size")
	w.crm.Update("", "contact", bad.ID, "", f)
	var fixed, other store.DeadLetter
	for _, d := range dead {
		if d.Change.Ref.ID == bad.ID {
			fixed = d
		} else {
			other = d
		}
	}
	if err := w.eng.RetryDeadLetter("alice", fixed.Change.Seq); err != nil {
		t.Fatal(err)
	}
	if err := w.eng.DropDeadLetter("alice", other.Change.Seq); err != nil {
		t.Fatal(err)
	}
	if err := w.eng.DropDeadLetter("alice", other.Change.Seq); err == nil || !strings.Contains(err.Error(), "no dead letter") {
		t.Fatalf("dropping twice: %v", err)
	}
	w.sync()
	if got := w.one(w.mail, alice, "contact").Fields["surname"].Str(); got != "Bad" {
		t.Fatalf("mailbox holds %q", got)
	}
	list()
	if len(dead) != 0 {
		t.Fatalf("dead letters left: %+v", dead)
	}
}

// TestPlanWritesNothing plans a cycle on a copy of the database: the plan
// lists the writes, and neither side nor the real database changes.
func TestPlanWritesNothing(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	w.create(w.crm, alice, "contact", contact("Ada", "Lovelace"))
	w.sync()
	w.create(w.crm, alice, "contact", contact("Bea", "Brown"))
	w.update(w.crm, "", "contact", w.items(w.crm, "", "contact")[1], sdk.Fields{"job_title": sdk.String("Analyst")})
	var backup bytes.Buffer
	if err := w.db.Backup(&backup); err != nil {
		t.Fatal(err)
	}
	copyDB, err := store.OpenCopy(&backup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	ops, eng, err := Plan(context.Background(), Options{Config: w.cfg, Conns: w.conn, DB: copyDB})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, op := range ops {
		kinds = append(kinds, fmt.Sprintf("%s %s %s", op.Endpoint, op.Op.Kind, op.Op.Fields["surname"].Str()))
	}
	sort.Strings(kinds)
	want := []string{"mail create Brown", "mail update "}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("planned %q, want %q", kinds, want)
	}
	if c := eng.Stats().Snapshot()["alice"]["contact"]; c.Created != 1 || c.Updated != 1 {
		t.Fatalf("plan counters %+v", c)
	}
	if n := len(w.items(w.mail, alice, "contact")); n != 1 {
		t.Fatalf("planning wrote to the mailbox: %d contacts", n)
	}
	// The real database still has everything to do.
	w.sync()
	if n := len(w.items(w.mail, alice, "contact")); n != 2 {
		t.Fatalf("after planning, the real sync left the mailbox with %d contacts", n)
	}
}

// TestResyncMatchesEverything: after a resync, the binding's items are
// enumerated again on both sides and matched: nothing is created twice, and
// a change made meanwhile arrives.
func TestResyncMatchesEverything(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	for i := 0; i < 5; i++ {
		w.create(w.crm, alice, "contact", contact(fmt.Sprintf("C%d", i), "CRM"))
		w.create(w.mail, alice, "contact", contact(fmt.Sprintf("M%d", i), "Mailbox"))
	}
	w.sync()
	if err := w.eng.Resync("alice"); err != nil {
		t.Fatal(err)
	}
	if err := w.eng.Resync("nobody"); err == nil {
		t.Fatal("resync of an unknown binding succeeded")
	}
	w.sync()
	if n, m := len(w.items(w.crm, "", "contact")), len(w.items(w.mail, alice, "contact")); n != 10 || m != 10 {
		t.Fatalf("after a resync: CRM %d, mailbox %d contacts; want 10 and 10", n, m)
	}
	if c := w.counters("alice", "contact"); c.Created != 10 {
		t.Fatalf("counters %+v: the resync created something", c)
	}
}

// TestDeleteReachesEveryCopy: a meeting with two bound attendees, deleted
// on one side, is deleted in every copy.
func TestDeleteReachesEveryCopy(t *testing.T) {
	for _, from := range []string{"crm", "mailbox"} {
		t.Run("deleted_in_"+from, func(t *testing.T) {
			w := newWorld(t, `
policy "appointment" {
  operation "delete" {
    direction = "bidirectional"
  }
  deletes {
    from_mailbox = "propagate"
  }
}`)
			attendees := sdk.List(
				sdk.Map(map[string]sdk.Value{"address": sdk.String(alice)}),
				sdk.Map(map[string]sdk.Value{"address": sdk.String(bob)}))
			meeting := w.create(w.crm, "carol@example.com", "appointment", sdk.Fields{"subject": sdk.String("Review"), "attendees": attendees, "ical_uid": sdk.String("uid-del")})
			w.sync()
			w.one(w.mail, alice, "appointment")
			w.one(w.mail, bob, "appointment")
			if from == "crm" {
				if err := w.crm.Delete("", "appointment", meeting.ID, ""); err != nil {
					t.Fatal(err)
				}
			} else if err := w.mail.Delete(alice, "appointment", w.one(w.mail, alice, "appointment").ID, ""); err != nil {
				t.Fatal(err)
			}
			w.sync()
			for _, who := range []string{alice, bob} {
				if n := len(w.items(w.mail, who, "appointment")); n != 0 {
					t.Errorf("%s still has %d copies of the deleted meeting", who, n)
				}
			}
			if n := len(w.items(w.crm, "", "appointment")); n != 0 {
				t.Errorf("the CRM still has the deleted meeting")
			}
			var corrs int
			w.db.View(func(tx *store.Tx) error {
				return store.Scan(tx, []byte("c\x00\x00"), func(_ []byte, c *store.Correlation) bool { corrs++; return true })
			})
			if corrs != 0 {
				t.Errorf("%d correlations left for a deleted item", corrs)
			}
		})
	}
}

func TestUndelete(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	a := w.create(w.crm, alice, "contact", contact("Ada", "Lovelace"))
	w.sync()
	w.update(w.crm, "", "contact", a, sdk.Fields{"job_title": sdk.String("Analyst")})
	w.sync()
	w.crm.Delete("", "contact", a.ID, "")
	w.sync()
	if n := len(w.items(w.mail, alice, "contact")); n != 0 {
		t.Fatalf("the delete did not propagate: %d", n)
	}
	ts, err := w.eng.Tombstones()
	if err != nil || len(ts) != 1 {
		t.Fatalf("tombstones %+v %v", ts, err)
	}
	if err := w.eng.Undelete(context.Background(), ts[0].Item.Item); err != nil {
		t.Fatal(err)
	}
	if err := w.eng.Undelete(context.Background(), ts[0].Item.Item); err == nil || !strings.Contains(err.Error(), "no tombstone") {
		t.Fatalf("a second undelete: %v", err)
	}
	w.sync() // the writes come back as echoes: nothing more happens
	crmNow, mailNow := w.one(w.crm, "", "contact"), w.one(w.mail, alice, "contact")
	for _, f := range []sdk.Fields{crmNow.Fields, mailNow.Fields} {
		if f["job_title"].Str() != "Analyst" || f["surname"].Str() != "Lovelace" {
			t.Fatalf("undeleted content %v", f)
		}
	}
	if crmNow.CorrelationKey != ts[0].Item.Item {
		t.Fatalf("the undeleted CRM record carries %q, want the item's id", crmNow.CorrelationKey)
	}
	// And it syncs on as before.
	w.update(w.crm, "", "contact", crmNow, sdk.Fields{"job_title": sdk.String("Director")})
	w.sync()
	if got := w.one(w.mail, alice, "contact").Fields["job_title"].Str(); got != "Director" {
		t.Fatalf("after undelete the item does not sync: %q", got)
	}
}

// throttling answers 429 to Apply for one scope until a moment, and records
// when each Apply came.
type throttling struct {
	Conn
	scope string
	wait  time.Duration // the Retry-After of the mailbox's first 429
	mu    sync.Mutex
	until time.Time // set by the first call: first + wait
	calls map[string][]time.Time
}

func (c *throttling) Apply(ctx context.Context, scope, entity string, ops []sdk.Op) ([]sdk.OpResult, error) {
	c.mu.Lock()
	now := time.Now()
	c.calls[scope] = append(c.calls[scope], now)
	if scope == c.scope && c.until.IsZero() {
		c.until = now.Add(c.wait)
	}
	throttled := scope == c.scope && now.Before(c.until)
	c.mu.Unlock()
	if throttled {
		out := make([]sdk.OpResult, len(ops))
		for i := range out {
			out[i].Err = sdk.Throttled(c.wait, sdk.ThrottleScopeWide, "mailbox %s is busy", scope)
		}
		return out, nil
	}
	return c.Conn.Apply(ctx, scope, entity, ops)
}

// TestThrottlingHoldsBackOnlyItsScope: alice's mailbox answers 429 for a
// while; bob's change goes through meanwhile, and alice's waits for the
// time the backend asked instead of retrying into it.
func TestThrottlingHoldsBackOnlyItsScope(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	// A long wait, counted from alice's first call: with one 429 holding
	// back every mailbox, bob's write could not come before it ends.
	th := &throttling{Conn: w.conn["mail"], scope: alice, wait: 2 * time.Second, calls: map[string][]time.Time{}}
	w.conn["mail"] = th
	w.newEngine(nil)
	w.create(w.crm, alice, "contact", contact("Ada", "Lovelace"))
	w.create(w.crm, bob, "contact", contact("Bob", "Builder"))
	w.sync()
	w.one(w.mail, alice, "contact")
	w.one(w.mail, bob, "contact")
	th.mu.Lock()
	defer th.mu.Unlock()
	if len(th.calls[bob]) != 1 || !th.calls[bob][0].Before(th.until) {
		t.Fatalf("bob's write came at %v, after alice's throttling ended at %v: one mailbox's 429 held back another", th.calls[bob], th.until)
	}
	if n := len(th.calls[alice]); n != 2 {
		t.Fatalf("alice's mailbox was called %d times, want 2: one 429, then one call after the wait", n)
	}
	if last := th.calls[alice][1]; last.Before(th.until) {
		t.Fatalf("alice's retry came at %v, before the retry-after at %v", last, th.until)
	}
}

// refusing is a CRM connector whose credentials are refused while refuse is
// set: every Apply answers an auth error.
type refusing struct {
	Conn
	refuse  atomic.Bool
	refused atomic.Int32
}

func (r *refusing) Apply(ctx context.Context, scope, entity string, ops []sdk.Op) ([]sdk.OpResult, error) {
	if r.refuse.Load() {
		r.refused.Add(1)
		return nil, sdk.NewError(sdk.ErrAuth, "AADSTS7000215: invalid client secret provided")
	}
	return r.Conn.Apply(ctx, scope, entity, ops)
}

// TestRefusedCredentialsHoldTheEndpoint: a connector that refuses its
// credentials holds its endpoint with the reason (no hammering, no dead
// letters), and the first call that works again releases it.
func TestRefusedCredentialsHoldTheEndpoint(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	r := &refusing{Conn: w.conn["crm"]}
	r.refuse.Store(true)
	w.conn["crm"] = r
	w.newEngine(nil)
	w.eng.opts.AuthRetry = 200 * time.Millisecond
	w.create(w.mail, alice, "contact", contact("Grace", "Hopper"))
	var heldWhy string
	go func() {
		for len(w.eng.HeldEndpoints()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		heldWhy = w.eng.HeldEndpoints()["crm"]
		time.Sleep(500 * time.Millisecond) // the operator fixes the secret
		r.refuse.Store(false)
	}()
	w.sync()
	if !strings.Contains(heldWhy, "invalid client secret") {
		t.Fatalf("held endpoints said %q", heldWhy)
	}
	if n := len(w.items(w.crm, "", "contact")); n != 1 {
		t.Fatalf("the CRM has %d contacts after the credentials work again, want 1", n)
	}
	if held := w.eng.HeldEndpoints(); len(held) != 0 {
		t.Fatalf("still held: %v", held)
	}
	// 500 ms held, tried again every 200 ms: a few calls, not a storm.
	if n := r.refused.Load(); n < 1 || n > 4 {
		t.Fatalf("%d refused calls while held", n)
	}
	var dead int
	w.db.View(func(tx *store.Tx) error { dead = tx.CountKeys(store.DeadLetterPrefix("alice")); return nil })
	if dead != 0 {
		t.Fatalf("%d dead letters: a refused credential is not the item's fault", dead)
	}
}

// TestTombstonesExpire: a propagated delete can be undone for the
// configured retention, and no longer after.
func TestTombstonesExpire(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	w.cfg.Gateway.TombstoneRetention = 48 * time.Hour
	w.newEngine(nil)
	a := w.create(w.crm, alice, "contact", contact("Ada", "Lovelace"))
	w.sync()
	w.crm.Delete("", "contact", a.ID, "")
	w.sync()
	ts, err := w.eng.Tombstones()
	if err != nil || len(ts) != 1 {
		t.Fatalf("tombstones %+v %v", ts, err)
	}
	if d := time.Until(ts[0].Expires); d < 47*time.Hour || d > 48*time.Hour {
		t.Fatalf("tombstone expires in %v, want 48h", d)
	}
	if n, err := w.eng.ExpireTombstones(time.Now().Add(47 * time.Hour)); n != 0 || err != nil {
		t.Fatalf("expired %d before the retention ended (%v)", n, err)
	}
	if n, err := w.eng.ExpireTombstones(time.Now().Add(49 * time.Hour)); n != 1 || err != nil {
		t.Fatalf("expired %d after the retention ended (%v)", n, err)
	}
	if err := w.eng.Undelete(context.Background(), ts[0].Item.Item); err == nil || !strings.Contains(err.Error(), "no tombstone") {
		t.Fatalf("undelete after expiry: %v", err)
	}
}

// watching is the example mailbox connector with a Watch stream: each
// value sent on poke becomes a hint for alice's feeds.
type watching struct {
	*dirconnector.Connector
	poke chan struct{}
}

func (c *watching) Watch(ctx context.Context, scope string, hints chan<- sdk.Hint) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.poke:
			hints <- sdk.Hint{Feed: sdk.Feed{Scope: alice}, Reason: "new mail"}
		}
	}
}

// TestWatchHintsCollectEarly: with a poll interval of an hour, a change
// reaches the other side as soon as the connector's Watch stream hints at
// it.
func TestWatchHintsCollectEarly(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	src, err := os.ReadFile(filepath.Join(testplugins.ModuleRoot(), testplugins.Connectors["dir-mailbox"], manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	wc := &watching{Connector: dirconnector.New(src), poke: make(chan struct{})}
	w.conn["mail"] = serve(t, wc, "mail", w.cfg.Endpoint("mail").Settings)
	w.newEngine(nil)
	for _, f := range w.eng.feeds {
		f.interval = time.Hour
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.eng.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(200 * time.Millisecond) // the first round, at start
	w.create(w.mail, alice, "contact", contact("Grace", "Hopper"))
	select {
	case wc.poke <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("the engine opened no Watch stream")
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(w.items(w.crm, "", "contact")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the hinted change did not reach the CRM")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// windowed lists only part of what the backend holds when it enumerates
// from no cursor, as a calendar's delta over a window does.
type windowed struct {
	Conn
	hidden string
}

func (c *windowed) GetSyncData(ctx context.Context, req sdk.SyncDataRequest) (sdk.SyncDataPage, error) {
	page, err := c.Conn.GetSyncData(ctx, req)
	if req.Cursor == nil {
		page.Records = slices.DeleteFunc(page.Records, func(r sdk.ChangeRecord) bool { return r.ID == c.hidden })
	}
	return page, err
}

// TestResetOfAWindowedFeedDeletesNothing: after a cursor reset, an item the
// re-enumeration does not list but that still exists (outside the window)
// is neither deleted nor held, and the binding goes on.
func TestResetOfAWindowedFeedDeletesNothing(t *testing.T) {
	w := newWorld(t, twoWayContacts)
	var ids []string
	for i := 0; i < 4; i++ {
		ids = append(ids, w.create(w.crm, alice, "contact", contact(fmt.Sprintf("P%d", i), "Person")).ID)
	}
	w.sync()
	w.conn["crm"] = &windowed{Conn: w.conn["crm"], hidden: ids[0]}
	w.newEngine(nil)
	if err := w.crm.Rotate(); err != nil {
		t.Fatal(err)
	}
	w.sync()
	if st := w.bindingState("alice"); st.Paused {
		t.Fatalf("paused for an item that still exists: %+v", st)
	}
	if n := len(w.items(w.mail, alice, "contact")); n != 4 {
		t.Fatalf("alice's mailbox has %d contacts, want 4", n)
	}
}
