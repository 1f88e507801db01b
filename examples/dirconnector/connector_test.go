package dirconnector_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

func TestManifests(t *testing.T) {
	for _, name := range []string{"dir-mailbox", "dir-crm"} {
		m, diags := manifest.Parse(name, readManifest(t, name))
		if diags.HasErrors() {
			t.Fatalf("%s: %s", name, diags.Error())
		}
		if fmt.Sprint(m.EntityNames()) != "[contact appointment task service_appointment]" {
			t.Errorf("%s entities: %v", name, m.EntityNames())
		}
		if a := m.ConfigAttr("dir"); a == nil || !a.Required {
			t.Errorf("%s: want a required config attribute dir", name)
		}
	}
	mb, _ := manifest.Parse("dir-mailbox", readManifest(t, "dir-mailbox"))
	if r := mb.Entity("contact").OpRule("delete"); r == nil || r.Allowed != manifest.Bidirectional || r.Default != manifest.CRMToMailbox {
		t.Errorf("dir-mailbox contact delete rule: %+v", r)
	}
	if r := mb.Entity("service_appointment").Direction; r.Allowed != manifest.Bidirectional {
		t.Errorf("dir-mailbox service_appointment: %+v", r)
	}
	crm, _ := manifest.Parse("dir-crm", readManifest(t, "dir-crm"))
	if r := crm.Entity("service_appointment").Direction; r.Allowed != manifest.CRMToMailbox || r.Default != manifest.CRMToMailbox {
		t.Errorf("dir-crm service_appointment: %+v", r)
	}
	if r := crm.Entity("appointment").FieldRule("body"); r == nil || r.Allowed != manifest.Bidirectional || r.Default != manifest.CRMToMailbox {
		t.Errorf("dir-crm appointment body rule: %+v", r)
	}
}

func TestConfigure(t *testing.T) {
	src := readManifest(t, "dir-mailbox")
	dir := filepath.Join(t.TempDir(), "new", "folder")
	configure(t, src, dir)
	for _, name := range []string{"items", "journal.jsonl", "generation"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("Configure did not create %s: %v", name, err)
		}
	}

	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o644)
	c := dirconnector.New(src)
	for _, cfg := range []sdk.Fields{{"dir": sdk.String(filepath.Join(file, "sub"))}, {}} {
		ds := c.Configure(t.Context(), sdk.Env{}, cfg)
		if !ds.HasErrors() || len(ds[0].Path) != 1 || ds[0].Path[0] != "dir" {
			t.Errorf("Configure(%v): %v, want an error about dir", cfg, ds)
		}
	}
	if _, err := c.Fetch(t.Context(), "a@example.com", "task", []string{"x"}); !sdk.IsKind(err, sdk.ErrConfig) {
		t.Errorf("Fetch before a successful Configure: %v, want ErrConfig", err)
	}
}

func TestCheck(t *testing.T) {
	c := configure(t, readManifest(t, "dir-crm"), t.TempDir())
	res, err := c.Check(t.Context(), []string{"Alice@Example.com"})
	if err != nil || res.Diagnostics.HasErrors() || len(res.Scopes) != 1 {
		t.Fatalf("Check: %+v, %v", res, err)
	}
	if got := fmt.Sprint(res.Scopes[0].RoutingKeys); got != "[user:alice@example.com]" {
		t.Errorf("routing keys of Alice@Example.com: %s", got)
	}
	// A scope that cannot name a folder cannot be written to either.
	res2, err := c.Apply(t.Context(), "../evil", "task", []sdk.Op{{Kind: sdk.OpCreate}})
	if err != nil || res2[0].Err == nil || res2[0].Err.Kind != sdk.ErrPermanent {
		t.Errorf("create in scope ../evil: %+v, %v; want ErrPermanent", res2, err)
	}
}

// TestRoutingKeysOnEndpointFeeds: CRM records say which bindings they
// concern; a mailbox feed belongs to one binding and needs none.
func TestRoutingKeysOnEndpointFeeds(t *testing.T) {
	ctx := t.Context()
	appt := sdk.Fields{"subject": sdk.String("review"), "attendees": sdk.List(sdk.Map(map[string]sdk.Value{
		"address": sdk.String("bob@example.com"), "role": sdk.String("required")}))}
	for _, tc := range []struct {
		name string
		feed sdk.Feed
		want string
	}{
		{"dir-crm", sdk.Feed{Name: "appointment"}, "[user:alice@example.com user:bob@example.com]"},
		{"dir-mailbox", sdk.Feed{Name: "appointment", Scope: "alice@example.com"}, "[]"},
	} {
		c := configure(t, readManifest(t, tc.name), t.TempDir())
		mustApply(t, c, "alice@example.com", "appointment", sdk.Op{Kind: sdk.OpCreate, CorrelationKey: "k", Fields: appt})
		for _, cursor := range []sdk.Cursor{nil, journalStart(t, c, tc.feed)} { // enumerated, then journaled
			page, err := c.GetSyncData(ctx, sdk.SyncDataRequest{Feed: tc.feed, Cursor: cursor})
			if err != nil || len(page.Records) != 1 {
				t.Fatalf("%s: GetSyncData: %+v, %v", tc.name, page, err)
			}
			if got := fmt.Sprint(page.Records[0].RoutingKeys); got != tc.want {
				t.Errorf("%s (cursor %q): routing keys %s, want %s", tc.name, cursor, got, tc.want)
			}
		}
	}
}

// journalStart is a cursor at the start of the journal: the same generation
// as the connector's cursors, offset 0.
func journalStart(t *testing.T, c *dirconnector.Connector, feed sdk.Feed) sdk.Cursor {
	t.Helper()
	page, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: feed})
	if err != nil {
		t.Fatal(err)
	}
	gen, _, _ := strings.Cut(string(page.Cursor), ":")
	return sdk.Cursor(gen + ":0")
}

func TestPagingAndCounts(t *testing.T) {
	ctx := t.Context()
	c := configure(t, readManifest(t, "dir-mailbox"), t.TempDir())
	feed := sdk.Feed{Name: "task", Scope: "alice@example.com"}
	for i := 0; i < 7; i++ {
		mustApply(t, c, "alice@example.com", "task", sdk.Op{Kind: sdk.OpCreate, Fields: sdk.Fields{"subject": sdk.String(fmt.Sprint(i))}})
	}
	mustApply(t, c, "bob@example.com", "task", sdk.Op{Kind: sdk.OpCreate}) // another mailbox's feed

	if p, err := c.PrepareSync(ctx, feed, nil); err != nil || p.Kind != sdk.PendingCount || p.Count != 7 {
		t.Errorf("PrepareSync from the start: %+v, %v; want a count of 7", p, err)
	}
	var cursors []sdk.Cursor
	var sizes []int
	req := sdk.SyncDataRequest{Feed: feed, Max: 3}
	for {
		page, err := c.GetSyncData(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Cursor) == 0 {
			t.Fatalf("page %d sets no cursor", len(sizes)+1)
		}
		sizes, cursors = append(sizes, len(page.Records)), append(cursors, page.Cursor)
		if len(page.NextPageToken) == 0 {
			break
		}
		req.PageToken = page.NextPageToken
	}
	if fmt.Sprint(sizes) != "[3 3 1]" {
		t.Errorf("page sizes %v, want [3 3 1]", sizes)
	}
	// A cursor from the middle of the enumeration resumes exactly there.
	if p, _ := c.PrepareSync(ctx, feed, cursors[0]); p.Count != 4 {
		t.Errorf("PrepareSync after the first page: %d, want 4", p.Count)
	}
	last := cursors[len(cursors)-1]
	if p, _ := c.PrepareSync(ctx, feed, last); !p.Nothing() {
		t.Errorf("PrepareSync at the end: %+v, want nothing", p)
	}
	mustApply(t, c, "alice@example.com", "task", sdk.Op{Kind: sdk.OpCreate})
	mustApply(t, c, "alice@example.com", "contact", sdk.Op{Kind: sdk.OpCreate}) // another entity's feed
	if p, _ := c.PrepareSync(ctx, feed, last); p.Count != 1 {
		t.Errorf("PrepareSync after one more task: %d, want 1", p.Count)
	}
}

func TestCursorErrors(t *testing.T) {
	ctx := t.Context()
	c := configure(t, readManifest(t, "dir-mailbox"), t.TempDir())
	feed := sdk.Feed{Name: "task", Scope: "alice@example.com"}
	page, err := c.GetSyncData(ctx, sdk.SyncDataRequest{Feed: feed})
	if err != nil {
		t.Fatal(err)
	}
	for _, cursor := range []string{"garbage", "0123456789abcdef:999", string(page.Cursor) + "9", "\xff\x00"} {
		if _, err := c.GetSyncData(ctx, sdk.SyncDataRequest{Feed: feed, Cursor: sdk.Cursor(cursor)}); !sdk.IsKind(err, sdk.ErrResyncRequired) {
			t.Errorf("GetSyncData(%q): %v, want ErrResyncRequired", cursor, err)
		}
		if err := c.PostSync(ctx, feed, sdk.Cursor(cursor)); !sdk.IsKind(err, sdk.ErrResyncRequired) {
			t.Errorf("PostSync(%q): %v, want ErrResyncRequired", cursor, err)
		}
	}
	for _, bad := range []sdk.Feed{{Name: "task"}, {Name: "email", Scope: "a@example.com"}} {
		if _, err := c.GetSyncData(ctx, sdk.SyncDataRequest{Feed: bad}); !sdk.IsKind(err, sdk.ErrPermanent) {
			t.Errorf("GetSyncData(feed %s): %v, want ErrPermanent", bad, err)
		}
	}
}

func TestApplyRejectsInvalidFields(t *testing.T) {
	c := configure(t, readManifest(t, "dir-crm"), t.TempDir())
	res, err := c.Apply(t.Context(), "alice@example.com", "task", []sdk.Op{
		{Kind: sdk.OpCreate, Fields: sdk.Fields{"colour": sdk.String("red")}},
		{Kind: sdk.OpCreate, Fields: sdk.Fields{"status": sdk.String("sleeping")}},
		{Kind: sdk.OpCreate, Fields: sdk.Fields{"subject": sdk.String("fine")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res[:2] {
		if r.Err == nil || r.Err.Kind != sdk.ErrPermanent {
			t.Errorf("op %d: %+v, want ErrPermanent", i, r)
		}
	}
	if res[2].Err != nil {
		t.Errorf("a valid op beside invalid ones: %v", res[2].Err)
	}
}

// TestCRMFetchesAcrossOwners: a CRM binding sees records that other users
// own (as an attendee); a mailbox sees only its own items.
func TestCRMFetchesAcrossOwners(t *testing.T) {
	for _, tc := range []struct {
		name  string
		found bool
	}{{"dir-crm", true}, {"dir-mailbox", false}} {
		c := configure(t, readManifest(t, tc.name), t.TempDir())
		r := mustApply(t, c, "alice@example.com", "task", sdk.Op{Kind: sdk.OpCreate})
		res, err := c.Fetch(t.Context(), "bob@example.com", "task", []string{r.ID})
		if err != nil {
			t.Fatal(err)
		}
		if found := res[0].Err == nil; found != tc.found {
			t.Errorf("%s: bob fetching alice's task: found %v, want %v (%v)", tc.name, found, tc.found, res[0].Err)
		}
	}
}

func mustApply(t *testing.T, c *dirconnector.Connector, scope, entity string, op sdk.Op) sdk.OpResult {
	t.Helper()
	res, err := c.Apply(context.Background(), scope, entity, []sdk.Op{op})
	if err != nil || res[0].Err != nil {
		t.Fatalf("Apply %s %s: %v %v", op.Kind, entity, err, res[0].Err)
	}
	return res[0]
}
