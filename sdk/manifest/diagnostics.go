package manifest

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// FormatDiagnostics renders diagnostics one per line as
// "file:line:column: severity: summary: detail", the form syncgate prints
// for every configuration and manifest problem.
func FormatDiagnostics(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(FormatDiagnostic(d))
		b.WriteByte('\n')
	}
	return b.String()
}

// FormatDiagnostic renders one diagnostic; see FormatDiagnostics.
func FormatDiagnostic(d *hcl.Diagnostic) string {
	sev := "error"
	if d.Severity == hcl.DiagWarning {
		sev = "warning"
	}
	where := ""
	if d.Subject != nil {
		where = fmt.Sprintf("%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
	}
	msg := where + sev + ": " + d.Summary
	if d.Detail != "" {
		msg += ": " + d.Detail
	}
	return msg
}

// SortDiagnostics orders diagnostics by file, line and column, keeping the
// order of those at the same place; diagnostics without a place come first.
// hcl reports some problems (unsupported arguments) in map order, so without
// this the same file could print its problems in a different order each run.
func SortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Line != b.Start.Line:
			return a.Start.Line < b.Start.Line
		}
		return a.Start.Column < b.Start.Column
	})
}
