package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/internal/golden"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// The secret that the test configs read with env(); the unset variable is
// what env_unset.hcl asks for.
const (
	secretVar = "SYNCGATE_TEST_SECRET"
	secret    = "s3cret-from-env"
	unsetVar  = "SYNCGATE_TEST_UNSET"
)

func setEnv(t *testing.T) {
	t.Setenv(secretVar, secret)
	t.Setenv(unsetVar, "") // restores the variable after the test
	os.Unsetenv(unsetVar)
}

// testManifests parses the test connectors in testdata/manifests.
func testManifests(t *testing.T) map[string]*manifest.Manifest {
	t.Helper()
	out := map[string]*manifest.Manifest{}
	for _, name := range []string{"mailbox", "crm"} {
		m, diags := manifest.ParseFile(filepath.Join("testdata", "manifests", name+".hcl"))
		if diags.HasErrors() {
			t.Fatalf("test manifest %s:\n%s", name, manifest.FormatDiagnostics(diags))
		}
		out[m.Name] = m
	}
	return out
}

// load parses and resolves a config, as `syncgate validate` does.
func load(t *testing.T, path string) (*config.Config, hcl.Diagnostics) {
	t.Helper()
	cfg, diags := config.Parse(path)
	if cfg != nil {
		diags = append(diags, cfg.Resolve(testManifests(t))...)
	}
	return cfg, diags
}

// TestGolden runs every testdata/*.hcl through Parse and Resolve and
// compares the rendered diagnostics with the .golden file beside it, byte
// for byte. An empty golden file means no diagnostic at all.
func TestGolden(t *testing.T) {
	setEnv(t)
	files, err := filepath.Glob("testdata/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.hcl: %v", err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".hcl")
		t.Run(name, func(t *testing.T) {
			_, diags := load(t, path)
			got := manifest.FormatDiagnostics(diags)
			if strings.Contains(got, secret) || strings.Contains(got, "s3cret-from-file") || strings.Contains(got, "hunter2") {
				t.Errorf("a diagnostic shows a secret:\n%s", got)
			}
			golden.Check(t, strings.TrimSuffix(path, ".hcl")+".golden", got, "go test ./gateway/config -run TestGolden -update")
		})
	}
}

func TestParseMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syncgate.hcl")
	cfg, diags := config.Parse(path)
	want := "error: Cannot read the configuration: open " + path + ": no such file or directory.\n"
	if got := manifest.FormatDiagnostics(diags); cfg != nil || got != want {
		t.Errorf("got %v, %q; want nil, %q", cfg, got, want)
	}
}

// writeConfig writes a config and the files it names into a fresh folder.
func writeConfig(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "syncgate.hcl")
}

const minimal = `
endpoint "test-mailbox" "mail" {
  tenant_id     = "contoso"
  client_id     = "app"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

endpoint "test-crm" "crm" {
  url           = "https://org.example.com"
  client_secret = file("secret.txt")
}

binding "alice" {
  mailbox  = "alice@example.com"
  crm_user = "alice@example.com"
}
`

func mustLoad(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, diags := load(t, path)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", manifest.FormatDiagnostics(diags))
	}
	return cfg
}

func TestDefaults(t *testing.T) {
	setEnv(t)
	path := writeConfig(t, map[string]string{"syncgate.hcl": minimal, "secret.txt": "s3cret-from-file\n"})
	dir := filepath.Dir(path)
	cfg := mustLoad(t, path)

	wantGateway := config.Gateway{
		DataDir:            filepath.Join(dir, "data"),
		PluginDir:          filepath.Join(dir, "plugins"),
		LockFile:           filepath.Join(dir, "connectors.lock.hcl"),
		LogLevel:           "info",
		AdminListen:        "127.0.0.1:9700",
		TombstoneRetention: 30 * 24 * time.Hour,
	}
	if cfg.Gateway != wantGateway {
		t.Errorf("Gateway = %+v, want %+v", cfg.Gateway, wantGateway)
	}
	if cfg.Filename != path || cfg.Dir != dir {
		t.Errorf("Filename, Dir = %q, %q", cfg.Filename, cfg.Dir)
	}

	mail := cfg.Endpoint("mail")
	if mail.PollInterval != 60*time.Second || mail.CallTimeout != 30*time.Second || mail.MaxConcurrency != 8 || mail.ScopeConcurrency != 4 {
		t.Errorf("reserved defaults = %v %v %d", mail.PollInterval, mail.CallTimeout, mail.MaxConcurrency)
	}
	wantMail := sdk.Fields{
		"tenant_id":     sdk.String("contoso"),
		"client_id":     sdk.String("app"),
		"client_secret": sdk.String(secret),
		"cache_dir":     sdk.String(filepath.Join(dir, "cache")),
		"page_size":     sdk.Int(50),
		"immutable_ids": sdk.Bool(true),
		"folders":       sdk.Strings("Calendar", "Contacts"),
	}
	if !mail.Settings.Equal(wantMail) {
		t.Errorf("mail settings = %v, want %v", mail.Settings, wantMail)
	}
	crm := cfg.Endpoint("crm")
	wantCRM := sdk.Fields{
		"url":           sdk.String("https://org.example.com"),
		"client_secret": sdk.String("s3cret-from-file"),
		"api_version":   sdk.String("9.2"),
	}
	if !crm.Settings.Equal(wantCRM) {
		t.Errorf("crm settings = %v, want %v", crm.Settings, wantCRM)
	}
	if mail.Manifest == nil || mail.Manifest.Name != "test-mailbox" || mail.Kind() != "mailbox" || crm.Kind() != "crm" {
		t.Error("Resolve did not set the endpoints' manifests")
	}
	if mail.Range.Filename != path || mail.Range.Start.Line != 2 {
		t.Errorf("mail.Range = %v", mail.Range)
	}

	// The binding's endpoints are filled in: there is one of each kind.
	b := cfg.Binding("alice")
	if b.MailboxEndpoint != "mail" || b.CRMEndpoint != "crm" {
		t.Errorf("binding endpoints = %q, %q", b.MailboxEndpoint, b.CRMEndpoint)
	}
	if got := cfg.Pairs(); len(got) != 1 || got[0].Mailbox != mail || got[0].CRM != crm {
		t.Errorf("Pairs() = %v", got)
	}
	if cfg.Endpoint("nope") != nil || cfg.Binding("nope") != nil || cfg.Policy("contact") != nil {
		t.Error("lookups of what is not there are not nil")
	}
}

// TestSettings covers explicit values of every type, including the
// reserved settings and a fractional number.
func TestSettings(t *testing.T) {
	setEnv(t)
	path := writeConfig(t, map[string]string{"syncgate.hcl": `
endpoint "test-mailbox" "mail" {
  tenant_id       = "contoso"
  client_id       = "app"
  client_secret   = "${env("SYNCGATE_TEST_SECRET")}-suffix"
  cert_file       = "/etc/syncgate/cert.pem"
  cache_dir       = "../cache"
  page_size       = 2.5
  immutable_ids   = false
  folders         = ["Inbox"]
  headers         = { "X-Trace" = "1" }
  poll_interval   = "1m30s"
  call_timeout    = "5s"
  max_concurrency = 2
  scope_concurrency = 1
}
`})
	cfg := mustLoad(t, path)
	e := cfg.Endpoint("mail")
	want := sdk.Fields{
		"tenant_id":     sdk.String("contoso"),
		"client_id":     sdk.String("app"),
		"client_secret": sdk.String(secret + "-suffix"),
		"cert_file":     sdk.String("/etc/syncgate/cert.pem"),
		"cache_dir":     sdk.String(filepath.Join(filepath.Dir(filepath.Dir(path)), "cache")),
		"page_size":     sdk.Float(2.5),
		"immutable_ids": sdk.Bool(false),
		"folders":       sdk.Strings("Inbox"),
		"headers":       sdk.Map(map[string]sdk.Value{"X-Trace": sdk.String("1")}),
	}
	if !e.Settings.Equal(want) {
		t.Errorf("settings = %v, want %v", e.Settings, want)
	}
	if e.PollInterval != 90*time.Second || e.CallTimeout != 5*time.Second || e.MaxConcurrency != 2 || e.ScopeConcurrency != 1 {
		t.Errorf("reserved = %v %v %d %d", e.PollInterval, e.CallTimeout, e.MaxConcurrency, e.ScopeConcurrency)
	}
	// The secret arrives through env() inside a template: no warning.
	if !e.Sensitive("client_secret") || e.Sensitive("tenant_id") {
		t.Error("Sensitive is wrong")
	}
}

func TestGatewayPaths(t *testing.T) {
	abs := filepath.Join(t.TempDir(), "plugins")
	path := writeConfig(t, map[string]string{"conf/syncgate.hcl": fmt.Sprintf(`
gateway {
  data_dir     = "../var/data"
  plugin_dir   = %q
  lock_file    = "./locks/connectors.lock.hcl"
  log_level    = "warn"
  admin_listen = "[::1]:8080"
  tombstone_retention = "7d"
}
`, abs)})
	path = filepath.Join(filepath.Dir(path), "conf", "syncgate.hcl")
	cfg, diags := config.Parse(path)
	if len(diags) > 0 {
		t.Fatal(manifest.FormatDiagnostics(diags))
	}
	dir := filepath.Dir(path)
	want := config.Gateway{
		DataDir:            filepath.Join(filepath.Dir(dir), "var", "data"),
		PluginDir:          abs,
		LockFile:           filepath.Join(dir, "locks", "connectors.lock.hcl"),
		LogLevel:           "warn",
		AdminListen:        "[::1]:8080",
		TombstoneRetention: 7 * 24 * time.Hour,
	}
	if cfg.Gateway != want {
		t.Errorf("Gateway = %+v, want %+v", cfg.Gateway, want)
	}
}

func TestBadRetention(t *testing.T) {
	for _, bad := range []string{"7x", "-1d", "d", "1.5d"} {
		path := writeConfig(t, map[string]string{"syncgate.hcl": fmt.Sprintf("gateway {\n  tombstone_retention = %q\n}\n", bad)})
		_, diags := config.Parse(path)
		if out := manifest.FormatDiagnostics(diags); !strings.Contains(out, ":2:25: error: Invalid tombstone_retention") || !strings.Contains(out, `"30d"`) {
			t.Errorf("%q: %s", bad, out)
		}
	}
}

// TestRelativeConfigPath keeps the gateway's paths relative when the
// config's path is: the diagnostics and the explain output stay short and
// stable.
func TestRelativeConfigPath(t *testing.T) {
	setEnv(t)
	cfg := mustLoad(t, "testdata/valid.hcl")
	if cfg.Gateway.DataDir != "testdata/data" || cfg.Gateway.PluginDir != "testdata/manifests" || cfg.Gateway.LockFile != "testdata/connectors.lock.hcl" {
		t.Errorf("Gateway = %+v", cfg.Gateway)
	}
	// A path setting is absolute all the same: the connector does not run
	// in the gateway's working directory.
	cache, err := filepath.Abs("testdata/cache")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Endpoint("mail").Settings["cache_dir"]; got.Str() != cache {
		t.Errorf("cache_dir = %v, want %q", got, cache)
	}
	if got := cfg.Endpoint("mail").PollInterval; got != 15*time.Second {
		t.Errorf("poll_interval = %v", got)
	}
	pol := cfg.Policy("service_appointment")
	if pol == nil || pol.Direction.Direction() != manifest.CRMToMailbox || pol.OnBlocked.Value != "revert" || pol.Conflict != nil {
		t.Fatalf("policy = %+v", pol)
	}
	if got := config.Where(pol.OnBlocked.Range); got != "testdata/valid.hcl:27:3" {
		t.Errorf("on_blocked range = %s", got)
	}
	if got := config.Where(pol.OnBlocked.ValueRange); got != "testdata/valid.hcl:27:16" {
		t.Errorf("on_blocked value range = %s", got)
	}
}

func TestEnvAndFile(t *testing.T) {
	setEnv(t)
	abs := filepath.Join(t.TempDir(), "abs.txt")
	if err := os.WriteFile(abs, []byte("from-abs\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, expr string
		files      map[string]string
		want       string
	}{
		{"env", `env("SYNCGATE_TEST_SECRET")`, nil, secret},
		{"file trims one newline", `file("s.txt")`, map[string]string{"s.txt": "line\n\n"}, "line\n"},
		{"file without newline", `file("s.txt")`, map[string]string{"s.txt": "plain"}, "plain"},
		{"file in a subfolder", `file("secrets/s.txt")`, map[string]string{"secrets/s.txt": "deep\n"}, "deep"},
		{"file with an absolute path, CRLF", fmt.Sprintf("file(%q)", abs), nil, "from-abs"},
		{"env empty but set", `env("SYNCGATE_TEST_EMPTY")`, nil, ""},
	}
	t.Setenv("SYNCGATE_TEST_EMPTY", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"syncgate.hcl": fmt.Sprintf(`
endpoint "test-crm" "crm" {
  url           = "https://org.example.com"
  client_secret = %s
}
`, tt.expr)}
			for k, v := range tt.files {
				files[k] = v
			}
			cfg := mustLoad(t, writeConfig(t, files))
			if got := cfg.Endpoint("crm").Settings["client_secret"].Str(); got != tt.want {
				t.Errorf("client_secret = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	setEnv(t)
	path := writeConfig(t, map[string]string{"syncgate.hcl": minimal, "secret.txt": "s3cret-from-file\n"})
	cfg := mustLoad(t, path)
	mail := cfg.Endpoint("mail")
	want := map[string]string{
		"tenant_id":     "contoso",
		"client_id":     "app",
		"client_secret": "(sensitive)",
		"cache_dir":     filepath.Join(filepath.Dir(path), "cache"),
		"page_size":     "50",
		"immutable_ids": "true",
		"folders":       `["Calendar", "Contacts"]`,
	}
	if got := mail.Redacted(); !reflect.DeepEqual(got, want) {
		t.Errorf("Redacted() = %v, want %v", got, want)
	}
	if got := cfg.Endpoint("crm").Redacted()["client_secret"]; got != "(sensitive)" {
		t.Errorf("crm client_secret = %q", got)
	}
	// Printing an endpoint by mistake, in any form, shows no secret.
	for _, e := range cfg.Endpoints {
		for _, s := range []string{fmt.Sprint(e), fmt.Sprintf("%v %+v %#v %s", e, e, e, e)} {
			if strings.Contains(s, secret) || strings.Contains(s, "s3cret-from-file") {
				t.Errorf("printed endpoint shows its secret: %s", s)
			}
		}
	}
	if got, want := fmt.Sprint(cfg.Endpoint("crm")), `endpoint "crm" (test-crm) {api_version=9.2, client_secret=(sensitive), url=https://org.example.com}`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

// TestNoBindings checks policies against every mailbox × CRM endpoint pair
// when there is no binding.
func TestNoBindings(t *testing.T) {
	setEnv(t)
	path := writeConfig(t, map[string]string{"syncgate.hcl": `
endpoint "test-mailbox" "mail" {
  tenant_id     = "contoso"
  client_id     = "app"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

endpoint "test-crm" "crm" {
  url           = "https://org.example.com"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

endpoint "test-crm" "crm2" {
  url           = "https://org2.example.com"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

policy "service_appointment" {
  direction = "mailbox_to_crm"
}
`})
	cfg, diags := load(t, path)
	if got := len(cfg.Pairs()); got != 2 {
		t.Errorf("%d pairs, want 2", got)
	}
	// Both pairs share the CRM connector's manifest: one error, not two.
	want := path + `:19:15: error: Direction beyond what the manifests allow: policy "service_appointment" sets direction "mailbox_to_crm", but connector "test-crm" allows only "crm_to_mailbox" (testdata/manifests/crm.hcl:71:3: "Scheduled by an agent with resource free/busy that lives only in the CRM.").` + "\n"
	if got := manifest.FormatDiagnostics(diags); got != want {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", got, want)
	}
}

// TestBindingsFileAtScale reads 10,000 bindings from a CSV file beside the
// binding blocks.
func TestBindingsFileAtScale(t *testing.T) {
	setEnv(t)
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("name,crm_user,mailbox\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&csv, "user%05d,user%05d@example.com,user%05d@example.com\n", i, i, i)
	}
	os.WriteFile(filepath.Join(dir, "bindings.csv"), []byte(csv.String()), 0o644)
	src, _ := os.ReadFile("testdata/bindings_file.hcl")
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o755)
	os.WriteFile(filepath.Join(dir, "secrets", "crm.txt"), []byte("s3cret-from-file\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "syncgate.hcl"), src, 0o644)
	cfg, diags := load(t, filepath.Join(dir, "syncgate.hcl"))
	if diags.HasErrors() {
		t.Fatal(manifest.FormatDiagnostics(diags))
	}
	if len(cfg.Bindings) != 10001 {
		t.Fatalf("%d bindings, want 10,001", len(cfg.Bindings))
	}
	b := cfg.Binding("user09999")
	if b == nil || b.Mailbox != "user09999@example.com" || b.MailboxEndpoint != "mail" || b.CRMEndpoint != "crm" {
		t.Fatalf("binding %+v", b)
	}
}
