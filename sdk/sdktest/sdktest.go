// Package sdktest is the connector conformance suite. A connector runs it
// against its own backend, in-process or as a plugin process:
//
//	func TestConformance(t *testing.T) {
//		c := myconnector.New(manifest)
//		c.Configure(ctx, sdk.Env{}, config) // against a test backend
//		sdktest.Run(t, c, myBackend{...})
//	}
//
// The Backend makes out-of-band changes through the backend's own public
// API (what a user editing their mailbox or CRM would do), so the suite
// checks the connector against the real thing rather than against itself.
package sdktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/protocol"
)

// Target is the connector under test: an in-process sdk.Connector after
// Configure, or the gateway's protocol client to a plugin process (both
// have these methods).
type Target interface {
	sdk.Syncer
}

// Backend makes out-of-band changes through the backend's own public API,
// and says what to test.
type Backend interface {
	// Manifest returns the connector.hcl file beside the binary, which the
	// connector's own manifest must equal byte for byte (see Describer).
	Manifest() []byte
	// Scope is the binding scope to Apply and Fetch in (a mailbox, a CRM
	// user).
	Scope() string
	// Entities lists the entities to exercise.
	Entities() []string
	// FeedFor returns the feed in which changes of entity in Scope appear:
	// scoped to it for a per-scope feed, Scope "" for an endpoint feed.
	FeedFor(entity string) sdk.Feed
	// Sample returns valid canonical fields, different for each i.
	Sample(entity string, i int) sdk.Fields
	// Change returns the same item with one visible change.
	Change(entity string, f sdk.Fields) sdk.Fields
	// CreateOutOfBand creates an item in Scope, as a user of the backend
	// would, and returns its id.
	CreateOutOfBand(ctx context.Context, entity string, f sdk.Fields) (id string, err error)
	// UpdateOutOfBand replaces an item's fields, as a user would.
	UpdateOutOfBand(ctx context.Context, entity, id string, f sdk.Fields) error
	// DeleteOutOfBand deletes an item, as a user would.
	DeleteOutOfBand(ctx context.Context, entity, id string) error
	// ExpireCursors makes every cursor issued so far invalid, as a backend
	// does that forgot its change history.
	ExpireCursors(ctx context.Context) error
}

// Describer is optional on Target: when present, the manifest it describes
// must equal Backend.Manifest() byte for byte. A Target that has the
// in-process Connector's Manifest method, or the protocol client's Describe,
// is described through those instead.
type Describer interface {
	DescribeManifest(ctx context.Context) ([]byte, error)
}

// checker is Check, which the in-process Connector and the protocol client
// both have: when the target has it, the suite checks routing keys.
type checker interface {
	Check(ctx context.Context, scopes []string) (sdk.CheckResult, error)
}

// Timeout bounds each subtest.
var Timeout = 30 * time.Second

const (
	pageMax  = 5      // small pages, so that paging is exercised
	maxPages = 100000 // a feed that never ends its round is a bug
)

// Run runs the conformance suite: one subtest per check and entity, each
// independent of the others, so that a failure names what is wrong:
// describe_matches_manifest (when the target can describe itself), and per
// entity create_update_delete, create_retry_may_exist, stale_if_match,
// fetch_returns_written, fetch_missing, out_of_band_changes,
// cursor_resumes_after_post_sync, garbage_cursor, expired_cursor and, for an
// endpoint feed when the target has Check, routing_keys. Every record that
// Fetch returns is checked against the canonical schema (sdk.Validate).
func Run(t *testing.T, target Target, backend Backend) {
	t.Helper()
	if describe := describer(target); describe != nil {
		t.Run("describe_matches_manifest", func(t *testing.T) {
			got, err := describe(testContext(t))
			if err != nil {
				t.Fatalf("Describe: %v", err)
			}
			if want := backend.Manifest(); !bytes.Equal(got, want) {
				t.Errorf("the connector's embedded manifest differs from the manifest file (%s)", firstDifference(got, want))
			}
		})
	}
	for _, entity := range backend.Entities() {
		s := &suite{target: target, backend: backend, entity: entity, scope: backend.Scope(), feed: backend.FeedFor(entity)}
		t.Run(entity, func(t *testing.T) {
			t.Run("create_update_delete", s.createUpdateDelete)
			t.Run("update_is_a_patch", s.updateIsAPatch)
			t.Run("create_retry_may_exist", s.createRetry)
			t.Run("stale_if_match", s.staleIfMatch)
			t.Run("fetch_returns_written", s.fetchReturnsWritten)
			t.Run("fetch_missing", s.fetchMissing)
			t.Run("out_of_band_changes", s.outOfBand)
			t.Run("cursor_resumes_after_post_sync", s.cursorResumes)
			t.Run("garbage_cursor", s.garbageCursor)
			t.Run("expired_cursor", s.expiredCursor)
			if _, ok := target.(checker); ok && s.feed.Scope == "" {
				t.Run("routing_keys", s.routingKeys)
			}
		})
	}
}

type suite struct {
	target  Target
	backend Backend
	entity  string
	scope   string
	feed    sdk.Feed
}

// createUpdateDelete writes through Apply and reads every step back.
func (s *suite) createUpdateDelete(t *testing.T) {
	ctx := testContext(t)
	f := s.backend.Sample(s.entity, 0)
	key := newKey()
	created := s.create(t, ctx, key, false, f)
	rec := s.fetchOne(t, ctx, created.ID)
	checkFields(t, "after create", f, rec.Fields)
	if rec.Version != created.Version {
		t.Errorf("Fetch after create: version %q, Apply said %q", rec.Version, created.Version)
	}
	if rec.CorrelationKey != key {
		t.Errorf("Fetch after create: correlation key %q, want %q (a create must stamp it on the item)", rec.CorrelationKey, key)
	}

	f2 := s.backend.Change(s.entity, f)
	updated := s.mustApply(t, ctx, sdk.Op{Kind: sdk.OpUpdate, ID: created.ID, IfMatch: created.Version, Fields: f2})
	if updated.Version == "" || updated.Version == created.Version {
		t.Errorf("update returned version %q after %q: an update must return the new version", updated.Version, created.Version)
	}
	if updated.ID != "" && updated.ID != created.ID {
		t.Errorf("update of %q returned id %q", created.ID, updated.ID)
	}
	rec = s.fetchOne(t, ctx, created.ID)
	checkFields(t, "after update", f2, rec.Fields)
	if rec.Version != updated.Version {
		t.Errorf("Fetch after update: version %q, Apply said %q", rec.Version, updated.Version)
	}

	s.mustApply(t, ctx, sdk.Op{Kind: sdk.OpDelete, ID: created.ID, IfMatch: updated.Version})
	s.wantNotFound(t, ctx, created.ID)
}

// updateIsAPatch checks the update contract the engine relies on: only the
// fields an update carries change, a null clears a field, and the fields it
// does not mention keep their values.
func (s *suite) updateIsAPatch(t *testing.T) {
	ctx := testContext(t)
	f := s.backend.Sample(s.entity, 0)
	f2 := s.backend.Change(s.entity, f)
	var k string
	for name, v := range f2 {
		if !v.Equal(f[name]) {
			k = name
			break
		}
	}
	if k == "" || len(f) < 2 {
		t.Fatalf("the backend's Sample and Change give no changed field beside others for %s", s.entity)
	}
	created := s.create(t, ctx, newKey(), false, f)
	s.cleanup(t, created.ID)
	updated := s.mustApply(t, ctx, sdk.Op{Kind: sdk.OpUpdate, ID: created.ID, IfMatch: created.Version, Fields: sdk.Fields{k: f2[k]}})
	want := f.Clone()
	want[k] = f2[k]
	checkFields(t, "after an update carrying only "+k, want, s.fetchOne(t, ctx, created.ID).Fields)

	s.mustApply(t, ctx, sdk.Op{Kind: sdk.OpUpdate, ID: created.ID, IfMatch: updated.Version, Fields: sdk.Fields{k: sdk.Null}})
	got := s.fetchOne(t, ctx, created.ID).Fields
	if !got[k].IsNull() {
		t.Errorf("an update setting %s to null left it as %v: a null must clear the field", k, got[k])
	}
	delete(want, k)
	checkFields(t, "after an update clearing "+k, want, got)
}

// createRetry replays a create with MayExist, as the engine does when it
// cannot know whether its first attempt succeeded.
func (s *suite) createRetry(t *testing.T) {
	ctx := testContext(t)
	key := newKey()
	f := s.backend.Sample(s.entity, 1)
	first := s.create(t, ctx, key, false, f)
	retry := s.create(t, ctx, key, true, f)
	if retry.ID != first.ID {
		t.Errorf("a create retried with MayExist made item %q, but %q already carried correlation key %q: it must return the existing item", retry.ID, first.ID, key)
	}
	if n := s.countKey(t, ctx, key); n != 1 {
		t.Errorf("a full enumeration finds %d items with correlation key %q, want exactly 1", n, key)
	}
}

// staleIfMatch updates and deletes with a version that is no longer current.
func (s *suite) staleIfMatch(t *testing.T) {
	ctx := testContext(t)
	f := s.backend.Sample(s.entity, 2)
	created := s.create(t, ctx, newKey(), false, f)
	f2 := s.backend.Change(s.entity, f)
	updated := s.mustApply(t, ctx, sdk.Op{Kind: sdk.OpUpdate, ID: created.ID, IfMatch: created.Version, Fields: f2})

	for _, op := range []sdk.Op{
		{Kind: sdk.OpUpdate, ID: created.ID, IfMatch: created.Version, Fields: f},
		{Kind: sdk.OpDelete, ID: created.ID, IfMatch: created.Version},
	} {
		res := s.apply(t, ctx, op)
		switch {
		case res.Err == nil:
			t.Errorf("%s with stale IfMatch %q (current %q) succeeded; want a conflict", op.Kind, created.Version, updated.Version)
		case res.Err.Kind != sdk.ErrConflict:
			t.Errorf("%s with stale IfMatch: got %v, want a conflict", op.Kind, res.Err)
		case res.Err.CurrentVersion != "" && res.Err.CurrentVersion != updated.Version:
			t.Errorf("%s with stale IfMatch: conflict names current version %q, want %q", op.Kind, res.Err.CurrentVersion, updated.Version)
		}
	}
	rec := s.fetchOne(t, ctx, created.ID)
	checkFields(t, "after the rejected writes", f2, rec.Fields)
	if rec.Version != updated.Version {
		t.Errorf("after the rejected writes: version %q, want %q", rec.Version, updated.Version)
	}
}

// fetchReturnsWritten creates several items in one Apply and fetches them in
// one Fetch.
func (s *suite) fetchReturnsWritten(t *testing.T) {
	ctx := testContext(t)
	var ops []sdk.Op
	for i := 3; i < 6; i++ {
		ops = append(ops, sdk.Op{Kind: sdk.OpCreate, CorrelationKey: newKey(), Fields: s.backend.Sample(s.entity, i)})
	}
	results := s.applyAll(t, ctx, ops)
	ids := make([]string, len(results))
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("create %d of %d: %v", i+1, len(ops), r.Err)
		}
		ids[i] = r.ID
		s.cleanup(t, r.ID)
	}
	for i, fr := range s.fetch(t, ctx, ids...) {
		if fr.Err != nil {
			t.Errorf("Fetch %s: %v", ids[i], fr.Err)
			continue
		}
		checkFields(t, fmt.Sprintf("item %d of %d", i+1, len(ids)), ops[i].Fields, fr.Record.Fields)
		if fr.Record.Version != results[i].Version {
			t.Errorf("Fetch %s: version %q, Apply said %q", ids[i], fr.Record.Version, results[i].Version)
		}
		if fr.Record.CorrelationKey != ops[i].CorrelationKey {
			t.Errorf("Fetch %s: correlation key %q, want %q", ids[i], fr.Record.CorrelationKey, ops[i].CorrelationKey)
		}
	}
}

// fetchMissing fetches a deleted item beside an existing one: the one that
// is gone fails alone, with ErrNotFound.
func (s *suite) fetchMissing(t *testing.T) {
	ctx := testContext(t)
	kept := s.create(t, ctx, newKey(), false, s.backend.Sample(s.entity, 6))
	gone := s.create(t, ctx, newKey(), false, s.backend.Sample(s.entity, 7))
	s.mustApply(t, ctx, sdk.Op{Kind: sdk.OpDelete, ID: gone.ID, IfMatch: gone.Version})
	res := s.fetch(t, ctx, kept.ID, gone.ID)
	if res[0].Err != nil {
		t.Errorf("Fetch of an existing item beside a missing one: %v", res[0].Err)
	}
	if res[1].Err == nil || res[1].Err.Kind != sdk.ErrNotFound {
		t.Errorf("Fetch of deleted item %s: got record %v, error %v; want ErrNotFound", gone.ID, res[1].Record != nil, res[1].Err)
	}
}

// outOfBand makes changes through the backend's API and expects each in the
// feed after the cursor that preceded it.
func (s *suite) outOfBand(t *testing.T) {
	ctx := testContext(t)
	cursor := s.current(t, ctx)
	f := s.backend.Sample(s.entity, 8)
	id, err := s.backend.CreateOutOfBand(ctx, s.entity, f)
	if err != nil {
		t.Fatalf("CreateOutOfBand: %v", err)
	}
	s.cleanup(t, id)
	recs, cursor := s.drain(t, ctx, cursor)
	wantRecord(t, "after an out-of-band create", recs, id, sdk.ChangeUpsert)
	checkFields(t, "out-of-band create", f, s.fetchOne(t, ctx, id).Fields)
	s.postSync(t, ctx, cursor)

	f2 := s.backend.Change(s.entity, f)
	if err := s.backend.UpdateOutOfBand(ctx, s.entity, id, f2); err != nil {
		t.Fatalf("UpdateOutOfBand: %v", err)
	}
	recs, cursor = s.drain(t, ctx, cursor)
	wantRecord(t, "after an out-of-band update", recs, id, sdk.ChangeUpsert)
	checkFields(t, "out-of-band update", f2, s.fetchOne(t, ctx, id).Fields)
	s.postSync(t, ctx, cursor)

	if err := s.backend.DeleteOutOfBand(ctx, s.entity, id); err != nil {
		t.Fatalf("DeleteOutOfBand: %v", err)
	}
	recs, _ = s.drain(t, ctx, cursor)
	wantRecord(t, "after an out-of-band delete", recs, id, sdk.ChangeDelete)
	s.wantNotFound(t, ctx, id)
}

// cursorResumes checks that a stored cursor resumes exactly where it was
// taken: nothing before it comes again, nothing after it is missed, and a
// round may be replayed until PostSync.
func (s *suite) cursorResumes(t *testing.T) {
	ctx := testContext(t)
	c0 := s.current(t, ctx)
	a := s.createOutOfBand(t, ctx, 9)
	recs, c1 := s.drain(t, ctx, c0)
	wantRecord(t, "first round", recs, a, sdk.ChangeUpsert)
	s.postSync(t, ctx, c1)
	if p := s.prepare(t, ctx, c1); p.Kind == sdk.PendingCount && p.Count != 0 {
		t.Errorf("PrepareSync at the end of the feed says %d changes are pending, want 0", p.Count)
	}

	b := s.createOutOfBand(t, ctx, 10)
	if p := s.prepare(t, ctx, c1); p.Kind == sdk.PendingCount && p.Count < 1 {
		t.Errorf("PrepareSync after an out-of-band create says %d changes are pending, want at least 1", p.Count)
	}
	second := func(round string) sdk.Cursor {
		t.Helper()
		recs, cursor := s.drain(t, ctx, c1)
		wantRecord(t, round, recs, b, sdk.ChangeUpsert)
		if hasRecord(recs, a) {
			t.Errorf("%s: item %s, from before the stored cursor, came again", round, a)
		}
		return cursor
	}
	second("second round")
	c2 := second("second round replayed before PostSync")
	s.postSync(t, ctx, c2)
	s.postSync(t, ctx, c2) // PostSync must be idempotent
	recs, _ = s.drain(t, ctx, c2)
	if hasRecord(recs, a) || hasRecord(recs, b) {
		t.Errorf("after PostSync, changes from before the cursor came again: %+v", recs)
	}
}

// routingKeys checks, on an endpoint feed, that the records of items in
// Scope, created out of band or through Apply, carry one of the routing keys
// that Check resolves Scope to: otherwise the gateway cannot route them to
// the binding.
func (s *suite) routingKeys(t *testing.T) {
	ctx := testContext(t)
	res, err := s.target.(checker).Check(ctx, []string{s.scope})
	if err != nil {
		t.Fatalf("Check(%q): %v", s.scope, err)
	}
	if len(res.Scopes) != 1 || len(res.Scopes[0].RoutingKeys) == 0 || res.Scopes[0].Diagnostics.HasErrors() {
		t.Fatalf("Check(%q) resolved the scope to %+v: want one scope with routing keys", s.scope, res.Scopes)
	}
	want := res.Scopes[0].RoutingKeys
	cursor := s.current(t, ctx)
	ids := []string{
		s.createOutOfBand(t, ctx, 12),
		s.create(t, ctx, newKey(), false, s.backend.Sample(s.entity, 13)).ID,
	}
	recs, _ := s.drain(t, ctx, cursor)
	for _, id := range ids {
		wantRecord(t, "routing", recs, id, sdk.ChangeUpsert)
		for _, r := range recs {
			if r.ID == id && !intersects(r.RoutingKeys, want) {
				t.Errorf("the change record of item %s in scope %q has routing keys %q, none of which Check gave the scope (%q)", id, s.scope, r.RoutingKeys, want)
			}
		}
	}
}

// garbageCursor hands GetSyncData cursors that no connector issued.
func (s *suite) garbageCursor(t *testing.T) {
	ctx := testContext(t)
	for _, c := range []sdk.Cursor{sdk.Cursor("sdktest: not a cursor"), {0xff, 0x00, 0xfe, ':', '9'}} {
		_, err := s.target.GetSyncData(ctx, sdk.SyncDataRequest{Feed: s.feed, Cursor: c, Max: pageMax})
		if !sdk.IsKind(err, sdk.ErrResyncRequired) {
			t.Errorf("GetSyncData with cursor %q: got %v, want ErrResyncRequired", c, err)
		}
	}
}

// expiredCursor makes the backend forget its change history: a cursor from
// before is ErrResyncRequired, and a new enumeration still finds everything.
func (s *suite) expiredCursor(t *testing.T) {
	ctx := testContext(t)
	cursor := s.current(t, ctx)
	id := s.createOutOfBand(t, ctx, 11)
	if err := s.backend.ExpireCursors(ctx); err != nil {
		t.Fatalf("ExpireCursors: %v", err)
	}
	_, err := s.target.GetSyncData(ctx, sdk.SyncDataRequest{Feed: s.feed, Cursor: cursor, Max: pageMax})
	if !sdk.IsKind(err, sdk.ErrResyncRequired) {
		t.Errorf("GetSyncData with an expired cursor: got %v, want ErrResyncRequired", err)
	}
	recs, _ := s.drain(t, ctx, nil)
	wantRecord(t, "re-enumeration after the cursor expired", recs, id, sdk.ChangeUpsert)
}

// create applies one create and schedules the item's removal.
func (s *suite) create(t *testing.T, ctx context.Context, key string, mayExist bool, f sdk.Fields) sdk.OpResult {
	t.Helper()
	res := s.mustApply(t, ctx, sdk.Op{Kind: sdk.OpCreate, CorrelationKey: key, MayExist: mayExist, Fields: f})
	if res.ID == "" || res.Version == "" {
		t.Fatalf("create returned id %q, version %q: both must be set", res.ID, res.Version)
	}
	s.cleanup(t, res.ID)
	return res
}

func (s *suite) createOutOfBand(t *testing.T, ctx context.Context, i int) string {
	t.Helper()
	id, err := s.backend.CreateOutOfBand(ctx, s.entity, s.backend.Sample(s.entity, i))
	if err != nil {
		t.Fatalf("CreateOutOfBand: %v", err)
	}
	s.cleanup(t, id)
	return id
}

// cleanup removes an item when the test ends, best effort: the item may be
// gone already, and the backend is left as the test found it.
func (s *suite) cleanup(t *testing.T, id string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		s.backend.DeleteOutOfBand(ctx, s.entity, id)
	})
}

func (s *suite) apply(t *testing.T, ctx context.Context, op sdk.Op) sdk.OpResult {
	t.Helper()
	return s.applyAll(t, ctx, []sdk.Op{op})[0]
}

func (s *suite) applyAll(t *testing.T, ctx context.Context, ops []sdk.Op) []sdk.OpResult {
	t.Helper()
	res, err := s.target.Apply(ctx, s.scope, s.entity, ops)
	if err != nil {
		t.Fatalf("Apply(%s, %s, %d ops): %v", s.scope, s.entity, len(ops), err)
	}
	if len(res) != len(ops) {
		t.Fatalf("Apply returned %d results for %d ops", len(res), len(ops))
	}
	return res
}

func (s *suite) mustApply(t *testing.T, ctx context.Context, op sdk.Op) sdk.OpResult {
	t.Helper()
	res := s.apply(t, ctx, op)
	if res.Err != nil {
		t.Fatalf("%s %s %q: %v", op.Kind, s.entity, op.ID, res.Err)
	}
	return res
}

// fetch returns one result per id, in the order asked, and checks every
// record it gets: its entity, id and version, and its fields against the
// canonical schema.
func (s *suite) fetch(t *testing.T, ctx context.Context, ids ...string) []sdk.FetchResult {
	t.Helper()
	res, err := s.target.Fetch(ctx, s.scope, s.entity, ids)
	if err != nil {
		t.Fatalf("Fetch(%s, %s, %v): %v", s.scope, s.entity, ids, err)
	}
	byID := map[string]sdk.FetchResult{}
	for _, r := range res {
		byID[r.ID] = r
	}
	out := make([]sdk.FetchResult, len(ids))
	for i, id := range ids {
		r, ok := byID[id]
		if !ok {
			t.Fatalf("Fetch returned no result for id %q", id)
		}
		if r.Err == nil && r.Record == nil {
			t.Fatalf("Fetch result for %q has neither a record nor an error", id)
		}
		if rec := r.Record; r.Err == nil {
			if rec.Entity != s.entity || rec.ID != id || rec.Version == "" {
				t.Errorf("Fetch %q: record says entity %q, id %q, version %q", id, rec.Entity, rec.ID, rec.Version)
			}
			if ds := sdk.Validate(s.entity, rec.Fields); ds.HasErrors() {
				t.Errorf("Fetch %q: the record does not fit the canonical schema:\n%v", id, ds.Err())
			}
		}
		out[i] = r
	}
	return out
}

func (s *suite) fetchOne(t *testing.T, ctx context.Context, id string) *sdk.Record {
	t.Helper()
	r := s.fetch(t, ctx, id)[0]
	if r.Err != nil {
		t.Fatalf("Fetch %s: %v", id, r.Err)
	}
	return r.Record
}

func (s *suite) wantNotFound(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	if r := s.fetch(t, ctx, id)[0]; r.Err == nil || r.Err.Kind != sdk.ErrNotFound {
		t.Errorf("Fetch of deleted item %s: got error %v, want ErrNotFound", id, r.Err)
	}
}

// drain walks the feed from cursor until NextPageToken is empty, and returns
// this entity's records and the last cursor a page set.
func (s *suite) drain(t *testing.T, ctx context.Context, cursor sdk.Cursor) ([]sdk.ChangeRecord, sdk.Cursor) {
	t.Helper()
	req := sdk.SyncDataRequest{Feed: s.feed, Cursor: cursor, Max: pageMax}
	var recs []sdk.ChangeRecord
	for pages := 1; pages <= maxPages; pages++ {
		page, err := s.target.GetSyncData(ctx, req)
		if err != nil {
			t.Fatalf("GetSyncData(%s, page %d): %v", s.feed, pages, err)
		}
		if len(page.Records) > pageMax {
			t.Errorf("GetSyncData returned %d records, asked for at most %d", len(page.Records), pageMax)
		}
		for _, r := range page.Records {
			if r.ID == "" || (r.Kind != sdk.ChangeUpsert && r.Kind != sdk.ChangeDelete && r.Kind != sdk.ChangeScopeExit) {
				t.Errorf("GetSyncData returned a malformed record: %+v", r)
			}
			if r.Entity == s.entity {
				recs = append(recs, r)
			}
		}
		if len(page.NextPageToken) == 0 {
			if len(page.Cursor) == 0 {
				t.Fatalf("the last page of a round (page %d) sets no cursor", pages)
			}
			return recs, page.Cursor
		}
		req.PageToken = page.NextPageToken
	}
	t.Fatalf("GetSyncData(%s) still has a next page after %d pages", s.feed, maxPages)
	return nil, nil
}

// current returns a cursor at the end of the feed, acknowledged.
func (s *suite) current(t *testing.T, ctx context.Context) sdk.Cursor {
	t.Helper()
	_, cursor := s.drain(t, ctx, nil)
	s.postSync(t, ctx, cursor)
	return cursor
}

func (s *suite) postSync(t *testing.T, ctx context.Context, cursor sdk.Cursor) {
	t.Helper()
	if err := s.target.PostSync(ctx, s.feed, cursor); err != nil {
		t.Fatalf("PostSync(%s): %v", s.feed, err)
	}
}

func (s *suite) prepare(t *testing.T, ctx context.Context, cursor sdk.Cursor) sdk.Pending {
	t.Helper()
	p, err := s.target.PrepareSync(ctx, s.feed, cursor)
	if err != nil {
		t.Fatalf("PrepareSync(%s): %v", s.feed, err)
	}
	return p
}

// countKey enumerates the feed from the start and counts the items that
// exist at the end of it and carry key, fetching the ones whose change
// record does not say.
func (s *suite) countKey(t *testing.T, ctx context.Context, key string) int {
	t.Helper()
	recs, _ := s.drain(t, ctx, nil)
	last := map[string]sdk.ChangeRecord{}
	for _, r := range recs {
		last[r.ID] = r
	}
	n := 0
	var unknown []string
	for id, r := range last {
		switch {
		case r.Kind != sdk.ChangeUpsert:
		case r.CorrelationKey == key:
			n++
		case r.CorrelationKey == "":
			unknown = append(unknown, id)
		}
	}
	for len(unknown) > 0 {
		batch := unknown[:min(len(unknown), 50)]
		unknown = unknown[len(batch):]
		for _, fr := range s.fetch(t, ctx, batch...) {
			if fr.Record != nil && fr.Record.CorrelationKey == key {
				n++
			}
		}
	}
	return n
}

// checkFields checks that every field sent came back equal; the connector
// may add fields that it computes.
func checkFields(t *testing.T, what string, sent, got sdk.Fields) {
	t.Helper()
	for name, v := range sent {
		if !v.Equal(got[name]) {
			t.Errorf("%s: field %s was written as %v but reads back as %v", what, name, v, got[name])
		}
	}
}

func wantRecord(t *testing.T, what string, recs []sdk.ChangeRecord, id string, kind sdk.ChangeKind) {
	t.Helper()
	for _, r := range recs {
		if r.ID == id && r.Kind == kind {
			return
		}
	}
	t.Errorf("%s: no %s record for item %s among %d records of the feed", what, kind, id, len(recs))
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func hasRecord(recs []sdk.ChangeRecord, id string) bool {
	for _, r := range recs {
		if r.ID == id {
			return true
		}
	}
	return false
}

// describer returns how the target reports its embedded manifest, or nil.
func describer(target Target) func(context.Context) ([]byte, error) {
	switch d := target.(type) {
	case Describer:
		return d.DescribeManifest
	case interface {
		Describe(context.Context) (protocol.Description, error)
	}:
		return func(ctx context.Context) ([]byte, error) {
			desc, err := d.Describe(ctx)
			return desc.Manifest, err
		}
	case interface{ Manifest() []byte }:
		return func(context.Context) ([]byte, error) { return d.Manifest(), nil }
	}
	return nil
}

func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl || i >= len(g) || i >= len(w) {
			return fmt.Sprintf("line %d: embedded %q, file %q", i+1, gl, wl)
		}
	}
	return "they differ only in line endings"
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

func newKey() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "sdktest-" + hex.EncodeToString(b)
}
