// Package manifest parses and checks connector manifests (connector.hcl).
//
// A manifest says what a connector is (name, version, kind, protocol
// versions), what configuration it takes, and for each entity which
// operations it supports, how its changes are fed, and which directions it
// allows and defaults to, at entity, operation and field level, each with a
// reason a person can read. The same file is embedded in the connector
// binary (Describe returns it) and shipped beside it; the host refuses the
// connector when the two disagree.
//
// This package is shared by the SDK and the gateway; it never imports
// anything under gateway/.
package manifest

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// FileName is the manifest's name beside a connector binary.
const FileName = "connector.hcl"

// Kinds of connector.
const (
	KindMailbox = "mailbox"
	KindCRM     = "crm"
)

// Feed kinds: a feed per binding scope (a mailbox's delta), or one feed for
// the whole endpoint whose records are routed to bindings (a CRM org's change
// tracking).
const (
	FeedScope    = "scope"
	FeedEndpoint = "endpoint"
)

// Operations an entity may support.
var Operations = []string{"create", "update", "delete"}

// ReservedConfig names endpoint attributes that belong to the gateway, not to
// any connector, so a manifest may not declare them.
var ReservedConfig = []string{"poll_interval", "call_timeout", "max_concurrency", "scope_concurrency"}

// Manifest is a parsed connector.hcl.
type Manifest struct {
	Filename    string
	Name        string
	Version     string
	Kind        string
	Description string
	Protocol    []int
	Config      []*ConfigAttr
	Entities    []*Entity
}

// ConfigAttr is one attribute of the connector's config schema.
type ConfigAttr struct {
	Name        string
	Type        string // string, path, number, bool, list(string), map(string)
	Required    bool
	Default     cty.Value // cty.NilVal when there is none
	Sensitive   bool
	Description string
	Range       hcl.Range
}

// ConfigTypes are the types a config attribute may have.
//
// A "path" is a string that the gateway resolves against the folder of the
// operator's config file before the connector sees it: a connector runs in
// its own folder, so a relative path would otherwise mean something else to
// it than to the operator who wrote it.
var ConfigTypes = map[string]cty.Type{
	"string":       cty.String,
	"path":         cty.String,
	"number":       cty.Number,
	"bool":         cty.Bool,
	"list(string)": cty.List(cty.String),
	"map(string)":  cty.Map(cty.String),
}

// CtyType returns the attribute's cty type.
func (a *ConfigAttr) CtyType() cty.Type { return ConfigTypes[a.Type] }

// Entity is what a connector declares about one entity.
type Entity struct {
	Name        string
	Operations  []string
	NaturalKeys []string
	Feed        string // FeedScope or FeedEndpoint
	FeedName    string // the feed's name; entities may share one feed
	Direction   Rule
	OpRules     []*Rule // per operation, Name set
	FieldRules  []*Rule // per field, Name set
	Range       hcl.Range
}

// Rule is a direction ceiling and default with its reason.
type Rule struct {
	Name    string // the operation or field, "" for the entity rule
	Allowed Direction
	Default Direction
	Reason  string
	Range   hcl.Range // the block that declares it
}

// Entity returns the named entity, or nil.
func (m *Manifest) Entity(name string) *Entity {
	for _, e := range m.Entities {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// ConfigAttr returns the named config attribute, or nil.
func (m *Manifest) ConfigAttr(name string) *ConfigAttr {
	for _, a := range m.Config {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// EntityNames returns the declared entities in file order.
func (m *Manifest) EntityNames() []string {
	names := make([]string, len(m.Entities))
	for i, e := range m.Entities {
		names[i] = e.Name
	}
	return names
}

// Feeds returns the distinct feed names with their kind.
func (m *Manifest) Feeds() map[string]string {
	out := map[string]string{}
	for _, e := range m.Entities {
		out[e.FeedName] = e.Feed
	}
	return out
}

// OpRule returns the entity's rule for an operation, or nil if it has none
// beyond the entity rule.
func (e *Entity) OpRule(op string) *Rule { return findRule(e.OpRules, op) }

// FieldRule returns the entity's rule for a field, or nil.
func (e *Entity) FieldRule(field string) *Rule { return findRule(e.FieldRules, field) }

// Supports reports whether the entity supports an operation.
func (e *Entity) Supports(op string) bool {
	for _, o := range e.Operations {
		if o == op {
			return true
		}
	}
	return false
}

func findRule(rules []*Rule, name string) *Rule {
	for _, r := range rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Flatten renders the manifest as sorted "path = value" pairs, the form in
// which two manifests are compared.
func (m *Manifest) Flatten() map[string]string {
	out := map[string]string{
		"name": m.Name, "version": m.Version, "kind": m.Kind,
		"description": m.Description, "protocol": fmt.Sprint(m.Protocol),
	}
	for _, a := range m.Config {
		p := fmt.Sprintf("config.attribute %q.", a.Name)
		out[p+"type"] = a.Type
		out[p+"required"] = fmt.Sprint(a.Required)
		out[p+"sensitive"] = fmt.Sprint(a.Sensitive)
		out[p+"description"] = a.Description
		if a.Default != cty.NilVal {
			out[p+"default"] = a.Default.GoString()
		}
	}
	for _, e := range m.Entities {
		p := fmt.Sprintf("entity %q.", e.Name)
		out[p+"operations"] = fmt.Sprint(e.Operations)
		out[p+"natural_keys"] = fmt.Sprint(e.NaturalKeys)
		out[p+"feed"] = e.Feed
		out[p+"feed_name"] = e.FeedName
		flattenRule(out, p+"direction.", &e.Direction)
		for _, r := range e.OpRules {
			flattenRule(out, fmt.Sprintf("%soperation %q.", p, r.Name), r)
		}
		for _, r := range e.FieldRules {
			flattenRule(out, fmt.Sprintf("%sfield %q.", p, r.Name), r)
		}
	}
	return out
}

func flattenRule(out map[string]string, p string, r *Rule) {
	out[p+"allowed"] = string(r.Allowed)
	out[p+"default"] = string(r.Default)
	out[p+"reason"] = r.Reason
}

// Diff lists how b differs from a, one line per differing entry, sorted;
// nil when they say the same thing (formatting and comments aside).
func Diff(a, b *Manifest, aName, bName string) []string {
	fa, fb := a.Flatten(), b.Flatten()
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	var lines []string
	for k := range keys {
		va, okA := fa[k]
		vb, okB := fb[k]
		switch {
		case !okA:
			lines = append(lines, fmt.Sprintf("%s: only in %s (%q)", k, bName, vb))
		case !okB:
			lines = append(lines, fmt.Sprintf("%s: only in %s (%q)", k, aName, va))
		case va != vb:
			lines = append(lines, fmt.Sprintf("%s: %s says %q, %s says %q", k, aName, va, bName, vb))
		}
	}
	sort.Strings(lines)
	return lines
}
