package crm

import (
	"net/http"
	"testing"

	"github.com/syncgate/syncgate/sdk"
)

// TestWebhook: a Dataverse webhook with the right key wakes the feed of its
// table; one without it is refused; with no key configured none is taken.
func TestWebhook(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("a webhook made a request: %s", r.URL) })
	c := connectorFor(t, f)
	res, err := c.HandleWebhook(t.Context(), sdk.WebhookRequest{Query: map[string]string{"code": "k"}})
	if err != nil || res.Status != http.StatusNotFound || len(res.Hints) != 0 {
		t.Errorf("without webhook_key: %d %s %v", res.Status, res.Body, err)
	}
	cfg := sdk.Fields{"url": sdk.String(f.url()), "authority_url": sdk.String(f.srv.URL), "tenant_id": sdk.String("t"),
		"client_id": sdk.String("id"), "client_secret": sdk.String("secret"), "webhook_key": sdk.String("s3cret")}
	if ds := c.Configure(t.Context(), sdk.Env{}, cfg); ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	for _, tc := range []struct {
		name   string
		req    sdk.WebhookRequest
		status int
		feed   string
	}{
		{"WebhookKey", sdk.WebhookRequest{Method: "POST", Query: map[string]string{"code": "s3cret"},
			Headers: map[string]string{"X-Ms-Dynamics-Entity-Name": "contact", "X-Ms-Dynamics-Request-Name": "Update"}}, 200, "contact"},
		{"HttpHeader, body only", sdk.WebhookRequest{Method: "POST", Headers: map[string]string{"x-syncgate-key": "s3cret"},
			Body: []byte(`{"MessageName":"Create","PrimaryEntityName":"serviceappointment"}`)}, 200, "service_appointment"},
		{"series", sdk.WebhookRequest{Method: "POST", Query: map[string]string{"code": "s3cret"},
			Headers: map[string]string{"X-Ms-Dynamics-Entity-Name": "recurringappointmentmaster"}}, 200, "appointment"},
		{"a table not synced", sdk.WebhookRequest{Method: "POST", Query: map[string]string{"code": "s3cret"},
			Headers: map[string]string{"X-Ms-Dynamics-Entity-Name": "account"}}, 200, ""},
		{"wrong key", sdk.WebhookRequest{Method: "POST", Query: map[string]string{"code": "guess"},
			Headers: map[string]string{"X-Ms-Dynamics-Entity-Name": "contact"}}, 401, ""},
		{"no key", sdk.WebhookRequest{Method: "POST", Headers: map[string]string{"X-Ms-Dynamics-Entity-Name": "contact"}}, 401, ""},
	} {
		res, err := c.HandleWebhook(t.Context(), tc.req)
		if err != nil || res.Status != tc.status {
			t.Errorf("%s: %d %s %v, want %d", tc.name, res.Status, res.Body, err, tc.status)
			continue
		}
		switch {
		case tc.feed == "" && len(res.Hints) != 0:
			t.Errorf("%s: hints %+v, want none", tc.name, res.Hints)
		case tc.feed != "" && (len(res.Hints) != 1 || res.Hints[0].Feed != sdk.Feed{Name: tc.feed} || res.Hints[0].Reason == ""):
			t.Errorf("%s: hints %+v, want the %s feed", tc.name, res.Hints, tc.feed)
		}
	}
}
