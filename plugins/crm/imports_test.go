package crm_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoEmulatorImport keeps the connector and the emulator apart: they are
// written from the documentation separately so that they cannot agree on a
// mistake, and the connector's code must never lean on the emulator's.
func TestNoEmulatorImport(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./", "./cmd/crm").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list gave too few dependencies to be believed: %v", deps)
	}
	for _, d := range deps {
		if strings.Contains(d, "/plugins/crm/dataverseemu") || strings.Contains(d, "/cmd/dataverse-emulator") {
			t.Errorf("the connector depends on the emulator (%s)", d)
		}
	}
}
