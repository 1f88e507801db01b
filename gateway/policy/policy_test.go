package policy_test

import (
	"path/filepath"
	"testing"

	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/gateway/policy"
	"github.com/syncgate/syncgate/internal/golden"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// load reads testdata/syncgate.hcl and resolves it against the test
// manifests, with a relative path so that the output is stable.
func load(t *testing.T) *config.Config {
	t.Helper()
	t.Setenv("SYNCGATE_TEST_SECRET", "s3cret")
	cfg, diags := config.Parse("testdata/syncgate.hcl")
	if cfg == nil {
		t.Fatal(manifest.FormatDiagnostics(diags))
	}
	manifests := map[string]*manifest.Manifest{}
	for _, name := range []string{"mailbox", "crm"} {
		m, ds := manifest.ParseFile(filepath.Join("..", "config", "testdata", "manifests", name+".hcl"))
		if ds.HasErrors() {
			t.Fatal(manifest.FormatDiagnostics(ds))
		}
		manifests[m.Name] = m
	}
	diags = append(diags, cfg.Resolve(manifests)...)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", manifest.FormatDiagnostics(diags))
	}
	return cfg
}

// TestExplainGolden compares Explain with testdata/<binding>_<entity>.golden.
func TestExplainGolden(t *testing.T) {
	cfg := load(t)
	for _, tt := range []struct{ binding, entity string }{
		{"alice", "contact"},
		{"alice", "appointment"},
		{"alice", "service_appointment"},
		{"bob", "task"},
		{"bob", "email"},
	} {
		name := tt.binding + "_" + tt.entity
		t.Run(name, func(t *testing.T) {
			r, err := policy.Effective(cfg, tt.binding, tt.entity)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Explain()
			golden.Check(t, filepath.Join("testdata", name+".golden"), got, "go test ./gateway/policy -update")
		})
	}
}

func TestEffectiveErrors(t *testing.T) {
	cfg := load(t)
	tests := []struct{ binding, entity, want string }{
		{"carol", "contact", `no binding "carol": the bindings are alice, bob`},
		{"alice", "invoice", `binding "alice" syncs no entity "invoice": its connectors test-mailbox and test-crm declare appointment, contact, email, service_appointment, task`},
	}
	for _, tt := range tests {
		_, err := policy.Effective(cfg, tt.binding, tt.entity)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Effective(%s, %s) error = %v, want %q", tt.binding, tt.entity, err, tt.want)
		}
	}

	// Before Resolve the endpoints have no manifests to compute from.
	t.Setenv("SYNCGATE_TEST_SECRET", "s3cret")
	raw, _ := config.Parse("testdata/syncgate.hcl")
	raw.Binding("alice").MailboxEndpoint, raw.Binding("alice").CRMEndpoint = "mail", "crm"
	_, err := policy.Effective(raw, "alice", "contact")
	if want := `binding "alice": its endpoints are not resolved against the connectors' manifests`; err == nil || err.Error() != want {
		t.Errorf("unresolved: error = %v, want %q", err, want)
	}

	empty := &config.Config{Filename: "empty.hcl"}
	if _, err := policy.Effective(empty, "alice", "contact"); err == nil || err.Error() != `no binding "alice": empty.hcl has no bindings` {
		t.Errorf("no bindings: error = %v", err)
	}
}

// TestEffectiveParts checks the rule's values, which the engine reads, and
// not only their rendering.
func TestEffectiveParts(t *testing.T) {
	cfg := load(t)
	r, err := policy.Effective(cfg, "alice", "appointment")
	if err != nil {
		t.Fatal(err)
	}
	const (
		c2m  = manifest.CRMToMailbox
		none = manifest.None
	)
	got := map[string]manifest.Direction{
		"entity": r.Direction.Direction, "create": r.Ops["create"].Direction, "update": r.Ops["update"].Direction,
		"delete": r.Ops["delete"].Direction, "body": r.FieldDirection("body"), "categories": r.FieldDirection("categories"),
		"subject": r.FieldDirection("subject"),
	}
	want := map[string]manifest.Direction{
		"entity": c2m, "create": c2m, "update": c2m, "delete": c2m, "body": c2m, "categories": none, "subject": c2m,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %s, want %s", k, got[k], w)
		}
	}
	if len(r.Ops) != 3 || len(r.Fields) != 2 {
		t.Errorf("Ops %v, Fields %v", r.Ops, r.Fields)
	}
	if r.Conflict != (policy.Choice{Value: "newest_wins", Source: policy.SourceDefault}) {
		t.Errorf("Conflict = %+v", r.Conflict)
	}

	r, err = policy.Effective(cfg, "alice", "contact")
	if err != nil {
		t.Fatal(err)
	}
	wantTracking := policy.Tracking{
		Mode:  policy.Choice{Value: "folder", Source: "policy (testdata/syncgate.hcl:28:5)"},
		Value: policy.Choice{Value: "CRM", Source: "policy (testdata/syncgate.hcl:29:5)"},
	}
	if r.Tracking != wantTracking {
		t.Errorf("Tracking = %+v, want %+v", r.Tracking, wantTracking)
	}
	wantDeletes := policy.Deletes{
		FromCRM:     policy.Choice{Value: "propagate", Source: policy.SourceDefault},
		FromMailbox: policy.Choice{Value: "propagate", Source: "policy (testdata/syncgate.hcl:33:5)"},
		MaxShare:    policy.Choice{Value: "0.5", Source: policy.SourceDefault},
		Share:       0.5,
	}
	if r.Deletes != wantDeletes {
		t.Errorf("Deletes = %+v, want %+v", r.Deletes, wantDeletes)
	}
}
