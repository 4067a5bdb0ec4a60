//go:build unix

package abci

import (
	"errors"
	"net"
	"syscall"
)

// idle reports whether nc, a connection with no call in progress, is
// still usable: its peer has not closed it (an application that
// restarted) and has sent nothing unasked. It peeks without blocking, so
// the first call after the application restarted dials the new one
// instead of failing on the old connection.
func idle(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	usable := true
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read is the one healthy answer; EOF, unasked bytes
		// and other errors all make the connection unusable.
		usable = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && usable
}
