//go:build !linux

package bench

import (
	"os"
	"syscall"
)

// childAttr: outside Linux a validator stays in the bench's process group.
func childAttr() *syscall.SysProcAttr { return nil }

// signalChild signals a validator.
func signalChild(p *os.Process, sig syscall.Signal) { p.Signal(sig) }
