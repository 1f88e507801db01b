// Command crashgate is syncgate that kills itself with SIGKILL at a named
// point of the engine, for the crash tests: SYNCGATE_CRASH_AT=point:n kills
// the process the n-th time the point is reached, after saying so on stderr.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/syncgate/syncgate/gateway/cli"
)

type crashAt struct {
	mu    sync.Mutex
	point string
	n     int
}

func (c *crashAt) At(point string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if point != c.point {
		return
	}
	if c.n--; c.n == 0 {
		fmt.Fprintf(os.Stderr, "crash point %s hit\n", point)
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

func main() {
	if spec := os.Getenv("SYNCGATE_CRASH_AT"); spec != "" {
		point, n, _ := strings.Cut(spec, ":")
		count, err := strconv.Atoi(n)
		if err != nil || count < 1 {
			fmt.Fprintln(os.Stderr, "SYNCGATE_CRASH_AT wants point:n")
			os.Exit(2)
		}
		cli.EngineHooks = &crashAt{point: point, n: count}
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
