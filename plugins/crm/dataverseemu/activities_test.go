package dataverseemu

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

func partyBody(mask int, set, id string) map[string]any {
	return map[string]any{"participationtypemask": mask, "partyid_" + strings.TrimSuffix(set, "s") + "@odata.bind": "/" + set + "(" + id + ")"}
}

func TestAppointmentWithActivityParties(t *testing.T) {
	h := newHarness(t, Options{})
	alice, bob := h.e.UserID("alice@example.com"), h.e.UserID("bob@example.com")
	ada := h.create("contacts", map[string]any{"firstname": "Ada", "emailaddress1": "ada@example.org"})
	appt := h.create("appointments", map[string]any{
		"subject": "Review", "scheduledstart": "2026-03-02T09:00:00Z", "scheduledend": "2026-03-02T10:30:00+00:00",
		"globalobjectid": "040000008200E00074C5B7101A82E008", "sg_syncgateid": "sg-a",
		"appointment_activity_parties": []any{partyBody(7, "systemusers", alice), partyBody(5, "contacts", ada), partyBody(6, "systemusers", bob)},
	})
	r := h.do("GET", api+"appointments("+appt+")?$select=subject,instancetypecode,scheduleddurationminutes,activitytypecode&$expand=appointment_activity_parties($select=participationtypemask,_partyid_value)", nil).must(t, 200)
	if fmt.Sprint(r.get("instancetypecode")) != "0" || fmt.Sprint(r.get("scheduleddurationminutes")) != "90" || r.str("activitytypecode") != "appointment" {
		t.Errorf("appointment %s", r.raw)
	}
	parties := r.get("appointment_activity_parties").([]any)
	got := map[string]string{}
	for _, p := range parties {
		m := p.(map[string]any)
		if len(m) != 4 { // etag, two selected columns, activitypartyid
			t.Errorf("party members %v", m)
		}
		got[m["_partyid_value"].(string)] = fmt.Sprint(m["participationtypemask"])
	}
	if fmt.Sprint(got) != fmt.Sprint(map[string]string{alice: "7", ada: "5", bob: "6"}) {
		t.Errorf("parties %v", got)
	}
	if !strings.Contains(r.str("@odata.context"), "appointment_activity_parties(participationtypemask,_partyid_value)") {
		t.Errorf("context %s", r.str("@odata.context"))
	}

	// parties of several activities at once, as the connector fetches them
	other := h.create("serviceappointments", map[string]any{"subject": "Fix",
		"serviceappointment_activity_parties": []any{partyBody(10, "systemusers", bob), partyBody(11, "contacts", ada)}})
	all := h.do("GET", api+"activityparties?$select=participationtypemask,_partyid_value,_activityid_value,addressused&$filter=_activityid_value eq "+appt+" or _activityid_value eq "+other, nil).must(t, 200).values()
	if len(all) != 5 {
		t.Fatalf("parties of two activities: %d", len(all))
	}
	for _, p := range all {
		if p["_partyid_value"] == ada && p["addressused"] != "ada@example.org" {
			t.Errorf("addressused of a contact party: %v", p["addressused"])
		}
		if p["_partyid_value"] == bob && p["addressused"] != "bob@example.com" {
			t.Errorf("addressused of a user party: %v", p["addressused"])
		}
	}
	// which table a party is in, as the service tells when asked
	ann := h.do("GET", api+"activityparties?$select=_partyid_value&$filter=_activityid_value eq "+other, nil,
		"Prefer", `odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"`).must(t, 200).values()
	kinds := map[string]string{}
	for _, p := range ann {
		kinds[p["_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname"].(string)] = p["_partyid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"].(string)
	}
	if fmt.Sprint(kinds) != "map[contact:partyid_contact systemuser:partyid_systemuser]" {
		t.Errorf("lookup annotations %v", kinds)
	}
	for _, p := range ann {
		if _, ok := p["_partyid_value@OData.Community.Display.V1.FormattedValue"]; ok {
			t.Errorf("formatted value sent though not asked for: %v", p)
		}
	}
	// the regarding row of an activity, with every annotation
	task := h.create("tasks", map[string]any{"subject": "Call", "regardingobjectid_contact_task@odata.bind": "/contacts(" + ada + ")"})
	reg := h.do("GET", api+"tasks("+task+")?$select=_regardingobjectid_value", nil, "Prefer", `odata.include-annotations="*"`).must(t, 200)
	if reg.str("_regardingobjectid_value@OData.Community.Display.V1.FormattedValue") != "Ada" ||
		reg.str("_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname") != "contact" ||
		reg.str("_regardingobjectid_value@Microsoft.Dynamics.CRM.associatednavigationproperty") != "regardingobjectid_contact_task" {
		t.Errorf("regarding annotations %s", reg.raw)
	}
	if n := len(h.do("GET", api+"activityparties?$filter=participationtypemask eq 7 and _partyid_value eq "+alice, nil).must(t, 200).values()); n != 1 {
		t.Errorf("organizer parties of alice: %d", n)
	}
	if n := len(h.do("GET", api+"appointments("+appt+")/appointment_activity_parties", nil).must(t, 200).values()); n != 3 {
		t.Errorf("navigation GET: %d parties", n)
	}

	// a change of parties is a change of the appointment for change tracking
	_, delta, _ := deltaRound(t, h, api+"appointments?$select=subject", 100)
	h.do("PATCH", api+"appointments("+appt+")", map[string]any{
		"appointment_activity_parties": []any{partyBody(7, "systemusers", alice)},
	}).must(t, 204)
	rows, delta, _ := deltaRound(t, h, delta, 100)
	if len(rows) != 1 || rows[0]["activityid"] != appt {
		t.Errorf("delta after replacing parties: %v", rows)
	}
	if n := len(h.do("GET", api+"activityparties?$filter=_activityid_value eq "+appt, nil).values()); n != 1 {
		t.Errorf("parties after replacement: %d, want 1", n)
	}
	h.create("activityparties", map[string]any{"participationtypemask": 5,
		"partyid_contact@odata.bind": "/contacts(" + ada + ")", "activityid_appointment@odata.bind": "/appointments(" + appt + ")"})
	if rows, _, _ := deltaRound(t, h, delta, 100); len(rows) != 1 {
		t.Errorf("delta after adding a party directly: %v", rows)
	}
	// deleting the activity deletes its parties
	h.do("DELETE", api+"appointments("+appt+")", nil).must(t, 204)
	if n := len(h.do("GET", api+"activityparties?$filter=_activityid_value eq "+appt, nil).values()); n != 0 {
		t.Errorf("parties left after the appointment was deleted: %d", n)
	}
	h.do("POST", api+"appointments", map[string]any{"appointment_activity_parties": []any{map[string]any{"participationtypemask": "x"}}}).must(t, 400)
	h.do("POST", api+"appointments", map[string]any{"appointment_activity_parties": []any{partyBody(5, "contacts", acc1)}}).wantError(t, 400, codeNotExist, "Does Not Exist")
}

func TestTaskColumns(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.create("tasks", map[string]any{"subject": "Do", "description": "it", "scheduledend": "2026-04-01T17:00:00Z",
		"percentcomplete": 40, "prioritycode": 2, "sg_syncgateid": "sg-t"})
	h.do("PATCH", api+"tasks("+id+")", map[string]any{"statecode": 1, "statuscode": 5, "actualend": "2026-04-01T16:00:00Z", "percentcomplete": 100}).must(t, 204)
	r := h.do("GET", api+"tasks("+id+")?$select=subject,scheduledend,actualend,percentcomplete,prioritycode,statecode,statuscode,sg_syncgateid", nil).must(t, 200)
	if r.str("actualend") != "2026-04-01T16:00:00Z" || fmt.Sprint(r.get("statecode")) != "1" || fmt.Sprint(r.get("percentcomplete")) != "100" {
		t.Errorf("task %s", r.raw)
	}
}

func weekly(extra map[string]any) map[string]any {
	m := map[string]any{
		"subject": "Stand-up", "location": "Room 7",
		"recurrencepatterntype": 1, "interval": 1, "daysofweekmask": 2 | 8, // Monday, Wednesday
		"patternstartdate": "2026-03-02T00:00:00Z", "patternendtype": 2, "occurrences": 5,
		"starttime": "2026-03-02T09:30:00Z", "duration": 15,
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func instanceStarts(t *testing.T, h *harness, master string) []string {
	t.Helper()
	rows := h.do("GET", api+"appointments?$select=scheduledstart,scheduledend,seriesid,instancetypecode,subject,_ownerid_value&$filter=seriesid eq "+master+"&$orderby=scheduledstart", nil).must(t, 200).values()
	var out []string
	for _, r := range rows {
		if fmt.Sprint(r["instancetypecode"]) != "2" || r["subject"] != "Stand-up" {
			t.Errorf("instance %v", r)
		}
		out = append(out, r["scheduledstart"].(string)[:16])
	}
	return out
}

func TestRecurringMasterExpandsInstances(t *testing.T) {
	h := newHarness(t, Options{})
	bob := h.e.UserID("bob@example.com")
	_, delta, _ := deltaRound(t, h, api+"appointments?$select=subject,seriesid", 100)
	master := h.create("recurringappointmentmasters", weekly(map[string]any{
		"ownerid@odata.bind":                          "/systemusers(" + bob + ")",
		"recurringappointmentmaster_activity_parties": []any{partyBody(7, "systemusers", bob)},
	}))
	want := "[2026-03-02T09:30 2026-03-04T09:30 2026-03-09T09:30 2026-03-11T09:30 2026-03-16T09:30]"
	if got := fmt.Sprint(instanceStarts(t, h, master)); got != want {
		t.Fatalf("instances %s, want %s", got, want)
	}
	m := h.do("GET", api+"recurringappointmentmasters("+master+")?$select=instancetypecode,effectivestartdate,effectiveenddate,seriesid", nil).must(t, 200)
	if fmt.Sprint(m.get("instancetypecode")) != "1" || m.str("effectivestartdate") != "2026-03-02T09:30:00Z" || m.str("effectiveenddate") != "2026-03-16T09:45:00Z" {
		t.Errorf("master %s", m.raw)
	}
	inst := h.do("GET", api+"appointments?$filter=seriesid eq "+master+"&$select=scheduledend,_ownerid_value&$expand=appointment_activity_parties($select=_partyid_value)", nil).values()
	if inst[0]["_ownerid_value"] != bob || len(inst[0]["appointment_activity_parties"].([]any)) != 1 {
		t.Errorf("instance does not carry the master's owner and parties: %v", inst[0])
	}
	rows, delta, _ := deltaRound(t, h, delta, 100)
	if len(rows) != 5 {
		t.Errorf("appointments delta after creating a series: %d entries, want the 5 instances", len(rows))
	}

	// updating the pattern regenerates the instances
	h.do("PATCH", api+"recurringappointmentmasters("+master+")", map[string]any{"occurrences": 2, "daysofweekmask": 32}).must(t, 204) // Friday
	if got := fmt.Sprint(instanceStarts(t, h, master)); got != "[2026-03-06T09:30 2026-03-13T09:30]" {
		t.Errorf("instances after update %s", got)
	}
	rows, delta, _ = deltaRound(t, h, delta, 100)
	deleted := 0
	for _, r := range rows {
		if r["reason"] == "deleted" {
			deleted++
		}
	}
	if deleted != 5 || len(rows) != 7 {
		t.Errorf("delta after regenerating: %d entries, %d deleted", len(rows), deleted)
	}
	// deleting the master deletes the instances
	h.do("DELETE", api+"recurringappointmentmasters("+master+")", nil).must(t, 204)
	if got := instanceStarts(t, h, master); len(got) != 0 {
		t.Errorf("instances left: %v", got)
	}
	if rows, _, _ := deltaRound(t, h, delta, 100); len(rows) != 2 {
		t.Errorf("delta after deleting the series: %v", rows)
	}
}

func TestRecurrencePatterns(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	cases := []struct {
		name string
		s    series
		want string
	}{
		{"every other day until a date", series{kind: patternDaily, interval: 2, start: day("2026-03-01"), endType: endByDate, end: day("2026-03-08").Add(23 * time.Hour)},
			"[03-01 03-03 03-05 03-07]"},
		{"weekdays", series{kind: patternDaily, interval: 1, weekdays: true, start: day("2026-03-06"), endType: endOccurrences, occurrences: 3},
			"[03-06 03-09 03-10]"},
		{"every second week on Tuesday", series{kind: patternWeekly, interval: 2, mask: 4, start: day("2026-03-02"), endType: endOccurrences, occurrences: 3},
			"[03-03 03-17 03-31]"},
		{"monthly on the 31st skips short months", series{kind: patternMonthly, interval: 1, dayOfMonth: 31, start: day("2026-01-01"), endType: endOccurrences, occurrences: 3},
			"[01-31 03-31 05-31]"},
		{"second Tuesday of the month", series{kind: patternMonthly, interval: 1, nthMonthly: true, instance: 2, mask: 4, start: day("2026-03-01"), endType: endOccurrences, occurrences: 2},
			"[03-10 04-14]"},
		{"last Friday of the month", series{kind: patternMonthly, interval: 1, nthMonthly: true, instance: 5, mask: 32, start: day("2026-03-01"), endType: endOccurrences, occurrences: 2},
			"[03-27 04-24]"},
		{"yearly on 4 July", series{kind: patternYearly, interval: 1, month: 7, dayOfMonth: 4, start: day("2026-01-01"), endType: endOccurrences, occurrences: 2},
			"[07-04 07-04]"},
		{"fourth Thursday of November", series{kind: patternYearly, interval: 1, nthYearly: true, month: 11, instance: 4, mask: 16, start: day("2026-01-01"), endType: endOccurrences, occurrences: 1},
			"[11-26]"},
	}
	for _, c := range cases {
		var got []string
		for _, d := range c.s.dates() {
			got = append(got, d.Format("01-02"))
		}
		if fmt.Sprint(got) != c.want {
			t.Errorf("%s: %v, want %s", c.name, got, c.want)
		}
	}
	// a series without an end is expanded one year ahead
	open := series{kind: patternWeekly, interval: 1, mask: 2, start: day("2026-01-05"), endType: endNoEndDate}
	if n := len(open.dates()); n != 53 {
		t.Errorf("weekly series without end: %d instances in the window, want 53", n)
	}
}

func TestSeed(t *testing.T) {
	e := New(Options{Users: []string{"alice@example.com", "bob.smith@example.com"}, Seed: true})
	count := func(set string) int { return len(e.data[set].rows) }
	got := fmt.Sprint(count("contacts"), count("appointments"), count("recurringappointmentmasters"), count("tasks"), count("serviceappointments"), count("systemusers"))
	if got != "6 16 2 4 2 2" { // 2 single appointments and 6 instances per user
		t.Errorf("seeded counts %s", got)
	}
	var names []string
	for _, u := range e.Users() {
		names = append(names, u.FullName)
	}
	sort.Strings(names)
	if fmt.Sprint(names) != "[Alice Bob Smith]" {
		t.Errorf("user names %v", names)
	}
	for _, r := range e.data["contacts"].rows {
		if r.vals["_ownerid_value"] != e.UserID("alice@example.com") && r.vals["_ownerid_value"] != e.UserID("bob.smith@example.com") {
			t.Errorf("seeded contact owned by %v", r.vals["_ownerid_value"])
		}
	}
	if New(Options{Users: []string{"alice@example.com"}}).UserID("alice@example.com") != e.UserID("alice@example.com") {
		t.Error("a user's systemuserid changes between emulators")
	}
}

// TestExpandPartiesOfManyAppointments checks that each appointment of a page
// gets its own parties, also after writes between reads.
func TestExpandPartiesOfManyAppointments(t *testing.T) {
	h := newHarness(t, Options{})
	alice := h.e.UserID("alice@example.com")
	want := map[string]int{}
	for i := 0; i < 60; i++ {
		var parties []any
		for j := 0; j <= i%4; j++ {
			parties = append(parties, partyBody(5, "systemusers", alice))
		}
		want[h.create("appointments", map[string]any{"subject": fmt.Sprint(i), "appointment_activity_parties": parties})] = i%4 + 1
	}
	check := func() {
		t.Helper()
		rows := h.do("GET", api+"appointments?$select=subject&$expand=appointment_activity_parties($select=participationtypemask)", nil).must(t, 200).values()
		if len(rows) != len(want) {
			t.Fatalf("%d appointments, want %d", len(rows), len(want))
		}
		for _, r := range rows {
			if n := len(r["appointment_activity_parties"].([]any)); n != want[r["activityid"].(string)] {
				t.Fatalf("appointment %v has %d parties, want %d", r["subject"], n, want[r["activityid"].(string)])
			}
		}
	}
	check()
	for id := range want {
		h.do("PATCH", api+"appointments("+id+")", map[string]any{"appointment_activity_parties": []any{partyBody(7, "systemusers", alice)}}).must(t, 204)
		want[id] = 1
		break
	}
	check()
}

// TestSeriesBasicUpdateAndExceptions follows the documented rules: basic
// information of the master flows to the instances (same ids), an edited
// instance becomes an exception that keeps its own values.
func TestSeriesBasicUpdateAndExceptions(t *testing.T) {
	h := newHarness(t, Options{})
	alice, bob := h.e.UserID("alice@example.com"), h.e.UserID("bob@example.com")
	master := h.create("recurringappointmentmasters", weekly(map[string]any{
		"recurringappointmentmaster_activity_parties": []any{partyBody(7, "systemusers", alice)},
	}))
	list := func() []map[string]any {
		return h.do("GET", api+"appointments?$select=subject,location,instancetypecode&$filter=seriesid eq "+master+"&$expand=appointment_activity_parties($select=_partyid_value)", nil).must(t, 200).values()
	}
	before := list()
	edited := before[0]["activityid"].(string)
	h.do("PATCH", api+"appointments("+edited+")", map[string]any{"location": "Moved"}).must(t, 204)
	if r := h.do("GET", api+"appointments("+edited+")?$select=instancetypecode", nil); fmt.Sprint(r.get("instancetypecode")) != "3" {
		t.Errorf("edited instance: %s, want instancetypecode 3 (Recurring Exception)", r.raw)
	}
	_, delta, _ := deltaRound(t, h, api+"appointments?$select=subject", 100)
	h.do("PATCH", api+"recurringappointmentmasters("+master+")", map[string]any{
		"location": "Room 9",
		"recurringappointmentmaster_activity_parties": []any{partyBody(7, "systemusers", alice), partyBody(5, "systemusers", bob)},
	}).must(t, 204)
	after := list()
	if len(after) != len(before) {
		t.Fatalf("%d instances after a basic update, want %d", len(after), len(before))
	}
	for i, r := range after {
		if r["activityid"] != before[i]["activityid"] {
			t.Errorf("instance %d changed id on a basic update", i)
		}
		parties := len(r["appointment_activity_parties"].([]any))
		if r["activityid"] == edited {
			if r["location"] != "Moved" || parties != 1 {
				t.Errorf("the exception was overwritten: %v", r)
			}
			continue
		}
		if r["location"] != "Room 9" || parties != 2 || fmt.Sprint(r["instancetypecode"]) != "2" {
			t.Errorf("instance after a basic update of the series: %v", r)
		}
	}
	rows, _, _ := deltaRound(t, h, delta, 100)
	for _, r := range rows {
		if r["reason"] == "deleted" {
			t.Errorf("a basic update deleted instance %v", r["id"])
		}
	}
	if len(rows) != len(before)-1 {
		t.Errorf("delta after a basic update: %d changes, want %d", len(rows), len(before)-1)
	}
}
