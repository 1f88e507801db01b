package testplugins

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBoundaries keeps the folder boundaries of the design: the SDK
// never depends on the gateway, and a connector author's code (the example
// connector) sees only package sdk, never go-plugin, gRPC or hclog.
func TestImportBoundaries(t *testing.T) {
	list := func(format string, pkgs ...string) []string {
		t.Helper()
		cmd := exec.Command("go", append([]string{"list", "-f", format}, pkgs...)...)
		cmd.Dir = ModuleRoot()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		return strings.Fields(string(out))
	}
	for _, dep := range list(`{{join .Deps " "}}`, "./sdk/...") {
		if strings.HasPrefix(dep, "github.com/syncgate/syncgate/gateway") {
			t.Errorf("sdk depends on %s", dep)
		}
	}
	for _, imp := range list(`{{join .Imports " "}}`, "./examples/dirconnector", "./examples/dirconnector/cmd/...") {
		for _, banned := range []string{"github.com/hashicorp/go-plugin", "google.golang.org/grpc", "github.com/hashicorp/go-hclog", "github.com/syncgate/syncgate/sdk/protocol", "github.com/syncgate/syncgate/gateway"} {
			if strings.HasPrefix(imp, banned) {
				t.Errorf("the example connector imports %s: authors should need only package sdk", imp)
			}
		}
	}
}
