package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/internal/testplugins"
)

func TestReadSetupTakesEverythingFromTheConfig(t *testing.T) {
	a := freeAddrs(t)
	path, dataDir := testConfig(t, a)
	s, err := readSetup(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.DataDir != dataDir || s.AdminListen != a.admin {
		t.Errorf("data_dir %q, admin %q; want %q, %q", s.DataDir, s.AdminListen, dataDir, a.admin)
	}
	if s.Graph.Listen != a.graph || s.Graph.TokenURL != "http://"+a.graph+"/contoso/oauth2/v2.0/token" || s.Graph.APIURL != "http://"+a.graph+"/v1.0" {
		t.Errorf("graph backend %+v", s.Graph)
	}
	if s.CRM.Listen != a.crm || s.CRM.Scope != "http://"+a.crm+"/.default" || s.CRM.ClientSecret != "syncgate-emulator-secret" {
		t.Errorf("crm backend %+v", s.CRM)
	}
	var names []string
	for _, u := range s.Users {
		names = append(names, u.Binding)
		if u.Mailbox != u.Binding+"@contoso.example" || u.CRMUser != u.Mailbox {
			t.Errorf("user %+v", u)
		}
	}
	if !slices.Equal(names, []string{"alice", "bob", "carol"}) {
		t.Errorf("users %v, want alice, bob, carol", names)
	}
	if !slices.Equal(s.Entities, []string{"appointment", "contact", "service_appointment", "task"}) {
		t.Errorf("entities %v", s.Entities)
	}
}

func TestReadSetupRefusesWhatIsNotAnEmulator(t *testing.T) {
	a := freeAddrs(t)
	for _, tc := range []struct {
		name  string
		edits []string
		want  string
	}{
		{"a real Graph", []string{`graph_url     = "http://` + a.graph + `/v1.0"`, `graph_url     = "https://graph.microsoft.com/v1.0"`}, `graph_url = "https://graph.microsoft.com/v1.0" is not an emulator's address`},
		{"a token endpoint elsewhere", []string{`authority_url = "http://` + a.crm + `"`, `authority_url = "https://login.microsoftonline.com"`}, "authority_url = \"https://login.microsoftonline.com\" must be the emulator's own address"},
		{"an invalid config", []string{`conflict  = "newest_wins"`, `conflict  = "latest"`}, "is not a valid config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := testConfig(t, a, tc.edits...)
			_, err := readSetup(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestReadSetupWithoutBuiltConnectors(t *testing.T) {
	path, _ := testConfig(t, freeAddrs(t), `plugin_dir   = "`, `plugin_dir   = "/nonexistent`)
	_, err := readSetup(path)
	if err == nil || !strings.Contains(err.Error(), "run `make build` first") {
		t.Fatalf("got %v, want a hint to run make build", err)
	}
}

// The README shows the commands the quick start prints, as they are
// printed for the config's own ports.
func TestReadmeShowsThePrintedCommands(t *testing.T) {
	path, _ := testConfig(t, addrs{"127.0.0.1:9101", "127.0.0.1:9102", "127.0.0.1:9700"})
	s, err := readSetup(path)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(testplugins.ModuleRoot(), "examples", "quickstart", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, cmd := range strings.Split(tryCommands(s), "\n") {
		if cmd == "" || strings.HasPrefix(cmd, "#") {
			continue
		}
		n++
		if !strings.Contains(string(readme), cmd) {
			t.Errorf("README.md lacks the command\n%s", cmd)
		}
	}
	if n < 6 {
		t.Errorf("only %d commands printed", n)
	}
}
