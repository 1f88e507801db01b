// Package exchange is syncgate's mailbox connector for Microsoft Graph
// v1.0: the contacts, calendar (appointments and service appointments) and
// To Do tasks of one mailbox per binding, over per-mailbox delta queries,
// with plain net/http and app-only OAuth2 client credentials.
//
// It must never import its emulator (plugins/exchange/graphemu): the two
// are written from Graph's documentation separately, so that they cannot
// agree on a mistake.
package exchange

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// Feed names, as connector.hcl declares them: one per mailbox each.
const (
	feedContacts = "contacts"
	feedCalendar = "calendar"
	feedTasks    = "tasks"
)

// Connector is the Exchange connector. Create it with New.
type Connector struct {
	raw []byte

	// HTTPClient, when set before Configure, carries every request (tests
	// use it to reach an httptest server with its own transport).
	HTTPClient *http.Client
	// Now tells the time; tests move the calendar window with it.
	Now func() time.Time

	st atomic.Pointer[state] // set by Configure, which the host may call again
}

// state is one configuration of the connector.
type state struct {
	cfg    Config
	g      *graphClient
	env    sdk.Env
	rounds rounds
	now    func() time.Time

	mu        sync.Mutex
	resolved  map[string]string      // "folder/<mailbox>", "list/<mailbox>" → the default contacts folder's or To Do list's id
	resolving map[string]*sync.Mutex // one resolution at a time per key
	subsMu    sync.Mutex             // serialises subscription upkeep
	subFailed sync.Map               // subscription key → when subscribing last failed
}

var (
	_ sdk.Connector      = (*Connector)(nil)
	_ sdk.WebhookHandler = (*Connector)(nil)
)

// New returns a connector that serves the manifest src (its connector.hcl).
// It panics if src does not parse: the embedded manifest is part of the
// build.
func New(src []byte) *Connector {
	if _, diags := manifest.Parse(manifest.FileName, src); diags.HasErrors() {
		panic(fmt.Sprintf("exchange: embedded manifest: %s", diags.Error()))
	}
	return &Connector{raw: src}
}

// Manifest returns the manifest the connector was built with, byte for byte.
func (c *Connector) Manifest() []byte { return c.raw }

// Configure checks the settings and prepares the Graph client. It makes no
// request: Check does.
func (c *Connector) Configure(_ context.Context, env sdk.Env, cfg sdk.Fields) sdk.Diagnostics {
	conf, ds := parseConfig(cfg)
	if ds.HasErrors() {
		return ds
	}
	g, err := newGraphClient(conf, c.HTTPClient)
	if err != nil {
		return append(ds, sdk.Errorf([]string{"graph_url"}, "not a URL", "%v", err))
	}
	c.st.Store(&state{cfg: conf, g: g, env: env, now: c.now, resolved: map[string]string{}, resolving: map[string]*sync.Mutex{}})
	return ds
}

func (c *Connector) state() (*state, error) {
	s := c.st.Load()
	if s == nil {
		return nil, sdk.NewError(sdk.ErrConfig, "the exchange connector is not configured")
	}
	return s, nil
}

func (c *Connector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Check gets a token (so wrong credentials show at once) and resolves each
// scope, a mailbox's id or userPrincipalName, to its routing keys: the
// lower-cased addresses Graph knows it by.
func (c *Connector) Check(ctx context.Context, scopes []string) (sdk.CheckResult, error) {
	var res sdk.CheckResult
	s, err := c.state()
	if err != nil {
		return res, err
	}
	if _, err := s.g.token(ctx, false); err != nil {
		res.Diagnostics = append(res.Diagnostics, sdk.Errorf([]string{"client_secret"}, "cannot get a token", "%v", err))
		return res, nil
	}
	for _, scope := range scopes {
		info := sdk.ScopeInfo{Scope: scope}
		var u struct {
			ID   string `json:"id"`
			Mail string `json:"mail"`
			UPN  string `json:"userPrincipalName"`
		}
		_, err := s.g.do(ctx, call{method: "GET", path: userPath(scope) + "?$select=id,mail,userPrincipalName", mailbox: scope}, &u)
		switch {
		case sdk.IsKind(err, sdk.ErrNotFound):
			info.Diagnostics = append(info.Diagnostics, sdk.Errorf([]string{scope}, "no such mailbox", "Graph knows no user %q in tenant %s: use the mailbox's userPrincipalName or object id", scope, s.cfg.TenantID))
		case err != nil:
			info.Diagnostics = append(info.Diagnostics, sdk.Errorf([]string{scope}, "mailbox not reachable", "%v", err))
		}
		keys := []string{strings.ToLower(scope)}
		for _, k := range []string{u.Mail, u.UPN} {
			if k = strings.ToLower(k); k != "" && !strings.EqualFold(k, scope) && !contains(keys, k) {
				keys = append(keys, k)
			}
		}
		info.RoutingKeys = keys
		res.Scopes = append(res.Scopes, info)
	}
	return res, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// PrepareSync cannot count cheaply: only walking the delta round says what
// changed, so the answer is "unknown" and the gateway collects.
func (c *Connector) PrepareSync(_ context.Context, feed sdk.Feed, cursor sdk.Cursor) (sdk.Pending, error) {
	if _, err := feedOf(feed); err != nil {
		return sdk.Pending{}, err
	}
	if len(cursor) > 0 {
		if _, err := decodeCursor(cursor, feed); err != nil {
			return sdk.Pending{}, err
		}
	}
	return sdk.Pending{Kind: sdk.PendingUnknown}, nil
}

// feedKind is what differs between the three feeds.
type feedKind struct {
	// start returns the first link of a full round, and the calendar
	// window's first day.
	start func(ctx context.Context, c *Connector, s *state, mailbox string) (link, day string, err error)
	// records turns a round's entries into change records.
	records func(ctx context.Context, c *Connector, s *state, mailbox string, entries []deltaEntry) ([]sdk.ChangeRecord, error)
}

func feedOf(feed sdk.Feed) (feedKind, error) {
	if feed.Scope == "" {
		return feedKind{}, sdk.NewError(sdk.ErrConfig, "feed %q has no mailbox: the exchange connector's feeds are per binding", feed.Name)
	}
	switch feed.Name {
	case feedContacts:
		return feedKind{start: contactsStart, records: contactRecords}, nil
	case feedCalendar:
		return feedKind{start: calendarStart, records: calendarRecords}, nil
	case feedTasks:
		return feedKind{start: tasksStart, records: taskRecords}, nil
	}
	return feedKind{}, sdk.NewError(sdk.ErrConfig, "the exchange connector has no feed %q: its feeds are %s, %s and %s", feed.Name, feedContacts, feedCalendar, feedTasks)
}

// GetSyncData walks one delta round of the feed from its cursor (or from the
// start) and returns its change records page by page. The calendar round
// starts afresh with a moved window once the day has changed: a delta link
// keeps the window it was started with.
func (c *Connector) GetSyncData(ctx context.Context, req sdk.SyncDataRequest) (sdk.SyncDataPage, error) {
	s, err := c.state()
	if err != nil {
		return sdk.SyncDataPage{}, err
	}
	fk, err := feedOf(req.Feed)
	if err != nil {
		return sdk.SyncDataPage{}, err
	}
	max := req.Max
	if max <= 0 {
		max = 100
	}
	if len(req.PageToken) > 0 {
		return s.rounds.page(req.PageToken, req.Feed, max)
	}
	mailbox := req.Feed.Scope
	ctx = inRound(ctx)
	var link, day string
	if len(req.Cursor) > 0 {
		cur, err := decodeCursor(req.Cursor, req.Feed)
		if err != nil {
			return sdk.SyncDataPage{}, err
		}
		link, day = cur.Link, cur.Day
	}
	var recs []sdk.ChangeRecord
	if link != "" && req.Feed.Name == feedCalendar && day != windowDay(s.cfg, c.now()) {
		// The window moves: first the old window's changes since the
		// last round (a delete made since then is only there), then the
		// new window from its start.
		if recs, _, err = c.round(ctx, s, fk, mailbox, link); err != nil {
			return sdk.SyncDataPage{}, err
		}
		link = ""
	}
	if link == "" {
		if link, day, err = fk.start(ctx, c, s, mailbox); err != nil {
			return sdk.SyncDataPage{}, err
		}
	}
	more, deltaLink, err := c.round(ctx, s, fk, mailbox, link)
	if err != nil {
		return sdk.SyncDataPage{}, err
	}
	recs = coalesce(append(recs, more...))
	c.ensureSubscriptions(ctx, s, req.Feed)
	rd := &round{records: recs, feed: req.Feed, created: time.Now(),
		cursor: encodeCursor(cursorState{Feed: req.Feed.Name, Mailbox: mailbox, Link: deltaLink, Day: day})}
	return s.rounds.slice(s.rounds.put(rd), rd, 0, max), nil
}

// round reads one delta round from link and turns it into change records.
func (c *Connector) round(ctx context.Context, s *state, fk feedKind, mailbox, link string) ([]sdk.ChangeRecord, string, error) {
	entries, deltaLink, err := s.g.runDelta(ctx, mailbox, link, s.cfg.PageSize, s.cfg.MaxPages)
	if err != nil {
		return nil, "", err
	}
	recs, err := fk.records(ctx, c, s, mailbox, entries)
	return recs, deltaLink, err
}

// coalesce keeps the last record of each item, in the order items first
// appear.
func coalesce(recs []sdk.ChangeRecord) []sdk.ChangeRecord {
	index := map[string]int{}
	out := recs[:0:0]
	for _, r := range recs {
		if i, ok := index[r.ID]; ok {
			out[i] = r
			continue
		}
		index[r.ID] = len(out)
		out = append(out, r)
	}
	return out
}

// PostSync has nothing to release: a delta link stays valid until Graph
// forgets it. It still rejects a cursor this connector did not issue.
func (c *Connector) PostSync(_ context.Context, feed sdk.Feed, cursor sdk.Cursor) error {
	if len(cursor) == 0 {
		return nil
	}
	_, err := decodeCursor(cursor, feed)
	return err
}

// entityKind is what differs between the entities for Fetch and Apply.
type entityKind struct {
	fetch  func(ctx context.Context, c *Connector, s *state, mailbox, id string) (*sdk.Record, error)
	create func(ctx context.Context, c *Connector, s *state, mailbox string, op sdk.Op) (sdk.OpResult, error)
	update func(ctx context.Context, c *Connector, s *state, mailbox string, op sdk.Op) (sdk.OpResult, error)
	path   func(ctx context.Context, s *state, mailbox, id string) (string, error) // the item's path, for delete
}

func entityOf(entity string) (entityKind, error) {
	switch entity {
	case "contact":
		return entityKind{fetch: fetchContact, create: createContact, update: updateContact, path: contactPath}, nil
	case "appointment", "service_appointment":
		return entityKind{fetch: fetchEvent(entity), create: createEvent(entity), update: updateEvent(entity), path: eventPath}, nil
	case "task":
		return entityKind{fetch: fetchTask, create: createTask, update: updateTask, path: taskPath}, nil
	}
	return entityKind{}, sdk.NewError(sdk.ErrConfig, "the exchange connector does not sync %q: it syncs contact, appointment, service_appointment and task", entity)
}

func (c *Connector) entityState(entity string) (*state, entityKind, error) {
	s, err := c.state()
	if err != nil {
		return nil, entityKind{}, err
	}
	ek, err := entityOf(entity)
	return s, ek, err
}

// Fetch reads each item, concurrently within the mailbox's request slots.
func (c *Connector) Fetch(ctx context.Context, scope, entity string, ids []string) ([]sdk.FetchResult, error) {
	s, ek, err := c.entityState(entity)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.FetchResult, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			rec, err := ek.fetch(ctx, c, s, scope, id)
			if err == nil {
				err = addFolder(ctx, s, scope, entity, rec)
			}
			if err != nil {
				rec = nil
			}
			out[i] = sdk.FetchResult{ID: id, Record: rec, Err: sdk.AsError(err)}
		})
	}
	wg.Wait()
	return out, nil
}

// Apply performs the ops concurrently within the mailbox's request slots;
// each has its own result.
func (c *Connector) Apply(ctx context.Context, scope, entity string, ops []sdk.Op) ([]sdk.OpResult, error) {
	s, ek, err := c.entityState(entity)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.OpResult, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() {
			var res sdk.OpResult
			var err error
			switch op.Kind {
			case sdk.OpCreate:
				res, err = ek.create(ctx, c, s, scope, op)
			case sdk.OpUpdate:
				res, err = ek.update(ctx, c, s, scope, op)
			case sdk.OpDelete:
				res, err = c.deleteItem(ctx, s, ek, entity, scope, op)
			default:
				err = sdk.NewError(sdk.ErrPermanent, "unknown op kind %d", op.Kind)
			}
			if err != nil {
				res = sdk.OpResult{ID: op.ID, Err: sdk.AsError(err)}
			}
			out[i] = res
		})
	}
	wg.Wait()
	return out, nil
}

// deleteItem deletes with If-Match; a 412 is a conflict naming the version
// the item has now.
func (c *Connector) deleteItem(ctx context.Context, s *state, ek entityKind, entity, mailbox string, op sdk.Op) (sdk.OpResult, error) {
	p, err := ek.path(ctx, s, mailbox, op.ID)
	if err != nil {
		return sdk.OpResult{}, err
	}
	_, err = s.g.do(ctx, call{method: "DELETE", path: p, mailbox: mailbox, ifMatch: op.IfMatch}, nil)
	if sdk.IsKind(err, sdk.ErrConflict) {
		return sdk.OpResult{}, c.conflict(ctx, s, ek, mailbox, op.ID, err)
	}
	if err != nil {
		return sdk.OpResult{}, err
	}
	if entity == "service_appointment" {
		forgetServiceAppointment(ctx, s, mailbox, op.ID)
	}
	return sdk.OpResult{ID: op.ID}, nil
}

// conflict completes a 412 with the item's current version, read back.
func (c *Connector) conflict(ctx context.Context, s *state, ek entityKind, mailbox, id string, cause error) error {
	rec, err := ek.fetch(ctx, c, s, mailbox, id)
	if err != nil {
		if sdk.IsKind(err, sdk.ErrNotFound) {
			return err
		}
		return cause
	}
	return sdk.Conflict(rec.Version, "item %s changed since the version the gateway sent", id)
}

// windowDay is the first day of the calendar window now.
func windowDay(cfg Config, now time.Time) string {
	from, _ := cfg.window(now)
	return from.Format(time.DateOnly)
}

// resolveOnce returns the cached value of key, or resolves it with fn, one
// caller at a time per key, and caches a non-empty answer.
func (s *state) resolveOnce(key string, fn func() (string, error)) (string, error) {
	s.mu.Lock()
	if v := s.resolved[key]; v != "" {
		s.mu.Unlock()
		return v, nil
	}
	l := s.resolving[key]
	if l == nil {
		l = &sync.Mutex{}
		s.resolving[key] = l
	}
	s.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	s.mu.Lock()
	v := s.resolved[key]
	s.mu.Unlock()
	if v != "" {
		return v, nil
	}
	v, err := fn()
	if err == nil && v != "" {
		s.mu.Lock()
		s.resolved[key] = v
		s.mu.Unlock()
	}
	return v, err
}
