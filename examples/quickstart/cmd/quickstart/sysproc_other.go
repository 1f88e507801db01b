//go:build !unix

package main

import (
	"os"
	"os/exec"
)

// Without process groups and SIGTERM the children share the console's
// Ctrl-C and are killed when asked to stop.
func ownProcessGroup(*exec.Cmd) {}

func terminate(p *os.Process) { p.Kill() }
