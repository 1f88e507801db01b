package host

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"

	"github.com/syncgate/syncgate/sdk/manifest"
)

// Plugin is one connector found in plugin_dir: <dir>/<name>/<name> and
// <dir>/<name>/connector.hcl.
type Plugin struct {
	Name         string
	Dir          string
	Binary       string
	ManifestPath string
	Manifest     *manifest.Manifest
}

// Discover finds every connector folder in pluginDir and parses its manifest.
// A folder without connector.hcl is skipped; a manifest that does not parse,
// a name that differs from its folder, or a missing binary is an error.
func Discover(pluginDir string) ([]*Plugin, hcl.Diagnostics) {
	// Absolute, because a connector runs with its own folder as working
	// directory: a relative binary path would be looked up from there.
	if abs, err := filepath.Abs(pluginDir); err == nil {
		pluginDir = abs
	}
	entries, err := os.ReadDir(pluginDir)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read plugin_dir",
			Detail: fmt.Sprintf("%v. Set gateway { plugin_dir = \"...\" } to the folder that holds the connectors (make build puts them in bin/plugins).", err)}}
	}
	var (
		out   []*Plugin
		diags hcl.Diagnostics
	)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(pluginDir, e.Name())
		mpath := filepath.Join(dir, manifest.FileName)
		if _, err := os.Stat(mpath); err != nil {
			continue
		}
		m, ds := manifest.ParseFile(mpath)
		diags = append(diags, ds...)
		if m == nil {
			continue
		}
		p := &Plugin{Name: m.Name, Dir: dir, Binary: filepath.Join(dir, m.Name), ManifestPath: mpath, Manifest: m}
		if m.Name != e.Name() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Connector name differs from its folder",
				Detail: fmt.Sprintf("%s names the connector %q, but it is in the folder %q: the folder must carry the connector's name.", mpath, m.Name, e.Name())})
			continue
		}
		if st, err := os.Stat(p.Binary); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Connector binary missing",
				Detail: fmt.Sprintf("connector %q: no executable %s beside its manifest.", m.Name, p.Binary)})
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, diags
}

// Manifests returns the plugins' manifests keyed by connector name.
func Manifests(plugins []*Plugin) map[string]*manifest.Manifest {
	out := make(map[string]*manifest.Manifest, len(plugins))
	for _, p := range plugins {
		out[p.Name] = p.Manifest
	}
	return out
}
