package lb

import (
	"cmp"
	"math/bits"
)

// LeastConnectionsName is the name LeastConnections is registered under.
const LeastConnectionsName = "leastconnections"

func init() { Register(LeastConnectionsName, LeastConnections{}) }

// LeastConnections picks the backend with the fewest in-flight requests
// relative to its weight, as nginx's least_conn: a is less loaded than b
// when inflight(a)/weight(a) < inflight(b)/weight(b), compared exactly as
// inflight(a)*weight(b) < inflight(b)*weight(a). Ties, including the
// all-idle case, are broken uniformly at random, whatever the weights
// (nginx breaks them by weighted round robin). In-flight counts are those
// kept by Backend.Start and Backend.Finish.
//
// Pick reads every backend's counter, O(n), and reads them a second time
// when there is a tie; a counter that changes between the two reads can
// only bias that one pick.
//
// The zero value is ready to use. A LeastConnections may be copied, and is
// safe for concurrent use if Rand is.
type LeastConnections struct {
	// Rand breaks ties. nil means math/rand/v2's Uint64, which is safe for
	// concurrent use and takes no lock. A non-nil Rand must be safe for
	// concurrent use if the Picker's Pick is called concurrently.
	Rand func() uint64
}

// Build returns a Picker over backends.
func (lc LeastConnections) Build(backends []*Backend) Picker {
	if len(backends) == 0 {
		return NewErrPicker(ErrNoBackend)
	}
	return &leastConnPicker{backends: backends, rand: randOrDefault(lc.Rand)}
}

type leastConnPicker struct {
	backends []*Backend
	rand     func() uint64
}

func (p *leastConnPicker) Pick(Request) (Result, error) {
	bs := p.backends
	best := 0
	bestIn, bestW := bs[0].inflight.Load(), bs[0].weight
	ties := uint64(1)
	for i := 1; i < len(bs); i++ {
		in, w := bs[i].inflight.Load(), bs[i].weight
		switch c := cmpLoad(in, w, bestIn, bestW); {
		case c < 0:
			best, bestIn, bestW, ties = i, in, w, 1
		case c == 0:
			ties++
		}
	}
	if ties > 1 {
		// Take the k-th of the tied backends, all at or after best. If
		// the counters moved since the first pass, best may stay.
		k := randN(p.rand(), ties)
		for i := best; i < len(bs); i++ {
			if cmpLoad(bs[i].inflight.Load(), bs[i].weight, bestIn, bestW) != 0 {
				continue
			}
			if k == 0 {
				best = i
				break
			}
			k--
		}
	}
	return Result{Backend: bs[best]}, nil
}

// cmpLoad compares the load of inflight ia at weight wa with that of ib at
// weight wb, that is ia/wa with ib/wb, as -1, 0 or +1. The products are
// computed in 128 bits so that no weight can overflow them; a negative
// in-flight count (Finish without Start) counts as 0.
func cmpLoad(ia int64, wa int, ib int64, wb int) int {
	ahi, alo := bits.Mul64(uint64(max(ia, 0)), uint64(wb))
	bhi, blo := bits.Mul64(uint64(max(ib, 0)), uint64(wa))
	if ahi != bhi {
		return cmp.Compare(ahi, bhi)
	}
	return cmp.Compare(alo, blo)
}

var (
	_ Builder = LeastConnections{}
	_ Picker  = (*leastConnPicker)(nil)
)
