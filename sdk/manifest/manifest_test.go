package manifest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/syncgate/syncgate/internal/golden"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// TestGolden parses every testdata/*.hcl and compares the rendered
// diagnostics with the .golden file beside it, byte for byte. A manifest
// whose golden file is empty must parse without any diagnostic.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.hcl")
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".hcl")
		t.Run(name, func(t *testing.T) {
			m, diags := manifest.ParseFile(path)
			got := manifest.FormatDiagnostics(diags)
			golden.Check(t, strings.TrimSuffix(path, ".hcl")+".golden", got, "go test ./sdk/manifest -run TestGolden -update")
			// A manifest is returned exactly when there is no error.
			if (m == nil) != diags.HasErrors() {
				t.Errorf("manifest returned = %v with errors = %v", m != nil, diags.HasErrors())
			}
		})
	}
}

// TestValid checks what the parser makes of a manifest that uses every
// feature, including the defaults it fills in.
func TestValid(t *testing.T) {
	m, diags := manifest.ParseFile("testdata/valid.hcl")
	if len(diags) != 0 {
		t.Fatalf("unexpected diagnostics:\n%s", manifest.FormatDiagnostics(diags))
	}
	head := []string{m.Filename, m.Name, m.Version, m.Kind, m.Description, fmt.Sprint(m.Protocol)}
	wantHead := []string{"testdata/valid.hcl", "test-crm", "1.2.0", "crm", "CRM connector for the manifest tests", "[1 2]"}
	if !reflect.DeepEqual(head, wantHead) {
		t.Errorf("header = %q, want %q", head, wantHead)
	}

	var config []string
	for _, a := range m.Config {
		def := "-"
		if a.Default != cty.NilVal {
			def = a.Default.GoString()
		}
		config = append(config, fmt.Sprintf("%s %s required=%v sensitive=%v default=%s at %d:%d",
			a.Name, a.Type, a.Required, a.Sensitive, def, a.Range.Start.Line, a.Range.Start.Column))
	}
	wantConfig := []string{
		"url string required=true sensitive=false default=- at 9:3",
		"client_secret string required=true sensitive=true default=- at 14:3",
		"page_size number required=false sensitive=false default=cty.NumberIntVal(500) at 19:3",
		"cache_dir path required=false sensitive=false default=cty.StringVal(\"cache\") at 23:3",
		"verbose bool required=false sensitive=false default=cty.False at 27:3",
		"entities list(string) required=false sensitive=false default=cty.ListVal([]cty.Value{cty.StringVal(\"contact\"), cty.StringVal(\"service_appointment\")}) at 31:3",
		"headers map(string) required=false sensitive=false default=cty.MapVal(map[string]cty.Value{\"User-Agent\":cty.StringVal(\"syncgate\")}) at 35:3",
	}
	if !reflect.DeepEqual(config, wantConfig) {
		t.Errorf("config =\n%s\nwant\n%s", strings.Join(config, "\n"), strings.Join(wantConfig, "\n"))
	}
	if got := m.ConfigAttr("page_size").CtyType(); got != cty.Number {
		t.Errorf("page_size type = %#v", got)
	}
	if m.ConfigAttr("nope") != nil {
		t.Error("ConfigAttr(nope) != nil")
	}

	var entities []string
	for _, e := range m.Entities {
		entities = append(entities, fmt.Sprintf("%s ops=%v keys=%v feed=%s/%s at %d", e.Name, e.Operations, e.NaturalKeys, e.Feed, e.FeedName, e.Range.Start.Line))
		rules := append([]*manifest.Rule{&e.Direction}, append(e.OpRules, e.FieldRules...)...)
		for _, r := range rules {
			entities = append(entities, fmt.Sprintf("  %q %s/%s %q at %d:%d", r.Name, r.Allowed, r.Default, r.Reason, r.Range.Start.Line, r.Range.Start.Column))
		}
	}
	wantEntities := []string{
		"contact ops=[create update delete] keys=[emails] feed=endpoint/contact at 41",
		`  "" bidirectional/bidirectional "Contacts are edited on both sides." at 46:3`,
		`  "delete" bidirectional/crm_to_mailbox "A contact deleted in a mailbox is only untracked unless the operator says otherwise." at 51:3`,
		"service_appointment ops=[create update delete] keys=[] feed=endpoint/activities at 58",
		`  "" crm_to_mailbox/crm_to_mailbox "Scheduled by an agent with resource free/busy that lives only in the CRM." at 63:3`,
		`  "body" crm_to_mailbox/none "The description is written in the CRM." at 68:3`,
	}
	if !reflect.DeepEqual(entities, wantEntities) {
		t.Errorf("entities =\n%s\nwant\n%s", strings.Join(entities, "\n"), strings.Join(wantEntities, "\n"))
	}

	if got := m.EntityNames(); !reflect.DeepEqual(got, []string{"contact", "service_appointment"}) {
		t.Errorf("EntityNames() = %v", got)
	}
	if got := m.Feeds(); !reflect.DeepEqual(got, map[string]string{"contact": "endpoint", "activities": "endpoint"}) {
		t.Errorf("Feeds() = %v", got)
	}
	contact := m.Entity("contact")
	if contact.OpRule("delete") == nil || contact.OpRule("create") != nil || contact.FieldRule("emails") != nil {
		t.Error("OpRule/FieldRule lookups are wrong")
	}
	if !contact.Supports("delete") || m.Entity("service_appointment").Supports("move") {
		t.Error("Supports is wrong")
	}
	if m.Entity("task") != nil {
		t.Error("Entity(task) != nil")
	}
}

// TestParseFileMissing names the file that could not be read.
func TestParseFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connector.hcl")
	m, diags := manifest.ParseFile(path)
	want := "error: Cannot read manifest: open " + path + ": no such file or directory\n"
	if got := manifest.FormatDiagnostics(diags); m != nil || got != want {
		t.Errorf("got %v, %q; want nil, %q", m, got, want)
	}
}

func TestParseDirection(t *testing.T) {
	for _, d := range manifest.Directions {
		got, err := manifest.ParseDirection(string(d))
		if err != nil || got != d {
			t.Errorf("ParseDirection(%q) = %q, %v", d, got, err)
		}
	}
	for _, s := range []string{"", "Bidirectional", "both", "crm-to-mailbox"} {
		_, err := manifest.ParseDirection(s)
		want := fmt.Sprintf("%q is not a direction: use bidirectional, crm_to_mailbox, mailbox_to_crm or none", s)
		if err == nil || err.Error() != want {
			t.Errorf("ParseDirection(%q) error = %v, want %q", s, err, want)
		}
	}
}

// The four directions as sets of flows: bi = {toMailbox, toCRM}, c2m =
// {toMailbox}, m2c = {toCRM}, none = {}.
const (
	bi   = manifest.Bidirectional
	c2m  = manifest.CRMToMailbox
	m2c  = manifest.MailboxToCRM
	none = manifest.None
)

func TestDirectionFlows(t *testing.T) {
	tests := []struct {
		d                manifest.Direction
		toMailbox, toCRM bool
	}{
		{bi, true, true},
		{c2m, true, false},
		{m2c, false, true},
		{none, false, false},
	}
	for _, tt := range tests {
		if tt.d.ToMailbox() != tt.toMailbox || tt.d.ToCRM() != tt.toCRM {
			t.Errorf("%s: ToMailbox=%v ToCRM=%v, want %v %v", tt.d, tt.d.ToMailbox(), tt.d.ToCRM(), tt.toMailbox, tt.toCRM)
		}
	}
}

func TestWithin(t *testing.T) {
	tests := []struct {
		d, ceiling manifest.Direction
		want       bool
	}{
		{bi, bi, true},
		{bi, c2m, false},
		{bi, m2c, false},
		{bi, none, false},
		{c2m, bi, true},
		{c2m, c2m, true},
		{c2m, m2c, false},
		{c2m, none, false},
		{m2c, bi, true},
		{m2c, c2m, false},
		{m2c, m2c, true},
		{m2c, none, false},
		{none, bi, true},
		{none, c2m, true},
		{none, m2c, true},
		{none, none, true},
	}
	for _, tt := range tests {
		if got := tt.d.Within(tt.ceiling); got != tt.want {
			t.Errorf("%s.Within(%s) = %v, want %v", tt.d, tt.ceiling, got, tt.want)
		}
	}
}

func TestIntersect(t *testing.T) {
	tests := []struct {
		a, b, want manifest.Direction
	}{
		{bi, bi, bi},
		{bi, c2m, c2m},
		{bi, m2c, m2c},
		{bi, none, none},
		{c2m, c2m, c2m},
		{c2m, m2c, none},
		{c2m, none, none},
		{m2c, m2c, m2c},
		{m2c, none, none},
		{none, none, none},
	}
	for _, tt := range tests {
		// Intersection is commutative, and the result is within both.
		for _, pair := range [][2]manifest.Direction{{tt.a, tt.b}, {tt.b, tt.a}} {
			got := manifest.Intersect(pair[0], pair[1])
			if got != tt.want {
				t.Errorf("Intersect(%s, %s) = %s, want %s", pair[0], pair[1], got, tt.want)
			}
			if !got.Within(pair[0]) || !got.Within(pair[1]) {
				t.Errorf("Intersect(%s, %s) = %s is not within both", pair[0], pair[1], got)
			}
		}
	}
}

func TestDiff(t *testing.T) {
	src, err := os.ReadFile("testdata/valid.hcl")
	if err != nil {
		t.Fatal(err)
	}
	a, diags := manifest.Parse("a/connector.hcl", src)
	if diags.HasErrors() {
		t.Fatal(manifest.FormatDiagnostics(diags))
	}
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{
			name: "same",
			edit: func(s string) string { return s },
		},
		{
			// Layout and comments are not what a manifest says.
			name: "reformatted",
			edit: func(s string) string {
				s = strings.ReplaceAll(s, "# A CRM connector that declares every part of a manifest.\n", "")
				return strings.ReplaceAll(s, "version     = \"1.2.0\"", "\n\nversion = \"1.2.0\" # bumped by hand")
			},
		},
		{
			name: "version and default",
			edit: func(s string) string {
				s = strings.Replace(s, `version     = "1.2.0"`, `version     = "1.3.0"`, 1)
				return strings.Replace(s, `default = "none"`, `default = "crm_to_mailbox"`, 1)
			},
			want: []string{
				`entity "service_appointment".field "body".default: embedded says "none", file says "crm_to_mailbox"`,
				`version: embedded says "1.2.0", file says "1.3.0"`,
			},
		},
		{
			name: "attribute added",
			edit: func(s string) string {
				return strings.Replace(s, "config {\n", "config {\n  attribute \"proxy\" {\n    type = \"string\"\n  }\n", 1)
			},
			want: []string{
				`config.attribute "proxy".description: only in file ("")`,
				`config.attribute "proxy".required: only in file ("false")`,
				`config.attribute "proxy".sensitive: only in file ("false")`,
				`config.attribute "proxy".type: only in file ("string")`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, diags := manifest.Parse("b/connector.hcl", []byte(tt.edit(string(src))))
			if diags.HasErrors() {
				t.Fatal(manifest.FormatDiagnostics(diags))
			}
			got := manifest.Diff(a, b, "embedded", "file")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			// The other way round, the same entries differ.
			if back := manifest.Diff(b, a, "file", "embedded"); len(back) != len(tt.want) {
				t.Errorf("reverse Diff has %d lines, want %d:\n%s", len(back), len(tt.want), strings.Join(back, "\n"))
			}
		})
	}
}
