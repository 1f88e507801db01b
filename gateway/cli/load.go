package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/gateway/policy"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// setup is everything a command needs from the operator's files.
type setup struct {
	cfg     *config.Config
	plugins map[string]*host.Plugin
	lock    *host.LockFile
}

// load reads the config, discovers the connectors it may use, decodes the
// endpoints against their manifests, and checks the lock file for every
// connector an endpoint uses. It returns every diagnostic found; the setup
// is usable only when none is an error.
func load(path string) (*setup, hcl.Diagnostics) {
	cfg, diags := config.Parse(path)
	if diags.HasErrors() || cfg == nil {
		return nil, diags
	}
	s := &setup{cfg: cfg, plugins: map[string]*host.Plugin{}}
	plugins, ds := host.Discover(cfg.Gateway.PluginDir)
	diags = append(diags, ds...)
	for _, p := range plugins {
		s.plugins[p.Name] = p
	}
	diags = append(diags, cfg.Resolve(host.Manifests(plugins))...)
	if diags.HasErrors() {
		return s, diags
	}
	diags = append(diags, policy.Check(cfg)...)
	if diags.HasErrors() {
		return s, diags
	}
	lf, ds := host.ReadLockFile(cfg.Gateway.LockFile)
	diags = append(diags, ds...)
	if lf == nil {
		return s, diags
	}
	s.lock = lf
	checked := map[string]bool{}
	for _, ep := range cfg.Endpoints {
		p := s.plugins[ep.Connector]
		if p == nil || checked[p.Name] {
			continue
		}
		checked[p.Name] = true
		if err := lf.Verify(p); err != nil {
			rng := ep.Range
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Connector binary refused", Detail: err.Error(), Subject: &rng})
		}
	}
	return s, diags
}

// printDiags writes diagnostics to w and reports whether any is an error.
func printDiags(w io.Writer, diags hcl.Diagnostics) bool {
	fmt.Fprint(w, manifest.FormatDiagnostics(diags))
	return diags.HasErrors()
}

// mustLoad loads the config and prints its diagnostics; on error it returns
// the exit error the command should return.
func mustLoad(cmd *cobra.Command, path string) (*setup, error) {
	s, diags := load(path)
	if printDiags(cmd.ErrOrStderr(), diags) {
		return nil, exitError{code: 1}
	}
	return s, nil
}

func (s *setup) logger(w io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "syncgate", Level: hclog.LevelFromString(s.cfg.Gateway.LogLevel), Output: w})
}

func configFlag(cmd *cobra.Command, target *string) {
	cmd.Flags().StringVar(target, "config", defaultConfigPath(), "the gateway's configuration file")
}

// defaultConfigPath is syncgate.hcl in the working directory, or the
// SYNCGATE_CONFIG environment variable.
func defaultConfigPath() string {
	if p := os.Getenv("SYNCGATE_CONFIG"); p != "" {
		return p
	}
	return "syncgate.hcl"
}

func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && len(r) < len(path) {
		return r
	}
	return path
}
