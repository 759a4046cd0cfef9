package lb

import "errors"

var (
	// ErrNoBackend is returned by Pick when no backend is usable: all are
	// down, or the pool is empty. The proxy answers 503.
	ErrNoBackend = errors.New("lb: no backend available")
	// ErrClosed is returned by Pool.SetBackends after Pool.Close: the pool
	// is being retired (by a reload, say), and its caller should stop
	// feeding it.
	ErrClosed = errors.New("lb: pool closed")
	// ErrUnknownAlgorithm is returned by Lookup for a name nobody registered.
	ErrUnknownAlgorithm = errors.New("lb: unknown algorithm")
	// ErrPolicy is returned by Pick when a learning policy chose a backend
	// it was not offered: a bug in the policy. The proxy answers 503.
	ErrPolicy = errors.New("lb: policy error")
)
