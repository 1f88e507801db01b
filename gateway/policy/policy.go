// Package policy computes the effective sync rule of an entity for one
// binding: what both connectors' manifests allow, narrowed to what the
// operator's policy or the manifests' defaults choose, at entity, operation
// and field level. Every part of a rule records where it comes from, so
// that `syncgate explain` can say why a change flows or is blocked.
//
// It only reads a resolved config.Config; it never changes it and never
// touches endpoint settings.
package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// SourceDefault is the Source of a choice that nobody made: the gateway's
// default applies.
const SourceDefault = "default"

// Rule is the effective rule of one entity for one binding.
type Rule struct {
	Binding *config.Binding
	Entity  string
	// Direction is the entity's direction; Ops and Fields never go beyond it.
	Direction Part
	// Ops has one part per operation: create, update and delete.
	Ops map[string]Part
	// Fields has a part for every field that either manifest or the policy
	// has a rule for; other fields follow Direction.
	Fields    map[string]Part
	Conflict  Choice
	OnBlocked Choice
	Tracking  Tracking
	Deletes   Deletes
}

// Part is one direction of a rule with where it comes from: Source names
// the manifest entries (connector and file:line:column) or the policy
// attribute that decided it, Reason is the manifest's explanation (empty
// for a policy choice).
type Part struct {
	Direction manifest.Direction
	Source    string
	Reason    string
}

// Choice is one policy value with where it comes from: "policy
// (file:line:column)" or SourceDefault.
type Choice struct {
	Value  string
	Source string
}

// Tracking says which mailbox items enter the CRM. Value is the category
// or folder name, "" for modes all and none.
type Tracking struct {
	Mode  Choice
	Value Choice
}

// Deletes says what a delete on one side does to the other.
type Deletes struct {
	FromCRM     Choice
	FromMailbox Choice
	// MaxShare is the mass-delete guard's threshold (Value holds it as
	// text for explain; Share as a number for the engine).
	MaxShare Choice
	Share    float64
}

// FieldDirection returns the direction of one field: its own part if it
// has one, else the entity's direction.
func (r *Rule) FieldDirection(field string) manifest.Direction {
	if p, ok := r.Fields[field]; ok {
		return p.Direction
	}
	return r.Direction.Direction
}

// Effective computes the rule that applies to one binding and entity. Each
// direction (entity, operation, field) is the policy's value if it sets
// one, else the intersection of both manifests' defaults; it is capped by
// the intersection of what both manifests allow, and an operation or field
// is also capped by the entity's direction. cfg must be resolved. An
// unknown binding or entity is an error that lists the valid ones.
func Effective(cfg *config.Config, binding, entity string) (*Rule, error) {
	b := cfg.Binding(binding)
	if b == nil {
		names := make([]string, len(cfg.Bindings))
		for i, b := range cfg.Bindings {
			names[i] = b.Name
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("no binding %q: %s has no bindings", binding, cfg.Filename)
		}
		return nil, fmt.Errorf("no binding %q: the bindings are %s", binding, strings.Join(names, ", "))
	}
	mbx, crm := cfg.Endpoint(b.MailboxEndpoint), cfg.Endpoint(b.CRMEndpoint)
	if mbx == nil || crm == nil || mbx.Manifest == nil || crm.Manifest == nil {
		return nil, fmt.Errorf("binding %q: its endpoints are not resolved against the connectors' manifests", binding)
	}
	var entities []string
	for _, e := range sdk.Entities() {
		if mbx.Manifest.Entity(e) != nil || crm.Manifest.Entity(e) != nil {
			entities = append(entities, e)
		}
	}
	if !slices.Contains(entities, entity) {
		return nil, fmt.Errorf("binding %q syncs no entity %q: its connectors %s and %s declare %s",
			binding, entity, mbx.Connector, crm.Connector, strings.Join(entities, ", "))
	}
	pol := cfg.Policy(entity)
	if pol == nil {
		pol = &config.Policy{Entity: entity}
	}
	bounds := func(op, field string) []config.Bound {
		return append(config.Bounds(mbx.Manifest, entity, op, field), config.Bounds(crm.Manifest, entity, op, field)...)
	}
	r := &Rule{Binding: b, Entity: entity, Ops: map[string]Part{}, Fields: map[string]Part{}}
	r.Direction = part(bounds("", ""), pol.Direction, nil)
	for _, op := range manifest.Operations {
		r.Ops[op] = part(bounds(op, ""), pol.Operation(op), &r.Direction)
	}
	for _, f := range sdk.Schemas[entity].FieldNames() {
		if pol.Field(f) == nil && !hasFieldRule(mbx.Manifest, entity, f) && !hasFieldRule(crm.Manifest, entity, f) {
			continue
		}
		r.Fields[f] = part(bounds("", f), pol.Field(f), &r.Direction)
	}
	r.Conflict = choice(pol.Conflict, config.DefaultConflict)
	r.OnBlocked = choice(pol.OnBlocked, config.DefaultOnBlocked)
	r.Tracking = Tracking{Mode: Choice{config.DefaultTrackingMode, SourceDefault}, Value: Choice{config.DefaultTrackingValue, SourceDefault}}
	if t := pol.Tracking; t != nil && t.Mode != nil {
		// A policy that sets the mode also decides the value: a default
		// category does not belong to a folder or to "all".
		r.Tracking = Tracking{Mode: choice(t.Mode, ""), Value: choice(t.Value, "")}
	}
	var del config.Deletes
	if pol.Deletes != nil {
		del = *pol.Deletes
	}
	r.Deletes = Deletes{FromCRM: choice(del.FromCRM, config.DefaultDeletesFromCRM), FromMailbox: choice(del.FromMailbox, config.DefaultDeletesFromMailbox),
		Share: config.DefaultMaxDeleteShare, MaxShare: Choice{Value: fmt.Sprint(config.DefaultMaxDeleteShare), Source: SourceDefault}}
	if del.MaxShare > 0 {
		r.Deletes.Share = del.MaxShare
		r.Deletes.MaxShare = Choice{Value: fmt.Sprint(del.MaxShare), Source: "policy (" + config.Where(del.MaxShareRange) + ")"}
	}
	return r, nil
}

func hasFieldRule(m *manifest.Manifest, entity, field string) bool {
	e := m.Entity(entity)
	return e != nil && e.FieldRule(field) != nil
}

// part computes one direction of a rule from the manifests' bounds, the
// policy's setting (nil when the policy says nothing) and, for an operation
// or field, the entity's part.
func part(bounds []config.Bound, s *config.Setting, entity *Part) Part {
	ceiling := manifest.Bidirectional
	for _, b := range bounds {
		ceiling = manifest.Intersect(ceiling, b.Allowed)
	}
	var p Part
	var own []config.Bound
	for _, b := range bounds {
		if b.Default != "" {
			own = append(own, b)
		}
	}
	switch {
	case s != nil:
		p = Part{Direction: s.Direction(), Source: "policy (" + config.Where(s.Range) + ")"}
	case len(own) == 0 && entity != nil:
		// Neither manifest has a rule of its own here: the part follows
		// its entity.
		p = *entity
	default:
		d := manifest.Bidirectional
		for _, b := range own {
			d = manifest.Intersect(d, b.Default)
		}
		// The entries whose default is the result decide it; when none
		// does alone (two opposite one-way defaults meet), all of them do.
		var cite []config.Bound
		for _, b := range own {
			if b.Default == d {
				cite = append(cite, b)
			}
		}
		if len(cite) == 0 {
			cite = own
		}
		p = Part{Direction: d, Source: source(cite), Reason: reasons(cite)}
	}
	if !p.Direction.Within(ceiling) {
		// Resolve refuses a policy beyond the manifests, so this narrows
		// only what follows the entity onto an operation a connector
		// cannot apply.
		var cite []config.Bound
		for _, b := range bounds {
			if !p.Direction.Within(b.Allowed) {
				cite = append(cite, b)
			}
		}
		p = Part{Direction: manifest.Intersect(p.Direction, ceiling), Source: source(cite), Reason: reasons(cite)}
	}
	if entity != nil && !p.Direction.Within(entity.Direction) {
		reason := "capped by the entity's direction"
		if entity.Reason != "" {
			reason += ": " + entity.Reason
		}
		p = Part{Direction: manifest.Intersect(p.Direction, entity.Direction), Source: entity.Source, Reason: reason}
	}
	return p
}

// source names manifest entries as `manifest a (file:l:c)` or `manifests a
// (file:l:c) and b (file:l:c)`.
func source(bounds []config.Bound) string {
	var names []string
	where := map[string][]string{}
	for _, b := range bounds {
		if _, ok := where[b.Connector]; !ok {
			names = append(names, b.Connector)
		}
		if !slices.Contains(where[b.Connector], b.Where()) {
			where[b.Connector] = append(where[b.Connector], b.Where())
		}
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s (%s)", n, strings.Join(where[n], ", "))
	}
	if len(parts) == 1 {
		return "manifest " + parts[0]
	}
	return "manifests " + strings.Join(parts, " and ")
}

func reasons(bounds []config.Bound) string {
	var out []string
	for _, b := range bounds {
		if b.Reason != "" && !slices.Contains(out, b.Reason) {
			out = append(out, b.Reason)
		}
	}
	return strings.Join(out, " / ")
}

func choice(s *config.Setting, def string) Choice {
	if s == nil {
		if def == "" {
			return Choice{}
		}
		return Choice{Value: def, Source: SourceDefault}
	}
	return Choice{Value: s.Value, Source: "policy (" + config.Where(s.Range) + ")"}
}

// Explain renders the rule as a table for people: one line per part with
// its value, its source and the manifest's reason.
func (r *Rule) Explain() string {
	type row struct{ label, value, source, reason string }
	rows := []row{{"entity", string(r.Direction.Direction), r.Direction.Source, r.Direction.Reason}}
	for _, op := range manifest.Operations {
		p := r.Ops[op]
		rows = append(rows, row{op, string(p.Direction), p.Source, p.Reason})
	}
	fields := make([]string, 0, len(r.Fields))
	for f := range r.Fields {
		fields = append(fields, f)
	}
	order := sdk.Schemas[r.Entity].FieldNames()
	sort.Slice(fields, func(i, j int) bool { return index(order, fields[i]) < index(order, fields[j]) })
	for _, f := range fields {
		p := r.Fields[f]
		rows = append(rows, row{"field " + f, string(p.Direction), p.Source, p.Reason})
	}
	tracking := r.Tracking.Mode.Value
	if r.Tracking.Value.Value != "" {
		tracking += fmt.Sprintf(" %q", r.Tracking.Value.Value)
	}
	rows = append(rows,
		row{"conflict", r.Conflict.Value, r.Conflict.Source, ""},
		row{"on_blocked", r.OnBlocked.Value, r.OnBlocked.Source, ""},
		row{"tracking", tracking, r.Tracking.Mode.Source, ""},
		row{"deletes from_crm", r.Deletes.FromCRM.Value, r.Deletes.FromCRM.Source, ""},
		row{"deletes from_mailbox", r.Deletes.FromMailbox.Value, r.Deletes.FromMailbox.Source, ""},
		row{"max_delete_share", r.Deletes.MaxShare.Value, r.Deletes.MaxShare.Source, ""},
	)
	lw, vw := 0, 0
	for _, rw := range rows {
		lw, vw = max(lw, len(rw.label)), max(vw, len(rw.value))
	}
	var sb strings.Builder
	b := r.Binding
	fmt.Fprintf(&sb, "binding %s (mailbox %s:%s ↔ crm %s:%s), entity %s\n", b.Name, b.MailboxEndpoint, b.Mailbox, b.CRMEndpoint, b.CRMUser, r.Entity)
	for _, rw := range rows {
		line := fmt.Sprintf("  %-*s  %-*s  %s", lw, rw.label, vw, rw.value, rw.source)
		if rw.reason != "" {
			line += ": " + rw.reason
		}
		sb.WriteString(line + "\n")
	}
	return sb.String()
}

func index(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return len(list)
}

// Check reports policy settings that cannot take effect for some binding:
// deletes set to propagate from a side whose deletes do not flow to the
// other under the effective rule (often the manifest's default, such as a
// mailbox connector that untracks deletes unless told otherwise). Without
// it, the setting would silently do nothing. cfg must be resolved.
func Check(cfg *config.Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, pol := range cfg.Policies {
		if pol.Deletes == nil {
			continue
		}
		for _, side := range []struct {
			attr    string
			setting *config.Setting
			flows   func(manifest.Direction) bool
			way     string
		}{
			{"from_mailbox", pol.Deletes.FromMailbox, manifest.Direction.ToCRM, "mailbox → CRM"},
			{"from_crm", pol.Deletes.FromCRM, manifest.Direction.ToMailbox, "CRM → mailbox"},
		} {
			if side.setting == nil || side.setting.Value != config.DeletePropagate {
				continue
			}
			for _, b := range cfg.Bindings {
				r, err := Effective(cfg, b.Name, pol.Entity)
				if err != nil {
					continue
				}
				del := r.Ops["delete"]
				if side.flows(del.Direction) {
					continue
				}
				rng := side.setting.ValueRange
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Subject: &rng,
					Summary: "Deletes cannot propagate",
					Detail: fmt.Sprintf("deletes { %s = \"propagate\" } for %s cannot take effect for binding %q: its deletes flow %s (%s), not %s. "+
						"Allow them with operation \"delete\" { direction = \"bidirectional\" } in this policy, or use \"untrack\".",
						side.attr, pol.Entity, b.Name, del.Direction, del.Source, side.way)})
				break // one diagnostic per setting is enough
			}
		}
	}
	return diags
}
