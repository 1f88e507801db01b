//go:build unix

package dirconnector

import (
	"os"
	"syscall"
)

// lockFile takes a flock on path, shared or exclusive, and returns the
// function that releases it. Each call opens its own descriptor, so the lock
// also orders goroutines of one process, not only separate processes.
func lockFile(path string, exclusive bool) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing the descriptor releases the lock
}
