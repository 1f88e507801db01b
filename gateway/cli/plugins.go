package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/sdk/manifest"
)

func pluginsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "List, lock and check connectors"}
	cmd.AddCommand(pluginsListCmd(), pluginsLockCmd(), pluginsCheckCmd())
	return cmd
}

// pluginDirs says where the connectors and the lock file are: from flags,
// else from the config's gateway block (which need not be valid otherwise).
type pluginDirs struct {
	config, pluginDir, lockFile string
}

func (d *pluginDirs) flags(cmd *cobra.Command) {
	configFlag(cmd, &d.config)
	cmd.Flags().StringVar(&d.pluginDir, "plugin-dir", "", "the connectors' folder (default: the config's gateway.plugin_dir)")
	cmd.Flags().StringVar(&d.lockFile, "lock-file", "", "the lock file (default: the config's gateway.lock_file)")
}

func (d *pluginDirs) resolve(cmd *cobra.Command) error {
	if d.pluginDir != "" && d.lockFile != "" {
		return nil
	}
	cfg, diags := config.Parse(d.config)
	if cfg == nil || diags.HasErrors() {
		printDiags(cmd.ErrOrStderr(), diags)
		return fmt.Errorf("give --plugin-dir and --lock-file, or a valid -config")
	}
	if d.pluginDir == "" {
		d.pluginDir = cfg.Gateway.PluginDir
	}
	if d.lockFile == "" {
		d.lockFile = cfg.Gateway.LockFile
	}
	return nil
}

func pluginsListCmd() *cobra.Command {
	var d pluginDirs
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List connectors with their entities, directions and lock status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := d.resolve(cmd); err != nil {
				return err
			}
			plugins, diags := host.Discover(d.pluginDir)
			printDiags(cmd.ErrOrStderr(), diags)
			lf, lockDiags := host.ReadLockFile(d.lockFile)
			if len(plugins) == 0 {
				return fmt.Errorf("no connectors in %s", d.pluginDir)
			}
			for _, p := range plugins {
				writePlugin(cmd.OutOrStdout(), p, lockStatus(lf, lockDiags.HasErrors(), p))
			}
			return nil
		},
	}
	d.flags(cmd)
	return cmd
}

func lockStatus(lf *host.LockFile, noLock bool, p *host.Plugin) string {
	if noLock || lf == nil {
		return "no lock file"
	}
	err := lf.Verify(p)
	var ce *host.ChecksumError
	switch {
	case err == nil:
		return "locked"
	case errors.As(err, &ce):
		return "CHECKSUM MISMATCH (" + ce.Relock + ")"
	default:
		return "NOT LOCKED"
	}
}

func writePlugin(w io.Writer, p *host.Plugin, lock string) {
	m := p.Manifest
	fmt.Fprintf(w, "%s %s (%s connector, protocol %v) lock: %s\n", m.Name, m.Version, m.Kind, m.Protocol, lock)
	if m.Description != "" {
		fmt.Fprintf(w, "  %s\n", m.Description)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ENTITY\tFEED\tOPERATIONS\tALLOWED\tDEFAULT\tREASON")
	for _, e := range m.Entities {
		feed := e.Feed
		if e.FeedName != e.Name {
			feed += " (" + e.FeedName + ")"
		}
		writeRule(tw, "  "+e.Name, feed, strings.Join(e.Operations, ","), &e.Direction)
		for _, r := range e.OpRules {
			writeRule(tw, "    operation "+r.Name, "", "", r)
		}
		for _, r := range e.FieldRules {
			writeRule(tw, "    field "+r.Name, "", "", r)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func writeRule(w io.Writer, what, feed, ops string, r *manifest.Rule) {
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", what, feed, ops, r.Allowed, r.Default, r.Reason)
}

func pluginsLockCmd() *cobra.Command {
	var d pluginDirs
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Write the lock file: the sha256 of every connector binary in plugin_dir",
		Long: `Lock pins the connectors now in plugin_dir: the gateway will refuse to start
any binary whose sha256 differs from the one written here. Run it after you
build, install or upgrade a connector, once you trust the binary.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := d.resolve(cmd); err != nil {
				return err
			}
			plugins, diags := host.Discover(d.pluginDir)
			if printDiags(cmd.ErrOrStderr(), diags) {
				return exitError{code: 1}
			}
			if len(plugins) == 0 {
				return fmt.Errorf("no connectors in %s: nothing to lock", d.pluginDir)
			}
			lf, err := host.Lock(d.lockFile, plugins)
			if err != nil {
				return err
			}
			if err := lf.Write(); err != nil {
				return err
			}
			for _, p := range plugins {
				fmt.Fprintf(cmd.OutOrStdout(), "locked %s %s sha256:%s\n", p.Name, p.Manifest.Version, lf.Connectors[p.Name].SHA256)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", rel(d.lockFile))
			return nil
		},
	}
	d.flags(cmd)
	return cmd
}

func pluginsCheckCmd() *cobra.Command {
	var (
		path    string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Start each endpoint's connector, configure it, and check its backend and binding scopes",
		Long: `Check does what the gateway does at start for every endpoint: verifies the
binary against the lock file, launches it, compares its embedded manifest with
the file beside it, sends the endpoint's settings, and asks the connector to
check reachability, credentials and each binding's scope. Then it stops them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := mustLoad(cmd, path)
			if err != nil {
				return err
			}
			log := s.logger(cmd.ErrOrStderr())
			failed := 0
			for _, ep := range s.cfg.Endpoints {
				if err := checkEndpoint(cmd, s, ep, log, timeout); err != nil {
					failed++
					fmt.Fprintf(cmd.OutOrStdout(), "endpoint %s (%s): FAILED: %v\n", ep.Name, ep.Connector, err)
				}
			}
			if failed > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long each connector may take to start and answer")
	return cmd
}

func checkEndpoint(cmd *cobra.Command, s *setup, ep *config.Endpoint, log hclog.Logger, timeout time.Duration) error {
	p := s.plugins[ep.Connector]
	sup := host.NewSupervisor(host.SupervisorConfig{
		Launch: host.LaunchConfig{Plugin: p, Endpoint: ep.Name, Lock: s.lock.Connectors[p.Name], LockFile: s.lock.Path,
			Logger: log, LogLevel: hclog.LevelFromString(s.cfg.Gateway.LogLevel), StartTimeout: timeout},
		Settings:    ep.Settings,
		KV:          host.NewMemKV(),
		CallTimeout: timeout,
	})
	ctx := context.Background()
	if err := sup.Start(ctx); err != nil {
		return err
	}
	defer sup.Stop()
	var scopes []string
	for _, b := range s.cfg.Bindings {
		switch ep.Name {
		case b.MailboxEndpoint:
			scopes = append(scopes, b.Mailbox)
		case b.CRMEndpoint:
			scopes = append(scopes, b.CRMUser)
		}
	}
	res, err := sup.Check(ctx, scopes)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	inst := sup.Instance()
	status := "ok"
	if res.Diagnostics.HasErrors() {
		status = "FAILED"
	}
	fmt.Fprintf(out, "endpoint %s (%s %s, pid %d, capabilities %v): %s\n", ep.Name, p.Name, p.Manifest.Version, inst.Pid(), inst.Capabilities, status)
	for _, d := range res.Diagnostics {
		fmt.Fprintf(out, "  %s\n", d)
	}
	bad := res.Diagnostics.HasErrors()
	for _, sc := range res.Scopes {
		fmt.Fprintf(out, "  scope %s: routing keys %v\n", sc.Scope, sc.RoutingKeys)
		for _, d := range sc.Diagnostics {
			fmt.Fprintf(out, "    %s\n", d)
		}
		bad = bad || sc.Diagnostics.HasErrors()
	}
	if bad {
		return fmt.Errorf("the connector reported errors")
	}
	return nil
}
