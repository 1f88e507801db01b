package graphemu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// notServed are the fixtures about what the emulator does not serve.
var notServed = map[string]string{
	"messages-delta-changetype-next-round.json":  "mail is not emulated",
	"messages-delta-changetype-page1.json":       "mail is not emulated",
	"messages-delta-changetype-page2-final.json": "mail is not emulated",
	"messages-delta-next-round-removed.json":     "mail is not emulated",
	"messages-delta-page1.json":                  "mail is not emulated",
	"messages-delta-page2.json":                  "mail is not emulated",
	"messages-delta-page3-final.json":            "mail is not emulated",
}

// TestEveryFixtureIsReplayed keeps the list honest: each file of
// ../shared/fixtures/graph is either replayed by a test of this package
// (named there in quotes) or listed in notServed with a reason.
func TestEveryFixtureIsReplayed(t *testing.T) {
	dir := filepath.Join(fixtureDir(t), "graph")
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sources strings.Builder
	tests, _ := filepath.Glob("*_test.go")
	for _, f := range tests {
		if f == "fixtures_test.go" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources.Write(data)
	}
	for _, f := range files {
		name := f.Name()
		_, skipped := notServed[name]
		replayed := strings.Contains(sources.String(), `"`+name+`"`)
		switch {
		case replayed && skipped:
			t.Errorf("%s is replayed and also listed as not served", name)
		case !replayed && !skipped:
			t.Errorf("%s is neither replayed by a test nor listed as not served", name)
		}
	}
}
