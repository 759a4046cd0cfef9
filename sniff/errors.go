package sniff

import "errors"

var (
	// ErrNoProxyHeader is returned by ReadProxyHeader when the stream does
	// not start with a PROXY protocol signature; nothing was consumed, so
	// the caller can read the stream from its start. A listener that
	// requires the header should close the connection.
	ErrNoProxyHeader = errors.New("sniff: no PROXY protocol header")
	// ErrBadProxyHeader is wrapped by the errors ReadProxyHeader and
	// ProxyConn return for a header that starts with a signature but is
	// malformed or truncated. The caller should close the connection.
	ErrBadProxyHeader = errors.New("sniff: malformed PROXY protocol header")
)
