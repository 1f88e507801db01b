package manifest

import (
	"fmt"
	"math"
	"math/big"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/syncgate/syncgate/sdk/internal/core"
)

var rootSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "name"}, {Name: "version"}, {Name: "kind"}, {Name: "description"}, {Name: "protocol"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "config"}, {Type: "entity", LabelNames: []string{"name"}}},
}

var configSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "attribute", LabelNames: []string{"name"}}}}

var attrSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "type", Required: true}, {Name: "required"}, {Name: "default"}, {Name: "sensitive"}, {Name: "description"},
}}

var entitySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "operations", Required: true}, {Name: "natural_keys"}, {Name: "feed", Required: true}, {Name: "feed_name"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "direction"},
		{Type: "operation", LabelNames: []string{"name"}},
		{Type: "field", LabelNames: []string{"name"}},
	},
}

var ruleSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "allowed", Required: true}, {Name: "default"}, {Name: "reason", Required: true},
}}

// ParseFile reads and parses a manifest file.
func ParseFile(path string) (*Manifest, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read manifest", Detail: err.Error()}}
	}
	return Parse(path, src)
}

// Parse parses and checks a manifest. The filename is used in diagnostics.
// Every problem is reported, each at its file:line:column.
func Parse(filename string, src []byte) (*Manifest, hcl.Diagnostics) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	content, ds := file.Body.Content(rootSchema)
	diags = append(diags, ds...)
	m := &Manifest{Filename: filename}
	d := decoder{}
	m.Name = d.str(content.Attributes["name"])
	m.Version = d.str(content.Attributes["version"])
	m.Kind = d.str(content.Attributes["kind"])
	m.Description = d.str(content.Attributes["description"])
	end := file.Body.(*hclsyntax.Body).SrcRange
	for _, req := range []struct{ name, want string }{
		{"name", `name = "my-connector"`},
		{"version", `version = "1.0.0"`},
		{"kind", `kind = "mailbox" or kind = "crm"`},
	} {
		if content.Attributes[req.name] == nil {
			d.errorf(&end, "Missing "+req.name, "A manifest must say %s.", req.want)
		}
	}
	if a := content.Attributes["kind"]; a != nil && m.Kind != KindMailbox && m.Kind != KindCRM && d.ok(a) {
		d.errorf(a.Expr.Range().Ptr(), "Invalid kind", "%q is not a connector kind: use \"mailbox\" or \"crm\".", m.Kind)
	}
	if a := content.Attributes["protocol"]; a != nil {
		m.Protocol = d.protocols(a)
	} else {
		m.Protocol = []int{1}
	}
	for _, b := range content.Blocks {
		switch b.Type {
		case "config":
			m.Config = append(m.Config, d.config(b)...)
		case "entity":
			if e := d.entity(b); e != nil {
				if m.Entity(e.Name) != nil {
					d.errorf(&b.LabelRanges[0], "Duplicate entity", "Entity %q is declared twice.", e.Name)
					continue
				}
				m.Entities = append(m.Entities, e)
			}
		}
	}
	diags = append(diags, d.diags...)
	SortDiagnostics(diags)
	if diags.HasErrors() {
		return nil, diags
	}
	return m, diags
}

type decoder struct {
	diags hcl.Diagnostics
	bad   map[*hcl.Attribute]bool
}

func (d *decoder) errorf(rng *hcl.Range, summary, detail string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(detail, args...), Subject: rng})
}

func (d *decoder) ok(a *hcl.Attribute) bool { return !d.bad[a] }

// value evaluates an attribute (manifests take literals only) converted to t.
func (d *decoder) value(a *hcl.Attribute, t cty.Type) (cty.Value, bool) {
	v, ds := a.Expr.Value(nil)
	if ds.HasErrors() {
		d.diags = append(d.diags, ds...)
		d.markBad(a)
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, t)
	if err != nil || cv.IsNull() {
		d.errorf(a.Expr.Range().Ptr(), "Wrong type for "+a.Name, "%s must be %s.", a.Name, typeName(t))
		d.markBad(a)
		return cty.NilVal, false
	}
	return cv, true
}

func (d *decoder) markBad(a *hcl.Attribute) {
	if d.bad == nil {
		d.bad = map[*hcl.Attribute]bool{}
	}
	d.bad[a] = true
}

func typeName(t cty.Type) string {
	switch {
	case t == cty.String:
		return "a string"
	case t == cty.Bool:
		return "true or false"
	case t == cty.Number:
		return "a number"
	case t.IsListType():
		return "a list of " + strings.TrimPrefix(typeName(t.ElementType()), "a ") + "s"
	}
	return t.FriendlyName()
}

func (d *decoder) str(a *hcl.Attribute) string {
	if a == nil {
		return ""
	}
	v, ok := d.value(a, cty.String)
	if !ok {
		return ""
	}
	return v.AsString()
}

func (d *decoder) boolean(a *hcl.Attribute) bool {
	if a == nil {
		return false
	}
	v, ok := d.value(a, cty.Bool)
	return ok && v.True()
}

func (d *decoder) strings(a *hcl.Attribute) []string {
	if a == nil {
		return nil
	}
	v, ok := d.value(a, cty.List(cty.String))
	if !ok {
		return nil
	}
	var out []string
	for _, x := range v.AsValueSlice() {
		out = append(out, x.AsString())
	}
	return out
}

// protocols decodes the protocol versions a connector speaks: at least one,
// each a whole number from 1 up. A fraction would otherwise be truncated
// into a version the author never wrote.
func (d *decoder) protocols(a *hcl.Attribute) []int {
	v, ok := d.value(a, cty.List(cty.Number))
	if !ok {
		return nil
	}
	// Point at the offending element when the list is written out.
	elems, _ := hcl.ExprList(a.Expr)
	var out []int
	for i, x := range v.AsValueSlice() {
		rng := a.Expr.Range()
		if i < len(elems) {
			rng = elems[i].Range()
		}
		n, acc := x.AsBigFloat().Int64()
		if acc != big.Exact || n < 1 || n > math.MaxInt32 {
			d.errorf(&rng, "Invalid protocol version", "%s is not a protocol version: versions are whole numbers from 1 up.", x.AsBigFloat().Text('g', -1))
			continue
		}
		out = append(out, int(n))
	}
	if len(out) == 0 && v.LengthInt() == 0 {
		d.errorf(a.Expr.Range().Ptr(), "No protocol version", "A connector speaks at least one protocol version: protocol = [1].")
	}
	return out
}

func (d *decoder) config(b *hcl.Block) []*ConfigAttr {
	content, ds := b.Body.Content(configSchema)
	d.diags = append(d.diags, ds...)
	var out []*ConfigAttr
	seen := map[string]bool{}
	for _, ab := range content.Blocks {
		name := ab.Labels[0]
		c, ds := ab.Body.Content(attrSchema)
		d.diags = append(d.diags, ds...)
		if seen[name] {
			d.errorf(&ab.LabelRanges[0], "Duplicate config attribute", "Config attribute %q is declared twice.", name)
			continue
		}
		seen[name] = true
		for _, r := range ReservedConfig {
			if name == r {
				d.errorf(&ab.LabelRanges[0], "Reserved config attribute", "%q is an endpoint setting of the gateway; connectors may not declare it (reserved: %s).", name, strings.Join(ReservedConfig, ", "))
			}
		}
		attr := &ConfigAttr{Name: name, Range: ab.DefRange,
			Type: d.str(c.Attributes["type"]), Required: d.boolean(c.Attributes["required"]),
			Sensitive: d.boolean(c.Attributes["sensitive"]), Description: d.str(c.Attributes["description"])}
		t, known := ConfigTypes[attr.Type]
		if ta := c.Attributes["type"]; ta != nil && !known && d.ok(ta) {
			d.errorf(ta.Expr.Range().Ptr(), "Unknown config type", "%q is not a config type: use string, path, number, bool, list(string) or map(string).", attr.Type)
		}
		if da := c.Attributes["default"]; da != nil && known {
			if v, ok := d.value(da, t); ok {
				attr.Default = v
			}
			if attr.Required {
				d.errorf(da.Range.Ptr(), "Default on a required attribute", "Config attribute %q is required, so its default would never apply: drop one of them.", name)
			}
		}
		out = append(out, attr)
	}
	return out
}

func (d *decoder) entity(b *hcl.Block) *Entity {
	name := b.Labels[0]
	if _, ok := core.Schemas[name]; !ok {
		d.errorf(&b.LabelRanges[0], "Unknown entity", "%q is not a canonical entity: use one of %s.", name, strings.Join(core.Entities(), ", "))
		return nil
	}
	c, ds := b.Body.Content(entitySchema)
	d.diags = append(d.diags, ds...)
	e := &Entity{Name: name, Range: b.DefRange,
		Operations: d.strings(c.Attributes["operations"]), NaturalKeys: d.strings(c.Attributes["natural_keys"]),
		Feed: d.str(c.Attributes["feed"]), FeedName: d.str(c.Attributes["feed_name"])}
	if e.FeedName == "" {
		e.FeedName = name
	}
	if a := c.Attributes["operations"]; a != nil {
		for _, op := range e.Operations {
			if !slices.Contains(Operations, op) {
				d.errorf(a.Expr.Range().Ptr(), "Unknown operation", "%q is not an operation: use create, update or delete.", op)
			}
		}
	}
	if a := c.Attributes["feed"]; a != nil && d.ok(a) && e.Feed != FeedScope && e.Feed != FeedEndpoint {
		d.errorf(a.Expr.Range().Ptr(), "Invalid feed kind", "%q is not a feed kind: use \"scope\" (one feed per binding, like a mailbox's delta) or \"endpoint\" (one feed for the whole endpoint, like a CRM org's change tracking).", e.Feed)
	}
	schema := core.Schemas[name]
	if a := c.Attributes["natural_keys"]; a != nil {
		for _, k := range e.NaturalKeys {
			if _, ok := schema.Field(k); !ok {
				d.errorf(a.Expr.Range().Ptr(), "Unknown natural key", "%s has no field %q.", name, k)
			}
		}
	}
	var haveDirection bool
	for _, rb := range c.Blocks {
		switch rb.Type {
		case "direction":
			if haveDirection {
				d.errorf(&rb.DefRange, "Duplicate direction", "Entity %q has two direction blocks.", name)
				continue
			}
			haveDirection = true
			e.Direction = d.rule(rb, "", nil)
		}
	}
	if !haveDirection {
		d.errorf(&b.DefRange, "Missing direction", "Entity %q needs a direction block with allowed and reason (default is optional).", name)
		return e
	}
	for _, rb := range c.Blocks {
		switch rb.Type {
		case "operation":
			op := rb.Labels[0]
			if !slices.Contains(Operations, op) {
				d.errorf(&rb.LabelRanges[0], "Unknown operation", "%q is not an operation: use create, update or delete.", op)
				continue
			}
			// Only when the operations decoded: otherwise every rule would
			// repeat that one mistake.
			if a := c.Attributes["operations"]; a != nil && d.ok(a) && !e.Supports(op) {
				d.errorf(&rb.LabelRanges[0], "Rule for an unsupported operation", "Entity %q does not support %q (its operations are %s), so a rule for it would never apply.", name, op, strings.Join(e.Operations, ", "))
				continue
			}
			if findRule(e.OpRules, op) != nil {
				d.errorf(&rb.LabelRanges[0], "Duplicate operation rule", "Operation %q of %q has two rules.", op, name)
				continue
			}
			r := d.rule(rb, op, &e.Direction)
			e.OpRules = append(e.OpRules, &r)
		case "field":
			fieldName := rb.Labels[0]
			if _, ok := schema.Field(fieldName); !ok {
				d.errorf(&rb.LabelRanges[0], "Unknown field", "%s has no field %q; its fields are %s.", name, fieldName, strings.Join(schema.FieldNames(), ", "))
				continue
			}
			if findRule(e.FieldRules, fieldName) != nil {
				d.errorf(&rb.LabelRanges[0], "Duplicate field rule", "Field %q of %q has two rules.", fieldName, name)
				continue
			}
			r := d.rule(rb, fieldName, &e.Direction)
			e.FieldRules = append(e.FieldRules, &r)
		}
	}
	return e
}

// rule decodes a direction block. A default defaults to what is allowed. An
// operation or field rule may not allow more than its entity allows.
func (d *decoder) rule(b *hcl.Block, name string, entity *Rule) Rule {
	c, ds := b.Body.Content(ruleSchema)
	d.diags = append(d.diags, ds...)
	r := Rule{Name: name, Range: b.DefRange, Reason: d.str(c.Attributes["reason"])}
	r.Allowed = d.direction(c.Attributes["allowed"])
	r.Default = r.Allowed
	if a := c.Attributes["default"]; a != nil {
		r.Default = d.direction(a)
		if r.Allowed != "" && r.Default != "" && !r.Default.Within(r.Allowed) {
			d.errorf(a.Expr.Range().Ptr(), "Default beyond what is allowed", "The default %q is not within the allowed %q: a default must be the allowed direction or narrower.", r.Default, r.Allowed)
		}
	}
	if a := c.Attributes["allowed"]; a != nil && entity != nil && entity.Allowed != "" && r.Allowed != "" && !r.Allowed.Within(entity.Allowed) {
		d.errorf(a.Expr.Range().Ptr(), "Allowed beyond the entity", "The %s %q allows %q, but its entity allows only %q.", b.Type, name, r.Allowed, entity.Allowed)
	}
	if a := c.Attributes["reason"]; a != nil && d.ok(a) && strings.TrimSpace(r.Reason) == "" {
		d.errorf(a.Expr.Range().Ptr(), "Empty reason", "Say in a sentence why this direction applies; operators read it in `syncgate explain`.")
	}
	return r
}

func (d *decoder) direction(a *hcl.Attribute) Direction {
	if a == nil {
		return ""
	}
	s := d.str(a)
	if !d.ok(a) {
		return ""
	}
	dir, err := ParseDirection(s)
	if err != nil {
		d.errorf(a.Expr.Range().Ptr(), "Invalid direction", "%s.", err)
		d.markBad(a)
	}
	return dir
}
