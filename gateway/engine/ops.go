package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
	"github.com/syncgate/syncgate/sdk/protocol"
)

// The operator's actions on a running engine (the admin API calls them).

// PauseBinding pauses a binding now: its records wait for Resume.
func (e *Engine) PauseBinding(binding, reason string) error {
	if e.bindings[binding] == nil {
		return fmt.Errorf("no binding %q", binding)
	}
	if err := Pause(e.db, binding, reason); err != nil {
		return err
	}
	e.setPaused(binding, true)
	return nil
}

// RetryDeadLetter puts a dead letter back in the sync table, its attempts
// reset, and wakes the processor.
func (e *Engine) RetryDeadLetter(binding string, seq uint64) error {
	err := e.db.Update(func(tx *store.Tx) error {
		d, err := tx.DeadLetter(binding, seq)
		if err != nil {
			return err
		}
		c := d.Change
		c.Attempts, c.NotBefore, c.LastError = 0, time.Time{}, ""
		if _, err := tx.EnqueueChange(c); err != nil {
			return err
		}
		return tx.DeleteDeadLetter(binding, seq)
	})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no dead letter %d for binding %q", seq, binding)
	}
	e.poke()
	return err
}

// DropDeadLetter forgets a dead letter.
func (e *Engine) DropDeadLetter(binding string, seq uint64) error {
	return e.db.Update(func(tx *store.Tx) error {
		if _, err := tx.DeadLetter(binding, seq); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no dead letter %d for binding %q", seq, binding)
			}
			return err
		}
		return tx.DeleteDeadLetter(binding, seq)
	})
}

// Hint asks for an early collect of an endpoint's feeds (all of them, or
// the one feed named): a notification reached the gateway, or the
// connector's Watch stream sent it. A hint that the backend lost track
// (Resync) asks for the same: the feed stays the truth, and a connector
// whose cursor no longer holds says so with resync_required.
func (e *Engine) Hint(endpoint string, feed sdk.Feed) {
	select {
	case e.hints <- hint{endpoint: endpoint, feed: feed}:
	default: // a collect is already due; the feed stays the truth
	}
}

type hint struct {
	endpoint string
	feed     sdk.Feed
}

func (h hint) matches(f *feed) bool {
	return f.endpoint == h.endpoint && (h.feed.Name == "" || (h.feed.Name == f.name && (h.feed.Scope == "" || h.feed.Scope == f.scope)))
}

// BindingNames lists the engine's bindings.
func (e *Engine) BindingNames() []string { return slices.Sorted(maps.Keys(e.bindings)) }

// IsPaused reports whether a binding waits for an operator.
func (e *Engine) IsPaused(binding string) bool { return e.isPaused(binding) }

// DB is the engine's store, for read-only views.
func (e *Engine) DB() *store.DB { return e.db }

// Resync makes the next collect enumerate everything the binding sees, on
// both sides, and match it against the correlations (nothing is created
// twice): its own feeds forget their cursors, and the shared feeds it is
// part of give it a backfill.
func (e *Engine) Resync(binding string) error {
	b := e.bindings[binding]
	if b == nil {
		return fmt.Errorf("no binding %q", binding)
	}
	err := ResyncStored(e.db, e.opts.Config, binding)
	if err == nil {
		for _, f := range e.feeds {
			if slices.Contains(f.bindings, b) {
				e.Hint(f.endpoint, sdk.Feed{Name: f.name, Scope: f.scope})
			}
		}
	}
	return err
}

// ResyncStored is Resync on a stopped gateway's data: the binding's own
// feeds (from the manifests) forget their cursors, and its shared feeds
// will give it a backfill at the next start.
func ResyncStored(db *store.DB, cfg *config.Config, binding string) error {
	b := cfg.Binding(binding)
	if b == nil {
		return fmt.Errorf("no binding %q", binding)
	}
	return db.Update(func(tx *store.Tx) error {
		for _, sd := range []struct{ endpoint, scope string }{{b.MailboxEndpoint, b.Mailbox}, {b.CRMEndpoint, b.CRMUser}} {
			for _, me := range cfg.Endpoint(sd.endpoint).Manifest.Entities {
				if me.Feed == manifest.FeedScope {
					if err := tx.DeleteCursor(sd.endpoint, me.FeedName, sd.scope); err != nil {
						return err
					}
				}
			}
		}
		st, err := tx.BindingState(binding)
		if err != nil {
			return err
		}
		st.Enumerated = nil
		return tx.PutBindingState(binding, st)
	})
}

// watch keeps a Watch stream open to an endpoint's connector for as long as
// ctx lives, turning its hints into early collects; a stream that breaks
// (the plugin restarted) is opened again, after a pause that grows while it
// keeps breaking at once.
func (e *Engine) watch(ctx context.Context, endpoint string, w Watcher) {
	pause := time.Second
	for ctx.Err() == nil {
		opened := time.Now()
		err := w.Watch(ctx, "", func(h sdk.Hint) { e.Hint(endpoint, h.Feed) })
		if errors.Is(err, protocol.ErrUnsupported) || ctx.Err() != nil {
			return // polling alone, as the connector intends
		}
		if time.Since(opened) > time.Minute {
			pause = time.Second
		}
		e.log.Debug("watch stream ended; opening it again", "endpoint", endpoint, "error", err, "in", pause)
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Minute)
	}
}
