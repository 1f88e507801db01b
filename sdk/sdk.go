// Package sdk is what a syncgate connector author imports.
//
// A connector implements Connector (plus, optionally, Watcher,
// WebhookHandler and Stopper), embeds its manifest connector.hcl, and calls
// Serve from main:
//
//	//go:embed connector.hcl
//	var manifest []byte
//
//	func main() { sdk.Serve(myconnector.New(manifest)) }
//
// The SDK hides go-plugin, gRPC and logging plumbing: the host hands the
// connector a Logger and a key-value store (Env) in Configure. The canonical
// model (Schemas, Validate) says what each entity's fields are. The
// conformance suite in sdk/sdktest checks a connector against its own
// backend.
//
// This package never imports anything under gateway/.
package sdk

import (
	"github.com/syncgate/syncgate/sdk/internal/core"
	"github.com/syncgate/syncgate/sdk/protocol"
)

// Serve runs c as a connector process for the gateway. It does not return.
func Serve(c Connector) { protocol.Serve(c) }

// The interfaces a connector implements and the environment it gets.
type (
	// Connector is what an author implements; see its methods.
	Connector = core.Connector
	// Syncer is the data-moving half of Connector.
	Syncer = core.Syncer
	// Watcher is the optional change-hint stream capability.
	Watcher = core.Watcher
	// WebhookHandler is the optional backend-notification capability.
	WebhookHandler = core.WebhookHandler
	// Stopper is the optional clean-shutdown capability.
	Stopper = core.Stopper
	// Env is what the host hands a connector in Configure.
	Env = core.Env
	// Logger is the structured logger in Env.
	Logger = core.Logger
	// KV is the host-persisted key-value store in Env.
	KV = core.KV
	// CheckResult is Check's answer.
	CheckResult = core.CheckResult
	// ScopeInfo is one binding scope as Check resolved it.
	ScopeInfo = core.ScopeInfo
)

// Feeds, changes, items and writes.
type (
	Feed            = core.Feed
	Cursor          = core.Cursor
	Pending         = core.Pending
	PendingKind     = core.PendingKind
	ChangeKind      = core.ChangeKind
	ChangeRecord    = core.ChangeRecord
	SyncDataRequest = core.SyncDataRequest
	SyncDataPage    = core.SyncDataPage
	Record          = core.Record
	FetchResult     = core.FetchResult
	OpKind          = core.OpKind
	Op              = core.Op
	OpResult        = core.OpResult
	Hint            = core.Hint
	WebhookRequest  = core.WebhookRequest
	WebhookResponse = core.WebhookResponse
)

// Values and the canonical model.
type (
	Value        = core.Value
	Kind         = core.Kind
	Fields       = core.Fields
	Type         = core.Type
	Field        = core.Field
	EntitySchema = core.EntitySchema
)

// Errors and diagnostics.
type (
	Error         = core.Error
	ErrorKind     = core.ErrorKind
	ThrottleScope = core.ThrottleScope
	Diagnostic    = core.Diagnostic
	Diagnostics   = core.Diagnostics
	Severity      = core.Severity
)

// Constants, re-exported.
const (
	PendingUnknown  = core.PendingUnknown
	PendingCount    = core.PendingCount
	PendingEstimate = core.PendingEstimate

	ChangeUpsert    = core.ChangeUpsert
	ChangeDelete    = core.ChangeDelete
	ChangeScopeExit = core.ChangeScopeExit

	OpCreate = core.OpCreate
	OpUpdate = core.OpUpdate
	OpDelete = core.OpDelete

	ErrThrottled      = core.ErrThrottled
	ErrRetryable      = core.ErrRetryable
	ErrConflict       = core.ErrConflict
	ErrNotFound       = core.ErrNotFound
	ErrPermanent      = core.ErrPermanent
	ErrAuth           = core.ErrAuth
	ErrConfig         = core.ErrConfig
	ErrResyncRequired = core.ErrResyncRequired

	ThrottleItem      = core.ThrottleItem
	ThrottleScopeWide = core.ThrottleScopeWide
	ThrottleEndpoint  = core.ThrottleEndpoint

	SeverityError   = core.SeverityError
	SeverityWarning = core.SeverityWarning

	KindNull   = core.KindNull
	KindString = core.KindString
	KindInt    = core.KindInt
	KindFloat  = core.KindFloat
	KindBool   = core.KindBool
	KindTime   = core.KindTime
	KindList   = core.KindList
	KindMap    = core.KindMap

	SchemaVersion = core.SchemaVersion
)

// Value constructors, error constructors and the canonical model.
var (
	Null    = core.Null
	String  = core.String
	Int     = core.Int
	Float   = core.Float
	Bool    = core.Bool
	Time    = core.Time
	TimeIn  = core.TimeIn
	List    = core.List
	Map     = core.Map
	Strings = core.Strings

	NewError  = core.NewError
	Throttled = core.Throttled
	Conflict  = core.Conflict
	AsError   = core.AsError
	IsKind    = core.IsKind
	Errorf    = core.Errorf
	Warnf     = core.Warnf

	// Schemas is the canonical model, one schema per entity.
	Schemas = core.Schemas
	// Entities lists the canonical entity names.
	Entities = core.Entities
	// Validate checks a record's fields against its entity's schema.
	Validate = core.Validate
	// SchemaMarkdown renders the canonical model for docs/canonical-model.md.
	SchemaMarkdown = core.SchemaMarkdown
)
