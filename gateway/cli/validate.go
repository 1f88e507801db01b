package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func validateCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration, the connectors' manifests and the lock file",
		Long: `Validate reads the configuration, every connector manifest in plugin_dir and
the lock file, and prints every problem as file:line:column: severity: what is
wrong: what would be right. It exits non-zero if any problem is an error. It
does not start any connector.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := mustLoad(cmd, path)
			if err != nil {
				return err
			}
			c := s.cfg
			fmt.Fprintf(cmd.OutOrStdout(), "%s is valid: %d endpoints, %d bindings, %d policies; %d connectors locked in %s\n",
				rel(c.Filename), len(c.Endpoints), len(c.Bindings), len(c.Policies), len(s.lock.Connectors), rel(s.lock.Path))
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}
