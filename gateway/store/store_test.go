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
)

func open(t *testing.T, dir string) *DB {
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
