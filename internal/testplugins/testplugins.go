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
// the module root.
var Connectors = map[string]string{
	"dir-mailbox": "examples/dirconnector/cmd/dir-mailbox",
	"dir-crm":     "examples/dirconnector/cmd/dir-crm",
}

var (
	once     sync.Once
	buildDir string
	buildErr error
)

// ModuleRoot returns the repository's root folder.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Build builds every example connector once per process and returns a
// fresh plugin_dir (one folder per connector: binary and connector.hcl) and
// its lock file, both under t.TempDir.
func Build(t testing.TB) (pluginDir, lockFile string) {
	t.Helper()
	once.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "syncgate-testplugins")
		if buildErr != nil {
			return
		}
		for name, pkg := range Connectors {
			cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, name), "./"+pkg)
			cmd.Dir = ModuleRoot()
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	pluginDir = filepath.Join(t.TempDir(), "plugins")
	for name, pkg := range Connectors {
		copyFile(t, filepath.Join(buildDir, name), filepath.Join(pluginDir, name, name), 0o755)
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
