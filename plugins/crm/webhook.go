package crm

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/syncgate/syncgate/sdk"
)

var _ sdk.WebhookHandler = (*Connector)(nil)

// feedOfTable is the feed a change of a Dataverse table wakes.
var feedOfTable = map[string]string{
	"contact": "contact", "appointment": "appointment", "recurringappointmentmaster": "appointment",
	"task": "task", "serviceappointment": "service_appointment",
}

// HandleWebhook takes a Dataverse webhook (a service endpoint registered
// for Create, Update, Delete or Assign steps on the synced tables) that
// reached the gateway's /hooks/<endpoint>, and wakes the feed of its table:
// the feed stays the truth, the webhook only makes it read sooner. The
// webhook must carry webhook_key, as its "code" (authentication WebhookKey)
// or in an X-Syncgate-Key header (authentication HttpHeader).
func (c *Connector) HandleWebhook(_ context.Context, req sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	cl, err := c.configured()
	if err != nil {
		return sdk.WebhookResponse{}, err
	}
	key := cl.cfg.WebhookKey
	if key == "" {
		return text(http.StatusNotFound, "webhooks are off for this endpoint: set webhook_key and register the webhook with it"), nil
	}
	given := req.Query["code"]
	if given == "" {
		given = header(req.Headers, "X-Syncgate-Key")
	}
	if subtle.ConstantTimeCompare([]byte(given), []byte(key)) != 1 {
		return text(http.StatusUnauthorized, "the webhook's key is missing or wrong"), nil
	}
	table := strings.ToLower(header(req.Headers, "X-Ms-Dynamics-Entity-Name"))
	message := header(req.Headers, "X-Ms-Dynamics-Request-Name")
	if table == "" {
		var ctx struct {
			PrimaryEntityName string
			MessageName       string
		}
		if json.Unmarshal(req.Body, &ctx) == nil {
			table, message = strings.ToLower(ctx.PrimaryEntityName), ctx.MessageName
		}
	}
	res := text(http.StatusOK, "")
	if feed, ok := feedOfTable[table]; ok {
		res.Hints = []sdk.Hint{{Feed: sdk.Feed{Name: feed}, Reason: strings.TrimSpace("Dataverse webhook: " + message + " " + table)}}
	}
	return res, nil
}

func text(status int, body string) sdk.WebhookResponse {
	return sdk.WebhookResponse{Status: status, Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}, Body: []byte(body)}
}

// header looks a header up whatever the case its name arrived in.
func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
