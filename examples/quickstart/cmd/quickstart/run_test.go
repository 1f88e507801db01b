//go:build unix

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncgate/syncgate/internal/testplugins"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// builtBin builds the gateway and both emulators (in parallel) once per
// test binary into a folder laid out like bin/.
func builtBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "syncgate-quickstart-bin")
		if binErr != nil {
			return
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for name, pkg := range map[string]string{
			"syncgate":           "./gateway/cmd/syncgate",
			"graph-emulator":     "./plugins/exchange/cmd/graph-emulator",
			"dataverse-emulator": "./plugins/crm/cmd/dataverse-emulator",
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, name), pkg)
				cmd.Dir = testplugins.ModuleRoot()
				if out, err := cmd.CombinedOutput(); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("build %s: %v\n%s", name, err, out))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		binErr = errors.Join(errs...)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

// fakeBin is a bin folder whose programs are the given shell scripts,
// and the real ones for the others.
func fakeBin(t *testing.T, real string, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"syncgate", "graph-emulator", "dataverse-emulator"} {
		path := filepath.Join(dir, name)
		if script, ok := scripts[name]; ok {
			if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.Symlink(filepath.Join(real, name), path); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var startedRE = regexp.MustCompile(`started (\S+) \(pid (\d+),`)

// startedPids reads the "started <name> (pid N, ...)" lines.
func startedPids(out string) map[string]int {
	pids := map[string]int{}
	for _, m := range startedRE.FindAllStringSubmatch(out, -1) {
		pids[m[1]], _ = strconv.Atoi(m[2])
	}
	return pids
}

// gone reports whether no process pid runs (a zombie waiting for its
// reaper counts as gone).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return os.IsNotExist(err)
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(after, "Z")
}

func waitGone(t *testing.T, what string, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Errorf("%s (pid %d) still runs", what, pid)
			syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runQuickstart(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
		{[]string{"-seed-contacts", "-1"}, "must be 0 or more"},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
	} {
		code, _, stderr := runQuickstart(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	if code, _, _ := runQuickstart("-h"); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
}

func TestAPortInUseIsReportedBeforeAnythingStarts(t *testing.T) {
	a := freeAddrs(t)
	path, dataDir := testConfig(t, a)
	lis, err := net.Listen("tcp", a.crm)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runQuickstart("-config", path, "-bin", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "dataverse-emulator (endpoint \"crm\") cannot listen on "+a.crm) || !strings.Contains(stderr, "Is a quick start (or an emulator) still running?") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stdout, "started") {
		t.Errorf("something started:\n%s", stdout)
	}
	if _, err := os.Stat(dataDir); err != nil {
		t.Error("the data_dir was cleared although the quick start did not start")
	}
}

func TestMissingBinariesSayToBuild(t *testing.T) {
	path, _ := testConfig(t, freeAddrs(t))
	empty := t.TempDir()
	code, _, stderr := runQuickstart("-config", path, "-bin", empty)
	want := "graph-emulator: " + filepath.Join(empty, "graph-emulator") + " is missing: run `make build` first"
	if code != 1 || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d, stderr %q; want %q", code, stderr, want)
	}
}

func TestAnEmulatorDyingAtStartStopsTheOther(t *testing.T) {
	path, _ := testConfig(t, freeAddrs(t))
	bin := fakeBin(t, t.TempDir(), map[string]string{
		"graph-emulator":     `echo "graph-emulator: listen: address already in use"; exit 3`,
		"dataverse-emulator": "exec sleep 60",
		"syncgate":           "exit 0",
	})
	began := time.Now()
	code, stdout, stderr := runQuickstart("-config", path, "-bin", bin)
	if code != 1 || !strings.Contains(stderr, "graph-emulator exited unexpectedly (exit status 3)") || !strings.Contains(stderr, "address already in use") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if d := time.Since(began); d > 15*time.Second {
		t.Errorf("took %s: the other emulator was not stopped promptly", d)
	}
	pids := startedPids(stdout)
	if pids["dataverse-emulator"] == 0 {
		t.Fatalf("no pid of dataverse-emulator in:\n%s", stdout)
	}
	waitGone(t, "dataverse-emulator", pids["dataverse-emulator"])
}

func TestTheGatewayDyingStopsTheEmulators(t *testing.T) {
	path, _ := testConfig(t, freeAddrs(t))
	bin := fakeBin(t, builtBin(t), map[string]string{"syncgate": `echo "syncgate: the config is broken" >&2; exit 1`})
	code, stdout, stderr := runQuickstart("-config", path, "-bin", bin, "-seed-contacts", "4", "-seed-appointments", "2", "-seed-tasks", "2", "-seed-service-appointments", "1")
	if code != 1 || !strings.Contains(stderr, "syncgate exited unexpectedly") || !strings.Contains(stderr, "the config is broken") {
		t.Fatalf("exit %d, stderr %q\nstdout:\n%s", code, stderr, stdout)
	}
	pids := startedPids(stdout)
	for _, name := range []string{"graph-emulator", "dataverse-emulator"} {
		if pids[name] == 0 {
			t.Fatalf("no pid of %s in:\n%s", name, stdout)
		}
		waitGone(t, name, pids[name])
	}
}

func TestASlowInitialSyncIsReportedAndEverythingStops(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gateway and both emulators")
	}
	a := freeAddrs(t)
	path, _ := testConfig(t, a)
	// Completion needs two status answers, so a nanosecond is always too
	// short, whatever the machine's speed.
	code, stdout, stderr := runQuickstart("-config", path, "-bin", builtBin(t), "-sync-timeout", "1ns",
		"-seed-contacts", "2", "-seed-appointments", "0", "-seed-tasks", "0", "-seed-service-appointments", "0")
	if code != 1 || !strings.Contains(stderr, "the initial sync did not finish within 1ns") || !strings.Contains(stderr, "http://"+a.admin+"/v1/status") {
		t.Fatalf("exit %d, stderr %q\nstdout:\n%s", code, stderr, stdout)
	}
	pids := startedPids(stdout)
	if len(pids) != 3 {
		t.Fatalf("started %v, want three processes", pids)
	}
	for name, pid := range pids {
		waitGone(t, name, pid)
	}
}
