//go:build unix

package fcgi

import (
	"errors"
	"net"
	"syscall"
)

// aliveCheck returns a func reporting whether an idle connection is
// still open: a backend that closed it (php-fpm recycling a worker after
// pm.max_requests, or restarting) has sent a FIN, so a read returns 0 at
// once. Sockets from the net package are non-blocking, so the read never
// waits: EAGAIN means open and quiet. Bytes waiting on an idle connection
// are a protocol error, so they count as dead too. A net.Conn that is
// not a socket (a test's Dial hook) counts as alive. The func allocates
// nothing.
func aliveCheck(nc net.Conn) func() bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return func() bool { return true }
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return func() bool { return false }
	}
	var live bool
	var b [1]byte
	peek := func(fd uintptr) bool {
		_, err := syscall.Read(int(fd), b[:])
		live = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
		return true
	}
	return func() bool {
		live = false
		err := rc.Read(peek)
		return err == nil && live
	}
}
