//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package phalanx

import "syscall"

// waitReadable waits, with no buffer, until rc has bytes to read or has
// reached end of file, within its read deadline. It asks the kernel with
// a non-blocking MSG_PEEK of one byte, which takes nothing from the
// socket, and lets the runtime's poller wait between asks. It reports
// false if the wait ended with an error (the deadline, a closed
// connection).
func waitReadable(rc syscall.RawConn) bool {
	err := rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
	})
	return err == nil
}

// canWaitUnbuffered is true where waitReadable waits without a buffer.
const canWaitUnbuffered = true
