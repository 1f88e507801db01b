package core

import "time"

// Feed names one change feed of a connector: the feed's name from the
// manifest, and the binding scope for per-scope feeds ("" for endpoint
// feeds, which cover the whole endpoint).
type Feed struct {
	Name  string
	Scope string
}

// String renders the feed as name or name/scope.
func (f Feed) String() string {
	if f.Scope == "" {
		return f.Name
	}
	return f.Name + "/" + f.Scope
}

// Cursor is a connector's opaque position in a feed. Empty means "from the
// beginning": the first GetSyncData enumerates everything.
type Cursor []byte

// PendingKind says how to read Pending.Count.
type PendingKind uint8

// What PrepareSync knows about the changes waiting in a feed.
const (
	PendingUnknown PendingKind = iota
	PendingCount
	PendingEstimate
)

// Pending is PrepareSync's answer: how many changes wait behind a cursor.
type Pending struct {
	Kind  PendingKind
	Count int64
}

// Nothing reports whether the feed says for certain that nothing changed.
func (p Pending) Nothing() bool { return p.Kind == PendingCount && p.Count == 0 }

// ChangeKind is what happened to an item.
type ChangeKind uint8

// Change kinds. A scope exit means the item left the binding's sync scope
// (filter, owner, calendar window, access) without being deleted.
const (
	ChangeUpsert ChangeKind = iota + 1
	ChangeDelete
	ChangeScopeExit
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeUpsert:
		return "upsert"
	case ChangeDelete:
		return "delete"
	case ChangeScopeExit:
		return "scope_exit"
	}
	return "unknown"
}

// ChangeRecord is the light note that an item changed: never its body.
type ChangeRecord struct {
	Entity         string
	ID             string
	Kind           ChangeKind
	Version        string
	Modified       time.Time
	CorrelationKey string   // the syncgate id stamped on the item, if the feed has it
	RoutingKeys    []string // which scopes the record concerns (owner, parties), for endpoint feeds
}

// SyncDataRequest asks for one page of a feed's changes. Max bounds the
// records in the page; 0 lets the connector choose its own page size.
type SyncDataRequest struct {
	Feed      Feed
	Cursor    Cursor
	PageToken []byte
	Max       int
}

// SyncDataPage is one page of changes. An empty NextPageToken ends the round.
// Cursor, when set, is a position the gateway may store once this page's
// records (and every earlier page's) are stored; the last page of a round
// must set it.
type SyncDataPage struct {
	Records       []ChangeRecord
	NextPageToken []byte
	Cursor        Cursor
}

// Record is one full item in the canonical schema of its entity.
type Record struct {
	Entity         string
	ID             string
	Version        string
	Modified       time.Time
	CorrelationKey string
	Fields         Fields
	RoutingKeys    []string
}

// FetchResult is the outcome of fetching one id: a record or an error.
type FetchResult struct {
	ID     string
	Record *Record
	Err    *Error
}

// OpKind is the kind of a write.
type OpKind uint8

// Write kinds.
const (
	OpCreate OpKind = iota + 1
	OpUpdate
	OpDelete
)

func (k OpKind) String() string {
	switch k {
	case OpCreate:
		return "create"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return "unknown"
}

// Op is one write. Updates and deletes carry IfMatch, the version the gateway
// last saw; a mismatch is a conflict. An update is a patch, as in Graph and
// Dataverse: only the fields it carries change, a null value clears a field,
// and fields it does not mention keep their values. A create carries the item's syncgate id
// in CorrelationKey and must stamp it on the new item; with MayExist set, an
// earlier attempt may have succeeded, so the connector looks the key up
// first and returns the existing item instead of creating a second one.
type Op struct {
	Kind           OpKind
	ID             string
	IfMatch        string
	CorrelationKey string
	MayExist       bool
	Fields         Fields
}

// OpResult is the outcome of one op: the item's id and new version, or an
// error. A delete returns no version.
type OpResult struct {
	ID      string
	Version string
	Err     *Error
}

// Hint says that a feed probably has changes: collect it early.
type Hint struct {
	Feed   Feed
	Reason string
	Resync bool // the backend lost track (missed notifications): re-enumerate
}

// WebhookRequest is an HTTP request that reached the gateway's
// /hooks/<endpoint> listener.
type WebhookRequest struct {
	Method  string
	Path    string
	Query   map[string]string
	Headers map[string]string
	Body    []byte
}

// WebhookResponse is what the gateway answers the backend, plus the hints the
// notification carried.
type WebhookResponse struct {
	Status  int
	Headers map[string]string
	Body    []byte
	Hints   []Hint
}
