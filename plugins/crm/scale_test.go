package crm_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/plugins/crm/dataverseemu"
	"github.com/syncgate/syncgate/sdk"
)

var feeds = []string{"contact", "appointment", "task", "service_appointment"}

// drain reads a feed from cursor to the end of its round, retrying
// throttled and retryable pages from where they stood, as the engine does.
func drain(t *testing.T, c sdk.Syncer, feed string, cursor sdk.Cursor) ([]sdk.ChangeRecord, sdk.Cursor, error) {
	t.Helper()
	req := sdk.SyncDataRequest{Feed: sdk.Feed{Name: feed}, Cursor: cursor, Max: 200}
	var recs []sdk.ChangeRecord
	var last sdk.Cursor
	for tries := 0; tries < 10000; tries++ {
		page, err := c.GetSyncData(t.Context(), req)
		if sdk.IsKind(err, sdk.ErrThrottled) || sdk.IsKind(err, sdk.ErrRetryable) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, page.Records...)
		if page.Cursor != nil {
			last = page.Cursor
		}
		if len(page.NextPageToken) == 0 {
			return recs, last, nil
		}
		req.PageToken = page.NextPageToken
	}
	t.Fatalf("feed %s: no end after 10000 pages", feed)
	return nil, nil, nil
}

// TestIdlePollCost: with 50 bound users, one poll of an org where nothing
// changed costs one request per table, whatever the number of bindings.
func TestIdlePollCost(t *testing.T) {
	var users []string
	for i := range 50 {
		users = append(users, fmt.Sprintf("user%02d@contoso.com", i))
	}
	o := newOrg(t, dataverseemu.Options{Users: users, Seed: true})
	res, err := o.c.Check(t.Context(), users)
	if err != nil || res.Diagnostics.HasErrors() || len(res.Scopes) != 50 {
		t.Fatalf("Check: %v %v", err, res.Diagnostics.Err())
	}
	for _, s := range res.Scopes {
		if len(s.RoutingKeys) == 0 || s.RoutingKeys[0] != o.emu.UserID(s.Scope) {
			t.Fatalf("scope %s resolved to %v, want its systemuserid first", s.Scope, s.RoutingKeys)
		}
	}
	cursors := map[string]sdk.Cursor{}
	for _, feed := range feeds {
		_, cur, err := drain(t, o.c, feed, nil)
		if err != nil {
			t.Fatal(err)
		}
		cursors[feed] = cur
	}
	before := total(o.emu.Counters())
	for _, feed := range feeds {
		p, err := o.c.PrepareSync(t.Context(), sdk.Feed{Name: feed}, cursors[feed])
		if err != nil {
			t.Fatal(err)
		}
		if p.Nothing() {
			continue
		}
		recs, _, err := drain(t, o.c, feed, cursors[feed])
		if err != nil || len(recs) != 0 {
			t.Fatalf("idle %s poll: %d records, %v", feed, len(recs), err)
		}
	}
	after := o.emu.Counters()
	// contact, appointment and its series masters, task, service appointment
	if n := total(after) - before; n != 5 {
		t.Errorf("an idle poll cost %d requests, want 5 (one per table): %v", n, after.Requests)
	}
}

func total(c dataverseemu.Counters) int {
	n := 0
	for _, v := range c.Requests {
		n += v
	}
	return n
}

// TestThousandContactsUnderThrottling creates 1,000 contacts while a fifth
// of all requests are throttled, the bearer tokens are revoked and the
// change-tracking tokens expire halfway, retrying as the engine does (a
// create retried with MayExist), and then reads the org back: every
// contact exactly once.
func TestThousandContactsUnderThrottling(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 creates")
	}
	o := newOrg(t, dataverseemu.Options{RetryAfter: time.Second})
	_, cursor, err := drain(t, o.c, "contact", nil)
	if err != nil {
		t.Fatal(err)
	}
	o.emu.SetFaults(dataverseemu.Faults{ThrottleShare: 0.2})
	const n = 1000
	pending := map[string]bool{}
	for i := range n {
		pending[fmt.Sprintf("sg-%04d", i)] = true
	}
	tried := map[string]bool{}
	throttled, expired := 0, false
	for round := 0; len(pending) > 0; round++ {
		if round > 5000 {
			t.Fatalf("%d contacts still not created after 5000 rounds", len(pending))
		}
		var ops []sdk.Op
		for key := range pending {
			ops = append(ops, sdk.Op{Kind: sdk.OpCreate, CorrelationKey: key, MayExist: tried[key],
				Fields: sdk.Fields{"given_name": sdk.String("C"), "surname": sdk.String(key)}})
			if len(ops) == 50 {
				break
			}
		}
		res, err := o.c.Apply(t.Context(), alice, "contact", ops)
		if sdk.IsKind(err, sdk.ErrThrottled) { // resolving alice, the first time
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			key := ops[i].CorrelationKey
			tried[key] = true
			switch {
			case r.Err == nil:
				delete(pending, key)
			case r.Err.Kind == sdk.ErrThrottled:
				throttled++
				if r.Err.RetryAfter != time.Second || r.Err.ThrottleScope != sdk.ThrottleScopeWide {
					t.Fatalf("throttled for %s (%s), want 1s for the user", r.Err.RetryAfter, r.Err.ThrottleScope)
				}
			default:
				t.Fatalf("create %s: %v", key, r.Err)
			}
		}
		if len(pending) <= n/2 && !expired {
			o.emu.ExpireAccessTokens()
			o.emu.ExpireTokens()
			expired = true
		}
	}
	if throttled == 0 {
		t.Fatal("no request was throttled: the fault injection did not work")
	}
	_, _, err = drain(t, o.c, "contact", cursor)
	if !sdk.IsKind(err, sdk.ErrResyncRequired) {
		t.Fatalf("reading from the expired cursor: %v, want resync_required", err)
	}
	recs, _, err := drain(t, o.c, "contact", nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, keys := map[string]bool{}, map[string]int{}
	for _, r := range recs {
		ids[r.ID] = true
		keys[r.CorrelationKey]++
	}
	if len(ids) != n || len(keys) != n {
		t.Fatalf("the org holds %d contacts with %d syncgate ids, want %d of each", len(ids), len(keys), n)
	}
	for k, c := range keys {
		if c != 1 || !strings.HasPrefix(k, "sg-") {
			t.Fatalf("syncgate id %q on %d contacts", k, c)
		}
	}
	t.Logf("%d ops held back by throttling and retried", throttled)
}

// TestPartyBatching: the parties that route appointments are read for the
// changed rows only, 40 activities per request, and give each record the
// users and addresses it concerns.
func TestPartyBatching(t *testing.T) {
	o := newOrg(t, dataverseemu.Options{Users: []string{alice, "bob@contoso.com"}})
	_, cursor, err := drain(t, o.c, "appointment", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ops []sdk.Op
	for i := range 100 {
		ops = append(ops, sdk.Op{Kind: sdk.OpCreate, CorrelationKey: fmt.Sprint("a", i), Fields: sdk.Fields{
			"subject":   sdk.String(fmt.Sprint("meeting ", i)),
			"start":     sdk.Time(time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)),
			"end":       sdk.Time(time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)),
			"attendees": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("bob@contoso.com"), "role": sdk.String("optional")})),
		}})
	}
	res, err := o.c.Apply(t.Context(), alice, "appointment", ops)
	if err != nil || res[99].Err != nil {
		t.Fatalf("%v %v", err, res[99].Err)
	}
	before := o.emu.Counters().Requests
	recs, _, err := drain(t, o.c, "appointment", cursor)
	if err != nil {
		t.Fatal(err)
	}
	after := o.emu.Counters().Requests
	if len(recs) != 100 {
		t.Fatalf("%d records, want 100", len(recs))
	}
	// 100 rows in pages of 200: one page, three party queries (40+40+20).
	if n := after["GET /activityparties"] - before["GET /activityparties"]; n != 3 {
		t.Errorf("%d party queries for 100 changed appointments, want 3: %v", n, after)
	}
	aliceID := o.emu.UserID(alice)
	for _, r := range recs {
		if !slices.Contains(r.RoutingKeys, aliceID) || !slices.Contains(r.RoutingKeys, "bob@contoso.com") {
			t.Fatalf("record %s routes to %v; want its owner alice and its attendee bob", r.ID, r.RoutingKeys)
		}
	}
}

// TestOwnerChangeReroutes: a record given to another owner routes to the
// new owner alone, so that the gateway sees a scope exit for the old one,
// not a delete.
func TestOwnerChangeReroutes(t *testing.T) {
	o := newOrg(t, dataverseemu.Options{Users: []string{alice, "bob@contoso.com"}})
	b := &backend{t: t, org: o, user: o.emu.UserID(alice)}
	id, err := b.CreateOutOfBand(t.Context(), "contact", b.Sample("contact", 1))
	if err != nil {
		t.Fatal(err)
	}
	_, cursor, err := drain(t, o.c, "contact", nil)
	if err != nil {
		t.Fatal(err)
	}
	bob := o.emu.UserID("bob@contoso.com")
	if err := b.call(t.Context(), "PATCH", "contacts("+id+")", map[string]any{"ownerid@odata.bind": "/systemusers(" + bob + ")"}, nil); err != nil {
		t.Fatal(err)
	}
	recs, _, err := drain(t, o.c, "contact", cursor)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Kind != sdk.ChangeUpsert || !slices.Contains(recs[0].RoutingKeys, bob) || slices.Contains(recs[0].RoutingKeys, b.user) {
		t.Fatalf("after the owner change: %+v; want one upsert routed to bob and not to alice", recs)
	}
}

// TestSeries: an appointment with a recurrence is a series master; the
// expanded occurrences are not synced as appointments of their own.
func TestSeries(t *testing.T) {
	o := newOrg(t, dataverseemu.Options{})
	_, cursor, err := drain(t, o.c, "appointment", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := sdk.Map(map[string]sdk.Value{
		"pattern": sdk.String("weekly"), "interval": sdk.Int(1), "days_of_week": sdk.Strings("monday", "wednesday"),
		"range": sdk.String("numbered"), "count": sdk.Int(6), "start_date": sdk.String("2030-03-04"),
	})
	f := sdk.Fields{
		"subject": sdk.String("standup"), "recurrence": rec,
		"start": sdk.Time(time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)), "end": sdk.Time(time.Date(2030, 3, 4, 9, 15, 0, 0, time.UTC)),
		"attendees": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("guest@example.com"), "role": sdk.String("required"), "response": sdk.String("none")})),
	}
	res, err := o.c.Apply(t.Context(), alice, "appointment", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "series-1", Fields: f}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	id := res[0].ID
	if !strings.HasPrefix(id, "series:") {
		t.Fatalf("a series was created as %q, want a series: id", id)
	}
	got, err := o.c.Fetch(t.Context(), alice, "appointment", []string{id})
	if err != nil || got[0].Err != nil {
		t.Fatal(err, got[0].Err)
	}
	for k, v := range f {
		if !got[0].Record.Fields[k].Equal(v) {
			t.Errorf("%s: wrote %v, read %v", k, v, got[0].Record.Fields[k])
		}
	}
	b := &backend{t: t, org: o, user: o.emu.UserID(alice)}
	var instances struct {
		Value []map[string]any `json:"value"`
	}
	if err := b.call(t.Context(), "GET", "appointments?$select=activityid,seriesid", nil, &instances); err != nil || len(instances.Value) == 0 {
		t.Fatalf("the org expanded no occurrences (%v): the test would prove nothing", err)
	}
	recs, cursor, err := drain(t, o.c, "appointment", cursor)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ID != id || recs[0].CorrelationKey != "series-1" {
		t.Fatalf("the feed has %+v; want the series alone, not its %d occurrences", recs, len(instances.Value))
	}
	upd, err := o.c.Apply(t.Context(), alice, "appointment", []sdk.Op{{Kind: sdk.OpUpdate, ID: id, IfMatch: res[0].Version,
		Fields: sdk.Fields{"recurrence": sdk.Map(map[string]sdk.Value{"pattern": sdk.String("daily"), "interval": sdk.Int(1), "range": sdk.String("numbered"), "count": sdk.Int(3), "start_date": sdk.String("2030-03-04")})}}})
	if err != nil || upd[0].Err != nil {
		t.Fatal(err, upd[0].Err)
	}
	got, _ = o.c.Fetch(t.Context(), alice, "appointment", []string{id})
	if p := got[0].Record.Fields["recurrence"].MapVal()["pattern"].Str(); p != "daily" || got[0].Record.Fields["subject"].Str() != "standup" {
		t.Errorf("after a pattern update: %v", got[0].Record.Fields)
	}
	del, err := o.c.Apply(t.Context(), alice, "appointment", []sdk.Op{{Kind: sdk.OpDelete, ID: id, IfMatch: upd[0].Version}})
	if err != nil || del[0].Err != nil {
		t.Fatal(err, del[0].Err)
	}
	recs, _, err = drain(t, o.c, "appointment", cursor)
	if err != nil {
		t.Fatal(err)
	}
	deleted := false
	for _, r := range recs {
		if r.ID == id && r.Kind == sdk.ChangeDelete {
			deleted = true
		}
	}
	if !deleted {
		t.Errorf("no delete of %s in %+v", id, recs)
	}
	one, err := o.c.Apply(t.Context(), alice, "appointment", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "single", Fields: sdk.Fields{"subject": sdk.String("once")}}})
	if err != nil || one[0].Err != nil {
		t.Fatal(err, one[0].Err)
	}
	bad, _ := o.c.Apply(t.Context(), alice, "appointment", []sdk.Op{{Kind: sdk.OpUpdate, ID: one[0].ID, IfMatch: one[0].Version, Fields: sdk.Fields{"recurrence": rec}}})
	if bad[0].Err == nil || bad[0].Err.Kind != sdk.ErrPermanent || !strings.Contains(bad[0].Err.Message, "series") {
		t.Errorf("turning a single appointment into a series: %v, want a permanent error that says why", bad[0].Err)
	}
}

// TestConcurrencyCap: requests in flight for one user never exceed
// max_concurrent_per_user, however many calls the gateway makes at once.
func TestConcurrencyCap(t *testing.T) {
	o := newOrg(t, dataverseemu.Options{})
	cfg := orgConfig(o.srv.URL)
	cfg["max_concurrent_per_user"] = sdk.Float(3)
	if ds := o.c.Configure(t.Context(), sdk.Env{}, cfg); ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	res, err := o.c.Apply(t.Context(), alice, "contact", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "k", Fields: sdk.Fields{"surname": sdk.String("Cap")}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	o.emu.SetFaults(dataverseemu.Faults{Latency: 20 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			got, err := o.c.Fetch(t.Context(), alice, "contact", []string{res[0].ID})
			if err == nil && got[0].Err != nil {
				err = got[0].Err
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c := o.emu.Counters()
	if m := c.MaxConcurrent[alice]; m > 3 || m == 0 || c.Throttled != 0 {
		t.Errorf("%d requests in flight for alice at most, %d throttled; want at most 3 and none: %v", m, c.Throttled, c.MaxConcurrent)
	}
}

// TestCheckScopes: scopes resolve by address or by id to the user's id and
// address; an unknown one gets a diagnostic that says what to use.
func TestCheckScopes(t *testing.T) {
	o := newOrg(t, dataverseemu.Options{})
	id := o.emu.UserID(alice)
	res, err := o.c.Check(t.Context(), []string{"Alice@Contoso.com", id, "nobody@contoso.com"})
	if err != nil || res.Diagnostics.HasErrors() || len(res.Scopes) != 3 {
		t.Fatalf("%v %v %+v", err, res.Diagnostics.Err(), res.Scopes)
	}
	for _, s := range res.Scopes[:2] {
		if len(s.RoutingKeys) != 2 || s.RoutingKeys[0] != id || s.RoutingKeys[1] != alice || s.Diagnostics.HasErrors() {
			t.Errorf("scope %s: %+v", s.Scope, s)
		}
	}
	if d := res.Scopes[2].Diagnostics; !d.HasErrors() || !strings.Contains(d.Err().Error(), "nobody@contoso.com") {
		t.Errorf("unknown scope: %+v", res.Scopes[2])
	}
}

// TestSeriesException: an occurrence edited on its own in the CRM is a
// change of its series: the feed names the series, Fetch carries the
// exception, and the series' version moves, so that a write on the version
// from before is a conflict.
func TestSeriesException(t *testing.T) {
	o := newOrg(t, dataverseemu.Options{})
	start := time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)
	res, err := o.c.Apply(t.Context(), alice, "appointment", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "s", Fields: sdk.Fields{
		"subject": sdk.String("standup"), "location": sdk.String("Room 1"), "start": sdk.Time(start), "end": sdk.Time(start.Add(15 * time.Minute)),
		"recurrence": sdk.Map(map[string]sdk.Value{"pattern": sdk.String("daily"), "interval": sdk.Int(1), "range": sdk.String("numbered"),
			"count": sdk.Int(5), "start_date": sdk.String("2030-03-04")}),
	}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	id, v1 := res[0].ID, res[0].Version
	_, cursor, err := drain(t, o.c, "appointment", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{t: t, org: o, user: o.emu.UserID(alice)}
	var occ struct {
		Value []map[string]any `json:"value"`
	}
	master := strings.TrimPrefix(id, "series:")
	if err := b.call(t.Context(), "GET", "appointments?$select=activityid,scheduledstart&$filter=seriesid%20eq%20"+master, nil, &occ); err != nil || len(occ.Value) != 5 {
		t.Fatalf("occurrences: %v %v", err, occ.Value)
	}
	var third map[string]any
	for _, r := range occ.Value {
		if r["scheduledstart"] == "2030-03-06T09:00:00Z" {
			third = r
		}
	}
	if third == nil {
		t.Fatalf("no occurrence on 6 March: %v", occ.Value)
	}
	moved := time.Date(2030, 3, 6, 14, 0, 0, 0, time.UTC)
	if err := b.call(t.Context(), "PATCH", "appointments("+third["activityid"].(string)+")", map[string]any{
		"subject": "standup (moved)", "scheduledstart": moved.Format(time.RFC3339), "scheduledend": moved.Add(15 * time.Minute).Format(time.RFC3339)}, nil); err != nil {
		t.Fatal(err)
	}
	recs, _, err := drain(t, o.c, "appointment", cursor)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ID != id || recs[0].Kind != sdk.ChangeUpsert || !slices.Contains(recs[0].RoutingKeys, b.user) {
		t.Fatalf("after an occurrence was edited the feed has %+v; want one upsert of the series %s, routed to alice", recs, id)
	}
	got, err := o.c.Fetch(t.Context(), alice, "appointment", []string{id})
	if err != nil || got[0].Err != nil {
		t.Fatal(err, got[0].Err)
	}
	exc := got[0].Record.Fields["recurrence"].MapVal()["exceptions"].ListVal()
	want := sdk.Map(map[string]sdk.Value{"original_start": sdk.Time(time.Date(2030, 3, 6, 9, 0, 0, 0, time.UTC)),
		"start": sdk.Time(moved), "end": sdk.Time(moved.Add(15 * time.Minute)), "subject": sdk.String("standup (moved)")})
	if len(exc) != 1 || !exc[0].Equal(want) {
		t.Errorf("exceptions %v, want [%v]", exc, want)
	}
	v2 := got[0].Record.Version
	if v2 == v1 || !strings.HasPrefix(v2, strings.SplitN(v1, ".", 2)[0]+".") {
		t.Errorf("version after the occurrence was edited: %q (was %q); want the series' row version and the exception's", v2, v1)
	}
	stale, _ := o.c.Apply(t.Context(), alice, "appointment", []sdk.Op{{Kind: sdk.OpUpdate, ID: id, IfMatch: v1, Fields: sdk.Fields{"location": sdk.String("Room 2")}}})
	if stale[0].Err == nil || stale[0].Err.Kind != sdk.ErrConflict || stale[0].Err.CurrentVersion != v2 {
		t.Errorf("an update on the version from before the edit: %+v, want a conflict naming %s", stale[0].Err, v2)
	}
	fresh, _ := o.c.Apply(t.Context(), alice, "appointment", []sdk.Op{{Kind: sdk.OpUpdate, ID: id, IfMatch: v2, Fields: sdk.Fields{"location": sdk.String("Room 2")}}})
	if fresh[0].Err != nil || fresh[0].Version == v2 {
		t.Errorf("an update on the current version: %+v", fresh[0])
	}
}

// TestFetchBatching: Fetch reads 40 rows to a query, and reads a row it did
// not find on its own, to tell gone from forbidden.
func TestFetchBatching(t *testing.T) {
	o := newOrg(t, dataverseemu.Options{})
	var ops []sdk.Op
	for i := range 101 {
		ops = append(ops, sdk.Op{Kind: sdk.OpCreate, CorrelationKey: fmt.Sprint("f", i), Fields: sdk.Fields{"surname": sdk.String(fmt.Sprint("S", i))}})
	}
	res, err := o.c.Apply(t.Context(), alice, "contact", ops)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		ids = append(ids, r.ID)
	}
	gone := ids[100]
	if del, _ := o.c.Apply(t.Context(), alice, "contact", []sdk.Op{{Kind: sdk.OpDelete, ID: gone, IfMatch: res[100].Version}}); del[0].Err != nil {
		t.Fatal(del[0].Err)
	}
	before := o.emu.Counters().Requests
	got, err := o.c.Fetch(t.Context(), alice, "contact", ids)
	if err != nil {
		t.Fatal(err)
	}
	after := o.emu.Counters().Requests
	for i, r := range got {
		switch {
		case i == 100 && (r.Err == nil || r.Err.Kind != sdk.ErrNotFound):
			t.Errorf("deleted contact: %+v", r)
		case i < 100 && (r.Err != nil || r.Record.Fields["surname"].Str() != fmt.Sprint("S", i)):
			t.Errorf("contact %d: %+v", i, r)
		}
	}
	if n, one := after["GET /contacts"]-before["GET /contacts"], after["GET /contacts({id})"]-before["GET /contacts({id})"]; n != 3 || one != 1 {
		t.Errorf("%d queries and %d single reads for 101 contacts, want 3 and 1: %v", n, one, after)
	}
}

// TestSeriesExceptionsWritten: a series created with exceptions has those
// occurrences moved and renamed, and reads back with them.
func TestSeriesExceptionsWritten(t *testing.T) {
	o := newOrg(t, dataverseemu.Options{})
	start := time.Date(2030, 3, 4, 9, 0, 0, 0, time.UTC)
	day := func(d, h int) time.Time { return time.Date(2030, 3, d, h, 0, 0, 0, time.UTC) }
	exc := []sdk.Value{
		sdk.Map(map[string]sdk.Value{"original_start": sdk.Time(day(5, 9)), "start": sdk.Time(day(5, 16)), "end": sdk.Time(day(5, 16).Add(15 * time.Minute)), "location": sdk.String("Room 9")}),
		sdk.Map(map[string]sdk.Value{"original_start": sdk.Time(day(7, 9)), "start": sdk.Time(day(7, 9)), "end": sdk.Time(day(7, 9).Add(15 * time.Minute)), "subject": sdk.String("retro")}),
	}
	rec := map[string]sdk.Value{"pattern": sdk.String("daily"), "interval": sdk.Int(1), "range": sdk.String("numbered"),
		"count": sdk.Int(5), "start_date": sdk.String("2030-03-04"), "exceptions": sdk.List(exc...)}
	res, err := o.c.Apply(t.Context(), alice, "appointment", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "s", Fields: sdk.Fields{
		"subject": sdk.String("standup"), "location": sdk.String("Room 1"), "start": sdk.Time(start), "end": sdk.Time(start.Add(15 * time.Minute)),
		"recurrence": sdk.Map(rec)}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	got, err := o.c.Fetch(t.Context(), alice, "appointment", []string{res[0].ID})
	if err != nil || got[0].Err != nil {
		t.Fatal(err, got[0].Err)
	}
	if got[0].Record.Version != res[0].Version || !strings.Contains(res[0].Version, ".") {
		t.Errorf("Fetch says version %q, Apply said %q; want the same, with the exceptions' part", got[0].Record.Version, res[0].Version)
	}
	read := got[0].Record.Fields["recurrence"].MapVal()["exceptions"].ListVal()
	if len(read) != 2 {
		t.Fatalf("exceptions read back: %v", read)
	}
	for _, w := range exc {
		if !slices.ContainsFunc(read, w.Equal) {
			t.Errorf("exception %v not read back among %v", w, read)
		}
	}
}

// TestServiceAppointmentRouting: a service appointment concerns its owner
// and each resource, bound to the user or by address, never its customers.
func TestServiceAppointmentRouting(t *testing.T) {
	bob, carol := "bob@contoso.com", "carol@contoso.com"
	o := newOrg(t, dataverseemu.Options{Users: []string{alice, bob, carol}})
	if res, err := o.c.Check(t.Context(), []string{alice, bob, carol}); err != nil || res.Diagnostics.HasErrors() {
		t.Fatal(err, res.Diagnostics.Err())
	}
	_, cursor, err := drain(t, o.c, "service_appointment", nil)
	if err != nil {
		t.Fatal(err)
	}
	party := func(a, role string) sdk.Value {
		return sdk.Map(map[string]sdk.Value{"address": sdk.String(a), "role": sdk.String(role)})
	}
	res, err := o.c.Apply(t.Context(), alice, "service_appointment", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "sa", Fields: sdk.Fields{
		"subject":   sdk.String("install"),
		"resources": sdk.List(party(bob, "resource"), party("van-7@contoso.com", "resource")),
		"customers": sdk.List(party(carol, "required")),
	}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	recs, _, err := drain(t, o.c, "service_appointment", cursor)
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v %+v", err, recs)
	}
	keys := recs[0].RoutingKeys
	for _, want := range []string{o.emu.UserID(alice), o.emu.UserID(bob), bob, "van-7@contoso.com"} {
		if !slices.Contains(keys, want) {
			t.Errorf("routing keys %v lack %s", keys, want)
		}
	}
	if slices.Contains(keys, carol) || slices.Contains(keys, o.emu.UserID(carol)) {
		t.Errorf("routing keys %v include the customer: a customer's calendar gets no copy", keys)
	}
}

// TestCheckIDColumn: an org without the syncgate id column is told to
// create it, table by table.
func TestCheckIDColumn(t *testing.T) {
	o := newOrg(t, dataverseemu.Options{IDColumn: "new_othercolumn"})
	res, err := o.c.Check(t.Context(), []string{alice})
	if err != nil {
		t.Fatal(err)
	}
	msg := res.Diagnostics.Err()
	if msg == nil || len(res.Diagnostics) != 5 || !strings.Contains(msg.Error(), "sg_syncgateid") || !strings.Contains(msg.Error(), "recurringappointmentmaster") {
		t.Errorf("Check against an org without the column: %v; want one error per table naming it", msg)
	}
	if len(res.Scopes) != 1 || len(res.Scopes[0].RoutingKeys) == 0 {
		t.Errorf("the scopes are still resolved: %+v", res.Scopes)
	}
}

// TestSeededOrg: every item of an org with demo data (contacts, meetings,
// a series, tasks, a service appointment per user) reads into the
// canonical schema.
func TestSeededOrg(t *testing.T) {
	o := newOrg(t, dataverseemu.Options{Users: []string{alice, "bob@contoso.com"}, Seed: true})
	for _, feed := range feeds {
		recs, _, err := drain(t, o.c, feed, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		if len(ids) == 0 {
			t.Errorf("the seeded org has no %s", feed)
			continue
		}
		got, err := o.c.Fetch(t.Context(), alice, feed, ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range got {
			if r.Err != nil {
				t.Errorf("%s %s: %v", feed, r.ID, r.Err)
				continue
			}
			if ds := sdk.Validate(feed, r.Record.Fields); ds.HasErrors() {
				t.Errorf("%s %s does not fit the canonical schema: %v", feed, r.ID, ds.Err())
			}
		}
	}
}
