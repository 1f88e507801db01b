package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

var rootSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "gateway"},
	{Type: "endpoint", LabelNames: []string{"connector", "name"}},
	{Type: "binding", LabelNames: []string{"name"}},
	{Type: "policy", LabelNames: []string{"entity"}},
}}

var gatewaySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "data_dir"}, {Name: "plugin_dir"}, {Name: "lock_file"}, {Name: "log_level"}, {Name: "admin_listen"}, {Name: "bindings_file"},
	{Name: "tombstone_retention"},
}}

var bindingSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "mailbox", Required: true}, {Name: "crm_user", Required: true}, {Name: "mailbox_endpoint"}, {Name: "crm_endpoint"},
}}

var policySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "direction"}, {Name: "conflict"}, {Name: "on_blocked"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "tracking"}, {Type: "deletes"},
		{Type: "operation", LabelNames: []string{"name"}},
		{Type: "field", LabelNames: []string{"name"}},
	},
}

var trackingSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "mode", Required: true}, {Name: "value"}}}

var deletesSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "from_crm"}, {Name: "from_mailbox"}, {Name: "max_delete_share"}}}

var ruleSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "direction", Required: true}}}

// Names of endpoints and bindings appear in URLs (/hooks/<endpoint>), store
// keys and command lines, so they are kept to a safe alphabet.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]*$`)

// Parse reads the file: the gateway block, the endpoint blocks (whose
// settings are kept raw until Resolve knows the connectors), the bindings
// and the policies. It returns nil only when the file cannot be read or is
// not valid HCL; otherwise the Config is returned with every diagnostic
// found, so that Resolve can add its own.
func Parse(path string) (*Config, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the configuration", Detail: err.Error() + "."}}
	}
	file, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	c := &Config{Filename: path, Dir: filepath.Dir(path)}
	p := &parser{cfg: c, ctx: evalContext(c.Dir)}
	content, ds := file.Body.Content(rootSchema)
	p.diags = append(diags, ds...)
	// The gateway block first: the other blocks' diagnostics may name its
	// settings (plugin_dir).
	var gateway *hcl.Block
	for _, b := range content.Blocks {
		if b.Type != "gateway" {
			continue
		}
		if gateway != nil {
			p.errorf(&b.DefRange, "Duplicate gateway block", "The gateway block is already at %s; merge the two.", Where(gateway.DefRange))
			continue
		}
		gateway = b
	}
	p.gateway(gateway)
	for _, b := range content.Blocks {
		switch b.Type {
		case "endpoint":
			p.endpoint(b)
		case "binding":
			p.binding(b)
		case "policy":
			p.policy(b)
		}
	}
	if c.Gateway.BindingsFile != "" {
		p.bindingsFile(c.Gateway.BindingsFile, p.bindingsFileRange)
	}
	// hcl reports unsupported arguments in map order: sorting keeps the
	// output the same from run to run.
	manifest.SortDiagnostics(p.diags)
	return c, p.diags
}

type parser struct {
	cfg               *Config
	ctx               *hcl.EvalContext
	diags             hcl.Diagnostics
	bindingsFileRange hcl.Range
}

func (p *parser) errorf(rng *hcl.Range, summary, detail string, args ...any) {
	p.diags = append(p.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(detail, args...), Subject: rng})
}

// value evaluates an attribute and converts it to t. It reports false, with
// a diagnostic, when it cannot; the message never shows the value, which
// may be a secret.
func (p *parser) value(a *hcl.Attribute, t cty.Type, want string) (cty.Value, bool) {
	v, ds := a.Expr.Value(p.ctx)
	p.diags = append(p.diags, ds...)
	if ds.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, t)
	if err != nil || cv.IsNull() {
		p.errorf(a.Expr.Range().Ptr(), "Wrong type for "+a.Name, "%s must be %s.", a.Name, want)
		return cty.NilVal, false
	}
	return cv, true
}

// str evaluates a string attribute; "" and false when absent or invalid.
func (p *parser) str(a *hcl.Attribute) (string, bool) {
	if a == nil {
		return "", false
	}
	v, ok := p.value(a, cty.String, "a string")
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

// setting evaluates a string attribute that must be one of choices.
func (p *parser) setting(a *hcl.Attribute, choices []string) *Setting {
	s, ok := p.str(a)
	if !ok {
		return nil
	}
	if !slices.Contains(choices, s) {
		p.errorf(a.Expr.Range().Ptr(), "Invalid "+a.Name, "%q is not a valid %s: use %s.%s", s, a.Name, orList(choices), suggest(s, choices))
		return nil
	}
	return &Setting{Value: s, Range: a.Range, ValueRange: a.Expr.Range()}
}

// directionSetting evaluates a direction attribute.
func (p *parser) directionSetting(a *hcl.Attribute) *Setting {
	s, ok := p.str(a)
	if !ok {
		return nil
	}
	if _, err := manifest.ParseDirection(s); err != nil {
		p.errorf(a.Expr.Range().Ptr(), "Invalid direction", "%s.%s", err, suggest(s, directionNames()))
		return nil
	}
	return &Setting{Value: s, Range: a.Range, ValueRange: a.Expr.Range()}
}

func (p *parser) gateway(b *hcl.Block) {
	g := Gateway{DataDir: DefaultDataDir, PluginDir: DefaultPluginDir, LockFile: DefaultLockFile, LogLevel: DefaultLogLevel, AdminListen: DefaultAdminListen,
		TombstoneRetention: DefaultTombstoneRetention}
	if b != nil {
		content, ds := b.Body.Content(gatewaySchema)
		p.diags = append(p.diags, ds...)
		for _, path := range []struct {
			name   string
			target *string
		}{{"data_dir", &g.DataDir}, {"plugin_dir", &g.PluginDir}, {"lock_file", &g.LockFile}} {
			if s, ok := p.str(content.Attributes[path.name]); ok {
				*path.target = s
			}
		}
		if a := content.Attributes["log_level"]; a != nil {
			if s := p.setting(a, LogLevels); s != nil {
				g.LogLevel = s.Value
			}
		}
		if a := content.Attributes["tombstone_retention"]; a != nil {
			if d, ok := p.duration(a); ok {
				g.TombstoneRetention = d
			}
		}
		if a := content.Attributes["admin_listen"]; a != nil {
			if s, ok := p.str(a); ok {
				if err := checkHostPort(s); err != nil {
					p.errorf(a.Expr.Range().Ptr(), "Invalid admin_listen", "%q is not host:port: %v; write it like \"127.0.0.1:9700\".", s, err)
				} else {
					g.AdminListen = s
				}
			}
		}
	}
	if b != nil {
		content, _ := b.Body.Content(gatewaySchema)
		if a := content.Attributes["bindings_file"]; a != nil {
			if s, ok := p.str(a); ok {
				g.BindingsFile = p.cfg.path(s)
				p.bindingsFileRange = a.Range
			}
		}
	}
	g.DataDir = p.cfg.path(g.DataDir)
	g.PluginDir = p.cfg.path(g.PluginDir)
	g.LockFile = p.cfg.path(g.LockFile)
	p.cfg.Gateway = g
}

func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// path resolves a path written in the file against the file's folder: the
// gateway may run from anywhere, but the operator wrote the path next to
// the file.
func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

func (p *parser) name(kind, name string, rng hcl.Range) {
	if !nameRE.MatchString(name) {
		p.errorf(&rng, "Invalid "+kind+" name", "%q is not a valid %s name: start with a letter or digit and use only letters, digits, '.', '_', '-' and '@'.", name, kind)
	}
}

func (p *parser) endpoint(b *hcl.Block) {
	e := &Endpoint{Connector: b.Labels[0], Name: b.Labels[1], Range: b.DefRange,
		connectorRange: b.LabelRanges[0], nameRange: b.LabelRanges[1], body: b.Body.(*hclsyntax.Body)}
	// A bad name is reported but the endpoint kept, so that bindings
	// naming it do not add errors of their own.
	p.name("endpoint", e.Name, e.nameRange)
	if prev := p.cfg.Endpoint(e.Name); prev != nil {
		p.errorf(&e.nameRange, "Duplicate endpoint", "An endpoint named %q is already defined at %s; endpoint names must be unique.", e.Name, Where(prev.Range))
		return
	}
	p.cfg.Endpoints = append(p.cfg.Endpoints, e)
}

func (p *parser) binding(b *hcl.Block) {
	content, ds := b.Body.Content(bindingSchema)
	p.diags = append(p.diags, ds...)
	bd := &Binding{Name: b.Labels[0], Range: b.DefRange, nameRange: b.LabelRanges[0], attrs: content.Attributes}
	bd.Mailbox, _ = p.str(content.Attributes["mailbox"])
	bd.CRMUser, _ = p.str(content.Attributes["crm_user"])
	bd.MailboxEndpoint, _ = p.str(content.Attributes["mailbox_endpoint"])
	bd.CRMEndpoint, _ = p.str(content.Attributes["crm_endpoint"])
	p.name("binding", bd.Name, bd.nameRange)
	if prev := p.cfg.Binding(bd.Name); prev != nil {
		p.errorf(&bd.nameRange, "Duplicate binding", "A binding named %q is already defined at %s; binding names must be unique.", bd.Name, Where(prev.Range))
		return
	}
	p.cfg.Bindings = append(p.cfg.Bindings, bd)
}

func (p *parser) policy(b *hcl.Block) {
	pol := &Policy{Entity: b.Labels[0], Range: b.DefRange, labelRange: b.LabelRanges[0],
		Operations: map[string]*Setting{}, Fields: map[string]*Setting{}, opRanges: map[string]hcl.Range{}}
	schema, known := sdk.Schemas[pol.Entity]
	if !known {
		p.errorf(&pol.labelRange, "Unknown entity", "%q is not an entity: use one of %s.%s", pol.Entity, strings.Join(sdk.Entities(), ", "), suggest(pol.Entity, sdk.Entities()))
		return
	}
	if prev := p.cfg.Policy(pol.Entity); prev != nil {
		p.errorf(&pol.labelRange, "Duplicate policy", "The policy for %q is already defined at %s; merge the two.", pol.Entity, Where(prev.Range))
		return
	}
	content, ds := b.Body.Content(policySchema)
	p.diags = append(p.diags, ds...)
	if a := content.Attributes["direction"]; a != nil {
		pol.Direction = p.directionSetting(a)
	}
	if a := content.Attributes["conflict"]; a != nil {
		pol.Conflict = p.setting(a, Conflicts)
	}
	if a := content.Attributes["on_blocked"]; a != nil {
		pol.OnBlocked = p.setting(a, OnBlocked)
	}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "tracking":
			if pol.Tracking != nil {
				p.errorf(&blk.DefRange, "Duplicate tracking block", "The policy for %q already has a tracking block at %s.", pol.Entity, Where(pol.Tracking.Range))
				continue
			}
			pol.Tracking = p.tracking(blk)
		case "deletes":
			if pol.Deletes != nil {
				p.errorf(&blk.DefRange, "Duplicate deletes block", "The policy for %q already has a deletes block at %s.", pol.Entity, Where(pol.Deletes.Range))
				continue
			}
			c, ds := blk.Body.Content(deletesSchema)
			p.diags = append(p.diags, ds...)
			pol.Deletes = &Deletes{Range: blk.DefRange}
			if a := c.Attributes["from_crm"]; a != nil {
				pol.Deletes.FromCRM = p.setting(a, DeleteActions)
			}
			if a := c.Attributes["from_mailbox"]; a != nil {
				pol.Deletes.FromMailbox = p.setting(a, DeleteActions)
			}
			if a := c.Attributes["max_delete_share"]; a != nil {
				if v, ok := p.value(a, cty.Number, "a number"); ok {
					f, _ := v.AsBigFloat().Float64()
					if f <= 0 || f > 1 {
						p.errorf(a.Expr.Range().Ptr(), "Invalid max_delete_share", "%g is not a share: use a number above 0 and at most 1 (0.5 pauses a binding when one cycle would delete more than half its items of the entity).", f)
					} else {
						pol.Deletes.MaxShare, pol.Deletes.MaxShareRange = f, a.Range
					}
				}
			}
		case "operation":
			op := blk.Labels[0]
			if !slices.Contains(manifest.Operations, op) {
				p.errorf(&blk.LabelRanges[0], "Unknown operation", "%q is not an operation: use create, update or delete.%s", op, suggest(op, manifest.Operations))
				continue
			}
			if _, dup := pol.opRanges[op]; dup {
				p.errorf(&blk.LabelRanges[0], "Duplicate operation rule", "The policy for %q already has a rule for %s at %s.", pol.Entity, op, Where(pol.opRanges[op]))
				continue
			}
			pol.opRanges[op] = blk.LabelRanges[0]
			if s := p.rule(blk); s != nil {
				pol.Operations[op] = s
			}
		case "field":
			field := blk.Labels[0]
			if _, ok := schema.Field(field); !ok {
				p.errorf(&blk.LabelRanges[0], "Unknown field", "%s has no field %q; its fields are %s.%s", pol.Entity, field, strings.Join(schema.FieldNames(), ", "), suggest(field, schema.FieldNames()))
				continue
			}
			if prev, dup := pol.Fields[field]; dup {
				p.errorf(&blk.LabelRanges[0], "Duplicate field rule", "The policy for %q already has a rule for field %q at %s.", pol.Entity, field, Where(prev.Range))
				continue
			}
			if s := p.rule(blk); s != nil {
				pol.Fields[field] = s
			}
		}
	}
	p.cfg.Policies = append(p.cfg.Policies, pol)
}

func (p *parser) rule(b *hcl.Block) *Setting {
	c, ds := b.Body.Content(ruleSchema)
	p.diags = append(p.diags, ds...)
	if a := c.Attributes["direction"]; a != nil {
		return p.directionSetting(a)
	}
	return nil
}

func (p *parser) tracking(b *hcl.Block) *Tracking {
	c, ds := b.Body.Content(trackingSchema)
	p.diags = append(p.diags, ds...)
	t := &Tracking{Range: b.DefRange}
	if a := c.Attributes["mode"]; a != nil {
		t.Mode = p.setting(a, TrackingModes)
	}
	va := c.Attributes["value"]
	if va != nil {
		if s, ok := p.str(va); ok {
			t.Value = &Setting{Value: s, Range: va.Range, ValueRange: va.Expr.Range()}
		}
	}
	if t.Mode == nil {
		return t
	}
	switch mode := t.Mode.Value; {
	case (mode == TrackCategory || mode == TrackFolder) && va == nil:
		p.errorf(&b.DefRange, "Missing tracking value", "Tracking by %s needs the %s's name: value = \"...\".", mode, mode)
	case (mode == TrackAll || mode == TrackNone) && va != nil:
		p.errorf(va.Expr.Range().Ptr(), "Unexpected tracking value", "Tracking mode %q takes no value; value names the category or folder of mode \"category\" or \"folder\".", mode)
		t.Value = nil
	}
	return t
}

// orList renders choices as "a, b or c".
func orList(choices []string) string {
	if len(choices) == 1 {
		return choices[0]
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}

func directionNames() []string {
	out := make([]string, len(manifest.Directions))
	for i, d := range manifest.Directions {
		out[i] = string(d)
	}
	return out
}
