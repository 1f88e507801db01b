//go:build !linux

package protocol

func setParentDeathSignal() {}
