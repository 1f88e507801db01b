package config

import (
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// Resolve decodes each endpoint's body against its connector's manifest
// config schema, fills in the endpoints that bindings leave out, and checks
// bindings and policies against the manifests. manifests is keyed by
// connector name. It returns every problem found; the Config is usable only
// when none is an error.
func (c *Config) Resolve(manifests map[string]*manifest.Manifest) hcl.Diagnostics {
	p := &parser{cfg: c, ctx: evalContext(c.Dir)}
	for _, e := range c.Endpoints {
		p.resolveEndpoint(e, manifests)
	}
	p.resolveBindings()
	pairs := c.Pairs()
	for _, pol := range c.Policies {
		p.checkPolicy(pol, pairs)
	}
	manifest.SortDiagnostics(p.diags)
	return p.diags
}

func (p *parser) resolveEndpoint(e *Endpoint, manifests map[string]*manifest.Manifest) {
	e.Settings, e.sensitive, e.Manifest = sdk.Fields{}, map[string]bool{}, nil
	e.PollInterval, e.CallTimeout = DefaultPollInterval, DefaultCallTimeout
	e.MaxConcurrency, e.ScopeConcurrency = DefaultMaxConcurrency, DefaultScopeConcurrency
	m := manifests[e.Connector]
	if m == nil {
		names := make([]string, 0, len(manifests))
		for n := range manifests {
			names = append(names, n)
		}
		sort.Strings(names)
		detail := fmt.Sprintf("No connector was found in plugin_dir (%s).", p.cfg.Gateway.PluginDir)
		if len(names) > 0 {
			detail = fmt.Sprintf("Connector %q is not in plugin_dir (%s); the connectors there are %s.%s", e.Connector, p.cfg.Gateway.PluginDir, strings.Join(names, ", "), suggest(e.Connector, names))
		}
		p.errorf(&e.connectorRange, "Unknown connector", "%s", detail)
	}
	attrs := make([]*hclsyntax.Attribute, 0, len(e.body.Attributes))
	for _, a := range e.body.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].NameRange.Start.Byte < attrs[j].NameRange.Start.Byte })
	for _, sa := range attrs {
		a := sa.AsHCLAttribute()
		switch a.Name {
		case "poll_interval":
			if d, ok := p.duration(a); ok {
				e.PollInterval = d
			}
		case "call_timeout":
			if d, ok := p.duration(a); ok {
				e.CallTimeout = d
			}
		case "max_concurrency":
			p.concurrency(a, &e.MaxConcurrency)
		case "scope_concurrency":
			p.concurrency(a, &e.ScopeConcurrency)
		default:
			if m != nil {
				p.endpointSetting(e, m, a)
			}
		}
	}
	for _, b := range e.body.Blocks {
		p.errorf(&b.TypeRange, "Unexpected block", "Endpoint settings are attributes (name = value); %q is a block.", b.Type)
	}
	if m == nil {
		return
	}
	e.Manifest = m
	for _, ca := range m.Config {
		if _, set := e.body.Attributes[ca.Name]; set {
			continue
		}
		switch {
		case ca.Required:
			detail := fmt.Sprintf("Connector %q requires %s.", e.Connector, ca.Name)
			if ca.Description != "" {
				detail = fmt.Sprintf("Connector %q requires %s (%s).", e.Connector, ca.Name, ca.Description)
			}
			p.errorf(&e.Range, "Missing required setting", "%s", detail)
		case ca.Default != cty.NilVal:
			e.sensitive[ca.Name] = ca.Sensitive
			e.Settings[ca.Name] = p.toValue(ca, ca.Default)
		}
	}
}

// endpointSetting decodes one connector setting of an endpoint.
func (p *parser) endpointSetting(e *Endpoint, m *manifest.Manifest, a *hcl.Attribute) {
	ca := m.ConfigAttr(a.Name)
	if ca == nil {
		names := make([]string, 0, len(m.Config)+len(manifest.ReservedConfig))
		for _, c := range m.Config {
			names = append(names, c.Name)
		}
		names = append(names, manifest.ReservedConfig...)
		p.errorf(a.NameRange.Ptr(), "Unsupported argument", "Connector %q has no setting %q; its settings are %s.%s", e.Connector, a.Name, strings.Join(names, ", "), suggest(a.Name, names))
		return
	}
	v, ok := p.value(a, ca.CtyType(), typeWant(ca.Type))
	if !ok {
		return
	}
	if ca.Sensitive && !callsSecretSource(a.Expr) {
		p.diags = append(p.diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Literal secret",
			Detail: fmt.Sprintf("%s of endpoint %q is sensitive but written in the config file, where anyone who can read the file sees it: use env(%q) or file(\"path\").",
				a.Name, e.Name, strings.ToUpper(a.Name)),
			Subject: a.Expr.Range().Ptr()})
	}
	e.sensitive[ca.Name] = ca.Sensitive
	e.Settings[ca.Name] = p.toValue(ca, v)
}

// toValue converts a decoded setting to the SDK's value. A path is resolved
// against the config file's folder and made absolute: the connector runs in
// its own folder (the host starts it there), where a path relative to the
// gateway's working directory would name something else.
func (p *parser) toValue(ca *manifest.ConfigAttr, v cty.Value) sdk.Value {
	if ca.Type == "path" {
		path := p.cfg.path(v.AsString())
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		return sdk.String(path)
	}
	return ctyToValue(v)
}

func ctyToValue(v cty.Value) sdk.Value {
	t := v.Type()
	switch {
	case v.IsNull():
		return sdk.Null
	case t == cty.String:
		return sdk.String(v.AsString())
	case t == cty.Bool:
		return sdk.Bool(v.True())
	case t == cty.Number:
		bf := v.AsBigFloat()
		if i, acc := bf.Int64(); acc == big.Exact {
			return sdk.Int(i)
		}
		f, _ := bf.Float64()
		return sdk.Float(f)
	case t.IsListType():
		var items []sdk.Value
		for _, x := range v.AsValueSlice() {
			items = append(items, ctyToValue(x))
		}
		return sdk.List(items...)
	case t.IsMapType():
		m := map[string]sdk.Value{}
		for k, x := range v.AsValueMap() {
			m[k] = ctyToValue(x)
		}
		return sdk.Map(m)
	}
	return sdk.Null
}

func typeWant(t string) string {
	switch t {
	case "number":
		return "a number"
	case "bool":
		return "true or false"
	case "list(string)":
		return "a list of strings"
	case "map(string)":
		return "a map of strings"
	}
	return "a string"
}

// concurrency reads a limit on calls in flight.
func (p *parser) concurrency(a *hcl.Attribute, into *int) {
	v, ok := p.value(a, cty.Number, "a number")
	if !ok {
		return
	}
	n, acc := v.AsBigFloat().Int64()
	if acc != big.Exact || n < 1 || n > 1<<16 {
		p.errorf(a.Expr.Range().Ptr(), "Invalid "+a.Name, "%s must be a whole number from 1 to 65536.", a.Name)
		return
	}
	*into = int(n)
}

func (p *parser) duration(a *hcl.Attribute) (time.Duration, bool) {
	s, ok := p.str(a)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if days, found := strings.CutSuffix(s, "d"); found && err != nil {
		// Days, for retention periods: "30d".
		var n int
		if _, serr := fmt.Sscanf(days, "%d", &n); serr == nil && fmt.Sprint(n) == days {
			d, err = time.Duration(n)*24*time.Hour, nil
		}
	}
	if err != nil || d <= 0 {
		p.errorf(a.Expr.Range().Ptr(), "Invalid "+a.Name, "%q is not a duration: write a positive duration such as \"60s\", \"5m\", \"1h30m\" or \"30d\".", s)
		return 0, false
	}
	return d, true
}

// resolveBindings checks each binding's endpoints, fills in the ones left
// out, and refuses two bindings of one mailbox.
func (p *parser) resolveBindings() {
	c := p.cfg
	unresolved := false
	for _, e := range c.Endpoints {
		unresolved = unresolved || e.Manifest == nil
	}
	byMailbox := map[string]*Binding{}
	for _, b := range c.Bindings {
		mOK := p.bindingEndpoint(b, manifest.KindMailbox, "mailbox_endpoint", &b.MailboxEndpoint, unresolved)
		p.bindingEndpoint(b, manifest.KindCRM, "crm_endpoint", &b.CRMEndpoint, unresolved)
		if !mOK || b.Mailbox == "" {
			continue
		}
		// Mailbox addresses are case-insensitive, so a case difference
		// would still be one mailbox synced twice.
		key := b.MailboxEndpoint + "\x00" + strings.ToLower(b.Mailbox)
		if prev := byMailbox[key]; prev != nil {
			p.errorf(b.attrs["mailbox"].Expr.Range().Ptr(), "Mailbox bound twice", "Mailbox %q on endpoint %q is already bound by binding %q at %s; a mailbox belongs to one binding.", b.Mailbox, b.MailboxEndpoint, prev.Name, Where(prev.Range))
			continue
		}
		byMailbox[key] = b
	}
}

// bindingEndpoint checks or fills in one side of a binding and reports
// whether that side names a usable endpoint.
func (p *parser) bindingEndpoint(b *Binding, kind, attr string, target *string, unresolved bool) bool {
	c := p.cfg
	if a := b.attrs[attr]; a != nil {
		if *target == "" {
			return false // the value did not decode; already reported
		}
		e := c.Endpoint(*target)
		if e == nil {
			names := make([]string, len(c.Endpoints))
			for i, e := range c.Endpoints {
				names[i] = e.Name
			}
			detail := "No endpoint is configured."
			if len(names) > 0 {
				detail = fmt.Sprintf("The endpoints are %s.%s", strings.Join(names, ", "), suggest(*target, names))
			}
			p.errorf(a.Expr.Range().Ptr(), "Unknown endpoint", "Binding %q names endpoint %q, but no endpoint has that name. %s", b.Name, *target, detail)
			return false
		}
		if e.Manifest == nil {
			return false // its connector is unknown; already reported
		}
		if e.Kind() != kind {
			p.errorf(a.Expr.Range().Ptr(), "Wrong kind of endpoint", "%s must name a %s endpoint, but %q uses connector %q, which is a %s connector.", attr, kind, e.Name, e.Connector, e.Kind())
			return false
		}
		return true
	}
	var names []string
	for _, e := range c.Endpoints {
		if e.Kind() == kind {
			names = append(names, e.Name)
		}
	}
	switch {
	case len(names) == 1:
		*target = names[0]
		return true
	case len(names) == 0 && !unresolved:
		p.errorf(&b.Range, "No "+kind+" endpoint", "Binding %q needs a %s endpoint, but none is configured.", b.Name, kind)
	case len(names) > 1:
		p.errorf(&b.Range, "Ambiguous "+kind+" endpoint", "Binding %q does not say %s, and there are %d %s endpoints (%s): set %s.", b.Name, attr, len(names), kind, strings.Join(names, ", "), attr)
	}
	return false
}

// Pair is a mailbox endpoint and a CRM endpoint whose connectors' manifests
// together bound what a policy may choose.
type Pair struct {
	Mailbox *Endpoint
	CRM     *Endpoint
}

// Pairs returns the endpoint pairs that the bindings use, each once, in
// binding order; with no bindings, every mailbox × CRM pair of endpoints
// whose connectors are known. Call it after Resolve.
func (c *Config) Pairs() []Pair {
	var out []Pair
	seen := map[[2]string]bool{}
	add := func(m, r *Endpoint) {
		if m == nil || r == nil || m.Kind() != manifest.KindMailbox || r.Kind() != manifest.KindCRM || seen[[2]string{m.Name, r.Name}] {
			return
		}
		seen[[2]string{m.Name, r.Name}] = true
		out = append(out, Pair{Mailbox: m, CRM: r})
	}
	if len(c.Bindings) > 0 {
		for _, b := range c.Bindings {
			add(c.Endpoint(b.MailboxEndpoint), c.Endpoint(b.CRMEndpoint))
		}
		return out
	}
	for _, m := range c.Endpoints {
		for _, r := range c.Endpoints {
			add(m, r)
		}
	}
	return out
}

// Bound is one manifest entry that limits a direction: what it allows (the
// ceiling), what it defaults to, and why.
type Bound struct {
	Connector string
	Allowed   manifest.Direction
	// Default is "" when the entry sets no default of its own for the part
	// asked about (an operation or field without its own rule follows its
	// entity).
	Default manifest.Direction
	Reason  string
	Range   hcl.Range // the manifest entry
}

// Where renders the manifest entry's place as file:line:column.
func (b Bound) Where() string { return Where(b.Range) }

// Bounds returns the entries of a connector's manifest that limit one part
// of an entity: the entity itself (op and field both ""), an operation, or
// a field. An entity the manifest does not declare allows nothing. An
// operation the connector does not support cannot flow into its side.
func Bounds(m *manifest.Manifest, entity, op, field string) []Bound {
	e := m.Entity(entity)
	if e == nil {
		return []Bound{{Connector: m.Name, Allowed: manifest.None, Default: manifest.None,
			Reason: fmt.Sprintf("The connector does not declare entity %s.", entity), Range: hcl.Range{Filename: m.Filename}}}
	}
	rule, own := &e.Direction, true
	switch {
	case op != "":
		if r := e.OpRule(op); r != nil {
			rule = r
		} else {
			own = false
		}
	case field != "":
		if r := e.FieldRule(field); r != nil {
			rule = r
		} else {
			own = false
		}
	}
	b := Bound{Connector: m.Name, Allowed: rule.Allowed, Reason: rule.Reason, Range: rule.Range}
	if own {
		b.Default = rule.Default
	}
	out := []Bound{b}
	if op != "" && !e.Supports(op) {
		// What the connector cannot apply cannot flow into its side.
		allowed := manifest.MailboxToCRM
		if m.Kind == manifest.KindCRM {
			allowed = manifest.CRMToMailbox
		}
		out = append(out, Bound{Connector: m.Name, Allowed: allowed,
			Reason: fmt.Sprintf("The connector cannot %s %s items (its operations are %s).", op, entity, strings.Join(e.Operations, ", ")), Range: e.Range})
	}
	return out
}

// checkPolicy checks a policy against the manifests of every endpoint pair.
func (p *parser) checkPolicy(pol *Policy, pairs []Pair) {
	var declaring []*manifest.Entity
	var connectors []string
	unresolved := false
	for _, e := range p.cfg.Endpoints {
		if e.Manifest == nil {
			unresolved = true
			continue
		}
		if !slices.Contains(connectors, e.Connector) {
			connectors = append(connectors, e.Connector)
			if ent := e.Manifest.Entity(pol.Entity); ent != nil {
				declaring = append(declaring, ent)
			}
		}
	}
	if len(declaring) == 0 {
		// With no known connector at all there is nothing to check
		// against; the endpoints' own errors say why.
		if !unresolved && len(connectors) > 0 {
			p.errorf(&pol.labelRange, "Entity not synced", "No connector of the configured endpoints declares %s (connectors: %s), so this policy would never apply.", pol.Entity, strings.Join(connectors, ", "))
		}
		return
	}
	type check struct {
		s         *Setting
		op, field string
	}
	checks := []check{}
	if pol.Direction != nil {
		checks = append(checks, check{s: pol.Direction})
	}
	for _, op := range manifest.Operations {
		s := pol.Operations[op]
		if s == nil {
			continue
		}
		supported := false
		for _, ent := range declaring {
			supported = supported || ent.Supports(op)
		}
		if !supported {
			rng := pol.opRanges[op]
			p.errorf(&rng, "Unsupported operation", "No connector supports %s of %s, so a rule for it would never apply.", op, pol.Entity)
			continue
		}
		checks = append(checks, check{s: s, op: op})
	}
	for _, f := range pol.FieldNames() {
		checks = append(checks, check{s: pol.Fields[f], field: f})
	}
	reported := map[string]bool{}
	for _, ch := range checks {
		what := ""
		switch {
		case ch.op != "":
			what = fmt.Sprintf(" for operation %q", ch.op)
		case ch.field != "":
			what = fmt.Sprintf(" for field %q", ch.field)
		}
		for _, pair := range pairs {
			bounds := append(Bounds(pair.Mailbox.Manifest, pol.Entity, ch.op, ch.field), Bounds(pair.CRM.Manifest, pol.Entity, ch.op, ch.field)...)
			for _, b := range bounds {
				if ch.s.Direction().Within(b.Allowed) {
					continue
				}
				key := fmt.Sprintf("%p %s %s %s", ch.s, b.Connector, b.Where(), b.Reason)
				if reported[key] {
					continue
				}
				reported[key] = true
				p.errorf(ch.s.ValueRange.Ptr(), "Direction beyond what the manifests allow",
					"policy %q sets direction %q%s, but connector %q allows only %q (%s: %q).",
					pol.Entity, ch.s.Value, what, b.Connector, b.Allowed, b.Where(), b.Reason)
			}
		}
	}
}
