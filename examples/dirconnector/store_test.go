package dirconnector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/syncgate/syncgate/sdk"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func subject(s string) sdk.Fields { return sdk.Fields{"subject": sdk.String(s)} }

// journal returns the journal's complete lines, failing on any that is not
// a change.
func journal(t *testing.T, s *Store) []Change {
	t.Helper()
	data, err := os.ReadFile(s.path("journal.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []Change
	for i, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		var c Change
		if !strings.HasSuffix(line, "\n") || json.Unmarshal([]byte(line), &c) != nil {
			t.Fatalf("journal line %d is not a complete change: %q", i+1, line)
		}
		out = append(out, c)
	}
	return out
}

func TestStoreJournalsEveryWrite(t *testing.T) {
	s := openStore(t)
	it, err := s.Create("alice@example.com", "task", "key-1", subject("a"))
	if err != nil {
		t.Fatal(err)
	}
	if it.Version != "1" || len(it.ID) != 32 || it.Owner != "alice@example.com" {
		t.Fatalf("created %+v", it)
	}
	if it, err = s.Update("alice@example.com", "task", it.ID, "1", subject("b")); err != nil || it.Version != "2" {
		t.Fatalf("update: %+v, %v", it, err)
	}
	if err := s.Delete("", "task", it.ID, "2"); err != nil {
		t.Fatal(err)
	}
	got := journal(t, s)
	want := []struct {
		kind, version string
	}{{KindUpsert, "1"}, {KindUpsert, "2"}, {KindDelete, "2"}}
	if len(got) != len(want) {
		t.Fatalf("journal has %d lines, want %d: %+v", len(got), len(want), got)
	}
	for i, c := range got {
		if c.Seq != int64(i+1) || c.Kind != want[i].kind || c.Version != want[i].version || c.ID != it.ID ||
			c.Scope != "alice@example.com" || c.Entity != "task" || c.CorrelationKey != "key-1" {
			t.Errorf("line %d: %+v", i+1, c)
		}
	}
	if _, err := s.Get("", "task", it.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after delete: %v, want ErrNotFound", err)
	}
}

func TestStoreItemFile(t *testing.T) {
	s := openStore(t)
	it, err := s.Create("bob@example.com", "contact", "k", sdk.Fields{"given_name": sdk.String("Bob")})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(s.Dir(), "items", "bob@example.com", "contact", it.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "version", "modified", "correlation_key", "owner", "fields"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("item file lacks %q: %s", k, data)
		}
	}
}

func TestStoreVersionsAndNames(t *testing.T) {
	s := openStore(t)
	it, _ := s.Create("a@example.com", "task", "", subject("x"))
	_, err := s.Update("a@example.com", "task", it.ID, "7", subject("y"))
	var vm *VersionMismatchError
	if !errors.As(err, &vm) || vm.Current != "1" {
		t.Errorf("update with a wrong version: %v", err)
	}
	if err := s.Delete("a@example.com", "task", it.ID, "7"); !errors.As(err, &vm) {
		t.Errorf("delete with a wrong version: %v", err)
	}
	if _, err := s.Update("a@example.com", "task", "nope", "", subject("y")); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a missing item: %v", err)
	}
	for _, id := range []string{"../../generation", "..", ".lock", "a/b", ""} {
		if _, err := s.Get("", "task", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
	}
	if _, err := s.Create("../x", "task", "", nil); !errors.Is(err, ErrInvalidName) {
		t.Errorf("create in scope ../x: %v", err)
	}
}

func TestCreateOnceFindsTheKey(t *testing.T) {
	s := openStore(t)
	a, _ := s.CreateOnce("a@example.com", "contact", "k1", nil)
	b, _ := s.CreateOnce("a@example.com", "contact", "k1", nil)
	c, _ := s.CreateOnce("b@example.com", "contact", "k1", nil) // another mailbox holds its own copy
	if a.ID != b.ID || c.ID == a.ID {
		t.Errorf("ids %s %s %s: want the first two equal, the third new", a.ID, b.ID, c.ID)
	}
	if n := len(journal(t, s)); n != 2 {
		t.Errorf("journal has %d lines, want 2", n)
	}
}

// TestTornJournalLine simulates a crash in the middle of an append: the
// partial line is no change, positions ignore it, and the next write
// overwrites it cleanly.
func TestTornJournalLine(t *testing.T) {
	s := openStore(t)
	first, _ := s.Create("a@example.com", "task", "", subject("1"))
	p1, _ := s.Position()
	f, err := os.OpenFile(s.path("journal.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":2,"scope":"a@exa`)
	f.Close()

	if p, _ := s.Position(); p != p1 {
		t.Errorf("position with a torn line %+v, want %+v", p, p1)
	}
	changes, _, _, err := s.Delta("a@example.com", "task", p1.token(""), -1)
	if err != nil || len(changes) != 0 {
		t.Errorf("delta over a torn line: %v, %v", changes, err)
	}
	st, _ := os.Stat(s.path("journal.jsonl"))
	if err := s.CheckToken(Position{p1.Generation, st.Size()}.token("")); !errors.Is(err, ErrExpired) {
		t.Errorf("a position inside the torn line: %v, want ErrExpired", err)
	}

	second, err := s.Create("a@example.com", "task", "", subject("2"))
	if err != nil {
		t.Fatal(err)
	}
	got := journal(t, s) // fails on any line that is not a complete change
	if len(got) != 2 || got[0].ID != first.ID || got[1].ID != second.ID || got[1].Seq != 2 {
		t.Errorf("journal after the torn line was overwritten: %+v", got)
	}
	changes, _, _, err = s.Delta("a@example.com", "task", p1.token(""), -1)
	if err != nil || len(changes) != 1 || changes[0].ID != second.ID {
		t.Errorf("delta after the torn line was overwritten: %+v, %v", changes, err)
	}
}

// TestRecoverPending simulates crashes between the item write and its
// journal line: a write that happened is journaled by the next writer, one
// that did not is forgotten.
func TestRecoverPending(t *testing.T) {
	s := openStore(t)
	it, _ := s.Create("a@example.com", "task", "", subject("1"))

	// The update's item file was written, its journal line was not.
	up := it
	up.Version, up.Fields = "2", subject("2")
	data, _ := json.Marshal(up)
	writeFileAtomic(s.itemPath(up.Owner, "task", up.ID), data)
	intent, _ := json.Marshal(Change{Seq: 2, Scope: up.Owner, Entity: "task", ID: up.ID, Kind: KindUpsert, Version: "2"})
	writeFileAtomic(s.path("journal.pending"), intent)
	other, _ := s.Create("a@example.com", "task", "", subject("other"))

	// A delete that never reached the item.
	intent, _ = json.Marshal(Change{Seq: 4, Scope: up.Owner, Entity: "task", ID: up.ID, Kind: KindDelete, Version: "2"})
	writeFileAtomic(s.path("journal.pending"), intent)
	last, _ := s.Create("a@example.com", "task", "", subject("last"))

	var got []string
	for _, c := range journal(t, s) {
		got = append(got, fmt.Sprintf("%d %s %s %s", c.Seq, c.Kind, c.ID, c.Version))
	}
	want := []string{
		"1 upsert " + it.ID + " 1",
		"2 upsert " + it.ID + " 2",
		"3 upsert " + other.ID + " 1",
		"4 upsert " + last.ID + " 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("journal:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := os.Stat(s.path("journal.pending")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the intent is still there: %v", err)
	}
}

func TestTokens(t *testing.T) {
	s := openStore(t)
	s.Create("a@example.com", "task", "", subject("1"))
	end, _ := s.Position()
	for _, tok := range []string{end.token(""), Position{end.Generation, 0}.token("a@example.com/x")} {
		if err := s.CheckToken(tok); err != nil {
			t.Errorf("CheckToken(%q): %v", tok, err)
		}
	}
	for _, tok := range []string{
		"garbage", "", ":", end.Generation + ":x", "ffff:0",
		Position{end.Generation, end.Offset + 1}.token(""),
		Position{end.Generation, end.Offset - 1}.token(""), // inside the line
		Position{end.Generation, -1}.token(""),
	} {
		if err := s.CheckToken(tok); !errors.Is(err, ErrExpired) {
			t.Errorf("CheckToken(%q): %v, want ErrExpired", tok, err)
		}
	}
	if err := s.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckToken(end.token("")); !errors.Is(err, ErrExpired) {
		t.Errorf("a token from before Rotate: %v, want ErrExpired", err)
	}
	p, _ := s.Position()
	if p.Offset != 0 || p.Generation == end.Generation {
		t.Errorf("position after Rotate: %+v (before: %+v)", p, end)
	}
	// Reopening keeps the generation: cursors survive restarts.
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if p2, _ := s2.Position(); p2 != p {
		t.Errorf("position after reopening: %+v, want %+v", p2, p)
	}
}

// TestDeltaPages enumerates in pages whose tokens resume exactly, then
// follows the journal from where it stood when the enumeration began.
func TestDeltaPages(t *testing.T) {
	s := openStore(t)
	var ids []string
	for i := 0; i < 5; i++ {
		it, _ := s.Create("a@example.com", "task", "", subject(fmt.Sprint(i)))
		ids = append(ids, it.ID)
	}
	s.Create("b@example.com", "task", "", subject("bob's"))
	s.Create("a@example.com", "contact", "", nil)

	seen := map[string]bool{}
	token, pages := "", 0
	for {
		changes, next, more, err := s.Delta("a@example.com", "task", token, 2)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range changes {
			if c.Scope != "a@example.com" || c.Entity != "task" || seen[c.ID] {
				t.Errorf("page %d: unexpected %+v", pages, c)
			}
			seen[c.ID] = true
		}
		if len(changes) > 2 {
			t.Errorf("page %d has %d changes, max 2", pages, len(changes))
		}
		token = next
		if !more {
			break
		}
	}
	if len(seen) != 5 || pages != 3 {
		t.Errorf("enumeration saw %d items in %d pages, want 5 in 3", len(seen), pages)
	}
	// The enumeration is over: only new changes follow.
	s.Update("a@example.com", "task", ids[0], "", subject("new"))
	changes, _, more, err := s.Delta("a@example.com", "task", token, 10)
	if err != nil || more || len(changes) != 1 || changes[0].ID != ids[0] || changes[0].Version != "2" {
		t.Errorf("after the enumeration: %+v, more %v, %v", changes, more, err)
	}
	// All scopes: bob's task too.
	all, _, _, _ := s.Delta("", "task", "", -1)
	if len(all) != 6 {
		t.Errorf("enumeration of every scope has %d changes, want 6", len(all))
	}
}

func TestRoutingKeys(t *testing.T) {
	f := sdk.Fields{
		"attendees": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("Bob@Example.com")}),
			sdk.Map(map[string]sdk.Value{"address": sdk.String("alice@example.com")})),
		"resources": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("van@example.com")})),
	}
	got := RoutingKeys("alice@example.com", "service_appointment", f)
	want := []string{"user:alice@example.com", "user:bob@example.com", "user:van@example.com"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("service appointment: %v, want %v", got, want)
	}
	if got := RoutingKeys("alice@example.com", "contact", f); fmt.Sprint(got) != "[user:alice@example.com]" {
		t.Errorf("contact: %v", got)
	}
}

// TestConcurrentWriters runs two stores on one folder, as two processes
// would: the file lock keeps every journal line whole and every seq unique.
func TestConcurrentWriters(t *testing.T) {
	a := openStore(t)
	b, err := Open(a.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, s := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				it, err := s.Create("a@example.com", "task", "", subject("x"))
				if err == nil {
					_, err = s.Update("", "task", it.ID, it.Version, subject("y"))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	lines := journal(t, a)
	if len(lines) != 80 {
		t.Fatalf("journal has %d lines, want 80", len(lines))
	}
	for i, c := range lines {
		if c.Seq != int64(i+1) {
			t.Fatalf("line %d has seq %d", i+1, c.Seq)
		}
	}
	data, _ := os.ReadFile(a.path("journal.jsonl"))
	if !bytes.HasSuffix(data, []byte("\n")) {
		t.Error("journal does not end with a complete line")
	}
}
