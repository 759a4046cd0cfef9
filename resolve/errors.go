package resolve

import "errors"

// ErrInvalidConfig is wrapped by the errors New returns for a Config it
// cannot use: a server that is not an IP address with an optional port, a
// negative Valid or Timeout, or no server at all. The message names the
// field. Every lookup of the zero Resolver, which has no server, wraps it
// too.
var ErrInvalidConfig = errors.New("resolve: invalid config")

// ErrInvalidName is wrapped by the errors a lookup returns for a name that
// is not a domain name or a port out of range; asking again will not help.
var ErrInvalidName = errors.New("resolve: invalid name")

// ErrNotFound is wrapped when the server answered NXDOMAIN: the name does
// not exist.
var ErrNotFound = errors.New("resolve: name not found")

// ErrNoRecords is wrapped when the name exists but has no record of the
// type asked (A or AAAA, or SRV with a target), after following CNAMEs.
var ErrNoRecords = errors.New("resolve: no records")

// ErrServerFailure is wrapped when every server answered with an error
// code other than NXDOMAIN (SERVFAIL, REFUSED, FORMERR, ...). The message
// gives the code.
var ErrServerFailure = errors.New("resolve: server failure")

// ErrCNAMEChain is wrapped when a name leads through more than MaxCNAME
// CNAME records, or around a loop.
var ErrCNAMEChain = errors.New("resolve: cname chain too long")
