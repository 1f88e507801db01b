package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/examples/dirconnector"
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
	if code, out, _ := run(t, "resume", "alice", "--allow-deletes", "-config", cfg); code != 0 || !strings.Contains(out, "deletes pass the mass-delete guard for the next hour") {
		t.Fatalf("resume: %s", out)
	}
	if _, out, _ := run(t, "status", "-config", cfg); !strings.Contains(out, "alice") || !strings.Contains(out, "active") {
		t.Fatalf("status after resume: %s", out)
	}
}
