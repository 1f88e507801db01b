// Package engine is syncgate's sync engine: it collects change records from
// every feed into the sync table, and processes them under each binding's
// effective rules, writing to the other side with optimistic concurrency.
//
// The engine talks to connectors only through Conn (the plugin host's
// supervisor in production, in-process connectors over the real protocol in
// tests) and keeps every piece of state in the store, so that a crash at any
// point loses nothing and duplicates nothing. It never interprets a
// backend's native shapes: it sees canonical records only.
package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/gateway/policy"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// Conn is the engine's view of one endpoint's connector.
type Conn interface {
	sdk.Syncer
	Check(ctx context.Context, scopes []string) (sdk.CheckResult, error)
}

// Watcher is an optional part of a Conn: a stream of change hints from the
// connector (the plugin host's supervisor has it; a connector without the
// capability answers protocol.ErrUnsupported).
type Watcher interface {
	Watch(ctx context.Context, scope string, fn func(sdk.Hint)) error
}

// Options configure an Engine.
type Options struct {
	Config *config.Config  // resolved
	Conns  map[string]Conn // by endpoint name
	DB     *store.DB
	Logger hclog.Logger
	// Workers process records concurrently (across items); default 16,
	// within each endpoint's max_concurrency and scope_concurrency.
	Workers int
	// Collectors read due feeds concurrently in Run; default 16.
	Collectors int
	// PageSize is the Max of each GetSyncData; default 500.
	PageSize int
	// MaxAttempts before a failing record becomes a dead letter; default 8.
	MaxAttempts int
	// AuthRetry is how long an endpoint whose connector refused its
	// credentials or configuration is held before it is tried again;
	// default 1 minute.
	AuthRetry time.Duration
	// FailFor is how long SyncOnce keeps retrying feeds that fail before it
	// gives up; default 2 minutes.
	FailFor time.Duration
	// Metrics receive the engine's measurements; nil keeps them private.
	Metrics *Metrics
	// Hooks lets tests stop the engine at named points; nil in production.
	Hooks Hooks
}

// Hooks are called at the named points of collect and process, so that a
// crash test can kill the process exactly there.
type Hooks interface {
	At(point string)
}

// Points at which Hooks.At is called.
const (
	PointAfterGetSyncData = "after_get_sync_data"  // records received, not stored
	PointAfterCollectTx   = "after_collect_commit" // records and cursor stored, PostSync not called
	PointAfterApply       = "after_apply"          // the other side written, correlation not stored
	PointMidBatch         = "mid_batch"            // between two records of one drain
)

// Engine syncs every binding of a config.
type Engine struct {
	opts     Options
	log      hclog.Logger
	db       *store.DB
	bindings map[string]*binding
	feeds    []*feed

	locks   itemLocks
	stats   *Stats
	wake    chan struct{}
	mu      sync.Mutex
	waitFor map[string]time.Time // endpoint/scope → throttled until
	paused  map[string]bool      // bindings whose records wait for an operator
	held    map[string]string    // endpoints whose connector refused its credentials or configuration → why
	hints   chan hint            // early collects asked for by notifications
	// watchers are the endpoints whose connector may stream hints.
	watchers map[string]Watcher
}

func (e *Engine) setPaused(binding string, paused bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.paused[binding] = paused
}

func (e *Engine) isPaused(binding string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.paused[binding]
}

// DeleteDecision is what an operator decides, on resume, about deletes the
// delete guard holds back.
type DeleteDecision int

const (
	// HoldDeletes is a plain resume: refused while the guard holds deletes.
	HoldDeletes DeleteDecision = iota
	// AllowDeletes lets the held deletes through, and any others for an hour.
	AllowDeletes
	// UntrackDeletes keeps the items: each held delete only ends their sync.
	UntrackDeletes
)

// ErrDeletesHeld refuses a plain resume of a binding the delete guard
// paused: resuming it must not delete anything the operator did not confirm.
var ErrDeletesHeld = errors.New("deletes held by the delete guard")

// Resume un-pauses a binding, deciding about the deletes the guard held.
func (e *Engine) Resume(binding string, d DeleteDecision) error {
	if err := Resume(e.db, binding, d); err != nil {
		return err
	}
	e.setPaused(binding, false)
	e.poke()
	return nil
}

// Resume un-pauses a binding in the store (for a stopped gateway too).
func Resume(db *store.DB, binding string, d DeleteDecision) error {
	return db.Update(func(tx *store.Tx) error {
		st, err := tx.BindingState(binding)
		if err != nil {
			return err
		}
		if st.Guarded && d == HoldDeletes {
			return fmt.Errorf("binding %s: %w (%s); say what becomes of them: "+
				"`syncgate resume %s --allow-deletes` deletes them, `syncgate resume %s --untrack-deletes` keeps the items and stops syncing them",
				binding, ErrDeletesHeld, st.PausedReason, binding, binding)
		}
		if d == UntrackDeletes {
			if err := untrackHeldDeletes(tx, binding); err != nil {
				return err
			}
		}
		st.Paused, st.PausedReason, st.Guarded = false, "", false
		if d == AllowDeletes {
			st.AllowDeletesUntil = time.Now().UTC().Add(time.Hour)
		}
		return tx.PutBindingState(binding, st)
	})
}

// untrackHeldDeletes turns the binding's queued deletes into scope exits:
// the other side keeps its copy, and the pair is no longer synced.
func untrackHeldDeletes(tx *store.Tx, binding string) error {
	var held []store.Change
	if err := store.Scan(tx, store.QueuePrefix(binding), func(_ []byte, c *store.Change) bool {
		if c.Kind == sdk.ChangeDelete {
			held = append(held, *c)
		}
		return true
	}); err != nil {
		return err
	}
	for _, c := range held {
		c.Kind = sdk.ChangeScopeExit
		if err := tx.PutChange(c); err != nil {
			return err
		}
	}
	return nil
}

// Pause pauses a binding in the store with a reason.
func Pause(db *store.DB, binding, reason string) error {
	return db.Update(func(tx *store.Tx) error {
		st, err := tx.BindingState(binding)
		if err != nil {
			return err
		}
		st.Paused, st.PausedReason, st.PausedAt = true, reason, time.Now().UTC()
		return tx.PutBindingState(binding, st)
	})
}

// binding is one configured binding with what the engine resolved for it.
type binding struct {
	name    string
	cfg     *config.Binding
	mailbox side
	crm     side
	rules   map[string]*policy.Rule
}

type side struct {
	endpoint string
	scope    string   // the mailbox, or the CRM user
	routing  []string // routing keys the connector resolved for the scope
	manifest *manifest.Manifest
}

func (b *binding) side(s store.Side) *side {
	if s == store.SideMailbox {
		return &b.mailbox
	}
	return &b.crm
}

// feed is one change feed: per endpoint, or per binding scope.
type feed struct {
	endpoint string
	name     string
	scope    string // "" for endpoint feeds
	side     store.Side
	entities []string
	bindings []*binding // the one binding of a scope feed; every binding of an endpoint feed
	interval time.Duration
}

func (f *feed) String() string { return fmt.Sprintf("%s:%s/%s", f.endpoint, f.name, f.scope) }

// New resolves bindings (asking each connector for its scopes' routing
// keys) and the feeds to collect.
func New(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Workers == 0 {
		opts.Workers = 16
	}
	if opts.Collectors == 0 {
		opts.Collectors = 16
	}
	if opts.PageSize == 0 {
		opts.PageSize = 500
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 8
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	if opts.AuthRetry == 0 {
		opts.AuthRetry = time.Minute
	}
	e := &Engine{opts: opts, log: opts.Logger, db: opts.DB, bindings: map[string]*binding{},
		stats: newStats(), wake: make(chan struct{}, 1), waitFor: map[string]time.Time{}, paused: map[string]bool{}, held: map[string]string{}, hints: make(chan hint, 64)}
	cfg := opts.Config
	// Every call the engine makes goes through its endpoint's limits.
	conns := map[string]Conn{}
	e.watchers = map[string]Watcher{}
	for name, c := range opts.Conns {
		if w, ok := c.(Watcher); ok {
			e.watchers[name] = w
		}
		if ep := cfg.Endpoint(name); ep != nil && c != nil {
			c = limit(c, ep.MaxConcurrency, ep.ScopeConcurrency, func(call string, took time.Duration, err error) {
				opts.Metrics.requests.WithLabelValues(name, call, result(err)).Observe(took.Seconds())
				e.observe(name, err)
			})
		}
		conns[name] = c
	}
	e.opts.Conns = conns
	scopes := map[string][]string{}
	for _, cb := range cfg.Bindings {
		scopes[cb.MailboxEndpoint] = append(scopes[cb.MailboxEndpoint], cb.Mailbox)
		scopes[cb.CRMEndpoint] = append(scopes[cb.CRMEndpoint], cb.CRMUser)
	}
	routing := map[string]map[string][]string{}
	for ep, list := range scopes {
		conn := opts.Conns[ep]
		if conn == nil {
			return nil, fmt.Errorf("endpoint %q has no connection", ep)
		}
		res, err := checkScopes(ctx, conn, list, e.failFor())
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: check: %w", ep, err)
		}
		if err := res.Diagnostics.Err(); err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", ep, err)
		}
		routing[ep] = map[string][]string{}
		for _, s := range res.Scopes {
			if err := s.Diagnostics.Err(); err != nil {
				return nil, fmt.Errorf("endpoint %q, scope %q: %w", ep, s.Scope, err)
			}
			routing[ep][s.Scope] = s.RoutingKeys
		}
	}
	for _, cb := range cfg.Bindings {
		b := &binding{name: cb.Name, cfg: cb, rules: map[string]*policy.Rule{},
			mailbox: side{endpoint: cb.MailboxEndpoint, scope: cb.Mailbox, routing: routing[cb.MailboxEndpoint][cb.Mailbox], manifest: cfg.Endpoint(cb.MailboxEndpoint).Manifest},
			crm:     side{endpoint: cb.CRMEndpoint, scope: cb.CRMUser, routing: routing[cb.CRMEndpoint][cb.CRMUser], manifest: cfg.Endpoint(cb.CRMEndpoint).Manifest},
		}
		for _, entity := range b.entities() {
			r, err := policy.Effective(cfg, cb.Name, entity)
			if err != nil {
				return nil, err
			}
			b.rules[entity] = r
		}
		e.bindings[cb.Name] = b
	}
	e.feeds = e.planFeeds()
	if err := e.db.View(func(tx *store.Tx) error {
		for name := range e.bindings {
			st, err := tx.BindingState(name)
			if err != nil {
				return err
			}
			e.paused[name] = st.Paused
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return e, nil
}

// checkScopes asks a connector to resolve its binding scopes. A plugin that
// is down (crashed, being restarted by its supervisor) is asked again every
// half second for up to failFor (Options.FailFor); the connector's own
// answer, such as refused credentials, is final.
func checkScopes(ctx context.Context, conn Conn, scopes []string, failFor time.Duration) (sdk.CheckResult, error) {
	deadline := time.Now().Add(failFor)
	for {
		res, err := conn.Check(ctx, scopes)
		var typed *sdk.Error
		if err == nil || errors.As(err, &typed) || time.Now().After(deadline) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// entities are those both sides of the binding declare.
func (b *binding) entities() []string {
	var out []string
	for _, e := range b.mailbox.manifest.Entities {
		if b.crm.manifest.Entity(e.Name) != nil {
			out = append(out, e.Name)
		}
	}
	return out
}

// planFeeds lists every feed: an endpoint feed once per endpoint and feed
// name, whatever the number of bindings; a scope feed once per binding.
func (e *Engine) planFeeds() []*feed {
	byKey := map[string]*feed{}
	var out []*feed
	names := make([]string, 0, len(e.bindings))
	for n := range e.bindings {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b := e.bindings[n]
		for _, s := range []store.Side{store.SideMailbox, store.SideCRM} {
			sd := b.side(s)
			ep := e.opts.Config.Endpoint(sd.endpoint)
			for _, entity := range b.entities() {
				me := sd.manifest.Entity(entity)
				scope := sd.scope
				if me.Feed == manifest.FeedEndpoint {
					scope = ""
				}
				key := sd.endpoint + "\x00" + me.FeedName + "\x00" + scope
				f := byKey[key]
				if f == nil {
					f = &feed{endpoint: sd.endpoint, name: me.FeedName, scope: scope, side: s, interval: ep.PollInterval}
					byKey[key] = f
					out = append(out, f)
				}
				if !slices.Contains(f.entities, entity) {
					f.entities = append(f.entities, entity)
				}
				if !slices.Contains(f.bindings, b) {
					f.bindings = append(f.bindings, b)
				}
			}
		}
	}
	return out
}

// refScope is the scope an item's id lives in on one side: "" when the
// side's feed for the entity covers the whole endpoint (ids are unique
// there), else the binding's scope.
func (sd *side) refScope(entity string) string {
	if me := sd.manifest.Entity(entity); me != nil && me.Feed == manifest.FeedEndpoint {
		return ""
	}
	return sd.scope
}

func (sd *side) ref(entity, id string) store.ItemRef {
	return store.ItemRef{Endpoint: sd.endpoint, Scope: sd.refScope(entity), Entity: entity, ID: id}
}

// Wake asks the processor to look at the sync table now.
func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// itemLocks serialises work on one item across workers and bindings.
type itemLocks struct {
	mu   sync.Mutex
	held map[string]bool
}

func (l *itemLocks) tryLock(keys ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		l.held = map[string]bool{}
	}
	for _, k := range keys {
		if k != "" && l.held[k] {
			return false
		}
	}
	for _, k := range keys {
		if k != "" {
			l.held[k] = true
		}
	}
	return true
}

func (l *itemLocks) unlock(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.held, k)
	}
}
