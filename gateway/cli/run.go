package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/syncgate/syncgate/gateway/admin"
	"github.com/syncgate/syncgate/gateway/config"
	"github.com/syncgate/syncgate/gateway/engine"
	"github.com/syncgate/syncgate/gateway/host"
	"github.com/syncgate/syncgate/gateway/store"
	"github.com/syncgate/syncgate/sdk/manifest"
)

// EngineHooks lets a test build of syncgate stop at the engine's named
// points (see gateway/cli/testdata/crashgate); nil in the real binary.
var EngineHooks engine.Hooks

func runCmd() *cobra.Command {
	var (
		path string
		once bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the gateway: start the connectors and keep every binding in sync",
		Long: `Run validates the configuration, opens the database in data_dir, starts each
endpoint's connector as a supervised plugin process, and syncs until SIGINT or
SIGTERM, on which it finishes the records in hand, stops every connector and
closes the database. With --once it syncs until nothing is left to do, then
exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := mustLoad(cmd, path)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runGateway(ctx, cmd, s, once)
		},
	}
	configFlag(cmd, &path)
	cmd.Flags().BoolVar(&once, "once", false, "sync until nothing is left to do, then exit")
	return cmd
}

func runGateway(ctx context.Context, cmd *cobra.Command, s *setup, once bool) error {
	log := s.logger(cmd.ErrOrStderr())
	db, err := store.Open(store.Options{Dir: s.cfg.Gateway.DataDir, Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	conns, sups, err := startConnectors(ctx, s, log, db)
	defer func() {
		for _, sup := range sups { // the map a reload keeps up to date
			sup.Stop()
		}
	}()
	if err != nil {
		return err
	}
	// One registry for the process: counters run on across reloads.
	srv := &admin.Server{Logger: log}
	srv.Registry = admin.NewRegistry(srv)
	metrics := engine.NewMetrics(srv.Registry)
	eng, err := engine.New(ctx, engine.Options{Config: s.cfg, Conns: conns, DB: db, Logger: log, Hooks: EngineHooks, Metrics: metrics})
	if err != nil {
		return err
	}
	start := time.Now()
	if once {
		if err := eng.SyncOnce(ctx); err != nil {
			return err
		}
		printTotals(cmd, eng, time.Since(start))
		return nil
	}
	token, err := admin.LoadOrCreateToken(s.cfg.Gateway.DataDir)
	if err != nil {
		return err
	}
	srv.Token = token
	srv.Use(eng, sups)
	addr, err := srv.Serve(ctx, s.cfg.Gateway.AdminListen)
	if err != nil {
		return err
	}
	log.Info("admin API listening", "url", "http://"+addr.String(), "web_page", "http://"+addr.String()+"/#token=<the token>",
		"metrics", "http://"+addr.String()+"/metrics", "token_file", filepath.Join(s.cfg.Gateway.DataDir, admin.TokenFile))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		log.Info("syncing", "bindings", len(s.cfg.Bindings), "data_dir", s.cfg.Gateway.DataDir)
		engCtx, stopEngine := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func(eng *engine.Engine) { done <- eng.Run(engCtx) }(eng)
		var next *setup
		for next == nil {
			select {
			case <-ctx.Done():
				stopEngine()
				err := <-done
				log.Info("stopping", "reason", context.Cause(ctx))
				return err
			case <-hup:
				next = reload(s, log)
			}
		}
		// Stop the engine at a clean point: what it had in hand stays in
		// the sync table and is taken up by the next one.
		stopEngine()
		if err := <-done; err != nil {
			return err
		}
		if err := reconcileConnectors(ctx, s, next, log, db, sups); err != nil {
			return err
		}
		conns := map[string]engine.Conn{}
		for name, sup := range sups {
			conns[name] = sup
		}
		s = next
		if eng, err = engine.New(ctx, engine.Options{Config: s.cfg, Conns: conns, DB: db, Logger: log, Hooks: EngineHooks, Metrics: metrics}); err != nil {
			return err
		}
		srv.Use(eng, sups)
		log.Info("configuration reloaded", "bindings", len(s.cfg.Bindings), "endpoints", len(s.cfg.Endpoints))
	}
}

// reload reads the configuration again; nil, with every problem logged,
// when it is not valid (the gateway goes on with the one it has).
func reload(cur *setup, log hclog.Logger) *setup {
	log.Info("SIGHUP: reloading the configuration", "file", cur.cfg.Filename)
	next, diags := load(cur.cfg.Filename)
	if diags.HasErrors() {
		for _, d := range diags {
			log.Error("configuration not reloaded", "problem", manifest.FormatDiagnostic(d))
		}
		return nil
	}
	if next.cfg.Gateway.DataDir != cur.cfg.Gateway.DataDir || next.cfg.Gateway.AdminListen != cur.cfg.Gateway.AdminListen {
		log.Warn("data_dir and admin_listen change only with a restart; the reload keeps the old ones")
		next.cfg.Gateway.DataDir, next.cfg.Gateway.AdminListen = cur.cfg.Gateway.DataDir, cur.cfg.Gateway.AdminListen
	}
	return next
}

// reconcileConnectors stops the connectors of removed or changed endpoints
// and starts those of added or changed ones; unchanged ones keep running.
func reconcileConnectors(ctx context.Context, cur, next *setup, log hclog.Logger, db *store.DB, sups map[string]*host.Supervisor) error {
	for name, sup := range sups {
		old, now := cur.cfg.Endpoint(name), next.cfg.Endpoint(name)
		if now == nil || !sameEndpoint(cur, next, old, now) {
			sup.Stop()
			delete(sups, name)
			log.Info("connector stopped", "endpoint", name)
		}
	}
	_, started, err := startConnectors(ctx, next, log, db, func(name string) bool { return sups[name] == nil })
	for name, sup := range started {
		sups[name] = sup
	}
	return err
}

func sameEndpoint(cur, next *setup, a, b *config.Endpoint) bool {
	return a.Connector == b.Connector && a.Settings.Equal(b.Settings) && a.CallTimeout == b.CallTimeout &&
		cur.lock.Connectors[a.Connector] == next.lock.Connectors[b.Connector]
}

// startConnectors launches every endpoint's connector under a supervisor,
// its key-value store in db. On error, the ones started are returned too,
// for the caller to stop.
func startConnectors(ctx context.Context, s *setup, log hclog.Logger, db *store.DB, only ...func(endpoint string) bool) (map[string]engine.Conn, map[string]*host.Supervisor, error) {
	conns := map[string]engine.Conn{}
	sups := map[string]*host.Supervisor{}
	for _, ep := range s.cfg.Endpoints {
		if len(only) > 0 && !only[0](ep.Name) {
			continue
		}
		p := s.plugins[ep.Connector]
		sup := host.NewSupervisor(host.SupervisorConfig{
			Launch: host.LaunchConfig{Plugin: p, Endpoint: ep.Name, Lock: s.lock.Connectors[p.Name], LockFile: s.lock.Path,
				Logger: log, LogLevel: hclog.LevelFromString(s.cfg.Gateway.LogLevel)},
			Settings:    ep.Settings,
			KV:          db.KV(ep.Name),
			CallTimeout: ep.CallTimeout,
		})
		if err := sup.Start(ctx); err != nil {
			return nil, sups, err
		}
		sups[ep.Name] = sup
		conns[ep.Name] = sup
		log.Info("connector started", "endpoint", ep.Name, "connector", p.Name, "version", p.Manifest.Version, "pid", sup.Status().Pid)
	}
	return conns, sups, nil
}

func printTotals(cmd *cobra.Command, eng *engine.Engine, took time.Duration) {
	st := eng.Stats()
	fmt.Fprintf(cmd.OutOrStdout(), "in sync after %s: %d collected, %d created, %d updated, %d deleted, %d blocked, %d conflicts, %d errors\n",
		took.Round(time.Millisecond),
		st.Total(func(c engine.Counters) int { return c.Collected }),
		st.Total(func(c engine.Counters) int { return c.Created }),
		st.Total(func(c engine.Counters) int { return c.Updated }),
		st.Total(func(c engine.Counters) int { return c.Deleted }),
		st.Total(func(c engine.Counters) int { return c.Blocked }),
		st.Total(func(c engine.Counters) int { return c.Conflicts }),
		st.Total(func(c engine.Counters) int { return c.Errors }))
}

func statusCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each binding's state, queue, blocked changes and dead letters, and each connector's",
		Long: `Status asks the running gateway through its admin API; when none runs, it
reads the stopped gateway's data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := mustLoad(cmd, path)
			if err != nil {
				return err
			}
			var st *admin.Status
			err = withGateway(s, func(c *admin.Client) error {
				st = &admin.Status{}
				return c.Get("/v1/status", st)
			}, func(db *store.DB) (err error) {
				names := make([]string, len(s.cfg.Bindings))
				for i, b := range s.cfg.Bindings {
					names[i] = b.Name
				}
				st, err = admin.Collect(db, names, nil)
				return err
			})
			if err != nil {
				return err
			}
			printStatus(cmd, st)
			return nil
		},
	}
	configFlag(cmd, &path)
	return cmd
}

// openStopped opens a stopped gateway's database for the offline commands.
func openStopped(s *setup) (*store.DB, error) {
	if _, err := os.Stat(filepath.Join(s.cfg.Gateway.DataDir, "MANIFEST")); err != nil {
		return nil, fmt.Errorf("no gateway data in %s yet: run `syncgate run` first", s.cfg.Gateway.DataDir)
	}
	db, err := store.Open(store.Options{Dir: s.cfg.Gateway.DataDir, GCInterval: -1})
	if err != nil {
		return nil, fmt.Errorf("%w (is a gateway running on this data_dir whose admin API does not answer on %s?)", err, s.cfg.Gateway.AdminListen)
	}
	return db, nil
}

func bindingArg(s *setup, name string) error {
	if s.cfg.Binding(name) == nil {
		var names []string
		for _, b := range s.cfg.Bindings {
			names = append(names, b.Name)
		}
		return fmt.Errorf("no binding %q; the bindings are %s", name, strings.Join(names, ", "))
	}
	return nil
}

// bindingCommand is a command on one binding: it goes through the running
// gateway's admin API (route), or writes the stopped gateway's data
// (offline), then prints what was done.
func bindingCommand(cmd *cobra.Command, route func(binding string) string, offline func(s *setup, db *store.DB, binding string) error, done func(binding string) string) *cobra.Command {
	var path string
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		s, err := mustLoad(cmd, path)
		if err != nil {
			return err
		}
		if err := bindingArg(s, args[0]); err != nil {
			return err
		}
		var ignored map[string]string
		if err := withGateway(s, func(c *admin.Client) error {
			return c.Post(route(url.PathEscape(args[0])), &ignored)
		}, func(db *store.DB) error {
			return offline(s, db, args[0])
		}); err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), done(args[0]))
		return nil
	}
	configFlag(cmd, &path)
	return cmd
}

func pauseCmd() *cobra.Command {
	var reason string
	cmd := bindingCommand(&cobra.Command{
		Use:   "pause BINDING",
		Short: "Pause a binding: its changes are collected but not applied until it is resumed",
	}, func(b string) string {
		return "/v1/bindings/" + b + "/pause?reason=" + url.QueryEscape(reason)
	}, func(_ *setup, db *store.DB, b string) error {
		return engine.Pause(db, b, reason)
	}, func(b string) string {
		return fmt.Sprintf("binding %s paused: %s", b, reason)
	})
	cmd.Flags().StringVar(&reason, "reason", "paused by an operator", "why, shown in status")
	return cmd
}

func resumeCmd() *cobra.Command {
	var allow, untrack bool
	decision := func() (engine.DeleteDecision, string) {
		switch {
		case allow:
			return engine.AllowDeletes, "allow"
		case untrack:
			return engine.UntrackDeletes, "untrack"
		}
		return engine.HoldDeletes, ""
	}
	cmd := bindingCommand(&cobra.Command{
		Use:   "resume BINDING",
		Short: "Resume a paused binding (--allow-deletes or --untrack-deletes decides about deletes the guard held)",
		Long: `Resume goes through the running gateway's admin API, or writes the stopped
gateway's data when none runs. A binding the delete guard paused has deletes
waiting: --allow-deletes lets them through (and any others for the next hour),
--untrack-deletes keeps the items on the other side and stops syncing them.`,
	}, func(b string) string {
		_, q := decision()
		return fmt.Sprintf("/v1/bindings/%s/resume?deletes=%s", b, q)
	}, func(_ *setup, db *store.DB, b string) error {
		d, _ := decision()
		return engine.Resume(db, b, d)
	}, func(b string) string {
		switch {
		case allow:
			return "binding " + b + " resumed; deletes pass the delete guard for the next hour"
		case untrack:
			return "binding " + b + " resumed; the held deletes only untrack their items"
		}
		return "binding " + b + " resumed"
	})
	cmd.Flags().BoolVar(&allow, "allow-deletes", false, "let the deletes the guard held through")
	cmd.Flags().BoolVar(&untrack, "untrack-deletes", false, "keep the items the guard held deletes for; stop syncing them")
	cmd.MarkFlagsMutuallyExclusive("allow-deletes", "untrack-deletes")
	return cmd
}

func resyncCmd() *cobra.Command {
	return bindingCommand(&cobra.Command{
		Use:   "resync BINDING",
		Short: "Enumerate everything a binding sees again, on both sides, and match it (nothing is created twice)",
	}, func(b string) string {
		return "/v1/bindings/" + b + "/resync"
	}, func(s *setup, db *store.DB, b string) error {
		return engine.ResyncStored(db, s.cfg, b)
	}, func(b string) string {
		return "binding " + b + " will be enumerated again and matched"
	})
}

func printStatus(cmd *cobra.Command, st *admin.Status) {
	out := cmd.OutOrStdout()
	for _, b := range st.Bindings {
		state := "active"
		if b.Paused {
			state = "paused: " + b.PausedReason
		}
		fmt.Fprintf(out, "%-20s %s  queued %d (retrying %d)  blocked %d  dead letters %d\n",
			b.Name, state, b.Queued, b.Retrying, b.Blocked, b.DeadLetters)
		for _, entity := range slices.Sorted(maps.Keys(b.Entities)) {
			c := b.Entities[entity]
			fmt.Fprintf(out, "  %-20s collected %d  created %d  updated %d  deleted %d  untracked %d  blocked %d  conflicts %d  errors %d",
				entity, c.Collected, c.Created, c.Updated, c.Deleted, c.Untracked, c.Blocked, c.Conflicts, c.Errors)
			if c.LastError != "" {
				fmt.Fprintf(out, "  last error: %s", c.LastError)
			}
			fmt.Fprintln(out)
		}
	}
	for _, e := range st.Endpoints {
		fmt.Fprintf(out, "endpoint %-12s %s  pid %d  restarts %d", e.Endpoint, e.State, e.Pid, e.Restarts)
		if why, held := st.Held[e.Endpoint]; held {
			fmt.Fprintf(out, "  HELD (fix its credentials or settings, then reload): %s", why)
		}
		if e.LastError != "" {
			fmt.Fprintf(out, "  last error: %s", e.LastError)
		}
		fmt.Fprintln(out)
	}
}

// withGateway runs online against the running gateway's admin API, or
// offline against its stopped data.
func withGateway(s *setup, online func(c *admin.Client) error, offline func(db *store.DB) error) error {
	c, err := admin.Dial(s.cfg.Gateway.DataDir, s.cfg.Gateway.AdminListen)
	if err == nil {
		return online(c)
	}
	if !errors.Is(err, admin.ErrNotRunning) {
		return err
	}
	db, err := openStopped(s)
	if err != nil {
		return err
	}
	defer db.Close()
	return offline(db)
}
