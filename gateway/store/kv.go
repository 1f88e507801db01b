package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/syncgate/syncgate/sdk"
)

// MaxKVValue bounds one value in a connector's key-value store: it is for
// subscription ids and tokens, not for items.
const MaxKVValue = 64 << 10

// ConnectorKV is one endpoint's key-value store, served to its connector.
type ConnectorKV struct {
	db       *DB
	endpoint string
}

var _ sdk.KV = (*ConnectorKV)(nil)

// KV returns the key-value store of an endpoint.
func (db *DB) KV(endpoint string) *ConnectorKV { return &ConnectorKV{db: db, endpoint: endpoint} }

// Get implements sdk.KV.
func (k *ConnectorKV) Get(_ context.Context, key string) (value []byte, found bool, err error) {
	err = k.db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(KVKey(k.endpoint, key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		value, err = item.ValueCopy(nil)
		return err
	})
	return value, found, err
}

// Put implements sdk.KV.
func (k *ConnectorKV) Put(_ context.Context, key string, value []byte) error {
	if len(value) > MaxKVValue {
		return fmt.Errorf("value for %q has %d bytes; the connector store takes at most %d", key, len(value), MaxKVValue)
	}
	return k.db.bdb.Update(func(txn *badger.Txn) error { return txn.Set(KVKey(k.endpoint, key), value) })
}

// Delete implements sdk.KV.
func (k *ConnectorKV) Delete(_ context.Context, key string) error {
	return k.db.bdb.Update(func(txn *badger.Txn) error { return txn.Delete(KVKey(k.endpoint, key)) })
}

// List implements sdk.KV.
func (k *ConnectorKV) List(_ context.Context, prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := k.db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: KVPrefix(k.endpoint, prefix), PrefetchValues: true, PrefetchSize: 32})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			_, key, err := ParseKVKey(it.Item().Key())
			if err != nil {
				return err
			}
			if out[key], err = it.Item().ValueCopy(nil); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
