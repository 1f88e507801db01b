// Package cli is the syncgate command line: one cobra command per verb. It
// only parses arguments, loads configuration and prints; the work is done by
// the packages it calls.
package cli

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/protocol"
)

// Version is set at build time with -ldflags "-X .../gateway/cli.Version=v1.2.3";
// otherwise the module version or "dev".
var Version = ""

// exitError carries an exit code without printing anything more: the
// command has already said what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(normalizeArgs(args))
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintln(stderr, "syncgate: "+err.Error())
		return 1
	}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "syncgate",
		Short:         "syncgate keeps mailboxes and a CRM in step",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(versionCmd(), validateCmd(), pluginsCmd(), explainCmd(), runCmd(), statusCmd(), pauseCmd(), resumeCmd(), backupCmd(), deadLettersCmd(), planCmd(), resyncCmd(), undeleteCmd(), benchCmd())
	return root
}

// singleDashLong matches "-config" or "-config=x": Go-style long flags,
// which pflag would read as a cluster of one-letter flags.
var singleDashLong = regexp.MustCompile(`^-[a-z][a-z0-9-]+(=.*)?$`)

// normalizeArgs lets "-config F" mean "--config F", as in the Go tools that
// operators know; syncgate defines no one-letter flag clusters.
func normalizeArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "--" {
			copy(out[i:], args[i:])
			break
		}
		if singleDashLong.MatchString(a) {
			a = "-" + a
		}
		out[i] = a
	}
	return out
}

func versionString() string {
	v := Version
	if v == "" {
		v = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return fmt.Sprintf("syncgate %s (protocol %d, canonical schema %d, %s %s/%s)",
		v, protocol.Version, sdk.SchemaVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), versionString())
			return nil
		},
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix) + "\n"
}
