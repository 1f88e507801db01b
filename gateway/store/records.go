package store

import (
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// Side is which side of a binding a copy or a change is on.
type Side string

// The two sides.
const (
	SideMailbox Side = "mailbox"
	SideCRM     Side = "crm"
)

// Other returns the opposite side.
func (s Side) Other() Side {
	if s == SideMailbox {
		return SideCRM
	}
	return SideMailbox
}

// Change is one record of the sync table: the light note that an item
// changed on one side of one binding. Never the item's body.
type Change struct {
	Seq            uint64         `json:"seq"`
	Binding        string         `json:"binding"`
	Side           Side           `json:"side"`
	Ref            ItemRef        `json:"ref"`
	Kind           sdk.ChangeKind `json:"kind"`
	Version        string         `json:"version,omitempty"`
	Modified       time.Time      `json:"modified,omitempty"`
	CorrelationKey string         `json:"correlation_key,omitempty"`
	Enqueued       time.Time      `json:"enqueued"`
	// Set while the record is retried.
	Attempts  int       `json:"attempts,omitempty"`
	NotBefore time.Time `json:"not_before,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	// Indexed is set once the item's natural keys are in the index.
	Indexed bool `json:"indexed,omitempty"`
}

// Coalesce folds a newer change to the same item into c: the item's latest
// state is what will be synced, and the record keeps its place in the
// queue so an item that changes constantly is not starved.
func (c *Change) Coalesce(newer Change) {
	c.Kind, c.Version, c.Modified = newer.Kind, newer.Version, newer.Modified
	if newer.CorrelationKey != "" {
		c.CorrelationKey = newer.CorrelationKey
	}
	c.Attempts, c.NotBefore, c.LastError = 0, time.Time{}, ""
	c.Indexed = false // its natural keys may have changed
}

// Copy is one copy of an item: the CRM record, or one binding's mailbox copy.
type Copy struct {
	Binding string  `json:"binding,omitempty"` // mailbox copies: whose mailbox
	Ref     ItemRef `json:"ref"`
	Version string  `json:"version,omitempty"` // the version last seen or written
	Hash    string  `json:"hash,omitempty"`    // content hash of the fields last synced to or from it
	// Fields is the content this copy had when it was last in sync: the
	// base against which a later change on it is told apart from a stale
	// value, per copy, so that one mailbox never overwrites another's newer
	// change to the CRM.
	Fields sdk.Fields `json:"fields,omitempty"`
	// CRMVersion, on a mailbox copy, is the CRM record's version this copy
	// reflects: a CRM change reaches every bound mailbox, and is an echo
	// only for the copies already at that version.
	CRMVersion string `json:"crm_version,omitempty"`
	// CRMFields, on a mailbox copy, is the CRM record's content when this
	// pair was last in sync: the CRM side's base for this binding.
	CRMFields sdk.Fields `json:"crm_fields,omitempty"`
}

// Correlation is everything the gateway knows about one syncgate item: its
// copies on each side, each with the content it last synced (the base of a
// three-way merge).
type Correlation struct {
	Item    string    `json:"item"`
	Entity  string    `json:"entity"`
	CRM     *Copy     `json:"crm,omitempty"`
	Mailbox []*Copy   `json:"mailbox,omitempty"`
	ICalUID string    `json:"ical_uid,omitempty"`
	Updated time.Time `json:"updated"`
}

// MailboxCopy returns the binding's mailbox copy, or nil.
func (c *Correlation) MailboxCopy(binding string) *Copy {
	for _, m := range c.Mailbox {
		if m.Binding == binding {
			return m
		}
	}
	return nil
}

// SetMailboxCopy adds or replaces the binding's mailbox copy.
func (c *Correlation) SetMailboxCopy(cp *Copy) {
	for i, m := range c.Mailbox {
		if m.Binding == cp.Binding {
			c.Mailbox[i] = cp
			return
		}
	}
	c.Mailbox = append(c.Mailbox, cp)
}

// RemoveMailboxCopy drops the binding's mailbox copy.
func (c *Correlation) RemoveMailboxCopy(binding string) {
	for i, m := range c.Mailbox {
		if m.Binding == binding {
			c.Mailbox = append(c.Mailbox[:i], c.Mailbox[i+1:]...)
			return
		}
	}
}

// Copies returns every copy of the item.
func (c *Correlation) Copies() []*Copy {
	var out []*Copy
	if c.CRM != nil {
		out = append(out, c.CRM)
	}
	return append(out, c.Mailbox...)
}

// DeadLetter is a change that kept failing, kept for an operator.
type DeadLetter struct {
	Change Change    `json:"change"`
	Error  string    `json:"error"`
	At     time.Time `json:"at"`
}

// Tombstone is a propagated delete that can be undone until Expires.
type Tombstone struct {
	Item        Correlation `json:"item"`
	DeletedFrom Side        `json:"deleted_from"`
	At          time.Time   `json:"at"`
	Expires     time.Time   `json:"expires"`
}

// BindingState is what the gateway remembers about a binding between runs.
type BindingState struct {
	Paused       bool      `json:"paused,omitempty"`
	PausedReason string    `json:"paused_reason,omitempty"`
	PausedAt     time.Time `json:"paused_at,omitempty"`
	// Guarded says the delete guard paused the binding: deletes wait in
	// its queue, and a plain resume is refused until the operator says
	// what becomes of them (--allow-deletes or --untrack-deletes).
	Guarded bool `json:"guarded,omitempty"`
	// AllowDeletesUntil lets deletes through the mass-delete guard until
	// then: an operator confirmed them (resume --allow-deletes).
	AllowDeletesUntil time.Time `json:"allow_deletes_until,omitempty"`
	// Enumerated lists the endpoint feeds (endpoint/feed) that have been
	// read in full for this binding: a binding added later gets a
	// backfill of each shared feed it was not there for.
	Enumerated map[string]bool `json:"enumerated,omitempty"`
}

// Intent records that a create is about to be sent.
type Intent struct {
	Binding string    `json:"binding,omitempty"`
	Side    Side      `json:"side"`
	At      time.Time `json:"at"`
}

// Conflict is an item changed on both sides since their last sync, and how
// the binding's policy resolved it.
type Conflict struct {
	Change  Change    `json:"change"` // the record whose processing met the conflict
	Item    string    `json:"item"`
	Policy  string    `json:"policy"`
	Fields  []string  `json:"fields"`  // changed on the record's side
	Against []string  `json:"against"` // changed on the other side
	At      time.Time `json:"at"`
}

// Blocked is a change that its rule did not let through, kept for status:
// which item, which way it tried to flow, and the rule that stopped it.
type Blocked struct {
	Change Change    `json:"change"`
	Item   string    `json:"item,omitempty"`
	Op     string    `json:"op"`
	Rule   string    `json:"rule"` // the direction and where it comes from
	Action string    `json:"action"`
	At     time.Time `json:"at"`
}
