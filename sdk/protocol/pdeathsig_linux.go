package protocol

import "golang.org/x/sys/unix"

// setParentDeathSignal asks the kernel to kill this process when the thread
// that started it exits: a second line of defence beside watchParent.
func setParentDeathSignal() { _ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0) }
