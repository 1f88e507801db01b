// Package dirtest adapts the directory connector's Store to the conformance
// suite (sdk/sdktest), so that the suite can run against the connector
// in-process or as a real plugin process over the same folder.
package dirtest

import (
	"context"
	"fmt"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
	"github.com/syncgate/syncgate/sdk/sdktest"
)

// Backend is an sdktest.Backend over a directory store: its out-of-band
// changes go through dirconnector.Store, the backend's public API, under
// the same file lock the connector takes.
type Backend struct {
	store    *dirconnector.Store
	src      []byte
	manifest *manifest.Manifest
	scope    string
}

var _ sdktest.Backend = (*Backend)(nil)

// New returns a Backend over the store in dir (created if missing) for the
// connector whose manifest file is manifestSrc. Scope is the binding scope
// the suite applies in: a mailbox for dir-mailbox, a CRM user for dir-crm
// (whose feeds then cover the whole endpoint, scope "").
func New(dir string, manifestSrc []byte, scope string) (*Backend, error) {
	m, diags := manifest.Parse(manifest.FileName, manifestSrc)
	if diags.HasErrors() {
		return nil, fmt.Errorf("dirtest: manifest: %s", diags.Error())
	}
	s, err := dirconnector.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("dirtest: %w", err)
	}
	return &Backend{store: s, src: manifestSrc, manifest: m, scope: scope}, nil
}

// Store returns the store the backend writes to.
func (b *Backend) Store() *dirconnector.Store { return b.store }

// Manifest returns the manifest file the backend was made with.
func (b *Backend) Manifest() []byte { return b.src }

// Scope returns the binding scope to test in.
func (b *Backend) Scope() string { return b.scope }

// Entities returns every entity the manifest declares.
func (b *Backend) Entities() []string { return b.manifest.EntityNames() }

// FeedFor returns the entity's feed: scoped to Scope for a per-scope feed,
// with no scope for an endpoint feed.
func (b *Backend) FeedFor(entity string) sdk.Feed {
	if e := b.manifest.Entity(entity); e != nil && e.Feed == manifest.FeedEndpoint {
		return sdk.Feed{Name: entity}
	}
	return sdk.Feed{Name: entity, Scope: b.scope}
}

// Sample returns sdktest's sample fields: the store keeps every canonical
// field.
func (b *Backend) Sample(entity string, i int) sdk.Fields { return sdktest.Sample(entity, i) }

// Change returns sdktest's changed fields.
func (b *Backend) Change(entity string, f sdk.Fields) sdk.Fields { return sdktest.Change(entity, f) }

// CreateOutOfBand creates an item in Scope with no correlation key, as a
// user adding it by hand would.
func (b *Backend) CreateOutOfBand(_ context.Context, entity string, f sdk.Fields) (string, error) {
	it, err := b.store.Create(b.scope, entity, "", f)
	return it.ID, err
}

// UpdateOutOfBand replaces an item's fields whatever its version.
func (b *Backend) UpdateOutOfBand(_ context.Context, entity, id string, f sdk.Fields) error {
	_, err := b.store.Update(b.scope, entity, id, "", f)
	return err
}

// DeleteOutOfBand deletes an item whatever its version.
func (b *Backend) DeleteOutOfBand(_ context.Context, entity, id string) error {
	return b.store.Delete(b.scope, entity, id, "")
}

// ExpireCursors rotates the store's journal.
func (b *Backend) ExpireCursors(context.Context) error { return b.store.Rotate() }
