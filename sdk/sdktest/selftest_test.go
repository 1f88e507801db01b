package sdktest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/sdktest"
)

// TestSuitePassesReferenceConnector runs the suite against a small in-memory
// connector that does everything right, with a per-scope feed and with an
// endpoint feed.
func TestSuitePassesReferenceConnector(t *testing.T) {
	for _, endpoint := range []bool{false, true} {
		t.Run(fmt.Sprintf("endpoint_feed=%v", endpoint), func(t *testing.T) {
			m := newMemory("", endpoint)
			sdktest.Run(t, m, m)
		})
	}
}

// TestSuiteCatchesBugs runs the suite against connectors with one bug each,
// in a child process (a failing suite fails its test), and checks that the
// subtest that names the bug fails.
func TestSuiteCatchesBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	for bug, subtest := range map[string]string{
		"ignore_if_match":   "contact/stale_if_match",
		"ignore_may_exist":  "contact/create_retry_may_exist",
		"accept_garbage":    "contact/garbage_cursor",
		"never_expire":      "contact/expired_cursor",
		"drop_field":        "contact/create_update_delete",
		"replay":            "contact/cursor_resumes_after_post_sync",
		"no_routing":        "contact/routing_keys",
		"invalid_fetch":     "contact/fetch_returns_written",
		"found_missing":     "contact/fetch_missing",
		"lose_journal":      "contact/out_of_band_changes",
		"wrong_manifest":    "describe_matches_manifest",
		"replace_on_update": "contact/update_is_a_patch",
	} {
		t.Run(bug, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenConnector$", "-test.v")
			cmd.Env = append(os.Environ(), "SDKTEST_BUG="+bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a connector with bug %s:\n%s", bug, out)
			}
			if want := "--- FAIL: TestBrokenConnector/" + subtest + " "; !strings.Contains(string(out), want) {
				t.Errorf("bug %s: subtest %s did not fail:\n%s", bug, subtest, out)
			}
		})
	}
}

// TestBrokenConnector is TestSuiteCatchesBugs' child: it runs only when
// SDKTEST_BUG names a bug.
func TestBrokenConnector(t *testing.T) {
	bug := os.Getenv("SDKTEST_BUG")
	if bug == "" {
		t.Skip("run by TestSuiteCatchesBugs")
	}
	m := newMemory(bug, true)
	sdktest.Run(t, m, m)
}

// memory is a connector and its backend in one: items in a map, a change
// journal in a slice. Cursors are "generation:index"; a page token adds how
// many records of the round were already returned.
type memory struct {
	bug      string
	endpoint bool

	mu      sync.Mutex
	gen     int
	items   map[string]*memItem // by id
	journal []sdk.ChangeRecord
	nextID  int
}

type memItem struct {
	entity, owner, key string
	version            int
	fields             sdk.Fields
}

var memManifest = []byte("name = \"memory\"\n")

func newMemory(bug string, endpoint bool) *memory {
	return &memory{bug: bug, endpoint: endpoint, gen: 1, items: map[string]*memItem{}}
}

// The Backend side.

func (m *memory) Manifest() []byte   { return memManifest }
func (m *memory) Scope() string      { return "alice@example.com" }
func (m *memory) Entities() []string { return []string{"contact", "appointment"} }
func (m *memory) FeedFor(entity string) sdk.Feed {
	if m.endpoint {
		return sdk.Feed{Name: entity}
	}
	return sdk.Feed{Name: entity, Scope: m.Scope()}
}
func (m *memory) Sample(entity string, i int) sdk.Fields { return sdktest.Sample(entity, i) }
func (m *memory) Change(entity string, f sdk.Fields) sdk.Fields {
	return sdktest.Change(entity, f)
}

func (m *memory) CreateOutOfBand(_ context.Context, entity string, f sdk.Fields) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.create(m.Scope(), entity, "", f), nil
}

func (m *memory) UpdateOutOfBand(_ context.Context, entity, id string, f sdk.Fields) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items[id] == nil {
		return fmt.Errorf("no item %s", id)
	}
	m.update(id, f)
	return nil
}

func (m *memory) DeleteOutOfBand(_ context.Context, entity, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items[id] != nil {
		m.remove(id)
	}
	return nil
}

func (m *memory) ExpireCursors(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bug != "never_expire" {
		m.gen++
		m.journal = nil
	}
	return nil
}

// The Connector side.

func (m *memory) DescribeManifest(context.Context) ([]byte, error) {
	if m.bug == "wrong_manifest" {
		return []byte("name = \"memory\"\r\n"), nil
	}
	return memManifest, nil
}

func (m *memory) Check(_ context.Context, scopes []string) (res sdk.CheckResult, _ error) {
	for _, s := range scopes {
		res.Scopes = append(res.Scopes, sdk.ScopeInfo{Scope: s, RoutingKeys: []string{"user:" + s}})
	}
	return res, nil
}

func (m *memory) PrepareSync(ctx context.Context, feed sdk.Feed, cursor sdk.Cursor) (sdk.Pending, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, _, err := m.round(feed, cursor)
	return sdk.Pending{Kind: sdk.PendingCount, Count: int64(len(recs))}, err
}

func (m *memory) GetSyncData(_ context.Context, req sdk.SyncDataRequest) (sdk.SyncDataPage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cursor, skip := req.Cursor, 0
	if tok := string(req.PageToken); tok != "" {
		c, n, _ := strings.Cut(tok, "+")
		cursor, skip = sdk.Cursor(c), atoi(n)
	}
	recs, end, err := m.round(req.Feed, cursor)
	if err != nil {
		return sdk.SyncDataPage{}, err
	}
	recs = recs[min(skip, len(recs)):]
	if req.Max > 0 && len(recs) > req.Max {
		return sdk.SyncDataPage{Records: recs[:req.Max], NextPageToken: fmt.Appendf(nil, "%s+%d", cursor, skip+req.Max)}, nil
	}
	return sdk.SyncDataPage{Records: recs, Cursor: end}, nil
}

// round returns every record of a feed after cursor and the cursor after
// them: for an empty cursor, every item as an upsert.
func (m *memory) round(feed sdk.Feed, cursor sdk.Cursor) ([]sdk.ChangeRecord, sdk.Cursor, error) {
	end := sdk.Cursor(fmt.Sprintf("%d:%d", m.gen, len(m.journal)))
	from, ok := m.parse(cursor)
	if !ok {
		if m.bug != "accept_garbage" {
			return nil, nil, sdk.NewError(sdk.ErrResyncRequired, "cursor %q is not valid", cursor)
		}
		cursor = nil
	}
	if m.bug == "replay" {
		cursor, from = nil, 0
	}
	var recs []sdk.ChangeRecord
	if len(cursor) == 0 {
		ids := make([]string, 0, len(m.items))
		for id := range m.items {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			it := m.items[id]
			recs = append(recs, sdk.ChangeRecord{Entity: it.entity, ID: id, Kind: sdk.ChangeUpsert,
				Version: strconv.Itoa(it.version), CorrelationKey: it.key, RoutingKeys: []string{"user:" + it.owner}})
		}
		from = len(m.journal)
	}
	if m.bug != "lose_journal" {
		recs = append(recs, m.journal[from:]...)
	}
	var out []sdk.ChangeRecord
	for _, r := range recs {
		if r.Entity == feed.Name && (feed.Scope == "" || r.RoutingKeys[0] == "user:"+feed.Scope) {
			if m.bug == "no_routing" || feed.Scope != "" {
				r.RoutingKeys = nil
			}
			out = append(out, r)
		}
	}
	return out, end, nil
}

// parse reads a cursor; an empty one is valid and starts an enumeration.
func (m *memory) parse(cursor sdk.Cursor) (int, bool) {
	if len(cursor) == 0 {
		return 0, true
	}
	gen, off, ok := strings.Cut(string(cursor), ":")
	n, err := strconv.Atoi(off)
	return n, ok && err == nil && gen == strconv.Itoa(m.gen) && n >= 0 && n <= len(m.journal)
}

func (m *memory) PostSync(_ context.Context, _ sdk.Feed, cursor sdk.Cursor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.parse(cursor); !ok {
		return sdk.NewError(sdk.ErrResyncRequired, "cursor %q is not valid", cursor)
	}
	return nil
}

func (m *memory) Fetch(_ context.Context, _, entity string, ids []string) ([]sdk.FetchResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]sdk.FetchResult, len(ids))
	for i, id := range ids {
		it := m.items[id]
		if m.bug == "found_missing" && it == nil {
			it = &memItem{entity: entity, version: 1}
		}
		if it == nil || it.entity != entity {
			out[i] = sdk.FetchResult{ID: id, Err: sdk.NewError(sdk.ErrNotFound, "no %s %s", entity, id)}
			continue
		}
		f := it.fields.Clone()
		switch m.bug {
		case "drop_field":
			delete(f, "company")
		case "invalid_fetch":
			f["no_such_field"] = sdk.String("x")
		}
		out[i] = sdk.FetchResult{ID: id, Record: &sdk.Record{Entity: entity, ID: id, Version: strconv.Itoa(it.version),
			Modified: time.Now(), CorrelationKey: it.key, Fields: f}}
	}
	return out, nil
}

func (m *memory) Apply(_ context.Context, scope, entity string, ops []sdk.Op) ([]sdk.OpResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]sdk.OpResult, len(ops))
	for i, op := range ops {
		it := m.items[op.ID]
		switch {
		case op.Kind == sdk.OpCreate && op.MayExist && m.bug != "ignore_may_exist":
			for id, x := range m.items {
				if x.key == op.CorrelationKey && x.owner == scope && x.entity == entity {
					out[i] = sdk.OpResult{ID: id, Version: strconv.Itoa(x.version)}
				}
			}
			if out[i].ID == "" {
				id := m.create(scope, entity, op.CorrelationKey, op.Fields)
				out[i] = sdk.OpResult{ID: id, Version: "1"}
			}
		case op.Kind == sdk.OpCreate:
			out[i] = sdk.OpResult{ID: m.create(scope, entity, op.CorrelationKey, op.Fields), Version: "1"}
		case it == nil || it.entity != entity:
			out[i] = sdk.OpResult{ID: op.ID, Err: sdk.NewError(sdk.ErrNotFound, "no %s %s", entity, op.ID)}
		case op.IfMatch != strconv.Itoa(it.version) && m.bug != "ignore_if_match":
			out[i] = sdk.OpResult{ID: op.ID, Err: sdk.Conflict(strconv.Itoa(it.version), "version mismatch")}
		case op.Kind == sdk.OpUpdate:
			f := it.fields.Clone() // an update is a patch; a null clears a field
			if m.bug == "replace_on_update" {
				f = sdk.Fields{}
			}
			for k, v := range op.Fields {
				if v.IsNull() {
					delete(f, k)
				} else {
					f[k] = v
				}
			}
			out[i] = sdk.OpResult{ID: op.ID, Version: strconv.Itoa(m.update(op.ID, f))}
		case op.Kind == sdk.OpDelete:
			m.remove(op.ID)
			out[i] = sdk.OpResult{ID: op.ID}
		}
	}
	return out, nil
}

func (m *memory) create(owner, entity, key string, f sdk.Fields) string {
	m.nextID++
	id := fmt.Sprintf("m%04d", m.nextID)
	m.items[id] = &memItem{entity: entity, owner: owner, key: key, version: 1, fields: f.Clone()}
	m.log(id, sdk.ChangeUpsert)
	return id
}

func (m *memory) update(id string, f sdk.Fields) int {
	it := m.items[id]
	it.version++
	it.fields = f.Clone()
	m.log(id, sdk.ChangeUpsert)
	return it.version
}

func (m *memory) remove(id string) {
	m.log(id, sdk.ChangeDelete)
	delete(m.items, id)
}

func (m *memory) log(id string, kind sdk.ChangeKind) {
	it := m.items[id]
	m.journal = append(m.journal, sdk.ChangeRecord{Entity: it.entity, ID: id, Kind: kind, Version: strconv.Itoa(it.version),
		Modified: time.Now().UTC(), CorrelationKey: it.key, RoutingKeys: []string{"user:" + it.owner}})
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
