package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/sdk"
)

// Undelete writes a deleted item again, from its tombstone, on every side
// it was deleted from: the CRM record and each bound mailbox's copy, with
// the content they last synced, under the same syncgate id. Each create
// records its intent first, so an undelete cut short by a crash and run
// again finds what it already wrote.
func (e *Engine) Undelete(ctx context.Context, item string) error {
	var t store.Tombstone
	if err := e.db.View(func(tx *store.Tx) (err error) { t, err = tx.Tombstone(item); return err }); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no tombstone for item %q (see GET /v1/tombstones)", item)
		}
		return err
	}
	snap := t.Item
	corr := &store.Correlation{Item: item, Entity: snap.Entity, ICalUID: snap.ICalUID}
	var pairs []*store.Copy
	var crmFields sdk.Fields
	for _, m := range snap.Mailbox {
		if e.bindings[m.Binding] == nil {
			continue // the binding is gone: nothing to write it to
		}
		pairs = append(pairs, m)
		if crmFields == nil && m.CRMFields != nil {
			crmFields = m.CRMFields
		}
	}
	if len(pairs) == 0 {
		return fmt.Errorf("item %q was held by no binding that still exists", item)
	}
	create := func(sd *side, fields sdk.Fields) (sdk.OpResult, error) {
		scope := sd.refScope(snap.Entity)
		var mayExist bool
		if err := e.db.Update(func(tx *store.Tx) (err error) {
			if mayExist, err = tx.HasIntent(item, sd.endpoint, scope); err != nil {
				return err
			}
			return tx.PutIntent(item, sd.endpoint, scope, store.Intent{At: time.Now().UTC()})
		}); err != nil {
			return sdk.OpResult{}, err
		}
		res, err := e.apply(ctx, sd, snap.Entity, sdk.Op{Kind: sdk.OpCreate, CorrelationKey: item, MayExist: mayExist, Fields: fields})
		if err != nil {
			return res, fmt.Errorf("undelete %s on %s: %w", item, sd.endpoint, err)
		}
		return res, nil
	}
	first := e.bindings[pairs[0].Binding]
	if crmFields != nil {
		res, err := create(&first.crm, crmFields)
		if err != nil {
			return err
		}
		corr.CRM = &store.Copy{Ref: first.crm.ref(snap.Entity, res.ID), Version: res.Version}
	}
	for _, m := range pairs {
		b := e.bindings[m.Binding]
		res, err := create(&b.mailbox, m.Fields)
		if err != nil {
			return err
		}
		cp := &store.Copy{Binding: m.Binding, Ref: b.mailbox.ref(snap.Entity, res.ID), Version: res.Version, Fields: m.Fields, Hash: hashFields(m.Fields)}
		if corr.CRM != nil {
			cp.CRMVersion, cp.CRMFields = corr.CRM.Version, crmFields
		}
		corr.SetMailboxCopy(cp)
	}
	return e.db.Update(func(tx *store.Tx) error {
		for _, cp := range corr.Copies() {
			if err := tx.DeleteIntent(item, cp.Ref.Endpoint, cp.Ref.Scope); err != nil {
				return err
			}
		}
		if err := tx.PutCorrelation(corr); err != nil {
			return err
		}
		return tx.DeleteTombstone(item)
	})
}

// Tombstones lists the propagated deletes that can still be undone.
func (e *Engine) Tombstones() ([]store.Tombstone, error) {
	var out []store.Tombstone
	err := e.db.View(func(tx *store.Tx) error {
		return store.Scan(tx, store.TombstonePrefix(), func(_ []byte, t *store.Tombstone) bool { out = append(out, *t); return true })
	})
	return out, err
}

// retention is how long a tombstone is kept (gateway { tombstone_retention }).
func (e *Engine) retention() time.Duration {
	if d := e.opts.Config.Gateway.TombstoneRetention; d > 0 {
		return d
	}
	return config.DefaultTombstoneRetention
}

// ExpireTombstones forgets the tombstones whose retention ended before now;
// Run calls it every hour. The items themselves are long gone: only the
// means to undo their delete goes.
func (e *Engine) ExpireTombstones(now time.Time) (int, error) {
	var old []string
	if err := e.db.View(func(tx *store.Tx) error {
		return store.Scan(tx, store.TombstonePrefix(), func(_ []byte, t *store.Tombstone) bool {
			if t.Expires.Before(now) {
				old = append(old, t.Item.Item)
			}
			return true
		})
	}); err != nil {
		return 0, err
	}
	for start := 0; start < len(old); start += 1000 { // bounded transactions
		batch := old[start:min(start+1000, len(old))]
		if err := e.db.Update(func(tx *store.Tx) error {
			for _, item := range batch {
				if err := tx.DeleteTombstone(item); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return 0, err
		}
	}
	if len(old) > 0 {
		e.log.Info("tombstones expired", "count", len(old))
	}
	return len(old), nil
}
