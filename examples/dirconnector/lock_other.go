//go:build !unix

package dirconnector

import "sync"

var processLock sync.RWMutex

// lockFile falls back to a lock within this process where flock does not
// exist: the example then tolerates no other writer process.
func lockFile(_ string, exclusive bool) (unlock func(), err error) {
	if exclusive {
		processLock.Lock()
		return processLock.Unlock, nil
	}
	processLock.RLock()
	return processLock.RUnlock, nil
}
