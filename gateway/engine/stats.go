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

// Stats holds counters per binding and entity.
type Stats struct {
	mu sync.Mutex
	m  map[string]map[string]*Counters
}

func newStats() *Stats { return &Stats{m: map[string]map[string]*Counters{}} }

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
