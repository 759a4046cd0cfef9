package lb

import "sync/atomic"

// RoundRobinName is the name RoundRobin is registered under.
const RoundRobinName = "roundrobin"

func init() { Register(RoundRobinName, RoundRobin{}) }

// RoundRobin hands requests to the backends in turn, ignoring weights (use
// WeightedRoundRobin to honour them). Each Picker starts at a random
// backend, so that rebuilding the Picker after a health change does not
// send the next request to the first backend every time (as grpc's
// round_robin balancer). Pick is one atomic add: O(1).
//
// The zero value is ready to use; it is the Pool's default. A RoundRobin
// may be copied, and is safe for concurrent use if Rand is.
type RoundRobin struct {
	// Rand chooses the starting backend of each Picker. nil means
	// math/rand/v2's Uint64; a non-nil Rand must be safe for concurrent use
	// if Build is called concurrently. A Rand that returns 0 makes every
	// Picker start at backends[0].
	Rand func() uint64
}

// Build returns a Picker over backends.
func (rr RoundRobin) Build(backends []*Backend) Picker {
	if len(backends) == 0 {
		return NewErrPicker(ErrNoBackend)
	}
	p := &rrPicker{backends: backends}
	p.next.Store(randN(randOrDefault(rr.Rand)(), uint64(len(backends))))
	return p
}

type rrPicker struct {
	backends []*Backend
	next     atomic.Uint64 // index of the next pick, modulo len(backends)
}

func (p *rrPicker) Pick(Request) (Result, error) {
	n := p.next.Add(1) - 1
	return Result{Backend: p.backends[n%uint64(len(p.backends))]}, nil
}

var (
	_ Builder = RoundRobin{}
	_ Picker  = (*rrPicker)(nil)
)
