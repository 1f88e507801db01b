package core

import "context"

// Syncer is the part of a connector that moves data. The gateway calls it
// through the protocol client, which has the same method set, so a test can
// drive an in-process connector and a plugin process alike.
type Syncer interface {
	// PrepareSync says cheaply how many changes wait behind cursor.
	PrepareSync(ctx context.Context, feed Feed, cursor Cursor) (Pending, error)
	// GetSyncData returns one page of change records: ids, versions,
	// timestamps, routing keys, never bodies. An expired or unknown cursor is
	// an ErrResyncRequired error.
	GetSyncData(ctx context.Context, req SyncDataRequest) (SyncDataPage, error)
	// PostSync acknowledges that the gateway has stored everything up to
	// cursor. It must be idempotent; until it is called, GetSyncData may be
	// replayed from the stored cursor.
	PostSync(ctx context.Context, feed Feed, cursor Cursor) error
	// Fetch returns full items in the canonical schema, one result per id.
	Fetch(ctx context.Context, scope, entity string, ids []string) ([]FetchResult, error)
	// Apply performs writes, one result per op, in order.
	Apply(ctx context.Context, scope, entity string, ops []Op) ([]OpResult, error)
}

// Connector is what a connector author implements and hands to sdk.Serve.
type Connector interface {
	Syncer
	// Manifest returns the connector's manifest (connector.hcl) byte for
	// byte, normally embedded with go:embed.
	Manifest() []byte
	// Configure takes the endpoint's settings, already checked against the
	// manifest's config schema, and the environment the host provides.
	Configure(ctx context.Context, env Env, config Fields) Diagnostics
	// Check verifies reachability and credentials, and resolves each binding
	// scope (a mailbox, a CRM user) to the routing keys its records carry.
	Check(ctx context.Context, scopes []string) (CheckResult, error)
}

// CheckResult is Check's answer.
type CheckResult struct {
	Diagnostics Diagnostics
	Scopes      []ScopeInfo
}

// ScopeInfo is one binding scope as the connector resolved it.
type ScopeInfo struct {
	Scope       string
	RoutingKeys []string
	Diagnostics Diagnostics
}

// Watcher is an optional capability: a stream of change hints for a scope
// ("" for the whole endpoint). Watch blocks, sending hints, until ctx ends.
type Watcher interface {
	Watch(ctx context.Context, scope string, hints chan<- Hint) error
}

// WebhookHandler is an optional capability: it handles a backend
// notification that reached the gateway's /hooks/<endpoint> listener. It must
// validate the notification (client state, signatures) itself.
type WebhookHandler interface {
	HandleWebhook(ctx context.Context, req WebhookRequest) (WebhookResponse, error)
}

// Stopper is an optional capability: Stop is called before the host kills
// the process, to release subscriptions and flush state.
type Stopper interface {
	Stop(ctx context.Context) error
}

// Env is what the host gives a configured connector instance.
type Env struct {
	Endpoint string // the endpoint's name in the operator config
	Logger   Logger
	KV       KV
}

// Logger is a structured logger; args are alternating keys and values. Lines
// reach the gateway's log under the endpoint's name.
type Logger interface {
	Debug(msg string, args ...any)
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// KV is a small key-value store persisted by the gateway for one connector
// instance: subscription ids, rotated tokens and the like. Plugins keep no
// state on disk of their own.
type KV interface {
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	Put(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string) (map[string][]byte, error)
}
