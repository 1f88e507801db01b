package exchange

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// Change notifications only wake collection early: the delta feed stays
// the truth, so a lost notification delays a change and never loses it.
// Subscriptions are kept per mailbox and feed in the host's key-value
// store, created or renewed when the feed is read (the gateway reads every
// feed on its interval).

// subscription is what is kept of one Graph subscription.
type subscription struct {
	ID          string    `json:"id"`
	Mailbox     string    `json:"mailbox"`
	Feed        string    `json:"feed"`
	Resource    string    `json:"resource"`
	ClientState string    `json:"clientState"`
	Expires     time.Time `json:"expires"`
}

const (
	// subscriptionLife stays under the shortest maximum Graph allows for
	// the resources used (To Do tasks: 4,230 minutes).
	subscriptionLife = 48 * time.Hour
	// renewBefore is how long before expiry a subscription is renewed.
	renewBefore = 12 * time.Hour
	// retryFailedSubscription spaces attempts after a failure, so a
	// notification_url Graph cannot validate does not cost a request on
	// every collection.
	retryFailedSubscription = 10 * time.Minute
)

func subKey(mailbox, feed string) string { return "sub/" + strings.ToLower(mailbox) + "/" + feed }
func subIDKey(id string) string          { return "subid/" + id }

// subscriptionResource is the Graph resource whose changes wake a feed.
func subscriptionResource(ctx context.Context, s *state, mailbox, feed string) (string, error) {
	switch feed {
	case feedContacts:
		return "users/" + mailbox + "/contacts", nil
	case feedCalendar:
		return "users/" + mailbox + "/events", nil
	}
	p, err := tasksPath(ctx, s, mailbox)
	return strings.TrimPrefix(p, "/"), err
}

// ensureSubscriptions creates the feed's subscription, or renews it near
// expiry. Failures are logged, never returned: collection goes on without
// notifications.
func (c *Connector) ensureSubscriptions(ctx context.Context, s *state, feed sdk.Feed) {
	if s.cfg.NotificationURL == "" || s.env.KV == nil {
		return
	}
	key := subKey(feed.Scope, feed.Name)
	if t, ok := s.subFailed.Load(key); ok && time.Since(t.(time.Time)) < retryFailedSubscription {
		return
	}
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	if err := c.ensureSubscription(ctx, s, feed.Scope, feed.Name, false); err != nil {
		s.subFailed.Store(key, time.Now())
		if s.env.Logger != nil {
			s.env.Logger.Warn("change notifications unavailable; the feed is still collected on its interval", "feed", feed.String(), "error", err)
		}
		return
	}
	s.subFailed.Delete(key)
}

func (c *Connector) ensureSubscription(ctx context.Context, s *state, mailbox, feed string, force bool) error {
	key := subKey(mailbox, feed)
	var sub subscription
	if b, ok, err := s.env.KV.Get(ctx, key); err != nil {
		return err
	} else if ok {
		json.Unmarshal(b, &sub)
	}
	now := c.now()
	if sub.ID != "" && !force && sub.Expires.Sub(now) > renewBefore {
		return nil
	}
	expires := now.Add(subscriptionLife).UTC()
	if sub.ID != "" {
		_, err := s.g.do(ctx, call{method: "PATCH", path: "/subscriptions/" + sub.ID, mailbox: mailbox,
			body: map[string]any{"expirationDateTime": expires.Format(time.RFC3339)}}, nil)
		if err == nil {
			sub.Expires = expires
			return putSubscription(ctx, s, sub)
		}
		if !sdk.IsKind(err, sdk.ErrNotFound) {
			return err
		}
		s.env.KV.Delete(ctx, subIDKey(sub.ID)) // gone: subscribe again
	}
	resource, err := subscriptionResource(ctx, s, mailbox, feed)
	if err != nil {
		return err
	}
	state := make([]byte, 24)
	rand.Read(state)
	sub = subscription{Mailbox: mailbox, Feed: feed, Resource: resource, ClientState: hex.EncodeToString(state), Expires: expires}
	var created struct {
		ID string `json:"id"`
	}
	_, err = s.g.do(ctx, call{method: "POST", path: "/subscriptions", mailbox: mailbox, body: map[string]any{
		"changeType": "created,updated,deleted", "notificationUrl": s.cfg.NotificationURL,
		"lifecycleNotificationUrl": s.cfg.NotificationURL, "resource": resource,
		"expirationDateTime": expires.Format(time.RFC3339), "clientState": sub.ClientState,
	}}, &created)
	if err != nil {
		return err
	}
	sub.ID = created.ID
	return putSubscription(ctx, s, sub)
}

func putSubscription(ctx context.Context, s *state, sub subscription) error {
	b, _ := json.Marshal(sub)
	if err := s.env.KV.Put(ctx, subKey(sub.Mailbox, sub.Feed), b); err != nil {
		return err
	}
	return s.env.KV.Put(ctx, subIDKey(sub.ID), b)
}

// notification is one entry of a Graph notification POST: a change or a
// lifecycle event.
type notification struct {
	SubscriptionID string `json:"subscriptionId"`
	ClientState    string `json:"clientState"`
	ChangeType     string `json:"changeType"`
	LifecycleEvent string `json:"lifecycleEvent"`
}

// HandleWebhook answers Graph at the gateway's /hooks/<endpoint>: the
// validation handshake of a new subscription (the token echoed as plain
// text, well within Graph's 10 seconds), and notifications, each checked
// against its subscription's clientState. Valid ones become hints for
// their feed; a lifecycle event renews or re-creates the subscription, and
// "missed" asks for a resync.
func (c *Connector) HandleWebhook(ctx context.Context, req sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	if tok, ok := req.Query["validationToken"]; ok {
		return sdk.WebhookResponse{Status: http.StatusOK, Headers: map[string]string{"Content-Type": "text/plain"}, Body: []byte(tok)}, nil
	}
	s, err := c.state()
	if err != nil {
		return sdk.WebhookResponse{Status: http.StatusServiceUnavailable}, nil
	}
	if req.Method != http.MethodPost {
		return sdk.WebhookResponse{Status: http.StatusMethodNotAllowed}, nil
	}
	var body struct {
		Value []notification `json:"value"`
	}
	if err := json.Unmarshal(req.Body, &body); err != nil || len(body.Value) == 0 {
		return plain(http.StatusBadRequest, "not a Graph notification: want {\"value\": [...]}"), nil
	}
	var hints []sdk.Hint
	seen := map[sdk.Feed]bool{}
	valid := 0
	for _, n := range body.Value {
		sub, ok := c.subscriptionOf(ctx, s, n)
		if !ok {
			if s.env.Logger != nil {
				s.env.Logger.Warn("notification rejected: unknown subscription or wrong clientState", "subscription", n.SubscriptionID)
			}
			continue
		}
		valid++
		feed := sdk.Feed{Name: sub.Feed, Scope: sub.Mailbox}
		hint := sdk.Hint{Feed: feed, Reason: "Graph notification: " + n.ChangeType}
		switch n.LifecycleEvent {
		case "":
		case "missed":
			hint = sdk.Hint{Feed: feed, Reason: "Graph missed notifications for the subscription", Resync: true}
		case "reauthorizationRequired", "subscriptionRemoved":
			hint.Reason = "Graph lifecycle event " + n.LifecycleEvent
			c.renewLater(s, sub, n.LifecycleEvent == "subscriptionRemoved")
		default:
			hint.Reason = "Graph lifecycle event " + n.LifecycleEvent
		}
		if !seen[feed] || hint.Resync {
			seen[feed] = true
			hints = append(hints, hint)
		}
	}
	if valid == 0 {
		return plain(http.StatusForbidden, "no notification matched a subscription and its clientState"), nil
	}
	return sdk.WebhookResponse{Status: http.StatusAccepted, Hints: hints}, nil
}

func plain(status int, msg string) sdk.WebhookResponse {
	return sdk.WebhookResponse{Status: status, Headers: map[string]string{"Content-Type": "text/plain"}, Body: []byte(msg)}
}

// subscriptionOf finds a notification's subscription and checks its
// clientState in constant time.
func (c *Connector) subscriptionOf(ctx context.Context, s *state, n notification) (subscription, bool) {
	var sub subscription
	if n.SubscriptionID == "" || s.env.KV == nil {
		return sub, false
	}
	b, ok, err := s.env.KV.Get(ctx, subIDKey(n.SubscriptionID))
	if err != nil || !ok || json.Unmarshal(b, &sub) != nil {
		return sub, false
	}
	return sub, subtle.ConstantTimeCompare([]byte(sub.ClientState), []byte(n.ClientState)) == 1
}

// renewLater renews (or, when Graph removed it, re-creates) a subscription
// after the notification is answered: Graph wants its answer within
// seconds.
func (c *Connector) renewLater(s *state, sub subscription, removed bool) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.subsMu.Lock()
		defer s.subsMu.Unlock()
		if removed {
			s.env.KV.Delete(ctx, subKey(sub.Mailbox, sub.Feed))
			s.env.KV.Delete(ctx, subIDKey(sub.ID))
		}
		if err := c.ensureSubscription(ctx, s, sub.Mailbox, sub.Feed, true); err != nil && s.env.Logger != nil {
			s.env.Logger.Warn("renewing a subscription failed; the next collection tries again", "mailbox", sub.Mailbox, "feed", sub.Feed, "error", err)
		}
	}()
}
