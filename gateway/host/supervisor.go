package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/protocol"
)

// State is where a supervised connector is in its life.
type State string

// Supervisor states.
const (
	StateStarting     State = "starting"
	StateRunning      State = "running"
	StateRestarting   State = "restarting"
	StateCrashLooping State = "crash_looping" // restarted too often; still retried at the longest backoff
	StateFailed       State = "failed"        // configuration refused: restarting will not help
	StateStopped      State = "stopped"
)

// SupervisorConfig configures one endpoint's supervisor.
type SupervisorConfig struct {
	Launch   LaunchConfig
	Settings sdk.Fields // the endpoint's connector settings, sent with Configure after every start
	KV       sdk.KV     // the connector's key-value store, served over the broker

	CallTimeout    time.Duration // every call; default 30s
	PingInterval   time.Duration // health check; default 5s
	StopTimeout    time.Duration // how long Stop may take before the kill; default 5s
	MaxRestarts    int           // restarts within RestartWindow before crash_looping; default 5
	RestartWindow  time.Duration // default 5m
	InitialBackoff time.Duration // default 200ms
	MaxBackoff     time.Duration // default 30s
}

func (c *SupervisorConfig) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.CallTimeout, 30*time.Second)
	def(&c.PingInterval, 5*time.Second)
	def(&c.StopTimeout, 5*time.Second)
	def(&c.RestartWindow, 5*time.Minute)
	def(&c.InitialBackoff, 200*time.Millisecond)
	def(&c.MaxBackoff, 30*time.Second)
	if c.MaxRestarts == 0 {
		c.MaxRestarts = 5
	}
	if c.Launch.Logger == nil {
		c.Launch.Logger = hclog.NewNullLogger()
	}
}

// ErrUnavailable is returned by calls made while the connector is not
// running (starting, restarting, crash-looping or stopped). The engine keeps
// its records and tries again later.
var ErrUnavailable = errors.New("connector unavailable")

// Supervisor keeps one endpoint's connector process running and is the
// gateway's only way to call it. It implements sdk.Syncer; every call gets
// the configured timeout.
type Supervisor struct {
	cfg    SupervisorConfig
	log    hclog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	inst     *Instance
	state    State
	lastErr  error
	restarts []time.Time // restart times within the window
	total    int         // restarts since the supervisor started
}

var _ sdk.Syncer = (*Supervisor)(nil)

// NewSupervisor returns a supervisor; Start launches the process.
func NewSupervisor(cfg SupervisorConfig) *Supervisor {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Supervisor{cfg: cfg, log: cfg.Launch.Logger.Named(cfg.Launch.Endpoint), ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), done: make(chan struct{}), state: StateStarting}
}

// Start launches and configures the connector, then supervises it in the
// background. An error here (refused binary, bad manifest, configuration
// refused) is returned and nothing keeps running.
func (s *Supervisor) Start(ctx context.Context) error {
	inst, err := s.launch(ctx)
	// A connector that crashed or dropped its connection while starting is
	// tried again; one that is refused (checksum, manifest, configuration)
	// is not: it would be refused again.
	for attempt := 1; err != nil && !permanent(err) && attempt < 5 && ctx.Err() == nil; attempt++ {
		s.log.Warn("connector failed to start; trying again", "attempt", attempt, "error", err)
		time.Sleep(s.cfg.InitialBackoff << attempt)
		inst, err = s.launch(ctx)
	}
	if err != nil {
		s.setState(StateFailed, err)
		close(s.done)
		return err
	}
	s.mu.Lock()
	s.inst = inst
	s.mu.Unlock()
	s.setState(StateRunning, nil)
	go s.loop()
	return nil
}

func (s *Supervisor) launch(ctx context.Context) (*Instance, error) {
	inst, err := Launch(ctx, s.cfg.Launch)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	diags, err := inst.Client.Configure(cctx, s.cfg.Launch.Endpoint, s.cfg.Settings, s.cfg.KV)
	if err != nil { // the process, not the configuration, failed
		inst.Kill()
		return nil, fmt.Errorf("endpoint %q: Configure: %w", s.cfg.Launch.Endpoint, err)
	}
	for _, d := range diags {
		if d.Severity == sdk.SeverityWarning {
			s.log.Warn("connector configuration", "warning", d.String())
		}
	}
	if err := diags.Err(); err != nil {
		inst.Kill()
		return nil, &ConfigError{Endpoint: s.cfg.Launch.Endpoint, Err: err}
	}
	return inst, nil
}

// ConfigError says the connector refused the endpoint's settings.
type ConfigError struct {
	Endpoint string
	Err      error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("endpoint %q: the connector refused its configuration: %v", e.Endpoint, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// loop pings the process and restarts it when it is gone.
func (s *Supervisor) loop() {
	defer close(s.done)
	tick := time.NewTicker(s.cfg.PingInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		case <-s.wake:
		}
		if err := s.health(); err != nil {
			s.log.Warn("connector is down; restarting", "error", err)
			s.restart(err)
		}
	}
}

func (s *Supervisor) health() error {
	s.mu.Lock()
	inst := s.inst
	s.mu.Unlock()
	if inst == nil {
		return errors.New("no process")
	}
	if inst.Exited() {
		return errors.New("process exited")
	}
	return inst.Ping()
}

// restart kills what is left and launches again, backing off with jitter
// until it succeeds or the supervisor stops.
func (s *Supervisor) restart(cause error) {
	s.mu.Lock()
	old := s.inst
	s.inst = nil
	s.mu.Unlock()
	if old != nil {
		old.Kill()
	}
	s.setState(StateRestarting, cause)
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = s.cfg.InitialBackoff
	bo.MaxInterval = s.cfg.MaxBackoff
	bo.RandomizationFactor = 0.5
	for {
		if s.recordRestart() {
			bo.InitialInterval = s.cfg.MaxBackoff // crash-looping: retry, but rarely
			bo.Reset()
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(bo.NextBackOff()):
		}
		inst, err := s.launch(s.ctx)
		if err != nil {
			s.log.Error("restart failed", "error", err)
			s.mu.Lock()
			s.lastErr = err
			s.mu.Unlock()
			continue
		}
		s.mu.Lock()
		s.inst = inst
		s.mu.Unlock()
		s.setState(StateRunning, nil)
		s.log.Info("connector restarted", "pid", inst.Pid())
		return
	}
}

// recordRestart counts a restart and reports whether the connector is now
// crash-looping.
func (s *Supervisor) recordRestart() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.total++
	kept := s.restarts[:0]
	for _, t := range s.restarts {
		if now.Sub(t) < s.cfg.RestartWindow {
			kept = append(kept, t)
		}
	}
	s.restarts = append(kept, now)
	if len(s.restarts) > s.cfg.MaxRestarts {
		if s.state != StateCrashLooping {
			s.log.Error("connector is crash-looping", "restarts", len(s.restarts), "window", s.cfg.RestartWindow)
		}
		s.state = StateCrashLooping
		return true
	}
	return false
}

func (s *Supervisor) setState(st State, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == StateRestarting && s.state == StateCrashLooping {
		st = StateCrashLooping
	}
	s.state = st
	if err != nil {
		s.lastErr = err
	}
}

// Status is a supervisor's state for status pages.
type Status struct {
	Endpoint  string `json:"endpoint"`
	State     State  `json:"state"`
	Pid       int    `json:"pid"`
	Restarts  int    `json:"restarts"`
	LastError string `json:"last_error,omitempty"`
}

// Status returns the current state.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Endpoint: s.cfg.Launch.Endpoint, State: s.state, Restarts: s.total}
	if s.inst != nil {
		st.Pid = s.inst.Pid()
	}
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	return st
}

// Instance returns the running instance, or nil.
func (s *Supervisor) Instance() *Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inst
}

// Do calls fn on the running connector with the call timeout. A call that
// times out or fails in transport triggers an immediate health check, so a
// hung or dead plugin is replaced rather than waited on.
func (s *Supervisor) Do(ctx context.Context, call string, fn func(ctx context.Context, c *protocol.Client) error) error {
	inst := s.Instance()
	if inst == nil {
		st := s.Status()
		return fmt.Errorf("endpoint %q: %s: %w (%s)", s.cfg.Launch.Endpoint, call, ErrUnavailable, st.State)
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	err := fn(cctx, inst.Client)
	if err == nil {
		return nil
	}
	var typed *sdk.Error
	if errors.As(err, &typed) {
		return err // the backend's answer, delivered by a healthy plugin
	}
	// gRPC may report the deadline a moment before the context does.
	timedOut := errors.Is(cctx.Err(), context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded
	if timedOut && ctx.Err() == nil {
		s.poke()
		return fmt.Errorf("endpoint %q: %s timed out after %s: %w", s.cfg.Launch.Endpoint, call, s.cfg.CallTimeout, ErrUnavailable)
	}
	s.poke()
	return fmt.Errorf("endpoint %q: %s: %v: %w", s.cfg.Launch.Endpoint, call, err, ErrUnavailable)
}

// Watch streams the running connector's change hints for scope to fn until
// ctx ends or the stream breaks (the plugin restarted, or has no such
// capability: protocol.ErrUnsupported). A stream has no call timeout.
func (s *Supervisor) Watch(ctx context.Context, scope string, fn func(sdk.Hint)) error {
	inst := s.Instance()
	if inst == nil {
		return fmt.Errorf("endpoint %q: Watch: %w (%s)", s.cfg.Launch.Endpoint, ErrUnavailable, s.Status().State)
	}
	return inst.Client.Watch(ctx, scope, fn)
}

func (s *Supervisor) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stop asks the connector to stop, kills it, and ends supervision.
func (s *Supervisor) Stop() {
	s.cancel()
	<-s.done
	s.mu.Lock()
	inst := s.inst
	s.inst = nil
	s.state = StateStopped
	s.mu.Unlock()
	if inst == nil {
		return
	}
	if inst.Has("stop") {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StopTimeout)
		if err := inst.Client.Stop(ctx); err != nil {
			s.log.Warn("connector Stop failed; killing it", "error", err)
		}
		cancel()
	}
	inst.Kill()
}

// PrepareSync implements sdk.Syncer.
func (s *Supervisor) PrepareSync(ctx context.Context, feed sdk.Feed, cursor sdk.Cursor) (p sdk.Pending, err error) {
	err = s.Do(ctx, "PrepareSync", func(ctx context.Context, c *protocol.Client) (e error) {
		p, e = c.PrepareSync(ctx, feed, cursor)
		return e
	})
	return p, err
}

// GetSyncData implements sdk.Syncer.
func (s *Supervisor) GetSyncData(ctx context.Context, req sdk.SyncDataRequest) (page sdk.SyncDataPage, err error) {
	err = s.Do(ctx, "GetSyncData", func(ctx context.Context, c *protocol.Client) (e error) {
		page, e = c.GetSyncData(ctx, req)
		return e
	})
	return page, err
}

// PostSync implements sdk.Syncer.
func (s *Supervisor) PostSync(ctx context.Context, feed sdk.Feed, cursor sdk.Cursor) error {
	return s.Do(ctx, "PostSync", func(ctx context.Context, c *protocol.Client) error {
		return c.PostSync(ctx, feed, cursor)
	})
}

// Fetch implements sdk.Syncer.
func (s *Supervisor) Fetch(ctx context.Context, scope, entity string, ids []string) (out []sdk.FetchResult, err error) {
	err = s.Do(ctx, "Fetch", func(ctx context.Context, c *protocol.Client) (e error) {
		out, e = c.Fetch(ctx, scope, entity, ids)
		return e
	})
	return out, err
}

// Apply implements sdk.Syncer.
func (s *Supervisor) Apply(ctx context.Context, scope, entity string, ops []sdk.Op) (out []sdk.OpResult, err error) {
	err = s.Do(ctx, "Apply", func(ctx context.Context, c *protocol.Client) (e error) {
		out, e = c.Apply(ctx, scope, entity, ops)
		return e
	})
	return out, err
}

// Check implements the Check call with the call timeout.
func (s *Supervisor) Check(ctx context.Context, scopes []string) (res sdk.CheckResult, err error) {
	err = s.Do(ctx, "Check", func(ctx context.Context, c *protocol.Client) (e error) {
		res, e = c.Check(ctx, scopes)
		return e
	})
	return res, err
}

// DescribeManifest returns the manifest embedded in the running connector.
func (s *Supervisor) DescribeManifest(ctx context.Context) (m []byte, err error) {
	err = s.Do(ctx, "Describe", func(ctx context.Context, c *protocol.Client) error {
		d, e := c.Describe(ctx)
		m = d.Manifest
		return e
	})
	return m, err
}

// permanent reports whether a launch failure will happen again however often
// it is tried: the binary or its configuration was refused.
func permanent(err error) bool {
	var (
		ce *ConfigError
		ck *ChecksumError
		mm *ManifestMismatchError
	)
	return errors.As(err, &ce) || errors.As(err, &ck) || errors.As(err, &mm)
}
