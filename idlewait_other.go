//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package phalanx

import "syscall"

// waitReadable is not available here: idle connections keep their
// buffer (see h1Conn.waitIdle).
func waitReadable(syscall.RawConn) bool { return true }

// canWaitUnbuffered is true where waitReadable waits without a buffer.
const canWaitUnbuffered = false
