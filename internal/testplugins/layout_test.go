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
	deps := list(`{{join .Deps " "}}`, "./sdk/...")
	if !contains(deps, "github.com/hashicorp/go-plugin") {
		t.Fatalf("go list gave no dependencies of sdk that include go-plugin: %v", deps)
	}
	for _, dep := range deps {
		if strings.HasPrefix(dep, "github.com/syncgate/syncgate/gateway") {
			t.Errorf("sdk depends on %s", dep)
		}
	}
	imports := list(`{{join .Imports " "}}`, "./examples/dirconnector", "./examples/dirconnector/cmd/...")
	if !contains(imports, "github.com/syncgate/syncgate/sdk") {
		t.Fatalf("go list gave no imports of the example connector: %v", imports)
	}
	for _, imp := range imports {
		for _, banned := range []string{"github.com/hashicorp/go-plugin", "google.golang.org/grpc", "github.com/hashicorp/go-hclog", "github.com/syncgate/syncgate/sdk/protocol", "github.com/syncgate/syncgate/gateway"} {
			if strings.HasPrefix(imp, banned) {
				t.Errorf("the example connector imports %s: authors should need only package sdk", imp)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
