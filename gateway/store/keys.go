package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Every key syncgate writes to Badger is built and parsed here, and nowhere
// else. A key is a short prefix naming its space followed by a tuple of
// components. Strings are written with 0x00 escaped as 0x00 0x01 and end in
// 0x00 0x00, which no escaped content contains, whatever follows; integers
// are 8 bytes big-endian. Both keep byte order equal to tuple
// order, so a prefix of components is a prefix of keys, and sequences sort
// numerically: the queue drains in arrival order with a plain iterator.
//
//	m  <name>                                   meta: schema version
//	q  <binding> <seq>                          sync table: one change record
//	qi <binding> <side> <entity> <endpoint> <scope> <id>
//	                                            coalescing index → seq of the pending record
//	c  <item>                                   correlation of one syncgate item
//	cx <endpoint> <scope> <entity> <id>         reverse index: a copy → its syncgate item
//	cur <endpoint> <feed> <scope>               a feed's stored cursor
//	dl <binding> <seq>                          dead letters
//	t  <item>                                   tombstones of propagated deletes
//	b  <binding>                                per-binding state (paused and why)
//	kv <endpoint> <key>                         a connector instance's key-value store
//	in <item> <endpoint> <scope>                the intent of a create, recorded before Apply
//	bl <binding> <seq>                          blocked changes, for status
//	cf <binding> <seq>                          conflicts and how they were resolved, for status
//	uid <entity> <ical uid>                     meetings by iCalendar UID → syncgate item
//	nk <endpoint> <scope> <entity> <key>        natural keys of items on one side → their id there

// Key spaces.
const (
	spaceMeta       = "m"
	spaceQueue      = "q"
	spaceQueueIndex = "qi"
	spaceCorr       = "c"
	spaceCopy       = "cx"
	spaceCursor     = "cur"
	spaceDead       = "dl"
	spaceTomb       = "t"
	spaceBinding    = "b"
	spaceKV         = "kv"
	spaceIntent     = "in"
	spaceBlocked    = "bl"
	spaceConflict   = "cf"
	spaceICal       = "uid"
	spaceNatural    = "nk"
)

type keyBuilder struct{ b []byte }

func newKey(space string) *keyBuilder {
	k := &keyBuilder{b: make([]byte, 0, 64)}
	return k.str(space)
}

func (k *keyBuilder) str(s string) *keyBuilder {
	for i := 0; i < len(s); i++ {
		k.b = append(k.b, s[i])
		if s[i] == 0 {
			k.b = append(k.b, 1)
		}
	}
	k.b = append(k.b, 0, 0)
	return k
}

func (k *keyBuilder) u64(n uint64) *keyBuilder {
	k.b = binary.BigEndian.AppendUint64(k.b, n)
	return k
}

func (k *keyBuilder) bytes() []byte { return k.b }

// keyReader parses a key built by keyBuilder.
type keyReader struct {
	b   []byte
	err error
}

func readKey(key []byte, space string) *keyReader {
	r := &keyReader{b: key}
	if got := r.str(); r.err == nil && got != space {
		r.err = fmt.Errorf("key %q is in space %q, want %q", key, got, space)
	}
	return r
}

func (r *keyReader) str() string {
	if r.err != nil {
		return ""
	}
	var out []byte
	for i := 0; i < len(r.b); i++ {
		c := r.b[i]
		if c != 0 {
			out = append(out, c)
			continue
		}
		if i+1 >= len(r.b) {
			break
		}
		if r.b[i+1] == 1 {
			out = append(out, 0)
			i++
			continue
		}
		if r.b[i+1] != 0 {
			r.err = fmt.Errorf("bad escape in string component")
			return ""
		}
		r.b = r.b[i+2:]
		return string(out)
	}
	r.err = fmt.Errorf("unterminated string component")
	return ""
}

func (r *keyReader) u64() uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.err = fmt.Errorf("short integer component")
		return 0
	}
	n := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return n
}

func (r *keyReader) done() error {
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return r.err
}

// MetaKey is a meta entry such as the schema version.
func MetaKey(name string) []byte { return newKey(spaceMeta).str(name).bytes() }

// QueueKey is one change record in a binding's sync table.
func QueueKey(binding string, seq uint64) []byte {
	return newKey(spaceQueue).str(binding).u64(seq).bytes()
}

// QueuePrefix covers every change record of one binding, in arrival order.
func QueuePrefix(binding string) []byte { return newKey(spaceQueue).str(binding).bytes() }

// QueueAllPrefix covers the whole sync table.
func QueueAllPrefix() []byte { return newKey(spaceQueue).bytes() }

// ParseQueueKey returns the binding and sequence of a queue key.
func ParseQueueKey(key []byte) (binding string, seq uint64, err error) {
	r := readKey(key, spaceQueue)
	binding, seq = r.str(), r.u64()
	return binding, seq, r.done()
}

// ItemRef names one copy of an item on one side: the endpoint that holds it,
// the scope it lives in ("" for endpoint-wide ids such as a CRM record's),
// its entity and its id there.
type ItemRef struct {
	Endpoint string
	Scope    string
	Entity   string
	ID       string
}

func (r ItemRef) String() string {
	return fmt.Sprintf("%s/%s/%s/%s", r.Endpoint, r.Scope, r.Entity, r.ID)
}

// QueueIndexKey maps an item's pending change to its queue sequence, so that
// repeated changes to one item coalesce into one record.
func QueueIndexKey(binding, side string, ref ItemRef) []byte {
	return newKey(spaceQueueIndex).str(binding).str(side).str(ref.Entity).str(ref.Endpoint).str(ref.Scope).str(ref.ID).bytes()
}

// ParseQueueIndexKey reverses QueueIndexKey.
func ParseQueueIndexKey(key []byte) (binding, side string, ref ItemRef, err error) {
	r := readKey(key, spaceQueueIndex)
	binding, side = r.str(), r.str()
	ref.Entity, ref.Endpoint, ref.Scope, ref.ID = r.str(), r.str(), r.str(), r.str()
	return binding, side, ref, r.done()
}

// CorrelationKey holds one syncgate item's correlation.
func CorrelationKey(item string) []byte { return newKey(spaceCorr).str(item).bytes() }

// ParseCorrelationKey reverses CorrelationKey.
func ParseCorrelationKey(key []byte) (item string, err error) {
	r := readKey(key, spaceCorr)
	item = r.str()
	return item, r.done()
}

// CopyKey is the reverse index from one copy to its syncgate item.
func CopyKey(ref ItemRef) []byte {
	return newKey(spaceCopy).str(ref.Endpoint).str(ref.Scope).str(ref.Entity).str(ref.ID).bytes()
}

// CopyPrefix covers every copy of an entity in one scope of an endpoint.
func CopyPrefix(endpoint, scope, entity string) []byte {
	return newKey(spaceCopy).str(endpoint).str(scope).str(entity).bytes()
}

// ParseCopyKey reverses CopyKey.
func ParseCopyKey(key []byte) (ItemRef, error) {
	r := readKey(key, spaceCopy)
	ref := ItemRef{Endpoint: r.str(), Scope: r.str(), Entity: r.str(), ID: r.str()}
	return ref, r.done()
}

// CursorKey holds a feed's cursor. scope is "" for endpoint feeds.
func CursorKey(endpoint, feed, scope string) []byte {
	return newKey(spaceCursor).str(endpoint).str(feed).str(scope).bytes()
}

// ParseCursorKey reverses CursorKey.
func ParseCursorKey(key []byte) (endpoint, feed, scope string, err error) {
	r := readKey(key, spaceCursor)
	endpoint, feed, scope = r.str(), r.str(), r.str()
	return endpoint, feed, scope, r.done()
}

// DeadLetterKey is one dead letter of a binding.
func DeadLetterKey(binding string, seq uint64) []byte {
	return newKey(spaceDead).str(binding).u64(seq).bytes()
}

// DeadLetterPrefix covers a binding's dead letters ("" for all: use DeadLetterAllPrefix).
func DeadLetterPrefix(binding string) []byte { return newKey(spaceDead).str(binding).bytes() }

// DeadLetterAllPrefix covers every dead letter.
func DeadLetterAllPrefix() []byte { return newKey(spaceDead).bytes() }

// ParseDeadLetterKey reverses DeadLetterKey.
func ParseDeadLetterKey(key []byte) (binding string, seq uint64, err error) {
	r := readKey(key, spaceDead)
	binding, seq = r.str(), r.u64()
	return binding, seq, r.done()
}

// TombstoneKey holds a propagated delete that can be undone.
func TombstoneKey(item string) []byte { return newKey(spaceTomb).str(item).bytes() }

// TombstonePrefix covers every tombstone.
func TombstonePrefix() []byte { return newKey(spaceTomb).bytes() }

// ParseTombstoneKey reverses TombstoneKey.
func ParseTombstoneKey(key []byte) (item string, err error) {
	r := readKey(key, spaceTomb)
	item = r.str()
	return item, r.done()
}

// BindingKey holds a binding's state.
func BindingKey(binding string) []byte { return newKey(spaceBinding).str(binding).bytes() }

// BindingPrefix covers every binding's state.
func BindingPrefix() []byte { return newKey(spaceBinding).bytes() }

// ParseBindingKey reverses BindingKey.
func ParseBindingKey(key []byte) (binding string, err error) {
	r := readKey(key, spaceBinding)
	binding = r.str()
	return binding, r.done()
}

// KVKey is one entry of a connector instance's key-value store.
func KVKey(endpoint, key string) []byte { return newKey(spaceKV).str(endpoint).str(key).bytes() }

// KVPrefix covers the entries of an endpoint's store whose keys start with
// prefix. The prefix is not terminated, so it matches partial keys.
func KVPrefix(endpoint, prefix string) []byte {
	k := newKey(spaceKV).str(endpoint).bytes()
	return append(k, (&keyBuilder{}).str(prefix).bytes()[:escapedLen(prefix)]...)
}

func escapedLen(s string) int { return len(s) + bytes.Count([]byte(s), []byte{0}) }

// ParseKVKey reverses KVKey.
func ParseKVKey(key []byte) (endpoint, k string, err error) {
	r := readKey(key, spaceKV)
	endpoint, k = r.str(), r.str()
	return endpoint, k, r.done()
}

// IntentKey records that a create of item on (endpoint, scope) is about to
// be sent, so that after a crash the retry is flagged "may exist".
func IntentKey(item, endpoint, scope string) []byte {
	return newKey(spaceIntent).str(item).str(endpoint).str(scope).bytes()
}

// ParseIntentKey reverses IntentKey.
func ParseIntentKey(key []byte) (item, endpoint, scope string, err error) {
	r := readKey(key, spaceIntent)
	item, endpoint, scope = r.str(), r.str(), r.str()
	return item, endpoint, scope, r.done()
}

// BlockedKey is one blocked change of a binding.
func BlockedKey(binding string, seq uint64) []byte {
	return newKey(spaceBlocked).str(binding).u64(seq).bytes()
}

// BlockedPrefix covers a binding's blocked changes.
func BlockedPrefix(binding string) []byte { return newKey(spaceBlocked).str(binding).bytes() }

// ParseBlockedKey reverses BlockedKey.
func ParseBlockedKey(key []byte) (binding string, seq uint64, err error) {
	r := readKey(key, spaceBlocked)
	binding, seq = r.str(), r.u64()
	return binding, seq, r.done()
}

// ConflictKey is one resolved conflict of a binding.
func ConflictKey(binding string, seq uint64) []byte {
	return newKey(spaceConflict).str(binding).u64(seq).bytes()
}

// ConflictPrefix covers a binding's conflicts.
func ConflictPrefix(binding string) []byte { return newKey(spaceConflict).str(binding).bytes() }

// ParseConflictKey reverses ConflictKey.
func ParseConflictKey(key []byte) (binding string, seq uint64, err error) {
	r := readKey(key, spaceConflict)
	binding, seq = r.str(), r.u64()
	return binding, seq, r.done()
}

// ICalKey maps a meeting's iCalendar UID to its syncgate item, so that each
// attendee's copy joins one item.
func ICalKey(entity, uid string) []byte { return newKey(spaceICal).str(entity).str(uid).bytes() }

// ParseICalKey reverses ICalKey.
func ParseICalKey(key []byte) (entity, uid string, err error) {
	r := readKey(key, spaceICal)
	entity, uid = r.str(), r.str()
	return entity, uid, r.done()
}

// NaturalKey maps a natural key (an e-mail address, an iCalendar UID) of an
// item on one side to its id there, so that first sync and resync match
// items before creating any.
func NaturalKey(endpoint, scope, entity, key string) []byte {
	return newKey(spaceNatural).str(endpoint).str(scope).str(entity).str(key).bytes()
}

// ParseNaturalKey reverses NaturalKey.
func ParseNaturalKey(key []byte) (endpoint, scope, entity, k string, err error) {
	r := readKey(key, spaceNatural)
	endpoint, scope, entity, k = r.str(), r.str(), r.str(), r.str()
	return endpoint, scope, entity, k, r.done()
}
