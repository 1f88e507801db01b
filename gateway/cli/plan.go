package cli

import (
	"bytes"
	"context"
	"fmt"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/syncgate/syncgate/gateway/admin"
	"github.com/syncgate/syncgate/gateway/engine"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/sdk"
)

func planCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Dry run: what the next cycle would create, update, delete and block, and why",
		Long: `Plan copies the gateway's database into memory (through the admin API while
the gateway runs), starts the connectors, and runs one cycle against the copy
with every write recorded instead of made. It writes nothing anywhere: not to
either side, not to the gateway's database, and it acknowledges no feed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := mustLoad(cmd, path)
			if err != nil {
				return err
			}
			var backup bytes.Buffer
			err = withGateway(s, func(c *admin.Client) error {
				return c.Stream("/v1/backup", &backup)
			}, func(db *store.DB) error {
				return db.Backup(&backup)
			})
			if err != nil && !strings.Contains(err.Error(), "run `syncgate run` first") {
				return err
			}
			log := s.logger(cmd.ErrOrStderr())
			copyDB, err := store.OpenCopy(&backup, log)
			if err != nil {
				return err
			}
			defer copyDB.Close()
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			conns, sups, err := startConnectors(ctx, s, log, copyDB)
			defer func() {
				for _, sup := range sups {
					sup.Stop()
				}
			}()
			if err != nil {
				return err
			}
			ops, eng, err := engine.Plan(ctx, engine.Options{Config: s.cfg, Conns: conns, DB: copyDB, Logger: log})
			if err != nil {
				return err
			}
			printPlan(cmd, ops, eng, copyDB)
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}

func printPlan(cmd *cobra.Command, ops []engine.PlannedOp, eng *engine.Engine, db *store.DB) {
	out := cmd.OutOrStdout()
	sort.SliceStable(ops, func(i, j int) bool {
		a, b := ops[i], ops[j]
		return a.Endpoint+a.Scope+a.Entity < b.Endpoint+b.Scope+b.Entity
	})
	for _, op := range ops {
		target := op.Endpoint
		if op.Scope != "" {
			target += " " + op.Scope
		}
		fmt.Fprintf(out, "%-7s %-20s on %s: %s\n", op.Op.Kind, op.Entity, target, describe(op.Op))
	}
	db.View(func(tx *store.Tx) error {
		for _, b := range eng.BindingNames() {
			store.Scan(tx, store.BlockedPrefix(b), func(_ []byte, bl *store.Blocked) bool {
				fmt.Fprintf(out, "blocked %-20s from %s %s: %s (would %s)\n", bl.Change.Ref.Entity, bl.Change.Side, bl.Change.Ref.ID, bl.Rule, bl.Action)
				return true
			})
		}
		return nil
	})
	st := eng.Stats()
	fmt.Fprintf(out, "plan: %d to create, %d to update, %d to delete, %d blocked, %d conflicts, %d untracked; nothing was written\n",
		st.Total(func(c engine.Counters) int { return c.Created }), st.Total(func(c engine.Counters) int { return c.Updated }),
		st.Total(func(c engine.Counters) int { return c.Deleted }), st.Total(func(c engine.Counters) int { return c.Blocked }),
		st.Total(func(c engine.Counters) int { return c.Conflicts }), st.Total(func(c engine.Counters) int { return c.Untracked }))
}

// describe names an item for a person: its subject or name, then the
// fields the op sets.
func describe(op sdk.Op) string {
	var parts []string
	for _, k := range []string{"subject", "display_name", "given_name", "surname"} {
		if v := op.Fields[k].Str(); v != "" {
			parts = append(parts, v)
		}
	}
	name := strings.Join(parts, " ")
	if op.ID != "" {
		name = strings.TrimSpace(name + " (" + op.ID + ")")
	}
	var keys []string
	for k := range op.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return fmt.Sprintf("%s [%s]", name, strings.Join(keys, ", "))
}
