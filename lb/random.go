package lb

import (
	"math/bits"
	"math/rand/v2"
)

// RandomName is the name Random is registered under.
const RandomName = "random"

func init() { Register(RandomName, Random{}) }

// Random picks a backend at random, each with probability proportional to
// its weight. Pick draws one random number and, when the weights differ,
// binary-searches the cumulative weights: O(log n).
//
// The zero value is ready to use. A Random may be copied, and is safe for
// concurrent use if Rand is.
type Random struct {
	// Rand returns uniformly distributed 64-bit values. nil means
	// math/rand/v2's Uint64, which is safe for concurrent use and takes no
	// lock. A non-nil Rand must be safe for concurrent use if the Picker's
	// Pick is called concurrently; tests pass a seeded source such as
	// rand.New(rand.NewPCG(1, 2)).Uint64 and pick from one goroutine.
	Rand func() uint64
}

// Build returns a Picker over backends.
func (r Random) Build(backends []*Backend) Picker {
	if len(backends) == 0 {
		return NewErrPicker(ErrNoBackend)
	}
	return &randomPicker{
		backends: backends,
		rand:     randOrDefault(r.Rand),
		weights:  newCumWeights(backends),
	}
}

type randomPicker struct {
	backends []*Backend
	rand     func() uint64
	weights  cumWeights
}

func (p *randomPicker) Pick(Request) (Result, error) {
	return Result{Backend: p.backends[p.weights.index(p.rand())]}, nil
}

// randOrDefault returns f, or rand.Uint64 if f is nil.
func randOrDefault(f func() uint64) func() uint64 {
	if f == nil {
		return rand.Uint64
	}
	return f
}

// randN maps the uniform 64-bit value r to [0, n) without division
// (Lemire's multiply-shift; the bias is below n/2^64).
func randN(r uint64, n uint64) uint64 {
	hi, _ := bits.Mul64(r, n)
	return hi
}

// cumWeights maps a uniform 64-bit value to a backend index, each index
// with probability proportional to its backend's weight. It is immutable
// after newCumWeights.
type cumWeights struct {
	n     uint64
	total uint64
	// cum[i] is the sum of the weights of backends 0..i. It is nil when all
	// weights are equal, and index is then a single multiplication.
	cum []uint64
}

// newCumWeights returns the cumulative weights of backends. Weights too
// large for their sum to fit in 64 bits are halved until it does (each
// weight stays at least 1).
func newCumWeights(backends []*Backend) cumWeights {
	c := cumWeights{n: uint64(len(backends))}
	equal := true
	for _, b := range backends {
		equal = equal && b.weight == backends[0].weight
	}
	if equal {
		c.total = c.n
		return c
	}
	c.cum = make([]uint64, len(backends))
	for shift := 0; ; shift++ {
		var sum uint64
		overflow := false
		for i, b := range backends {
			w := max(uint64(b.weight)>>shift, 1)
			var carry uint64
			sum, carry = bits.Add64(sum, w, 0)
			overflow = overflow || carry != 0
			c.cum[i] = sum
		}
		if !overflow {
			c.total = sum
			return c
		}
	}
}

// weight returns the (possibly scaled) weight of index i.
func (c *cumWeights) weight(i uint64) uint64 {
	if c.cum == nil {
		return 1
	}
	if i == 0 {
		return c.cum[0]
	}
	return c.cum[i] - c.cum[i-1]
}

// index maps the uniform value r to an index.
func (c *cumWeights) index(r uint64) uint64 {
	if c.cum == nil {
		return randN(r, c.n)
	}
	return c.search(randN(r, c.total))
}

// indexExcept maps the uniform value r to an index other than skip, each
// with probability proportional to its weight among the others. It
// requires at least two backends.
func (c *cumWeights) indexExcept(r, skip uint64) uint64 {
	if c.cum == nil {
		i := randN(r, c.n-1)
		if i >= skip {
			i++
		}
		return i
	}
	// Draw from the total without skip's share, then step over skip's
	// interval [cum[skip]-w, cum[skip]).
	w := c.weight(skip)
	x := randN(r, c.total-w)
	if x >= c.cum[skip]-w {
		x += w
	}
	return c.search(x)
}

// search returns the first i with cum[i] > x, for x < total.
func (c *cumWeights) search(x uint64) uint64 {
	lo, hi := uint64(0), c.n-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if c.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

var (
	_ Builder = Random{}
	_ Picker  = (*randomPicker)(nil)
)
