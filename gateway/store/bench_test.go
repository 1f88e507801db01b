package store

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/syncgate/syncgate/sdk"
)

// BenchmarkSyncTable measures one record through the sync table (enqueue
// with coalescing index, then dequeue: scan, and delete with its index)
// against raw Badger doing the same amount of I/O in the same batches:
// writing the same bytes under plain keys, scanning and deleting them. Both
// run on disk with SyncWrites on, in transactions of 500 records, as
// collect writes a page. It reports ns per record for each and the ratio.
func BenchmarkSyncTable(b *testing.B) {
	const batch = 500
	changes := make([]Change, batch)
	for i := range changes {
		changes[i] = Change{Binding: fmt.Sprintf("user%03d@example.com", i%50), Side: SideCRM, Kind: sdk.ChangeUpsert,
			Ref:     ItemRef{Endpoint: "crm", Entity: "contact", ID: fmt.Sprintf("%032x", i)},
			Version: "1234567", Modified: time.Unix(1_800_000_000, 0).UTC(), Enqueued: time.Unix(1_800_000_000, 0).UTC()}
	}
	raw := make([][]byte, batch)
	for i, c := range changes {
		raw[i], _ = json.Marshal(c)
	}
	rounds := max(1, b.N/batch)

	db := open(b, b.TempDir())
	defer db.Close()
	start := time.Now()
	for r := 0; r < rounds; r++ {
		if err := db.Update(func(tx *Tx) error {
			for i := range changes {
				c := changes[i]
				c.Ref.ID = fmt.Sprintf("%d-%s", r, c.Ref.ID)
				if _, err := tx.EnqueueChange(c); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		var got []Change
		db.View(func(tx *Tx) error {
			return Scan(tx, QueueAllPrefix(), func(_ []byte, c *Change) bool { got = append(got, *c); return true })
		})
		if len(got) != batch {
			b.Fatalf("dequeued %d records, want %d", len(got), batch)
		}
		if err := db.Update(func(tx *Tx) error {
			for _, c := range got {
				if err := tx.DeleteChange(c); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	table := time.Since(start)

	rdb, err := badger.Open(badger.DefaultOptions(b.TempDir()).WithSyncWrites(true).WithLogger(nil).
		WithNumCompactors(2).WithMemTableSize(64 << 20).WithValueThreshold(4 << 10))
	if err != nil {
		b.Fatal(err)
	}
	defer rdb.Close()
	start = time.Now()
	for r := 0; r < rounds; r++ {
		if err := rdb.Update(func(txn *badger.Txn) error {
			for i, v := range raw {
				if err := txn.Set([]byte(fmt.Sprintf("q/%d/%06d", r, i)), v); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		var keys [][]byte
		rdb.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("q/"), PrefetchValues: true, PrefetchSize: 64})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				it.Item().Value(func([]byte) error { return nil })
				keys = append(keys, it.Item().KeyCopy(nil))
			}
			return nil
		})
		if err := rdb.Update(func(txn *badger.Txn) error {
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	rawTime := time.Since(start)
	n := float64(rounds * batch)
	b.ReportMetric(float64(table.Nanoseconds())/n, "synctable-ns/record")
	b.ReportMetric(float64(rawTime.Nanoseconds())/n, "raw-ns/record")
	b.ReportMetric(float64(table)/float64(rawTime), "ratio")
	b.ReportMetric(0, "ns/op") // the per-record figures above are the result
}
