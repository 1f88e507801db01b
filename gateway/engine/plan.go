package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/syncgate/syncgate/sdk"
)

// PlannedOp is one write the next cycle would make.
type PlannedOp struct {
	Endpoint string
	Scope    string
	Entity   string
	Op       sdk.Op
}

// dryConn reads from a connector but writes nothing: Apply records the ops
// and answers as if they succeeded, PostSync acknowledges nothing.
type dryConn struct {
	Conn
	endpoint string
	mu       *sync.Mutex
	ops      *[]PlannedOp
}

func (d dryConn) PostSync(context.Context, sdk.Feed, sdk.Cursor) error { return nil }

func (d dryConn) Apply(_ context.Context, scope, entity string, ops []sdk.Op) ([]sdk.OpResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]sdk.OpResult, len(ops))
	for i, op := range ops {
		*d.ops = append(*d.ops, PlannedOp{Endpoint: d.endpoint, Scope: scope, Entity: entity, Op: op})
		id := op.ID
		if op.Kind == sdk.OpCreate {
			id = fmt.Sprintf("planned-%d", len(*d.ops))
		}
		out[i] = sdk.OpResult{ID: id, Version: "planned"}
	}
	return out, nil
}

// Plan runs one cycle (collect every feed, process what is ready) with
// every write recorded instead of made, and returns the writes. opts.DB
// must be a copy of the gateway's database (store.OpenCopy): the cycle
// moves its cursors and correlations, and the copy is thrown away.
func Plan(ctx context.Context, opts Options) ([]PlannedOp, *Engine, error) {
	var (
		mu  sync.Mutex
		ops []PlannedOp
	)
	conns := map[string]Conn{}
	for name, c := range opts.Conns {
		conns[name] = dryConn{Conn: c, endpoint: name, mu: &mu, ops: &ops}
	}
	opts.Conns = conns
	e, err := New(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range e.feeds {
		if _, err := e.collectWithResync(ctx, f); err != nil {
			return nil, nil, err
		}
	}
	if _, _, err := e.drain(ctx); err != nil {
		return nil, nil, err
	}
	return ops, e, nil
}
