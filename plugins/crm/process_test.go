package crm_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/plugins/crm/dataverseemu"
	"github.com/syncgate/syncgate/sdk/sdktest"
)

// TestConformanceAsPlugin runs the conformance suite against the built
// connector as a real plugin process, launched by the gateway's host
// (checksum-pinned, Describe checked against the manifest file, every call
// over gRPC), talking to the emulator.
func TestConformanceAsPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	pluginDir, lockPath := testplugins.Build(t, "crm")
	lf, diags := host.ReadLockFile(lockPath)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plugins, diags := host.Discover(pluginDir)
	if diags.HasErrors() || len(plugins) != 1 {
		t.Fatal(diags, len(plugins))
	}
	p := plugins[0]
	if err := lf.Verify(p); err != nil {
		t.Fatal(err)
	}
	o := newOrg(t, dataverseemu.Options{})
	sup := host.NewSupervisor(host.SupervisorConfig{
		Launch: host.LaunchConfig{Plugin: p, Endpoint: "crm", Lock: lf.Connectors[p.Name], LockFile: lockPath,
			Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr})},
		Settings:    orgConfig(o.srv.URL),
		KV:          host.NewMemKV(),
		CallTimeout: 20 * time.Second,
	})
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sup.Stop)
	src, err := os.ReadFile(filepath.Join(p.Dir, "connector.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	sdktest.Run(t, sup, &backend{t: t, org: o, manifest: src, user: o.emu.UserID(alice)})
}
