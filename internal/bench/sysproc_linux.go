package bench

import (
	"os"
	"syscall"
)

// childAttr puts a validator in its own process group, so that a Ctrl-C
// at the terminal reaches the bench alone (which then stops the
// validators in order), and has the kernel kill it if the bench dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalChild signals a validator's process group.
func signalChild(p *os.Process, sig syscall.Signal) {
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		p.Signal(sig)
	}
}
