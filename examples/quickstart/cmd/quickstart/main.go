// Command quickstart is syncgate's quick start, what `make run` runs: it
// starts the Graph and Dataverse emulators, fills them with demo data
// through their public APIs, starts `syncgate run` with the quick-start
// config, shows the initial sync's progress and then keeps everything
// running until Ctrl-C, which stops every process it started.
//
// The config (examples/quickstart/syncgate.hcl) is the one source of the
// addresses: the emulators are started on the ports its endpoints name and
// the demo users are its bindings. Those ports are fixed (9101, 9102, and
// 9700 for the admin API) so that the commands in the README work as
// printed; a port in use is reported before anything starts.
//
// It never touches a real tenant: an endpoint URL that is not a plain
// http address with a port is refused.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/syncgate/syncgate/gateway/admin"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	config      string
	bin         string
	sizes       seedSizes
	syncTimeout time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "examples/quickstart/syncgate.hcl", "the quick-start config; the emulators run on the ports its endpoints name")
	fs.StringVar(&o.bin, "bin", "bin", "the folder `make build` wrote: syncgate, graph-emulator, dataverse-emulator")
	fs.IntVar(&o.sizes.Contacts, "seed-contacts", 300, "contacts per user, half in the mailbox and half in the CRM")
	fs.IntVar(&o.sizes.Appointments, "seed-appointments", 100, "appointments per user, half on each side (some recurring, some meetings between users)")
	fs.IntVar(&o.sizes.Tasks, "seed-tasks", 20, "tasks per user, half on each side")
	fs.IntVar(&o.sizes.ServiceAppointments, "seed-service-appointments", 5, "service appointments per user, in the CRM")
	fs.DurationVar(&o.syncTimeout, "sync-timeout", 10*time.Minute, "give up when the initial sync takes longer")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q: quickstart takes flags only (see -h)", fs.Args())
	}
	for _, n := range []int{o.sizes.Contacts, o.sizes.Appointments, o.sizes.Tasks, o.sizes.ServiceAppointments} {
		if n < 0 {
			return o, errors.New("the -seed-* sizes must be 0 or more")
		}
	}
	return o, nil
}

// run is the whole quick start; it answers the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "quickstart:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	q := &quickstart{opts: o, out: stdout}
	err = q.run(ctx)
	q.stopAll()
	switch {
	case err == nil || (errors.Is(err, context.Canceled) && ctx.Err() != nil && !q.childDied()):
		fmt.Fprintln(stdout, "stopped syncgate and both emulators")
		return 0
	default:
		fmt.Fprintln(stderr, "quickstart:", err)
		return 1
	}
}

// quickstart holds the processes of one run.
type quickstart struct {
	opts  options
	out   io.Writer
	setup *setup

	mu       sync.Mutex
	children []*child // in start order; stopped in reverse
	stopping bool
	died     error // the first child that ended on its own
	dead     chan struct{}
}

func (q *quickstart) run(ctx context.Context) error {
	q.dead = make(chan struct{})
	s, err := readSetup(q.opts.config)
	if err != nil {
		return err
	}
	q.setup = s
	for _, c := range []struct{ addr, what string }{
		{s.Graph.Listen, "graph-emulator (endpoint \"" + s.Graph.Endpoint + "\")"},
		{s.CRM.Listen, "dataverse-emulator (endpoint \"" + s.CRM.Endpoint + "\")"},
		{s.AdminListen, "syncgate's admin API (admin_listen)"},
	} {
		if err := checkFree(c.addr, c.what); err != nil {
			return err
		}
	}
	// The emulators keep their data in memory and start empty: a gateway
	// state from an earlier run would hold cursors and copies they no
	// longer have.
	if err := os.RemoveAll(s.DataDir); err != nil {
		return fmt.Errorf("clear %s: %w", s.DataDir, err)
	}
	if err := os.MkdirAll(s.logDir(), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(q.out, "cleared %s: the emulators start empty, so the gateway does too\n", s.DataDir)
	fmt.Fprintf(q.out, "logs go to %s\n", s.logDir())

	mailboxes, crmUsers := make([]string, len(s.Users)), make([]string, len(s.Users))
	for i, u := range s.Users {
		mailboxes[i], crmUsers[i] = u.Mailbox, u.CRMUser
	}
	graph, err := q.start("graph-emulator", "-listen", s.Graph.Listen, "-users", strings.Join(mailboxes, ","),
		"-client-id", s.Graph.ClientID, "-client-secret", s.Graph.ClientSecret)
	if err != nil {
		return err
	}
	crm, err := q.start("dataverse-emulator", "-listen", s.CRM.Listen, "-users", strings.Join(crmUsers, ","),
		"-client-id", s.CRM.ClientID, "-client-secret", s.CRM.ClientSecret)
	if err != nil {
		return err
	}
	for _, w := range []struct {
		c    *child
		addr string
	}{{graph, s.Graph.Listen}, {crm, s.CRM.Listen}} {
		if err := waitHTTP(ctx, w.c, "http://"+w.addr+"/_emulator/counters", nil, 15*time.Second); err != nil {
			return err
		}
	}

	began := time.Now()
	counts, err := seed(q.watch(ctx), s, q.opts.sizes)
	if err != nil {
		return q.cause(fmt.Errorf("seed the emulators: %w", err))
	}
	fmt.Fprintf(q.out, "seeded in %s: %s\n", time.Since(began).Round(10*time.Millisecond), counts)

	gw, err := q.start("syncgate", "run", "-config", s.ConfigPath)
	if err != nil {
		return err
	}
	token, err := q.waitGateway(ctx, gw)
	if err != nil {
		return err
	}
	fmt.Fprintf(q.out, "syncgate is running (admin API on %s); initial sync:\n", s.AdminListen)
	if err := q.initialSync(q.watch(ctx), token); err != nil {
		return q.cause(err)
	}
	fmt.Fprint(q.out, q.afterSync(token))
	<-q.watch(ctx).Done()
	return q.cause(ctx.Err())
}

// start starts one of the built binaries and watches it: a child ending on
// its own (not stopped by stopAll) ends the run.
func (q *quickstart) start(name string, args ...string) (*child, error) {
	c, err := startChild(name, q.setup.logDir(), filepath.Join(q.opts.bin, name), args...)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	q.children = append(q.children, c)
	q.mu.Unlock()
	fmt.Fprintf(q.out, "started %s (pid %d, log %s)\n", name, c.cmd.Process.Pid, c.logPath)
	go func() {
		<-c.done
		q.mu.Lock()
		defer q.mu.Unlock()
		if !q.stopping && q.died == nil {
			q.died = c.diedError()
			close(q.dead)
		}
	}()
	return c, nil
}

// watch returns a context that ends with ctx or when a child dies.
func (q *quickstart) watch(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		select {
		case <-q.dead:
		case <-ctx.Done():
		}
	}()
	return ctx
}

func (q *quickstart) childDied() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.died != nil
}

// cause prefers a dead child's error to the error it caused.
func (q *quickstart) cause(err error) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.died != nil {
		return q.died
	}
	return err
}

// stopAll stops the children in reverse order of start: the gateway
// first, so that it does not see its backends vanish, then the emulators.
func (q *quickstart) stopAll() {
	q.mu.Lock()
	q.stopping = true
	children := q.children
	q.mu.Unlock()
	for i := len(children) - 1; i >= 0; i-- {
		children[i].stop(20 * time.Second)
	}
}

// waitGateway waits for the admin token file and an answer from
// /v1/status with it.
func (q *quickstart) waitGateway(ctx context.Context, gw *child) (string, error) {
	path := filepath.Join(q.setup.DataDir, admin.TokenFile)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil {
			token := strings.TrimSpace(string(b))
			if _, err := fetchStatus(ctx, q.setup.AdminListen, token); err == nil {
				return token, nil
			}
		}
		select {
		case <-gw.done:
			return "", gw.diedError()
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("syncgate's admin API did not answer on %s within a minute; see %s", q.setup.AdminListen, gw.logPath)
		}
	}
}

func fetchStatus(ctx context.Context, addr, token string) (*admin.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return nil, fmt.Errorf("GET /v1/status: %s: %s", res.Status, strings.TrimSpace(string(b)))
	}
	var st admin.Status
	return &st, json.NewDecoder(res.Body).Decode(&st)
}

// initialSync shows the progress until every binding is done.
func (q *quickstart) initialSync(ctx context.Context, token string) error {
	s := q.setup
	names := make([]string, len(s.Users))
	for i, u := range s.Users {
		names[i] = u.Binding
	}
	r, t := newRenderer(q.out), &tracker{}
	began := time.Now()
	deadline := began.Add(q.opts.syncTimeout)
	for {
		st, err := fetchStatus(ctx, s.AdminListen, token)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			ps := progressOf(st, names, s.Entities, q.opts.sizes.perUser())
			if t.observe(ps) {
				r.show(ps, time.Now(), true)
				tot := totals(ps)
				fmt.Fprintf(q.out, "initial sync complete in %s: %d bindings, %d changes collected, %d created, %d updated, %d deleted, %d blocked, %d conflicts, %d errors\n",
					time.Since(began).Round(100*time.Millisecond), len(ps), tot.Collected, tot.Created, tot.Updated, tot.Deleted, tot.Blocked, tot.Conflicts, tot.Errors)
				return nil
			}
			r.show(ps, time.Now(), false)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the initial sync did not finish within %s (see %s, and http://%s/v1/status)", q.opts.syncTimeout, filepath.Join(s.logDir(), "syncgate.log"), s.AdminListen)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
