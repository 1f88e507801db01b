package host

import (
	"context"
	"strings"
	"sync"

	"github.com/syncgate/syncgate/sdk"
)

// MemKV is an in-memory connector key-value store, for one-off commands
// (plugins check) and tests; a running gateway persists it in its database.
type MemKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

var _ sdk.KV = (*MemKV)(nil)

// NewMemKV returns an empty store.
func NewMemKV() *MemKV { return &MemKV{m: map[string][]byte{}} }

// Get implements sdk.KV.
func (k *MemKV) Get(_ context.Context, key string) ([]byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	return append([]byte(nil), v...), ok, nil
}

// Put implements sdk.KV.
func (k *MemKV) Put(_ context.Context, key string, value []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[key] = append([]byte(nil), value...)
	return nil
}

// Delete implements sdk.KV.
func (k *MemKV) Delete(_ context.Context, key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, key)
	return nil
}

// List implements sdk.KV.
func (k *MemKV) List(_ context.Context, prefix string) (map[string][]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string][]byte{}
	for key, v := range k.m {
		if strings.HasPrefix(key, prefix) {
			out[key] = append([]byte(nil), v...)
		}
	}
	return out, nil
}
