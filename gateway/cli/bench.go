package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/syncgate/syncgate/gateway/bench"
)

func benchCmd() *cobra.Command {
	o := bench.Defaults
	var quiet bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure syncgate against the emulated Exchange and CRM: initial sync, a bare copier, change latency, idle scale",
		Long: `bench starts graph-emulator and dataverse-emulator (found next to this binary,
as make build puts them), seeds the CRM, runs this binary's "syncgate run" with the
exchange and crm plugins as real processes, and prints a table per part: the initial
sync, the same copy by a bare copier, the latency of single edits each way, and the
cost of many idle bindings. Every size has a flag to shrink it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Syncgate == "" {
				self, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find the syncgate binary: %w (name it with --syncgate)", err)
				}
				o.Syncgate = self
			}
			if !quiet {
				o.Log = cmd.ErrOrStderr()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			r, err := bench.Run(ctx, o)
			if r != nil && (err == nil || r.Bare.Wall > 0) {
				// The parts measured before a failure are still figures.
				if perr := r.Print(cmd.OutOrStdout()); err == nil {
					err = perr
				}
			}
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Syncgate, "syncgate", "", "the syncgate binary to run (default: this one)")
	f.StringVar(&o.GraphEmulator, "graph-emulator", "", "the graph-emulator binary (default: next to the syncgate binary)")
	f.StringVar(&o.DataverseEmulator, "dataverse-emulator", "", "the dataverse-emulator binary (default: next to the syncgate binary)")
	f.StringVar(&o.PluginDir, "plugin-dir", "", "plugin_dir with the exchange and crm connectors (default: plugins next to the syncgate binary)")
	f.StringVar(&o.LockFile, "lock-file", "", "the connectors' lock file (default: connectors.lock.hcl next to the syncgate binary)")
	f.IntVar(&o.Contacts, "contacts", o.Contacts, "contacts seeded in the CRM for the initial sync")
	f.IntVar(&o.Appointments, "appointments", o.Appointments, "appointments seeded in the CRM for the initial sync")
	f.IntVar(&o.Bindings, "bindings", o.Bindings, "mailboxes the initial sync is spread over")
	f.IntVar(&o.Edits, "edits", o.Edits, "single edits per direction for the change latency")
	f.IntVar(&o.IdleBindings, "idle-bindings", o.IdleBindings, "bindings (from a bindings file) for the idle scale")
	f.DurationVar(&o.IdleFor, "idle-for", o.IdleFor, "how long the idle bindings are watched")
	f.DurationVar(&o.CRMPoll, "crm-poll", o.CRMPoll, "the CRM endpoint's poll_interval")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "how long a phase may wait for the gateway")
	f.StringVar(&o.WorkDir, "work-dir", "", "where configs and data dirs go (default: a temporary folder, removed afterwards)")
	f.BoolVar(&quiet, "quiet", false, "print only the tables, no progress")
	return cmd
}
