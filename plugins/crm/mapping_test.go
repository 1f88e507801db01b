package crm

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/sdk"
)

// asRow passes a written row through JSON, as the Web API would return it.
func asRow(t *testing.T, r row) row {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var out row
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAppointmentStates: free/busy and the end of an appointment go to its
// state and status reason and back.
func TestAppointmentStates(t *testing.T) {
	c := New(manifestBytes(t))
	for _, tc := range []struct {
		in          sdk.Fields
		state, code int64
	}{
		{sdk.Fields{"show_as": sdk.String("free")}, 0, 1},
		{sdk.Fields{"show_as": sdk.String("tentative")}, 0, 2},
		{sdk.Fields{"show_as": sdk.String("busy")}, 3, 5},
		{sdk.Fields{"show_as": sdk.String("oof")}, 3, 6},
		{sdk.Fields{"show_as": sdk.String("busy"), "status": sdk.String("cancelled")}, 2, 4},
		{sdk.Fields{"status": sdk.String("completed")}, 1, 3},
	} {
		out, err := c.writeMeeting(tc.in, nil, appointmentTable)
		if err != nil {
			t.Fatal(err)
		}
		if out["statecode"] != tc.state || out["statuscode"] != tc.code {
			t.Errorf("%v: wrote %v/%v, want %d/%d", tc.in, out["statecode"], out["statuscode"], tc.state, tc.code)
			continue
		}
		back := c.readMeeting(asRow(t, out), nil, "scheduledstart", "scheduledend")
		for k, v := range tc.in {
			if k == "show_as" && tc.in["status"].Str() != "" {
				continue // a cancelled or completed appointment has no free/busy
			}
			if !back[k].Equal(v) {
				t.Errorf("%v: read back %s = %v", tc.in, k, back[k])
			}
		}
	}
	out, _ := c.writeMeeting(sdk.Fields{"show_as": sdk.String("busy")}, nil, seriesTable)
	if _, ok := out["statecode"]; ok {
		t.Error("a series' state was written")
	}
	if out, _ := c.writeMeeting(sdk.Fields{"subject": sdk.String("s")}, nil, appointmentTable); out["statecode"] != nil {
		t.Error("an update without show_as or status wrote the state")
	}
}

// TestTaskStatus goes through every task status.
func TestTaskStatus(t *testing.T) {
	c := New(manifestBytes(t))
	for _, s := range taskStatus {
		out, err := c.writeTask(taskTable, sdk.Fields{"status": sdk.String(s.name), "percent_complete": sdk.Int(40)})
		if err != nil {
			t.Fatal(err)
		}
		back := c.readTask(asRow(t, out))
		if back["status"].Str() != s.name || back["percent_complete"].IntVal() != 40 {
			t.Errorf("%s: read back %v", s.name, back)
		}
	}
	if _, err := c.writeTask(taskTable, sdk.Fields{"status": sdk.String("cancelled")}); !sdk.IsKind(err, sdk.ErrPermanent) {
		t.Errorf("an unknown status: %v", err)
	}
}

// TestContactLimits: what a Dataverse contact cannot hold is refused, not
// dropped; lists rewrite every column they span.
func TestContactLimits(t *testing.T) {
	mail := func(a string) sdk.Value { return sdk.Map(map[string]sdk.Value{"address": sdk.String(a)}) }
	phone := func(k string) sdk.Value {
		return sdk.Map(map[string]sdk.Value{"number": sdk.String("1"), "kind": sdk.String(k)})
	}
	addr := func(k string) sdk.Value {
		return sdk.Map(map[string]sdk.Value{"street": sdk.String("1 Main St\nFloor 2"), "city": sdk.String("Leeds"), "kind": sdk.String(k)})
	}
	for name, f := range map[string]sdk.Fields{
		"four e-mail addresses": {"emails": sdk.List(mail("a@x"), mail("b@x"), mail("c@x"), mail("d@x"))},
		"two business phones":   {"phones": sdk.List(phone("business"), phone("business"))},
		"a pager":               {"phones": sdk.List(phone("pager"))},
		"an other address":      {"addresses": sdk.List(addr("other"))},
		"two home addresses":    {"addresses": sdk.List(addr("home"), addr("home"))},
		"a number for a name":   {"given_name": sdk.Int(3)},
	} {
		if _, err := writeContact(f); !sdk.IsKind(err, sdk.ErrPermanent) {
			t.Errorf("%s: got %v, want a permanent error", name, err)
		}
	}
	out, err := writeContact(sdk.Fields{"emails": sdk.List(mail("a@x")), "addresses": sdk.List(addr("business"), addr("home"))})
	if err != nil {
		t.Fatal(err)
	}
	if out["emailaddress1"] != "a@x" || out["emailaddress2"] != nil || !hasKey(out, "emailaddress3") {
		t.Errorf("emails: %v; want the first slot set and the others cleared", out)
	}
	if out["address1_line1"] != "1 Main St" || out["address1_line2"] != "Floor 2" || out["address2_line1"] != "1 Main St\nFloor 2" {
		t.Errorf("addresses: %v", out)
	}
	back := readContact(asRow(t, out))
	if got := back["addresses"].ListVal(); len(got) != 2 || got[0].MapVal()["street"].Str() != "1 Main St\nFloor 2" || got[1].MapVal()["kind"].Str() != "home" {
		t.Errorf("addresses read back as %v", back["addresses"])
	}
}

// TestActivityCommon: importance, categories and regarding.
func TestActivityCommon(t *testing.T) {
	c := New(manifestBytes(t))
	const acct = "00000000-0000-0000-0000-0000000000ac"
	out, err := c.writeCommon(sdk.Fields{"importance": sdk.String("high"), "categories": sdk.Strings("Red", "Blue"),
		"regarding": sdk.Map(map[string]sdk.Value{"entity": sdk.String("account"), "id": sdk.String(acct)})}, taskTable)
	if err != nil {
		t.Fatal(err)
	}
	if out["prioritycode"] != 2 || out["category"] != "Red; Blue" || out["regardingobjectid_account_task@odata.bind"] != "/accounts("+acct+")" {
		t.Errorf("written %v", out)
	}
	r := asRow(t, out)
	r["_regardingobjectid_value"] = acct
	r["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] = "account"
	r["_regardingobjectid_value@OData.Community.Display.V1.FormattedValue"] = "Contoso"
	back, _ := c.readCommon(r)
	want := sdk.Map(map[string]sdk.Value{"entity": sdk.String("account"), "id": sdk.String(acct), "name": sdk.String("Contoso")})
	if !back["regarding"].Equal(want) || back["importance"].Str() != "high" || len(back["categories"].ListVal()) != 2 {
		t.Errorf("read back %v", back)
	}
	if _, err := c.writeCommon(sdk.Fields{"regarding": sdk.Map(map[string]sdk.Value{"entity": sdk.String("invoice"), "id": sdk.String(acct)})}, taskTable); !sdk.IsKind(err, sdk.ErrPermanent) {
		t.Errorf("regarding an invoice: %v", err)
	}
	if bodyType("<p>hi</p>") != "html" || bodyType("a < b > c") != "text" {
		t.Error("body type")
	}
}

func hasKey(r row, k string) bool { _, ok := r[k]; return ok }

// TestPartiesKeptOnUpdate: an update of the attendees sends the whole party
// list (the Web API replaces it), keeping the other parties as they were:
// bound to their contact, user or account when the org says which.
func TestPartiesKeptOnUpdate(t *testing.T) {
	const appt, contact = "00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000c1"
	var patched []byte
	f := newFake(t, withUsers(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/activityparties"):
			if !strings.Contains(r.Header.Get("Prefer"), "lookuplogicalname") {
				t.Error("parties read without the lookuplogicalname annotation")
			}
			fmt.Fprintf(w, `{"value":[
				{"_activityid_value":%[1]q,"participationtypemask":7,"_partyid_value":%[2]q,"_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"contact","addressused":"c@example.com"},
				{"_activityid_value":%[1]q,"participationtypemask":6,"addressused":"old@example.com"}]}`, appt, contact)
		case r.Method == http.MethodGet:
			w.Write([]byte(`{"value":[]}`))
		default:
			patched, _ = io.ReadAll(r.Body)
			fmt.Fprintf(w, `{"activityid":%q,"versionnumber":9}`, appt)
		}
	}))
	c := connectorFor(t, f)
	res, err := c.Apply(t.Context(), "alice@contoso.com", "appointment", []sdk.Op{{Kind: sdk.OpUpdate, ID: appt, IfMatch: "8",
		Fields: sdk.Fields{"attendees": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("alice@contoso.com"), "role": sdk.String("required")}))}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	var body struct {
		Parties []map[string]any `json:"appointment_activity_parties"`
	}
	json.Unmarshal(patched, &body)
	if len(body.Parties) != 2 {
		t.Fatalf("parties sent: %s; want the organizer kept and the one new attendee", patched)
	}
	if body.Parties[0]["partyid_contact@odata.bind"] != "/contacts("+contact+")" || body.Parties[0]["participationtypemask"] != float64(7) {
		t.Errorf("the organizer was not kept bound to its contact: %v", body.Parties[0])
	}
	if body.Parties[1]["partyid_systemuser@odata.bind"] != "/systemusers("+aliceID+")" || body.Parties[1]["participationtypemask"] != float64(5) {
		t.Errorf("the new attendee, a known user, is not bound to the user: %v", body.Parties[1])
	}
}

// TestPartyAddresses: a party bound to a user or contact without an
// addressused reads with the address of what it is bound to, and its name.
func TestPartyAddresses(t *testing.T) {
	const appt, contact = "00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000c1"
	f := newFake(t, withUsers(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/activityparties"):
			fmt.Fprintf(w, `{"value":[
				{"_activityid_value":%[1]q,"participationtypemask":5,"_partyid_value":%[2]q,"_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"contact","_partyid_value@OData.Community.Display.V1.FormattedValue":"Carla Contact"},
				{"_activityid_value":%[1]q,"participationtypemask":6,"addressused":"x@example.com"}]}`, appt, contact)
		case strings.HasSuffix(r.URL.Path, "/contacts"):
			if !strings.Contains(r.URL.Query().Get("$filter"), "contactid eq "+contact) {
				t.Errorf("contact lookup: %s", r.URL.RawQuery)
			}
			fmt.Fprintf(w, `{"value":[{"contactid":%q,"emailaddress1":"c@example.com"}]}`, contact)
		case r.URL.Query().Get("$top") == "1":
			w.Write([]byte(`{"value":[]}`))
		default:
			fmt.Fprintf(w, `{"activityid":%q,"versionnumber":9,"subject":"s"}`, appt)
		}
	}))
	c := connectorFor(t, f)
	res, err := c.Fetch(t.Context(), "alice@contoso.com", "appointment", []string{appt})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	att := res[0].Record.Fields["attendees"].ListVal()
	if len(att) != 2 || att[0].MapVal()["address"].Str() != "c@example.com" || att[0].MapVal()["name"].Str() != "Carla Contact" || att[1].MapVal()["role"].Str() != "optional" {
		t.Errorf("attendees %v", res[0].Record.Fields["attendees"])
	}
}
