package exchange

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// TestEventFixtures parses every documented event sample, response bodies
// and delta pages alike, into canonical appointments.
func TestEventFixtures(t *testing.T) {
	for _, name := range []string{"event-create.json", "event-create-recurring.json", "event-create-multiple-locations.json", "event-update.json"} {
		t.Run(name, func(t *testing.T) {
			fx := loadFixture(t, name)
			var e graphEvent
			if err := json.Unmarshal(fx.Response.Body, &e); err != nil {
				t.Fatal(err)
			}
			f := eventFields(&e, "appointment")
			if ds := sdk.Validate("appointment", f); ds.HasErrors() {
				t.Errorf("not canonical: %v", ds.Err())
			}
		})
	}
	for _, name := range []string{"events-delta-page1.json", "events-delta-page2.json", "events-delta-page3-final.json", "events-delta-next-round-removed.json", "event-delta-reference-nextlink.json"} {
		t.Run(name, func(t *testing.T) {
			fx := loadFixture(t, name)
			var p deltaPage
			if err := json.Unmarshal(fx.Response.Body, &p); err != nil {
				t.Fatal(err)
			}
			if p.NextLink == "" && p.DeltaLink == "" {
				t.Error("a page with neither link")
			}
			for _, raw := range p.Value {
				var e graphEvent
				if err := json.Unmarshal(raw, &e); err != nil {
					t.Fatal(err)
				}
				if ds := sdk.Validate("appointment", eventFields(&e, "appointment")); ds.HasErrors() {
					t.Errorf("%s: not canonical: %v", e.ID, ds.Err())
				}
			}
		})
	}
	fx := loadFixture(t, "event-create-recurring.json")
	var e graphEvent
	json.Unmarshal(fx.Response.Body, &e)
	f := eventFields(&e, "appointment")
	rec := f["recurrence"].MapVal()
	if rec["pattern"].Str() != "weekly" || rec["zone"].Str() != "America/Los_Angeles" || len(rec["days_of_week"].ListVal()) == 0 {
		t.Errorf("recurrence %v", f["recurrence"])
	}
	if f["start"].Zone() != "America/Los_Angeles" || f["start"].TimeVal().Hour() != 12 {
		t.Errorf("start %v: want noon in Los Angeles", f["start"])
	}
	if f["ical_uid"].Str() == "" || f["reminder_minutes"].IntVal() != 15 {
		t.Errorf("ical_uid %v, reminder %v", f["ical_uid"], f["reminder_minutes"])
	}
	// The extended property sample reads as documented.
	fx = loadFixture(t, "extended-property-expand-get.json")
	var m graphEvent
	json.Unmarshal(fx.Response.Body, &m)
	if findProp(m.ExtendedProperties, "string {66F5A359-4659-4830-9070-00047EC6AC6E} name Color") != "Green" {
		t.Errorf("extended property not found case-insensitively: %+v", m.ExtendedProperties)
	}
}

// TestTimeZones: Graph answers in UTC (Prefer outlook.timezone) and names
// the event's own zone in Windows terms; the canonical value is the same
// instant in the IANA zone. A zone CLDR does not know is kept as UTC.
func TestTimeZones(t *testing.T) {
	for _, tc := range []struct {
		graphZone, iana string
		hour            int
	}{
		{"Pacific Standard Time", "America/Los_Angeles", 1}, // 09:00 UTC in January = 01:00 in Los Angeles
		{"W. Europe Standard Time", "Europe/Berlin", 10},
		{"Tokyo Standard Time", "Asia/Tokyo", 18},
		{"UTC", "", 9},
		{"tzone://Microsoft/Custom", "", 9},
	} {
		e := graphEvent{Start: &dateTimeZone{DateTime: "2030-01-15T09:00:00.0000000", TimeZone: "UTC"},
			End: &dateTimeZone{DateTime: "2030-01-15T10:00:00.0000000", TimeZone: "UTC"}, OriginalStartTimeZone: tc.graphZone, OriginalEndTimeZone: tc.graphZone}
		f := eventFields(&e, "appointment")
		if f["start"].Zone() != tc.iana || f["start"].TimeVal().Hour() != tc.hour || f["start"].TimeVal().UTC().Hour() != 9 {
			t.Errorf("%s: start %v (zone %q), want %02d:00 in %q", tc.graphZone, f["start"], f["start"].Zone(), tc.hour, tc.iana)
		}
	}
	// Without originalStartTimeZone (Graph did not answer in UTC), the
	// zone the times are written in is the event's zone.
	e := graphEvent{Start: &dateTimeZone{DateTime: "2030-01-15T09:00:00", TimeZone: "Pacific Standard Time"}}
	if v := eventFields(&e, "appointment")["start"]; v.Zone() != "America/Los_Angeles" || v.TimeVal().UTC().Hour() != 17 {
		t.Errorf("a start written in Pacific time: %v (%s)", v, v.Zone())
	}
	berlin := toGraphTime(sdk.TimeIn(time.Date(2030, 7, 1, 7, 0, 0, 0, time.UTC), "Europe/Berlin"))
	if *berlin != (dateTimeZone{DateTime: "2030-07-01T09:00:00", TimeZone: "W. Europe Standard Time"}) {
		t.Errorf("Berlin summer time written as %+v", berlin)
	}
	if utc := toGraphTime(sdk.Time(time.Date(2030, 7, 1, 7, 0, 0, 0, time.UTC))); utc.TimeZone != "UTC" || utc.DateTime != "2030-07-01T07:00:00" {
		t.Errorf("UTC written as %+v", utc)
	}
}

// calendarMailbox scripts a calendar: a weekly series with an exception
// and a cancelled occurrence, a single event, a service appointment, and
// what the delta round reports about them.
func calendarMailbox(t *testing.T, f *fakeGraph, deltaValue []map[string]any) {
	master := map[string]any{
		"id": "master", "@odata.etag": `W/"m1"`, "type": "seriesMaster", "subject": "Standup",
		"start":                 map[string]any{"dateTime": "2030-01-07T08:00:00.0000000", "timeZone": "UTC"},
		"end":                   map[string]any{"dateTime": "2030-01-07T08:15:00.0000000", "timeZone": "UTC"},
		"originalStartTimeZone": "W. Europe Standard Time", "originalEndTimeZone": "W. Europe Standard Time",
		"recurrence": map[string]any{
			"pattern": map[string]any{"type": "weekly", "interval": 1, "daysOfWeek": []string{"monday"}, "firstDayOfWeek": "monday"},
			"range":   map[string]any{"type": "endDate", "startDate": "2030-01-07", "endDate": "2030-03-25", "recurrenceTimeZone": "W. Europe Standard Time"},
		},
		"iCalUId": "uid-standup",
		"singleValueExtendedProperties": []map[string]any{
			{"id": propData, "value": `{"key":"sg-1"}`},
		},
	}
	f.handle("GET /users/"+alice+"/events/master", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("$select") == "cancelledOccurrences" { // only when asked for, as Graph does
			reply(200, map[string]any{"id": "master", "cancelledOccurrences": []string{"OID.master.2030-01-21"}})(w, r)
			return
		}
		if !strings.Contains(r.URL.Query().Get("$expand"), "SyncgateData") {
			t.Errorf("an event read without its syncgate data: %s", r.URL.RawQuery)
		}
		reply(200, master)(w, r)
	})
	f.handle("GET /users/"+alice+"/events/master/instances", reply(200, map[string]any{"value": []any{
		map[string]any{"id": "occ1", "type": "occurrence", "originalStart": "2030-01-07T08:00:00Z", "start": map[string]any{"dateTime": "2030-01-07T08:00:00", "timeZone": "UTC"}},
		map[string]any{"id": "exc1", "type": "exception", "originalStart": "2030-01-14T08:00:00Z", "subject": "Standup (moved)",
			"start": map[string]any{"dateTime": "2030-01-14T10:00:00", "timeZone": "UTC"}, "end": map[string]any{"dateTime": "2030-01-14T10:15:00", "timeZone": "UTC"}},
	}}))
	f.handle("GET /users/"+alice+"/events/single", reply(200, map[string]any{"id": "single", "@odata.etag": `W/"s1"`, "type": "singleInstance", "subject": "Lunch"}))
	f.handle("GET /users/"+alice+"/events/svc", reply(200, map[string]any{"id": "svc", "@odata.etag": `W/"v1"`, "type": "singleInstance", "subject": "Repair",
		"singleValueExtendedProperties": []map[string]any{{"id": propData, "value": `{"key":"sg-2","entity":"service_appointment","service":"Repair"}`}}}))
	f.handle("GET /users/"+alice+"/events/left", reply(200, map[string]any{"id": "left", "@odata.etag": `W/"l1"`, "type": "singleInstance"}))
	base := f.srv.URL + "/v1.0/users/" + alice + "/calendarView/delta"
	f.handle("GET /users/"+alice+"/calendarView/delta", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("$deltatoken") == "" && r.URL.Query().Get("startDateTime") == "" {
			t.Errorf("a calendar round started without a window: %s", r.URL.RawQuery)
		}
		reply(200, deltaPageJSON(deltaValue, "", base+"?$deltatoken=next"))(w, r)
	})
}

// TestCalendarRound: occurrences and an exception fold into their series
// master, read once; a service appointment is told apart by its data; an
// @removed entry is confirmed (404: deleted, still there: out of the
// window), and a delete of a known service appointment keeps its entity.
func TestCalendarRound(t *testing.T) {
	f := newFakeGraph(t)
	calendarMailbox(t, f, []map[string]any{
		{"id": "occ1", "type": "occurrence", "seriesMasterId": "master"},
		{"id": "exc1", "type": "exception", "seriesMasterId": "master"},
		{"id": "single", "type": "singleInstance"},
		{"id": "svc", "type": "singleInstance"},
		{"id": "left", "@removed": map[string]any{"reason": "deleted"}},
		{"id": "gone", "@removed": map[string]any{"reason": "deleted"}},
		{"id": "gone-svc", "@removed": map[string]any{"reason": "deleted"}},
	})
	c := f.connector(t, nil)
	s, _ := c.state()
	rememberServiceAppointment(t.Context(), s, alice, "gone-svc")
	recs, cursor := drain(t, c, sdk.Feed{Name: feedCalendar, Scope: alice}, nil, 3)
	got := map[string]string{}
	for _, r := range recs {
		got[r.ID] = r.Entity + " " + r.Kind.String() + " " + r.CorrelationKey
	}
	want := map[string]string{
		"master": "appointment upsert sg-1", "single": "appointment upsert ", "svc": "service_appointment upsert sg-2",
		"left": "appointment scope_exit ", "gone": "appointment delete ", "gone-svc": "service_appointment delete ",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(recs) != len(want) {
		t.Errorf("records\n got %v\nwant %v", got, want)
	}
	if n := f.requestCount("GET", "/users/"+alice+"/events/master"); n != 2 {
		t.Errorf("the series master was read %d times in the round, want once (and once for its cancelled occurrences)", n)
	}
	var cur cursorState
	json.Unmarshal(cursor, &cur)
	if !strings.Contains(cur.Link, "deltatoken=next") || cur.Day == "" {
		t.Errorf("cursor %+v", cur)
	}
}

// TestRecurrenceFolding: the master's Fetch carries the pattern, the
// exception (moved and renamed) and the cancelled occurrence.
func TestRecurrenceFolding(t *testing.T) {
	f := newFakeGraph(t)
	calendarMailbox(t, f, nil)
	c := f.connector(t, nil)
	c.Now = func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	c.Configure(t.Context(), sdk.Env{KV: newMemKV()}, f.config())
	res, _ := c.Fetch(t.Context(), alice, "appointment", []string{"master"})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	fields := res[0].Record.Fields
	if ds := sdk.Validate("appointment", fields); ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	rec := fields["recurrence"].MapVal()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if rec["pattern"].Str() != "weekly" || rec["range"].Str() != "end_date" || rec["end_date"].Str() != "2030-03-25" || rec["zone"].Str() != "Europe/Berlin" {
		t.Errorf("pattern %v", fields["recurrence"])
	}
	ex := rec["exceptions"].ListVal()
	if len(ex) != 1 || ex[0].MapVal()["subject"].Str() != "Standup (moved)" || ex[0].MapVal()["start"].TimeVal().UTC().Hour() != 10 ||
		!ex[0].MapVal()["original_start"].TimeVal().Equal(time.Date(2030, 1, 14, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("exceptions %v", rec["exceptions"])
	}
	cancelled := rec["cancelled"].ListVal()
	if len(cancelled) != 1 || !cancelled[0].TimeVal().Equal(time.Date(2030, 1, 21, 9, 0, 0, 0, berlin)) {
		t.Errorf("cancelled %v, want 2030-01-21 09:00 Berlin", rec["cancelled"])
	}
	if fields["start"].Zone() != "Europe/Berlin" || fields["ical_uid"].Str() != "uid-standup" {
		t.Errorf("start %v, ical_uid %v", fields["start"], fields["ical_uid"])
	}
	// And back: the pattern written to Graph.
	back := recurrenceBody(fields["recurrence"], "Europe/Berlin")
	if back.Pattern.Type != "weekly" || back.Range.Type != "endDate" || back.Range.RecurrenceTimeZone != "W. Europe Standard Time" || back.Pattern.DaysOfWeek[0] != "monday" {
		t.Errorf("written back as %+v", back)
	}
}

// TestCalendarWindowMoves: a cursor from an earlier day starts a new round
// over the moved window instead of following its delta link, whose window
// is fixed.
func TestCalendarWindowMoves(t *testing.T) {
	f := newFakeGraph(t)
	var queries []string
	base := f.srv.URL + "/v1.0/users/" + alice + "/calendarView/delta"
	f.handle("GET /users/"+alice+"/calendarView/delta", func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		reply(200, deltaPageJSON(nil, "", base+"?$deltatoken=t"+fmt.Sprint(len(queries))))(w, r)
	})
	day := time.Date(2030, 5, 10, 12, 0, 0, 0, time.UTC)
	c := f.connector(t, nil)
	c.Now = func() time.Time { return day }
	c.Configure(t.Context(), sdk.Env{KV: newMemKV()}, f.config())
	feed := sdk.Feed{Name: feedCalendar, Scope: alice}
	_, cur := drain(t, c, feed, nil, 10)
	_, cur = drain(t, c, feed, cur, 10) // same day: the delta link
	day = day.Add(24 * time.Hour)
	drain(t, c, feed, cur, 10) // next day: the old window's last changes, then a new window
	if len(queries) != 4 || !strings.Contains(queries[0], "startDateTime=2030-04-10") || !strings.Contains(queries[1], "deltatoken=t1") ||
		!strings.Contains(queries[2], "deltatoken=t2") ||
		!strings.Contains(queries[3], "startDateTime=2030-04-11") || !strings.Contains(queries[3], "endDateTime=2031-05-11") {
		t.Errorf("queries %q", queries)
	}
}

// TestServiceAppointmentWrite: a service appointment is written as the
// resource's own event: no attendees reach Graph (no invitation), and the
// marker and service fields ride in the syncgate data. An appointment's
// attendees reach Graph only when invitations are allowed.
func TestServiceAppointmentWrite(t *testing.T) {
	for _, tc := range []struct {
		entity      string
		invitations bool
		graphList   bool
	}{
		{"service_appointment", true, false},
		{"appointment", false, false},
		{"appointment", true, true},
	} {
		f := newFakeGraph(t)
		var sent map[string]any
		f.handle("POST /users/"+alice+"/events", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			json.Unmarshal(b, &sent)
			reply(201, map[string]any{"id": "e1", "@odata.etag": `W/"1"`})(w, r)
		})
		c := f.connector(t, sdk.Fields{"send_invitations": sdk.Bool(tc.invitations)})
		fields := sdk.Fields{"subject": sdk.String("Repair"),
			"attendees": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("bob@example.com"), "role": sdk.String("required")}))}
		if tc.entity == "service_appointment" {
			fields["resources"] = sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String(alice), "role": sdk.String("resource")}))
			fields["service"] = sdk.String("Repair")
		}
		res, _ := c.Apply(t.Context(), alice, tc.entity, []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "sg-9", Fields: fields}})
		if res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
		_, hasList := sent["attendees"]
		props := fmt.Sprint(sent["singleValueExtendedProperties"])
		if hasList != tc.graphList {
			t.Errorf("%s (invitations %v): attendees sent to Graph: %v", tc.entity, tc.invitations, sent["attendees"])
		}
		if !strings.Contains(props, "sg-9") || (tc.entity == "service_appointment") != strings.Contains(props, `"entity":"service_appointment"`) {
			t.Errorf("%s: properties %s", tc.entity, props)
		}
		if !tc.graphList && !strings.Contains(props, "bob@example.com") {
			t.Errorf("%s: attendees kept nowhere: %s", tc.entity, props)
		}
		s, _ := c.state()
		if isServiceAppointment(t.Context(), s, alice, "e1") != (tc.entity == "service_appointment") {
			t.Errorf("%s: remembered as a service appointment: %v", tc.entity, !(tc.entity == "service_appointment"))
		}
	}
}
