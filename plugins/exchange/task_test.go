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

func TestTaskFixtures(t *testing.T) {
	for _, name := range []string{"todotask-create.json", "todotask-update.json"} {
		t.Run(name, func(t *testing.T) {
			fx := loadFixture(t, name)
			var gt graphTask
			if err := json.Unmarshal(fx.Response.Body, &gt); err != nil {
				t.Fatal(err)
			}
			f := taskFields(&gt)
			if ds := sdk.Validate("task", f); ds.HasErrors() {
				t.Errorf("not canonical: %v", ds.Err())
			}
			if gt.ETag == "" || f["subject"].Str() == "" || f["status"].Str() != "not_started" {
				t.Errorf("etag %q, fields %v", gt.ETag, f)
			}
		})
	}
	fx := loadFixture(t, "todotask-update.json")
	var gt graphTask
	json.Unmarshal(fx.Response.Body, &gt)
	if due := taskFields(&gt)["due"]; !due.TimeVal().Equal(time.Date(2020, 8, 25, 4, 0, 0, 0, time.UTC)) || due.Zone() != "" {
		t.Errorf("due %v: To Do answers in UTC", due)
	}
	fx = loadFixture(t, "todotasks-delta-next-round.json")
	var p deltaPage
	if err := json.Unmarshal(fx.Response.Body, &p); err != nil || p.DeltaLink == "" || len(p.Value) != 1 {
		t.Fatalf("delta page: %v %+v", err, p)
	}
}

func TestTaskRoundTrip(t *testing.T) {
	due := time.Date(2030, 3, 1, 14, 0, 0, 0, time.UTC)
	in := sdk.Fields{
		"subject": sdk.String("Call back"), "body": sdk.String("<p>x</p>"), "body_type": sdk.String("html"),
		"due": sdk.Time(due), "start": sdk.Time(due.Add(-time.Hour)), "reminder": sdk.Time(due.Add(-2 * time.Hour)),
		"status": sdk.String("waiting"), "importance": sdk.String("high"), "categories": sdk.Strings("Tracked to CRM"),
	}
	b, _ := json.Marshal(taskBody(in))
	var gt graphTask
	if err := json.Unmarshal(b, &gt); err != nil {
		t.Fatal(err)
	}
	if out := taskFields(&gt); !out.Equal(in) {
		t.Errorf("round trip:\n in %v\nout %v", in, out)
	}
	if gt.Status != "waitingOnOthers" {
		t.Errorf("status written as %q", gt.Status)
	}
}

// taskMailbox scripts a mailbox's To Do lists.
func taskMailbox(f *fakeGraph) string {
	f.handle("GET /users/"+alice+"/todo/lists", reply(200, map[string]any{"value": []any{
		map[string]any{"id": "flagged", "displayName": "Flagged email", "wellknownListName": "flaggedEmails"},
		map[string]any{"id": "tasks1", "displayName": "Tasks", "wellknownListName": "defaultList"},
	}}))
	return "/users/" + alice + "/todo/lists/tasks1/tasks"
}

// TestTaskWrites: the syncgate id rides in a linked resource, a create
// that may exist finds it by walking the list, and versions are etags.
func TestTaskWrites(t *testing.T) {
	f := newFakeGraph(t)
	tasks := taskMailbox(f)
	var sent map[string]any
	f.handle("POST "+tasks, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &sent)
		reply(201, map[string]any{"id": "t-new", "@odata.etag": `W/"n1"`})(w, r)
	})
	f.handle("GET "+tasks, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("$skiptoken") == "" {
			reply(200, map[string]any{"value": []any{map[string]any{"id": "t1"}}, "@odata.nextLink": f.srv.URL + "/v1.0" + tasks + "?$skiptoken=2"})(w, r)
			return
		}
		reply(200, map[string]any{"value": []any{map[string]any{"id": "t2", "linkedResources": []any{
			map[string]any{"id": "lr", "applicationName": "syncgate", "externalId": "sg-old"}}}}})(w, r)
	})
	f.handle("GET "+tasks+"/t2", reply(200, map[string]any{"id": "t2", "@odata.etag": `W/"t2"`, "title": "x",
		"linkedResources": []any{map[string]any{"id": "lr", "applicationName": "syncgate", "externalId": "sg-old"}}}))
	c := f.connector(t, nil)
	res, err := c.Apply(t.Context(), alice, "task", []sdk.Op{
		{Kind: sdk.OpCreate, CorrelationKey: "sg-new", MayExist: true, Fields: sdk.Fields{"subject": sdk.String("A"),
			"regarding": sdk.Map(map[string]sdk.Value{"entity": sdk.String("account"), "id": sdk.String("42"), "name": sdk.String("Contoso")})}},
		{Kind: sdk.OpCreate, CorrelationKey: "sg-old", MayExist: true, Fields: sdk.Fields{"subject": sdk.String("B")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Err != nil || r.ID != "t-new" || r.Version != `W/"n1"` {
		t.Errorf("create: %+v", r)
	}
	if links := fmt.Sprint(sent["linkedResources"]); !strings.Contains(links, "externalId:sg-new") || !strings.Contains(links, "externalId:account/42") {
		t.Errorf("linked resources sent: %s", links)
	}
	if r := res[1]; r.Err != nil || r.ID != "t2" || r.Version != `W/"t2"` {
		t.Errorf("create that existed: %+v", r)
	}
	rec, _ := c.Fetch(t.Context(), alice, "task", []string{"t2"})
	if rec[0].Err != nil || rec[0].Record.CorrelationKey != "sg-old" {
		t.Errorf("fetch: %+v", rec[0])
	}
	if n := f.requestCount("GET", "/users/"+alice+"/todo/lists"); n != 1 {
		t.Errorf("the default list was resolved %d times", n)
	}
}

func TestNoDefaultTaskList(t *testing.T) {
	f := newFakeGraph(t)
	f.handle("GET /users/"+alice+"/todo/lists", reply(200, map[string]any{"value": []any{}}))
	_, err := f.connector(t, nil).GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: feedTasks, Scope: alice}})
	if !sdk.IsKind(err, sdk.ErrPermanent) || !strings.Contains(err.Error(), "no default To Do list") {
		t.Errorf("got %v", err)
	}
}

// TestTaskRound: the delta's tasks carry their etag as version and their
// syncgate id from the linked resource when the entry has it.
func TestTaskRound(t *testing.T) {
	f := newFakeGraph(t)
	tasks := taskMailbox(f)
	f.handle("GET "+tasks+"/delta", reply(200, deltaPageJSON([]map[string]any{
		{"id": "t1", "@odata.etag": `W/"e1"`, "title": "a", "linkedResources": []any{map[string]any{"applicationName": "syncgate", "externalId": "sg-1"}}},
		{"id": "t2", "@removed": map[string]any{"reason": "deleted"}},
	}, "", f.srv.URL+"/v1.0"+tasks+"/delta?$deltatoken=x")))
	recs, _ := drain(t, f.connector(t, nil), sdk.Feed{Name: feedTasks, Scope: alice}, nil, 10)
	if len(recs) != 2 || recs[0].Version != `W/"e1"` || recs[0].CorrelationKey != "sg-1" || recs[1].Kind != sdk.ChangeDelete {
		t.Errorf("records %+v", recs)
	}
}
