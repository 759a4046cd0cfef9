package lb

import (
	"math"

	"github.com/cespare/xxhash/v2"
)

// IPHashName is the name IPHash is registered under.
const IPHashName = "iphash"

func init() { Register(IPHashName, IPHash{}) }

// IPHash sends all requests with the same affinity key (Request.Key: the
// HashKey, else the client IP) to the same backend, by weighted rendezvous
// (highest random weight) hashing
// (https://en.wikipedia.org/wiki/Rendezvous_hashing#Weighted_rendezvous_hash).
//
// Each backend scores the key, and the highest score wins. The score
// mixes xxhash.Sum64String(key) with Backend.Hash (the xxhash of its
// address) through the splitmix64 finaliser into u, uniform in (0, 1), and
// is -weight/ln(u); a backend's chance to win is then its share of the
// total weight. A backend's score does not depend on the other backends,
// so when one is removed only the keys it won move, spread over the others
// by weight, and when it comes back they return to it; the order of the
// backends does not matter either.
//
// Pick scores every backend: O(n). When all weights are equal the score is
// u itself, which gives the same winner without the logarithm; otherwise
// the logarithm is skipped for backends whose score is bounded below the
// best so far (-ln(u) >= 1-u).
//
// A request with an empty key cannot be hashed; it goes to a random backend
// chosen by weight, as with Random.
//
// The zero value is ready to use. An IPHash may be copied, and is safe for
// concurrent use if Rand is.
type IPHash struct {
	// Rand chooses the backend for requests with an empty key. nil means
	// math/rand/v2's Uint64, which is safe for concurrent use and takes no
	// lock. A non-nil Rand must be safe for concurrent use if the Picker's
	// Pick is called concurrently.
	Rand func() uint64
}

// Build returns a Picker over backends.
func (h IPHash) Build(backends []*Backend) Picker {
	if len(backends) == 0 {
		return NewErrPicker(ErrNoBackend)
	}
	p := &ipHashPicker{
		backends: backends,
		rand:     randOrDefault(h.Rand),
		fallback: newCumWeights(backends),
		equal:    true,
		weights:  make([]float64, len(backends)),
	}
	for i, b := range backends {
		p.weights[i] = float64(b.weight)
		p.equal = p.equal && b.weight == backends[0].weight
	}
	return p
}

type ipHashPicker struct {
	backends []*Backend
	rand     func() uint64
	fallback cumWeights // for requests without a key
	equal    bool       // all weights are equal
	weights  []float64
}

func (p *ipHashPicker) Pick(r Request) (Result, error) {
	key := r.Key()
	if key == "" {
		return Result{Backend: p.backends[p.fallback.index(p.rand())]}, nil
	}
	h := xxhash.Sum64String(key)
	best := 0
	if p.equal {
		var bestScore uint64
		for i, b := range p.backends {
			if s := mix64(h ^ b.hash); i == 0 || s > bestScore {
				best, bestScore = i, s
			}
		}
	} else {
		bestScore := 0.0 // scores are positive
		for i, b := range p.backends {
			// u is in (0, 1), so ln(u) < 0 and the score is positive.
			u := (float64(mix64(h^b.hash)>>11) + 0.5) * 0x1p-53
			w := p.weights[i]
			// -ln(u) >= 1-u, so the score is at most w/(1-u): skip the
			// logarithm when even that cannot beat the best so far.
			if w <= bestScore*(1-u) {
				continue
			}
			if s := -w / math.Log(u); s > bestScore {
				best, bestScore = i, s
			}
		}
	}
	return Result{Backend: p.backends[best]}, nil
}

// mix64 is the splitmix64 finaliser (variant 13 of Stafford's mixers), a
// bijection of uint64 whose every output bit depends on every input bit.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

var (
	_ Builder = IPHash{}
	_ Picker  = (*ipHashPicker)(nil)
)
