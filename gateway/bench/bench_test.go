package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// binaries builds everything the bench starts in one go build (they
// share most packages), laid out as `make build` lays out bin/: syncgate
// with the emulators next to it, plugins/<name>/ and the lock file.
func binaries(t *testing.T) Options {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the gateway, both connectors and both emulators")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./gateway/cmd/syncgate",
		"./plugins/exchange/cmd/graph-emulator", "./plugins/crm/cmd/dataverse-emulator",
		"./"+testplugins.Known["exchange"], "./"+testplugins.Known["crm"])
	cmd.Dir = testplugins.ModuleRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	pluginDir := filepath.Join(dir, "plugins")
	for _, name := range []string{"exchange", "crm"} {
		if err := os.MkdirAll(filepath.Join(pluginDir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(pluginDir, name, name)); err != nil {
			t.Fatal(err)
		}
		m, err := os.ReadFile(filepath.Join(testplugins.ModuleRoot(), testplugins.Known[name], manifest.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pluginDir, name, manifest.FileName), m, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plugins, diags := host.Discover(pluginDir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	lf, err := host.Lock(filepath.Join(dir, "connectors.lock.hcl"), plugins)
	if err != nil {
		t.Fatal(err)
	}
	if err := lf.Write(); err != nil {
		t.Fatal(err)
	}
	// The rest is found next to the syncgate binary, as in bin/.
	return Options{Syncgate: filepath.Join(dir, "syncgate")}
}

// TestSmoke runs every part of the bench shrunk, with real processes, and
// checks that the report has every part with figures that make sense: the
// bench must not rot between the runs that fill its README.
func TestSmoke(t *testing.T) {
	o := binaries(t)
	o.Contacts, o.Appointments, o.Bindings = 30, 20, 3
	o.Edits, o.IdleBindings, o.IdleFor = 10, 200, 3*time.Second
	o.CRMPoll = time.Second
	o.Timeout = 2 * time.Minute
	o.WorkDir = t.TempDir()
	var log bytes.Buffer
	o.Log = &log
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, log.String())
	}
	in := r.Initial
	if in.Items != 50 || in.Wall <= 0 || in.Reqs.graph < 50 || in.Reqs.crm < 2 {
		t.Errorf("initial sync: %+v; want 50 items, a wall time, at least a request per item written to Graph", in)
	}
	if in.GatewayPeak < 1<<20 || len(in.PluginPeak) != 2 || in.PluginPeak["mail"] < 1<<20 || in.PluginPeak["crm"] < 1<<20 {
		t.Errorf("peak RSS: gateway %d, plugins %v; want the gateway and both plugins (mail, crm) above 1 MiB", in.GatewayPeak, in.PluginPeak)
	}
	// Every item is created once in its mailbox: no duplicates, none lost.
	if n := in.Reqs.graphCreates; n < 50 || n > 50+in.Reqs.graphThrottled {
		t.Errorf("the gateway sent %d creates to Graph (%d throttled), want 50", n, in.Reqs.graphThrottled)
	}
	if in.DeadLetters != 0 {
		t.Errorf("%d dead letters in the initial sync", in.DeadLetters)
	}
	// The bare copier writes each item once and reads the CRM in a few
	// pages: exactly one Graph request per item.
	if b := r.Bare; b.Items != 50 || b.Reqs.graph != 50 || b.Reqs.crm < 2 || b.Wall <= 0 {
		t.Errorf("bare copier: %+v; want 50 items in 50 Graph requests", b)
	}
	if len(r.Latency) != 2 {
		t.Fatalf("latency: %d directions, want 2", len(r.Latency))
	}
	for _, l := range r.Latency {
		if l.Edits != 10 || l.Lost != 0 || l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > editTimeout {
			t.Errorf("latency %s: %+v; want 10 edits, none lost, 0 < p50 <= p95 <= p99", l.Direction, l)
		}
	}
	id := r.Idle
	if id.Bindings != 200 || id.Window < 3*time.Second || id.GatewayRSS < 1<<20 || id.GatewayPeak < id.GatewayRSS || id.CPUShare < 0 || id.CPUShare > 2 {
		t.Errorf("idle: %+v", id)
	}
	// Nothing changes and mailboxes learn of changes by notification: the
	// CRM's poll (one request per table per poll) is all that goes on.
	if id.GraphRate > 1 || id.CRMRate <= 0 || id.CRMRate > 20 {
		t.Errorf("idle requests/s: Graph %.2f, CRM %.2f; want Graph near 0 and the CRM's polls only", id.GraphRate, id.CRMRate)
	}

	var out bytes.Buffer
	if err := r.Print(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	t.Logf("\n%s", text)
	for _, want := range []string{"syncgate bench on ", "1. Initial sync", "2. Bare copier", "3. Change latency", "mailbox → CRM", "CRM → mailbox", "4. Idle scale: 200 bindings", "syncgate / bare copier"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if m := regexp.MustCompile(`(\d+\.\d)× the wall time`).FindStringSubmatch(text); m == nil {
		t.Errorf("report has no ratio syncgate / bare copier:\n%s", text)
	} else if f, _ := strconv.ParseFloat(m[1], 64); f <= 0 {
		t.Errorf("ratio %s, want > 0", m[1])
	}
}

// TestMissingBinaries: a bench started without `make build` says what is
// missing and how to fix it, before starting anything.
func TestMissingBinaries(t *testing.T) {
	dir := t.TempDir()
	_, err := Run(context.Background(), Options{Syncgate: filepath.Join(dir, "syncgate")})
	if err == nil {
		t.Fatal("Run with no binaries succeeded")
	}
	for _, want := range []string{"the syncgate binary is not at " + filepath.Join(dir, "syncgate"),
		"graph-emulator is not at " + filepath.Join(dir, "graph-emulator"),
		"dataverse-emulator is not at", "the exchange connector is not at " + filepath.Join(dir, "plugins", "exchange", "exchange"),
		"the crm connector is not at", "the lock file is not at", "make build"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestBadSizes: sizes that cannot run are refused with the flag to fix.
func TestBadSizes(t *testing.T) {
	self, _ := os.Executable()
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"negative contacts", Options{Contacts: -1}, "-contacts and -appointments may not be negative"},
		{"no contacts to edit", Options{Contacts: 1, Appointments: 5}, "-contacts must be at least 2"},
		{"negative bindings", Options{Bindings: -3}, "-bindings, -idle-bindings and -edits must be at least 1"},
		{"short idle", Options{IdleFor: time.Millisecond}, "-idle-for must be at least 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Syncgate = self
			o := tc.o.withDefaults()
			err := o.check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("check() = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestTooManyUsersForOneArgument: the emulators take their users as one
// argument, which Linux caps at 128 KiB; the bench says so rather than
// failing to exec.
func TestTooManyUsersForOneArgument(t *testing.T) {
	users := make([]string, 20000)
	for i := range users {
		users[i] = "user" + strconv.Itoa(i) + "@bench.example"
	}
	_, err := startBackends(&Options{GraphEmulator: "/nonexistent", DataverseEmulator: "/nonexistent"}, users, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "128 KiB") || !strings.Contains(err.Error(), "use fewer bindings") {
		t.Errorf("startBackends = %v, want the 128 KiB limit named", err)
	}
}

// TestEmulatorThatExits: an emulator that dies at start is reported with
// its own output.
func TestEmulatorThatExits(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "graph-emulator")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'listen tcp: address already in use' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := startBackends(&Options{GraphEmulator: fake, DataverseEmulator: fake}, []string{"a@b.io"}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "exited before it printed graph_url=") || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("startBackends = %v, want the exit and the emulator's output", err)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var d []time.Duration
		for _, x := range n {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(5, 1, 4, 2, 3), 50, 3 * time.Millisecond},
		{ms(5, 1, 4, 2, 3), 95, 5 * time.Millisecond},
		{ms(10, 20, 30, 40, 50, 60, 70, 80, 90, 100), 95, 100 * time.Millisecond},
		{ms(10, 20, 30, 40, 50, 60, 70, 80, 90, 100), 50, 50 * time.Millisecond},
	} {
		if got := percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.in, tc.p, got, tc.want)
		}
	}
}

// TestProcReaders reads this test process's own /proc entries.
func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	// The current size first: the peak, read after it, cannot be smaller.
	rss, err := RSS(pid)
	if err != nil || rss < 1<<20 {
		t.Errorf("RSS = %d, %v", rss, err)
	}
	peak, err := PeakRSS(pid)
	if err != nil || peak < rss {
		t.Errorf("PeakRSS = %d, %v (current %d)", peak, err, rss)
	}
	busy := time.Now()
	for time.Since(busy) < 50*time.Millisecond {
	}
	cpu, err := CPUTime(pid)
	if err != nil || cpu <= 0 {
		t.Errorf("CPUTime = %v, %v", cpu, err)
	}
	if _, err := PeakRSS(1 << 30); err == nil {
		t.Error("PeakRSS of a pid that does not exist succeeded")
	}
	m := ReadMachine()
	if m.Cores < 1 || m.MemTotal < 1<<20 || m.CPU == "" {
		t.Errorf("ReadMachine = %+v", m)
	}
}

func TestStatusKiB(t *testing.T) {
	b := []byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\tbad kB\n")
	if got := statusKiB(b, "VmHWM"); got != 2048*1024 {
		t.Errorf("VmHWM = %d", got)
	}
	if got := statusKiB(b, "VmRSS"); got != -1 {
		t.Errorf("bad VmRSS = %d, want -1", got)
	}
	if got := statusKiB(b, "VmSwap"); got != -1 {
		t.Errorf("absent VmSwap = %d, want -1", got)
	}
}

func TestStatusEvery(t *testing.T) {
	for _, tc := range []struct{ elapsed, want time.Duration }{
		{0, 200 * time.Millisecond},
		{time.Second, 200 * time.Millisecond},
		{30 * time.Second, 3 * time.Second},
		{10 * time.Minute, 10 * time.Second},
	} {
		if got := statusEvery(tc.elapsed); got != tc.want {
			t.Errorf("statusEvery(%v) = %v, want %v", tc.elapsed, got, tc.want)
		}
	}
}

// TestPrintPartial: a run that failed after the bare copier still prints
// the copier's figures, and nothing for the parts that did not finish.
func TestPrintPartial(t *testing.T) {
	r := &Report{Machine: Machine{CPU: "Test CPU", Cores: 2, MemTotal: 4 << 30}, Opts: Defaults,
		Bare: Bare{Items: 100, Wall: 2 * time.Second, Reqs: counts{graph: 100, crm: 2}}}
	var out bytes.Buffer
	if err := r.Print(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"syncgate bench on Test CPU, 2 cores, 4.0 GiB RAM", "2. Bare copier", "2.0 s", "51 (100 + 2)"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	for _, absent := range []string{"1. Initial", "3. Change", "4. Idle", "× the wall time"} {
		if strings.Contains(text, absent) {
			t.Errorf("report has %q for a part that did not run:\n%s", absent, text)
		}
	}
}
