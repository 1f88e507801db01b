// Package bench measures syncgate against its emulated backends: the
// initial sync of many items through the real gateway and plugin
// processes, the same copy by a bare copier, the latency of single edits
// in each direction, and the cost of many idle bindings. It starts every
// process it measures and prints a table per part.
//
// It drives the gateway only from outside (its binary, its config, its
// admin API, the emulators' APIs), as an operator would, and must never
// import the engine: what it measures is what a user runs.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Options say what to run and how big. Zero sizes take the defaults of
// the issue that asked for the bench.
type Options struct {
	// Syncgate is the gateway binary (`syncgate run` is started from it);
	// PluginDir and LockFile are its plugin_dir and lock file, which must
	// hold the exchange and crm connectors.
	Syncgate, PluginDir, LockFile string
	// GraphEmulator and DataverseEmulator are the emulator binaries.
	GraphEmulator, DataverseEmulator string

	Contacts, Appointments int // seeded in the CRM for the initial sync
	Bindings               int // the mailboxes they are spread over
	Edits                  int // per direction, for the latency
	IdleBindings           int
	IdleFor                time.Duration
	CRMPoll                time.Duration // the CRM endpoint's poll_interval
	// Timeout bounds each phase's wait for the gateway.
	Timeout time.Duration
	// WorkDir holds the configs and data dirs; a temporary folder (removed
	// afterwards) when empty.
	WorkDir string
	// Log gets progress lines; nil discards them.
	Log io.Writer
}

// Defaults are the sizes the issue asks for.
var Defaults = Options{
	Contacts: 20000, Appointments: 20000, Bindings: 20, Edits: 200,
	IdleBindings: 10000, IdleFor: 60 * time.Second, CRMPoll: 2 * time.Second,
	Timeout: 30 * time.Minute,
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// withDefaults fills the zero sizes and finds the binaries next to the
// syncgate binary (where `make build` puts them) when not given.
func (o Options) withDefaults() Options {
	d := Defaults
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&o.Contacts, d.Contacts)
	set(&o.Appointments, d.Appointments)
	set(&o.Bindings, d.Bindings)
	set(&o.Edits, d.Edits)
	set(&o.IdleBindings, d.IdleBindings)
	if o.IdleFor == 0 {
		o.IdleFor = d.IdleFor
	}
	if o.CRMPoll == 0 {
		o.CRMPoll = d.CRMPoll
	}
	if o.Timeout == 0 {
		o.Timeout = d.Timeout
	}
	dir := filepath.Dir(o.Syncgate)
	def := func(v *string, path string) {
		if *v == "" {
			*v = filepath.Join(dir, path)
		}
	}
	def(&o.GraphEmulator, "graph-emulator")
	def(&o.DataverseEmulator, "dataverse-emulator")
	def(&o.PluginDir, "plugins")
	def(&o.LockFile, "connectors.lock.hcl")
	return o
}

// check says what is missing before anything starts.
func (o *Options) check() error {
	var errs []error
	for _, f := range []struct{ what, path string }{
		{"the syncgate binary", o.Syncgate},
		{"graph-emulator", o.GraphEmulator},
		{"dataverse-emulator", o.DataverseEmulator},
		{"the exchange connector", filepath.Join(o.PluginDir, "exchange", "exchange")},
		{"the crm connector", filepath.Join(o.PluginDir, "crm", "crm")},
		{"the lock file", o.LockFile},
	} {
		if _, err := os.Stat(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s is not at %s: run `make build`, or name it with a flag", f.what, f.path))
		}
	}
	if o.Contacts < 0 || o.Appointments < 0 || o.Contacts+o.Appointments == 0 {
		errs = append(errs, errors.New("-contacts and -appointments may not be negative, and not both zero"))
	}
	if o.Bindings < 1 || o.IdleBindings < 1 || o.Edits < 1 {
		errs = append(errs, errors.New("-bindings, -idle-bindings and -edits must be at least 1"))
	}
	if o.Edits > 0 && o.Contacts < 2 {
		errs = append(errs, errors.New("the latency phase edits contacts: -contacts must be at least 2"))
	}
	if o.IdleFor < time.Second {
		errs = append(errs, errors.New("-idle-for must be at least 1s"))
	}
	return errors.Join(errs...)
}

// Report is what one run measured.
type Report struct {
	Machine Machine
	Opts    Options
	Initial Initial
	Bare    Bare
	Latency []Latency
	Idle    Idle
}

// Initial is the initial sync through syncgate.
type Initial struct {
	Items                  int
	Wall                   time.Duration
	Reqs                   counts
	GatewayPeak            int64            // bytes
	PluginPeak             map[string]int64 // by endpoint
	DeadLetters, Conflicts int
	// Quiet is when the gateway stopped sending requests to Graph: the
	// echoes of its own writes digested.
	Quiet time.Duration
}

// Bare is the same copy by the bare copier.
type Bare struct {
	Items int
	Wall  time.Duration
	Reqs  counts
}

// Idle is many bindings with nothing to do.
type Idle struct {
	Bindings           int
	Settle             time.Duration // from start until requests stopped
	Window             time.Duration
	GatewayRSS         int64
	GatewayPeak        int64
	CPUShare           float64 // of one core, over the window
	GraphRate, CRMRate float64 // requests per second over the window
}

// Run runs all four parts and returns what they measured. When a part
// fails, the report holds the parts before it (Print leaves out the rest)
// and the error says what went wrong.
func Run(ctx context.Context, opts Options) (*Report, error) {
	o := opts.withDefaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	work := o.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "syncgate-bench")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	r := &Report{Machine: ReadMachine(), Opts: o}
	users := make([]string, o.Bindings)
	for i := range users {
		users[i] = fmt.Sprintf("u%d@b.io", i+1)
	}
	var err error
	o.logf("bare copier: %d contacts and %d appointments over %d mailboxes", o.Contacts, o.Appointments, o.Bindings)
	if r.Bare, err = runBare(ctx, &o, users, filepath.Join(work, "bare")); err != nil {
		return r, err
	}
	o.logf("syncgate: initial sync, then %d edits each way", o.Edits)
	if r.Initial, r.Latency, err = runSyncgate(ctx, &o, users, filepath.Join(work, "sync")); err != nil {
		return r, err
	}
	o.logf("idle: %d bindings for %s", o.IdleBindings, o.IdleFor)
	if r.Idle, err = runIdle(ctx, &o, filepath.Join(work, "idle")); err != nil {
		return r, err
	}
	return r, nil
}

func runBare(ctx context.Context, o *Options, users []string, dir string) (Bare, error) {
	b, err := startBackends(o, users, dir)
	if err != nil {
		return Bare{}, err
	}
	defer b.stop()
	if err := seedCRM(ctx, b, o.Contacts, o.Appointments); err != nil {
		return Bare{}, err
	}
	before, err := b.requests(ctx)
	if err != nil {
		return Bare{}, err
	}
	started := time.Now()
	n, err := bareCopy(ctx, b)
	wall := time.Since(started)
	if err != nil {
		return Bare{}, err
	}
	after, err := b.requests(ctx)
	if err != nil {
		return Bare{}, err
	}
	return Bare{Items: n, Wall: wall, Reqs: after.minus(before)}, nil
}

func runSyncgate(ctx context.Context, o *Options, users []string, dir string) (Initial, []Latency, error) {
	var in Initial
	b, err := startBackends(o, users, dir)
	if err != nil {
		return in, nil, err
	}
	defer b.stop()
	if err := seedCRM(ctx, b, o.Contacts, o.Appointments); err != nil {
		return in, nil, err
	}
	before, err := b.requests(ctx)
	if err != nil {
		return in, nil, err
	}
	g, err := startGateway(ctx, o, b, dir)
	if err != nil {
		return in, nil, err
	}
	defer g.stop()
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	done, err := g.waitSynced(wctx, o, b, o.Contacts, o.Appointments)
	cancel()
	if err != nil {
		return in, nil, err
	}
	in.Wall = done.Sub(g.started)
	in.Items = o.Contacts + o.Appointments
	after, err := b.requests(ctx)
	if err != nil {
		return in, nil, err
	}
	in.Reqs = after.minus(before)
	st, err := g.status()
	if err != nil {
		return in, nil, err
	}
	for _, bs := range st.Bindings {
		in.DeadLetters += bs.DeadLetters
		for _, c := range bs.Entities {
			in.Conflicts += c.Conflicts
		}
	}
	if in.GatewayPeak, err = PeakRSS(g.proc.pid()); err != nil {
		return in, nil, err
	}
	in.PluginPeak = map[string]int64{}
	for _, ep := range st.Endpoints {
		if ep.Pid == 0 {
			continue
		}
		if in.PluginPeak[ep.Endpoint], err = PeakRSS(ep.Pid); err != nil {
			return in, nil, fmt.Errorf("plugin of endpoint %s: %w", ep.Endpoint, err)
		}
	}

	// The mailbox copies' own changes (the gateway's writes, seen through
	// notifications) may still be arriving: the edits start once the
	// gateway is quiet, so that they measure an idle gateway.
	if err := g.waitSettled(ctx, o, b); err != nil {
		return in, nil, err
	}
	in.Quiet = time.Since(g.started)
	pairs, err := contactPairs(ctx, b, o.Contacts)
	if err != nil {
		return in, nil, err
	}
	var lat []Latency
	for _, toCRM := range []bool{true, false} {
		before, err := b.requests(ctx)
		if err != nil {
			return in, nil, err
		}
		l := measureLatency(ctx, b, pairs, o.Edits, toCRM, o.CRMPoll)
		after, err := b.requests(ctx)
		if err != nil {
			return in, nil, err
		}
		d := after.minus(before)
		l.Throttled = d.graphThrottled + d.crmThrottled
		l.Via = "CRM poll every " + o.CRMPoll.String()
		if toCRM {
			l.Via = "notifications (mailbox poll " + mailboxPoll.String() + ")"
		}
		lat = append(lat, l)
	}
	return in, lat, ctx.Err()
}

// settleQuiet is how long the emulators must see no request from the
// gateway before the idle window starts: the first collection of every
// feed (and the subscriptions) is then over.
const settleQuiet = 2 * time.Second

func runIdle(ctx context.Context, o *Options, dir string) (Idle, error) {
	id := Idle{Bindings: o.IdleBindings}
	users := make([]string, o.IdleBindings)
	for i := range users {
		users[i] = fmt.Sprintf("i%d@b.io", i+1)
	}
	b, err := startBackends(o, users, dir)
	if err != nil {
		return id, err
	}
	defer b.stop()
	g, err := startGateway(ctx, o, b, dir)
	if err != nil {
		return id, err
	}
	defer g.stop()
	if err := g.waitSettled(ctx, o, b); err != nil {
		return id, err
	}
	id.Settle = time.Since(g.started)
	before, err := b.requests(ctx)
	if err != nil {
		return id, err
	}
	cpu0, err := CPUTime(g.proc.pid())
	if err != nil {
		return id, err
	}
	from := time.Now()
	select {
	case <-ctx.Done():
		return id, ctx.Err()
	case <-time.After(o.IdleFor):
	}
	cpu1, err := CPUTime(g.proc.pid())
	if err != nil {
		return id, err
	}
	window := time.Since(from)
	after, err := b.requests(ctx)
	if err != nil {
		return id, err
	}
	d := after.minus(before)
	id.Window = window
	id.CPUShare = float64(cpu1-cpu0) / float64(window)
	id.GraphRate = float64(d.graph) / window.Seconds()
	id.CRMRate = float64(d.crm) / window.Seconds()
	if id.GatewayRSS, err = RSS(g.proc.pid()); err != nil {
		return id, err
	}
	if id.GatewayPeak, err = PeakRSS(g.proc.pid()); err != nil {
		return id, err
	}
	return id, nil
}

// waitSettled waits until every binding has been collected once (its
// contact and appointment feeds cycled), nothing is queued and the Graph
// emulator has seen no request for settleQuiet: the start-up work of many
// bindings, or the digestion of a big sync, is over.
func (g *gatewayRun) waitSettled(ctx context.Context, o *Options, b *backends) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	lastGraph, quietSince, lastLog := -1, time.Now(), time.Now()
	for {
		st, err := g.status()
		if err != nil {
			return err
		}
		c, a := sum(st, "contact"), sum(st, "appointment")
		c2, err := b.requests(ctx)
		if err != nil {
			return err
		}
		gr := c2.graph
		if gr != lastGraph {
			lastGraph, quietSince = gr, time.Now()
		}
		n := len(st.Bindings)
		if c.cycled == n && a.cycled == n && c.queued == 0 && time.Since(quietSince) >= settleQuiet {
			return nil
		}
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			o.logf("  %s: %d/%d bindings collected, %d Graph requests so far", time.Since(g.started).Round(time.Second), min(c.cycled, a.cycled), n, gr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the gateway did not settle in time: %d/%d bindings collected, %d queued, Graph still busy (%w)", min(c.cycled, a.cycled), n, c.queued, ctx.Err())
		case <-time.After(min(statusEvery(time.Since(g.started)), 2*time.Second)):
		}
	}
}
