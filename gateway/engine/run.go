package engine

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/sdk"
)

// claimed is a change taken by a worker, with the locks it holds.
type claimed struct {
	c    store.Change
	keys []string
}

// ready claims up to limit records that may run now: not waiting for a
// retry, not throttled, and not touching an item another worker holds. It
// also returns when the earliest waiting record becomes ready.
func (e *Engine) ready(limit int) ([]claimed, time.Time, error) {
	var (
		out  []claimed
		next time.Time
	)
	now := time.Now()
	err := e.db.View(func(tx *store.Tx) error {
		var inner error
		err := store.Scan(tx, store.QueueAllPrefix(), func(_ []byte, c *store.Change) bool {
			if e.isPaused(c.Binding) {
				return true // kept for when an operator resumes it
			}
			wait := c.NotBefore
			if t := e.throttledUntil(c); t.After(wait) {
				wait = t
			}
			if wait.After(now) {
				if next.IsZero() || wait.Before(next) {
					next = wait
				}
				return true
			}
			keys := []string{"ref:" + c.Ref.String()}
			if item, err := tx.ItemFor(c.Ref); err == nil {
				keys = append(keys, "item:"+item)
			} else if !errors.Is(err, store.ErrNotFound) {
				inner = err
				return false
			}
			if c.CorrelationKey != "" {
				keys = append(keys, "item:"+c.CorrelationKey)
			}
			if e.locks.tryLock(keys...) {
				out = append(out, claimed{c: *c, keys: keys})
			}
			return len(out) < limit
		})
		if inner != nil {
			return inner
		}
		return err
	})
	if err != nil {
		for _, cl := range out {
			e.locks.unlock(cl.keys...)
		}
		return nil, time.Time{}, err
	}
	return out, next, nil
}

// throttledUntil is when the record's endpoint or scope may be called again.
func (e *Engine) throttledUntil(c *store.Change) time.Time {
	b := e.bindings[c.Binding]
	if b == nil {
		return time.Time{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var until time.Time
	for _, sd := range []*side{&b.mailbox, &b.crm} {
		for _, k := range []string{sd.endpoint, sd.endpoint + "/" + sd.scope} {
			if t := e.waitFor[k]; t.After(until) {
				until = t
			}
		}
	}
	return until
}

// drain processes every record that can run now, Workers at a time, and
// returns how many it finished and when the next waiting one is due.
func (e *Engine) drain(ctx context.Context) (int, time.Time, error) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		finished int
		next     time.Time
	)
	sem := make(chan struct{}, e.opts.Workers)
	freed := make(chan struct{}, e.opts.Workers)
	inflight := 0
	if err := e.indexPending(ctx); err != nil {
		e.log.Warn("indexing new items failed; processing goes on", "error", err)
	}
	for ctx.Err() == nil {
		batch, n, err := e.ready(e.opts.Workers * 16)
		if err != nil {
			wg.Wait()
			return finished, next, err
		}
		next = n
		if len(batch) == 0 {
			if inflight == 0 {
				break
			}
			<-freed // wait for a worker: its item's next record may now run
			inflight--
			continue
		}
		for i, cl := range batch {
			if i > 0 {
				e.hook(PointMidBatch)
			}
			sem <- struct{}{}
			inflight++
			wg.Add(1)
			go func(cl claimed) {
				defer wg.Done()
				err := e.process(ctx, cl.c)
				if err != nil {
					e.fail(cl.c, err)
				} else {
					mu.Lock()
					finished++
					mu.Unlock()
				}
				e.locks.unlock(cl.keys...)
				<-sem
				freed <- struct{}{}
			}(cl)
		}
		// Let this batch finish before scanning again, so a record is not
		// claimed twice while its worker is still running.
		for inflight > 0 {
			<-freed
			inflight--
		}
	}
	wg.Wait()
	return finished, next, ctx.Err()
}

// fail records a failed attempt: the error's type decides when to try again,
// and a permanent error becomes a dead letter after MaxAttempts.
func (e *Engine) fail(c store.Change, err error) {
	now := time.Now().UTC()
	entity := c.Ref.Entity
	if !errors.Is(err, errBusy) {
		e.stats.add(c.Binding, entity, func(ct *Counters) { ct.Errors++; ct.LastError = err.Error() })
		e.opts.Metrics.errors.WithLabelValues(errorType(err)).Inc()
	}
	var te *sdk.Error
	typed := errors.As(err, &te)
	dead := false
	var wait time.Duration
	switch {
	case errors.Is(err, errBusy):
		wait = 20 * time.Millisecond
	case typed && te.Kind == sdk.ErrThrottled:
		wait = te.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		var ce *callError
		if errors.As(err, &ce) {
			e.opts.Metrics.throttleWait.WithLabelValues(ce.endpoint).Add(wait.Seconds())
		}
		if errors.As(err, &ce) && te.ThrottleScope != sdk.ThrottleItem {
			// One mailbox's 429 holds back that mailbox, not the others.
			key := ce.endpoint + "/" + ce.scope
			if te.ThrottleScope == sdk.ThrottleEndpoint {
				key = ce.endpoint
			}
			e.mu.Lock()
			e.waitFor[key] = time.Now().Add(wait)
			e.mu.Unlock()
		}
	case typed && te.Kind == sdk.ErrPermanent:
		c.Attempts++
		dead = c.Attempts >= e.opts.MaxAttempts
		wait = backoffFor(c.Attempts)
	case typed && (te.Kind == sdk.ErrAuth || te.Kind == sdk.ErrConfig):
		// Not the item's fault: the endpoint is held, and the record waits
		// with it, its attempts uncounted.
		wait = e.opts.AuthRetry
		var ce *callError
		if errors.As(err, &ce) {
			e.observe(ce.endpoint, err)
		}
	case typed:
		c.Attempts++
		wait = backoffFor(c.Attempts)
	default:
		// The plugin is down or hung (the supervisor restarts it): keep the
		// record, and try again soon, without counting it against the item.
		wait = min(backoffFor(c.Attempts+1), 2*time.Second)
	}
	e.log.Debug("record failed", "binding", c.Binding, "item", c.Ref.String(), "error", err, "retry_in", wait, "dead", dead)
	uerr := e.db.Update(func(tx *store.Tx) error {
		cur, gerr := tx.GetChange(c.Binding, c.Seq)
		if errors.Is(gerr, store.ErrNotFound) {
			return nil
		}
		if gerr != nil {
			return gerr
		}
		if dead {
			e.stats.add(c.Binding, entity, func(ct *Counters) { ct.Dead++ })
			if err := tx.PutDeadLetter(store.DeadLetter{Change: cur, Error: err.Error(), At: now}); err != nil {
				return err
			}
			return tx.DeleteChange(cur)
		}
		cur.Attempts, cur.NotBefore, cur.LastError = c.Attempts, now.Add(wait), truncate(err.Error(), 500)
		return tx.PutChange(cur)
	})
	if uerr != nil {
		e.log.Error("cannot record a failed attempt", "error", uerr)
	}
}

func backoffFor(attempts int) time.Duration {
	d := 200 * time.Millisecond << min(attempts, 10)
	if d > 5*time.Minute {
		d = 5 * time.Minute
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1)) // jitter: half to full
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// SyncOnce collects every feed and processes until nothing is left to do:
// no feed reports changes and the sync table is empty. Records that wait
// for a retry are waited for. For tests, `plan` and one-shot runs.
//
// A feed that fails (its plugin crashed and is being restarted, its backend
// is down) is tried again every half second; SyncOnce gives up only when
// feeds keep failing for FailFor.
func (e *Engine) SyncOnce(ctx context.Context) error {
	var failingSince time.Time
	for round := 0; ctx.Err() == nil; round++ {
		collected := 0
		var failed error
		for _, f := range e.feeds {
			n, err := e.collectWithResync(ctx, f)
			if err != nil && ctx.Err() == nil {
				e.log.Warn("collect failed; will retry", "feed", f.String(), "error", err)
				failed = err
			}
			collected += n
		}
		processed, next, err := e.drain(ctx)
		if err != nil {
			return err
		}
		if failed != nil {
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			if time.Since(failingSince) > e.failFor() {
				return fmt.Errorf("feeds kept failing for %s: %w", e.failFor(), failed)
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		failingSince = time.Time{}
		if collected == 0 && processed == 0 {
			if next.IsZero() {
				return nil
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Until(next)):
			}
		}
	}
	return ctx.Err()
}

// collectWithResync collects a feed, re-enumerating it once if its cursor
// expired.
func (e *Engine) collectWithResync(ctx context.Context, f *feed) (int, error) {
	n, err := e.collect(ctx, f)
	if errors.Is(err, errResync) {
		return e.collect(ctx, f)
	}
	return n, err
}

// Run collects and processes until ctx ends. Every feed has a place in one
// timer heap, due after its endpoint's poll interval, later while it keeps
// reporting nothing (up to four times the interval), so that thousands of
// idle bindings cost a timer each and nothing more. Due feeds are collected
// by up to Collectors at once (a backend answers a delta query in tens or
// hundreds of milliseconds; one at a time, ten thousand mailboxes would
// take hours a round); a feed is never collected twice at once.
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.processLoop(ctx)
	}()
	for endpoint, w := range e.watchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.watch(ctx, endpoint, w)
		}()
	}
	type result struct {
		s   *scheduled
		n   int
		err error
	}
	h := &feedHeap{}
	now := time.Now()
	for _, f := range e.feeds {
		heap.Push(h, &scheduled{f: f, due: now})
	}
	inflight := map[*scheduled]bool{}
	results := make(chan result)
	timer := time.NewTimer(0)
	defer timer.Stop()
	sweep := time.NewTicker(time.Hour)
	defer sweep.Stop()
	e.expireTombstones()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-sweep.C:
			e.expireTombstones()
		case <-timer.C:
		case r := <-results:
			delete(inflight, r.s)
			if r.err != nil && ctx.Err() == nil {
				e.log.Warn("collect failed", "feed", r.s.f.String(), "error", r.err)
			}
			if r.n > 0 {
				e.log.Info("collected changes", "feed", r.s.f.String(), "records", r.n)
			}
			if r.n > 0 || r.err != nil {
				r.s.idle = 0
			} else if r.s.idle < 3 {
				r.s.idle++
			}
			r.s.due = time.Now().Add(r.s.f.interval * time.Duration(1+r.s.idle))
			if r.s.hinted {
				r.s.due, r.s.idle, r.s.hinted = time.Now(), 0, false
			}
			heap.Push(h, r.s)
		case hi := <-e.hints:
			for _, s := range *h {
				if hi.matches(s.f) {
					s.due, s.idle = time.Now(), 0
				}
			}
			heap.Init(h)
			for s := range inflight {
				if hi.matches(s.f) {
					s.hinted = true // a change after the page it is reading
				}
			}
		}
		for h.Len() > 0 && !(*h)[0].due.After(time.Now()) && len(inflight) < e.opts.Collectors {
			s := heap.Pop(h).(*scheduled)
			if until := e.heldUntil(s.f.endpoint); until.After(time.Now()) {
				s.due = until // its connector refused its credentials: wait with it
				heap.Push(h, s)
				continue
			}
			inflight[s] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := e.collectWithResync(ctx, s.f)
				select {
				case results <- result{s, n, err}:
				case <-ctx.Done():
				}
			}()
		}
		if h.Len() > 0 && len(inflight) < e.opts.Collectors {
			timer.Reset(time.Until((*h)[0].due))
		}
	}
}

func (e *Engine) expireTombstones() {
	if _, err := e.ExpireTombstones(time.Now()); err != nil {
		e.log.Warn("expiring tombstones failed; tried again in an hour", "error", err)
	}
}

func (e *Engine) processLoop(ctx context.Context) {
	for ctx.Err() == nil {
		n, next, err := e.drain(ctx)
		if n > 0 {
			e.log.Info("processed changes", "records", n)
		}
		if err != nil && ctx.Err() == nil {
			e.log.Error("processing failed", "error", err)
			next = time.Now().Add(time.Second)
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = time.Until(next)
		}
		select {
		case <-ctx.Done():
		case <-e.wake:
		case <-time.After(wait):
		}
	}
}

type scheduled struct {
	f      *feed
	due    time.Time
	idle   int
	hinted bool // a hint came while it was being collected
}

type feedHeap []*scheduled

func (h feedHeap) Len() int           { return len(h) }
func (h feedHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h feedHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *feedHeap) Push(x any)        { *h = append(*h, x.(*scheduled)) }
func (h *feedHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (e *Engine) failFor() time.Duration {
	if e.opts.FailFor > 0 {
		return e.opts.FailFor
	}
	return 2 * time.Minute
}
