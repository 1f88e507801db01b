package engine

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/sdk"
)

// naturalKeys are the keys by which an item is recognised on the other side
// before anything is created: the natural keys both manifests declare for
// the entity (an e-mail address, an iCalendar UID), each value normalised.
// Meetings always match by UID.
func (b *binding) naturalKeys(entity string, f sdk.Fields) []string {
	var fields []string
	for _, sd := range []*side{&b.mailbox, &b.crm} {
		if me := sd.manifest.Entity(entity); me != nil {
			fields = append(fields, me.NaturalKeys...)
		}
	}
	if entity == "appointment" || entity == "service_appointment" {
		fields = append(fields, "ical_uid")
	}
	seen := map[string]bool{}
	var out []string
	add := func(field, v string) {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" && !seen[field+"="+v] {
			seen[field+"="+v] = true
			out = append(out, field+"="+v)
		}
	}
	for _, field := range fields {
		v := f[field]
		switch v.Kind() {
		case sdk.KindString:
			add(field, v.Str())
		case sdk.KindList:
			for _, x := range v.ListVal() {
				if x.Kind() == sdk.KindMap {
					add(field, x.MapVal()["address"].Str())
				} else {
					add(field, x.Str())
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// indexPending fetches every new item waiting in the sync table (an upsert
// with no correlation yet) and indexes its natural keys, so that when
// either side's copy is processed, the other side's is already known and
// the two are linked instead of duplicated. It runs before processing.
func (e *Engine) indexPending(ctx context.Context) error {
	type group struct {
		b      *binding
		side   store.Side
		entity string
		ids    []string
		refs   map[string]store.ItemRef
		seqs   map[string]store.Change
	}
	groups := map[string]*group{}
	if err := e.db.View(func(tx *store.Tx) error {
		var inner error
		err := store.Scan(tx, store.QueueAllPrefix(), func(_ []byte, c *store.Change) bool {
			if c.Indexed || c.Kind != sdk.ChangeUpsert || e.bindings[c.Binding] == nil {
				return true
			}
			if _, err := tx.ItemFor(c.Ref); err == nil {
				return true
			} else if !errors.Is(err, store.ErrNotFound) {
				inner = err
				return false
			}
			key := c.Binding + "\x00" + string(c.Side) + "\x00" + c.Ref.Entity
			g := groups[key]
			if g == nil {
				g = &group{b: e.bindings[c.Binding], side: c.Side, entity: c.Ref.Entity, refs: map[string]store.ItemRef{}, seqs: map[string]store.Change{}}
				groups[key] = g
			}
			if _, dup := g.refs[c.Ref.ID]; !dup {
				g.ids = append(g.ids, c.Ref.ID)
				g.refs[c.Ref.ID] = c.Ref
			}
			g.seqs[c.Ref.ID] = *c
			return true
		})
		if inner != nil {
			return inner
		}
		return err
	}); err != nil {
		return err
	}
	for _, g := range groups {
		sd := g.b.side(g.side)
		for start := 0; start < len(g.ids); start += 100 {
			ids := g.ids[start:min(start+100, len(g.ids))]
			res, err := e.opts.Conns[sd.endpoint].Fetch(ctx, sd.scope, g.entity, ids)
			if err != nil {
				return sd.fail("Fetch", err) // processing retries later
			}
			if err := e.db.Update(func(tx *store.Tx) error {
				for _, r := range res {
					if r.Record == nil {
						continue
					}
					for _, k := range g.b.naturalKeys(g.entity, r.Record.Fields) {
						if err := tx.PutNaturalKey(g.refs[r.ID], k); err != nil {
							return err
						}
					}
					c := g.seqs[r.ID]
					if cur, err := tx.GetChange(c.Binding, c.Seq); err == nil && cur.Version == c.Version {
						cur.Indexed = true
						if err := tx.PutChange(cur); err != nil {
							return err
						}
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// match looks, on side T, for an item with one of rec's natural keys that
// this binding has not paired yet, and links the job to it: to its
// correlation if it has one, else to a new one holding both copies. The
// caller holds the keys' locks.
func (e *Engine) match(j *job, keys []string) error {
	return e.db.Update(func(tx *store.Tx) error {
		for _, k := range keys {
			if err := tx.PutNaturalKey(j.c.Ref, k); err != nil {
				return err
			}
		}
		scope := j.dst.refScope(j.c.Ref.Entity)
		for _, k := range keys {
			id, err := tx.ItemWithNaturalKey(j.dst.endpoint, scope, j.c.Ref.Entity, k)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			tref := j.dst.ref(j.c.Ref.Entity, id)
			item, err := tx.ItemFor(tref)
			switch {
			case errors.Is(err, store.ErrNotFound):
				if j.corr == nil {
					j.corr = &store.Correlation{Item: newItemID(), Entity: j.c.Ref.Entity}
					j.setCopy(j.S, &store.Copy{Ref: j.c.Ref})
				}
				j.setCopy(j.T, &store.Copy{Ref: tref})
				return nil
			case err != nil:
				return err
			}
			other, err := tx.Correlation(item)
			if err != nil {
				return err
			}
			if j.corr != nil && other.Item != j.corr.Item {
				continue // already part of another item
			}
			probe := &job{b: j.b, corr: other}
			if probe.copyOf(j.S) != nil {
				continue // the other side's item is paired with another copy here
			}
			j.corr = other
			j.setCopy(j.S, &store.Copy{Ref: j.c.Ref})
			return nil
		}
		return nil
	})
}
