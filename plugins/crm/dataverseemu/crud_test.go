package dataverseemu

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestContactCreateReadUpdateDelete(t *testing.T) {
	h := newHarness(t, Options{})
	alice, bob := h.e.UserID("alice@example.com"), h.e.UserID("bob@example.com")
	if alice == "" || bob == "" || alice == bob || h.e.UserID("nobody@example.com") != "" {
		t.Fatalf("user ids %q %q", alice, bob)
	}
	id := h.create("contacts", map[string]any{
		"firstname": "Ada", "lastname": "Lovelace", "emailaddress1": "ada@example.org",
		"birthdate": "1815-12-10", "address1_city": "London", "sg_syncgateid": "sg-1",
	})
	r := h.do("GET", api+"contacts("+id+")?$select=fullname,birthdate,_ownerid_value,sg_syncgateid,versionnumber,modifiedon,createdon,statecode,address1_composite", nil).must(t, 200)
	if r.str("fullname") != "Ada Lovelace" || r.str("birthdate") != "1815-12-10" || r.str("sg_syncgateid") != "sg-1" {
		t.Errorf("read back %s", r.raw)
	}
	if r.str("_ownerid_value") != alice {
		t.Errorf("owner %q, want the first user %q when not impersonating", r.str("_ownerid_value"), alice)
	}
	if r.header.Get("ETag") != r.str("@odata.etag") || r.str("@odata.etag") != `W/"`+fmt.Sprint(r.get("versionnumber"))+`"` {
		t.Errorf("ETag %q, @odata.etag %q, versionnumber %v", r.header.Get("ETag"), r.str("@odata.etag"), r.get("versionnumber"))
	}
	if !strings.HasSuffix(r.str("@odata.context"), "$metadata#contacts(fullname,birthdate,_ownerid_value,sg_syncgateid,versionnumber,modifiedon,createdon,statecode,address1_composite)/$entity") {
		t.Errorf("context %s", r.str("@odata.context"))
	}
	v1, _ := strconv.ParseInt(fmt.Sprint(r.get("versionnumber")), 10, 64)

	// an update of another table still moves the org-wide version on
	h.create("tasks", map[string]any{"subject": "x"})
	up := h.do("PATCH", api+"contacts("+id+")?$select=lastname,versionnumber,fullname", map[string]any{"lastname": "King", "ownerid@odata.bind": "/systemusers(" + bob + ")"},
		"Prefer", "return=representation").must(t, 200)
	v2, _ := strconv.ParseInt(fmt.Sprint(up.get("versionnumber")), 10, 64)
	if v2 <= v1+1 || up.str("fullname") != "Ada King" || up.header.Get("Preference-Applied") != "return=representation" {
		t.Errorf("after update: versions %d → %d, body %s", v1, v2, up.raw)
	}
	if o := h.do("GET", api+"contacts("+id+")?$select=_ownerid_value", nil).str("_ownerid_value"); o != bob {
		t.Errorf("owner after PATCH of ownerid@odata.bind: %q, want %q", o, bob)
	}
	h.do("DELETE", api+"contacts("+id+")", nil).must(t, 204)
	h.do("GET", api+"contacts("+id+")", nil).wantError(t, 404, codeNotExist, "contact With Id = "+id+" Does Not Exist")
	h.do("DELETE", api+"contacts("+id+")", nil).must(t, 404)
}

func TestCreateReturnRepresentation(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.do("POST", api+"contacts?$select=firstname,contactid", map[string]any{"firstname": "Grace"}, "Prefer", "return=representation").must(t, 201)
	if r.str("firstname") != "Grace" || !guidRe.MatchString(r.str("contactid")) || r.header.Get("OData-EntityId") != "" {
		t.Errorf("201 body %s, OData-EntityId %q", r.raw, r.header.Get("OData-EntityId"))
	}
	if len(r.body) != 4 { // @odata.context, @odata.etag, firstname, contactid
		t.Errorf("members %v, want only the selected ones", r.body)
	}
}

func TestBodyValidation(t *testing.T) {
	h := newHarness(t, Options{})
	h.do("POST", api+"contacts", map[string]any{"firstname": "A", "x": 1}).
		wantError(t, 400, codeQuery, "The property 'x' does not exist on type 'Microsoft.Dynamics.CRM.contact'.")
	h.do("POST", api+"contacts", map[string]any{"telephone1": 5}).
		wantError(t, 400, codePayload, "Cannot convert the literal '5' to the expected type 'Edm.String'")
	h.do("POST", api+"tasks", map[string]any{"percentcomplete": "half"}).
		wantError(t, 400, codePayload, "'Edm.Int32'")
	h.do("POST", api+"appointments", map[string]any{"scheduledstart": "tomorrow"}).
		wantError(t, 400, codePayload, "'Edm.DateTimeOffset'")
	h.do("POST", api+"contacts", map[string]any{"_ownerid_value": h.e.UserID("bob@example.com")}).
		wantError(t, 400, codeQuery, "Use Navigation properties instead")
	h.do("POST", api+"contacts", map[string]any{"nosuch@odata.bind": "/contacts(" + acc1 + ")"}).
		wantError(t, 400, codeQuery, "An undeclared property 'nosuch'")
	h.do("POST", api+"contacts", map[string]any{"ownerid@odata.bind": "/systemusers(" + acc1 + ")"}).
		wantError(t, 400, codeNotExist, "systemuser With Id = "+acc1+" Does Not Exist")
	h.do("POST", api+"contacts", map[string]any{"ownerid@odata.bind": "/contacts(" + acc1 + ")"}).
		wantError(t, 400, codePayload, `"/systemusers(<id>)"`)
	h.do("POST", api+"contacts", "[1]").wantError(t, 400, codePayload, "JSON object")
	h.do("POST", api+"contacts?$select=nope", map[string]any{"firstname": "A"}, "Prefer", "return=representation").
		wantError(t, 400, codeQuery, "Could not find a property named 'nope'")
	if n := len(h.do("GET", api+"contacts", nil).values()); n != 0 {
		t.Errorf("%d contacts stored by rejected requests", n)
	}
	// computed columns are ignored on write, as the service does
	id := h.create("contacts", map[string]any{"firstname": "A", "fullname": "Z", "versionnumber": 1})
	if r := h.do("GET", api+"contacts("+id+")?$select=fullname,versionnumber", nil); r.str("fullname") != "A" || fmt.Sprint(r.get("versionnumber")) == "1" {
		t.Errorf("computed columns written: %s", r.raw)
	}
}

func TestQueryOptions(t *testing.T) {
	h := newHarness(t, Options{})
	bob := h.e.UserID("bob@example.com")
	for i, n := range []string{"Ada", "Alan", "Grace", "Ada"} {
		h.create("contacts", map[string]any{"firstname": n, "lastname": fmt.Sprint("L", i), "sg_syncgateid": fmt.Sprint("sg-", i), "jobtitle": "O'Brien"})
	}
	h.create("contacts", map[string]any{"firstname": "Bobs", "ownerid@odata.bind": "/systemusers(" + bob + ")"})
	count := func(q string) int {
		t.Helper()
		return len(h.do("GET", api+"contacts?"+q, nil).must(t, 200).values())
	}
	if n := count("$filter=firstname eq 'ada'"); n != 2 {
		t.Errorf("eq (case-insensitive): %d, want 2", n)
	}
	if n := count("$filter=firstname eq 'Ada' and lastname eq 'L3'"); n != 1 {
		t.Errorf("and: %d", n)
	}
	if n := count("$filter=sg_syncgateid eq 'sg-1' or sg_syncgateid eq 'sg-2' or sg_syncgateid eq 'none'"); n != 2 {
		t.Errorf("or: %d", n)
	}
	if n := count("$filter=(firstname eq 'Ada' or firstname eq 'Alan') and not (lastname eq 'L0')"); n != 2 {
		t.Errorf("parentheses and not: %d", n)
	}
	if n := count("$filter=_ownerid_value eq " + bob); n != 1 {
		t.Errorf("lookup eq guid: %d", n)
	}
	if n := count("$filter=jobtitle eq 'O''Brien'"); n != 4 {
		t.Errorf("escaped quote: %d", n)
	}
	if n := count("$filter=emailaddress1 eq null"); n != 5 {
		t.Errorf("eq null: %d", n)
	}
	if n := count("$top=2"); n != 2 {
		t.Errorf("$top: %d", n)
	}
	r := h.do("GET", api+"contacts?$select=firstname&$orderby=firstname desc,lastname&$count=true", nil).must(t, 200)
	v := r.values()
	if fmt.Sprint(r.get("@odata.count")) != "5" || v[0]["firstname"] != "Grace" || v[4]["firstname"] != "Ada" || len(v[0]) != 3 {
		t.Errorf("$orderby/$count/$select: %s", r.raw)
	}
	c := h.do("GET", api+"contacts/$count?$filter=firstname eq 'Ada'", nil).must(t, 200)
	if string(c.raw) != "2" {
		t.Errorf("/$count = %q, want 2", c.raw)
	}
	e := h.do("GET", api+"contacts?$select=firstname&$expand=ownerid($select=fullname,internalemailaddress)&$filter=firstname eq 'Bobs'", nil).must(t, 200)
	if o := e.values()[0]["ownerid"].(map[string]any); o["internalemailaddress"] != "bob@example.com" || o["systemuserid"] != bob {
		t.Errorf("$expand=ownerid: %s", e.raw)
	}
	for q, msg := range map[string]string{
		"$select=firstname,x":             "Could not find a property named 'x' on type 'Microsoft.Dynamics.CRM.contact'.",
		"$filter=x eq 1":                  "Could not find a property named 'x'",
		"$filter=contains(firstname,'A')": "does not support the function 'contains'",
		"$filter=firstname eq 1":          "incompatible types",
		"$filter=firstname eq":            "Syntax error",
		"$filter=firstname eq 'a":         "unterminated",
		"$expand=nothing":                 "Could not find a property named 'nothing'",
		"$orderby=x":                      "Could not find a property named 'x'",
		"$skip=2":                         "$skip is not supported",
		"$count=maybe":                    "Invalid value 'maybe' for $count",
		"$skiptoken=garbage":              "not a paging cookie",
		"$expand=ownerid($select=x)":      "on type 'Microsoft.Dynamics.CRM.systemuser'",
		"$filter=firstname eq 'a' xor b":  "unexpected 'xor'",
		"$filter=(firstname eq 'a'":       "missing ')'",
		"$expand=ownerid($levels=2)":      "not supported inside $expand",
	} {
		h.do("GET", api+"contacts?"+q, nil).wantError(t, 400, codeQuery, msg)
	}
}

func TestConditionalOperationsAndUpsert(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.create("contacts", map[string]any{"firstname": "A"})
	tag := h.do("GET", api+"contacts("+id+")", nil).must(t, 200).header.Get("ETag")
	h.do("GET", api+"contacts("+id+")", nil, "If-None-Match", tag).must(t, 304)
	h.do("GET", api+"contacts("+id+")?$expand=ownerid", nil, "If-None-Match", tag).must(t, 200) // never 304 with $expand
	h.do("PATCH", api+"contacts("+id+")", map[string]any{"firstname": "B"}, "If-Match", tag).must(t, 204)
	h.do("GET", api+"contacts("+id+")", nil, "If-None-Match", tag).must(t, 200)
	h.do("PATCH", api+"contacts("+id+")", map[string]any{"firstname": "C"}, "If-Match", tag).
		wantError(t, 412, "", "The version of the existing record doesn't match the RowVersion property provided.")
	h.do("DELETE", api+"contacts("+id+")", nil, "If-Match", tag).must(t, 412)
	h.do("PATCH", api+"contacts("+id+")", map[string]any{"firstname": "C"}, "If-None-Match", "*").
		wantError(t, 412, "", "A record with matching key values already exists.")
	h.do("PATCH", api+"contacts("+acc1+")", map[string]any{"firstname": "C"}, "If-Match", "*").
		wantError(t, 404, "", "contact With Id = "+acc1+" Does Not Exist")

	// upsert: PATCH of a missing key creates the row with that key
	h.do("PATCH", api+"contacts("+acc1+")", map[string]any{"firstname": "New"}, "If-None-Match", "*").must(t, 204)
	if r := h.do("GET", api+"contacts("+acc1+")?$select=firstname", nil).must(t, 200); r.str("firstname") != "New" {
		t.Errorf("upsert create: %s", r.raw)
	}
	r := h.do("PATCH", api+"contacts(00000000-0000-0000-0000-000000000009)?$select=firstname", map[string]any{"firstname": "Rep"}, "Prefer", "return=representation").must(t, 201)
	if r.str("contactid") != "00000000-0000-0000-0000-000000000009" {
		t.Errorf("upsert with representation: %s", r.raw)
	}
	cur := h.do("GET", api+"contacts("+acc1+")", nil).header.Get("ETag")
	h.do("DELETE", api+"contacts("+acc1+")", nil, "If-Match", cur).must(t, 204)
	// POST with an existing key is a duplicate
	h.do("POST", api+"contacts", map[string]any{"contactid": "00000000-0000-0000-0000-000000000009"}).
		wantError(t, 412, codeDuplicate, "already exists")
	// single-column PUT and DELETE
	h.do("PUT", api+"contacts(00000000-0000-0000-0000-000000000009)/jobtitle", map[string]any{"value": "CEO"}).must(t, 204)
	if v := h.do("GET", api+"contacts(00000000-0000-0000-0000-000000000009)/jobtitle", nil).must(t, 200).str("value"); v != "CEO" {
		t.Errorf("single column: %q", v)
	}
	h.do("PUT", api+"contacts(00000000-0000-0000-0000-000000000009)/jobtitle", map[string]any{"v": 1}).wantError(t, 400, codePayload, `{"value": <new value>}`)
	h.do("PUT", api+"contacts(00000000-0000-0000-0000-000000000009)/fullname", map[string]any{"value": "x"}).must(t, 400)
	h.do("DELETE", api+"contacts(00000000-0000-0000-0000-000000000009)/jobtitle", nil).must(t, 204)
}

func TestImpersonation(t *testing.T) {
	h := newHarness(t, Options{})
	bob := h.e.UserID("bob@example.com")
	var oid string
	for _, u := range h.e.Users() {
		if u.Email == "bob@example.com" {
			oid = u.ObjectID
		}
	}
	a := h.create("contacts", map[string]any{"firstname": "A"}, "CallerObjectId", oid)
	b := h.create("contacts", map[string]any{"firstname": "B"}, "MSCRMCallerID", bob)
	for _, id := range []string{a, b} {
		if o := h.do("GET", api+"contacts("+id+")?$select=_ownerid_value", nil).str("_ownerid_value"); o != bob {
			t.Errorf("owner of a row created as bob: %q, want %q", o, bob)
		}
	}
	h.do("GET", api+"contacts", nil, "CallerObjectId", acc1).wantError(t, 400, codeNotExist, "CallerObjectId")
	h.do("GET", api+"contacts", nil, "MSCRMCallerID", acc1).wantError(t, 400, codeNotExist, "MSCRMCallerID")
}

func TestCustomIDColumn(t *testing.T) {
	h := newHarness(t, Options{IDColumn: "new_sgid"})
	h.do("POST", api+"contacts", map[string]any{"sg_syncgateid": "x"}).must(t, 400)
	h.create("appointments", map[string]any{"new_sgid": "x"})
	if n := len(h.do("GET", api+"appointments?$filter=new_sgid eq 'x'", nil).must(t, 200).values()); n != 1 {
		t.Errorf("filter on the custom id column: %d", n)
	}
}

func TestFilterComparisons(t *testing.T) {
	h := newHarness(t, Options{})
	for i, due := range []string{"2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z", "2026-03-03T10:00:00Z"} {
		h.create("tasks", map[string]any{"subject": fmt.Sprint("T", i), "scheduledend": due, "percentcomplete": i * 50})
	}
	h.create("tasks", map[string]any{"subject": "no date"})
	for q, want := range map[string]int{
		"scheduledend gt 2026-03-01T10:00:00Z":                         2,
		"scheduledend ge 2026-03-01T10:00:00Z":                         3,
		"scheduledend lt 2026-03-03T10:00:00Z":                         2,
		"scheduledend le '2026-03-03T10:00:00Z'":                       3,
		"percentcomplete ge 50":                                        2,
		"percentcomplete ne 50":                                        3, // null ne 50 holds
		"percentcomplete gt 10 and percentcomplete lt 100":             1,
		"subject ne null":                                              4,
		"isregularactivity eq true and statecode eq 0":                 4,
		"scheduledend gt 2026-03-01T10:00:00Z or scheduledend eq null": 3,
	} {
		if n := len(h.do("GET", api+"tasks?$filter="+q, nil).must(t, 200).values()); n != want {
			t.Errorf("$filter=%s: %d rows, want %d", q, n, want)
		}
	}
	h.do("GET", api+"tasks?$filter=isregularactivity eq 'yes'", nil).wantError(t, 400, codeQuery, "incompatible types")
}

func TestBindForms(t *testing.T) {
	h := newHarness(t, Options{})
	bob := h.e.UserID("bob@example.com")
	// an absolute URI works as well as a relative one
	id := h.create("contacts", map[string]any{"ownerid@odata.bind": h.srv.URL + "/api/data/v9.2/systemusers(" + bob + ")"})
	if o := h.do("GET", api+"contacts("+id+")?$select=_ownerid_value", nil).str("_ownerid_value"); o != bob {
		t.Errorf("owner from an absolute URI: %q", o)
	}
	task := h.create("tasks", map[string]any{"regardingobjectid_contact_task@odata.bind": "/contacts(" + id + ")"})
	h.do("PATCH", api+"tasks("+task+")", map[string]any{"regardingobjectid_contact_task@odata.bind": nil}).must(t, 204)
	if v := h.do("GET", api+"tasks("+task+")?$select=_regardingobjectid_value", nil).get("_regardingobjectid_value"); v != nil {
		t.Errorf("regarding after binding null: %v", v)
	}
	h.do("PATCH", api+"contacts("+id+")", map[string]any{"ownerid@odata.bind": nil}).wantError(t, 400, codePayload, "ownerid cannot be cleared")
	h.do("POST", api+"tasks", map[string]any{"regardingobjectid_contact_task@odata.bind": "contacts"}).wantError(t, 400, codePayload, "must be a string like")
	h.do("POST", api+"accounts", map[string]any{"Account_Tasks@odata.bind": "/tasks(" + task + ")"}).wantError(t, 400, codePayload, "must be an array")
	h.do("POST", api+"accounts", map[string]any{"Account_Tasks@odata.bind": []any{"/contacts(" + id + ")"}}).wantError(t, 400, codePayload, "items must be strings")
	h.do("POST", api+"accounts", map[string]any{"primarycontactid": "x"}).wantError(t, 400, codePayload, "needs an object")
	h.do("POST", api+"accounts", map[string]any{"Account_Tasks": map[string]any{}}).wantError(t, 400, codePayload, "needs an array")
	// a lead is not an emulated table: the binding is kept as given
	lead := "00000000-0000-0000-0000-00000000000a"
	t2 := h.create("tasks", map[string]any{"regardingobjectid_lead_task@odata.bind": "/leads(" + lead + ")"})
	if v := h.do("GET", api+"tasks("+t2+")?$select=_regardingobjectid_value", nil).str("_regardingobjectid_value"); v != lead {
		t.Errorf("regarding a lead: %q", v)
	}
}
