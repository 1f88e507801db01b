package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Machine is what the figures were measured on.
type Machine struct {
	CPU      string
	Cores    int
	MemTotal int64 // bytes
}

func (m Machine) String() string {
	return fmt.Sprintf("%s, %d cores, %.1f GiB RAM", m.CPU, m.Cores, float64(m.MemTotal)/(1<<30))
}

// ReadMachine reads the CPU model and memory from /proc.
func ReadMachine() Machine {
	m := Machine{CPU: "unknown CPU", Cores: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemTotal = statusKiB(b, "MemTotal")
	}
	return m
}

// statusKiB reads a "Key:   123 kB" line of a /proc status-like file, in
// bytes; -1 when absent.
func statusKiB(b []byte, key string) int64 {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(k) != key {
			continue
		}
		f := strings.Fields(string(v))
		if len(f) == 0 {
			return -1
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return -1
		}
		return n * 1024
	}
	return -1
}

// PeakRSS is a process's peak resident set (VmHWM) in bytes.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	if n := statusKiB(b, "VmHWM"); n >= 0 {
		return n, nil
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

// RSS is a process's current resident set (VmRSS) in bytes.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	if n := statusKiB(b, "VmRSS"); n >= 0 {
		return n, nil
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc/<pid>/stat on
// every architecture Go supports.
const clockTicks = 100

// CPUTime is the user plus system CPU time a process has used.
func CPUTime(pid int) (time.Duration, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	// After the command's closing parenthesis: field 3 (state) is f[0],
	// so utime (14) and stime (15) are f[11] and f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat is too short", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime or stime", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// statFields returns /proc/<pid>/stat after the command name, which may
// hold spaces and parentheses of its own.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// proc is a process the bench started. Its output goes to a log file in
// the bench's work folder, which stays for a look afterwards (with
// -work-dir) and which errors quote the end of.
type proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func start(name, logPath, bin string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	p := &proc{name: name, log: logPath, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and kills the process if it has not exited after ten
// seconds.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// tail is the end of the process's output, for error messages.
func (p *proc) tail() string {
	s := p.output()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return fmt.Sprintf("%s (all of it in %s)", s, p.log)
}

// waitLines waits until the process has printed key=value lines with every
// key asked for, and returns them all.
func (p *proc) waitLines(timeout time.Duration, keys ...string) (map[string]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		kv := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(p.output()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.Contains(k, " ") {
				if _, seen := kv[k]; !seen {
					kv[k] = v
				}
			}
		}
		missing := ""
		for _, k := range keys {
			if kv[k] == "" {
				missing = k
				break
			}
		}
		if missing == "" {
			return kv, nil
		}
		if p.exited() {
			return nil, fmt.Errorf("%s exited before it printed %s=: %s", p.name, missing, p.tail())
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s did not print %s= within %s: %s", p.name, missing, timeout, p.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
