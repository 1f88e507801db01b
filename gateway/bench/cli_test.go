package bench_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/gateway/cli"
)

// TestCommandWithoutBuild: `syncgate bench` from a folder without the
// emulators and plugins says what is missing and exits 1.
func TestCommandWithoutBuild(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := cli.Main([]string{"bench", "-syncgate", filepath.Join(dir, "syncgate"), "-contacts", "5"}, &out, &errOut)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"syncgate: bench: ", "graph-emulator is not at " + filepath.Join(dir, "graph-emulator"), "run `make build`, or name it with a flag"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q, want nothing", out.String())
	}
}

// TestCommandFlags: every phase can be shrunk from the command line, with
// the sizes as defaults.
func TestCommandFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := cli.Main([]string{"bench", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"--contacts int", "(default 20000)", "--appointments int", "--bindings int", "(default 20)",
		"--edits int", "(default 200)", "--idle-bindings int", "(default 10000)", "--idle-for duration", "(default 1m0s)",
		"--crm-poll duration", "--graph-emulator string", "--dataverse-emulator string", "--plugin-dir string", "--work-dir string"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}
