package host

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// binDir holds the test connectors, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	if os.Getenv("HOST_TEST_GATEWAY") != "" {
		fakeGateway() // this process plays the gateway for the orphan tests
		return
	}
	dir, err := os.MkdirTemp("", "host-test-bin")
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"misbehave", "crashstart", "notaplugin"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./testdata/plugins/"+name).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", name, err, out)
			os.Exit(1)
		}
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pluginDir lays out a plugin_dir holding the named test connectors, each
// with its manifest from testdata, and returns it with its lock file.
func pluginDir(t *testing.T, names ...string) (string, *LockFile) {
	t.Helper()
	dir := t.TempDir()
	// Every test connector uses misbehave's manifest under its own name: the
	// ones that never get as far as Describe need nothing more.
	src, err := os.ReadFile(filepath.Join("testdata/plugins/misbehave", manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		copyFile(t, filepath.Join(binDir, n), filepath.Join(dir, n, n), 0o755)
		m := strings.Replace(string(src), `name        = "misbehave"`, `name        = "`+n+`"`, 1)
		if err := os.WriteFile(filepath.Join(dir, n, manifest.FileName), []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plugins, diags := Discover(dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	lf, err := Lock(filepath.Join(t.TempDir(), "connectors.lock.hcl"), plugins)
	if err != nil {
		t.Fatal(err)
	}
	if err := lf.Write(); err != nil {
		t.Fatal(err)
	}
	return dir, lf
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
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

func findPlugin(t *testing.T, dir, name string) *Plugin {
	t.Helper()
	plugins, diags := Discover(dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, p := range plugins {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no plugin %q in %s", name, dir)
	return nil
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "gateway", Level: hclog.Debug, Output: testWriter{t}})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func supervise(t *testing.T, dir string, lf *LockFile, name, mode string, tweak func(*SupervisorConfig)) *Supervisor {
	t.Helper()
	p := findPlugin(t, dir, name)
	cfg := SupervisorConfig{
		Launch:       LaunchConfig{Plugin: p, Endpoint: "ep", Lock: lf.Connectors[name], LockFile: lf.Path, Logger: testLogger(t), LogLevel: hclog.Debug},
		Settings:     sdk.Fields{"mode": sdk.String(mode)},
		KV:           NewMemKV(),
		PingInterval: 100 * time.Millisecond,
		CallTimeout:  5 * time.Second,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	s := NewSupervisor(cfg)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// roundTrip writes an item through Apply (into the host's key-value store,
// over the broker) and reads it back with Fetch.
func roundTrip(t *testing.T, s *Supervisor, key string) {
	t.Helper()
	ctx := context.Background()
	res, err := s.Apply(ctx, "", "contact", []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: key, Fields: sdk.Fields{"surname": sdk.String("Okafor")}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("Apply: %v %v", err, res)
	}
	got, err := s.Fetch(ctx, "", "contact", []string{key})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if got[0].Record == nil || got[0].Record.Fields["surname"].Str() != "Okafor" {
		t.Fatalf("Fetch returned %+v", got[0])
	}
}

func TestHandshakeConfigureAndCalls(t *testing.T) {
	dir, lf := pluginDir(t, "misbehave")
	kv := NewMemKV()
	s := supervise(t, dir, lf, "misbehave", "ok", func(c *SupervisorConfig) { c.KV = kv })
	if st := s.Status(); st.State != StateRunning || st.Pid == 0 {
		t.Fatalf("status %+v", st)
	}
	if !s.Instance().Has("stop") || s.Instance().Has("watch") {
		t.Fatalf("capabilities %v", s.Instance().Capabilities)
	}
	roundTrip(t, s, "item-1")
	if _, ok, _ := kv.Get(context.Background(), "item-1"); !ok {
		t.Fatal("the connector's write did not reach the host key-value store")
	}
	// A typed error crosses the protocol with its kind intact.
	_, err := s.GetSyncData(context.Background(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: "contact"}})
	if !sdk.IsKind(err, sdk.ErrResyncRequired) {
		t.Fatalf("GetSyncData error = %v, want resync_required", err)
	}
	// Stop calls the connector's Stop (which records it in the store), then kills it.
	pid := s.Status().Pid
	s.Stop()
	if v, _, _ := kv.Get(context.Background(), "stopped"); string(v) != "yes" {
		t.Fatal("Stop did not call the connector's Stop")
	}
	waitGone(t, pid)
}

// TestStartRetriesAPassingFailure: a connector that dies while being
// configured is started again; the gateway does not give up on it.
func TestStartRetriesAPassingFailure(t *testing.T) {
	dir, lf := pluginDir(t, "misbehave")
	marker := filepath.Join(t.TempDir(), "crashed-once")
	s := supervise(t, dir, lf, "misbehave", "crash_once:"+marker, func(c *SupervisorConfig) { c.InitialBackoff = 10 * time.Millisecond })
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the connector never crashed: the test tests nothing")
	}
	if st := s.Status(); st.State != StateRunning {
		t.Fatalf("status %+v", st)
	}
	roundTrip(t, s, "after-retry")
}

func TestConfigureRefused(t *testing.T) {
	dir, lf := pluginDir(t, "misbehave")
	p := findPlugin(t, dir, "misbehave")
	s := NewSupervisor(SupervisorConfig{
		Launch:   LaunchConfig{Plugin: p, Endpoint: "ep", Lock: lf.Connectors["misbehave"], Logger: testLogger(t)},
		Settings: sdk.Fields{"mode": sdk.String("refuse")},
	})
	err := s.Start(context.Background())
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `this connector refuses mode "refuse"`) {
		t.Fatalf("Start error = %v", err)
	}
	if s.Status().State != StateFailed {
		t.Fatalf("state %s", s.Status().State)
	}
}

func TestManifestMismatchRefused(t *testing.T) {
	dir, lf := pluginDir(t, "misbehave")
	mpath := filepath.Join(dir, "misbehave", manifest.FileName)
	src, _ := os.ReadFile(mpath)
	src = []byte(strings.Replace(string(src), `version     = "0.0.1"`, `version     = "0.0.2"`, 1))
	if err := os.WriteFile(mpath, src, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Launch(context.Background(), LaunchConfig{Plugin: findPlugin(t, dir, "misbehave"), Endpoint: "ep", Lock: lf.Connectors["misbehave"], Logger: testLogger(t)})
	var mm *ManifestMismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("Launch error = %v, want a manifest mismatch", err)
	}
	want := `version: file says "0.0.2", binary says "0.0.1"`
	if len(mm.Diff) != 1 || mm.Diff[0] != want {
		t.Fatalf("diff = %q, want [%q]", mm.Diff, want)
	}
	if !strings.Contains(err.Error(), "was the binary upgraded without its manifest?") {
		t.Fatalf("message: %v", err)
	}
}

func TestLockMismatchRefused(t *testing.T) {
	dir, lf := pluginDir(t, "misbehave")
	p := findPlugin(t, dir, "misbehave")
	f, err := os.OpenFile(p.Binary, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()

	// Checked before launch, with the full message.
	err = lf.Verify(p)
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("Verify error = %v", err)
	}
	for _, want := range []string{`connector "misbehave" refused`, lf.Path, ce.Expected, ce.Actual, "syncgate plugins lock --plugin-dir " + dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Verify message %q lacks %q", err, want)
		}
	}
	// And by go-plugin's SecureConfig at launch, should the binary change after the check.
	_, err = Launch(context.Background(), LaunchConfig{Plugin: p, Endpoint: "ep", Lock: lf.Connectors["misbehave"], LockFile: lf.Path, Logger: testLogger(t)})
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), lf.Path) {
		t.Fatalf("Launch error = %v, want a checksum error naming the lock file", err)
	}
	// A connector missing from the lock file is refused too.
	delete(lf.Connectors, "misbehave")
	if err := lf.Verify(p); err == nil || !strings.Contains(err.Error(), "is not in the lock file") {
		t.Fatalf("Verify error = %v", err)
	}
}

// TestRelativePluginDir starts a connector found through a relative
// plugin_dir: the process runs in its own folder, so the host must not hand
// exec a path relative to somewhere else.
func TestRelativePluginDir(t *testing.T) {
	dir, lf := pluginDir(t, "misbehave")
	wd, _ := os.Getwd()
	t.Chdir(filepath.Dir(dir))
	p := findPlugin(t, filepath.Base(dir), "misbehave")
	if !filepath.IsAbs(p.Binary) {
		t.Fatalf("binary path %q is relative", p.Binary)
	}
	inst, err := Launch(context.Background(), LaunchConfig{Plugin: p, Endpoint: "ep", Lock: lf.Connectors["misbehave"], Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("launch from %s: %v", wd, err)
	}
	inst.Kill()
}

func TestLockFileRoundTrip(t *testing.T) {
	_, lf := pluginDir(t, "misbehave", "notaplugin")
	back, diags := ReadLockFile(lf.Path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(back.Connectors) != 2 || back.Connectors["misbehave"] != lf.Connectors["misbehave"] {
		t.Fatalf("read back %+v, wrote %+v", back.Connectors, lf.Connectors)
	}
	bad := filepath.Join(t.TempDir(), "bad.lock.hcl")
	os.WriteFile(bad, []byte("connector \"x\" {\n  version = \"1\"\n  sha256 = \"abc\"\n}\n"), 0o644)
	if _, diags := ReadLockFile(bad); !diags.HasErrors() || !strings.Contains(diags.Error(), "64 hex digits") {
		t.Fatalf("bad checksum: %v", diags)
	}
	if _, diags := ReadLockFile(filepath.Join(t.TempDir(), "missing.hcl")); !strings.Contains(diags.Error(), "syncgate plugins lock") {
		t.Fatalf("missing lock file: %v", diags)
	}
}

func TestNotAPluginAndCrashAtStart(t *testing.T) {
	dir, lf := pluginDir(t, "notaplugin", "crashstart")
	for _, name := range []string{"notaplugin", "crashstart"} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := Launch(context.Background(), LaunchConfig{Plugin: findPlugin(t, dir, name), Endpoint: "ep", Lock: lf.Connectors[name], Logger: testLogger(t), StartTimeout: 5 * time.Second})
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf(`connector %q`, name)) || !strings.Contains(err.Error(), "did not start as a syncgate connector") {
				t.Fatalf("Launch error = %v", err)
			}
			if time.Since(start) > 4*time.Second {
				t.Fatalf("a plugin that exits at once took %s to be refused", time.Since(start))
			}
		})
	}
}

func TestHangingCallTimesOut(t *testing.T) {
	dir, lf := pluginDir(t, "misbehave")
	s := supervise(t, dir, lf, "misbehave", "hang_fetch", func(c *SupervisorConfig) { c.CallTimeout = 300 * time.Millisecond })
	start := time.Now()
	_, err := s.Fetch(context.Background(), "", "contact", []string{"x"})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), `endpoint "ep": Fetch timed out after 300ms`) {
		t.Fatalf("Fetch error = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the call took %s despite a 300ms timeout", d)
	}
	// The plugin itself is alive (only the call hangs), so it is not restarted.
	if err := s.Instance().Ping(); err != nil {
		t.Fatal(err)
	}
}

func TestSIGKILLedPluginIsRestarted(t *testing.T) {
	dir, lf := pluginDir(t, "misbehave")
	s := supervise(t, dir, lf, "misbehave", "ok", nil)
	roundTrip(t, s, "before")
	pid := s.Status().Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.Status()
		if st.State == StateRunning && st.Pid != 0 && st.Pid != pid {
			if st.Restarts != 1 {
				t.Fatalf("restarts = %d, want 1", st.Restarts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not restarted: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Calls succeed again, and the key-value store survived the restart.
	roundTrip(t, s, "after")
	got, err := s.Fetch(context.Background(), "", "contact", []string{"before"})
	if err != nil || got[0].Record == nil {
		t.Fatalf("item written before the crash: %v %+v", err, got)
	}
}

func TestCrashLooping(t *testing.T) {
	dir, lf := pluginDir(t, "misbehave")
	s := supervise(t, dir, lf, "misbehave", "exit_soon", func(c *SupervisorConfig) {
		c.MaxRestarts, c.InitialBackoff, c.MaxBackoff = 2, 10*time.Millisecond, 200*time.Millisecond
	})
	deadline := time.Now().Add(20 * time.Second)
	for s.Status().State != StateCrashLooping {
		if time.Now().After(deadline) {
			t.Fatalf("never crash-looping: %+v", s.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := s.Status(); st.Restarts < 3 {
		t.Fatalf("crash-looping after %d restarts, want more than 2", st.Restarts)
	}
	_, err := s.Fetch(context.Background(), "", "contact", []string{"x"})
	if err == nil {
		t.Fatal("a call to a crash-looping connector succeeded")
	}
}

// TestNoPluginOutlivesTheGateway runs a gateway process (this test binary in
// fakeGateway mode), lets it start a connector, ends the gateway in each
// way, and checks the connector is gone.
func TestNoPluginOutlivesTheGateway(t *testing.T) {
	dir, lf := pluginDir(t, "misbehave")
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "HOST_TEST_GATEWAY=1", "HOST_TEST_PLUGIN_DIR="+dir, "HOST_TEST_LOCK="+lf.Path)
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = testWriter{t}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				cmd.Process.Kill()
				t.Fatalf("gateway said nothing: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "plugin pid ")))
			if err != nil {
				t.Fatalf("gateway said %q", line)
			}
			if !alive(pid) {
				t.Fatal("plugin not running")
			}
			cmd.Process.Signal(sig)
			cmd.Wait()
			waitGone(t, pid)
		})
	}
}

// fakeGateway starts one supervised connector, prints its pid, and waits for
// a signal; on SIGTERM or SIGINT it shuts down as syncgate run does.
func fakeGateway() {
	dir, lockPath := os.Getenv("HOST_TEST_PLUGIN_DIR"), os.Getenv("HOST_TEST_LOCK")
	plugins, _ := Discover(dir)
	lf, _ := ReadLockFile(lockPath)
	s := NewSupervisor(SupervisorConfig{
		Launch:   LaunchConfig{Plugin: plugins[0], Endpoint: "ep", Lock: lf.Connectors[plugins[0].Name]},
		Settings: sdk.Fields{"mode": sdk.String("ok")}, KV: NewMemKV(),
	})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	if err := s.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("plugin pid %d\n", s.Status().Pid)
	<-sigs
	s.Stop()
	os.Exit(0)
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("plugin process %d outlived the gateway", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
