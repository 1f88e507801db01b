package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/hashicorp/go-hclog"
)

// SchemaVersion is the layout of the keys and values this syncgate writes.
// A database written by an older syncgate is migrated forward at Open; one
// written by a newer syncgate is refused.
const SchemaVersion = 1

// Options size the database. The defaults suit a 2-core, 24 GiB machine
// that also runs the plugins.
type Options struct {
	Dir    string
	Logger hclog.Logger
	// GCInterval is how often value-log garbage collection runs; 0 means
	// every 10 minutes, a negative value disables it (tests).
	GCInterval time.Duration
	// InMemory keeps everything in memory (plan's dry runs, benchmarks).
	InMemory bool
}

// DB is syncgate's database.
type DB struct {
	closed sync.Once
	bdb    *badger.DB
	log    hclog.Logger
	seq    *badger.Sequence
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Open opens (or creates) the database in opts.Dir.
func Open(opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	bo := badger.DefaultOptions(opts.Dir)
	if opts.InMemory {
		bo = badger.DefaultOptions("").WithInMemory(true)
	} else if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data_dir: %w", err)
	}
	bo = bo.
		WithLogger(badgerLogger{opts.Logger.Named("badger")}).
		// Every committed transaction is on disk before it is acknowledged:
		// a cursor is only ever stored with the records it covers, and a
		// crash must not lose either.
		WithSyncWrites(!opts.InMemory).
		// Two cores: two compactors and a few goroutines for streams.
		WithNumCompactors(2).
		WithNumGoroutines(4).
		// 64 MiB memtables keep transactions (kept well under this) cheap;
		// 256 MiB block cache and 128 MiB index cache are small for 24 GiB,
		// and leave room for plugins and the page cache.
		WithMemTableSize(64 << 20).
		WithBlockCacheSize(256 << 20).
		WithIndexCacheSize(128 << 20).
		WithCompression(options.Snappy).
		// Small values (change records, correlations) live in the LSM tree;
		// only large ones go to the value log.
		WithValueThreshold(4 << 10).
		WithMetricsEnabled(false)
	bdb, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open database in %s: %w", opts.Dir, err)
	}
	return start(bdb, opts)
}

// start checks the schema, takes the sequence, and starts value-log GC.
func start(bdb *badger.DB, opts Options) (*DB, error) {
	db := &DB{bdb: bdb, log: opts.Logger}
	if err := db.migrate(); err != nil {
		bdb.Close()
		return nil, err
	}
	var err error
	if db.seq, err = bdb.GetSequence(MetaKey("seq"), 1000); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open sequence: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	db.cancel = cancel
	if opts.GCInterval >= 0 && !opts.InMemory {
		interval := opts.GCInterval
		if interval == 0 {
			interval = 10 * time.Minute
		}
		db.wg.Add(1)
		go db.gcLoop(ctx, interval)
	}
	return db, nil
}

// migrate checks the schema version and brings an older layout forward.
func (db *DB) migrate() error {
	return db.bdb.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(MetaKey("schema"))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return txn.Set(MetaKey("schema"), binary.BigEndian.AppendUint32(nil, SchemaVersion))
		}
		if err != nil {
			return err
		}
		var v uint32
		if err := item.Value(func(b []byte) error {
			if len(b) != 4 {
				return fmt.Errorf("schema version has %d bytes", len(b))
			}
			v = binary.BigEndian.Uint32(b)
			return nil
		}); err != nil {
			return err
		}
		switch {
		case v == SchemaVersion:
			return nil
		case v > SchemaVersion:
			return fmt.Errorf("the database was written by a newer syncgate (schema %d, this one knows %d): upgrade syncgate or restore a backup", v, SchemaVersion)
		}
		// Migrations from older versions go here, one step at a time.
		return fmt.Errorf("no migration from schema %d", v)
	})
}

// NextSeq returns a new sequence number, unique for the database's life.
func (db *DB) NextSeq() (uint64, error) {
	n, err := db.seq.Next()
	// Zero is never handed out, so that it can mean "none".
	if err == nil && n == 0 {
		n, err = db.seq.Next()
	}
	return n, err
}

// gcLoop reclaims value-log space in the background: Badger never does it
// on its own.
func (db *DB) gcLoop(ctx context.Context, every time.Duration) {
	defer db.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i := 0; i < 10; i++ { // rewrite at most 10 files a round
			if err := db.bdb.RunValueLogGC(0.5); err != nil {
				if !errors.Is(err, badger.ErrNoRewrite) {
					db.log.Warn("value log GC", "error", err)
				}
				break
			}
		}
	}
}

// Backup writes a consistent copy of the whole database to w while it is in
// use, in Badger's backup format (Restore reads it).
func (db *DB) Backup(w io.Writer) error {
	_, err := db.bdb.Backup(w, 0)
	return err
}

// BackupToFile writes a backup next to path atomically.
func (db *DB) BackupToFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := db.Backup(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// OpenCopy loads a backup into a new in-memory database: the state of a
// gateway to dry-run against without touching the original.
func OpenCopy(r io.Reader, logger hclog.Logger) (*DB, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	bdb, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(badgerLogger{logger.Named("badger")}))
	if err != nil {
		return nil, err
	}
	// Load before the sequence is taken, so that new sequence numbers
	// continue the copy's, never reuse them.
	if err := bdb.Load(r, 256); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("load the copy: %w", err)
	}
	return start(bdb, Options{InMemory: true, Logger: logger})
}

// Restore loads a backup into an empty database directory.
func Restore(dir string, r io.Reader) error {
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		return err
	}
	if err := db.Load(r, 256); err != nil {
		db.Close()
		return fmt.Errorf("restore: %w", err)
	}
	return db.Close()
}

// Close stops background work and closes the database. Closing twice is
// harmless.
func (db *DB) Close() error {
	var err error
	db.closed.Do(func() {
		db.cancel()
		db.wg.Wait()
		if db.seq != nil {
			db.seq.Release()
		}
		err = db.bdb.Close()
	})
	return err
}

// Badger exposes the underlying database to the engine's transactions.
func (db *DB) Badger() *badger.DB { return db.bdb }

type badgerLogger struct{ l hclog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error(trim(fmt.Sprintf(f, a...))) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(trim(fmt.Sprintf(f, a...))) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug(trim(fmt.Sprintf(f, a...))) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.l.Trace(trim(fmt.Sprintf(f, a...))) }

func trim(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	return s
}
