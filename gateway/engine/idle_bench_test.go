package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// idleConnector has nothing to say, ever: the cheapest honest answer to
// every feed, so that what a benchmark measures is the gateway's own cost.
type idleConnector struct{ manifest []byte }

func (c *idleConnector) Manifest() []byte { return c.manifest }
func (c *idleConnector) Configure(context.Context, sdk.Env, sdk.Fields) sdk.Diagnostics {
	return nil
}
func (c *idleConnector) Check(_ context.Context, scopes []string) (sdk.CheckResult, error) {
	res := sdk.CheckResult{}
	for _, s := range scopes {
		res.Scopes = append(res.Scopes, sdk.ScopeInfo{Scope: s, RoutingKeys: []string{"user:" + s}})
	}
	return res, nil
}
func (c *idleConnector) PrepareSync(_ context.Context, _ sdk.Feed, cursor sdk.Cursor) (sdk.Pending, error) {
	return sdk.Pending{Kind: sdk.PendingCount}, nil
}
func (c *idleConnector) GetSyncData(context.Context, sdk.SyncDataRequest) (sdk.SyncDataPage, error) {
	return sdk.SyncDataPage{Cursor: sdk.Cursor("0")}, nil
}
func (c *idleConnector) PostSync(context.Context, sdk.Feed, sdk.Cursor) error { return nil }
func (c *idleConnector) Fetch(context.Context, string, string, []string) ([]sdk.FetchResult, error) {
	return nil, nil
}
func (c *idleConnector) Apply(context.Context, string, string, []sdk.Op) ([]sdk.OpResult, error) {
	return nil, nil
}

// BenchmarkIdleBindings loads 10,000 bindings (a bindings_file) between two
// idle connectors served over the real protocol, and measures one idle poll
// of every feed: what 10,000 quiet mailboxes cost the gateway. It reports
// the cost per feed, the share of one core that polling takes at the
// default 60 s interval, and the engine's heap and goroutines.
func BenchmarkIdleBindings(b *testing.B) {
	const n = 10000
	dir := b.TempDir()
	var csv strings.Builder
	csv.WriteString("name,mailbox,crm_user\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&csv, "b%05d,user%05d@example.com,user%05d@example.com\n", i, i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "bindings.csv"), []byte(csv.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "syncgate.hcl")
	if err := os.WriteFile(cfgPath, []byte(`
gateway {
  bindings_file = "bindings.csv"
}
endpoint "dir-mailbox" "mail" {
  dir = "mail"
}
endpoint "dir-crm" "crm" {
  dir = "crm"
}
`), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, diags := config.Parse(cfgPath)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	manifests, sources := map[string]*manifest.Manifest{}, map[string][]byte{}
	for name, pkg := range testplugins.Connectors {
		src, err := os.ReadFile(filepath.Join(testplugins.ModuleRoot(), pkg, manifest.FileName))
		if err != nil {
			b.Fatal(err)
		}
		m, diags := manifest.Parse(name, src)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		manifests[name], sources[name] = m, src
	}
	if diags := cfg.Resolve(manifests); diags.HasErrors() {
		b.Fatal(diags)
	}
	conns := map[string]Conn{}
	for _, ep := range cfg.Endpoints {
		conns[ep.Name] = serve(b, &idleConnector{manifest: sources[ep.Connector]}, ep.Name, ep.Settings)
	}
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "data"), GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	t0 := time.Now()
	eng, err := New(context.Background(), Options{Config: cfg, Conns: conns, DB: db})
	if err != nil {
		b.Fatal(err)
	}
	t1 := time.Now()
	// The first round stores a cursor for every feed; from then on all is idle.
	if err := eng.SyncOnce(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Logf("start with %d bindings: %v; first round: %v", n, t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	runtime.GC()
	runtime.ReadMemStats(&after)
	feeds := len(eng.feeds)

	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for _, f := range eng.feeds {
			if _, err := eng.collect(context.Background(), f); err != nil {
				b.Fatal(err)
			}
		}
	}
	perFeed := time.Since(start) / time.Duration(b.N*feeds)
	b.StopTimer()
	b.ReportMetric(float64(feeds), "feeds")
	b.ReportMetric(float64(perFeed.Microseconds()), "µs/idle-poll")
	// One poll of every feed per 60 s, on one core.
	b.ReportMetric(100*float64(perFeed)*float64(feeds)/float64(60*time.Second), "%core@60s")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heap-B/binding")
	b.ReportMetric(float64(runtime.NumGoroutine()-goroutines), "goroutines")
}
