// Package dirconnector is the example third-party connector, and the sync
// engine's test double: it keeps items as JSON files in a folder (Store),
// with an append-only change journal so that cursors survive restarts.
//
// One source builds as two connectors, told apart only by their manifests:
// cmd/dir-mailbox (kind "mailbox", one feed per binding scope) and cmd/dir-crm
// (kind "crm", one feed per endpoint whose records carry routing keys).
// Copy it to start a connector of your own; see README.md.
package dirconnector

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// Connector is the directory connector. Create it with New.
type Connector struct {
	raw   []byte
	m     *manifest.Manifest
	store atomic.Pointer[Store] // set by Configure, which the host may call again
}

var _ sdk.Connector = (*Connector)(nil)

// New returns a connector that serves the manifest src (its connector.hcl).
// It panics if src does not parse: an embedded manifest is part of the
// build, so that is a programming error, like a bad regexp.MustCompile.
func New(src []byte) *Connector {
	m, diags := manifest.Parse(manifest.FileName, src)
	if diags.HasErrors() {
		panic(fmt.Sprintf("dirconnector: embedded manifest: %s", diags.Error()))
	}
	return &Connector{raw: src, m: m}
}

// Manifest returns the manifest the connector was built with, byte for byte.
func (c *Connector) Manifest() []byte { return c.raw }

// Configure opens the folder named by "dir", creating it if need be.
func (c *Connector) Configure(_ context.Context, _ sdk.Env, cfg sdk.Fields) sdk.Diagnostics {
	s, err := Open(cfg["dir"].Str())
	if err != nil {
		return sdk.Diagnostics{sdk.Errorf([]string{"dir"}, "cannot use the folder", "%v", err)}
	}
	c.store.Store(s)
	return nil
}

// Check verifies that the folder is readable and resolves each scope (a
// mailbox or a CRM user, an e-mail address either way) to its routing key.
func (c *Connector) Check(_ context.Context, scopes []string) (res sdk.CheckResult, err error) {
	s, err := c.backend()
	if err != nil {
		return res, err
	}
	if _, err := s.Position(); err != nil {
		res.Diagnostics = sdk.Diagnostics{sdk.Errorf([]string{"dir"}, "folder unreadable", "%v", err)}
	}
	for _, sc := range scopes {
		res.Scopes = append(res.Scopes, sdk.ScopeInfo{Scope: sc, RoutingKeys: []string{UserKey(sc)}})
	}
	return res, nil
}

// PrepareSync counts exactly the changes of the feed after cursor.
func (c *Connector) PrepareSync(ctx context.Context, feed sdk.Feed, cursor sdk.Cursor) (sdk.Pending, error) {
	page, err := c.GetSyncData(ctx, sdk.SyncDataRequest{Feed: feed, Cursor: cursor, Max: -1})
	return sdk.Pending{Kind: sdk.PendingCount, Count: int64(len(page.Records))}, err
}

// GetSyncData returns one page of changes (all of them if Max < 0, for
// PrepareSync). The store's delta token says exactly where a page ended, so
// it serves as page token and as cursor: the gateway may store any page's
// cursor and resume there.
func (c *Connector) GetSyncData(_ context.Context, req sdk.SyncDataRequest) (page sdk.SyncDataPage, err error) {
	s, where, err := c.open(req.Feed.Name, req.Feed.Scope)
	if err != nil {
		return page, err
	}
	from, max := req.Cursor, req.Max
	if len(req.PageToken) > 0 {
		from = req.PageToken
	}
	if max == 0 {
		max = 100
	}
	changes, next, more, err := s.Delta(where, req.Feed.Name, string(from), max)
	if err != nil {
		return page, storeError(err)
	}
	if page.Cursor = sdk.Cursor(next); more {
		page.NextPageToken = []byte(next)
	}
	for _, ch := range changes {
		r := sdk.ChangeRecord{Entity: ch.Entity, ID: ch.ID, Kind: sdk.ChangeUpsert, Version: ch.Version,
			Modified: ch.Modified, CorrelationKey: ch.CorrelationKey}
		if ch.Kind == KindDelete {
			r.Kind = sdk.ChangeDelete
		}
		if where == "" { // an endpoint feed: say which bindings each record concerns
			r.RoutingKeys = ch.RoutingKeys
		}
		page.Records = append(page.Records, r)
	}
	return page, nil
}

// PostSync has nothing to release, since the journal keeps every line until
// it rotates, but it still rejects a cursor that is not valid.
func (c *Connector) PostSync(_ context.Context, feed sdk.Feed, cursor sdk.Cursor) error {
	s, _, err := c.open(feed.Name, feed.Scope)
	if err != nil || len(cursor) == 0 {
		return err
	}
	return storeError(s.CheckToken(string(cursor)))
}

// Fetch returns full items; a missing one is ErrNotFound for its id alone.
func (c *Connector) Fetch(_ context.Context, scope, entity string, ids []string) ([]sdk.FetchResult, error) {
	s, where, err := c.open(entity, scope)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.FetchResult, len(ids))
	for i, id := range ids {
		it, err := s.Get(where, entity, id)
		out[i] = sdk.FetchResult{ID: id, Err: sdk.AsError(storeError(err))}
		if err == nil {
			out[i].Record = &sdk.Record{Entity: entity, ID: it.ID, Version: it.Version, Modified: it.Modified,
				CorrelationKey: it.CorrelationKey, Fields: it.Fields, RoutingKeys: RoutingKeys(it.Owner, entity, it.Fields)}
		}
	}
	return out, nil
}

// Apply performs each op in order; each gets its own result or error. New
// items belong to scope; existing ones are looked for where Fetch looks.
func (c *Connector) Apply(_ context.Context, scope, entity string, ops []sdk.Op) ([]sdk.OpResult, error) {
	s, where, err := c.open(entity, scope)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.OpResult, len(ops))
	for i, op := range ops {
		var it Item
		var err error
		switch ds := sdk.Validate(entity, op.Fields); {
		case ds.HasErrors():
			err = sdk.NewError(sdk.ErrPermanent, "invalid %s: %v", entity, ds.Err())
		case op.Kind == sdk.OpCreate && op.MayExist: // an earlier attempt may have created it: look it up
			it, err = s.CreateOnce(scope, entity, op.CorrelationKey, op.Fields)
		case op.Kind == sdk.OpCreate:
			it, err = s.Create(scope, entity, op.CorrelationKey, op.Fields)
		case op.Kind == sdk.OpUpdate:
			it, err = patch(s, where, entity, op)
		case op.Kind == sdk.OpDelete:
			err = s.Delete(where, entity, op.ID, op.IfMatch)
			it.ID = op.ID // a delete returns no version
		default:
			err = sdk.NewError(sdk.ErrPermanent, "unknown operation %s", op.Kind)
		}
		out[i] = sdk.OpResult{ID: it.ID, Version: it.Version}
		if err != nil {
			out[i] = sdk.OpResult{ID: op.ID, Err: sdk.AsError(storeError(err))}
		}
	}
	return out, nil
}

// open returns the store and where an entity's items are, for a feed or for
// Fetch and Apply in scope: in that mailbox for a mailbox connector,
// anywhere in the org ("") for a CRM, where a binding may write a record
// that another user owns (a meeting it attends, say).
func (c *Connector) open(entity, scope string) (*Store, string, error) {
	e := c.m.Entity(entity)
	s, err := c.backend()
	switch {
	case err != nil:
		return nil, "", err
	case e == nil:
		return nil, "", sdk.NewError(sdk.ErrPermanent, "%s has no entity %q", c.m.Name, entity)
	case e.Feed == manifest.FeedEndpoint:
		return s, "", nil
	case scope == "":
		return nil, "", sdk.NewError(sdk.ErrPermanent, "%s is kept per scope, and no scope was given", entity)
	}
	return s, scope, nil
}

func (c *Connector) backend() (*Store, error) {
	if s := c.store.Load(); s != nil {
		return s, nil
	}
	return nil, sdk.NewError(sdk.ErrConfig, "connector is not configured")
}

// storeError maps the store's errors to the kinds that tell the gateway what
// to do; anything else (a full disk, say) is worth retrying. Its result is
// an error, nil for nil, so that a call may return it as is; per-item
// results take sdk.AsError of it.
func storeError(err error) error {
	var vm *VersionMismatchError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &vm):
		return sdk.Conflict(vm.Current, "%v", err)
	case errors.Is(err, ErrNotFound):
		return sdk.NewError(sdk.ErrNotFound, "%v", err)
	case errors.Is(err, ErrExpired):
		return sdk.NewError(sdk.ErrResyncRequired, "cursor: %v", err)
	case errors.Is(err, ErrInvalidName):
		return sdk.NewError(sdk.ErrPermanent, "%v", err)
	}
	return err
}

// patch applies an update op: only the fields it carries change, and a null
// clears one. The store replaces whole items, so the patch is laid over the
// current fields, guarded by the version they were read at.
func patch(s *Store, scope, entity string, op sdk.Op) (Item, error) {
	old, err := s.Get(scope, entity, op.ID)
	if err != nil {
		return Item{}, err
	}
	if op.IfMatch != "" && op.IfMatch != old.Version {
		return Item{}, &VersionMismatchError{Current: old.Version}
	}
	fields := old.Fields.Clone()
	for k, v := range op.Fields {
		if v.IsNull() {
			delete(fields, k)
		} else {
			fields[k] = v
		}
	}
	return s.Update(scope, entity, op.ID, old.Version, fields)
}
