package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/syncgate/syncgate/gateway/policy"
)

func explainCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "explain BINDING ENTITY",
		Short: "Print the effective sync rule of an entity for a binding, and where each part comes from",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := mustLoad(cmd, path)
			if err != nil {
				return err
			}
			rule, err := policy.Effective(s.cfg, args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), rule.Explain())
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}
