package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/internal/testplugins"
)

// addrs are the listen addresses a test config uses instead of the quick
// start's fixed ports.
type addrs struct{ graph, crm, admin string }

func freeAddrs(t *testing.T) addrs {
	return addrs{testplugins.FreeAddr(t), testplugins.FreeAddr(t), testplugins.FreeAddr(t)}
}

// testConfig writes the quick start's own syncgate.hcl into a temp folder
// with the ports and paths of the test, by replacing the template's
// strings (each must be there: a change of the template fails here, not
// in silence). edits are further old/new pairs.
func testConfig(t *testing.T, a addrs, edits ...string) (path, dataDir string) {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join(testplugins.ModuleRoot(), "examples", "quickstart", "syncgate.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	pluginDir, lockFile := testplugins.Build(t, "exchange", "crm")
	dir := t.TempDir()
	dataDir = filepath.Join(dir, "data", "gateway")
	cfg := string(tmpl)
	pairs := append([]string{
		`"../../bin/data/quickstart/gateway"`, `"` + dataDir + `"`,
		`"../../bin/plugins"`, `"` + pluginDir + `"`,
		`"../../bin/connectors.lock.hcl"`, `"` + lockFile + `"`,
		"127.0.0.1:9101", a.graph,
		"127.0.0.1:9102", a.crm,
		"127.0.0.1:9700", a.admin,
	}, edits...)
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(cfg, pairs[i]) {
			t.Fatalf("the quick-start config has no %s to replace", pairs[i])
		}
		cfg = strings.ReplaceAll(cfg, pairs[i], pairs[i+1])
	}
	path = filepath.Join(dir, "syncgate.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, dataDir
}
