package cli

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/sdk"
)

// TestCrashAtEveryPoint runs the gateway (a test build that can SIGKILL
// itself) with real plugin processes over 2,000 contacts while both sides
// are edited, and kills it at each named point of collect and process, at
// least twice each. After one clean run, both sides hold every item exactly
// once, with the same content, and no plugin process outlived its gateway.
func TestCrashAtEveryPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: several gateway runs over 2,000 items")
	}
	cfg, pluginDir, crm, mail := crashWorld(t, 2000)
	users := []string{"alice@example.com", "bob@example.com"}
	gate := buildCrashgate(t)
	points := map[string]int{ // point → how many times it was hit
		"after_get_sync_data": 0, "after_collect_commit": 0, "after_apply": 0, "mid_batch": 0,
	}
	maxHit := map[string]int{"after_get_sync_data": 3, "after_collect_commit": 3, "after_apply": 150, "mid_batch": 150}
	edits := 0
	for round := 0; round < 40; round++ {
		var todo []string
		for p, n := range points {
			if n < 2 {
				todo = append(todo, p)
			}
		}
		if len(todo) == 0 {
			break
		}
		point := todo[rand.IntN(len(todo))]
		spec := fmt.Sprintf("%s:%d", point, 1+rand.IntN(maxHit[point]))
		cmd := exec.Command(gate, "run", "--once", "-config", cfg)
		cmd.Env = append(os.Environ(), "SYNCGATE_CRASH_AT="+spec)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Users keep working on both sides while the gateway runs.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				side, scope := crm, ""
				if k%2 == 1 {
					side, scope = mail, users[k%4/2]
				}
				if k%10 == 0 {
					side.Create(users[k%4/2], "contact", "", sdk.Fields{"surname": sdk.String(fmt.Sprintf("new-%d-%d", round, k))})
					edits++
					continue
				}
				items, _ := side.List(scope, "contact")
				if len(items) == 0 {
					continue
				}
				it := items[rand.IntN(len(items))]
				f := it.Fields.Clone()
				f["job_title"] = sdk.String(fmt.Sprintf("edit-%d-%d", round, k))
				if _, err := side.Update(scope, "contact", it.ID, it.Version, f); err == nil {
					edits++
				}
			}
		}()
		err := cmd.Wait()
		close(stop)
		wg.Wait()
		if strings.Contains(stderr.String(), "crash point "+point+" hit") {
			points[point]++
			t.Logf("round %d: killed at %s (SYNCGATE_CRASH_AT=%s), hit %d", round, point, spec, points[point])
			if err == nil {
				t.Fatalf("the gateway said it crashed but exited cleanly")
			}
		} else if err != nil {
			t.Fatalf("round %d: gateway failed without crashing: %v\n%s", round, err, stderr.String())
		}
		waitNoPlugins(t, pluginDir)
	}
	for p, n := range points {
		if n < 2 {
			t.Fatalf("point %s was hit %d times, want at least 2", p, n)
		}
	}
	t.Logf("%d edits made by users during the crashing runs", edits)

	// One clean run, then both sides must agree, item for item.
	if code, out, errOut := run(t, "run", "--once", "-config", cfg); code != 0 {
		t.Fatalf("final run: %s%s", out, errOut)
	}
	converged(t, crm, mail, users)
}

// crashWorld is a config with bindings alice and bob, contacts tracked
// two-way, and n contacts seeded: half in the CRM, half in the mailboxes.
func crashWorld(t *testing.T, n int) (cfg, pluginDir string, crm, mail *dirconnector.Store) {
	t.Helper()
	cfg, pluginDir, _ = setupConfig(t, `  on_blocked = "report"`)
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
	crm = must(dirconnector.Open(filepath.Join(dir, "crm")))
	mail = must(dirconnector.Open(filepath.Join(dir, "mailboxes")))
	users := []string{"alice@example.com", "bob@example.com"}
	for i := 0; i < n; i++ {
		side := crm
		if i%4 >= 2 {
			side = mail
		}
		if _, err := side.Create(users[i%2], "contact", "", sdk.Fields{"surname": sdk.String(fmt.Sprintf("seed-%04d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	return cfg, pluginDir, crm, mail
}

func buildCrashgate(t *testing.T) string {
	t.Helper()
	gate := filepath.Join(t.TempDir(), "crashgate")
	if out, err := exec.Command("go", "build", "-o", gate, "./testdata/crashgate").CombinedOutput(); err != nil {
		t.Fatalf("build crashgate: %v\n%s", err, out)
	}
	return gate
}

// converged checks that for each user both sides hold the same contacts,
// each exactly once, with the same content.
func converged(t *testing.T, crm, mail *dirconnector.Store, users []string) {
	t.Helper()
	for _, who := range users {
		crmItems := bySurname(t, must(crm.List(who, "contact")))
		mailItems := bySurname(t, must(mail.List(who, "contact")))
		if len(crmItems) != len(mailItems) {
			t.Errorf("%s: the CRM has %d contacts, the mailbox %d", who, len(crmItems), len(mailItems))
		}
		for name, c := range crmItems {
			m, ok := mailItems[name]
			if !ok {
				t.Errorf("%s: %q is in the CRM only", who, name)
				continue
			}
			if !c.Fields.Equal(m.Fields) {
				t.Errorf("%s: %q differs: CRM %v, mailbox %v", who, name, c.Fields, m.Fields)
			}
		}
		for name := range mailItems {
			if _, ok := crmItems[name]; !ok {
				t.Errorf("%s: %q is in the mailbox only", who, name)
			}
		}
		t.Logf("%s: %d contacts on each side, identical", who, len(crmItems))
	}
}

// bySurname indexes items by their unique surname, failing on a duplicate.
func bySurname(t *testing.T, items []dirconnector.Item) map[string]dirconnector.Item {
	t.Helper()
	out := map[string]dirconnector.Item{}
	for _, it := range items {
		name := it.Fields["surname"].Str()
		if _, dup := out[name]; dup {
			t.Errorf("%q exists twice on one side: a duplicate", name)
		}
		out[name] = it
	}
	return out
}

// waitNoPlugins waits until no process runs a binary from pluginDir.
func waitNoPlugins(t *testing.T, pluginDir string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		alive := 0
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			cmdline, err := os.ReadFile(p)
			if err != nil || !bytes.HasPrefix(cmdline, []byte(pluginDir)) {
				continue
			}
			stat, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] != 'Z' {
				alive++
			}
		}
		if alive == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d plugin processes outlived their gateway", alive)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPluginCrashMidRun kills the connector processes (alternately the
// mailbox's and the CRM's) while the gateway syncs 2,000 items: the
// supervisor restarts them, the engine keeps its records and retries, the
// run completes, and both sides converge with no loss and no duplicate.
func TestPluginCrashMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("kills plugin processes during a 2,000-item sync")
	}
	cfg, pluginDir, crm, mail := crashWorld(t, 2000)
	gate := buildCrashgate(t) // without SYNCGATE_CRASH_AT it is plain syncgate
	cmd := exec.Command(gate, "run", "--once", "-config", cfg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	kills := 0
	for _, name := range []string{"dir-crm", "dir-mailbox", "dir-crm", "dir-mailbox"} {
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		pid := pluginPid(filepath.Join(pluginDir, name, name))
		if pid == 0 {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			kills++
			t.Logf("killed %s (pid %d) mid-run", name, pid)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the run failed after plugin crashes: %v\n%s", err, stderr.String())
		}
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the run did not finish:\n%s", stderr.String())
	}
	if kills < 2 {
		t.Fatalf("only %d plugin processes were killed mid-run: the run ended too soon to test anything", kills)
	}
	if !strings.Contains(stderr.String(), "connector restarted") {
		t.Fatalf("no restart in the log:\n%s", stderr.String())
	}
	converged(t, crm, mail, []string{"alice@example.com", "bob@example.com"})
}

// pluginPid finds the running (not zombie) process of a plugin binary.
func pluginPid(binary string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(cmdline, []byte(binary+"\x00")) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] != 'Z' {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	return 0
}
