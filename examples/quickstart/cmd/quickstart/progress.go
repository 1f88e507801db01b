package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/syncgate/syncgate/gateway/admin"
	"github.com/syncgate/syncgate/gateway/engine"
)

// bindingProgress is one binding's initial sync as /v1/status shows it.
type bindingProgress struct {
	Name      string
	Collected int // records collected for the binding, both sides
	Queued    int // changes waiting to be applied
	Cycled    int // entities whose feeds have finished a round
	Entities  int // entities the binding syncs
	// Seeded is how many items the seed made for the binding's user. Each
	// is collected at least once, so fewer collected records mean a feed
	// is still in its first round (a mailbox feed reads its whole round
	// before it hands out a record, while the other side's feed of the
	// same entity may have finished).
	Seeded int
	Totals engine.Counters
	Paused string // why the binding is paused, when it is
}

// done reports whether the binding's initial sync is over: each entity's
// feeds have run and nothing is queued.
func (b bindingProgress) done() bool {
	return b.Cycled == b.Entities && b.Queued == 0 && b.Collected >= b.Seeded
}

// share is the part of the collected changes that has been applied.
func (b bindingProgress) share() float64 {
	if b.done() {
		return 1
	}
	if b.Collected == 0 {
		return 0
	}
	return min(float64(max(b.Collected-b.Queued, 0))/float64(b.Collected), 0.99)
}

// short is the text beside a bar.
func (b bindingProgress) short() string {
	s := fmt.Sprintf("%d/%d applied, %d queued, %d/%d cycled", max(b.Collected-b.Queued, 0), b.Collected, b.Queued, b.Cycled, b.Entities)
	if b.Paused != "" {
		s += ", PAUSED"
	}
	return s
}

func (b bindingProgress) summary() string {
	s := fmt.Sprintf("%d of %d changes applied, %d queued, %d/%d entities cycled; created %d, updated %d",
		max(b.Collected-b.Queued, 0), b.Collected, b.Queued, b.Cycled, b.Entities, b.Totals.Created, b.Totals.Updated)
	if b.Totals.Errors > 0 {
		s += fmt.Sprintf(", %d errors (retried)", b.Totals.Errors)
	}
	if b.Paused != "" {
		s += "; PAUSED: " + b.Paused
	}
	return s
}

// progressOf reads the bindings' progress from a status answer, in the
// order of names; a binding the gateway does not list yet has none.
// seeded is the number of items seeded per user.
func progressOf(st *admin.Status, names, entities []string, seeded int) []bindingProgress {
	out := make([]bindingProgress, 0, len(names))
	for _, n := range names {
		p := bindingProgress{Name: n, Entities: len(entities), Seeded: seeded}
		i := slices.IndexFunc(st.Bindings, func(b admin.BindingStatus) bool { return b.Name == n })
		if i >= 0 {
			b := st.Bindings[i]
			p.Queued = b.Queued
			if b.Paused {
				p.Paused = b.PausedReason
			}
			for _, e := range entities {
				if c, ok := b.Entities[e]; ok && !c.LastCycle.IsZero() {
					p.Cycled++
				}
			}
			for _, c := range b.Entities {
				p.Collected += c.Collected
				p.Totals = addCounters(p.Totals, c)
			}
		}
		out = append(out, p)
	}
	return out
}

func addCounters(a, b engine.Counters) engine.Counters {
	a.Collected += b.Collected
	a.Created += b.Created
	a.Updated += b.Updated
	a.Deleted += b.Deleted
	a.Untracked += b.Untracked
	a.Blocked += b.Blocked
	a.Conflicts += b.Conflicts
	a.Echoes += b.Echoes
	a.Errors += b.Errors
	a.Dead += b.Dead
	return a
}

// tracker decides when the initial sync is complete. Every binding must be
// done (every entity cycled, an empty queue) in two status answers in a
// row with nothing collected in between: a feed of one side can finish
// its round before the other side's feed of the same entity has, and the
// second look lets that feed's changes show up in the queue first.
type tracker struct {
	lastCollected int
	doneOnce      bool
}

func (t *tracker) observe(ps []bindingProgress) bool {
	all, collected := true, 0
	for _, p := range ps {
		all = all && p.done()
		collected += p.Collected
	}
	complete := all && t.doneOnce && collected == t.lastCollected
	t.doneOnce, t.lastCollected = all, collected
	return complete
}

// renderer shows the progress: bars redrawn in place on a terminal, plain
// lines every few seconds otherwise (a log, a pipe, CI).
type renderer struct {
	w        io.Writer
	terminal bool
	drawn    int // lines drawn last time, to move back over (terminal)
	every    time.Duration
	last     time.Time // when plain lines were last written
}

func newRenderer(w io.Writer) *renderer {
	r := &renderer{w: w, every: 3 * time.Second}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			r.terminal = true
		}
	}
	return r
}

// barWidth keeps a bar's line within 80 columns: a wrapped line would
// spoil the redraw, which moves up one row per binding.
const barWidth = 20

// show draws the bindings' progress; final draws even between the plain
// lines' intervals.
func (r *renderer) show(ps []bindingProgress, now time.Time, final bool) {
	if !r.terminal {
		if !final && now.Sub(r.last) < r.every {
			return
		}
		r.last = now
		for _, p := range ps {
			fmt.Fprintf(r.w, "initial sync: %s: %s\n", p.Name, p.summary())
		}
		return
	}
	var b strings.Builder
	if r.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", r.drawn) // back to the first bar
	}
	width := 0
	for _, p := range ps {
		width = max(width, len(p.Name))
	}
	for _, p := range ps {
		fill := int(p.share() * barWidth)
		fmt.Fprintf(&b, "\r\x1b[2K%-*s [%s%s] %3.0f%%  %s\n", width, p.Name,
			strings.Repeat("#", fill), strings.Repeat("-", barWidth-fill), p.share()*100, p.short())
	}
	r.drawn = len(ps)
	io.WriteString(r.w, b.String())
}

// totals sums every binding's counters for the closing line.
func totals(ps []bindingProgress) engine.Counters {
	var t engine.Counters
	for _, p := range ps {
		t = addCounters(t, p.Totals)
	}
	return t
}
