package engine

import (
	"sync"
	"time"
)

// Counters are what happened to one binding's entity since the gateway
// started.
type Counters struct {
	Collected int       `json:"collected"`
	Created   int       `json:"created"`
	Updated   int       `json:"updated"`
	Deleted   int       `json:"deleted"`
	Untracked int       `json:"untracked"`
	Blocked   int       `json:"blocked"`
	Conflicts int       `json:"conflicts"`
	Echoes    int       `json:"echoes"`
	Errors    int       `json:"errors"`
	Dead      int       `json:"dead_letters"`
	LastError string    `json:"last_error,omitempty"`
	LastCycle time.Time `json:"last_cycle,omitempty"`
}

// Event is one thing the engine did to an item, for the list of recent
// changes.
type Event struct {
	At      time.Time `json:"at"`
	Binding string    `json:"binding"`
	Entity  string    `json:"entity"`
	Item    string    `json:"item,omitempty"`
	From    string    `json:"from"`   // the side the change came from
	Action  string    `json:"action"` // created, updated, deleted, untracked, blocked, conflict
}

// recentEvents is how many events Recent keeps.
const recentEvents = 200

// Stats holds counters per binding and entity, and the latest events.
type Stats struct {
	mu     sync.Mutex
	m      map[string]map[string]*Counters
	recent []Event // a ring: next is where the next event goes
	next   int
}

func newStats() *Stats { return &Stats{m: map[string]map[string]*Counters{}} }

// outcome counts what happened to a job's item, and notes it as an event.
func (e *Engine) outcome(j *job, action string) {
	e.stats.add(j.b.name, j.c.Ref.Entity, func(c *Counters) {
		switch action {
		case "created":
			c.Created++
		case "updated":
			c.Updated++
		case "deleted":
			c.Deleted++
		case "untracked":
			c.Untracked++
		case "blocked":
			c.Blocked++
		case "conflict":
			c.Conflicts++
		}
	})
	e.opts.Metrics.applied.WithLabelValues(string(j.S), j.c.Ref.Entity, action).Inc()
	switch action {
	case "conflict":
		e.opts.Metrics.conflicts.WithLabelValues(j.c.Ref.Entity).Inc()
	case "blocked":
		e.opts.Metrics.blocked.WithLabelValues(j.c.Ref.Entity).Inc()
	}
	e.stats.note(Event{At: time.Now().UTC(), Binding: j.b.name, Entity: j.c.Ref.Entity, Item: itemOf(j.corr), From: string(j.S), Action: action})
}

func (s *Stats) note(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recent) < recentEvents {
		s.recent = append(s.recent, ev)
		return
	}
	s.recent[s.next] = ev
	s.next = (s.next + 1) % recentEvents
}

// Recent returns the latest events, newest first.
func (s *Stats) Recent() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, 0, len(s.recent))
	for i := range s.recent {
		// Walk back from the newest, which sits just before next.
		out = append(out, s.recent[(s.next-1-i+2*len(s.recent))%len(s.recent)])
	}
	return out
}

func (s *Stats) add(binding, entity string, fn func(c *Counters)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	be := s.m[binding]
	if be == nil {
		be = map[string]*Counters{}
		s.m[binding] = be
	}
	c := be[entity]
	if c == nil {
		c = &Counters{}
		be[entity] = c
	}
	fn(c)
}

// Snapshot returns a copy of every counter, by binding then entity.
func (s *Stats) Snapshot() map[string]map[string]Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]Counters{}
	for b, be := range s.m {
		out[b] = map[string]Counters{}
		for e, c := range be {
			out[b][e] = *c
		}
	}
	return out
}

// Total sums one counter over every binding and entity.
func (s *Stats) Total(fn func(c Counters) int) int {
	n := 0
	for _, be := range s.Snapshot() {
		for _, c := range be {
			n += fn(c)
		}
	}
	return n
}

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return e.stats }
