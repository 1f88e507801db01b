package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Tx is one read-write transaction with typed accessors. Every step of the
// engine that moves a record does all its writes in one Tx.
type Tx struct {
	db  *DB
	txn *badger.Txn
}

// Update runs fn in a read-write transaction and commits it (synced to
// disk) if fn returns nil. Conflicts with a concurrent transaction are
// retried a few times.
func (db *DB) Update(fn func(tx *Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = db.bdb.Update(func(txn *badger.Txn) error { return fn(&Tx{db: db, txn: txn}) })
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return err
}

// View runs fn in a read-only transaction.
func (db *DB) View(fn func(tx *Tx) error) error {
	return db.bdb.View(func(txn *badger.Txn) error { return fn(&Tx{db: db, txn: txn}) })
}

// ErrNotFound is returned by the typed getters.
var ErrNotFound = errors.New("not found")

func (tx *Tx) getJSON(key []byte, v any) error {
	item, err := tx.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("decode %q: %w", key, err)
		}
		return nil
	})
}

func (tx *Tx) setJSON(key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.txn.Set(key, b)
}

// EnqueueChange adds a change record, or coalesces it into the record already
// pending for the same item on the same side of the same binding.
func (tx *Tx) EnqueueChange(c Change) (coalesced bool, err error) {
	idx := QueueIndexKey(c.Binding, string(c.Side), c.Ref)
	item, err := tx.txn.Get(idx)
	switch {
	case err == nil:
		var seq uint64
		if err := item.Value(func(b []byte) error { seq = decodeSeq(b); return nil }); err != nil {
			return false, err
		}
		var old Change
		if err := tx.getJSON(QueueKey(c.Binding, seq), &old); err == nil {
			old.Coalesce(c)
			return true, tx.setJSON(QueueKey(c.Binding, seq), old)
		} else if !errors.Is(err, ErrNotFound) {
			return false, err
		}
		// A dangling index entry (its record was completed): start anew.
	case !errors.Is(err, badger.ErrKeyNotFound):
		return false, err
	}
	seq, err := tx.db.NextSeq()
	if err != nil {
		return false, err
	}
	c.Seq = seq
	if c.Enqueued.IsZero() {
		c.Enqueued = time.Now().UTC()
	}
	if err := tx.setJSON(QueueKey(c.Binding, seq), c); err != nil {
		return false, err
	}
	return false, tx.txn.Set(idx, encodeSeq(seq))
}

// PutChange rewrites a pending change (attempts, backoff, last error).
func (tx *Tx) PutChange(c Change) error { return tx.setJSON(QueueKey(c.Binding, c.Seq), c) }

// GetChange reads a pending change.
func (tx *Tx) GetChange(binding string, seq uint64) (Change, error) {
	var c Change
	err := tx.getJSON(QueueKey(binding, seq), &c)
	return c, err
}

// DeleteChange removes a processed change and its coalescing index entry,
// unless the index already points at a newer record.
func (tx *Tx) DeleteChange(c Change) error {
	if err := tx.txn.Delete(QueueKey(c.Binding, c.Seq)); err != nil {
		return err
	}
	idx := QueueIndexKey(c.Binding, string(c.Side), c.Ref)
	item, err := tx.txn.Get(idx)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var seq uint64
	if err := item.Value(func(b []byte) error { seq = decodeSeq(b); return nil }); err != nil {
		return err
	}
	if seq != c.Seq {
		return nil
	}
	return tx.txn.Delete(idx)
}

func encodeSeq(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func decodeSeq(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// SetCursor stores a feed's cursor.
func (tx *Tx) SetCursor(endpoint, feed, scope string, cursor []byte) error {
	return tx.txn.Set(CursorKey(endpoint, feed, scope), append([]byte(nil), cursor...))
}

// DeleteCursor forgets a feed's cursor: the next collect enumerates afresh.
func (tx *Tx) DeleteCursor(endpoint, feed, scope string) error {
	return tx.txn.Delete(CursorKey(endpoint, feed, scope))
}

// Cursor reads a feed's cursor; nil when there is none.
func (tx *Tx) Cursor(endpoint, feed, scope string) ([]byte, error) {
	item, err := tx.txn.Get(CursorKey(endpoint, feed, scope))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// Correlation reads an item's correlation.
func (tx *Tx) Correlation(item string) (*Correlation, error) {
	var c Correlation
	if err := tx.getJSON(CorrelationKey(item), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// PutBlocked records a blocked change.
func (tx *Tx) PutBlocked(b Blocked) error {
	return tx.setJSON(BlockedKey(b.Change.Binding, b.Change.Seq), b)
}

// MaxConflicts is how many resolved conflicts are kept per binding: the
// latest, for an operator to look at; the counters keep the total.
const MaxConflicts = 1000

// PutConflict records a resolved conflict, dropping the binding's oldest
// beyond MaxConflicts.
func (tx *Tx) PutConflict(c Conflict) error {
	if err := tx.setJSON(ConflictKey(c.Change.Binding, c.Change.Seq), c); err != nil {
		return err
	}
	var keys [][]byte
	tx.Keys(ConflictPrefix(c.Change.Binding), func(k []byte) bool { keys = append(keys, bytes.Clone(k)); return true })
	for _, k := range keys[:max(len(keys)-MaxConflicts, 0)] {
		if err := tx.txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// ItemForICal returns the item that holds the meeting with this UID.
func (tx *Tx) ItemForICal(entity, uid string) (string, error) {
	item, err := tx.txn.Get(ICalKey(entity, uid))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	v, err := item.ValueCopy(nil)
	return string(v), err
}

// PutCorrelation writes a correlation and the reverse index of each copy
// (and of its iCalendar UID).
// Copies that the previous version had and this one lacks lose their index.
func (tx *Tx) PutCorrelation(c *Correlation) error {
	if old, err := tx.Correlation(c.Item); err == nil {
		keep := map[ItemRef]bool{}
		for _, cp := range c.Copies() {
			keep[cp.Ref] = true
		}
		for _, cp := range old.Copies() {
			if !keep[cp.Ref] {
				if err := tx.txn.Delete(CopyKey(cp.Ref)); err != nil {
					return err
				}
			}
		}
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	for _, cp := range c.Copies() {
		if err := tx.txn.Set(CopyKey(cp.Ref), []byte(c.Item)); err != nil {
			return err
		}
	}
	if c.ICalUID != "" {
		if err := tx.txn.Set(ICalKey(c.Entity, c.ICalUID), []byte(c.Item)); err != nil {
			return err
		}
	}
	c.Updated = time.Now().UTC()
	return tx.setJSON(CorrelationKey(c.Item), c)
}

// DeleteCorrelation removes a correlation and its reverse index.
func (tx *Tx) DeleteCorrelation(item string) error {
	old, err := tx.Correlation(item)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, cp := range old.Copies() {
		if err := tx.txn.Delete(CopyKey(cp.Ref)); err != nil {
			return err
		}
	}
	if old.ICalUID != "" {
		if err := tx.txn.Delete(ICalKey(old.Entity, old.ICalUID)); err != nil {
			return err
		}
	}
	return tx.txn.Delete(CorrelationKey(item))
}

// ItemFor returns the syncgate item a copy belongs to, or ErrNotFound.
func (tx *Tx) ItemFor(ref ItemRef) (string, error) {
	item, err := tx.txn.Get(CopyKey(ref))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	v, err := item.ValueCopy(nil)
	return string(v), err
}

// PutDeadLetter moves a change to the dead letters (the caller deletes the
// change in the same transaction).
func (tx *Tx) PutDeadLetter(d DeadLetter) error {
	return tx.setJSON(DeadLetterKey(d.Change.Binding, d.Change.Seq), d)
}

// DeadLetter reads one dead letter.
func (tx *Tx) DeadLetter(binding string, seq uint64) (DeadLetter, error) {
	var d DeadLetter
	err := tx.getJSON(DeadLetterKey(binding, seq), &d)
	return d, err
}

// DeleteDeadLetter drops a dead letter.
func (tx *Tx) DeleteDeadLetter(binding string, seq uint64) error {
	return tx.txn.Delete(DeadLetterKey(binding, seq))
}

// PutTombstone keeps a propagated delete for undelete.
func (tx *Tx) PutTombstone(t Tombstone) error { return tx.setJSON(TombstoneKey(t.Item.Item), t) }

// Tombstone reads a tombstone.
func (tx *Tx) Tombstone(item string) (Tombstone, error) {
	var t Tombstone
	err := tx.getJSON(TombstoneKey(item), &t)
	return t, err
}

// DeleteTombstone drops a tombstone.
func (tx *Tx) DeleteTombstone(item string) error { return tx.txn.Delete(TombstoneKey(item)) }

// BindingState reads a binding's state; the zero state when there is none.
func (tx *Tx) BindingState(binding string) (BindingState, error) {
	var s BindingState
	err := tx.getJSON(BindingKey(binding), &s)
	if errors.Is(err, ErrNotFound) {
		err = nil
	}
	return s, err
}

// PutBindingState writes a binding's state.
func (tx *Tx) PutBindingState(binding string, s BindingState) error {
	return tx.setJSON(BindingKey(binding), s)
}

// PutIntent records a create about to be sent to (endpoint, scope).
func (tx *Tx) PutIntent(item, endpoint, scope string, in Intent) error {
	return tx.setJSON(IntentKey(item, endpoint, scope), in)
}

// HasIntent reports whether a create of item on (endpoint, scope) was sent
// before without its outcome being recorded.
func (tx *Tx) HasIntent(item, endpoint, scope string) (bool, error) {
	_, err := tx.txn.Get(IntentKey(item, endpoint, scope))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// DeleteIntent clears a create's intent once its outcome is stored.
func (tx *Tx) DeleteIntent(item, endpoint, scope string) error {
	return tx.txn.Delete(IntentKey(item, endpoint, scope))
}

// Scan iterates the keys under prefix in order, decoding each value as JSON
// into a fresh T. fn returns false to stop.
func Scan[T any](tx *Tx, prefix []byte, fn func(key []byte, v *T) bool) error {
	it := tx.txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		var v T
		if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &v) }); err != nil {
			return fmt.Errorf("decode %q: %w", it.Item().Key(), err)
		}
		if !fn(it.Item().KeyCopy(nil), &v) {
			return nil
		}
	}
	return nil
}

// PutNaturalKey indexes one natural key of an item on one side.
func (tx *Tx) PutNaturalKey(ref ItemRef, key string) error {
	return tx.txn.Set(NaturalKey(ref.Endpoint, ref.Scope, ref.Entity, key), []byte(ref.ID))
}

// ItemWithNaturalKey returns the id, on one side, of an item with this
// natural key, or ErrNotFound.
func (tx *Tx) ItemWithNaturalKey(endpoint, scope, entity, key string) (string, error) {
	item, err := tx.txn.Get(NaturalKey(endpoint, scope, entity, key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", err
	}
	v, err := item.ValueCopy(nil)
	return string(v), err
}

// CountKeys counts the keys under prefix without reading their values.
func (tx *Tx) CountKeys(prefix []byte) int {
	n := 0
	tx.Keys(prefix, func([]byte) bool { n++; return true })
	return n
}

// Keys calls fn with each key under prefix, in order, without reading
// values, until fn returns false. The key is only valid during the call.
func (tx *Tx) Keys(prefix []byte, fn func(key []byte) bool) {
	it := tx.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if !fn(it.Item().Key()) {
			return
		}
	}
}
