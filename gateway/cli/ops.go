package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/syncgate/syncgate/gateway/admin"
	"github.com/syncgate/syncgate/gateway/store"
)

func backupCmd() *cobra.Command {
	var path, out string
	cmd := &cobra.Command{
		Use:   "backup -o FILE",
		Short: "Write a consistent copy of the gateway's database, while it runs or not",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("say where the backup goes: -o FILE")
			}
			s, err := mustLoad(cmd, path)
			if err != nil {
				return err
			}
			tmp := out + ".partial"
			f, err := os.Create(tmp)
			if err != nil {
				return err
			}
			defer os.Remove(tmp)
			err = withGateway(s, func(c *admin.Client) error {
				return c.Stream("/v1/backup", f)
			}, func(db *store.DB) error {
				return db.Backup(f)
			})
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			if err := os.Rename(tmp, out); err != nil {
				return err
			}
			st, _ := os.Stat(out)
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes); restore it into an empty data_dir with Badger's restore\n", filepath.Clean(out), st.Size())
			return nil
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().StringVarP(&out, "output", "o", "", "the backup file")
	return cmd
}

func deadLettersCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{Use: "dead-letters", Short: "List, retry or drop the changes that kept failing"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List dead letters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := mustLoad(cmd, path)
			if err != nil {
				return err
			}
			var dls []store.DeadLetter
			err = withGateway(s, func(c *admin.Client) error {
				return c.Get("/v1/dead-letters", &dls)
			}, func(db *store.DB) error {
				return db.View(func(tx *store.Tx) error {
					return store.Scan(tx, store.DeadLetterAllPrefix(), func(_ []byte, d *store.DeadLetter) bool { dls = append(dls, *d); return true })
				})
			})
			if err != nil {
				return err
			}
			for _, d := range dls {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %d  %s %s %s  after %d attempts: %s\n", d.Change.Binding, d.Change.Seq,
					d.Change.Side, d.Change.Kind, d.Change.Ref, d.Change.Attempts, d.Error)
			}
			if len(dls) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no dead letters")
			}
			return nil
		},
	}
	action := func(verb, short string) *cobra.Command {
		return &cobra.Command{
			Use:   verb + " BINDING NUMBER",
			Short: short + " (on a running gateway)",
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				s, err := mustLoad(cmd, path)
				if err != nil {
					return err
				}
				if _, err := strconv.ParseUint(args[1], 10, 64); err != nil {
					return fmt.Errorf("%q is not a dead letter's number (see dead-letters list)", args[1])
				}
				c, err := admin.Dial(s.cfg.Gateway.DataDir, s.cfg.Gateway.AdminListen)
				if err != nil {
					return fmt.Errorf("%w: start it with syncgate run", err)
				}
				var res map[string]string
				if err := c.Post(fmt.Sprintf("/v1/dead-letters/%s/%s/%s", args[0], args[1], verb), &res); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "dead letter %s of %s: %s\n", args[1], args[0], res["result"])
				return nil
			},
		}
	}
	cmd.AddCommand(list, action("retry", "Put a dead letter back in the sync table"), action("drop", "Forget a dead letter"))
	cmd.PersistentFlags().StringVar(&path, "config", defaultConfigPath(), "the gateway's configuration file")
	return cmd
}

func undeleteCmd() *cobra.Command {
	var (
		path string
		list bool
	)
	cmd := &cobra.Command{
		Use:   "undelete ITEM | --list",
		Short: "Write a propagated delete's item again on every side it was deleted from (on a running gateway)",
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case list && len(args) > 0:
				return fmt.Errorf("--list takes no item")
			case !list && len(args) != 1:
				return fmt.Errorf("give one item (see undelete --list), or --list")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := mustLoad(cmd, path)
			if err != nil {
				return err
			}
			c, err := admin.Dial(s.cfg.Gateway.DataDir, s.cfg.Gateway.AdminListen)
			if err != nil {
				return fmt.Errorf("%w: undelete writes through the connectors; start the gateway with syncgate run", err)
			}
			if list {
				var ts []store.Tombstone
				if err := c.Get("/v1/tombstones", &ts); err != nil {
					return err
				}
				for _, t := range ts {
					fmt.Fprintf(cmd.OutOrStdout(), "%s  %s deleted from the %s at %s, undoable until %s\n", t.Item.Item, t.Item.Entity,
						t.DeletedFrom, t.At.Format("2006-01-02 15:04"), t.Expires.Format("2006-01-02"))
				}
				if len(ts) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "no deletes to undo")
				}
				return nil
			}
			var res map[string]string
			if err := c.Post("/v1/undelete/"+args[0], &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "item %s undeleted\n", args[0])
			return nil
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().BoolVar(&list, "list", false, "list the deletes that can be undone")
	return cmd
}
