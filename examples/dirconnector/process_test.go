package dirconnector_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncgate/syncgate/examples/dirconnector/dirtest"
	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/sdktest"
)

// TestConformanceAsPlugins runs the conformance suite against both builds as
// real plugin processes, launched and supervised by the gateway's host:
// checksum-pinned, handshake, Describe checked against the manifest file,
// Configure over gRPC with mutual TLS, every call through the supervisor.
func TestConformanceAsPlugins(t *testing.T) {
	pluginDir, lockPath := testplugins.Build(t)
	lf, diags := host.ReadLockFile(lockPath)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plugins, diags := host.Discover(pluginDir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, p := range plugins {
		t.Run(p.Name, func(t *testing.T) {
			if err := lf.Verify(p); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			sup := host.NewSupervisor(host.SupervisorConfig{
				Launch: host.LaunchConfig{Plugin: p, Endpoint: p.Name, Lock: lf.Connectors[p.Name], LockFile: lockPath,
					Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr})},
				Settings:    sdk.Fields{"dir": sdk.String(dir)},
				KV:          host.NewMemKV(),
				CallTimeout: 20 * time.Second,
			})
			if err := sup.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(sup.Stop)
			if pid := sup.Status().Pid; pid == 0 || pid == os.Getpid() {
				t.Fatalf("connector is not its own process (pid %d)", pid)
			}
			src, err := os.ReadFile(filepath.Join(p.Dir, "connector.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			backend, err := dirtest.New(dir, src, "alice@example.com")
			if err != nil {
				t.Fatal(err)
			}
			sdktest.Run(t, sup, backend)
		})
	}
}
