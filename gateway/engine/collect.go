package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/sdk"
)

// collect reads one feed from its stored cursor to its end: PrepareSync,
// then GetSyncData page by page; each page's records (routed to the
// bindings they concern) are stored in one transaction together with the
// cursor that follows them, and only then is PostSync called. The stored
// cursor never moves past a change that is not in the sync table.
func (e *Engine) collect(ctx context.Context, f *feed) (int, error) {
	defer func(start time.Time) {
		e.opts.Metrics.cycle.WithLabelValues(f.endpoint, f.name).Observe(time.Since(start).Seconds())
	}(time.Now())
	conn := e.opts.Conns[f.endpoint]
	sf := sdk.Feed{Name: f.name, Scope: f.scope}
	var cursor []byte
	if err := e.db.View(func(tx *store.Tx) (err error) {
		cursor, err = tx.Cursor(f.endpoint, f.name, f.scope)
		return err
	}); err != nil {
		return 0, err
	}
	if f.scope == "" && cursor != nil {
		if err := e.backfill(ctx, f); err != nil {
			return 0, err
		}
	}
	pending, err := conn.PrepareSync(ctx, sf, cursor)
	if sdk.IsKind(err, sdk.ErrResyncRequired) {
		return e.resync(ctx, f, err)
	}
	if err != nil {
		return 0, fmt.Errorf("feed %s: PrepareSync: %w", f, err)
	}
	if pending.Nothing() && cursor != nil {
		e.cycled(f)
		return 0, nil
	}
	// A round from no cursor is a full enumeration: what it lists is all
	// there is, and what it no longer lists is gone (see inferDeletes).
	enumeration := cursor == nil
	started := time.Now().UTC()
	listed := map[string]map[string]bool{} // entity → ids
	var (
		held     []sdk.ChangeRecord // records of pages that did not carry a cursor yet
		last     []byte
		token    []byte
		total    int
		pages    int
		maxPages = 1 << 20
	)
	for {
		page, err := conn.GetSyncData(ctx, sdk.SyncDataRequest{Feed: sf, Cursor: cursor, PageToken: token, Max: e.opts.PageSize})
		if sdk.IsKind(err, sdk.ErrResyncRequired) {
			return e.resync(ctx, f, err)
		}
		if err != nil {
			return total, fmt.Errorf("feed %s: GetSyncData: %w", f, err)
		}
		e.hook(PointAfterGetSyncData)
		held = append(held, page.Records...)
		if enumeration {
			for _, r := range page.Records {
				if r.Kind == sdk.ChangeUpsert {
					if listed[r.Entity] == nil {
						listed[r.Entity] = map[string]bool{}
					}
					listed[r.Entity][r.ID] = true
				}
			}
		}
		if page.Cursor != nil {
			n, err := e.store(f, held, page.Cursor)
			if err != nil {
				return total, err
			}
			total += n
			held, last = nil, page.Cursor
			e.hook(PointAfterCollectTx)
			e.poke()
		}
		if len(page.NextPageToken) == 0 {
			break
		}
		if pages++; pages > maxPages {
			return total, fmt.Errorf("feed %s: more than %d pages in one round", f, maxPages)
		}
		token = page.NextPageToken
	}
	if len(held) > 0 || last == nil {
		return total, fmt.Errorf("feed %s: the connector ended a round without a cursor after its last page", f)
	}
	if enumeration {
		n, err := e.inferDeletes(ctx, f, listed, started)
		if err != nil {
			return total, err
		}
		total += n
	}
	if enumeration && f.scope == "" {
		// A full enumeration: every binding of the feed has had it.
		if err := e.db.Update(func(tx *store.Tx) error { return e.markEnumerated(tx, f, f.bindings) }); err != nil {
			return total, err
		}
	}
	e.cycled(f)
	if err := conn.PostSync(ctx, sf, last); err != nil {
		// Harmless: the records are stored; the next round replays from the
		// stored cursor, which the connector must accept.
		e.log.Warn("PostSync failed", "feed", f.String(), "error", err)
	}
	return total, nil
}

// inferDeletes closes a full enumeration of a feed (a first read, or a
// re-read after a cursor reset): a copy on this side that the gateway
// synced and the enumeration no longer lists may have been deleted while
// the feed could not say so. Each is looked up (a feed may list only a
// window, as a calendar's does): those the connector confirms gone are
// queued as deletes, but held: a backend that lost its change history, or
// one that suddenly lists nothing, looks exactly like a user deleting
// things, so the binding is paused until an operator decides. Copies
// synced after the enumeration began are left alone: they may have been
// written after the page that would have listed them.
func (e *Engine) inferDeletes(ctx context.Context, f *feed, listed map[string]map[string]bool, started time.Time) (int, error) {
	type candidate struct {
		ref      store.ItemRef
		bindings []*binding
	}
	var cands []candidate
	if err := e.db.View(func(tx *store.Tx) error {
		for _, entity := range f.entities {
			var gone []store.ItemRef
			var bad error
			tx.Keys(store.CopyPrefix(f.endpoint, f.scope, entity), func(k []byte) bool {
				ref, err := store.ParseCopyKey(k)
				if err != nil {
					bad = err
					return false
				}
				if !listed[entity][ref.ID] {
					gone = append(gone, ref)
				}
				return true
			})
			if bad != nil {
				return bad
			}
			for _, ref := range gone {
				corr, err := e.correlationOf(tx, ref)
				if err != nil || corr == nil || !corr.Updated.Before(started) {
					if err != nil {
						return err
					}
					continue
				}
				c := candidate{ref: ref}
				for _, b := range f.bindings {
					if m := corr.MailboxCopy(b.name); m != nil && (f.side == store.SideCRM || m.Ref == ref) {
						c.bindings = append(c.bindings, b) // this binding's pair
					}
				}
				if len(c.bindings) > 0 {
					cands = append(cands, c)
				}
			}
		}
		return nil
	}); err != nil || len(cands) == 0 {
		return 0, err
	}
	// Ask the connector, in the scope of a binding that holds the copy.
	type key struct{ scope, entity string }
	ids := map[key][]string{}
	for _, c := range cands {
		k := key{c.bindings[0].side(f.side).scope, c.ref.Entity}
		ids[k] = append(ids[k], c.ref.ID)
	}
	gone := map[string]bool{}
	for k, list := range ids {
		for start := 0; start < len(list); start += 100 {
			batch := list[start:min(start+100, len(list))]
			res, err := e.opts.Conns[f.endpoint].Fetch(ctx, k.scope, k.entity, batch)
			if err != nil {
				e.log.Warn("cannot look up the items a re-enumeration no longer lists; no deletes inferred", "feed", f.String(), "error", err)
				return 0, nil
			}
			for _, r := range res {
				if r.Err != nil && r.Err.Kind == sdk.ErrNotFound {
					gone[r.ID] = true
				}
			}
		}
	}
	type pair struct{ binding, entity string }
	n := 0
	err := e.db.Update(func(tx *store.Tx) error {
		n = 0
		missing := map[pair]int{}
		now := time.Now().UTC()
		for _, c := range cands {
			if !gone[c.ref.ID] {
				continue // still there, outside what the feed lists
			}
			for _, b := range c.bindings {
				ch := store.Change{Binding: b.name, Side: f.side, Ref: c.ref, Kind: sdk.ChangeDelete, Enqueued: now}
				if _, err := tx.EnqueueChange(ch); err != nil {
					return err
				}
				missing[pair{b.name, c.ref.Entity}]++
				n++
			}
		}
		for p, count := range missing {
			state, err := tx.BindingState(p.binding)
			if err != nil {
				return err
			}
			if time.Now().Before(state.AllowDeletesUntil) {
				continue
			}
			why := fmt.Sprintf("cursor reset: feed %s, read again in full, no longer lists %d synced %s items, and they are gone", f, count, p.entity)
			if len(listed[p.entity]) == 0 {
				why = fmt.Sprintf("feed %s suddenly lists no %s items at all, where %d were synced", f, p.entity, count)
			}
			if err := e.holdDeletes(tx, p.binding, state, why+"; they would be deleted"); err != nil {
				return err
			}
		}
		return nil
	})
	if n > 0 {
		e.poke()
	}
	return n, err
}

// correlationOf returns the correlation a copy belongs to, or nil.
func (e *Engine) correlationOf(tx *store.Tx, ref store.ItemRef) (*store.Correlation, error) {
	item, err := tx.ItemFor(ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	corr, err := tx.Correlation(item)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return corr, err
}

// backfill gives the bindings that joined a shared endpoint feed after its
// first enumeration (a binding added by a reload) what they missed: the
// feed read in full from an empty cursor, routed to them alone, without
// moving the feed's cursor.
func (e *Engine) backfill(ctx context.Context, f *feed) error {
	var fresh []*binding
	if err := e.db.View(func(tx *store.Tx) error {
		for _, b := range f.bindings {
			st, err := tx.BindingState(b.name)
			if err != nil {
				return err
			}
			if !st.Enumerated[f.endpoint+"/"+f.name] {
				fresh = append(fresh, b)
			}
		}
		return nil
	}); err != nil || len(fresh) == 0 {
		return err
	}
	names := map[string]bool{}
	for _, b := range fresh {
		names[b.name] = true
	}
	e.log.Info("reading a shared feed in full for new bindings", "feed", f.String(), "bindings", len(fresh))
	conn := e.opts.Conns[f.endpoint]
	var token []byte
	for {
		page, err := conn.GetSyncData(ctx, sdk.SyncDataRequest{Feed: sdk.Feed{Name: f.name}, PageToken: token, Max: e.opts.PageSize})
		if err != nil {
			return fmt.Errorf("feed %s: backfill: %w", f, err)
		}
		if _, err := e.storeRecords(f, page.Records, nil, func(b string) bool { return names[b] }); err != nil {
			return err
		}
		if len(page.NextPageToken) == 0 {
			break
		}
		token = page.NextPageToken
	}
	e.poke()
	return e.db.Update(func(tx *store.Tx) error { return e.markEnumerated(tx, f, fresh) })
}

func (e *Engine) markEnumerated(tx *store.Tx, f *feed, bindings []*binding) error {
	for _, b := range bindings {
		st, err := tx.BindingState(b.name)
		if err != nil {
			return err
		}
		if st.Enumerated == nil {
			st.Enumerated = map[string]bool{}
		}
		st.Enumerated[f.endpoint+"/"+f.name] = true
		if err := tx.PutBindingState(b.name, st); err != nil {
			return err
		}
	}
	return nil
}

// resync forgets a feed's cursor so that the next collect enumerates it
// afresh; the enumeration is matched against the correlations, never
// duplicated.
func (e *Engine) resync(ctx context.Context, f *feed, cause error) (int, error) {
	e.log.Warn("feed needs a resync; re-enumerating", "feed", f.String(), "cause", cause)
	if err := e.db.Update(func(tx *store.Tx) error { return tx.DeleteCursor(f.endpoint, f.name, f.scope) }); err != nil {
		return 0, err
	}
	return 0, errResync
}

var errResync = errors.New("resync required: cursor dropped")

// store routes records to bindings and writes them with the cursor that
// follows them, in one transaction.
func (e *Engine) store(f *feed, records []sdk.ChangeRecord, cursor []byte) (int, error) {
	return e.storeRecords(f, records, cursor, nil)
}

// storeRecords is store, for the bindings only admits (all when nil), and
// without a cursor when cursor is nil.
func (e *Engine) storeRecords(f *feed, records []sdk.ChangeRecord, cursor []byte, only func(binding string) bool) (int, error) {
	n := 0
	now := time.Now().UTC()
	err := e.db.Update(func(tx *store.Tx) error {
		n = 0
		deletes := map[[2]string]bool{} // binding, entity
		for _, r := range records {
			if !slices.Contains(f.entities, r.Entity) {
				continue // an entity no binding syncs from this feed
			}
			ref := store.ItemRef{Endpoint: f.endpoint, Scope: f.scope, Entity: r.Entity, ID: r.ID}
			targets, err := e.route(tx, f, r, ref)
			if err != nil {
				return err
			}
			for b, kind := range targets {
				if only != nil && !only(b) {
					continue
				}
				c := store.Change{Binding: b, Side: f.side, Ref: ref, Kind: kind, Version: r.Version,
					Modified: r.Modified, CorrelationKey: r.CorrelationKey, Enqueued: now}
				if _, err := tx.EnqueueChange(c); err != nil {
					return err
				}
				if kind == sdk.ChangeDelete {
					deletes[[2]string{b, r.Entity}] = true
				}
				n++
				e.stats.add(b, r.Entity, func(c *Counters) { c.Collected++ })
				e.opts.Metrics.collected.WithLabelValues(string(f.side), r.Entity).Inc()
			}
		}
		for be := range deletes {
			if err := e.guardDeletes(tx, be[0], be[1]); err != nil {
				return err
			}
		}
		if cursor == nil {
			return nil
		}
		return tx.SetCursor(f.endpoint, f.name, f.scope, cursor)
	})
	return n, err
}

// guardDeletes pauses a binding when the deletes waiting for it would remove
// more than its policy's share of its items of an entity in one go: a
// backend that lost its data, or a filter gone wrong, looks exactly like a
// user deleting everything. The records stay queued; nothing is deleted
// until an operator resumes the binding with --allow-deletes.
func (e *Engine) guardDeletes(tx *store.Tx, binding, entity string) error {
	b := e.bindings[binding]
	rule := b.rules[entity]
	state, err := tx.BindingState(binding)
	if err != nil || state.Paused || time.Now().Before(state.AllowDeletesUntil) {
		return err
	}
	items := tx.CountKeys(store.CopyPrefix(b.mailbox.endpoint, b.mailbox.refScope(entity), entity))
	// Distinct items that this binding holds as a pair: one deleted on both
	// sides is one item lost, not two; an item never synced (created and
	// deleted between two collects), or no longer in this mailbox, loses
	// nothing here.
	doomed := map[string]bool{}
	if err := store.Scan(tx, store.QueuePrefix(binding), func(_ []byte, c *store.Change) bool {
		if c.Kind == sdk.ChangeDelete && c.Ref.Entity == entity {
			if item, err := tx.ItemFor(c.Ref); err == nil {
				if corr, err := tx.Correlation(item); err == nil && corr.MailboxCopy(binding) != nil {
					doomed[item] = true
				}
			}
		}
		return true
	}); err != nil {
		return err
	}
	pending := len(doomed)
	if items < 4 || float64(pending) <= rule.Deletes.Share*float64(items) {
		return nil
	}
	return e.holdDeletes(tx, binding, state, fmt.Sprintf("mass delete: %d of %d %s items would be deleted in one cycle (max_delete_share %g)",
		pending, items, entity, rule.Deletes.Share))
}

// holdDeletes pauses a binding for the delete guard: its deletes stay
// queued until an operator decides about them.
func (e *Engine) holdDeletes(tx *store.Tx, binding string, state store.BindingState, why string) error {
	state.Paused, state.Guarded, state.PausedAt = true, true, time.Now().UTC()
	state.PausedReason = fmt.Sprintf("%s; if that is right, run: syncgate resume %s --allow-deletes "+
		"(or --untrack-deletes to keep the items and stop syncing them)", why, binding)
	e.log.Error("binding paused by the delete guard", "binding", binding, "reason", state.PausedReason)
	e.setPaused(binding, true)
	return tx.PutBindingState(binding, state)
}

// route says which bindings a record concerns, and as what. A scope feed's
// records belong to its binding. An endpoint feed's records go to the
// bindings whose routing keys they carry, and to every binding that holds a
// copy of the item: for those the record no longer routes to, an update is
// a scope exit (the item left that binding's scope), never a delete.
func (e *Engine) route(tx *store.Tx, f *feed, r sdk.ChangeRecord, ref store.ItemRef) (map[string]sdk.ChangeKind, error) {
	out := map[string]sdk.ChangeKind{}
	if f.scope != "" {
		out[f.bindings[0].name] = r.Kind
		return out, nil
	}
	for _, b := range f.bindings {
		sd := b.side(f.side)
		for _, k := range r.RoutingKeys {
			if slices.Contains(sd.routing, k) {
				out[b.name] = r.Kind
				break
			}
		}
	}
	corr, err := e.correlationOf(tx, ref)
	if err != nil || corr == nil {
		return out, err
	}
	for _, m := range corr.Mailbox {
		if _, ok := out[m.Binding]; ok || e.bindings[m.Binding] == nil {
			continue
		}
		if r.Kind == sdk.ChangeUpsert {
			out[m.Binding] = sdk.ChangeScopeExit
		} else {
			out[m.Binding] = r.Kind
		}
	}
	return out, nil
}

func (e *Engine) hook(point string) {
	if e.opts.Hooks != nil {
		e.opts.Hooks.At(point)
	}
}

// cycled notes, for status, that a feed's bindings were brought up to date.
func (e *Engine) cycled(f *feed) {
	now := time.Now().UTC()
	for _, b := range f.bindings {
		for _, entity := range f.entities {
			e.stats.add(b.name, entity, func(c *Counters) { c.LastCycle = now })
		}
	}
}
