package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/syncgate/syncgate/sdk"
)

func open(t testing.TB, dir string) *DB {
	t.Helper()
	db, err := Open(Options{Dir: dir, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestKVPersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db := open(t, dir)
	kv, other := db.KV("mail"), db.KV("mail2")
	for i := 0; i < 3; i++ {
		if err := kv.Put(ctx, fmt.Sprintf("sub/%d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	kv.Put(ctx, "token", []byte("t"))
	other.Put(ctx, "sub/9", []byte("x"))
	kv.Delete(ctx, "sub/1")
	if err := kv.Put(ctx, "big", make([]byte, MaxKVValue+1)); err == nil {
		t.Fatal("an oversized value was accepted")
	}
	db.Close()

	db = open(t, dir)
	defer db.Close()
	kv = db.KV("mail")
	got, err := kv.List(ctx, "sub/")
	if err != nil || len(got) != 2 || !bytes.Equal(got["sub/0"], []byte{0}) || !bytes.Equal(got["sub/2"], []byte{2}) {
		t.Fatalf("List = %v %v", got, err)
	}
	if v, ok, _ := kv.Get(ctx, "token"); !ok || string(v) != "t" {
		t.Fatalf("Get token = %q %v", v, ok)
	}
	if _, ok, _ := kv.Get(ctx, "sub/1"); ok {
		t.Fatal("a deleted key came back")
	}
}

func TestSequenceIsUniqueAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	seen := map[uint64]bool{}
	for round := 0; round < 3; round++ {
		db := open(t, dir)
		for i := 0; i < 50; i++ {
			n, err := db.NextSeq()
			if err != nil || n == 0 || seen[n] {
				t.Fatalf("round %d: seq %d (err %v) repeated or zero", round, n, err)
			}
			seen[n] = true
		}
		db.Close()
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	db.bdb.Update(func(txn *badger.Txn) error {
		return txn.Set(MetaKey("schema"), binary.BigEndian.AppendUint32(nil, SchemaVersion+1))
	})
	db.Close()
	_, err := Open(Options{Dir: dir, GCInterval: -1})
	if err == nil || !strings.Contains(err.Error(), "written by a newer syncgate") {
		t.Fatalf("Open = %v", err)
	}
}

// TestBackupWhileWriting takes a backup while writers are busy and checks
// the restored copy is consistent: each writer's keys form a prefix of
// what it wrote (a transaction is either in or out, nothing torn).
func TestBackupWhileWriting(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			kv := db.KV(fmt.Sprintf("w%d", w))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				kv.Put(ctx, fmt.Sprintf("%06d", i), []byte("v"))
			}
		}(w)
	}
	var buf bytes.Buffer
	for {
		if got, _ := db.KV("w0").List(ctx, ""); len(got) > 100 {
			break
		}
	}
	if err := db.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()

	dir := t.TempDir()
	if err := Restore(dir, &buf); err != nil {
		t.Fatal(err)
	}
	restored := open(t, dir)
	defer restored.Close()
	for w := 0; w < 2; w++ {
		got, _ := restored.KV(fmt.Sprintf("w%d", w)).List(ctx, "")
		if w == 0 && len(got) <= 100 {
			t.Fatalf("writer 0 has %d keys in the backup, want more than 100", len(got))
		}
		for i := 0; i < len(got); i++ {
			if _, ok := got[fmt.Sprintf("%06d", i)]; !ok {
				t.Fatalf("writer %d: key %d missing from a backup holding %d keys", w, i, len(got))
			}
		}
	}
}

func TestEnqueueCoalescesAndDeleteCleansIndex(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	ref := ItemRef{Endpoint: "crm", Entity: "contact", ID: "42"}
	enqueue := func(version string, kind sdk.ChangeKind) (coalesced bool) {
		t.Helper()
		err := db.Update(func(tx *Tx) error {
			var err error
			coalesced, err = tx.EnqueueChange(Change{Binding: "alice", Side: SideCRM, Ref: ref, Kind: kind, Version: version})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return coalesced
	}
	pending := func() []Change {
		var out []Change
		db.View(func(tx *Tx) error {
			return Scan(tx, QueuePrefix("alice"), func(_ []byte, c *Change) bool { out = append(out, *c); return true })
		})
		return out
	}
	if enqueue("1", sdk.ChangeUpsert) {
		t.Fatal("first change coalesced")
	}
	if !enqueue("2", sdk.ChangeUpsert) || !enqueue("3", sdk.ChangeDelete) {
		t.Fatal("repeated changes did not coalesce")
	}
	got := pending()
	if len(got) != 1 || got[0].Version != "3" || got[0].Kind != sdk.ChangeDelete {
		t.Fatalf("pending = %+v", got)
	}
	// The same item on the other side, or for another binding, is its own record.
	db.Update(func(tx *Tx) error {
		tx.EnqueueChange(Change{Binding: "alice", Side: SideMailbox, Ref: ref, Kind: sdk.ChangeUpsert})
		_, err := tx.EnqueueChange(Change{Binding: "bob", Side: SideCRM, Ref: ref, Kind: sdk.ChangeUpsert})
		return err
	})
	if n := len(pending()); n != 2 {
		t.Fatalf("alice has %d records, want 2", n)
	}
	// Completing the record frees the index: the next change is a new record.
	first := got[0]
	db.Update(func(tx *Tx) error { return tx.DeleteChange(first) })
	if enqueue("4", sdk.ChangeUpsert) {
		t.Fatal("a change after completion coalesced into a deleted record")
	}
	if p := pending(); len(p) != 2 || p[1].Seq <= first.Seq || p[1].Version != "4" {
		t.Fatalf("pending = %+v", p)
	}
}

func TestCorrelationReverseIndex(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	crm := ItemRef{Endpoint: "crm", Entity: "appointment", ID: "A"}
	alice := ItemRef{Endpoint: "mail", Scope: "alice", Entity: "appointment", ID: "a1"}
	bob := ItemRef{Endpoint: "mail", Scope: "bob", Entity: "appointment", ID: "b1"}
	c := &Correlation{Item: "sg-1", Entity: "appointment", CRM: &Copy{Ref: crm}}
	c.SetMailboxCopy(&Copy{Binding: "alice", Ref: alice})
	c.SetMailboxCopy(&Copy{Binding: "bob", Ref: bob})
	db.Update(func(tx *Tx) error { return tx.PutCorrelation(c) })
	for _, ref := range []ItemRef{crm, alice, bob} {
		db.View(func(tx *Tx) error {
			if item, err := tx.ItemFor(ref); err != nil || item != "sg-1" {
				t.Fatalf("ItemFor(%v) = %q %v", ref, item, err)
			}
			return nil
		})
	}
	c.RemoveMailboxCopy("bob")
	db.Update(func(tx *Tx) error { return tx.PutCorrelation(c) })
	db.View(func(tx *Tx) error {
		if _, err := tx.ItemFor(bob); err != ErrNotFound {
			t.Fatalf("bob's removed copy still indexed: %v", err)
		}
		got, err := tx.Correlation("sg-1")
		if err != nil || len(got.Mailbox) != 1 || got.MailboxCopy("alice").Ref != alice {
			t.Fatalf("correlation = %+v %v", got, err)
		}
		return nil
	})
	db.Update(func(tx *Tx) error { return tx.DeleteCorrelation("sg-1") })
	db.View(func(tx *Tx) error {
		if _, err := tx.ItemFor(crm); err != ErrNotFound {
			t.Fatal("deleted correlation still indexed")
		}
		return nil
	})
}
