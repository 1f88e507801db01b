package graphemu

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// postFixture replays a fixture's request body against a user's path.
func (en *env) postFixture(name, path string) resp {
	en.t.Helper()
	f := loadFixture(en.t, name)
	var headers []string
	for k, v := range f.Request.Headers {
		if strings.EqualFold(k, "Prefer") {
			headers = append(headers, k, v)
		}
	}
	return en.do(f.Request.Method, path, f.Request.Body, headers...)
}

func TestEventFixtures(t *testing.T) {
	en := newEnv(t, Options{})
	base := "/v1.0/users/" + alice

	c := en.postFixture("event-create.json", base+"/events").must(t, 201)
	checkShape(t, "event-create.json", c.body, nil)
	checkSchema(t, "event", c.body)
	start := c.body["start"].(map[string]any)
	if start["dateTime"] != "2017-04-15T12:00:00.0000000" || start["timeZone"] != "Pacific Standard Time" {
		t.Errorf("start with Prefer outlook.timezone: %v", start)
	}
	if c.body["type"] != "singleInstance" || c.body["@odata.etag"] != `W/"`+str(c.body["changeKey"])+`"` || c.body["body"].(map[string]any)["contentType"] != "html" {
		t.Errorf("created event %v", c.body)
	}
	if !strings.Contains(str(c.body["bodyPreview"]), "Does late morning work for you?") {
		t.Errorf("bodyPreview %q", c.body["bodyPreview"])
	}
	// Without the Prefer header the times come in UTC. (The Location header
	// names the event in OData key syntax; the emulator serves that too.)
	got := en.do("GET", c.header.Get("Location"), nil).must(t, 200)
	if s := got.body["start"].(map[string]any); s["dateTime"] != "2017-04-15T19:00:00.0000000" || s["timeZone"] != "UTC" {
		t.Errorf("start in UTC: %v", s)
	}
	if got.body["originalStartTimeZone"] != "Pacific Standard Time" {
		t.Errorf("originalStartTimeZone %v", got.body["originalStartTimeZone"])
	}
	// And in any zone asked for, IANA names included.
	ber := en.do("GET", base+"/events/"+str(c.body["id"]), nil, "Prefer", `outlook.timezone="Europe/Berlin"`).must(t, 200)
	if s := ber.body["start"].(map[string]any); s["dateTime"] != "2017-04-15T21:00:00.0000000" {
		t.Errorf("start in Europe/Berlin: %v", s)
	}

	m := en.postFixture("event-create-multiple-locations.json", base+"/events").must(t, 201)
	checkShape(t, "event-create-multiple-locations.json", m.body, nil)
	checkSchema(t, "event", m.body)
	if atts := m.body["attendees"].([]any); atts[0].(map[string]any)["type"] != "required" {
		t.Errorf("enum values come back lower camel case: %v", atts[0])
	}

	rec := en.postFixture("event-create-recurring.json", base+"/events").must(t, 201)
	checkShape(t, "event-create-recurring.json", rec.body, map[string]string{"OnlineMeeting": "doc artifact (capital O), not a v1.0 event property"})
	checkSchema(t, "event", rec.body)
	if rec.body["type"] != "seriesMaster" {
		t.Errorf("recurring event type %v", rec.body["type"])
	}
	pat := rec.body["recurrence"].(map[string]any)["pattern"].(map[string]any)
	if pat["firstDayOfWeek"] != "sunday" || pat["index"] != "first" || !slices.Equal(pat["daysOfWeek"].([]any), []any{"monday"}) {
		t.Errorf("recurrence pattern defaults: %v", pat)
	}

	upd := en.postFixture("event-update.json", base+"/events/"+str(c.body["id"])).must(t, 200)
	checkShape(t, "event-update.json", upd.body, nil)
	checkSchema(t, "event", upd.body)
	if upd.body["changeKey"] == c.body["changeKey"] || upd.body["reminderMinutesBeforeStart"] != 99.0 {
		t.Errorf("update: %v", upd.body)
	}

	if r := en.do("POST", base+"/events", map[string]any{"subject": "x", "start": map[string]any{"dateTime": "2026-01-01T10:00:00", "timeZone": "Mars Standard Time"},
		"end": map[string]any{"dateTime": "2026-01-01T11:00:00", "timeZone": "UTC"}}).must(t, 400); r.errCode() != "TimeZoneNotSupportedException" {
		t.Errorf("unknown zone: %s", r.raw)
	}
	if r := en.do("POST", base+"/events", map[string]any{"subject": "x", "start": utc("2026-01-01T10:00:00"), "end": utc("2026-01-01T09:00:00")}).must(t, 400); r.errCode() != "ErrorInvalidRequest" {
		t.Errorf("end before start: %s", r.raw)
	}
	allDay := map[string]any{"subject": "holiday", "isAllDay": true, "start": utc("2026-05-01T00:00:00"), "end": utc("2026-05-02T00:00:00")}
	en.do("POST", base+"/events", allDay).must(t, 201)
	allDay["start"] = utc("2026-05-01T09:00:00")
	if r := en.do("POST", base+"/events", allDay).must(t, 400); !strings.Contains(r.raw, "midnight") {
		t.Errorf("all-day event not at midnight: %s", r.raw)
	}
	allDay["start"], allDay["end"] = utc("2026-05-01T00:00:00"), utc("2026-05-01T00:00:00")
	en.do("POST", base+"/events", allDay).must(t, 400)
	en.do("GET", base+"/events/nope", nil).must(t, 404)
	en.do("DELETE", base+"/events/"+str(m.body["id"]), nil).must(t, 204)
	en.do("DELETE", base+"/events/"+str(m.body["id"]), nil).must(t, 404)
}

func utc(dt string) map[string]any { return map[string]any{"dateTime": dt, "timeZone": "UTC"} }

// weeklySeries makes a weekly Monday 10:00-11:00 UTC series of ten from
// 2026-03-02, turns its second occurrence into an exception (moved an hour
// later) and deletes its third. It returns the master id and the view.
func (en *env) weeklySeries(base string) (string, []map[string]any) {
	t := en.t
	master := en.do("POST", base+"/events", map[string]any{
		"subject": "Weekly", "start": utc("2026-03-02T10:00:00"), "end": utc("2026-03-02T11:00:00"),
		"recurrence": map[string]any{
			"pattern": map[string]any{"type": "weekly", "interval": 1, "daysOfWeek": []any{"Monday"}},
			"range":   map[string]any{"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 10},
		},
	}).must(t, 201)
	mid := str(master.body["id"])
	view := func() []map[string]any {
		pages, _ := en.pages(base + "/calendarView?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-06-01T00:00:00Z")
		var mine []map[string]any
		for _, v := range pages {
			if v["seriesMasterId"] == mid {
				mine = append(mine, v)
			}
		}
		return mine
	}
	occ := view()
	if len(occ) != 10 {
		t.Fatalf("series of 10: calendarView has %d", len(occ))
	}
	second, third := str(occ[1]["id"]), str(occ[2]["id"])
	exc := en.do("PATCH", base+"/events/"+second, map[string]any{"subject": "Weekly (moved)", "start": utc("2026-03-09T11:00:00"), "end": utc("2026-03-09T12:00:00")}).must(t, 200)
	if exc.body["type"] != "exception" || exc.body["id"] != second || exc.body["seriesMasterId"] != mid {
		t.Fatalf("PATCH of an occurrence: %v", exc.body)
	}
	en.do("DELETE", base+"/events/"+third, nil).must(t, 204)
	return mid, view()
}

// pages follows the nextLinks of a plain collection.
func (en *env) pages(first string, headers ...string) ([]map[string]any, int) {
	var out []map[string]any
	n := 0
	for next := first; next != ""; n++ {
		r := en.do("GET", next, nil, headers...).must(en.t, 200)
		out = append(out, r.values()...)
		next = str(r.body["@odata.nextLink"])
	}
	return out, n
}

func TestCalendarViewExpandsWeeklySeries(t *testing.T) {
	en := newEnv(t, Options{})
	base := "/v1.0/users/" + alice
	mid, view := en.weeklySeries(base)
	if len(view) != 9 {
		t.Fatalf("after one deleted occurrence: %d entries", len(view))
	}
	var types []string
	for i, v := range view {
		checkSchema(t, "event", v)
		types = append(types, str(v["type"]))
		if v["seriesMasterId"] != mid || v["recurrence"] != nil || str(v["originalStart"]) == "" {
			t.Errorf("entry %d: %v", i, v)
		}
	}
	want := []string{"occurrence", "exception", "occurrence", "occurrence", "occurrence", "occurrence", "occurrence", "occurrence", "occurrence"}
	if !slices.Equal(types, want) {
		t.Fatalf("types %v", types)
	}
	if s := view[1]["start"].(map[string]any)["dateTime"]; s != "2026-03-09T11:00:00.0000000" || view[1]["subject"] != "Weekly (moved)" {
		t.Errorf("exception %v", view[1])
	}
	if s := view[2]["start"].(map[string]any)["dateTime"]; s != "2026-03-23T10:00:00.0000000" {
		t.Errorf("the third occurrence was deleted; next is %v", s)
	}
	if view[8]["start"].(map[string]any)["dateTime"] != "2026-05-04T10:00:00.0000000" {
		t.Errorf("last occurrence %v", view[8]["start"])
	}
	// /events lists the master only; instances lists the series' entries.
	evs := en.do("GET", base+"/events", nil).must(t, 200).values()
	if len(evs) != 1 || evs[0]["type"] != "seriesMaster" {
		t.Fatalf("/events: %v", evs)
	}
	inst, _ := en.pages(base + "/events/" + mid + "/instances?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-03-20T00:00:00Z")
	if len(inst) != 2 || inst[1]["type"] != "exception" {
		t.Fatalf("instances: %v", inst)
	}
	// An occurrence reads by its id.
	occ := en.do("GET", base+"/events/"+str(view[0]["id"]), nil).must(t, 200)
	if occ.body["type"] != "occurrence" || occ.body["seriesMasterId"] != mid {
		t.Fatalf("GET occurrence: %v", occ.body)
	}
	if r := en.do("GET", base+"/calendarView", nil).must(t, 400); r.errCode() != "ErrorInvalidParameter" {
		t.Fatalf("calendarView without window: %s", r.raw)
	}
	// Other patterns: daily with an end date, monthly on the last Friday,
	// yearly on a date.
	for _, c := range []struct {
		pattern map[string]any
		rng     map[string]any
		want    int
	}{
		{map[string]any{"type": "daily", "interval": 2}, map[string]any{"type": "endDate", "startDate": "2026-03-02", "endDate": "2026-03-11"}, 5},
		{map[string]any{"type": "relativeMonthly", "interval": 1, "daysOfWeek": []any{"friday"}, "index": "last"}, map[string]any{"type": "noEnd", "startDate": "2026-03-02"}, 3},
		{map[string]any{"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31}, map[string]any{"type": "noEnd", "startDate": "2026-03-02"}, 2}, // March and May: April has no 31st
		{map[string]any{"type": "absoluteYearly", "interval": 1, "month": 4, "dayOfMonth": 15}, map[string]any{"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 3}, 1},
	} {
		u := newEnv(t, Options{Users: []string{"carol@contoso.example"}})
		u.do("POST", "/v1.0/users/carol@contoso.example/events", map[string]any{"subject": "p", "start": utc("2026-03-02T08:00:00"), "end": utc("2026-03-02T09:00:00"),
			"recurrence": map[string]any{"pattern": c.pattern, "range": c.rng}}).must(t, 201)
		got, _ := u.pages("/v1.0/users/carol@contoso.example/calendarView?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-06-01T00:00:00Z")
		if len(got) != c.want {
			t.Errorf("%v: %d occurrences, want %d", c.pattern, len(got), c.want)
		}
		if c.pattern["index"] == "last" && len(got) > 0 && got[0]["start"].(map[string]any)["dateTime"] != "2026-03-27T08:00:00.0000000" {
			t.Errorf("last Friday of March 2026: %v", got[0]["start"])
		}
	}
	// Occurrences keep their local time across a DST change (US: 8 March 2026).
	pst := func(dt string) map[string]any {
		return map[string]any{"dateTime": dt, "timeZone": "Pacific Standard Time"}
	}
	dst := newEnv(t, Options{Users: []string{"dan@contoso.example"}})
	dst.do("POST", "/v1.0/users/dan@contoso.example/events", map[string]any{"subject": "dst", "start": pst("2026-03-02T09:00:00"), "end": pst("2026-03-02T10:00:00"),
		"recurrence": map[string]any{"pattern": map[string]any{"type": "weekly", "interval": 1, "daysOfWeek": []any{"monday"}},
			"range": map[string]any{"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 2}}}).must(t, 201)
	const dstView = "/v1.0/users/dan@contoso.example/calendarView?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z"
	utcView, _ := dst.pages(dstView)
	localView, _ := dst.pages(dstView, "Prefer", `outlook.timezone="Pacific Standard Time"`)
	if len(utcView) != 2 || utcView[0]["start"].(map[string]any)["dateTime"] != "2026-03-02T17:00:00.0000000" || utcView[1]["start"].(map[string]any)["dateTime"] != "2026-03-09T16:00:00.0000000" {
		t.Errorf("across DST, in UTC: %v", utcView)
	}
	for _, v := range localView {
		if s := v["start"].(map[string]any); !strings.HasSuffix(str(s["dateTime"]), "T09:00:00.0000000") || s["timeZone"] != "Pacific Standard Time" {
			t.Errorf("across DST, local: %v", s)
		}
	}
	if r := en.do("POST", base+"/events", map[string]any{"subject": "bad", "start": utc("2026-03-02T08:00:00"), "end": utc("2026-03-02T09:00:00"),
		"recurrence": map[string]any{"pattern": map[string]any{"type": "weekly", "interval": 1}, "range": map[string]any{"type": "noEnd", "startDate": "2026-03-02"}}}).must(t, 400); r.errCode() != "ErrorInvalidRecurrence" {
		t.Fatalf("weekly without days: %s", r.raw)
	}
}

func TestCalendarViewDelta(t *testing.T) {
	en := newEnv(t, Options{})
	base := "/v1.0/users/" + alice
	window := "?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z"
	single := str(en.do("POST", base+"/events", map[string]any{"subject": "Single", "start": utc("2026-03-05T09:00:00"), "end": utc("2026-03-05T10:00:00")}).must(t, 201).body["id"])
	outside := str(en.do("POST", base+"/events", map[string]any{"subject": "April", "start": utc("2026-04-05T09:00:00"), "end": utc("2026-04-05T10:00:00")}).must(t, 201).body["id"])
	mid, _ := en.weeklySeries(base)

	first := en.do("GET", base+"/calendarView/delta"+window, nil, "Prefer", "odata.maxpagesize=2").must(t, 200)
	checkShape(t, "events-delta-page1.json", first.body, nil)
	checkShape(t, "event-delta-reference-nextlink.json", first.body, nil)
	pages, link := en.round(base+"/calendarView/delta"+window, "Prefer", "odata.maxpagesize=2")
	all := flat(pages)
	for _, v := range all {
		checkSchema(t, "event", v)
		if v["@odata.type"] != "#microsoft.graph.event" {
			t.Errorf("delta entry without @odata.type: %v", v)
		}
	}
	checkShape(t, "events-delta-page2.json", map[string]any{"@odata.context": first.body["@odata.context"], "@odata.nextLink": "x", "value": toAny(pages[1])}, nil)
	count := map[string]int{}
	for _, v := range all {
		count[str(v["type"])]++
		if v["id"] == outside {
			t.Error("an event outside the window is in the first round")
		}
	}
	// March 2026 has Mondays 2, 9 (exception), 16 (deleted), 23, 30.
	if count["singleInstance"] != 1 || count["seriesMaster"] != 1 || count["occurrence"] != 3 || count["exception"] != 1 || len(all) != 6 {
		t.Fatalf("first round: %v", count)
	}
	last := en.do("GET", link, nil).must(t, 200)
	checkShape(t, "events-delta-page3-final.json", map[string]any{"@odata.context": last.body["@odata.context"], "@odata.deltaLink": last.body["@odata.deltaLink"], "value": toAny(pages[len(pages)-1])}, nil)

	// Next round: a deletion, an event moved out of the window, one moved
	// in, and the series' subject.
	en.do("DELETE", base+"/events/"+single, nil).must(t, 204)
	en.do("PATCH", base+"/events/"+outside, map[string]any{"start": utc("2026-03-06T09:00:00"), "end": utc("2026-03-06T10:00:00")}).must(t, 200)
	en.do("PATCH", base+"/events/"+mid, map[string]any{"subject": "Weekly, renamed"}).must(t, 200)
	pages, link2 := en.round(link, "Prefer", "odata.maxpagesize=2")
	got := map[string]string{}
	for _, v := range flat(pages) {
		got[str(v["id"])] = firstNonEmpty(removed(v), str(v["subject"]))
	}
	if got[single] != "deleted" || got[outside] != "April" || got[mid] != "Weekly, renamed" {
		t.Fatalf("second round %v", got)
	}
	occurrences := 0
	for _, v := range flat(pages) {
		if v["type"] == "occurrence" {
			occurrences++
			if v["subject"] != "Weekly, renamed" {
				t.Errorf("occurrence not renamed: %v", v)
			}
		}
	}
	if occurrences != 3 {
		t.Errorf("a change of the master changes its occurrences: %d in the round", occurrences)
	}
	var withRemoved map[string]any
	for _, p := range pages {
		for _, v := range p {
			if removed(v) != "" {
				withRemoved = map[string]any{"@odata.context": "x", "@odata.deltaLink": "x", "value": toAny(p)}
			}
		}
	}
	checkShape(t, "events-delta-next-round-removed.json", withRemoved, map[string]string{
		"value[].location.address":     "our events in this round have no street address",
		"value[].location.coordinates": "nor coordinates",
	})

	en.do("PATCH", base+"/events/"+outside, map[string]any{"start": utc("2026-05-06T09:00:00"), "end": utc("2026-05-06T10:00:00")}).must(t, 200)
	pages, _ = en.round(link2)
	if vals := flat(pages); len(vals) != 1 || vals[0]["id"] != outside || removed(vals[0]) != "changed" {
		t.Fatalf("an event that left the window: %v", vals)
	}
}

func toAny(l []map[string]any) []any {
	out := []any{}
	for _, v := range l {
		out = append(out, v)
	}
	return out
}

func TestMeetingInvitations(t *testing.T) {
	en := newEnv(t, Options{})
	ev := en.do("POST", "/v1.0/users/"+alice+"/events", map[string]any{
		"subject": "Planning", "start": utc("2026-03-05T09:00:00"), "end": utc("2026-03-05T10:00:00"),
		"attendees": []any{
			map[string]any{"emailAddress": map[string]any{"address": strings.ToUpper(bob), "name": "Bob"}, "type": "Required"},
			map[string]any{"emailAddress": map[string]any{"address": "outsider@example.org"}, "type": "optional"},
		},
	}).must(t, 201)
	bobs := en.do("GET", "/v1.0/users/"+bob+"/events", nil).must(t, 200).values()
	if len(bobs) != 1 {
		t.Fatalf("bob's calendar: %v", bobs)
	}
	b := bobs[0]
	checkSchema(t, "event", b)
	if b["iCalUId"] != ev.body["iCalUId"] || b["isOrganizer"] != false || b["id"] == ev.body["id"] ||
		b["organizer"].(map[string]any)["emailAddress"].(map[string]any)["address"] != alice ||
		b["responseStatus"].(map[string]any)["response"] != "notResponded" {
		t.Fatalf("bob's copy %v", b)
	}
	if n := en.emu.Counters().InvitationsSent; n != 1 {
		t.Fatalf("InvitationsSent %d, want 1 (outsiders are not emulator users)", n)
	}
	en.do("PATCH", "/v1.0/users/"+alice+"/events/"+str(ev.body["id"]), map[string]any{"subject": "Planning (new room)"}).must(t, 200)
	if got := en.do("GET", "/v1.0/users/"+bob+"/events/"+str(b["id"]), nil).must(t, 200); got.body["subject"] != "Planning (new room)" {
		t.Fatalf("update not sent to the attendee: %v", got.body["subject"])
	}
	if n := en.emu.Counters().InvitationsSent; n != 1 {
		t.Fatalf("an update is not a new invitation: %d", n)
	}
	// The organizer's own properties stay with the organizer.
	before := en.do("GET", "/v1.0/users/"+bob+"/events/"+str(b["id"]), nil).must(t, 200)
	en.do("PATCH", "/v1.0/users/"+alice+"/events/"+str(ev.body["id"]), map[string]any{"categories": []any{"Red category"}, "reminderMinutesBeforeStart": 5}).must(t, 200)
	if after := en.do("GET", "/v1.0/users/"+bob+"/events/"+str(b["id"]), nil).must(t, 200); after.body["changeKey"] != before.body["changeKey"] || len(after.body["categories"].([]any)) != 0 {
		t.Fatalf("the organizer's categories reached the attendee: %v", after.body)
	}
	// A newly added attendee is invited; one taken off gets a cancellation.
	carol := "carol@contoso.example"
	en3 := newEnv(t, Options{Users: []string{alice, bob, carol}})
	m := en3.do("POST", "/v1.0/users/"+alice+"/events", map[string]any{"subject": "Trio", "start": utc("2026-03-05T09:00:00"), "end": utc("2026-03-05T10:00:00"),
		"attendees": []any{map[string]any{"emailAddress": map[string]any{"address": bob}}}}).must(t, 201)
	en3.do("PATCH", "/v1.0/users/"+alice+"/events/"+str(m.body["id"]), map[string]any{"attendees": []any{map[string]any{"emailAddress": map[string]any{"address": carol}}}}).must(t, 200)
	if n := en3.emu.Counters().InvitationsSent; n != 2 {
		t.Fatalf("InvitationsSent %d after adding carol, want 2", n)
	}
	if cs := en3.do("GET", "/v1.0/users/"+carol+"/events", nil).must(t, 200).values(); len(cs) != 1 || cs[0]["iCalUId"] != m.body["iCalUId"] {
		t.Fatalf("carol's calendar %v", cs)
	}
	if bs := en3.do("GET", "/v1.0/users/"+bob+"/events", nil).must(t, 200).values(); len(bs) != 1 || bs[0]["isCancelled"] != true {
		t.Fatalf("bob, taken off: %v", bs)
	}
	en.do("DELETE", "/v1.0/users/"+alice+"/events/"+str(ev.body["id"]), nil).must(t, 204)
	got := en.do("GET", "/v1.0/users/"+bob+"/events/"+str(b["id"]), nil).must(t, 200)
	if got.body["isCancelled"] != true || !strings.HasPrefix(str(got.body["subject"]), "Canceled: ") {
		t.Fatalf("cancellation: %v %v", got.body["isCancelled"], got.body["subject"])
	}
}

func TestEventFailurePaths(t *testing.T) {
	en := newEnv(t, Options{})
	base := "/v1.0/users/" + alice
	mid, view := en.weeklySeries(base)
	exc := str(view[1]["id"])
	if r := en.do("PATCH", base+"/events/"+exc, map[string]any{"recurrence": map[string]any{
		"pattern": map[string]any{"type": "daily", "interval": 1}, "range": map[string]any{"type": "noEnd", "startDate": "2026-03-09"}}}).must(t, 400); r.errCode() != "ErrorInvalidRequest" {
		t.Errorf("recurrence on an exception: %s", r.raw)
	}
	// A failed change of an occurrence leaves it an occurrence.
	occ := str(view[4]["id"])
	en.do("PATCH", base+"/events/"+occ, map[string]any{"start": utc("2026-03-30T12:00:00"), "end": utc("2026-03-30T11:00:00")}).must(t, 400)
	en.do("PATCH", base+"/events/"+occ, map[string]any{"recurrence": map[string]any{}}).must(t, 400)
	if got := en.do("GET", base+"/events/"+occ, nil).must(t, 200); got.body["type"] != "occurrence" {
		t.Errorf("after failed changes: %v", got.body["type"])
	}
	en.do("GET", base+"/events/nope/instances?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z", nil).must(t, 404)
	// An occurrence's version is its master's.
	master := en.do("GET", base+"/events/"+mid, nil).must(t, 200)
	en.do("PATCH", base+"/events/"+mid, map[string]any{"subject": "again"}).must(t, 200)
	if r := en.do("DELETE", base+"/events/"+str(view[3]["id"]), nil, "If-Match", str(master.body["@odata.etag"])).must(t, 412); r.errCode() != "ErrorIrresolvableConflict" {
		t.Errorf("stale If-Match on an occurrence: %s", r.raw)
	}
	// An id shaped like an occurrence of no series, or off the pattern.
	en.do("GET", base+"/events/"+occurrenceID(mid, time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)), nil).must(t, 404)
	en.do("GET", base+"/events/"+occurrenceID("nope", time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)), nil).must(t, 404)
	// The deleted third occurrence stays deleted.
	en.do("GET", base+"/events/"+occurrenceID(mid, time.Date(2026, 3, 16, 10, 0, 0, 0, time.UTC)), nil).must(t, 404)
	if r := en.do("GET", base+"/calendarView?startDateTime=yesterday&endDateTime=today", nil).must(t, 400); r.errCode() != "ErrorInvalidParameter" {
		t.Errorf("bad window: %s", r.raw)
	}
	if r := en.do("POST", base+"/todo/lists/"+en.emu.mailboxes[0].listID+"/tasks", map[string]any{"title": "t", "dueDateTime": map[string]any{"dateTime": "2026-01-01T00:00:00", "timeZone": "Nowhere"}}).must(t, 400); r.errCode() != "invalidRequest" {
		t.Errorf("task with an unknown zone: %s", r.raw)
	}
	// Changing the series' timing drops the exception and, in a calendar
	// view delta, reports the occurrences that no longer exist.
	_, link := en.round(base + "/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z")
	en.do("PATCH", base+"/events/"+mid, map[string]any{"start": utc("2026-03-03T10:00:00"), "end": utc("2026-03-03T11:00:00"),
		"recurrence": map[string]any{"pattern": map[string]any{"type": "weekly", "interval": 1, "daysOfWeek": []any{"tuesday"}},
			"range": map[string]any{"type": "numbered", "startDate": "2026-03-03", "numberOfOccurrences": 10}}}).must(t, 200)
	pages, _ := en.round(link)
	reasons := map[string]int{}
	gone := map[string]bool{}
	for _, v := range flat(pages) {
		reasons[firstNonEmpty(removed(v), str(v["type"]))]++
		if removed(v) == "deleted" {
			gone[str(v["id"])] = true
		}
	}
	// March: Mondays 2, 9 (exception), 23, 30 go; Tuesdays 3, 10, 17, 24,
	// 31 come. (Deletions outside the window may come too, as in Graph.)
	for _, v := range view[:4] {
		if !gone[str(v["id"])] {
			t.Errorf("%s of %v not reported removed", v["type"], v["start"])
		}
	}
	if reasons["occurrence"] != 5 || reasons["seriesMaster"] != 1 {
		t.Fatalf("after moving the series: %v", reasons)
	}
	en.do("GET", base+"/events/"+exc, nil).must(t, 404)
}

// A series whose only entry in the window is an exception moved into it
// is in the window's delta, master included.
func TestCalendarViewDeltaSeriesByItsException(t *testing.T) {
	en := newEnv(t, Options{})
	base := "/v1.0/users/" + alice
	m := en.do("POST", base+"/events", map[string]any{"subject": "once", "start": utc("2026-03-31T10:00:00"), "end": utc("2026-03-31T11:00:00"),
		"recurrence": map[string]any{"pattern": map[string]any{"type": "daily", "interval": 1}, "range": map[string]any{"type": "numbered", "startDate": "2026-03-31", "numberOfOccurrences": 1}}}).must(t, 201)
	occ := occurrenceID(str(m.body["id"]), time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC))
	en.do("PATCH", base+"/events/"+occ, map[string]any{"start": utc("2026-04-02T10:00:00"), "end": utc("2026-04-02T11:00:00")}).must(t, 200)
	pages, _ := en.round(base + "/calendarView/delta?startDateTime=2026-04-01T00:00:00Z&endDateTime=2026-05-01T00:00:00Z")
	types := map[string]bool{}
	for _, v := range flat(pages) {
		types[str(v["type"])] = true
	}
	if len(flat(pages)) != 2 || !types["seriesMaster"] || !types["exception"] {
		t.Fatalf("window with only the exception: %v", flat(pages))
	}
}
