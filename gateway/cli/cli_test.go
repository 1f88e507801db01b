package cli

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/internal/testplugins"
	"github.com/syncgate/syncgate/sdk"
)

// run calls the command line in-process and returns exit code and outputs.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// setupConfig writes a config for the freshly built example connectors, with
// policy as the service_appointment policy body, and returns its path.
func setupConfig(t testing.TB, policy string) (cfgPath, pluginDir, lockFile string) {
	t.Helper()
	pluginDir, lockFile = testplugins.Build(t)
	dir := t.TempDir()
	cfgPath = filepath.Join(dir, "syncgate.hcl")
	src := fmt.Sprintf(`gateway {
  plugin_dir = %q
  lock_file  = %q
  data_dir   = "data"
}

endpoint "dir-mailbox" "mail" {
  dir = "mailboxes"
}

endpoint "dir-crm" "crm" {
  dir = "crm"
}

binding "alice" {
  mailbox  = "alice@example.com"
  crm_user = "alice@example.com"
}

policy "service_appointment" {
%s
}
`, pluginDir, lockFile, policy)
	if err := os.WriteFile(cfgPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, pluginDir, lockFile
}

func TestValidateListExplainCheck(t *testing.T) {
	cfg, _, _ := setupConfig(t, `  on_blocked = "revert"`)

	code, out, errOut := run(t, "validate", "-config", cfg)
	if code != 0 || !strings.Contains(out, "is valid: 2 endpoints, 1 bindings, 1 policies; 2 connectors locked") {
		t.Fatalf("validate: %d %q %q", code, out, errOut)
	}

	code, out, _ = run(t, "plugins", "list", "-config", cfg)
	for _, want := range []string{
		"dir-crm 0.1.0 (crm connector, protocol [1]) lock: locked",
		"dir-mailbox 0.1.0 (mailbox connector, protocol [1]) lock: locked",
		"service_appointment  endpoint  create,update,delete  crm_to_mailbox  crm_to_mailbox  Scheduled by an agent",
		"field body", "operation delete",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("plugins list lacks %q:\n%s", want, out)
		}
	}

	// Flags after arguments, single-dash long flags.
	code, out, errOut = run(t, "explain", "alice", "service_appointment", "-config", cfg)
	if code != 0 || !strings.Contains(out, "entity") || !strings.Contains(out, "crm_to_mailbox") || !strings.Contains(out, "on_blocked") ||
		!strings.Contains(out, "Scheduled by an agent") {
		t.Fatalf("explain: %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run(t, "explain", "nobody", "contact", "--config", cfg); code == 0 || !strings.Contains(errOut, "alice") {
		t.Fatalf("explain of an unknown binding: %d %q", code, errOut)
	}

	// Real plugin processes: launched, configured, checked, stopped.
	code, out, errOut = run(t, "plugins", "check", "-config", cfg)
	if code != 0 || !strings.Contains(out, "endpoint mail (dir-mailbox 0.1.0, pid ") || !strings.Contains(out, "scope alice@example.com: routing keys [user:alice@example.com]") {
		t.Fatalf("plugins check: %d\n%s%s", code, out, errOut)
	}
}

// TestTamperedBinaryRefused appends one byte to a built connector: validate
// and run-time loading must both refuse it, naming the connector and the
// lock file, and the re-lock command must make it acceptable again.
func TestTamperedBinaryRefused(t *testing.T) {
	cfg, pluginDir, lockFile := setupConfig(t, `  on_blocked = "revert"`)
	f, err := os.OpenFile(filepath.Join(pluginDir, "dir-crm", "dir-crm"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	for _, args := range [][]string{{"validate"}, {"plugins", "check"}} {
		code, _, errOut := run(t, append(args, "-config", cfg)...)
		if code != 1 {
			t.Errorf("%v exited %d on a tampered binary", args, code)
		}
		for _, want := range []string{`connector "dir-crm"`, "refused", lockFile, "syncgate plugins lock"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%v: message lacks %q:\n%s", args, want, errOut)
			}
		}
	}
	code, out, _ := run(t, "plugins", "list", "-config", cfg)
	if code != 0 || !strings.Contains(out, "dir-crm 0.1.0 (crm connector, protocol [1]) lock: CHECKSUM MISMATCH") {
		t.Fatalf("plugins list: %s", out)
	}
	if code, out, errOut := run(t, "plugins", "lock", "-config", cfg); code != 0 || !strings.Contains(out, "locked dir-crm 0.1.0 sha256:") {
		t.Fatalf("plugins lock: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := run(t, "validate", "-config", cfg); code != 0 {
		t.Fatalf("validate after re-lock: %s", errOut)
	}
}

func TestPolicyBeyondManifestRefused(t *testing.T) {
	cfg, pluginDir, _ := setupConfig(t, `  direction = "bidirectional"`)
	code, _, errOut := run(t, "validate", "-config", cfg)
	want := fmt.Sprintf(`%s:21:15: error: Direction beyond what the manifests allow: policy "service_appointment" sets direction "bidirectional", but connector "dir-crm" allows only "crm_to_mailbox" (%s:`,
		cfg, filepath.Join(pluginDir, "dir-crm", "connector.hcl"))
	if code != 1 || !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, `"Scheduled by an agent with resource free/busy that lives only in the CRM."`) {
		t.Fatalf("validate exited %d:\n%s\nwant a line starting\n%s", code, errOut, want)
	}
}

func TestBadInputExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte("gateway {\n  log_level = \n}\n"), 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing config", []string{"validate", "-config", filepath.Join(dir, "none.hcl")}, "none.hcl"},
		{"malformed config", []string{"validate", "-config", bad}, "bad.hcl:2:"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"explain needs two args", []string{"explain", "alice"}, "accepts 2 arg(s)"},
		{"lock with nothing to lock", []string{"plugins", "lock", "--plugin-dir", dir, "--lock-file", filepath.Join(dir, "l.hcl")}, "no connectors in"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := run(t, c.args...)
			if code == 0 || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d, stderr %q, want it to contain %q", code, errOut, c.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "syncgate ") || !strings.Contains(out, "protocol 1, canonical schema 1") {
		t.Fatalf("version: %q", out)
	}
}

func TestNormalizeArgs(t *testing.T) {
	got := normalizeArgs([]string{"validate", "-config", "f.hcl", "-config=g", "-h", "--x", "-", "--", "-config"})
	want := []string{"validate", "--config", "f.hcl", "--config=g", "-h", "--x", "-", "--", "-config"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestRunOnceEndToEnd runs the gateway with real plugin processes over a
// dir-mailbox and a dir-crm folder, then checks both sides, and that a
// second run finds nothing to do.
func TestRunOnceEndToEnd(t *testing.T) {
	cfg, _, _ := setupConfig(t, `  on_blocked = "report"`)
	os.WriteFile(cfg, append(must(os.ReadFile(cfg)), []byte(`
policy "contact" {
  tracking {
    mode = "all"
  }
}
`)...), 0o644)
	dir := filepath.Dir(cfg)
	crm, err := dirconnector.Open(filepath.Join(dir, "crm"))
	if err != nil {
		t.Fatal(err)
	}
	mail, err := dirconnector.Open(filepath.Join(dir, "mailboxes"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		crm.Create("alice@example.com", "contact", "", sdk.Fields{"surname": sdk.String(fmt.Sprintf("CRM %02d", i))})
		mail.Create("alice@example.com", "contact", "", sdk.Fields{"surname": sdk.String(fmt.Sprintf("Mailbox %02d", i))})
	}
	code, out, errOut := run(t, "run", "--once", "-config", cfg)
	if code != 0 || !strings.Contains(out, " collected, 40 created, 0 updated, 0 deleted, 0 blocked, 0 conflicts, 0 errors") {
		t.Fatalf("run --once: %d\n%s%s", code, out, errOut)
	}
	for name, s := range map[string]*dirconnector.Store{"CRM": crm, "mailbox": mail} {
		items, _ := s.List("", "contact")
		if len(items) != 40 {
			t.Fatalf("the %s has %d contacts, want 40", name, len(items))
		}
	}
	code, out, _ = run(t, "run", "--once", "-config", cfg)
	if code != 0 || !strings.Contains(out, "0 collected, 0 created, 0 updated") {
		t.Fatalf("second run: %d %s", code, out)
	}
	code, out, _ = run(t, "status", "-config", cfg)
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "queued 0") {
		t.Fatalf("status: %d %s", code, out)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestPauseResumeStatus(t *testing.T) {
	cfg, _, _ := setupConfig(t, `  on_blocked = "report"`)
	if code, _, errOut := run(t, "pause", "alice", "-config", cfg); code == 0 || !strings.Contains(errOut, "run `syncgate run` first") {
		t.Fatalf("pause before any run: %d %q", code, errOut)
	}
	if code, out, errOut := run(t, "run", "--once", "-config", cfg); code != 0 {
		t.Fatalf("run: %s%s", out, errOut)
	}
	if code, _, errOut := run(t, "pause", "carol", "-config", cfg); code == 0 || !strings.Contains(errOut, `no binding "carol"; the bindings are alice`) {
		t.Fatalf("pause of an unknown binding: %d %q", code, errOut)
	}
	if code, out, _ := run(t, "pause", "alice", "--reason", "moving offices", "-config", cfg); code != 0 || !strings.Contains(out, "paused") {
		t.Fatalf("pause: %s", out)
	}
	if _, out, _ := run(t, "status", "-config", cfg); !strings.Contains(out, "paused: moving offices") {
		t.Fatalf("status after pause: %s", out)
	}
	if code, out, _ := run(t, "resume", "alice", "--allow-deletes", "-config", cfg); code != 0 || !strings.Contains(out, "deletes pass the delete guard for the next hour") {
		t.Fatalf("resume: %s", out)
	}
	if code, out, errOut := run(t, "resync", "alice", "-config", cfg); code != 0 || !strings.Contains(out, "enumerated again") {
		t.Fatalf("resync: %s%s", out, errOut)
	}
	if code, out, errOut := run(t, "run", "--once", "-config", cfg); code != 0 || !strings.Contains(out, " 0 created") {
		t.Fatalf("run after resync: %s%s", out, errOut)
	}
	if _, out, _ := run(t, "status", "-config", cfg); !strings.Contains(out, "alice") || !strings.Contains(out, "active") {
		t.Fatalf("status after resume: %s", out)
	}
}

// TestAdminAPIOnRunningGateway runs the gateway binary and uses its admin
// API, directly and through the commands that prefer it.
func TestAdminAPIOnRunningGateway(t *testing.T) {
	cfg, _, _ := setupConfig(t, `  on_blocked = "report"`)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	src := strings.Replace(string(must(os.ReadFile(cfg))), `data_dir   = "data"`, `data_dir   = "data"
  admin_listen = "`+addr+`"`, 1)
	os.WriteFile(cfg, []byte(src), 0o644)

	gate := filepath.Join(t.TempDir(), "syncgate")
	if out, err := exec.Command("go", "build", "-o", gate, "../cmd/syncgate").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(gate, "run", "-config", cfg)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	tokenFile := filepath.Join(filepath.Dir(cfg), "data", "admin.token")
	var token string
	deadline := time.Now().Add(15 * time.Second)
	for {
		if b, err := os.ReadFile(tokenFile); err == nil {
			if res, err := http.Get("http://" + addr + "/v1/status"); err == nil {
				res.Body.Close()
				token = strings.TrimSpace(string(b))
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway did not start:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st, _ := os.Stat(tokenFile); st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", st.Mode().Perm())
	}
	get := func(path, tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, tok := range []string{"", "wrong-token-0123456789"} {
		for _, path := range []string{"/v1/status", "/v1/dead-letters", "/v1/backup", "/nowhere"} {
			code, body := get(path, tok)
			if code != http.StatusUnauthorized || strings.Contains(body, "alice") || !strings.Contains(body, "missing or wrong token") {
				t.Fatalf("GET %s with token %q: %d %s", path, tok, code, body)
			}
		}
	}
	if code, body := get("/v1/status", token); code != 200 || !strings.Contains(body, `"name": "alice"`) || !strings.Contains(body, `"state": "running"`) {
		t.Fatalf("status: %d %s", code, body)
	}

	// Prometheus scrapes /metrics without a token.
	for deadline := time.Now().Add(10 * time.Second); ; {
		code, body := get("/metrics", "")
		if code == 200 && strings.Contains(body, `syncgate_plugin_up{endpoint="crm"} 1`) && strings.Contains(body, "syncgate_queue_depth ") &&
			strings.Contains(body, `syncgate_bindings{state="active"} 1`) &&
			strings.Contains(body, `syncgate_connector_call_duration_seconds_count{call="PrepareSync",endpoint="crm",result="ok"}`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The commands use the running gateway.
	if code, out, errOut := run(t, "pause", "alice", "--reason", "audit", "-config", cfg); code != 0 {
		t.Fatalf("pause: %s%s", out, errOut)
	}
	if code, out, _ := run(t, "status", "-config", cfg); code != 0 || !strings.Contains(out, "paused: audit") || !strings.Contains(out, "endpoint crm") {
		t.Fatalf("status through the API: %s", out)
	}
	if code, out, errOut := run(t, "resume", "alice", "-config", cfg); code != 0 || !strings.Contains(out, "resumed") {
		t.Fatalf("resume: %s%s", out, errOut)
	}
	if code, out, _ := run(t, "dead-letters", "list", "--config", cfg); code != 0 || !strings.Contains(out, "no dead letters") {
		t.Fatalf("dead-letters list: %s", out)
	}
	if code, _, errOut := run(t, "dead-letters", "retry", "alice", "99", "--config", cfg); code == 0 || !strings.Contains(errOut, "no dead letter 99") {
		t.Fatalf("retry of a missing dead letter: %d %s", code, errOut)
	}
	if code, out, _ := run(t, "undelete", "--list", "-config", cfg); code != 0 || !strings.Contains(out, "no deletes to undo") {
		t.Fatalf("undelete --list: %s", out)
	}
	if code, _, errOut := run(t, "undelete", "sg-nothing", "-config", cfg); code == 0 || !strings.Contains(errOut, `no tombstone for item "sg-nothing"`) {
		t.Fatalf("undelete of an unknown item: %d %s", code, errOut)
	}
	backupFile := filepath.Join(t.TempDir(), "sg.backup")
	if code, out, errOut := run(t, "backup", "-o", backupFile, "-config", cfg); code != 0 || !strings.Contains(out, "wrote") {
		t.Fatalf("backup: %s%s", out, errOut)
	}
	restored := t.TempDir()
	if err := store.Restore(restored, must(os.Open(backupFile))); err != nil {
		t.Fatal(err)
	}
	db := must(store.Open(store.Options{Dir: restored, GCInterval: -1}))
	var state store.BindingState
	db.View(func(tx *store.Tx) (err error) { state, err = tx.BindingState("alice"); return err })
	db.Close()
	if state.PausedAt.IsZero() {
		t.Fatalf("the backup lacks the binding state written before it: %+v", state)
	}

	// SIGTERM stops it cleanly.
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func TestPlanCommand(t *testing.T) {
	cfg, _, _ := setupConfig(t, `  on_blocked = "report"`)
	dir := filepath.Dir(cfg)
	crm := must(dirconnector.Open(filepath.Join(dir, "crm")))
	crm.Create("alice@example.com", "contact", "", sdk.Fields{"given_name": sdk.String("Ada"), "surname": sdk.String("Lovelace")})
	crm.Create("agent@example.com", "service_appointment", "", sdk.Fields{"subject": sdk.String("Repair"),
		"resources": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("alice@example.com")}))})
	// Before the gateway ever ran, and again after a run with new changes.
	for round := 0; round < 2; round++ {
		code, out, errOut := run(t, "plan", "-config", cfg)
		if code != 0 || !strings.Contains(out, "create  contact              on mail alice@example.com: Ada Lovelace") ||
			!strings.Contains(out, "plan: 2 to create") || !strings.Contains(out, "nothing was written") {
			t.Fatalf("round %d plan: %d\n%s%s", round, code, out, errOut)
		}
		mail := must(dirconnector.Open(filepath.Join(dir, "mailboxes")))
		if items := must(mail.List("", "contact")); len(items) != round {
			t.Fatalf("round %d: the plan wrote to the mailbox: %d contacts", round, len(items))
		}
		if round == 0 {
			if code, out, errOut := run(t, "run", "--once", "-config", cfg); code != 0 {
				t.Fatalf("run: %s%s", out, errOut)
			}
			crm.Create("alice@example.com", "contact", "", sdk.Fields{"given_name": sdk.String("Ada"), "surname": sdk.String("Lovelace")})
			crm.Create("agent@example.com", "service_appointment", "", sdk.Fields{"subject": sdk.String("Repair"),
				"resources": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("alice@example.com")}))})
		}
	}
}

func TestReloadOnSIGHUP(t *testing.T) {
	cfg, _, _ := setupConfig(t, `  on_blocked = "report"`)
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := lis.Addr().String()
	lis.Close()
	src := string(must(os.ReadFile(cfg)))
	src = strings.Replace(src, `data_dir   = "data"`, `data_dir   = "data"
  admin_listen = "`+addr+`"`, 1)
	src = strings.Replace(src, `dir = "mailboxes"`, `dir = "mailboxes"
  poll_interval = "200ms"`, 1)
	src = strings.Replace(src, `dir = "crm"`, `dir = "crm"
  poll_interval = "200ms"`, 1)
	src += "\npolicy \"contact\" {\n  tracking {\n    mode = \"all\"\n  }\n}\n"
	os.WriteFile(cfg, []byte(src), 0o644)
	dir := filepath.Dir(cfg)
	crm := must(dirconnector.Open(filepath.Join(dir, "crm")))
	mail := must(dirconnector.Open(filepath.Join(dir, "mailboxes")))
	crm.Create("alice@example.com", "contact", "", sdk.Fields{"surname": sdk.String("For Alice")})
	crm.Create("bob@example.com", "contact", "", sdk.Fields{"surname": sdk.String("For Bob")})

	gate := filepath.Join(t.TempDir(), "syncgate")
	if out, err := exec.Command("go", "build", "-o", gate, "../cmd/syncgate").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(gate, "run", "-config", cfg)
	var logs testplugins.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s:\n%s", what, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	count := func(scope string) int { return len(must(mail.List(scope, "contact"))) }
	waitFor("alice's contact", func() bool { return count("alice@example.com") == 1 })
	if count("bob@example.com") != 0 {
		t.Fatal("bob is not bound yet, but got his contact")
	}

	// A broken config is refused, and the gateway goes on.
	os.WriteFile(cfg, []byte(src+"\nbinding \"bob\" {\n  mailbox = \n}\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the refusal in the log", func() bool { return strings.Contains(logs.String(), "configuration not reloaded") })
	crm.Create("alice@example.com", "contact", "", sdk.Fields{"surname": sdk.String("Also For Alice")})
	waitFor("alice's second contact", func() bool { return count("alice@example.com") == 2 })

	// A good one binds bob without a restart.
	os.WriteFile(cfg, []byte(src+"\nbinding \"bob\" {\n  mailbox  = \"bob@example.com\"\n  crm_user = \"bob@example.com\"\n}\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the reload", func() bool { return strings.Contains(logs.String(), "configuration reloaded: bindings=2") })
	waitFor("bob's contact", func() bool { return count("bob@example.com") == 1 })
	if count("alice@example.com") != 2 || len(must(crm.List("", "contact"))) != 3 {
		t.Fatalf("after the reload: alice %d, CRM %d", count("alice@example.com"), len(must(crm.List("", "contact"))))
	}
	if strings.Count(logs.String(), "connector started") != 2 {
		t.Fatalf("unchanged endpoints were restarted by the reload:\n%s", logs.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs.String())
	}
}

// TestPropagateThatCannotFlow: deletes set to propagate from the mailbox,
// while the mailbox connector's default keeps mailbox deletes from flowing,
// is an error that says how to fix it; with the delete direction opened it
// validates.
func TestPropagateThatCannotFlow(t *testing.T) {
	cfg, _, _ := setupConfig(t, `  on_blocked = "report"`)
	base := string(must(os.ReadFile(cfg)))
	os.WriteFile(cfg, []byte(base+"\npolicy \"contact\" {\n  deletes {\n    from_mailbox = \"propagate\"\n  }\n}\n"), 0o644)
	code, _, errOut := run(t, "validate", "-config", cfg)
	want := `:26:20: error: Deletes cannot propagate: deletes { from_mailbox = "propagate" } for contact cannot take effect for binding "alice": its deletes flow crm_to_mailbox`
	if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, `operation "delete" { direction = "bidirectional" }`) {
		t.Fatalf("validate: %d\n%s\nwant %s", code, errOut, want)
	}
	os.WriteFile(cfg, []byte(base+"\npolicy \"contact\" {\n  operation \"delete\" {\n    direction = \"bidirectional\"\n  }\n  deletes {\n    from_mailbox = \"propagate\"\n  }\n}\n"), 0o644)
	if code, out, errOut := run(t, "validate", "-config", cfg); code != 0 {
		t.Fatalf("validate with the delete direction opened: %s%s", out, errOut)
	}
}
