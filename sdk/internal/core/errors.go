package core

import (
	"errors"
	"fmt"
	"time"
)

// ErrorKind decides what the engine does with a failed call.
type ErrorKind uint8

// Error kinds; see DESIGN.md "Conflicts, deletes, first sync, errors".
const (
	ErrThrottled      ErrorKind = iota + 1 // wait RetryAfter for ThrottleScope
	ErrRetryable                           // back off with jitter and retry
	ErrConflict                            // the item changed: refetch, resolve again
	ErrNotFound                            // the item is gone
	ErrPermanent                           // will never succeed: dead letter after N tries
	ErrAuth                                // credentials refused: pause the endpoint
	ErrConfig                              // settings wrong: pause the endpoint
	ErrResyncRequired                      // cursor expired: re-enumerate the feed
)

var errorKindNames = map[ErrorKind]string{
	ErrThrottled: "throttled", ErrRetryable: "retryable", ErrConflict: "conflict",
	ErrNotFound: "not_found", ErrPermanent: "permanent", ErrAuth: "auth",
	ErrConfig: "config", ErrResyncRequired: "resync_required",
}

func (k ErrorKind) String() string {
	if s, ok := errorKindNames[k]; ok {
		return s
	}
	return "unknown"
}

// ThrottleScope says what a throttled answer holds back.
type ThrottleScope uint8

// Throttle scopes: one item, one binding scope (a mailbox, a CRM user), or
// the whole endpoint.
const (
	ThrottleItem ThrottleScope = iota + 1
	ThrottleScopeWide
	ThrottleEndpoint
)

func (s ThrottleScope) String() string {
	switch s {
	case ThrottleItem:
		return "item"
	case ThrottleScopeWide:
		return "scope"
	case ThrottleEndpoint:
		return "endpoint"
	}
	return "unspecified"
}

// Error is a typed error from a connector call or one of its ops.
type Error struct {
	Kind           ErrorKind
	Message        string
	RetryAfter     time.Duration // throttled: how long the backend asked to wait
	ThrottleScope  ThrottleScope // throttled: what the wait applies to
	CurrentVersion string        // conflict: the item's version now, if known
}

func (e *Error) Error() string {
	msg := e.Kind.String()
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Kind == ErrThrottled {
		msg += fmt.Sprintf(" (retry after %s, %s)", e.RetryAfter, e.ThrottleScope)
	}
	if e.Kind == ErrConflict && e.CurrentVersion != "" {
		msg += fmt.Sprintf(" (current version %q)", e.CurrentVersion)
	}
	return msg
}

// Throttled returns a throttled error.
func Throttled(retryAfter time.Duration, scope ThrottleScope, format string, args ...any) *Error {
	return &Error{Kind: ErrThrottled, RetryAfter: retryAfter, ThrottleScope: scope, Message: fmt.Sprintf(format, args...)}
}

// Conflict returns a conflict error carrying the item's current version.
func Conflict(currentVersion, format string, args ...any) *Error {
	return &Error{Kind: ErrConflict, CurrentVersion: currentVersion, Message: fmt.Sprintf(format, args...)}
}

// NewError returns an error of the given kind.
func NewError(kind ErrorKind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as a typed *Error. An error that is not typed becomes
// retryable: an unknown failure is assumed to be passing, and the engine
// dead-letters what keeps failing.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: ErrRetryable, Message: err.Error()}
}

// IsKind reports whether err is a typed error of the given kind.
func IsKind(err error, kind ErrorKind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}
