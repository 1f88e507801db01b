package host

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/syncgate/syncgate/sdk/manifest"
	"github.com/syncgate/syncgate/sdk/protocol"
)

// LaunchConfig says how to start one endpoint's connector.
type LaunchConfig struct {
	Plugin       *Plugin
	Endpoint     string
	Lock         LockEntry     // the pinned checksum; required
	LockFile     string        // where it was pinned, for error messages
	Logger       hclog.Logger  // the gateway's logger; the plugin's lines go under the endpoint's name
	LogLevel     hclog.Level   // the level the plugin logs at
	StartTimeout time.Duration // handshake and Describe; default 10s
}

// Instance is one running connector process.
type Instance struct {
	Endpoint     string
	Plugin       *Plugin
	Client       *protocol.Client
	Capabilities []string
	pc           *plugin.Client
}

// Exited reports whether the process has exited.
func (i *Instance) Exited() bool { return i.pc.Exited() }

// Ping checks that the process answers on its gRPC connection.
func (i *Instance) Ping() error {
	rpc, err := i.pc.Client()
	if err != nil {
		return err
	}
	return rpc.Ping()
}

// Pid returns the process id, or 0.
func (i *Instance) Pid() int {
	rc := i.pc.ReattachConfig()
	if rc == nil {
		return 0
	}
	return rc.Pid
}

// Kill ends the process (gracefully closing the connection first).
func (i *Instance) Kill() { i.pc.Kill() }

// Has reports whether the connector declared an optional capability.
func (i *Instance) Has(capability string) bool {
	for _, c := range i.Capabilities {
		if c == capability {
			return true
		}
	}
	return false
}

// Launch verifies and starts a connector process, then checks that the
// manifest it describes matches the file beside its binary. On any error the
// process is gone when Launch returns.
func Launch(ctx context.Context, lc LaunchConfig) (*Instance, error) {
	p := lc.Plugin
	if len(lc.Lock.Checksum()) != sha256.Size {
		return nil, fmt.Errorf("endpoint %q: connector %q has no pinned checksum", lc.Endpoint, p.Name)
	}
	if lc.StartTimeout == 0 {
		lc.StartTimeout = 10 * time.Second
	}
	if lc.Logger == nil {
		lc.Logger = hclog.NewNullLogger()
	}
	cmd := exec.Command(p.Binary)
	cmd.Dir = p.Dir
	cmd.Env = []string{protocol.LogLevelEnv + "=" + lc.LogLevel.String()}
	// The kernel kills the plugin when the thread that forked it exits; the
	// launcher thread lives as long as the gateway, so this fires exactly
	// when the gateway dies, even by SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  protocol.Handshake,
		Plugins:          protocol.PluginSet(nil),
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: lc.Lock.Checksum(), Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		Managed:          false, // the Supervisor owns the lifecycle
		StartTimeout:     lc.StartTimeout,
		Logger:           lc.Logger.Named(lc.Endpoint),
		GRPCDialOptions:  protocol.DialOptions(),
	})
	if err := startOnLauncherThread(pc); err != nil {
		pc.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			sum, _ := HashFile(p.Binary)
			return nil, fmt.Errorf("endpoint %q: %w", lc.Endpoint, &ChecksumError{Connector: p.Name, Binary: p.Binary,
				LockFile: lc.LockFile, Expected: lc.Lock.SHA256, Actual: sum,
				Relock: relockCommand(filepath.Dir(p.Dir), lc.LockFile)})
		}
		return nil, fmt.Errorf("endpoint %q: connector %q (%s) did not start as a syncgate connector: %v "+
			"(a connector is a program that calls sdk.Serve; its own log lines above may say more)", lc.Endpoint, p.Name, p.Binary, err)
	}
	inst, err := dispense(ctx, lc, pc)
	if err != nil {
		pc.Kill()
		return nil, err
	}
	return inst, nil
}

func dispense(ctx context.Context, lc LaunchConfig, pc *plugin.Client) (*Instance, error) {
	p := lc.Plugin
	rpc, err := pc.Client()
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: connect to connector %q: %w", lc.Endpoint, p.Name, err)
	}
	raw, err := rpc.Dispense(protocol.PluginName)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: connector %q: %w", lc.Endpoint, p.Name, err)
	}
	client := raw.(*protocol.Client)
	dctx, cancel := context.WithTimeout(ctx, lc.StartTimeout)
	defer cancel()
	desc, err := client.Describe(dctx)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: connector %q: Describe: %w", lc.Endpoint, p.Name, err)
	}
	embedded, diags := manifest.Parse(p.Binary+" (embedded manifest)", desc.Manifest)
	if diags.HasErrors() {
		return nil, fmt.Errorf("endpoint %q: connector %q describes an invalid manifest:\n%s", lc.Endpoint, p.Name, manifest.FormatDiagnostics(diags))
	}
	if diff := manifest.Diff(p.Manifest, embedded, "file", "binary"); len(diff) > 0 {
		return nil, &ManifestMismatchError{Connector: p.Name, File: p.ManifestPath, Binary: p.Binary, Diff: diff}
	}
	return &Instance{Endpoint: lc.Endpoint, Plugin: p, Client: client, Capabilities: desc.Capabilities, pc: pc}, nil
}

// ManifestMismatchError says a binary's embedded manifest differs from the
// file beside it: typically a binary upgraded without its manifest.
type ManifestMismatchError struct {
	Connector, File, Binary string
	Diff                    []string
}

func (e *ManifestMismatchError) Error() string {
	return fmt.Sprintf("connector %q refused: the manifest embedded in %s differs from %s "+
		"(was the binary upgraded without its manifest?):\n  %s",
		e.Connector, e.Binary, e.File, strings.Join(e.Diff, "\n  "))
}

// The launcher thread: every plugin process is forked from this one
// goroutine, locked to its OS thread for the life of the gateway, because
// Linux delivers Pdeathsig when the forking *thread* exits, and the Go
// runtime may retire any other thread at will.
var (
	launchOnce sync.Once
	launchCh   chan launchReq
)

type launchReq struct {
	pc   *plugin.Client
	done chan error
}

func startOnLauncherThread(pc *plugin.Client) error {
	launchOnce.Do(func() {
		launchCh = make(chan launchReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must outlive every child
			for req := range launchCh {
				_, err := req.pc.Start()
				req.done <- err
			}
		}()
	})
	done := make(chan error, 1)
	launchCh <- launchReq{pc: pc, done: done}
	return <-done
}
