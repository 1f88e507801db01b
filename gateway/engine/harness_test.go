package engine

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
	"github.com/syncgate/syncgate/sdk/protocol"
)

// world is a gateway between a dir-mailbox and a dir-crm endpoint, each an
// in-process connector served over the real gRPC protocol, with a real
// Badger store on disk. Bindings: alice and bob.
type world struct {
	t    testing.TB
	dir  string
	mail *dirconnector.Store
	crm  *dirconnector.Store
	db   *store.DB
	cfg  *config.Config
	conn map[string]Conn
	eng  *Engine
}

const alice, bob = "alice@example.com", "bob@example.com"

func newWorld(t testing.TB, policies string) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), conn: map[string]Conn{}}
	cfgPath := filepath.Join(w.dir, "syncgate.hcl")
	src := fmt.Sprintf(`
endpoint "dir-mailbox" "mail" {
  dir = "mail"
}
endpoint "dir-crm" "crm" {
  dir = "crm"
}
binding "alice" {
  mailbox  = %q
  crm_user = %q
}
binding "bob" {
  mailbox  = %q
  crm_user = %q
}
%s
`, alice, alice, bob, bob, policies)
	if err := os.WriteFile(cfgPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Parse(cfgPath)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	manifests := map[string]*manifest.Manifest{}
	sources := map[string][]byte{}
	for name, pkg := range testplugins.Connectors {
		src, err := os.ReadFile(filepath.Join(testplugins.ModuleRoot(), pkg, manifest.FileName))
		if err != nil {
			t.Fatal(err)
		}
		m, diags := manifest.Parse(name, src)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		manifests[name], sources[name] = m, src
	}
	if diags := cfg.Resolve(manifests); diags.HasErrors() {
		t.Fatal(diags)
	}
	w.cfg = cfg
	for _, ep := range cfg.Endpoints {
		w.conn[ep.Name] = serve(t, dirconnector.New(sources[ep.Connector]), ep.Name, ep.Settings)
	}
	var err error
	if w.mail, err = dirconnector.Open(filepath.Join(w.dir, "mail")); err != nil {
		t.Fatal(err)
	}
	if w.crm, err = dirconnector.Open(filepath.Join(w.dir, "crm")); err != nil {
		t.Fatal(err)
	}
	w.openDB()
	w.newEngine(nil)
	return w
}

func (w *world) openDB() {
	db, err := store.Open(store.Options{Dir: filepath.Join(w.dir, "data"), GCInterval: -1})
	if err != nil {
		w.t.Fatal(err)
	}
	w.db = db
	w.t.Cleanup(func() { db.Close() })
}

func (w *world) newEngine(hooks Hooks) {
	w.t.Helper()
	eng, err := New(context.Background(), Options{Config: w.cfg, Conns: w.conn, DB: w.db, Hooks: hooks, PageSize: 50,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testLog{w.t}})})
	if err != nil {
		w.t.Fatal(err)
	}
	w.eng = eng
}

type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// serve runs a connector behind the real gRPC server on an in-memory
// connection and configures it, as the host does with a plugin process.
func serve(t testing.TB, impl sdk.Connector, endpoint string, settings sdk.Fields) *protocol.Client {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer()
	if err := (&protocol.ConnectorPlugin{Impl: impl}).GRPCServer(nil, s); err != nil {
		t.Fatal(err)
	}
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return lis.Dial() }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := protocol.NewClient(conn)
	diags, err := c.Configure(context.Background(), endpoint, settings, nil)
	if err != nil || diags.HasErrors() {
		t.Fatalf("configure %s: %v %v", endpoint, err, diags)
	}
	return c
}

func (w *world) sync() {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.eng.SyncOnce(ctx); err != nil {
		w.t.Fatalf("sync: %v", err)
	}
}

// items lists one scope's items of an entity on a side, sorted by a field.
func (w *world) items(s *dirconnector.Store, scope, entity string) []dirconnector.Item {
	w.t.Helper()
	items, err := s.List(scope, entity)
	if err != nil {
		w.t.Fatal(err)
	}
	sort.Slice(items, func(i, j int) bool {
		return items[i].Fields["surname"].Str()+items[i].Fields["subject"].Str() < items[j].Fields["surname"].Str()+items[j].Fields["subject"].Str()
	})
	return items
}

func (w *world) one(s *dirconnector.Store, scope, entity string) dirconnector.Item {
	w.t.Helper()
	items := w.items(s, scope, entity)
	if len(items) != 1 {
		w.t.Fatalf("%s has %d %s items in scope %q, want 1: %+v", s.Dir(), len(items), entity, scope, items)
	}
	return items[0]
}

func (w *world) create(s *dirconnector.Store, scope, entity string, f sdk.Fields) dirconnector.Item {
	w.t.Helper()
	it, err := s.Create(scope, entity, "", f)
	if err != nil {
		w.t.Fatal(err)
	}
	return it
}

func (w *world) update(s *dirconnector.Store, scope, entity string, it dirconnector.Item, f sdk.Fields) dirconnector.Item {
	w.t.Helper()
	cur, err := s.Get(scope, entity, it.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := s.Update(scope, entity, it.ID, cur.Version, overlay(cur.Fields, f))
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func (w *world) counters(binding, entity string) Counters {
	return w.eng.Stats().Snapshot()[binding][entity]
}

func contact(given, surname string) sdk.Fields {
	return sdk.Fields{"given_name": sdk.String(given), "surname": sdk.String(surname),
		"emails": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String(strings.ToLower(given) + "@customer.example")}))}
}

const twoWayContacts = `
policy "contact" {
  direction = "bidirectional"
  tracking {
    mode = "all"
  }
}
`

// close releases the world's database before the test ends (the model test
// makes many worlds in one test).
func (w *world) close() { w.db.Close() }

func (w *world) bindingState(binding string) (st store.BindingState) {
	w.t.Helper()
	if err := w.db.View(func(tx *store.Tx) (err error) { st, err = tx.BindingState(binding); return err }); err != nil {
		w.t.Fatal(err)
	}
	return st
}
