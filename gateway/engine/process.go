package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/syncgate/syncgate/gateway/policy"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/sdk"
)

// job is one change record being processed, with everything looked up.
type job struct {
	c    store.Change
	b    *binding
	rule *policy.Rule
	S, T store.Side
	src  *side // the side the change came from
	dst  *side // the other side
	corr *store.Correlation
}

// errRetry makes handle start over: a write met a conflict, so the item
// is fetched and resolved again.
var errRetry = errors.New("conflict: resolve again")

// process handles one change record, retrying it from the top when a write
// meets a concurrent change.
func (e *Engine) process(ctx context.Context, c store.Change) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if err = e.handle(ctx, c); !errors.Is(err, errRetry) {
			return err
		}
	}
	return fmt.Errorf("item kept changing while it was written: %w", err)
}

func (e *Engine) handle(ctx context.Context, c store.Change) error {
	b := e.bindings[c.Binding]
	var rule *policy.Rule
	if b != nil {
		rule = b.rules[c.Ref.Entity]
	}
	if rule == nil { // the binding or entity is no longer configured
		return e.done(c, nil)
	}
	j := &job{c: c, b: b, rule: rule, S: c.Side, T: c.Side.Other(), src: b.side(c.Side), dst: b.side(c.Side.Other())}
	if err := e.db.View(func(tx *store.Tx) (err error) {
		j.corr, err = e.lookup(tx, j)
		return err
	}); err != nil {
		return err
	}
	switch c.Kind {
	case sdk.ChangeDelete, sdk.ChangeScopeExit:
		return e.removal(ctx, j)
	}
	return e.upsert(ctx, j)
}

// lookup finds the item a change belongs to: by the copy's reverse index,
// then by the syncgate id stamped on it.
func (e *Engine) lookup(tx *store.Tx, j *job) (*store.Correlation, error) {
	item, err := tx.ItemFor(j.c.Ref)
	if errors.Is(err, store.ErrNotFound) && j.c.CorrelationKey != "" {
		item, err = j.c.CorrelationKey, nil
	}
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

// copyOf returns the job's copy on side s: the CRM record, or this
// binding's mailbox copy.
func (j *job) copyOf(s store.Side) *store.Copy {
	if j.corr == nil {
		return nil
	}
	if s == store.SideCRM {
		return j.corr.CRM
	}
	return j.corr.MailboxCopy(j.b.name)
}

func (j *job) setCopy(s store.Side, cp *store.Copy) {
	if s == store.SideCRM {
		j.corr.CRM = cp
		return
	}
	cp.Binding = j.b.name
	j.corr.SetMailboxCopy(cp)
}

// callError says which endpoint and scope a failed call went to, so that a
// throttled answer holds back exactly what the backend named.
type callError struct {
	endpoint, scope, call string
	err                   error
}

func (c *callError) Error() string {
	return fmt.Sprintf("%s %s/%s: %v", c.call, c.endpoint, c.scope, c.err)
}

func (c *callError) Unwrap() error { return c.err }

func (sd *side) fail(call string, err error) error {
	if err == nil {
		return nil
	}
	return &callError{endpoint: sd.endpoint, scope: sd.scope, call: call, err: err}
}

func (e *Engine) fetch(ctx context.Context, sd *side, entity, id string) (*sdk.Record, error) {
	res, err := e.opts.Conns[sd.endpoint].Fetch(ctx, sd.scope, entity, []string{id})
	if err != nil {
		return nil, sd.fail("Fetch", err)
	}
	if res[0].Err != nil {
		if res[0].Err.Kind == sdk.ErrNotFound {
			return nil, nil
		}
		return nil, sd.fail("Fetch", res[0].Err)
	}
	return res[0].Record, nil
}

func (e *Engine) apply(ctx context.Context, sd *side, entity string, op sdk.Op) (sdk.OpResult, error) {
	res, err := e.opts.Conns[sd.endpoint].Apply(ctx, sd.scope, entity, []sdk.Op{op})
	if err != nil {
		return sdk.OpResult{}, sd.fail("Apply", err)
	}
	e.hook(PointAfterApply)
	if res[0].Err != nil {
		if res[0].Err.Kind == sdk.ErrConflict {
			return res[0], errRetry
		}
		return res[0], sd.fail("Apply "+op.Kind.String(), res[0].Err)
	}
	return res[0], nil
}

// dropCopy forgets the job's copy on side s (it no longer exists); for the
// CRM side the pair's CRM state goes with it.
func (j *job) dropCopy(s store.Side) {
	if s == store.SideCRM {
		j.corr.CRM = nil
		if m := j.pair(); m != nil {
			m.CRMVersion, m.CRMFields = "", nil
		}
		return
	}
	j.corr.RemoveMailboxCopy(j.b.name)
}

// pair returns this binding's mailbox copy: with the CRM record, the pair
// whose sync state (both versions, both sides' last agreed content) decides
// what is an echo, what changed, and what conflicts.
func (j *job) pair() *store.Copy {
	if j.corr == nil {
		return nil
	}
	return j.corr.MailboxCopy(j.b.name)
}

// base is side s's content when the pair was last in sync.
func (j *job) base(s store.Side) sdk.Fields {
	m := j.pair()
	if m == nil {
		return nil
	}
	if s == store.SideMailbox {
		return m.Fields
	}
	return m.CRMFields
}

// settle records that the pair is in sync: each side's version and content.
func (j *job) settle(s store.Side, version string, fields sdk.Fields) {
	m := j.pair()
	if s == store.SideMailbox {
		m.Version, m.Fields, m.Hash = version, fields, hashFields(fields)
		return
	}
	m.CRMVersion, m.CRMFields = version, fields
	j.corr.CRM.Version = version
}

// errBusy puts a record back for a moment: another worker holds what it
// needs (a meeting's UID being matched).
var errBusy = errors.New("busy: another worker holds the item")

// upsert handles a created or changed item on side S.
func (e *Engine) upsert(ctx context.Context, j *job) error {
	entity := j.c.Ref.Entity
	rec, err := e.fetch(ctx, j.src, entity, j.c.Ref.ID)
	if err != nil {
		return err
	}
	if rec == nil {
		return e.done(j.c, nil) // gone already: its delete follows in the feed
	}
	if src := j.copyOf(j.S); src != nil && src.Ref != j.c.Ref {
		// The stamp of an item that already has a copy on this side: the
		// user duplicated it. Ignored, never mistaken for the original.
		e.log.Info("ignoring a copy that carries another copy's stamp", "item", j.corr.Item, "copy", j.c.Ref.String())
		return e.done(j.c, nil)
	}
	if m := j.pair(); m != nil && j.copyOf(j.S) != nil &&
		((j.S == store.SideMailbox && m.Version == rec.Version) || (j.S == store.SideCRM && m.CRMVersion == rec.Version)) {
		e.stats.add(j.b.name, entity, func(c *Counters) { c.Echoes++ })
		return e.done(j.c, nil) // our own write, or a change this pair already has
	}
	if j.corr == nil || j.pair() == nil || j.copyOf(j.T) == nil {
		// Not paired yet for this binding: match the other side by natural
		// keys (and meetings across mailboxes by UID) before creating
		// anything, one worker at a time per key.
		keys := j.b.naturalKeys(entity, rec.Fields)
		locks := make([]string, len(keys))
		for i, k := range keys {
			locks[i] = "nk:" + entity + ":" + k
		}
		if !e.locks.tryLock(locks...) {
			return errBusy
		}
		defer e.locks.unlock(locks...)
		if err := e.db.View(func(tx *store.Tx) (err error) {
			if j.corr, err = e.lookup(tx, j); err != nil || j.corr != nil {
				return err
			}
			uid := rec.Fields["ical_uid"].Str()
			if uid == "" || j.S != store.SideMailbox {
				return nil
			}
			item, err := tx.ItemForICal(entity, uid)
			if err == nil {
				j.corr, err = tx.Correlation(item)
			}
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}); err != nil {
			return err
		}
		if j.pair() == nil || j.copyOf(j.T) == nil {
			if err := e.match(j, keys); err != nil {
				return err
			}
		}
	}
	if j.copyOf(j.S) == nil && j.corr != nil {
		// A copy of a known item, new on this side (a meeting matched by
		// UID, or a copy we wrote whose outcome a crash kept from us): link
		// it, then reconcile it with the other side.
		j.setCopy(j.S, &store.Copy{Ref: j.c.Ref})
		if j.S == store.SideCRM {
			if m := j.pair(); m != nil {
				m.CRMVersion = ""
			}
		}
	}
	if j.copyOf(j.T) == nil || j.pair() == nil {
		return e.create(ctx, j, rec)
	}
	return e.update(ctx, j, rec)
}

// create writes an item that side T does not have yet for this binding.
func (e *Engine) create(ctx context.Context, j *job, rec *sdk.Record) error {
	entity := j.c.Ref.Entity
	if j.S == store.SideMailbox && j.corr == nil && !tracked(j.rule, rec.Fields) {
		e.outcome(j, "untracked")
		return e.done(j.c, nil) // not tracked: stays in the mailbox only
	}
	if op := j.rule.Ops["create"]; !flows(op.Direction, j.S) {
		return e.block(ctx, j, rec, "create", op)
	}
	if j.corr == nil {
		j.corr = &store.Correlation{Item: newItemID(), Entity: entity, ICalUID: rec.Fields["ical_uid"].Str()}
		j.setCopy(j.S, &store.Copy{Ref: j.c.Ref})
	}
	item := j.corr.Item
	dstScope := j.dst.refScope(entity)
	// Record the intent, and the item id, before the write: a retry after a
	// crash finds them, and asks the connector to look the stamp up.
	var mayExist bool
	if err := e.db.Update(func(tx *store.Tx) (err error) {
		if mayExist, err = tx.HasIntent(item, j.dst.endpoint, dstScope); err != nil {
			return err
		}
		if err := tx.PutIntent(item, j.dst.endpoint, dstScope, store.Intent{Binding: j.b.name, Side: j.T, At: time.Now().UTC()}); err != nil {
			return err
		}
		return tx.PutCorrelation(j.corr)
	}); err != nil {
		return err
	}
	fields := flowing(j.rule, j.S, rec.Fields)
	res, err := e.apply(ctx, j.dst, entity, sdk.Op{Kind: sdk.OpCreate, CorrelationKey: item, MayExist: mayExist, Fields: fields})
	if err != nil {
		return err
	}
	j.setCopy(j.T, &store.Copy{Ref: j.dst.ref(entity, res.ID), Version: res.Version})
	j.settle(j.S, rec.Version, rec.Fields)
	j.settle(j.T, res.Version, fields)
	e.outcome(j, "created")
	return e.done(j.c, func(tx *store.Tx) error {
		if err := tx.DeleteIntent(item, j.dst.endpoint, dstScope); err != nil {
			return err
		}
		for _, k := range j.b.naturalKeys(entity, fields) {
			if err := tx.PutNaturalKey(j.copyOf(j.T).Ref, k); err != nil {
				return err
			}
		}
		if err := tx.PutCorrelation(j.corr); err != nil {
			return err
		}
		return e.fanOut(tx, j)
	})
}

// update brings side T in line with a change on side S, resolving a
// conflict when T changed too since the pair was last in sync.
func (e *Engine) update(ctx context.Context, j *job, rec *sdk.Record) error {
	entity := j.c.Ref.Entity
	linking := j.base(j.S) == nil // first reconciliation of a newly linked copy
	if op := j.rule.Ops["update"]; !flows(op.Direction, j.S) && !linking && !j.base(j.S).Equal(rec.Fields) {
		return e.block(ctx, j, rec, "update", op)
	}
	sChanged := changed(j.rule, j.S, j.base(j.S), rec.Fields)
	if len(sChanged) == 0 {
		// Nothing that may flow changed: a version bump, or a field that
		// stays on this side. Remember the version.
		j.settle(j.S, rec.Version, rec.Fields)
		return e.done(j.c, func(tx *store.Tx) error { return tx.PutCorrelation(j.corr) })
	}
	dst := j.copyOf(j.T)
	trec, err := e.fetch(ctx, j.dst, entity, dst.Ref.ID)
	if err != nil {
		return err
	}
	if trec == nil {
		// The other copy was deleted while this one was edited: an edit
		// outlives a delete, whichever of the two records comes first, so
		// the item is written again on the other side.
		e.log.Info("re-creating an item deleted on one side while edited on the other", "item", j.corr.Item, "on", string(j.T))
		j.dropCopy(j.T)
		return e.create(ctx, j, rec)
	}
	tChanged := changed(j.rule, j.T, j.base(j.T), trec.Fields)
	wantS, wantT := rec.Fields, overlay(trec.Fields, pick(rec.Fields, sChanged))
	var conflict *store.Conflict
	if len(tChanged) > 0 {
		policy := j.rule.Conflict.Value
		if !linking {
			e.outcome(j, "conflict")
			conflict = &store.Conflict{Change: j.c, Item: j.corr.Item, Policy: policy, Fields: sChanged, Against: tChanged, At: time.Now().UTC()}
		}
		if linking {
			// No common base yet: keep every field either copy has, the
			// newer value where both have one. Nothing is lost.
			policy = "merge"
		}
		wantS, wantT = resolve(j.S, policy, rec, trec, sChanged, tChanged)
	}
	if p := patch(j.rule, j.S, wantT, trec.Fields); len(p) > 0 {
		res, err := e.apply(ctx, j.dst, entity, sdk.Op{Kind: sdk.OpUpdate, ID: dst.Ref.ID, IfMatch: trec.Version, CorrelationKey: j.corr.Item, Fields: p})
		if err != nil {
			return err
		}
		trec.Version, trec.Fields = res.Version, overlay(trec.Fields, p)
	}
	if p := patch(j.rule, j.T, wantS, rec.Fields); len(p) > 0 {
		res, err := e.apply(ctx, j.src, entity, sdk.Op{Kind: sdk.OpUpdate, ID: j.c.Ref.ID, IfMatch: rec.Version, CorrelationKey: j.corr.Item, Fields: p})
		if err != nil {
			return err
		}
		rec.Version, rec.Fields = res.Version, overlay(rec.Fields, p)
	}
	j.settle(j.S, rec.Version, rec.Fields)
	j.settle(j.T, trec.Version, trec.Fields)
	e.outcome(j, "updated")
	return e.done(j.c, func(tx *store.Tx) error {
		if err := tx.PutCorrelation(j.corr); err != nil {
			return err
		}
		if conflict != nil {
			if err := tx.PutConflict(*conflict); err != nil {
				return err
			}
		}
		return e.fanOut(tx, j)
	})
}

func pick(f sdk.Fields, keys []string) sdk.Fields {
	out := sdk.Fields{}
	for _, k := range keys {
		out[k] = f[k]
	}
	return out
}

// resolve decides what each side should hold when both changed since they
// were last in sync: the winner's content for crm_wins, mailbox_wins and
// newest_wins; for merge, each side's changes, with fields changed on both
// going to the newer change.
func resolve(S store.Side, policy string, srec, trec *sdk.Record, sChanged, tChanged []string) (wantS, wantT sdk.Fields) {
	newer := S
	if trec.Modified.After(srec.Modified) {
		newer = S.Other()
	}
	winner := newer
	switch policy {
	case "crm_wins":
		winner = store.SideCRM
	case "mailbox_wins":
		winner = store.SideMailbox
	case "merge":
		merged := overlay(trec.Fields, pick(srec.Fields, sChanged))
		for _, k := range tChanged {
			if slices.Contains(sChanged, k) && newer == S {
				continue // both changed it: the newer change (S's) stays
			}
			if trec.Fields[k].IsNull() {
				delete(merged, k)
			} else {
				merged[k] = trec.Fields[k]
			}
		}
		return merged, merged
	}
	if winner == S {
		return srec.Fields, srec.Fields
	}
	return trec.Fields, trec.Fields
}

// fanOut queues the CRM record for every other binding holding a mailbox
// copy, when this job changed the CRM record: their copies must follow, and
// the CRM feed's own report of the write would be taken for an echo.
func (e *Engine) fanOut(tx *store.Tx, j *job) error {
	if j.corr.CRM == nil {
		return nil
	}
	for _, m := range j.corr.Mailbox {
		if m.Binding == j.b.name || m.CRMVersion == j.corr.CRM.Version || e.bindings[m.Binding] == nil {
			continue
		}
		if _, err := tx.EnqueueChange(store.Change{Binding: m.Binding, Side: store.SideCRM, Ref: j.corr.CRM.Ref,
			Kind: sdk.ChangeUpsert, Version: j.corr.CRM.Version, CorrelationKey: j.corr.Item}); err != nil {
			return err
		}
	}
	return nil
}

// block handles a change its rule does not let through: never silent.
func (e *Engine) block(ctx context.Context, j *job, rec *sdk.Record, op string, part policy.Part) error {
	entity := j.c.Ref.Entity
	action := j.rule.OnBlocked.Value
	e.outcome(j, "blocked")
	e.log.Info("blocked change", "binding", j.b.name, "entity", entity, "op", op, "from", string(j.S),
		"rule", string(part.Direction), "source", part.Source, "action", action)
	if action == "revert" && op == "update" && j.copyOf(j.T) != nil {
		// Rewrite the item from the side of truth.
		dst := j.copyOf(j.T)
		trec, err := e.fetch(ctx, j.dst, entity, dst.Ref.ID)
		if err != nil {
			return err
		}
		if trec != nil {
			if p := patch(j.rule, j.T, trec.Fields, rec.Fields); len(p) > 0 {
				res, err := e.apply(ctx, j.src, entity, sdk.Op{Kind: sdk.OpUpdate, ID: j.c.Ref.ID, IfMatch: rec.Version, CorrelationKey: j.corr.Item, Fields: p})
				if err != nil {
					return err
				}
				rec.Version, rec.Fields = res.Version, overlay(rec.Fields, p)
			}
		}
	}
	return e.done(j.c, func(tx *store.Tx) error {
		if m := j.pair(); m != nil {
			// Remember the version, so the same edit is not blocked again;
			// the content only when a revert brought the pair back in sync.
			if action == "revert" {
				j.settle(j.S, rec.Version, rec.Fields)
			} else if j.S == store.SideMailbox {
				m.Version = rec.Version
			} else {
				m.CRMVersion = rec.Version
			}
			if err := tx.PutCorrelation(j.corr); err != nil {
				return err
			}
		}
		if action == "ignore" {
			return nil
		}
		return tx.PutBlocked(store.Blocked{Change: j.c, Item: itemOf(j.corr), Op: op,
			Rule: fmt.Sprintf("%s %s (%s)", op, part.Direction, part.Source), Action: action, At: time.Now().UTC()})
	})
}

func itemOf(c *store.Correlation) string {
	if c == nil {
		return ""
	}
	return c.Item
}

// removal handles a delete or a scope exit on side S.
func (e *Engine) removal(ctx context.Context, j *job) error {
	entity := j.c.Ref.Entity
	if j.corr == nil || j.copyOf(j.S) == nil || j.copyOf(j.S).Ref != j.c.Ref {
		return e.done(j.c, nil) // never synced, or already untracked
	}
	propagate := j.c.Kind == sdk.ChangeDelete
	if propagate {
		op := j.rule.Ops["delete"]
		policyFrom := j.rule.Deletes.FromMailbox.Value
		if j.S == store.SideCRM {
			policyFrom = j.rule.Deletes.FromCRM.Value
		}
		switch {
		case !flows(op.Direction, j.S):
			e.outcome(j, "blocked")
			propagate = false
			if j.rule.OnBlocked.Value != "ignore" {
				if err := e.db.Update(func(tx *store.Tx) error {
					return tx.PutBlocked(store.Blocked{Change: j.c, Item: j.corr.Item, Op: "delete",
						Rule: fmt.Sprintf("delete %s (%s)", op.Direction, op.Source), Action: j.rule.OnBlocked.Value, At: time.Now().UTC()})
				}); err != nil {
					return err
				}
			}
		case policyFrom != "propagate":
			propagate = false
		}
	}
	dst := j.copyOf(j.T)
	if propagate && dst != nil {
		_, err := e.apply(ctx, j.dst, entity, sdk.Op{Kind: sdk.OpDelete, ID: dst.Ref.ID, IfMatch: dst.Version, CorrelationKey: j.corr.Item})
		switch {
		case errors.Is(err, errRetry):
			// The other copy changed after the last sync: an edit outlives
			// a delete, so nothing is lost. The deleted side is untracked.
			e.log.Info("delete not propagated: the other copy changed since", "item", j.corr.Item)
			propagate = false
		case sdk.IsKind(err, sdk.ErrNotFound):
		case err != nil:
			return err
		}
	}
	snapshot := *j.corr
	snapshot.Mailbox = append([]*store.Copy(nil), j.corr.Mailbox...)
	// This binding's pair ends, whatever happened. The CRM copy is
	// forgotten only when the CRM record is gone and no other binding
	// still holds a copy: their bindings get the CRM record's delete too,
	// and must find the CRM copy to act on it.
	j.corr.RemoveMailboxCopy(j.b.name)
	crmGone := (j.S == store.SideCRM && j.c.Kind == sdk.ChangeDelete) || (j.S == store.SideMailbox && propagate)
	if crmGone && len(j.corr.Mailbox) == 0 {
		j.corr.CRM = nil
	}
	if propagate {
		e.outcome(j, "deleted")
	} else {
		e.outcome(j, "untracked")
	}
	return e.done(j.c, func(tx *store.Tx) error {
		if propagate {
			// Each binding's removal adds its copies to one tombstone.
			if old, err := tx.Tombstone(snapshot.Item); err == nil {
				for _, m := range old.Item.Mailbox {
					if snapshot.MailboxCopy(m.Binding) == nil {
						snapshot.Mailbox = append(snapshot.Mailbox, m)
					}
				}
				if snapshot.CRM == nil {
					snapshot.CRM = old.Item.CRM
				}
			}
			if err := tx.PutTombstone(store.Tombstone{Item: snapshot, DeletedFrom: j.S, At: time.Now().UTC(),
				Expires: time.Now().UTC().Add(e.retention())}); err != nil {
				return err
			}
		}
		if len(j.corr.Copies()) == 0 {
			return tx.DeleteCorrelation(j.corr.Item)
		}
		return tx.PutCorrelation(j.corr)
	})
}

// done removes a processed change, with the job's writes, in one
// transaction.
func (e *Engine) done(c store.Change, also func(tx *store.Tx) error) error {
	return e.db.Update(func(tx *store.Tx) error {
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		return tx.DeleteChange(c)
	})
}

func newItemID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "sg-" + hex.EncodeToString(b[:])
}
