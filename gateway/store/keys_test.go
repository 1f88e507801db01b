package store

import (
	"bytes"
	"sort"
	"testing"
	"testing/quick"
)

func TestKeyRoundTrips(t *testing.T) {
	odd := []string{"", "a", "with\x00nul", "\x00", "\xff\x00\xff", "alice@example.com", "ünï/côdé"}
	for _, a := range odd {
		for _, b := range odd {
			ref := ItemRef{Endpoint: a, Scope: b, Entity: "contact", ID: a + b}
			for _, seq := range []uint64{0, 1, 255, 1 << 40, ^uint64(0)} {
				if gb, gs, err := ParseQueueKey(QueueKey(a, seq)); err != nil || gb != a || gs != seq {
					t.Fatalf("queue %q %d → %q %d %v", a, seq, gb, gs, err)
				}
				if gb, gs, err := ParseDeadLetterKey(DeadLetterKey(a, seq)); err != nil || gb != a || gs != seq {
					t.Fatalf("dead letter %q %d → %q %d %v", a, seq, gb, gs, err)
				}
			}
			if gb, gs, gr, err := ParseQueueIndexKey(QueueIndexKey(a, b, ref)); err != nil || gb != a || gs != b || gr != ref {
				t.Fatalf("queue index → %q %q %+v %v", gb, gs, gr, err)
			}
			if gr, err := ParseCopyKey(CopyKey(ref)); err != nil || gr != ref {
				t.Fatalf("copy %+v → %+v %v", ref, gr, err)
			}
			if e, f, s, err := ParseCursorKey(CursorKey(a, b, a)); err != nil || e != a || f != b || s != a {
				t.Fatalf("cursor → %q %q %q %v", e, f, s, err)
			}
			if e, k, err := ParseKVKey(KVKey(a, b)); err != nil || e != a || k != b {
				t.Fatalf("kv → %q %q %v", e, k, err)
			}
			if gb, gs, err := ParseBlockedKey(BlockedKey(a, 7)); err != nil || gb != a || gs != 7 {
				t.Fatalf("blocked → %q %d %v", gb, gs, err)
			}
			if gb, gs, err := ParseConflictKey(ConflictKey(a, 9)); err != nil || gb != a || gs != 9 {
				t.Fatalf("conflict → %q %d %v", gb, gs, err)
			}
			if e, u, err := ParseICalKey(ICalKey(a, b)); err != nil || e != a || u != b {
				t.Fatalf("ical → %q %q %v", e, u, err)
			}
			if ep, sc, en, k, err := ParseNaturalKey(NaturalKey(a, b, "contact", a+b)); err != nil || ep != a || sc != b || en != "contact" || k != a+b {
				t.Fatalf("natural key → %q %q %q %q %v", ep, sc, en, k, err)
			}
			if i, e, s, err := ParseIntentKey(IntentKey(a, b, a)); err != nil || i != a || e != b || s != a {
				t.Fatalf("intent → %q %q %q %v", i, e, s, err)
			}
		}
		if got, err := ParseCorrelationKey(CorrelationKey(a)); err != nil || got != a {
			t.Fatalf("correlation %q → %q %v", a, got, err)
		}
		if got, err := ParseTombstoneKey(TombstoneKey(a)); err != nil || got != a {
			t.Fatalf("tombstone %q → %q %v", a, got, err)
		}
		if got, err := ParseBindingKey(BindingKey(a)); err != nil || got != a {
			t.Fatalf("binding %q → %q %v", a, got, err)
		}
	}
}

func TestKeyRoundTripsQuick(t *testing.T) {
	f := func(binding string, seq uint64, endpoint, scope, id string) bool {
		b, s, err := ParseQueueKey(QueueKey(binding, seq))
		ref := ItemRef{Endpoint: endpoint, Scope: scope, Entity: "task", ID: id}
		r, err2 := ParseCopyKey(CopyKey(ref))
		return err == nil && err2 == nil && b == binding && s == seq && r == ref
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
		t.Fatal(err)
	}
}

func TestParseRejectsOtherSpacesAndGarbage(t *testing.T) {
	if _, _, err := ParseQueueKey(DeadLetterKey("a", 1)); err == nil {
		t.Fatal("a dead-letter key parsed as a queue key")
	}
	if _, _, err := ParseQueueKey(append(QueueKey("a", 1), 'x')); err == nil {
		t.Fatal("trailing bytes accepted")
	}
	if _, _, err := ParseQueueKey(QueueKey("a", 1)[:6]); err == nil {
		t.Fatal("a truncated key parsed")
	}
	if _, err := ParseCorrelationKey([]byte("c")); err == nil {
		t.Fatal("unterminated key parsed")
	}
}

// TestKeyOrdering checks that byte order is tuple order: sequences sort
// numerically within a binding, a binding's keys never interleave with a
// binding whose name it prefixes, and a prefix covers exactly its tuples.
func TestKeyOrdering(t *testing.T) {
	var keys [][]byte
	type tup struct {
		b   string
		seq uint64
	}
	var tuples []tup
	for _, b := range []string{"a", "a\x00", "ab", "b", "", "a\x00b"} {
		for _, seq := range []uint64{0, 1, 2, 256, 1 << 32, 1<<63 + 5} {
			keys = append(keys, QueueKey(b, seq))
			tuples = append(tuples, tup{b, seq})
		}
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	sort.Slice(tuples, func(i, j int) bool {
		if tuples[i].b != tuples[j].b {
			return tuples[i].b < tuples[j].b
		}
		return tuples[i].seq < tuples[j].seq
	})
	for i, k := range keys {
		b, seq, _ := ParseQueueKey(k)
		if b != tuples[i].b || seq != tuples[i].seq {
			t.Fatalf("position %d: key order gives (%q,%d), tuple order (%q,%d)", i, b, seq, tuples[i].b, tuples[i].seq)
		}
	}
	for _, k := range keys {
		b, _, _ := ParseQueueKey(k)
		for _, other := range []string{"a", "ab", "a\x00"} {
			if got, want := bytes.HasPrefix(k, QueuePrefix(other)), b == other; got != want {
				t.Fatalf("QueuePrefix(%q) covers key of %q: %v", other, b, got)
			}
		}
		if !bytes.HasPrefix(k, QueueAllPrefix()) || bytes.HasPrefix(k, DeadLetterAllPrefix()) {
			t.Fatal("space prefixes overlap")
		}
	}
	// Spaces never overlap even where one name prefixes another (c and cx, q and qi).
	if bytes.HasPrefix(CopyKey(ItemRef{}), newKey(spaceCorr).bytes()) || bytes.HasPrefix(QueueIndexKey("", "", ItemRef{}), QueueAllPrefix()) {
		t.Fatal("a space's keys fall under another space's prefix")
	}
	// A KV prefix matches partial keys, and only within its endpoint.
	if !bytes.HasPrefix(KVKey("ep", "sub/123"), KVPrefix("ep", "sub/")) || bytes.HasPrefix(KVKey("ep2", "sub/1"), KVPrefix("ep", "sub/")) ||
		bytes.HasPrefix(KVKey("ep", "other"), KVPrefix("ep", "sub/")) || !bytes.HasPrefix(KVKey("ep", "x\x00y"), KVPrefix("ep", "x\x00")) {
		t.Fatal("KVPrefix matches the wrong keys")
	}
}
