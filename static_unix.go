//go:build !(js || wasip1 || plan9)

package phalanx

import (
	"errors"
	"syscall"
)

// openNonblock keeps the open of a FIFO from blocking (see openFlags).
// Windows ignores it.
const openNonblock = syscall.O_NONBLOCK

// serverFault reports whether err is the server's trouble rather than the
// request's: out of descriptors or memory, an I/O error.
func serverFault(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.ENOBUFS, syscall.EIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
