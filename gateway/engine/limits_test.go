package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// countingConn records the most calls it ever had in flight, in all and per
// scope.
type countingConn struct {
	Conn
	mu                sync.Mutex
	now, peak         int
	nowScope, peakOne map[string]int
}

func (c *countingConn) Apply(ctx context.Context, scope, entity string, ops []sdk.Op) ([]sdk.OpResult, error) {
	c.mu.Lock()
	c.now++
	c.nowScope[scope]++
	c.peak = max(c.peak, c.now)
	c.peakOne[scope] = max(c.peakOne[scope], c.nowScope[scope])
	c.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	c.mu.Lock()
	c.now--
	c.nowScope[scope]--
	c.mu.Unlock()
	return make([]sdk.OpResult, len(ops)), nil
}

func TestLimitsPerEndpointAndScope(t *testing.T) {
	inner := &countingConn{nowScope: map[string]int{}, peakOne: map[string]int{}}
	l := limit(inner, 3, 2, nil)
	var wg sync.WaitGroup
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scope := []string{"alice", "bob", "carol"}[i%3]
			if _, err := l.Apply(t.Context(), scope, "contact", []sdk.Op{{}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if inner.peak > 3 || inner.peak < 2 {
		t.Errorf("peak calls in flight %d, want 2 or 3 (max_concurrency 3)", inner.peak)
	}
	for scope, n := range inner.peakOne {
		if n > 2 {
			t.Errorf("scope %s had %d calls in flight, limit 2", scope, n)
		}
	}
	// A caller that gives up while waiting gets its context's error and
	// holds no slot.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Apply(ctx, "alice", "contact", nil); err == nil {
		t.Error("a cancelled call went through")
	}
	if len(l.all) != 0 || len(l.scopes["alice"]) != 0 {
		t.Errorf("slots left taken: endpoint %d, alice %d", len(l.all), len(l.scopes["alice"]))
	}
}

// flakyCheck fails its first Checks the way a restarting plugin does.
type flakyCheck struct {
	Conn
	failures int
	err      error
	calls    int
}

func (f *flakyCheck) Check(ctx context.Context, scopes []string) (sdk.CheckResult, error) {
	f.calls++
	if f.calls <= f.failures {
		return sdk.CheckResult{}, f.err
	}
	return sdk.CheckResult{}, nil
}

func TestCheckWaitsForARestartingPlugin(t *testing.T) {
	down := &flakyCheck{failures: 2, err: errors.New("connector unavailable")}
	if _, err := checkScopes(t.Context(), down, []string{"alice"}, time.Minute); err != nil || down.calls != 3 {
		t.Fatalf("after two failures: %v, %d calls", err, down.calls)
	}
	refused := &flakyCheck{failures: 5, err: sdk.NewError(sdk.ErrAuth, "invalid client secret")}
	if _, err := checkScopes(t.Context(), refused, []string{"alice"}, time.Minute); !sdk.IsKind(err, sdk.ErrAuth) || refused.calls != 1 {
		t.Fatalf("refused credentials: %v after %d calls, want the auth error at once", err, refused.calls)
	}
	gone := &flakyCheck{failures: 100, err: errors.New("connector unavailable")}
	if _, err := checkScopes(t.Context(), gone, []string{"alice"}, 600*time.Millisecond); err == nil {
		t.Fatal("a plugin that never came back passed the check")
	}
}
