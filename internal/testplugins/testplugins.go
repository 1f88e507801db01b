// Package testplugins builds the example connectors into a plugin_dir for
// tests that need real plugin processes, once per test binary.
package testplugins

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// Connectors maps each example connector to its main package, relative to
// the module root. Build with no names builds these.
var Connectors = map[string]string{
	"dir-mailbox": "examples/dirconnector/cmd/dir-mailbox",
	"dir-crm":     "examples/dirconnector/cmd/dir-crm",
}

// Known maps every connector this repository builds, the examples and the
// real backends, to its main package. Build compiles one only when a test
// asks for it by name.
var Known = map[string]string{
	"dir-mailbox": Connectors["dir-mailbox"],
	"dir-crm":     Connectors["dir-crm"],
	"exchange":    "plugins/exchange/cmd/exchange",
	"crm":         "plugins/crm/cmd/crm",
	"caldav":      "plugins/caldav/cmd/caldav",
}

var (
	mu       sync.Mutex
	buildDir string
	built    = map[string]error{}
)

// ModuleRoot returns the repository's root folder.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Build compiles the named connectors (the example connectors when no name
// is given), each once per test binary, and returns a fresh plugin_dir (one
// folder per connector: binary and connector.hcl) and its lock file, both
// under t.TempDir.
func Build(t testing.TB, names ...string) (pluginDir, lockFile string) {
	t.Helper()
	if len(names) == 0 {
		for name := range Connectors {
			names = append(names, name)
		}
	}
	pluginDir = filepath.Join(t.TempDir(), "plugins")
	for _, name := range names {
		pkg, ok := Known[name]
		if !ok {
			t.Fatalf("testplugins: no connector named %q", name)
		}
		bin, err := compile(name, pkg)
		if err != nil {
			t.Fatal(err)
		}
		copyFile(t, bin, filepath.Join(pluginDir, name, name), 0o755)
		copyFile(t, filepath.Join(ModuleRoot(), pkg, manifest.FileName), filepath.Join(pluginDir, name, manifest.FileName), 0o644)
	}
	plugins, diags := host.Discover(pluginDir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	lockFile = filepath.Join(filepath.Dir(pluginDir), "connectors.lock.hcl")
	lf, err := host.Lock(lockFile, plugins)
	if err != nil {
		t.Fatal(err)
	}
	if err := lf.Write(); err != nil {
		t.Fatal(err)
	}
	return pluginDir, lockFile
}

// compile builds one connector into the process-wide build folder, once.
func compile(name, pkg string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "syncgate-testplugins")
		if err != nil {
			return "", err
		}
		buildDir = dir
	}
	bin := filepath.Join(buildDir, name)
	err, done := built[name]
	if !done {
		cmd := exec.Command("go", "build", "-o", bin, "./"+pkg)
		cmd.Dir = ModuleRoot()
		if out, cerr := cmd.CombinedOutput(); cerr != nil {
			err = fmt.Errorf("build %s: %v\n%s", name, cerr, out)
		}
		built[name] = err
	}
	return bin, err
}

func copyFile(t testing.TB, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}
