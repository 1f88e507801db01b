// Package golden compares test output with a file kept beside the test
// input, and rewrites the file when the test runs with -update.
package golden

import (
	"flag"
	"os"
	"testing"
)

// Update is the -update flag of every test binary that uses this package.
var Update = flag.Bool("update", false, "rewrite golden files with the output of this run")

// Check compares got with the golden file at path (rewriting it first under
// -update). how tells a reader how to regenerate it.
func Check(t *testing.T, path, got, how string) {
	t.Helper()
	if *Update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run: %s)", err, how)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (if the change is right, run: %s)\ngot:\n%s\nwant:\n%s", path, how, got, want)
	}
}
