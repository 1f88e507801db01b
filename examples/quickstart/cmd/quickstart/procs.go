package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// child is one process the quick start started, its output in a log file.
type child struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	err     error         // its exit status, once done
}

// startChild starts bin with args, its stdout and stderr going to
// logDir/<name>.log. The child gets a process group of its own (where the
// system has them), so a Ctrl-C in the terminal reaches the quick start
// alone, which then stops the children in order.
func startChild(name, logDir, bin string, args ...string) (*child, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: %s is missing: run `make build` first", name, bin)
	}
	c := &child{name: name, logPath: filepath.Join(logDir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(c.logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Stdout, c.cmd.Stderr = f, f
	ownProcessGroup(c.cmd)
	if err := c.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, bin, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop asks the process to end (SIGTERM where there are signals) and
// kills it if it has not ended after grace.
func (c *child) stop(grace time.Duration) {
	if c == nil || c.exited() {
		return
	}
	terminate(c.cmd.Process)
	select {
	case <-c.done:
	case <-time.After(grace):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// tail returns the last n lines of the child's log.
func (c *child) tail(n int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// diedError says that a child ended on its own, with its last log lines.
func (c *child) diedError() error {
	return fmt.Errorf("%s exited unexpectedly (%v); the last lines of %s:\n%s", c.name, c.err, c.logPath, indent(c.tail(15)))
}

func indent(s string) string {
	if s == "" {
		return "    (the log is empty)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// checkFree fails when something already listens on addr: the config names
// fixed ports, so a quick start still running (or another program) must be
// stopped first.
func checkFree(addr, what string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s cannot listen on %s: %v. Is a quick start (or an emulator) still running? Stop it, or change the port in the config", what, addr, errors.Unwrap(err))
	}
	return lis.Close()
}

// waitHTTP waits until url answers 200, the child ends, or ctx ends.
func waitHTTP(ctx context.Context, c *child, url string, header http.Header, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := client.Do(req)
		if err == nil {
			body := new(bytes.Buffer)
			body.ReadFrom(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", res.Status, strings.TrimSpace(body.String()))
		} else {
			last = err.Error()
		}
		select {
		case <-c.done:
			return c.diedError()
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%s did not answer on %s within %s (last: %s); see %s", c.name, url, timeout, last, c.logPath)
			}
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
