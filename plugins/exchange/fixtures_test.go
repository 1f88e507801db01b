package exchange

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// notOurs lists the Graph samples the connector has no use for, and why.
var notOurs = map[string]string{
	"messages-delta-changetype-next-round.json":   "mail is not synced yet",
	"messages-delta-changetype-page1.json":        "mail is not synced yet",
	"messages-delta-changetype-page2-final.json":  "mail is not synced yet",
	"messages-delta-next-round-removed.json":      "mail is not synced yet",
	"messages-delta-page1.json":                   "mail is not synced yet",
	"messages-delta-page2.json":                   "mail is not synced yet",
	"messages-delta-page3-final.json":             "mail is not synced yet",
	"subscription-delete.json":                    "subscriptions are renewed or replaced, never deleted",
	"notification-message-created.json":           "a mail notification; its shape is checked in TestValidationFixture",
	"event-delta-reference-nextlink.json":         "placeholder values only; parsed in TestEventFixtures",
	"extended-property-expand-get.json":           "a message; the property lookup is checked in TestEventFixtures",
	"subscription-validation.json":                "checked in TestValidationFixture",
	"notification-lifecycle.json":                 "checked in TestValidationFixture",
	"contact-update.json":                         "checked in TestContactFixtures; replayed below as the PATCH answer",
	"todotasks-delta-next-round.json":             "replayed below",
	"error-429-throttled.json":                    "replayed in TestThrottledFixture",
	"event-create-multiple-locations.json":        "parsed in TestEventFixtures",
	"event-create-recurring.json":                 "parsed in TestEventFixtures",
	"events-delta-page2.json":                     "replayed below with page 1",
	"events-delta-page3-final.json":               "replayed below with page 1",
	"subscription-create-with-lifecycle-url.json": "replayed below with subscription-create.json",
}

// TestEveryGraphFixture replays each documented sample that concerns the
// connector through a scripted Graph, as the answer to the request the
// connector makes, and checks what the connector makes of it. Every file in
// the folder is either replayed here or named in notOurs with a reason.
func TestEveryGraphFixture(t *testing.T) {
	entries, err := os.ReadDir(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	replayed := map[string]func(t *testing.T){
		"contact-get.json":    replayContactGet,
		"contact-create.json": replayContactCreate,
		"extended-property-create-on-existing-message.json": replayPatchWithoutBody,
		"contacts-delta-page.json":                          replayContactsDeltaWithoutIDs,
		"error-501-delta-unsupported-property.json":         replayError(sdk.ErrPermanent, "NotImplemented"),
		"error-example-invalidrange.json":                   replayError(sdk.ErrPermanent, "invalidRange"),
		"event-create.json":                                 replayEventCreate,
		"event-update.json":                                 replayEventUpdate,
		"events-delta-page1.json":                           replayEventsRound,
		"events-delta-next-round-removed.json":              replayEventsNextRound,
		"extended-property-create-with-new-event.json":      replayExtendedPropertyShape,
		"subscription-create.json":                          replaySubscriptionCreate,
		"subscription-renew.json":                           replaySubscriptionRenew,
		"todotask-create.json":                              replayTaskCreate,
		"todotask-update.json":                              replayTaskUpdate,
	}
	for _, e := range entries {
		name := e.Name()
		if replay, ok := replayed[name]; ok {
			t.Run(name, replay)
		} else if notOurs[name] == "" {
			t.Errorf("fixture %s is neither replayed nor listed as not concerning the connector", name)
		}
	}
}

// rehost points the sample's Graph links at the scripted Graph.
func rehost(f *fakeGraph, body json.RawMessage) string {
	s := strings.ReplaceAll(string(body), "https://graph.microsoft.com/v1.0/me/", f.srv.URL+"/v1.0/users/"+alice+"/")
	return strings.ReplaceAll(s, "https://graph.microsoft.com/v1.0/", f.srv.URL+"/v1.0/")
}

func replayContactGet(t *testing.T) {
	fx := loadFixture(t, "contact-get.json")
	f := newFakeGraph(t)
	f.handle("GET /users/"+alice+"/contacts/*", serveFixture(fx))
	res, _ := f.connector(t, nil).Fetch(t.Context(), alice, "contact", []string{"c1"})
	if res[0].Err != nil || res[0].Record.Version != `W/"EQAAABYAAAAiIsqMbYjsT5e/T7KzowPTAAAYc8Bf"` || res[0].Record.Fields["display_name"].IsNull() {
		t.Errorf("%+v", res[0])
	}
}

// replayContactCreate: the documented 201 has no etag, so the version is
// read back.
func replayContactCreate(t *testing.T) {
	fx := loadFixture(t, "contact-create.json")
	f := newFakeGraph(t)
	f.handle("POST /users/"+alice+"/contacts", serveFixture(fx))
	f.handle("GET /users/"+alice+"/contacts/*", serveFixture(loadFixture(t, "contact-get.json")))
	var req graphContact
	json.Unmarshal(fx.Request.Body, &req)
	res, _ := f.connector(t, nil).Apply(t.Context(), alice, "contact", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "k", Fields: contactFields(&req)}})
	if res[0].Err != nil || res[0].ID != "id-value" || res[0].Version == "" {
		t.Errorf("%+v", res[0])
	}
}

// replayPatchWithoutBody: a PATCH answered 200 without a body (as the
// extended property sample shows) has its version read back; the contact
// update sample's answer carries its changeKey.
func replayPatchWithoutBody(t *testing.T) {
	for _, tc := range []struct{ answer, want string }{
		{"extended-property-create-on-existing-message.json", `W/"EQAAABYAAAAiIsqMbYjsT5e/T7KzowPTAAAYc8Bf"`},
		{"contact-update.json", `W/"EQAAABYAAACd9nJ/tVysQos2hTfspaWRAAADTIa4"`},
	} {
		f := newFakeGraph(t)
		f.handle("PATCH /users/"+alice+"/contacts/*", serveFixture(loadFixture(t, tc.answer)))
		f.handle("GET /users/"+alice+"/contacts/*", serveFixture(loadFixture(t, "contact-get.json")))
		res, _ := f.connector(t, nil).Apply(t.Context(), alice, "contact", []sdk.Op{{Kind: sdk.OpUpdate, ID: "c1", IfMatch: `W/"x"`, Fields: sdk.Fields{"job_title": sdk.String("CEO")}}})
		if res[0].Err != nil || res[0].Version != tc.want {
			t.Errorf("%s: %+v, want version %s", tc.answer, res[0], tc.want)
		}
	}
}

// replayContactsDeltaWithoutIDs: the sample page omits every id (the docs
// truncate it); an entry without an id cannot be synced, and says so.
func replayContactsDeltaWithoutIDs(t *testing.T) {
	fx := loadFixture(t, "contacts-delta-page.json")
	f := newFakeGraph(t)
	contactsMailbox(f)
	f.handle("GET /users/"+alice+"/contactFolders/folder1/contacts/delta", reply(200, rehost(f, fx.Response.Body)))
	_, err := f.connector(t, nil).GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: feedContacts, Scope: alice}})
	if !sdk.IsKind(err, sdk.ErrRetryable) || !strings.Contains(err.Error(), "without an id") {
		t.Errorf("got %v", err)
	}
}

func replayError(kind sdk.ErrorKind, code string) func(t *testing.T) {
	return func(t *testing.T) {
		name := map[string]string{"NotImplemented": "error-501-delta-unsupported-property.json", "invalidRange": "error-example-invalidrange.json"}[code]
		fx := loadFixture(t, name)
		status := 400 // the docs give the body without a status
		if fx.Response.Status != nil {
			status = *fx.Response.Status
		}
		f := newFakeGraph(t)
		f.handle("GET /users/"+alice+"/contacts/*", reply(status, string(fx.Response.Body)))
		res, _ := f.connector(t, nil).Fetch(t.Context(), alice, "contact", []string{"c1"})
		if e := res[0].Err; e == nil || e.Kind != kind || !strings.Contains(e.Message, code) {
			t.Errorf("got %v, want %s naming %s", e, kind, code)
		}
	}
}

func replayEventCreate(t *testing.T) {
	fx := loadFixture(t, "event-create.json")
	f := newFakeGraph(t)
	var sent map[string]any
	f.handle("POST /users/"+alice+"/events", capture(&sent, serveFixture(fx)))
	var req graphEvent
	json.Unmarshal(fx.Request.Body, &req)
	fields := eventFields(&req, "appointment")
	res, _ := f.connector(t, nil).Apply(t.Context(), alice, "appointment", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "k", Fields: fields}})
	var resp graphEvent
	json.Unmarshal(fx.Response.Body, &resp)
	if res[0].Err != nil || res[0].ID != resp.ID || res[0].Version != resp.ETag {
		t.Errorf("%+v", res[0])
	}
	var docs map[string]any
	json.Unmarshal(fx.Request.Body, &docs)
	for _, k := range []string{"subject", "start", "end"} {
		if fmt.Sprint(sent[k]) != fmt.Sprint(docs[k]) {
			t.Errorf("%s: sent %v, the documented request has %v", k, sent[k], docs[k])
		}
	}
}

// replayEventUpdate: the sample answer has no etag; the version is read
// back from the event.
func replayEventUpdate(t *testing.T) {
	f := newFakeGraph(t)
	f.handle("PATCH /users/"+alice+"/events/*", serveFixture(loadFixture(t, "event-update.json")))
	f.handle("GET /users/"+alice+"/events/*", serveFixture(loadFixture(t, "event-create.json")))
	res, _ := f.connector(t, nil).Apply(t.Context(), alice, "appointment", []sdk.Op{{Kind: sdk.OpUpdate, ID: "e1", IfMatch: `W/"x"`, Fields: sdk.Fields{"reminder_minutes": sdk.Int(99)}}})
	if res[0].Err != nil || !strings.HasPrefix(res[0].Version, `W/"`) {
		t.Errorf("%+v", res[0])
	}
}

// replayEventsRound replays the three pages of the documented first round
// (each nextLink followed, the deltaLink kept as the cursor), reading each
// event once for its syncgate data.
func replayEventsRound(t *testing.T) {
	pages := []fixture{loadFixture(t, "events-delta-page1.json"), loadFixture(t, "events-delta-page2.json"), loadFixture(t, "events-delta-page3-final.json")}
	f := newFakeGraph(t)
	f.handle("GET /users/"+alice+"/calendarView/delta", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("$skiptoken") {
		case "":
			reply(200, rehost(f, pages[0].Response.Body))(w, r)
		case "R0usmcCM996atia_s":
			reply(200, rehost(f, pages[1].Response.Body))(w, r)
		default:
			reply(200, rehost(f, pages[2].Response.Body))(w, r)
		}
	})
	f.handle("GET /users/"+alice+"/events/*", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		reply(200, map[string]any{"id": id, "@odata.etag": `W/"` + id + `"`, "type": "singleInstance"})(w, r)
	})
	recs, cursor := drain(t, f.connector(t, nil), sdk.Feed{Name: feedCalendar, Scope: alice}, nil, 10)
	want := 0
	for _, p := range pages {
		var dp deltaPage
		json.Unmarshal(p.Response.Body, &dp)
		want += len(dp.Value)
	}
	if len(recs) != want || want == 0 {
		t.Errorf("%d records from %d documented events", len(recs), want)
	}
	if !strings.Contains(string(cursor), "deltatoken") {
		t.Errorf("cursor %s", cursor)
	}
}

// replayEventsNextRound: the next round's @removed entry is confirmed
// deleted (404), the changed event is an upsert.
func replayEventsNextRound(t *testing.T) {
	fx := loadFixture(t, "events-delta-next-round-removed.json")
	f := newFakeGraph(t)
	f.handle("GET /users/"+alice+"/calendarView/delta", reply(200, rehost(f, fx.Response.Body)))
	f.handle("GET /users/"+alice+"/events/AAMkADj1HvAAA=", reply(200, map[string]any{"id": "AAMkADj1HvAAA=", "@odata.etag": `W/"EZ9r3czxY0m2jz8c45czkwAALZu97w=="`}))
	c := f.connector(t, nil)
	cur := encodeCursor(cursorState{Feed: feedCalendar, Mailbox: alice, Day: windowDay(c.st.Load().cfg, time.Now()),
		Link: f.srv.URL + "/v1.0/users/" + alice + "/calendarView/delta?$deltatoken=R0usmcMDNGg0J1E"})
	recs, _ := drain(t, c, sdk.Feed{Name: feedCalendar, Scope: alice}, cur, 10)
	got := map[string]sdk.ChangeKind{}
	for _, r := range recs {
		got[r.ID] = r.Kind
	}
	if len(recs) != 2 || got["AAMkADk0MGFkODE3LWE4MmYtNDRhOS04OGQLkRkXbBznTvAADb6ytyAAA="] != sdk.ChangeDelete || got["AAMkADj1HvAAA="] != sdk.ChangeUpsert {
		t.Errorf("records %+v", recs)
	}
}

// replayExtendedPropertyShape: the properties a create writes have the
// documented shape, {id, value} each.
func replayExtendedPropertyShape(t *testing.T) {
	fx := loadFixture(t, "extended-property-create-with-new-event.json")
	var docs struct {
		Props []map[string]any `json:"singleValueExtendedProperties"`
	}
	json.Unmarshal(fx.Request.Body, &docs)
	b, _ := json.Marshal(withData(map[string]any{}, eventData{Key: "k", Entity: "service_appointment"}))
	var ours struct {
		Props []map[string]any `json:"singleValueExtendedProperties"`
	}
	json.Unmarshal(b, &ours)
	if len(docs.Props) == 0 || len(ours.Props) != 2 {
		t.Fatalf("docs %v, ours %v", docs.Props, ours.Props)
	}
	for _, p := range ours.Props {
		if !slices.Equal(slices.Sorted(maps.Keys(p)), slices.Sorted(maps.Keys(docs.Props[0]))) || !strings.HasPrefix(p["id"].(string), "String {") {
			t.Errorf("property %v, documented %v", p, docs.Props[0])
		}
	}
}

// replaySubscriptionCreate: the connector's subscription request has the
// documented properties (lifecycle URL included), and keeps the id Graph
// answers.
func replaySubscriptionCreate(t *testing.T) {
	fx := loadFixture(t, "subscription-create.json")
	lifecycle := loadFixture(t, "subscription-create-with-lifecycle-url.json")
	f := newFakeGraph(t)
	contactsMailbox(f)
	f.handle("GET /users/"+alice+"/contactFolders/folder1/contacts/delta", reply(200, deltaPageJSON(nil, "", f.srv.URL+"/v1.0/x?$deltatoken=1")))
	var sent map[string]any
	f.handle("POST /subscriptions", capture(&sent, serveFixture(fx)))
	c, kv := f.notifying(t)
	drain(t, c, sdk.Feed{Name: feedContacts, Scope: alice}, nil, 10)
	var docs map[string]any
	json.Unmarshal(lifecycle.Request.Body, &docs)
	if !slices.Equal(slices.Sorted(maps.Keys(sent)), slices.Sorted(maps.Keys(docs))) {
		t.Errorf("subscription request %v, documented %v", slices.Sorted(maps.Keys(sent)), slices.Sorted(maps.Keys(docs)))
	}
	if _, ok, _ := kv.Get(t.Context(), subIDKey("7f105c7d-2dc5-4530-97cd-4e7ae6534c07")); !ok {
		t.Error("the documented subscription id is not kept")
	}
}

func replaySubscriptionRenew(t *testing.T) {
	fx := loadFixture(t, "subscription-renew.json")
	f := newFakeGraph(t)
	var sent map[string]any
	f.handle("PATCH /subscriptions/*", capture(&sent, serveFixture(fx)))
	c, _ := f.notifying(t)
	s := c.st.Load()
	putSubscription(t.Context(), s, subscription{ID: "7f105c7d", Mailbox: alice, Feed: feedContacts, ClientState: "x", Expires: time.Now().Add(time.Hour)})
	if err := c.ensureSubscription(t.Context(), s, alice, feedContacts, false); err != nil {
		t.Fatal(err)
	}
	var docs map[string]any
	json.Unmarshal(fx.Request.Body, &docs)
	if !slices.Equal(slices.Sorted(maps.Keys(sent)), slices.Sorted(maps.Keys(docs))) {
		t.Errorf("renewal %v, documented %v", sent, docs)
	}
}

func replayTaskCreate(t *testing.T) {
	fx := loadFixture(t, "todotask-create.json")
	f := newFakeGraph(t)
	tasks := taskMailbox(f)
	f.handle("POST "+tasks, serveFixture(fx))
	res, _ := f.connector(t, nil).Apply(t.Context(), alice, "task", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "k", Fields: sdk.Fields{"subject": sdk.String("A new task")}}})
	if res[0].Err != nil || res[0].ID != "AlMKXwbQAAAJws6wcAAAA=" || res[0].Version != `W/"xzyPKP0BiUGgld+lMKXwbQAAnBoTIw=="` {
		t.Errorf("%+v", res[0])
	}
}

func replayTaskUpdate(t *testing.T) {
	fx := loadFixture(t, "todotask-update.json")
	f := newFakeGraph(t)
	tasks := taskMailbox(f)
	var sent map[string]any
	f.handle("PATCH "+tasks+"/*", capture(&sent, serveFixture(fx)))
	f.handle("GET "+tasks+"/delta", reply(200, rehost(f, loadFixture(t, "todotasks-delta-next-round.json").Response.Body)))
	c := f.connector(t, nil)
	ny, _ := time.LoadLocation("America/New_York")
	res, _ := c.Apply(t.Context(), alice, "task", []sdk.Op{{Kind: sdk.OpUpdate, ID: "721a35e2-35e2-721a-e235-1a72e2351a72", IfMatch: `W/"x"`,
		Fields: sdk.Fields{"due": sdk.TimeIn(time.Date(2020, 7, 25, 16, 0, 0, 0, ny), "America/New_York")}}})
	if res[0].Err != nil || res[0].Version != `W/"s8/ERWT3WEeFpBGD0bDgAA+TWq9g=="` {
		t.Errorf("%+v", res[0])
	}
	var docs map[string]any
	json.Unmarshal(fx.Request.Body, &docs)
	if fmt.Sprint(sent["dueDateTime"]) != fmt.Sprint(docs["dueDateTime"]) {
		t.Errorf("due sent as %v, documented %v", sent["dueDateTime"], docs["dueDateTime"])
	}
	recs, _ := drain(t, c, sdk.Feed{Name: feedTasks, Scope: alice}, nil, 10)
	if len(recs) != 1 || recs[0].Version != `W/"4rfRVIPi9EqXgDbc8U7HGwADLLQ9xQ=="` {
		t.Errorf("the documented next round: %+v", recs)
	}
}
