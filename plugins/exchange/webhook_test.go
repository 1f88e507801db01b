package exchange

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// subscriptionGraph scripts /subscriptions: creates and renewals are
// recorded; a create first runs the validation handshake against the
// connector, as Graph does against the notificationUrl.
type subscriptionGraph struct {
	mu      sync.Mutex
	created []map[string]any
	renewed []string
	gone    map[string]bool
}

func (sg *subscriptionGraph) install(t *testing.T, f *fakeGraph, c *Connector) {
	sg.gone = map[string]bool{}
	f.handle("POST /subscriptions", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		res, err := c.HandleWebhook(r.Context(), sdk.WebhookRequest{Method: "POST", Query: map[string]string{"validationToken": "Validation: Token 123"}})
		if err != nil || res.Status != 200 || string(res.Body) != "Validation: Token 123" || res.Headers["Content-Type"] != "text/plain" {
			reply(400, `{"error":{"code":"InvalidRequest","message":"Subscription validation request failed."}}`)(w, r)
			return
		}
		sg.mu.Lock()
		sg.created = append(sg.created, body)
		id := "sub-" + string(rune('0'+len(sg.created)))
		sg.mu.Unlock()
		body["id"] = id
		reply(201, body)(w, r)
	})
	f.handle("PATCH /subscriptions/sub-1", func(w http.ResponseWriter, r *http.Request) {
		sg.mu.Lock()
		defer sg.mu.Unlock()
		if sg.gone["sub-1"] {
			reply(404, `{"error":{"code":"ResourceNotFound"}}`)(w, r)
			return
		}
		sg.renewed = append(sg.renewed, "sub-1")
		reply(200, map[string]any{"id": "sub-1"})(w, r)
	})
}

func (sg *subscriptionGraph) counts() (int, int) {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	return len(sg.created), len(sg.renewed)
}

func subscribedConnector(t *testing.T) (*fakeGraph, *Connector, *subscriptionGraph, *time.Time) {
	f := newFakeGraph(t)
	contactsMailbox(f)
	f.handle("GET /users/"+alice+"/contactFolders/folder1/contacts/delta", reply(200, deltaPageJSON(nil, "", f.srv.URL+"/v1.0/users/"+alice+"/contactFolders/folder1/contacts/delta?$deltatoken=1")))
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(readManifest(t))
	c.Now = func() time.Time { return now }
	cfg := f.config()
	cfg["notification_url"] = sdk.String("https://gateway.example.com/hooks/exchange")
	if ds := c.Configure(t.Context(), sdk.Env{KV: newMemKV()}, cfg); ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	sg := &subscriptionGraph{}
	sg.install(t, f, c)
	return f, c, sg, &now
}

// TestSubscriptionLifecycle: reading a feed subscribes its mailbox (after
// the validation handshake), reading it again does nothing until the
// subscription nears expiry, then renews it; a renewal Graph no longer
// knows becomes a new subscription.
func TestSubscriptionLifecycle(t *testing.T) {
	f, c, sg, now := subscribedConnector(t)
	feed := sdk.Feed{Name: feedContacts, Scope: alice}
	drain(t, c, feed, nil, 10)
	if n, _ := sg.counts(); n != 1 {
		t.Fatalf("%d subscriptions created", n)
	}
	sub := sg.created[0]
	if sub["notificationUrl"] != "https://gateway.example.com/hooks/exchange" || sub["resource"] != "users/"+alice+"/contacts" ||
		sub["clientState"] == "" || !strings.Contains(sub["changeType"].(string), "deleted") {
		t.Errorf("subscription %v", sub)
	}
	drain(t, c, feed, nil, 10)
	if n, r := sg.counts(); n != 1 || r != 0 {
		t.Errorf("a fresh subscription was touched: %d created, %d renewed", n, r)
	}
	*now = now.Add(40 * time.Hour)
	drain(t, c, feed, nil, 10)
	if n, r := sg.counts(); n != 1 || r != 1 {
		t.Errorf("near expiry: %d created, %d renewed; want a renewal", n, r)
	}
	*now = now.Add(40 * time.Hour)
	sg.gone["sub-1"] = true
	drain(t, c, feed, nil, 10)
	if n, _ := sg.counts(); n != 2 {
		t.Errorf("a renewal of a removed subscription: %d created, want a new one", n)
	}
	_ = f
}

// TestNotifications: a notification with the right clientState hints its
// feed; a wrong clientState or an unknown subscription is rejected; a
// "missed" lifecycle event asks for a resync; reauthorizationRequired
// renews the subscription.
func TestNotifications(t *testing.T) {
	_, c, sg, _ := subscribedConnector(t)
	feed := sdk.Feed{Name: feedContacts, Scope: alice}
	drain(t, c, feed, nil, 10)
	state := sg.created[0]["clientState"].(string)
	post := func(v ...map[string]any) sdk.WebhookResponse {
		b, _ := json.Marshal(map[string]any{"value": v})
		res, err := c.HandleWebhook(t.Context(), sdk.WebhookRequest{Method: "POST", Path: "/hooks/exchange", Body: b})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := post(map[string]any{"subscriptionId": "sub-1", "clientState": state, "changeType": "updated", "resource": "Users/x/Contacts/y"},
		map[string]any{"subscriptionId": "sub-1", "clientState": state, "changeType": "created"})
	if res.Status != 202 || len(res.Hints) != 1 || res.Hints[0].Feed != feed || res.Hints[0].Resync {
		t.Errorf("notification: %+v", res)
	}
	for _, bad := range []map[string]any{
		{"subscriptionId": "sub-1", "clientState": "forged", "changeType": "updated"},
		{"subscriptionId": "sub-9", "clientState": state, "changeType": "updated"},
	} {
		if res := post(bad); res.Status != 403 || len(res.Hints) != 0 {
			t.Errorf("%v: %+v", bad, res)
		}
	}
	if res := post(map[string]any{"subscriptionId": "sub-1", "clientState": state, "lifecycleEvent": "missed"}); len(res.Hints) != 1 || !res.Hints[0].Resync {
		t.Errorf("missed: %+v", res)
	}
	res = post(map[string]any{"subscriptionId": "sub-1", "clientState": state, "lifecycleEvent": "reauthorizationRequired"})
	if res.Status != 202 || len(res.Hints) != 1 {
		t.Errorf("reauthorizationRequired: %+v", res)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, r := sg.counts(); r == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reauthorizationRequired did not renew the subscription")
		}
		time.Sleep(5 * time.Millisecond)
	}
	post(map[string]any{"subscriptionId": "sub-1", "clientState": state, "lifecycleEvent": "subscriptionRemoved"})
	for {
		if n, _ := sg.counts(); n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("subscriptionRemoved did not subscribe again")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if res := post(map[string]any{"subscriptionId": "sub-1", "clientState": state, "changeType": "updated"}); res.Status != 403 {
		t.Errorf("a notification of the removed subscription: %+v", res)
	}
	if res, _ := c.HandleWebhook(t.Context(), sdk.WebhookRequest{Method: "POST", Body: []byte("not json")}); res.Status != 400 {
		t.Errorf("garbage: %+v", res)
	}
}

// TestValidationFixture answers the documented validation request.
func TestValidationFixture(t *testing.T) {
	fx := loadFixture(t, "subscription-validation.json")
	var want string
	json.Unmarshal(fx.Response.Body, &want)
	res, _ := New(readManifest(t)).HandleWebhook(t.Context(), sdk.WebhookRequest{Method: fx.Request.Method,
		Query: map[string]string{"validationToken": "{opaqueTokenCreatedByMicrosoftGraph}"}})
	if res.Status != *fx.Response.Status || string(res.Body) != want || !strings.HasPrefix(res.Headers["Content-Type"], "text/plain") {
		t.Errorf("got %d %q %v", res.Status, res.Body, res.Headers)
	}
	for _, name := range []string{"notification-message-created.json", "notification-lifecycle.json", "subscription-create.json", "subscription-renew.json"} {
		fx := loadFixture(t, name)
		var body struct {
			Value []notification `json:"value"`
		}
		if fx.Request != nil && strings.HasPrefix(name, "notification") {
			if err := json.Unmarshal(fx.Request.Body, &body); err != nil || len(body.Value) == 0 || body.Value[0].SubscriptionID == "" {
				t.Errorf("%s: %v %+v", name, err, body)
			}
		}
	}
}

// TestNoNotificationURLNoSubscriptions: without notification_url nothing
// is subscribed.
func TestNoNotificationURLNoSubscriptions(t *testing.T) {
	f := newFakeGraph(t)
	contactsMailbox(f)
	f.handle("GET /users/"+alice+"/contactFolders/folder1/contacts/delta", reply(200, deltaPageJSON(nil, "", f.srv.URL+"/v1.0/x/delta?$deltatoken=1")))
	drain(t, f.connector(t, nil), sdk.Feed{Name: feedContacts, Scope: alice}, nil, 10)
	if n := f.requestCount("POST", "/subscriptions"); n != 0 {
		t.Errorf("%d subscriptions created", n)
	}
}
