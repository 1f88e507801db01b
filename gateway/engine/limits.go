package engine

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// limitedConn bounds the calls in flight to one endpoint (max_concurrency)
// and to each of its scopes (scope_concurrency): a backend counts its
// limits per mailbox or per user, and a burst of one binding's records must
// neither trip them nor take every slot from the other bindings. Calls for
// the whole endpoint (scope "") count against the endpoint only.
type limitedConn struct {
	Conn
	all      chan struct{}
	perScope int
	// observe sees each call's outcome (the engine holds an endpoint that
	// refuses its credentials, and releases it when a call works again).
	observe func(call string, took time.Duration, err error)

	mu     sync.Mutex
	scopes map[string]chan struct{}
}

func limit(c Conn, endpoint, scope int, observe func(call string, took time.Duration, err error)) *limitedConn {
	if observe == nil {
		observe = func(string, time.Duration, error) {}
	}
	return &limitedConn{Conn: c, all: make(chan struct{}, max(endpoint, 1)), perScope: max(scope, 1),
		scopes: map[string]chan struct{}{}, observe: observe}
}

// acquire waits for a slot for scope and for the endpoint, in that order
// (a call waiting for its busy mailbox holds no endpoint slot meanwhile).
func (l *limitedConn) acquire(ctx context.Context, scope string) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var sc chan struct{}
	if scope != "" {
		l.mu.Lock()
		sc = l.scopes[scope]
		if sc == nil {
			sc = make(chan struct{}, l.perScope)
			l.scopes[scope] = sc
		}
		l.mu.Unlock()
		select {
		case sc <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case l.all <- struct{}{}:
	case <-ctx.Done():
		if sc != nil {
			<-sc
		}
		return nil, ctx.Err()
	}
	return func() {
		<-l.all
		if sc != nil {
			<-sc
		}
	}, nil
}

func (l *limitedConn) PrepareSync(ctx context.Context, feed sdk.Feed, cursor sdk.Cursor) (sdk.Pending, error) {
	release, err := l.acquire(ctx, feed.Scope)
	if err != nil {
		return sdk.Pending{}, err
	}
	defer release()
	start := time.Now()
	p, err := l.Conn.PrepareSync(ctx, feed, cursor)
	l.observe("PrepareSync", time.Since(start), err)
	return p, err
}

func (l *limitedConn) GetSyncData(ctx context.Context, req sdk.SyncDataRequest) (sdk.SyncDataPage, error) {
	release, err := l.acquire(ctx, req.Feed.Scope)
	if err != nil {
		return sdk.SyncDataPage{}, err
	}
	defer release()
	start := time.Now()
	page, err := l.Conn.GetSyncData(ctx, req)
	l.observe("GetSyncData", time.Since(start), err)
	return page, err
}

func (l *limitedConn) PostSync(ctx context.Context, feed sdk.Feed, cursor sdk.Cursor) error {
	release, err := l.acquire(ctx, feed.Scope)
	if err != nil {
		return err
	}
	defer release()
	start := time.Now()
	err = l.Conn.PostSync(ctx, feed, cursor)
	l.observe("PostSync", time.Since(start), err)
	return err
}

func (l *limitedConn) Fetch(ctx context.Context, scope, entity string, ids []string) ([]sdk.FetchResult, error) {
	release, err := l.acquire(ctx, scope)
	if err != nil {
		return nil, err
	}
	defer release()
	start := time.Now()
	res, err := l.Conn.Fetch(ctx, scope, entity, ids)
	l.observe("Fetch", time.Since(start), err)
	return res, err
}

func (l *limitedConn) Apply(ctx context.Context, scope, entity string, ops []sdk.Op) ([]sdk.OpResult, error) {
	release, err := l.acquire(ctx, scope)
	if err != nil {
		return nil, err
	}
	defer release()
	start := time.Now()
	res, err := l.Conn.Apply(ctx, scope, entity, ops)
	l.observe("Apply", time.Since(start), err)
	return res, err
}

// observe holds an endpoint whose connector refused its credentials or its
// configuration: no call goes there until AuthRetry has passed (every record
// and feed of it waits, its bindings show why), since retrying each record
// would only repeat the refusal, and could lock the account. The first call
// that works releases it.
func (e *Engine) observe(endpoint string, err error) {
	switch {
	case err == nil:
		e.mu.Lock()
		why, was := e.held[endpoint]
		delete(e.held, endpoint)
		e.mu.Unlock()
		if was {
			e.log.Info("endpoint works again", "endpoint", endpoint, "was", why)
		}
	case sdk.IsKind(err, sdk.ErrAuth) || sdk.IsKind(err, sdk.ErrConfig):
		e.mu.Lock()
		_, was := e.held[endpoint]
		e.held[endpoint] = err.Error()
		e.waitFor[endpoint] = time.Now().Add(e.opts.AuthRetry)
		e.mu.Unlock()
		if !was {
			e.log.Error("endpoint held: its connector refused its credentials or configuration; fix them and reload the gateway (SIGHUP)",
				"endpoint", endpoint, "error", err, "next_try_in", e.opts.AuthRetry)
		}
	}
}

// HeldEndpoints lists the endpoints held for refused credentials or
// configuration, with why.
func (e *Engine) HeldEndpoints() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.held)
}

// heldUntil is when a held endpoint may be tried again (zero if not held).
func (e *Engine) heldUntil(endpoint string) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.held[endpoint]; !ok {
		return time.Time{}
	}
	return e.waitFor[endpoint]
}
