package core

import (
	"fmt"
	"strings"
)

// Severity of a diagnostic.
type Severity uint8

// Severities.
const (
	SeverityError Severity = iota + 1
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one validation problem: what is wrong (Summary), what would
// be right (Detail), and the attribute it concerns (Path, e.g.
// ["graph_url"] or ["entity", "contact", "feed"]).
type Diagnostic struct {
	Severity Severity
	Summary  string
	Detail   string
	Path     []string
}

func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Severity.String())
	if len(d.Path) > 0 {
		fmt.Fprintf(&b, " at %s", strings.Join(d.Path, "."))
	}
	b.WriteString(": " + d.Summary)
	if d.Detail != "" {
		b.WriteString("; " + d.Detail)
	}
	return b.String()
}

// Diagnostics is a list of diagnostics.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity != SeverityWarning {
			return true
		}
	}
	return false
}

// Err returns the errors among ds as one error, or nil.
func (ds Diagnostics) Err() error {
	var msgs []string
	for _, d := range ds {
		if d.Severity != SeverityWarning {
			msgs = append(msgs, d.String())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(msgs, "\n"))
}

// Errorf returns an error diagnostic for the attribute at path.
func Errorf(path []string, summary, detail string, args ...any) Diagnostic {
	return Diagnostic{Severity: SeverityError, Path: path, Summary: summary, Detail: fmt.Sprintf(detail, args...)}
}

// Warnf returns a warning diagnostic for the attribute at path.
func Warnf(path []string, summary, detail string, args ...any) Diagnostic {
	return Diagnostic{Severity: SeverityWarning, Path: path, Summary: summary, Detail: fmt.Sprintf(detail, args...)}
}
