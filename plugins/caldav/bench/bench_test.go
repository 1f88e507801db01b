package bench_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/plugins/caldav/bench"
)

// TestBenchSmoke runs the vdirsyncer comparison with a few cards: both
// tools copy them, then the changed ones, and the table prints.
func TestBenchSmoke(t *testing.T) {
	for _, bin := range []string{"radicale", "vdirsyncer"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed: install the Debian package %s (.ci/run does)", bin, bin)
			}
			t.Skipf("%s is not installed: apt-get install %s to run this test", bin, bin)
		}
	}
	pluginDir, lockFile := testplugins.Build(t, "caldav", "dir-crm")
	res, err := bench.Run(t.Context(), bench.Options{N: 30, Changed: 0.1, Dir: t.TempDir(),
		Syncgate: testplugins.Syncgate(t), PluginDir: pluginDir, LockFile: lockFile})
	if err != nil {
		t.Fatal(err)
	}
	table := res.Table()
	t.Log("\n" + table)
	if res.Changed != 3 || res.VdirInitial <= 0 || res.SyncgateInitial <= 0 || res.VdirIncremental <= 0 || res.SyncgateIncrem <= 0 {
		t.Errorf("incomplete result: %+v", res)
	}
	for _, want := range []string{"initial copy (30 cards)", "incremental (3 changed)", "syncgate/vdirsyncer"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
}
