package graphemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// maxSubscriptionLife is the longest expirationDateTime Graph grants, by
// resource: under 7 days for Outlook contacts and events, under 3 days for
// To Do tasks.
var maxSubscriptionLife = map[string]time.Duration{"contact": 10080 * time.Minute, "event": 10080 * time.Minute, "todoTask": 4230 * time.Minute}

// validationTimeout is how long Graph waits for a notificationUrl to echo
// the validation token.
const validationTimeout = 10 * time.Second

// subscription is a /v1.0/subscriptions entity and what it watches.
type subscription struct {
	id, resource, changeType, clientState string
	notificationURL, lifecycleURL         string
	expiration                            time.Time
	tls                                   string
	// what it watches
	mb     *mailbox
	kind   string // contact, event, todoTask
	parent string // folder, calendar or list id; "" for the mailbox's default
}

func (e *Emulator) subscriptionJSON(r *http.Request, s *subscription) map[string]any {
	var lifecycle any
	if s.lifecycleURL != "" {
		lifecycle = s.lifecycleURL
	}
	var cs any
	if s.clientState != "" {
		cs = s.clientState
	}
	return map[string]any{
		"@odata.context":            metadata(r, "subscriptions/$entity"),
		"id":                        s.id,
		"resource":                  s.resource,
		"applicationId":             e.appID,
		"changeType":                s.changeType,
		"clientState":               cs,
		"notificationUrl":           s.notificationURL,
		"notificationQueryOptions":  nil,
		"lifecycleNotificationUrl":  lifecycle,
		"expirationDateTime":        s.expiration.UTC().Format("2006-01-02T15:04:05.0000000Z"),
		"creatorId":                 e.appID,
		"includeResourceData":       false,
		"latestSupportedTlsVersion": s.tls,
		"encryptionCertificate":     nil,
		"encryptionCertificateId":   nil,
		"notificationUrlAppId":      nil,
	}
}

// parseResource maps a subscription resource to a mailbox collection:
// users/{id}/contacts, users/{id}/contactFolders/{f}/contacts,
// users/{id}/events, users/{id}/calendar/events,
// users/{id}/todo/lists/{l}/tasks.
func (e *Emulator) parseResource(res string) (*mailbox, string, string, error) {
	parts, _ := canonicalSegments(strings.Split(strings.Trim(res, "/"), "/"))
	if len(parts) > 0 && strings.EqualFold(parts[0], "me") {
		return nil, "", "", errors.New("/me is only valid with delegated authentication; use users/{id}/...")
	}
	if len(parts) < 3 || !strings.EqualFold(parts[0], "users") {
		return nil, "", "", fmt.Errorf("resource '%s' is not supported: use users/{id}/contacts, users/{id}/events or users/{id}/todo/lists/{id}/tasks", res)
	}
	mb := e.byKey[strings.ToLower(parts[1])]
	if mb == nil {
		return nil, "", "", fmt.Errorf("the user '%s' of resource '%s' does not exist", parts[1], res)
	}
	rest := strings.ToLower(strings.Join(parts[2:], "/"))
	switch {
	case rest == "contacts":
		return mb, "contact", mb.contactFolderID, nil
	case len(parts) == 5 && strings.EqualFold(parts[2], "contactFolders") && strings.EqualFold(parts[4], "contacts") && contactFolder(mb, parts[3]):
		return mb, "contact", mb.contactFolderID, nil
	case rest == "events" || rest == "calendar/events":
		return mb, "event", mb.calendarID, nil
	case len(parts) == 6 && strings.EqualFold(parts[2], "todo") && strings.EqualFold(parts[3], "lists") && parts[4] == mb.listID && strings.EqualFold(parts[5], "tasks"):
		return mb, "todoTask", mb.listID, nil
	}
	return nil, "", "", fmt.Errorf("resource '%s' is not supported: use users/{id}/contacts, users/{id}/events or users/{id}/todo/lists/{id}/tasks", res)
}

func (e *Emulator) createSubscription(w http.ResponseWriter, r *http.Request) {
	p, ok := readParsed(w, r, plainBody("subscription"))
	if !ok {
		return
	}
	props := p.props
	var err error
	str := func(k string) string { s, _ := props[k].(string); return s }
	s := &subscription{id: newGUID(), resource: str("resource"), changeType: str("changeType"), clientState: str("clientState"),
		notificationURL: str("notificationUrl"), lifecycleURL: str("lifecycleNotificationUrl"), tls: firstNonEmpty(str("latestSupportedTlsVersion"), "v1_2")}
	if err := checkChangeType(s.changeType); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	for _, u := range []string{s.notificationURL, s.lifecycleURL} {
		if pu, err := url.Parse(u); u != "" && (err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "") {
			writeError(w, http.StatusBadRequest, "InvalidRequest", "Subscription notification URLs must be absolute http(s) URLs; got '"+u+"'.")
			return
		}
	}
	if s.notificationURL == "" {
		writeError(w, http.StatusBadRequest, "InvalidRequest", "The subscription needs a notificationUrl.")
		return
	}
	e.mu.Lock()
	s.mb, s.kind, s.parent, err = e.parseResource(s.resource)
	e.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusBadRequest, "ExtensionError", "Operation: Create; Exception: ["+err.Error()+"]")
		return
	}
	if s.expiration, err = expiration(props, s.kind); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	// Graph validates before it answers, without holding anything.
	for _, u := range []string{s.notificationURL, s.lifecycleURL} {
		if u == "" {
			continue
		}
		if err := e.validate(r.Context(), u); err != nil {
			writeError(w, http.StatusBadRequest, "ValidationError", "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request: "+err.Error())
			return
		}
	}
	e.mu.Lock()
	e.subs[s.id] = s
	e.mu.Unlock()
	w.Header().Set("Location", baseURL(r)+"/v1.0/subscriptions/"+s.id)
	writeJSON(w, http.StatusCreated, e.subscriptionJSON(r, s))
}

func checkChangeType(ct string) error {
	if ct == "" {
		return errors.New("The subscription needs a changeType: a comma-separated list of created, updated, deleted.")
	}
	for _, c := range strings.Split(ct, ",") {
		if !slices.Contains([]string{"created", "updated", "deleted"}, strings.TrimSpace(c)) {
			return fmt.Errorf("changeType '%s' is not supported: use created, updated and/or deleted.", c)
		}
	}
	return nil
}

func expiration(props map[string]any, kind string) (time.Time, error) {
	s, _ := props["expirationDateTime"].(string)
	if s == "" {
		return time.Time{}, errors.New("The subscription needs an expirationDateTime.")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expirationDateTime '%s' is not an ISO 8601 date and time with offset.", s)
	}
	now := time.Now()
	switch {
	case !t.After(now):
		return time.Time{}, fmt.Errorf("Subscription expiration can only be in the future ('%s' is past).", s)
	case t.After(now.Add(maxSubscriptionLife[kind])):
		return time.Time{}, fmt.Errorf("Subscription expiration can only be %d minutes in the future.", int(maxSubscriptionLife[kind].Minutes()))
	}
	return t, nil
}

// validate does the notificationUrl handshake: POST ?validationToken=,
// expecting 200 and the token echoed as text/plain within 10 s.
func (e *Emulator) validate(ctx context.Context, target string) error {
	token := "Validation: Testing client application reachability for subscription Request-Id: " + newGUID()
	u, _ := url.Parse(target)
	q := u.Query()
	q.Set("validationToken", token)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, validationTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s answered %d, not 200", target, resp.StatusCode)
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"):
		return fmt.Errorf("%s answered Content-Type %q, not text/plain", target, resp.Header.Get("Content-Type"))
	case string(body) != token:
		return fmt.Errorf("%s did not echo the validation token (URL-decoded) as the body", target)
	}
	return nil
}

func (e *Emulator) subscriptionOf(w http.ResponseWriter, r *http.Request) *subscription {
	e.mu.Lock()
	s := e.subs[r.PathValue("id")]
	e.mu.Unlock()
	if s == nil || time.Now().After(s.expiration) {
		writeError(w, http.StatusNotFound, "ResourceNotFound", "The object was not found: subscription '"+r.PathValue("id")+"' does not exist or has expired.")
		return nil
	}
	return s
}

func (e *Emulator) getSubscription(w http.ResponseWriter, r *http.Request) {
	if s := e.subscriptionOf(w, r); s != nil {
		e.mu.Lock()
		out := e.subscriptionJSON(r, s)
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	}
}

func (e *Emulator) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	values := []map[string]any{}
	for _, s := range e.subs {
		if time.Now().Before(s.expiration) {
			v := e.subscriptionJSON(r, s)
			delete(v, "@odata.context")
			values = append(values, v)
		}
	}
	e.mu.Unlock()
	slices.SortFunc(values, func(a, b map[string]any) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": metadata(r, "subscriptions"), "value": values})
}

// renewSubscription is PATCH /subscriptions/{id}: a new expirationDateTime
// (and, as Graph allows, a new notificationUrl); lifecycleNotificationUrl
// can only be set at creation.
func (e *Emulator) renewSubscription(w http.ResponseWriter, r *http.Request) {
	s := e.subscriptionOf(w, r)
	if s == nil {
		return
	}
	p, ok := readParsed(w, r, plainBody("subscription"))
	if !ok {
		return
	}
	props := p.props
	for k := range props {
		if k != "expirationDateTime" && k != "notificationUrl" {
			writeError(w, http.StatusBadRequest, "InvalidRequest", "Only expirationDateTime and notificationUrl can be changed on a subscription; '"+k+"' cannot.")
			return
		}
	}
	exp := s.expiration
	if _, ok := props["expirationDateTime"]; ok {
		var err error
		if exp, err = expiration(props, s.kind); err != nil {
			writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
			return
		}
	}
	if u, _ := props["notificationUrl"].(string); u != "" {
		if err := e.validate(r.Context(), u); err != nil {
			writeError(w, http.StatusBadRequest, "ValidationError", "Subscription validation request failed: "+err.Error())
			return
		}
	}
	e.mu.Lock()
	s.expiration = exp
	if u, _ := props["notificationUrl"].(string); u != "" {
		s.notificationURL = u
	}
	out := e.subscriptionJSON(r, s)
	e.mu.Unlock()
	delete(out, "@odata.context")
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	if s := e.subscriptionOf(w, r); s != nil {
		e.mu.Lock()
		delete(e.subs, s.id)
		e.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

// delivery is one POST of a notification collection.
type delivery struct {
	url  string
	body []byte
}

// queueChange queues change notifications for a change of it (the caller
// holds e.mu).
func (e *Emulator) queueChange(mb *mailbox, it *item, changeType string) {
	if e.faults.DropNotifications {
		return
	}
	now := time.Now()
	for _, s := range e.subs {
		if s.mb != mb || s.kind != it.kind || s.parent != it.parent || now.After(s.expiration) ||
			!slices.Contains(strings.Split(strings.ReplaceAll(s.changeType, " ", ""), ","), changeType) {
			continue
		}
		var res, typ string
		switch it.kind {
		case "contact":
			res, typ = "Users/"+mb.id+"/Contacts/"+it.id, "#Microsoft.Graph.Contact"
		case "event":
			res, typ = "Users/"+mb.id+"/Events/"+it.id, "#Microsoft.Graph.Event"
		default:
			res, typ = "Users/"+mb.id+"/todo/lists/"+it.parent+"/tasks/"+it.id, "#Microsoft.Graph.todoTask"
		}
		n := map[string]any{
			"id":                             newGUID(),
			"subscriptionId":                 s.id,
			"subscriptionExpirationDateTime": s.expiration.UTC().Format(time.RFC3339Nano),
			"changeType":                     changeType,
			"resource":                       res,
			"tenantId":                       e.tenantID,
			"resourceData":                   map[string]any{"@odata.type": typ, "@odata.id": res, "@odata.etag": it.etag(), "id": it.id},
		}
		if s.clientState != "" {
			n["clientState"] = s.clientState
		}
		body, _ := json.Marshal(map[string]any{"value": []any{n}})
		select {
		case e.notify <- delivery{url: s.notificationURL, body: body}:
		default: // a full queue loses the notification, as a missed one in Graph
		}
	}
}

// deliverLoop POSTs queued notifications, retrying a failed one a few
// times as Graph does, until Close.
func (e *Emulator) deliverLoop() {
	defer e.wg.Done()
	for {
		select {
		case <-e.done:
			return
		case d := <-e.notify:
			for attempt := 0; attempt < 3; attempt++ {
				if e.post(d.url, d.body) == nil {
					e.mu.Lock()
					e.counters.Notifications++
					e.mu.Unlock()
					break
				}
				select {
				case <-e.done:
					return
				case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
				}
			}
		}
	}
}

// post sends a notification body; a 2xx answer is a delivery.
func (e *Emulator) post(target string, body []byte) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-e.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %d", target, resp.StatusCode)
	}
	return nil
}

// Lifecycle sends a lifecycle notification (reauthorizationRequired,
// subscriptionRemoved or missed) for a subscription to its
// lifecycleNotificationUrl and waits for the answer. subscriptionRemoved
// also removes the subscription, as Graph does.
func (e *Emulator) Lifecycle(subscriptionID, event string) error {
	e.mu.Lock()
	s := e.subs[subscriptionID]
	e.mu.Unlock()
	switch {
	case s == nil:
		return fmt.Errorf("graphemu: no subscription %q", subscriptionID)
	case !slices.Contains(schema["lifecycleEventType"].Members, event):
		return fmt.Errorf("graphemu: lifecycle event %q is not one of %s", event, strings.Join(schema["lifecycleEventType"].Members, ", "))
	case s.lifecycleURL == "":
		return fmt.Errorf("graphemu: subscription %q has no lifecycleNotificationUrl", subscriptionID)
	}
	n := map[string]any{
		"subscriptionId":                 s.id,
		"subscriptionExpirationDateTime": s.expiration.UTC().Format("2006-01-02T15:04:05.0000000Z"),
		"tenantId":                       e.tenantID,
		"lifecycleEvent":                 event,
	}
	if s.clientState != "" {
		n["clientState"] = s.clientState
	}
	body, _ := json.Marshal(map[string]any{"value": []any{n}})
	if event == "subscriptionRemoved" {
		e.mu.Lock()
		delete(e.subs, s.id)
		e.mu.Unlock()
	}
	if err := e.post(s.lifecycleURL, body); err != nil {
		return fmt.Errorf("graphemu: lifecycle notification: %w", err)
	}
	return nil
}
