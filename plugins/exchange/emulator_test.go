package exchange

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/plugins/exchange/graphemu"
	"github.com/syncgate/syncgate/sdk"
)

// hookServer stands in for the gateway's /hooks/<endpoint>: it hands each
// request to the connector's HandleWebhook and passes on the hints.
func hookServer(t *testing.T, c *Connector) (*httptest.Server, chan sdk.Hint) {
	hints := make(chan sdk.Hint, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		q := map[string]string{}
		for k, v := range r.URL.Query() {
			q[k] = v[0]
		}
		h := map[string]string{}
		for k := range r.Header {
			h[k] = r.Header.Get(k)
		}
		res, err := c.HandleWebhook(r.Context(), sdk.WebhookRequest{Method: r.Method, Path: r.URL.Path, Query: q, Headers: h, Body: body})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		for k, v := range res.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(res.Status)
		w.Write(res.Body)
		for _, hint := range res.Hints {
			hints <- hint
		}
	}))
	t.Cleanup(srv.Close)
	return srv, hints
}

func waitHint(t *testing.T, hints chan sdk.Hint, what string, ok func(sdk.Hint) bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case h := <-hints:
			if ok(h) {
				return
			}
		case <-timeout:
			t.Fatalf("no hint %s", what)
		}
	}
}

// TestNotificationsFromTheEmulator: reading a feed subscribes the mailbox
// through the emulator (which runs the validation handshake against the
// hook), a change made by the user comes back as a hint for that feed, and
// a "missed" lifecycle event as a resync hint.
func TestNotificationsFromTheEmulator(t *testing.T) {
	e := newEmulated(t, graphemu.Options{}, nil)
	hook, hints := hookServer(t, e.c)
	cfg := sdk.Fields{
		"tenant_id": sdk.String(testTenant), "client_id": sdk.String(graphemu.DefaultClientID),
		"client_secret": sdk.String(graphemu.DefaultClientSecret), "authority_url": sdk.String(e.srv.URL),
		"graph_url": sdk.String(e.srv.URL + "/v1.0"), "notification_url": sdk.String(hook.URL + "/hooks/exchange"),
	}
	kv := newMemKV()
	if ds := e.c.Configure(t.Context(), sdk.Env{Endpoint: "exchange", KV: kv}, cfg); ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	feed := sdk.Feed{Name: feedContacts, Scope: alice}
	drain(t, e.c, feed, nil, 50)
	subs, _ := kv.List(t.Context(), "subid/")
	if len(subs) != 1 {
		t.Fatalf("%d subscriptions kept after reading the feed", len(subs))
	}
	var subID string
	for k := range subs {
		subID = strings.TrimPrefix(k, "subid/")
	}
	b := &emuBackend{t: t, e: e}
	if _, err := b.CreateOutOfBand(t.Context(), "contact", sdk.Fields{"display_name": sdk.String("Notified")}); err != nil {
		t.Fatal(err)
	}
	waitHint(t, hints, "for the contacts feed after a change", func(h sdk.Hint) bool { return h.Feed == feed && !h.Resync })
	if err := e.emu.Lifecycle(subID, "missed"); err != nil {
		t.Fatal(err)
	}
	waitHint(t, hints, "asking for a resync after missed notifications", func(h sdk.Hint) bool { return h.Feed == feed && h.Resync })
	if n := e.emu.Counters().Notifications; n == 0 {
		t.Error("the emulator counts no notification delivered")
	}
}

// TestCheckAgainstTheEmulator: Check gets a token and resolves a mailbox
// to its routing keys; an unknown mailbox is a diagnostic of its own, and
// a wrong secret an auth problem.
func TestCheckAgainstTheEmulator(t *testing.T) {
	e := newEmulated(t, graphemu.Options{}, nil)
	res, err := e.c.Check(t.Context(), []string{alice, "nobody@contoso.com"})
	if err != nil || res.Diagnostics.HasErrors() {
		t.Fatal(err, res.Diagnostics.Err())
	}
	if keys := res.Scopes[0].RoutingKeys; len(keys) == 0 || keys[0] != alice || res.Scopes[0].Diagnostics.HasErrors() {
		t.Errorf("alice: %+v", res.Scopes[0])
	}
	if !res.Scopes[1].Diagnostics.HasErrors() {
		t.Errorf("an unknown mailbox passes: %+v", res.Scopes[1])
	}
	bad := newEmulated(t, graphemu.Options{}, sdk.Fields{"client_secret": sdk.String("wrong")})
	res, _ = bad.c.Check(t.Context(), []string{alice})
	if !res.Diagnostics.HasErrors() || !strings.Contains(res.Diagnostics.Err().Error(), "client_secret") {
		t.Errorf("a wrong secret: %v", res.Diagnostics.Err())
	}
}

// TestSeriesAgainstTheEmulator: a weekly series written through Apply reads
// back with its pattern; an occurrence moved and one deleted by the user
// come back folded into the series: one change record for the master, and
// a Fetch carrying the exception and the cancelled occurrence.
func TestSeriesAgainstTheEmulator(t *testing.T) {
	e := newEmulated(t, graphemu.Options{}, nil)
	ctx := t.Context()
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 7)
	for day.Weekday() != time.Monday {
		day = day.AddDate(0, 0, 1)
	}
	start := time.Date(day.Year(), day.Month(), day.Day(), 8, 0, 0, 0, time.UTC)
	rec := sdk.Map(map[string]sdk.Value{
		"pattern": sdk.String("weekly"), "interval": sdk.Int(1), "days_of_week": sdk.Strings("monday"),
		"first_day_of_week": sdk.String("sunday"), "range": sdk.String("numbered"), "count": sdk.Int(5),
		"start_date": sdk.String(start.Format(time.DateOnly)), "zone": sdk.String("Europe/Berlin"),
	})
	fields := sdk.Fields{"subject": sdk.String("Weekly"), "start": sdk.TimeIn(start, "Europe/Berlin"),
		"end": sdk.TimeIn(start.Add(30*time.Minute), "Europe/Berlin"), "recurrence": rec}
	feed := sdk.Feed{Name: feedCalendar, Scope: alice}
	_, cursor := drain(t, e.c, feed, nil, 50)
	res, _ := e.c.Apply(ctx, alice, "appointment", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "sg-series", Fields: fields}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	id := res[0].ID
	got, _ := e.c.Fetch(ctx, alice, "appointment", []string{id})
	if got[0].Err != nil {
		t.Fatal(got[0].Err)
	}
	if r := got[0].Record.Fields["recurrence"]; !r.Equal(rec) {
		t.Errorf("recurrence written as\n%v\nreads back as\n%v", rec, r)
	}
	recs, cursor := drain(t, e.c, feed, cursor, 50)
	if len(recs) != 1 || recs[0].ID != id || recs[0].CorrelationKey != "sg-series" {
		t.Errorf("after creating a series: %+v, want one record for the master", recs)
	}

	// The user moves the second occurrence and deletes the third.
	b := &emuBackend{t: t, e: e}
	var inst struct {
		Value []struct {
			ID            string `json:"id"`
			OriginalStart string `json:"originalStart"`
		} `json:"value"`
	}
	from, to := start.Add(-time.Hour).Format(time.RFC3339), start.AddDate(0, 0, 40).Format(time.RFC3339)
	if err := b.call(ctx, "GET", "/users/"+alice+"/events/"+id+"/instances?startDateTime="+from+"&endDateTime="+to, nil, &inst); err != nil {
		t.Fatal(err)
	}
	if len(inst.Value) != 5 {
		t.Fatalf("%d instances", len(inst.Value))
	}
	moved := start.AddDate(0, 0, 7).Add(2 * time.Hour)
	if err := b.call(ctx, "PATCH", "/users/"+alice+"/events/"+inst.Value[1].ID, map[string]any{
		"start": toGraphTime(sdk.Time(moved)), "end": toGraphTime(sdk.Time(moved.Add(30 * time.Minute))), "subject": "Weekly (moved)"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.call(ctx, "DELETE", "/users/"+alice+"/events/"+inst.Value[2].ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	recs, _ = drain(t, e.c, feed, cursor, 50)
	upserts := 0
	for _, r := range recs {
		switch {
		case r.Kind == sdk.ChangeUpsert && r.ID == id:
			upserts++
		case r.Kind == sdk.ChangeUpsert || r.ID == id:
			t.Errorf("after changing occurrences: %+v", r)
		}
	}
	if upserts != 1 {
		t.Errorf("after changing occurrences: %d upserts of the master, want 1 (records %+v)", upserts, recs)
	}
	got, _ = e.c.Fetch(ctx, alice, "appointment", []string{id})
	if got[0].Err != nil {
		t.Fatal(got[0].Err)
	}
	r := got[0].Record.Fields["recurrence"].MapVal()
	ex := r["exceptions"].ListVal()
	if len(ex) != 1 || !ex[0].MapVal()["start"].TimeVal().Equal(moved) || ex[0].MapVal()["subject"].Str() != "Weekly (moved)" ||
		!ex[0].MapVal()["original_start"].TimeVal().Equal(start.AddDate(0, 0, 7)) {
		t.Errorf("exceptions %v", r["exceptions"])
	}
	var probe struct {
		CancelledOccurrences []string `json:"cancelledOccurrences"`
	}
	b.call(ctx, "GET", "/users/"+alice+"/events/"+id+"?$select=cancelledOccurrences", nil, &probe)
	if len(probe.CancelledOccurrences) == 0 {
		t.Log("the emulator does not answer $select=cancelledOccurrences on a series master: cancelled occurrences are not checked")
		return
	}
	cancelled := r["cancelled"].ListVal()
	if len(cancelled) != 1 || !cancelled[0].TimeVal().Equal(start.AddDate(0, 0, 14)) {
		t.Errorf("cancelled %v, want %s", r["cancelled"], start.AddDate(0, 0, 14))
	}
}

// TestSeriesWritesExceptions: a series written through Apply with an
// exception and a cancelled occurrence gets them on its occurrences, and
// reads back with them.
func TestSeriesWritesExceptions(t *testing.T) {
	e := newEmulated(t, graphemu.Options{}, nil)
	ctx := t.Context()
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 7)
	for day.Weekday() != time.Tuesday {
		day = day.AddDate(0, 0, 1)
	}
	start := time.Date(day.Year(), day.Month(), day.Day(), 14, 0, 0, 0, time.UTC)
	moved := start.AddDate(0, 0, 7).Add(time.Hour)
	rec := sdk.Map(map[string]sdk.Value{
		"pattern": sdk.String("weekly"), "interval": sdk.Int(1), "days_of_week": sdk.Strings("tuesday"),
		"first_day_of_week": sdk.String("sunday"), "range": sdk.String("numbered"), "count": sdk.Int(4),
		"start_date": sdk.String(start.Format(time.DateOnly)),
		"exceptions": sdk.List(sdk.Map(map[string]sdk.Value{
			"original_start": sdk.Time(start.AddDate(0, 0, 7)), "start": sdk.Time(moved), "end": sdk.Time(moved.Add(time.Hour)),
			"subject": sdk.String("Review (later)"),
		})),
		"cancelled": sdk.List(sdk.Time(start.AddDate(0, 0, 14))),
	})
	res, _ := e.c.Apply(ctx, alice, "appointment", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "sg-ex", Fields: sdk.Fields{
		"subject": sdk.String("Review"), "start": sdk.Time(start), "end": sdk.Time(start.Add(time.Hour)), "recurrence": rec}}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	got, _ := e.c.Fetch(ctx, alice, "appointment", []string{res[0].ID})
	if got[0].Err != nil {
		t.Fatal(got[0].Err)
	}
	if got[0].Record.Version != res[0].Version {
		t.Errorf("Apply returned version %q, the series is at %q", res[0].Version, got[0].Record.Version)
	}
	r := got[0].Record.Fields["recurrence"].MapVal()
	if !r["exceptions"].Equal(rec.MapVal()["exceptions"]) {
		t.Errorf("exceptions written as\n%v\nread back as\n%v", rec.MapVal()["exceptions"], r["exceptions"])
	}
	s, _ := e.c.state()
	inst, err := listInstances(ctx, s, alice, res[0].ID, start.Add(-time.Hour), start.AddDate(0, 0, 30))
	if err != nil {
		t.Fatal(err)
	}
	if len(inst) != 3 {
		t.Errorf("%d occurrences left of 4, want 3 (one cancelled)", len(inst))
	}
	for _, i := range inst {
		if parseGraphTime(i.OriginalStart).Equal(start.AddDate(0, 0, 14)) {
			t.Errorf("the cancelled occurrence is still there: %+v", i)
		}
	}
}

// TestFolderOnceTheModelHasIt: the canonical model has no "folder" field
// yet, and records carry none; once an entity's schema has it, Fetch fills
// it with the name of the default folder, calendar or list that the feed
// reads, which the gateway's folder tracking compares.
func TestFolderOnceTheModelHasIt(t *testing.T) {
	e := newEmulated(t, graphemu.Options{Seed: true}, nil)
	feeds := map[string]string{"contact": feedContacts, "appointment": feedCalendar, "task": feedTasks}
	for entity, feed := range feeds {
		recs, _ := drain(t, e.c, sdk.Feed{Name: feed, Scope: alice}, nil, 100)
		var id string
		for _, r := range recs {
			if r.Entity == entity && r.Kind == sdk.ChangeUpsert {
				id = r.ID
			}
		}
		if id == "" {
			t.Fatalf("the seeded mailbox has no %s", entity)
		}
		res, _ := e.c.Fetch(t.Context(), alice, entity, []string{id})
		if res[0].Err != nil || !res[0].Record.Fields["folder"].IsNull() {
			t.Fatalf("%s: %+v", entity, res[0])
		}
		schema := sdk.Schemas[entity]
		fields := schema.Fields
		schema.Fields = append(append([]sdk.Field(nil), fields...), sdk.Field{Name: "folder", Type: sdk.Type{Kind: sdk.KindString}})
		res, _ = e.c.Fetch(t.Context(), alice, entity, []string{id})
		schema.Fields = fields
		if res[0].Err != nil || res[0].Record.Fields["folder"].Str() == "" {
			t.Errorf("%s with a folder field in the model: %+v", entity, res[0])
		} else {
			t.Logf("%s: folder %q", entity, res[0].Record.Fields["folder"].Str())
		}
	}
}

// TestDeleteAcrossAWindowMove: an event deleted just before the calendar
// window moves is still reported as deleted: the old window's delta link is
// read to its end before the new window is enumerated.
func TestDeleteAcrossAWindowMove(t *testing.T) {
	e := newEmulated(t, graphemu.Options{}, nil)
	now := time.Now().UTC()
	e.c.Now = func() time.Time { return now }
	b := &emuBackend{t: t, e: e}
	f := b.Sample("appointment", 1)
	id, err := b.CreateOutOfBand(t.Context(), "appointment", f)
	if err != nil {
		t.Fatal(err)
	}
	feed := sdk.Feed{Name: feedCalendar, Scope: alice}
	_, cursor := drain(t, e.c, feed, nil, 50)
	if err := b.DeleteOutOfBand(t.Context(), "appointment", id); err != nil {
		t.Fatal(err)
	}
	now = now.Add(24 * time.Hour)
	recs, next := drain(t, e.c, feed, cursor, 50)
	found := false
	for _, r := range recs {
		found = found || (r.ID == id && r.Kind == sdk.ChangeDelete)
	}
	if !found {
		t.Errorf("the delete made before the window moved is missing from %+v", recs)
	}
	var cur cursorState
	json.Unmarshal(next, &cur)
	if cur.Day != windowDay(e.c.st.Load().cfg, now) {
		t.Errorf("the cursor keeps window day %s", cur.Day)
	}
}
