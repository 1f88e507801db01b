package graphemu

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// receiver is a webhook endpoint: it answers validation requests as the
// docs say (or as misbehave says) and hands notification bodies over.
type receiver struct {
	srv       *httptest.Server
	got       chan map[string]any
	misbehave func(w http.ResponseWriter, token string) bool
	validated chan *http.Request
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: make(chan map[string]any, 64), validated: make(chan *http.Request, 64)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			rc.validated <- r
			if rc.misbehave != nil && rc.misbehave(w, tok) {
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, tok)
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			w.WriteHeader(400)
			return
		}
		body["_path"] = r.URL.Path
		rc.got <- body
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case b := <-rc.got:
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no notification arrived within 5 s")
	}
	return nil
}

// nextLike returns the next notification, checked: sent to path, in the
// shape of the fixture's request body, with schema properties only.
func (rc *receiver) nextLike(t *testing.T, path, fixtureName string) map[string]any {
	t.Helper()
	n := rc.next(t)
	if n["_path"] != path {
		t.Fatalf("notification went to %v, want %s", n["_path"], path)
	}
	delete(n, "_path")
	checkSchema(t, "changeNotificationCollection", n)
	for _, p := range shapeProblems(loadFixture(t, fixtureName).Request.Body, n, "", nil) {
		t.Errorf("%s: %s", fixtureName, p)
	}
	return n
}

func TestSubscriptions(t *testing.T) {
	en := newEnv(t, Options{})
	rc := newReceiver(t)
	exp := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339Nano)
	// The documented request, pointed at this receiver, a served resource
	// and a future expiration.
	create := loadFixture(t, "subscription-create-with-lifecycle-url.json").Request.Body.(map[string]any)
	create["changeType"] = "created,updated,deleted"
	create["notificationUrl"] = rc.srv.URL + "/notify"
	create["lifecycleNotificationUrl"] = rc.srv.URL + "/lifecycle"
	create["resource"] = "/users/" + alice + "/contacts"
	create["expirationDateTime"] = exp
	create["clientState"] = "secretClientValue"
	create["latestSupportedTlsVersion"] = "v1_2"
	s := en.do("POST", "/v1.0/subscriptions", create).must(t, 201)
	checkShape(t, "subscription-create.json", s.body, map[string]string{"notificationContentType": "not a v1.0 subscription property in graph-v1-schema.json; the emulator emits only schema properties"})
	checkSchema(t, "subscription", s.body)
	sid := str(s.body["id"])
	fv := loadFixture(t, "subscription-validation.json")
	for _, want := range []string{"/notify", "/lifecycle"} {
		v := <-rc.validated
		if v.Method != fv.Request.Method || v.Header.Get("Content-Type") != fv.Request.Headers["Content-Type"] || v.ContentLength > 0 {
			t.Errorf("validation request %s %s %q, want as in subscription-validation.json", v.Method, v.URL.Path, v.Header.Get("Content-Type"))
		}
		if v.URL.Path != want {
			t.Errorf("validated %s, want %s", v.URL.Path, want)
		}
	}

	c := en.do("POST", "/v1.0/users/"+alice+"/contacts", map[string]any{"givenName": "N"}).must(t, 201)
	n := rc.nextLike(t, "/notify", "notification-message-created.json")
	v := n["value"].([]any)[0].(map[string]any)
	rd := v["resourceData"].(map[string]any)
	if v["subscriptionId"] != sid || v["clientState"] != "secretClientValue" || v["changeType"] != "created" || rd["id"] != c.body["id"] || rd["@odata.etag"] != c.body["@odata.etag"] {
		t.Fatalf("notification %v", v)
	}
	en.do("PATCH", "/v1.0/users/"+alice+"/contacts/"+str(c.body["id"]), map[string]any{"surname": "M"}).must(t, 200)
	if v := rc.next(t)["value"].([]any)[0].(map[string]any); v["changeType"] != "updated" {
		t.Fatalf("second notification %v", v)
	}
	waitFor(t, func() bool { return en.emu.Counters().Notifications == 2 })

	// Another user's changes, and events, are not this subscription's.
	en.do("POST", "/v1.0/users/"+bob+"/contacts", map[string]any{"givenName": "B"}).must(t, 201)
	// Dropped notifications never arrive; the next one does.
	en.emu.SetFaults(Faults{DropNotifications: true})
	en.do("POST", "/v1.0/users/"+alice+"/contacts", map[string]any{"givenName": "Dropped"}).must(t, 201)
	en.emu.SetFaults(Faults{})
	d := en.do("POST", "/v1.0/users/"+alice+"/contacts", map[string]any{"givenName": "Kept"}).must(t, 201)
	if v := rc.next(t)["value"].([]any)[0].(map[string]any); v["resourceData"].(map[string]any)["id"] != d.body["id"] {
		t.Fatalf("after a bob change and a dropped one, got %v", v)
	}

	// Renewal.
	newExp := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339Nano)
	fr := loadFixture(t, "subscription-renew.json")
	body := fr.Request.Body.(map[string]any)
	body["expirationDateTime"] = newExp
	ren := en.do("PATCH", "/v1.0/subscriptions/"+sid, body).must(t, 200)
	checkShape(t, "subscription-renew.json", ren.body, nil)
	checkSchema(t, "subscription", ren.body)
	if got, _ := time.Parse(time.RFC3339Nano, str(ren.body["expirationDateTime"])); got.Sub(time.Now()) < 71*time.Hour {
		t.Fatalf("renewed to %v", ren.body["expirationDateTime"])
	}
	if r := en.do("PATCH", "/v1.0/subscriptions/"+sid, map[string]any{"lifecycleNotificationUrl": rc.srv.URL + "/x"}).must(t, 400); !strings.Contains(r.raw, "lifecycleNotificationUrl") {
		t.Fatalf("lifecycle URL by PATCH: %s", r.raw)
	}

	// Lifecycle notifications, from Go and over the control API.
	if err := en.emu.Lifecycle(sid, "reauthorizationRequired"); err != nil {
		t.Fatal(err)
	}
	l := rc.nextLike(t, "/lifecycle", "notification-lifecycle.json")
	if lv := l["value"].([]any)[0].(map[string]any); lv["lifecycleEvent"] != "reauthorizationRequired" || lv["subscriptionId"] != sid {
		t.Fatalf("lifecycle %v", lv)
	}
	en.do("POST", "/v1.0/subscriptions/"+sid+"/reauthorize", nil).must(t, 204)
	en.do("POST", "/v1.0/subscriptions/nope/reauthorize", nil).must(t, 404)
	en.controlPost("/_emulator/lifecycle", map[string]any{"subscriptionId": sid, "event": "missed"}, 204)
	if lv := rc.next(t)["value"].([]any)[0].(map[string]any); lv["lifecycleEvent"] != "missed" {
		t.Fatalf("lifecycle %v", lv)
	}
	if err := en.emu.Lifecycle(sid, "bogus"); err == nil {
		t.Fatal("an unknown lifecycle event was accepted")
	}
	en.controlPost("/_emulator/lifecycle", map[string]any{"subscriptionId": "nope", "event": "missed"}, 400)

	lst := en.do("GET", "/v1.0/subscriptions", nil).must(t, 200).values()
	if len(lst) != 1 || lst[0]["id"] != sid {
		t.Fatalf("subscriptions %v", lst)
	}
	del := en.do("DELETE", "/v1.0/subscriptions/"+sid, nil).must(t, *loadFixture(t, "subscription-delete.json").Response.Status)
	if del.raw != "" {
		t.Fatalf("DELETE answered a body: %q", del.raw)
	}
	en.do("GET", "/v1.0/subscriptions/"+sid, nil).must(t, 404)

	// subscriptionRemoved ends the subscription.
	s2 := en.do("POST", "/v1.0/subscriptions", create).must(t, 201)
	if err := en.emu.Lifecycle(str(s2.body["id"]), "subscriptionRemoved"); err != nil {
		t.Fatal(err)
	}
	rc.next(t)
	en.do("GET", "/v1.0/subscriptions/"+str(s2.body["id"]), nil).must(t, 404)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSubscriptionResources(t *testing.T) {
	en := newEnv(t, Options{})
	rc := newReceiver(t)
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	sub := func(resource, changeType string) resp {
		return en.do("POST", "/v1.0/subscriptions", map[string]any{"changeType": changeType, "notificationUrl": rc.srv.URL,
			"resource": resource, "expirationDateTime": exp, "clientState": "cs"})
	}
	mb := en.emu.mailboxes[0]
	sub("/users/"+mb.id+"/events", "created").must(t, 201)
	sub("Users('"+alice+"')/todo/lists('"+mb.listID+"')/tasks", "deleted").must(t, 201)
	ev := en.do("POST", "/v1.0/users/"+alice+"/events", map[string]any{"subject": "s", "start": utc("2026-03-02T10:00:00"), "end": utc("2026-03-02T11:00:00")}).must(t, 201)
	v := rc.next(t)["value"].([]any)[0].(map[string]any)
	if v["resourceData"].(map[string]any)["id"] != ev.body["id"] || !strings.Contains(str(v["resource"]), "/Events/") {
		t.Fatalf("event notification %v", v)
	}
	task := en.do("POST", "/v1.0/users/"+alice+"/todo/lists/"+mb.listID+"/tasks", map[string]any{"title": "t"}).must(t, 201) // created: not subscribed
	en.do("DELETE", "/v1.0/users/"+alice+"/todo/lists/"+mb.listID+"/tasks/"+str(task.body["id"]), nil).must(t, 204)
	if v := rc.next(t)["value"].([]any)[0].(map[string]any); v["changeType"] != "deleted" || v["resourceData"].(map[string]any)["id"] != task.body["id"] {
		t.Fatalf("task notification %v", v)
	}

	for _, c := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"unsupported resource", map[string]any{"resource": "users/" + alice + "/messages"}, "ExtensionError"},
		{"unknown user", map[string]any{"resource": "users/nobody@x.example/contacts"}, "ExtensionError"},
		{"/me", map[string]any{"resource": "me/contacts"}, "ExtensionError"},
		{"bad changeType", map[string]any{"changeType": "created,moved"}, "InvalidRequest"},
		{"past expiration", map[string]any{"expirationDateTime": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, "InvalidRequest"},
		{"expiration too far", map[string]any{"expirationDateTime": time.Now().Add(8 * 24 * time.Hour).UTC().Format(time.RFC3339)}, "InvalidRequest"},
		{"unknown property", map[string]any{"notificationContentType": "application/json"}, "RequestBodyRead"},
		{"relative URL", map[string]any{"notificationUrl": "/notify"}, "InvalidRequest"},
		{"tasks for 4 days", map[string]any{"resource": "users/" + alice + "/todo/lists/" + mb.listID + "/tasks", "expirationDateTime": time.Now().Add(96 * time.Hour).UTC().Format(time.RFC3339)}, "InvalidRequest"},
	} {
		body := map[string]any{"changeType": "created", "notificationUrl": rc.srv.URL, "resource": "users/" + alice + "/contacts", "expirationDateTime": exp}
		for k, v := range c.body {
			body[k] = v
		}
		if r := en.do("POST", "/v1.0/subscriptions", body).must(t, 400); r.errCode() != c.code {
			t.Errorf("%s: %s", c.name, r.raw)
		}
	}
}

func TestSubscriptionValidationFailures(t *testing.T) {
	en := newEnv(t, Options{})
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for name, misbehave := range map[string]func(w http.ResponseWriter, tok string) bool{
		"500": func(w http.ResponseWriter, _ string) bool { w.WriteHeader(500); return true },
		"wrong echo": func(w http.ResponseWriter, _ string) bool {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "nope")
			return true
		},
		"encoded echo": func(w http.ResponseWriter, tok string) bool {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, strings.ReplaceAll(tok, " ", "+"))
			return true
		},
		"json answer": func(w http.ResponseWriter, tok string) bool {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, tok)
			return true
		},
	} {
		rc := newReceiver(t)
		rc.misbehave = misbehave
		r := en.do("POST", "/v1.0/subscriptions", map[string]any{"changeType": "created", "notificationUrl": rc.srv.URL, "resource": "users/" + alice + "/contacts", "expirationDateTime": exp})
		if r.must(t, 400); r.errCode() != "ValidationError" {
			t.Errorf("%s: %s", name, r.raw)
		}
	}
	// An unreachable endpoint fails too.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	if r := en.do("POST", "/v1.0/subscriptions", map[string]any{"changeType": "created", "notificationUrl": dead.URL, "resource": "users/" + alice + "/contacts", "expirationDateTime": exp}).must(t, 400); r.errCode() != "ValidationError" {
		t.Errorf("unreachable: %s", r.raw)
	}
	if n := len(en.do("GET", "/v1.0/subscriptions", nil).must(t, 200).values()); n != 0 {
		t.Fatalf("%d subscriptions after failed validations", n)
	}
}
