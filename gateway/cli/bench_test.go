package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/sdk"
)

// BenchmarkEndToEnd syncs 10,000 contacts (half in the CRM, half in two
// mailboxes) with the real gateway binary and two dirconnector processes,
// from a cold start to quiescence, and reports items per second and the
// gateway's peak resident memory.
func BenchmarkEndToEnd(b *testing.B) {
	const items = 10000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cfg, _, _ := setupConfig(b, `  on_blocked = "report"`)
		os.WriteFile(cfg, append(must(os.ReadFile(cfg)), []byte(`
binding "bob" {
  mailbox  = "bob@example.com"
  crm_user = "bob@example.com"
}
policy "contact" {
  tracking {
    mode = "all"
  }
}
`)...), 0o644)
		dir := filepath.Dir(cfg)
		crm := must(dirconnector.Open(filepath.Join(dir, "crm")))
		mail := must(dirconnector.Open(filepath.Join(dir, "mailboxes")))
		users := []string{"alice@example.com", "bob@example.com"}
		for k := 0; k < items; k++ {
			side := crm
			if k%2 == 1 {
				side = mail
			}
			side.Create(users[k%4/2], "contact", "", sdk.Fields{"surname": sdk.String(fmt.Sprintf("bench-%05d", k)),
				"given_name": sdk.String("Bench"), "job_title": sdk.String("Tester")})
		}
		gate := filepath.Join(b.TempDir(), "syncgate")
		if out, err := exec.Command("go", "build", "-o", gate, "../cmd/syncgate").CombinedOutput(); err != nil {
			b.Fatalf("build: %v\n%s", err, out)
		}
		cmd := exec.Command(gate, "run", "--once", "-config", cfg)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		b.StartTimer()
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("run: %v\n%s", err, out.String())
		}
		took := time.Since(start)
		b.StopTimer()
		if !strings.Contains(out.String(), fmt.Sprintf("%d created", items)) {
			b.Fatalf("not every item was created:\n%s", out.String())
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		b.ReportMetric(float64(items)/took.Seconds(), "items/s")
		b.ReportMetric(float64(rss)/1024, "gateway-peak-MiB")
	}
}
