package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/gateway/admin"
	"github.com/syncgate/syncgate/gateway/engine"
)

var entities = []string{"appointment", "contact"}

// status builds a /v1/status answer: per binding its queue and, per
// entity, collected records and whether it has cycled.
func status(bindings ...admin.BindingStatus) *admin.Status { return &admin.Status{Bindings: bindings} }

func binding(name string, queued int, cycled map[string]int) admin.BindingStatus {
	b := admin.BindingStatus{Name: name, Queued: queued, Entities: map[string]engine.Counters{}}
	for e, collected := range cycled {
		c := engine.Counters{Collected: collected, Created: collected - queued}
		if collected >= 0 {
			c.LastCycle = time.Unix(1700000000, 0)
		}
		b.Entities[e] = c
	}
	return b
}

func TestProgressOf(t *testing.T) {
	st := status(binding("alice", 5, map[string]int{"contact": 20}), binding("bob", 0, map[string]int{"contact": 4, "appointment": 6}))
	ps := progressOf(st, []string{"alice", "bob", "carol"}, entities, 10)
	if len(ps) != 3 {
		t.Fatalf("%d bindings, want 3", len(ps))
	}
	a, b, c := ps[0], ps[1], ps[2]
	if a.Collected != 20 || a.Queued != 5 || a.Cycled != 1 || a.done() {
		t.Errorf("alice %+v: one entity of two cycled, 5 queued: not done", a)
	}
	if a.share() != 0.75 {
		t.Errorf("alice's share %v, want 0.75 (15 of 20 applied)", a.share())
	}
	if b.Collected != 10 || b.Cycled != 2 || !b.done() || b.share() != 1 {
		t.Errorf("bob %+v: every entity cycled, nothing queued: done", b)
	}
	if c.Collected != 0 || c.done() || c.share() != 0 {
		t.Errorf("carol %+v: not in the status yet: nothing done", c)
	}
}

func TestNotDoneBeforeEverySeededItemIsCollected(t *testing.T) {
	st := status(binding("alice", 0, map[string]int{"contact": 3, "appointment": 4}))
	if p := progressOf(st, []string{"alice"}, entities, 8)[0]; p.done() {
		t.Errorf("%+v: 7 of 8 seeded items collected, yet done", p)
	}
	if p := progressOf(st, []string{"alice"}, entities, 7)[0]; !p.done() {
		t.Errorf("%+v: every seeded item collected and cycled, nothing queued, yet not done", p)
	}
}

func TestSharePausesBelowFullUntilDone(t *testing.T) {
	p := bindingProgress{Collected: 10, Queued: 0, Cycled: 1, Entities: 2}
	if p.share() >= 1 {
		t.Errorf("share %v: an entity has not cycled, the bar must not be full", p.share())
	}
}

func TestTrackerWantsTwoQuietAnswers(t *testing.T) {
	done := func(collected int) []bindingProgress {
		return []bindingProgress{{Name: "alice", Collected: collected, Cycled: 2, Entities: 2}}
	}
	var tr tracker
	if tr.observe([]bindingProgress{{Name: "alice", Collected: 10, Queued: 3, Cycled: 2, Entities: 2}}) {
		t.Fatal("complete with a queue")
	}
	if tr.observe(done(10)) {
		t.Fatal("complete at the first quiet answer")
	}
	if tr.observe(done(12)) {
		t.Fatal("complete although two records were collected since")
	}
	if !tr.observe(done(12)) {
		t.Fatal("not complete after two quiet answers in a row")
	}
	var tr2 tracker
	tr2.observe([]bindingProgress{{Collected: 0, Cycled: 1, Entities: 2}})
	if tr2.observe([]bindingProgress{{Collected: 0, Cycled: 1, Entities: 2}}) {
		t.Fatal("complete although an entity has not cycled")
	}
}

func TestRendererPlainLines(t *testing.T) {
	var buf bytes.Buffer
	r := newRenderer(&buf)
	if r.terminal {
		t.Fatal("a buffer is not a terminal")
	}
	ps := []bindingProgress{{Name: "alice", Collected: 20, Queued: 5, Cycled: 1, Entities: 2, Totals: engine.Counters{Created: 15}, Paused: "delete guard"}}
	now := time.Now()
	r.show(ps, now, false)
	r.show(ps, now.Add(time.Second), false) // within the interval: nothing
	r.show(ps, now.Add(4*time.Second), false)
	r.show(ps, now.Add(5*time.Second), true) // final: always
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("%d lines, want 3:\n%s", n, out)
	}
	want := "initial sync: alice: 15 of 20 changes applied, 5 queued, 1/2 entities cycled; created 15, updated 0; PAUSED: delete guard\n"
	if !strings.HasPrefix(out, want) {
		t.Errorf("got %q, want lines like %q", out, want)
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("escape sequences outside a terminal")
	}
}

func TestRendererBarsRedrawInPlace(t *testing.T) {
	var buf bytes.Buffer
	r := &renderer{w: &buf, terminal: true}
	ps := []bindingProgress{
		{Name: "alice", Collected: 20, Queued: 10, Cycled: 2, Entities: 2},
		{Name: "bob", Collected: 4, Cycled: 2, Entities: 2},
	}
	r.show(ps, time.Now(), false)
	first := buf.String()
	if strings.Contains(first, "\x1b[2A") {
		t.Error("the first drawing moved the cursor up")
	}
	if !strings.Contains(first, "alice ["+strings.Repeat("#", 10)+strings.Repeat("-", 10)+"]  50%  10/20 applied, 10 queued, 2/2 cycled\n") {
		t.Errorf("alice's bar is not half full:\n%s", first)
	}
	if !strings.Contains(first, "bob   ["+strings.Repeat("#", 20)+"] 100%") {
		t.Errorf("bob's bar is not full:\n%s", first)
	}
	buf.Reset()
	r.show(ps, time.Now(), false)
	if !strings.HasPrefix(buf.String(), "\x1b[2A") {
		t.Errorf("the second drawing does not go back over the two bars: %q", buf.String())
	}
}

func TestTotals(t *testing.T) {
	got := totals([]bindingProgress{{Totals: engine.Counters{Created: 2, Conflicts: 1}}, {Totals: engine.Counters{Created: 3, Errors: 4}}})
	if got.Created != 5 || got.Conflicts != 1 || got.Errors != 4 {
		t.Errorf("totals %+v", got)
	}
}
