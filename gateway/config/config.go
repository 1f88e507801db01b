// Package config reads the operator's configuration, syncgate.hcl: the
// gateway's own settings, the endpoints (configured uses of connectors), the
// bindings (a mailbox paired with a CRM user) and the per-entity policies.
//
// Reading happens in two phases because the folder that holds the
// connectors is itself set in the file: Parse reads the file on its own, and
// Resolve checks it against the manifests of the connectors found there.
// Every problem is reported as an hcl.Diagnostic whose Subject is the exact
// place in the file, never as a bare string, and all problems are collected
// rather than stopping at the first.
//
// Settings that a manifest marks sensitive are secrets: this package must
// never log or format their values. Endpoint.Redacted is the only way it
// renders settings.
package config

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// Defaults of the gateway block and of the gateway-reserved endpoint
// settings (manifest.ReservedConfig).
const (
	DefaultDataDir        = "./data"
	DefaultPluginDir      = "./plugins"
	DefaultLockFile       = "connectors.lock.hcl"
	DefaultLogLevel       = "info"
	DefaultAdminListen    = "127.0.0.1:9700"
	DefaultPollInterval   = 60 * time.Second
	DefaultCallTimeout    = 30 * time.Second
	DefaultMaxConcurrency = 8
	// DefaultTombstoneRetention keeps propagated deletes restorable for a
	// month: long enough for someone to notice a contact gone missing.
	DefaultTombstoneRetention = 30 * 24 * time.Hour
	// DefaultScopeConcurrency follows the strictest backend syncgate speaks:
	// Graph serves at most 4 concurrent requests per mailbox.
	DefaultScopeConcurrency = 4
)

// Policy values and their defaults.
const (
	ConflictCRMWins     = "crm_wins"
	ConflictMailboxWins = "mailbox_wins"
	ConflictNewestWins  = "newest_wins"
	ConflictMerge       = "merge"

	BlockedIgnore = "ignore"
	BlockedReport = "report"
	BlockedRevert = "revert"

	TrackAll      = "all"
	TrackCategory = "category"
	TrackFolder   = "folder"
	TrackNone     = "none"

	DeletePropagate = "propagate"
	DeleteUntrack   = "untrack"

	DefaultConflict  = ConflictNewestWins
	DefaultOnBlocked = BlockedReport
	// DefaultTrackingMode and DefaultTrackingValue follow Dynamics: a mailbox
	// item enters the CRM only when its owner gives it a category, so a
	// two-way rule does not pour every personal item of every mailbox into
	// the CRM.
	DefaultTrackingMode       = TrackCategory
	DefaultTrackingValue      = "Tracked to CRM"
	DefaultDeletesFromCRM     = DeletePropagate
	DefaultDeletesFromMailbox = DeleteUntrack
	DefaultMaxDeleteShare     = 0.5
)

// The allowed values of each policy setting, in the order they are listed
// in diagnostics.
var (
	Conflicts     = []string{ConflictCRMWins, ConflictMailboxWins, ConflictNewestWins, ConflictMerge}
	OnBlocked     = []string{BlockedIgnore, BlockedReport, BlockedRevert}
	TrackingModes = []string{TrackAll, TrackCategory, TrackFolder, TrackNone}
	DeleteActions = []string{DeletePropagate, DeleteUntrack}
	LogLevels     = []string{"trace", "debug", "info", "warn", "error"}
)

// Config is a parsed syncgate.hcl.
type Config struct {
	Filename  string // as given to Parse
	Dir       string // the file's folder; relative paths in the file are resolved against it
	Gateway   Gateway
	Endpoints []*Endpoint
	Bindings  []*Binding
	Policies  []*Policy
}

// Gateway is the gateway block. Paths are already resolved against the
// config file's folder.
type Gateway struct {
	DataDir     string
	PluginDir   string
	LockFile    string
	LogLevel    string
	AdminListen string
	// BindingsFile is a CSV of bindings (name, mailbox, crm_user[,
	// mailbox_endpoint, crm_endpoint]), read besides the binding blocks.
	BindingsFile string
	// TombstoneRetention is how long a propagated delete can be undone.
	TombstoneRetention time.Duration
}

// Endpoint is one configured use of a connector. Settings, the reserved
// settings and Manifest are filled in by Resolve.
type Endpoint struct {
	Connector      string
	Name           string
	Settings       sdk.Fields // the connector's config attributes, defaults applied
	PollInterval   time.Duration
	CallTimeout    time.Duration
	MaxConcurrency int // calls in flight to the endpoint
	// ScopeConcurrency bounds the calls in flight for one scope (a mailbox,
	// a CRM user) of the endpoint.
	ScopeConcurrency int
	Manifest         *manifest.Manifest // the connector's manifest, set by Resolve
	Range            hcl.Range          // the block's header

	connectorRange hcl.Range
	nameRange      hcl.Range
	body           *hclsyntax.Body
	sensitive      map[string]bool
}

// Binding pairs one mailbox on a mailbox endpoint with one CRM user on a CRM
// endpoint. An endpoint left out in the file is filled in by Resolve when
// exactly one endpoint of that kind exists.
type Binding struct {
	Name            string
	MailboxEndpoint string
	Mailbox         string
	CRMEndpoint     string
	CRMUser         string
	Range           hcl.Range // the block's header

	nameRange hcl.Range
	attrs     hcl.Attributes
}

// Policy is the operator's choices for one entity. A nil setting is one the
// policy leaves to the manifests' defaults or to the gateway's.
type Policy struct {
	Entity     string
	Direction  *Setting
	Conflict   *Setting
	OnBlocked  *Setting
	Tracking   *Tracking
	Deletes    *Deletes
	Operations map[string]*Setting // direction per operation (create, update, delete)
	Fields     map[string]*Setting // direction per field of the entity
	Range      hcl.Range           // the block's header

	labelRange hcl.Range
	opRanges   map[string]hcl.Range // each operation block's label
}

// Tracking is a policy's tracking block: which mailbox items enter the CRM.
type Tracking struct {
	Mode  *Setting
	Value *Setting // the category or folder; nil for all and none
	Range hcl.Range
}

// Deletes is a policy's deletes block: what a delete on one side does to
// the other side.
type Deletes struct {
	FromCRM     *Setting
	FromMailbox *Setting
	// MaxShare is the mass-delete guard: a binding is paused when one
	// cycle would delete more than this share of its items of the entity.
	// 0 means not set (DefaultMaxDeleteShare applies).
	MaxShare      float64
	MaxShareRange hcl.Range
	Range         hcl.Range
}

// Setting is one value that the operator wrote, with where: Range covers
// the whole "name = value" (what explain cites) and ValueRange only the
// value (where a diagnostic about the value points).
type Setting struct {
	Value      string
	Range      hcl.Range
	ValueRange hcl.Range
}

// Direction returns the setting as a direction; policy direction settings
// are checked by Parse, so it is one of the four.
func (s *Setting) Direction() manifest.Direction { return manifest.Direction(s.Value) }

// Endpoint returns the named endpoint, or nil.
func (c *Config) Endpoint(name string) *Endpoint {
	for _, e := range c.Endpoints {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// Binding returns the named binding, or nil.
func (c *Config) Binding(name string) *Binding {
	for _, b := range c.Bindings {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// Policy returns the policy for an entity, or nil when the operator wrote
// none.
func (c *Config) Policy(entity string) *Policy {
	for _, p := range c.Policies {
		if p.Entity == entity {
			return p
		}
	}
	return nil
}

// Kind returns the endpoint's connector kind (manifest.KindMailbox or
// manifest.KindCRM), or "" before Resolve has found its manifest.
func (e *Endpoint) Kind() string {
	if e.Manifest == nil {
		return ""
	}
	return e.Manifest.Kind
}

// Sensitive reports whether the named setting is a secret.
func (e *Endpoint) Sensitive(name string) bool { return e.sensitive[name] }

// Redacted renders the endpoint's settings for people to read, with every
// sensitive value replaced by "(sensitive)". Strings are shown as written.
func (e *Endpoint) Redacted() map[string]string {
	out := make(map[string]string, len(e.Settings))
	for k, v := range e.Settings {
		switch {
		case e.sensitive[k]:
			out[k] = "(sensitive)"
		case v.Kind() == sdk.KindString:
			out[k] = v.Str()
		default:
			out[k] = v.String()
		}
	}
	return out
}

// String describes the endpoint with its settings redacted, so that
// printing an Endpoint by accident cannot reveal a secret.
func (e *Endpoint) String() string {
	red := e.Redacted()
	keys := make([]string, 0, len(red))
	for k := range red {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + red[k]
	}
	return fmt.Sprintf("endpoint %q (%s) {%s}", e.Name, e.Connector, strings.Join(parts, ", "))
}

// GoString is String, for %#v.
func (e *Endpoint) GoString() string { return e.String() }

// Operation returns the policy's direction for an operation, or nil.
func (p *Policy) Operation(op string) *Setting { return p.Operations[op] }

// Field returns the policy's direction for a field, or nil.
func (p *Policy) Field(name string) *Setting { return p.Fields[name] }

// FieldNames returns the fields the policy sets a direction for, in the
// order they appear in the file.
func (p *Policy) FieldNames() []string {
	names := make([]string, 0, len(p.Fields))
	for n := range p.Fields {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return p.Fields[names[i]].Range.Start.Byte < p.Fields[names[j]].Range.Start.Byte })
	return names
}

// Where renders a range as file:line:column, the form every diagnostic and
// explanation uses.
func Where(r hcl.Range) string {
	if r.Start.Line == 0 {
		return r.Filename
	}
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
