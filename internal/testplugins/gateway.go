package testplugins

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Gateway is a `syncgate run` process for end-to-end tests: the real
// binary, with real plugin processes, its admin API on Addr.
type Gateway struct {
	Addr    string // the admin listener, host:port
	Token   string // the admin API's bearer token
	DataDir string
	logs    *SyncBuffer
	cmd     *exec.Cmd
	done    chan struct{}
}

var (
	gatewayOnce sync.Once
	gatewayBin  string
	gatewayErr  error
)

// Syncgate builds the gateway binary once per test binary and returns its
// path.
func Syncgate(t testing.TB) string {
	t.Helper()
	gatewayOnce.Do(func() {
		dir, err := os.MkdirTemp("", "syncgate-bin")
		if err != nil {
			gatewayErr = err
			return
		}
		gatewayBin = filepath.Join(dir, "syncgate")
		cmd := exec.Command("go", "build", "-o", gatewayBin, "./gateway/cmd/syncgate")
		cmd.Dir = ModuleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			gatewayErr = fmt.Errorf("build syncgate: %v\n%s", err, out)
		}
	})
	if gatewayErr != nil {
		t.Fatal(gatewayErr)
	}
	return gatewayBin
}

// FreeAddr returns a loopback address nothing listens on, for an admin
// listener or an emulator.
func FreeAddr(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// StartGateway runs `syncgate run -config cfgPath`, whose gateway block
// must set admin_listen to addr and data_dir to dataDir, and waits until
// its admin API answers. The process is stopped (SIGTERM, then killed) when
// the test ends; its log is printed if the test failed.
func StartGateway(t testing.TB, cfgPath, addr, dataDir string) *Gateway {
	t.Helper()
	g := &Gateway{Addr: addr, DataDir: dataDir, logs: &SyncBuffer{}, done: make(chan struct{})}
	g.cmd = exec.Command(Syncgate(t), "run", "-config", cfgPath)
	g.cmd.Stdout, g.cmd.Stderr = g.logs, g.logs
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		g.Stop()
		if t.Failed() {
			t.Logf("gateway log:\n%s", g.Logs())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-g.done:
			t.Fatalf("the gateway exited at start:\n%s", g.Logs())
		default:
		}
		if b, err := os.ReadFile(filepath.Join(dataDir, "admin.token")); err == nil {
			g.Token = strings.TrimSpace(string(b))
			if err := g.Get("/v1/status", nil); err == nil {
				return g
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway's admin API did not answer within 30s:\n%s", g.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Get calls the admin API and decodes its JSON answer into v (if not nil).
func (g *Gateway) Get(path string, v any) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+g.Addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+g.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, res.Status, body)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(body, v)
}

// Logs returns what the gateway has written so far.
func (g *Gateway) Logs() string { return g.logs.String() }

// Stop ends the gateway: SIGTERM, and SIGKILL if it has not exited after
// ten seconds.
func (g *Gateway) Stop() {
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
	}
}

// SyncBuffer is a bytes.Buffer safe for a process's writes and a test's
// reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
