//go:build js || wasip1 || plan9

package phalanx

// openNonblock is 0 where files cannot be opened without blocking.
const openNonblock = 0

// serverFault reports whether err is the server's trouble rather than the
// request's; these systems do not say.
func serverFault(err error) bool { return false }
