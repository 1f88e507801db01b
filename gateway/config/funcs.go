package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// evalContext offers the functions a config expression may call: env and
// file, so that secrets need not be written in the file. There are no
// variables.
func evalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{Functions: map[string]function.Function{
		"env":  envFunc,
		"file": fileFunc(dir),
	}}
}

// envFunc returns an environment variable. An unset variable is an error,
// not "", because an empty secret would only fail later and further away.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		name := args[0].AsString()
		v, ok := os.LookupEnv(name)
		if !ok {
			return cty.NilVal, fmt.Errorf("the environment variable %s is not set", name)
		}
		return cty.StringVal(v), nil
	},
})

// fileFunc returns a file's content without its trailing newline (editors
// add one, secrets never end with one). A relative path is relative to the
// config file's folder.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the content of a file, without its trailing newline.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path := args[0].AsString()
			full := path
			if !filepath.IsAbs(full) {
				full = filepath.Join(dir, full)
			}
			data, err := os.ReadFile(full)
			if err != nil {
				// The bare cause: the path is named once, as resolved.
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return cty.NilVal, fmt.Errorf("cannot read %s: %v", full, err)
			}
			s := strings.TrimSuffix(string(data), "\n")
			return cty.StringVal(strings.TrimSuffix(s, "\r")), nil
		},
	})
}

// callsSecretSource reports whether an expression takes its value from
// env() or file(), rather than from text written in the config file.
func callsSecretSource(expr hcl.Expression) bool {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return false
	}
	found := false
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		if call, ok := n.(*hclsyntax.FunctionCallExpr); ok && (call.Name == "env" || call.Name == "file") {
			found = true
		}
		return nil
	})
	return found
}

// suggest returns ` Did you mean "x"?` when a choice is close to what was
// written, else "". Close is hcl's own threshold (an edit distance under
// 3), or a choice that starts with what was written ("tenant" for
// "tenant_id"), which an edit distance misses.
func suggest(given string, choices []string) string {
	best, bestDist := "", 3
	for _, c := range choices {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" && len(given) >= 4 {
		for _, c := range choices {
			if strings.HasPrefix(c, given) {
				best = c
				break
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}
