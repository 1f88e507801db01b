package graphemu

import (
	"strings"
	"testing"
	"time"
)

func TestTodoTasks(t *testing.T) {
	en := newEnv(t, Options{})
	base := "/v1.0/users/" + alice
	lists := en.do("GET", base+"/todo/lists", nil).must(t, 200).values()
	if len(lists) != 1 || lists[0]["wellknownListName"] != "defaultList" {
		t.Fatalf("lists %v", lists)
	}
	checkSchema(t, "todoTaskList", lists[0])
	lid := str(lists[0]["id"])
	tasks := base + "/todo/lists/" + lid + "/tasks"

	c := en.postFixture("todotask-create.json", tasks).must(t, 201)
	checkShape(t, "todotask-create.json", c.body, nil)
	checkSchema(t, "todoTask", c.body)
	if _, has := c.body["changeKey"]; has {
		t.Error("a todoTask has no changeKey")
	}
	lr := c.body["linkedResources"].([]any)[0].(map[string]any)
	if lr["webUrl"] != "http://microsoft.com" || str(lr["id"]) == "" {
		t.Errorf("linked resource %v", lr)
	}
	id := str(c.body["id"])

	u := en.postFixture("todotask-update.json", tasks+"/"+id).must(t, 200)
	checkShape(t, "todotask-update.json", u.body, nil)
	checkSchema(t, "todoTask", u.body)
	if due := u.body["dueDateTime"].(map[string]any); due["dateTime"] != "2020-07-25T20:00:00.0000000" || due["timeZone"] != "UTC" {
		t.Errorf("dueDateTime is stored in UTC: %v", due)
	}
	if u.body["@odata.etag"] == c.body["@odata.etag"] {
		t.Error("the etag did not change")
	}
	if r := en.do("PATCH", tasks+"/"+id, map[string]any{"title": "x"}, "If-Match", str(c.body["@odata.etag"])).must(t, 412); r.errCode() != "ErrorIrresolvableConflict" {
		t.Errorf("stale If-Match: %s", r.raw)
	}
	done := en.do("PATCH", tasks+"/"+id, map[string]any{"status": "Completed"}).must(t, 200)
	if done.body["status"] != "completed" || done.body["completedDateTime"] == nil {
		t.Errorf("completing: %v", done.body)
	}

	// Linked resources on their own.
	lrs := tasks + "/" + id + "/linkedResources"
	n := en.do("POST", lrs, map[string]any{"webUrl": "https://crm.example/contact/7", "applicationName": "syncgate", "externalId": "sg-7"}).must(t, 201)
	checkSchema(t, "linkedResource", n.body)
	if got := en.do("GET", lrs, nil).must(t, 200).values(); len(got) != 2 {
		t.Fatalf("linkedResources %v", got)
	}
	en.do("PATCH", lrs+"/"+str(n.body["id"]), map[string]any{"displayName": "CRM"}).must(t, 200)
	if got := en.do("GET", lrs+"/"+str(n.body["id"]), nil).must(t, 200); got.body["displayName"] != "CRM" || got.body["externalId"] != "sg-7" {
		t.Fatalf("linked resource after PATCH %v", got.body)
	}
	exp := en.do("GET", tasks+"/"+id+"?$expand=linkedResources", nil).must(t, 200)
	checkSchema(t, "todoTask", exp.body)
	if l, _ := exp.body["linkedResources"].([]any); len(l) != 2 {
		t.Fatalf("$expand=linkedResources %v", exp.body["linkedResources"])
	}
	en.do("DELETE", lrs+"/"+str(n.body["id"]), nil).must(t, 204)
	en.do("GET", lrs+"/"+str(n.body["id"]), nil).must(t, 404)
	en.do("POST", lrs, map[string]any{"webUrl": "x", "color": "red"}).must(t, 400)

	en.do("GET", base+"/todo/lists/nope/tasks", nil).must(t, 404)
	en.do("DELETE", tasks+"/"+id, nil).must(t, 204)
	en.do("GET", tasks+"/"+id, nil).must(t, 404)
}

func TestTodoTasksDelta(t *testing.T) {
	en := newEnv(t, Options{})
	tasks := "/v1.0/users/" + alice + "/todo/lists/" + en.emu.mailboxes[0].listID + "/tasks"
	a := str(en.do("POST", tasks, map[string]any{"title": "a"}).must(t, 201).body["id"])
	b := str(en.do("POST", tasks, map[string]any{"title": "b"}).must(t, 201).body["id"])
	pages, link := en.round(tasks+"/delta", "Prefer", "odata.maxpagesize=1")
	if len(pages) != 2 || len(flat(pages)) != 2 {
		t.Fatalf("first round %v", pages)
	}
	en.do("PATCH", tasks+"/"+a, map[string]any{"title": "a2"}).must(t, 200)
	en.do("DELETE", tasks+"/"+b, nil).must(t, 204)
	r := en.do("GET", link, nil).must(t, 200)
	checkShape(t, "todotasks-delta-next-round.json", r.body, nil)
	got := map[string]string{}
	for _, v := range r.values() {
		got[str(v["id"])] = firstNonEmpty(removed(v), str(v["title"]))
		if removed(v) == "" {
			checkSchema(t, "todoTask", v)
		}
	}
	if got[a] != "a2" || got[b] != "deleted" || len(got) != 2 {
		t.Fatalf("next round %v", got)
	}
	pages, _ = en.round(tasks + "/delta?$select=title")
	for _, v := range flat(pages) {
		if _, has := v["status"]; has || v["title"] != "a2" {
			t.Fatalf("$select=title: %v", v)
		}
	}
}

func TestSeed(t *testing.T) {
	en := newEnv(t, Options{Seed: true, Users: []string{alice}})
	base := "/v1.0/users/" + alice
	if n := len(en.do("GET", base+"/contacts", nil).must(t, 200).values()); n != 3 {
		t.Errorf("%d seeded contacts", n)
	}
	if n := len(en.do("GET", base+"/todo/lists/"+en.emu.mailboxes[0].listID+"/tasks", nil).must(t, 200).values()); n != 2 {
		t.Errorf("%d seeded tasks", n)
	}
	now := time.Now().UTC()
	from, to := now.AddDate(0, 0, -8).Format(time.RFC3339), now.AddDate(0, 0, 80).Format(time.RFC3339)
	view, _ := en.pages(base+"/calendarView?startDateTime="+from+"&endDateTime="+to, "Prefer", "odata.maxpagesize=50")
	types := map[string]int{}
	for _, v := range view {
		types[str(v["type"])]++
		checkSchema(t, "event", v)
	}
	if types["exception"] != 1 || types["occurrence"] != 9 || types["singleInstance"] != 1 {
		t.Fatalf("seeded calendar %v", types)
	}
	for _, v := range view {
		if v["type"] == "exception" && !strings.Contains(str(v["subject"]), "moved") {
			t.Errorf("exception %v", v["subject"])
		}
	}
}
