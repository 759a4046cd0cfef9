package lb

import (
	"math/bits"
	"sync/atomic"
)

// WeightedRoundRobinName is the name WeightedRoundRobin is registered under.
const WeightedRoundRobinName = "weightedroundrobin"

func init() { Register(WeightedRoundRobinName, WeightedRoundRobin{}) }

// maxWRRSequence caps the length of a WeightedRoundRobin sequence (and so
// its memory, 4 bytes an entry, and its build time).
const maxWRRSequence = 1 << 16

// WeightedRoundRobin is nginx's smooth weighted round robin
// (https://github.com/phusion/nginx/commit/27e94984486058d73157038f7950a0a36ecc6e35):
// each backend gets a share of requests proportional to its weight, and the
// picks of a heavy backend are spread out instead of coming in a burst.
//
// nginx runs the algorithm under a lock on every request: each backend has
// a current weight; a pick adds every backend's weight to its current
// weight, chooses the backend with the largest current weight (the first
// one on a tie) and subtracts the sum of all weights from it. After sum
// picks every current weight is back to zero, so the picks form a fixed
// cycle. Build computes that cycle once and Pick walks it with an atomic
// counter, so Pick takes no lock and costs O(1). With weights 5, 1, 1 for
// a, b, c (sum 7):
//
//	pick  current weights before  after adding  chosen  after subtracting 7
//	1     0  0  0                 5  1  1       a       -2  1  1
//	2     -2  1  1                3  2  2       a       -4  2  2
//	3     -4  2  2                1  3  3       b        1 -4  3
//	4     1 -4  3                 6 -3  4       a       -1 -3  4
//	5     -1 -3  4                4 -2  5       c        4 -2 -2
//	6     4 -2 -2                 9 -1 -1       a        2 -1 -1
//	7     2 -1 -1                 7  0  0       a        0  0  0
//
// so the cycle is a a b a c a a, where a plain weighted round robin sends
// a's five picks in a row.
//
// Build first divides the weights by their greatest common divisor, which
// does not change the cycle (weights 10, 2, 2 give the same one). If the
// cycle would still be longer than 65536 picks, the weights are scaled down
// proportionally (each stays at least 1), so shares are then exact to
// within about 1/65536. Build costs O(cycle length × number of distinct
// weights): microseconds for a few distinct small weights, about 10ms for
// 100 distinct weights whose cycle reaches the cap. Unlike nginx, weights
// do not drop after failures: the Pool removes failing backends from the
// set instead.
//
// Each Picker starts at a random point of the cycle, so that rebuilding
// after a health change does not always favour the first backends.
//
// The zero value is ready to use. A WeightedRoundRobin may be copied, and
// is safe for concurrent use if Rand is.
type WeightedRoundRobin struct {
	// Rand chooses where in the cycle each Picker starts. nil means
	// math/rand/v2's Uint64; a non-nil Rand must be safe for concurrent use
	// if Build is called concurrently. A Rand that returns 0 starts every
	// Picker at the beginning of the cycle, as nginx does.
	Rand func() uint64
}

// Build returns a Picker over backends.
func (w WeightedRoundRobin) Build(backends []*Backend) Picker {
	if len(backends) == 0 {
		return NewErrPicker(ErrNoBackend)
	}
	p := &wrrPicker{
		backends: backends,
		seq:      smoothSequence(reducedWeights(backends, maxWRRSequence)),
	}
	p.next.Store(randN(randOrDefault(w.Rand)(), uint64(len(p.seq))))
	return p
}

type wrrPicker struct {
	backends []*Backend
	seq      []uint32      // one cycle of backend indices
	next     atomic.Uint64 // position of the next pick, modulo len(seq)
}

func (p *wrrPicker) Pick(Request) (Result, error) {
	n := p.next.Add(1) - 1
	return Result{Backend: p.backends[p.seq[n%uint64(len(p.seq))]]}, nil
}

// reducedWeights returns the weights of backends divided by their greatest
// common divisor and, if they then sum to more than limit, scaled down to
// sum to about limit (at most limit+len(backends)), each at least 1.
func reducedWeights(backends []*Backend, limit uint64) []uint64 {
	w := make([]uint64, len(backends))
	for i, b := range backends {
		w[i] = uint64(max(b.weight, 1))
	}
	divideByGCD(w)
	var sum uint64
	var sumF float64
	overflow := false
	for _, x := range w {
		var carry uint64
		sum, carry = bits.Add64(sum, x, 0)
		overflow = overflow || carry != 0
		sumF += float64(x)
	}
	if !overflow && sum <= limit {
		return w
	}
	scale := float64(limit) / sumF
	for i, x := range w {
		w[i] = max(uint64(float64(x)*scale), 1)
	}
	divideByGCD(w)
	return w
}

// divideByGCD divides every element of w (all positive) by their greatest
// common divisor.
func divideByGCD(w []uint64) {
	g := w[0]
	for _, x := range w[1:] {
		for x != 0 {
			g, x = x, g%x
		}
	}
	for i := range w {
		w[i] /= g
	}
}

// smoothSequence returns the cycle of nginx's smooth weighted round robin
// over weights w (all positive, summing to less than 2^31): sum(w) backend
// indices, index i appearing w[i] times.
//
// It does not run nginx's O(n) step per pick. Backends of equal weight
// that have been picked equally often have equal current weights, so
// within a group of equal weight the backends are chosen in index order,
// round robin, and one current weight per group suffices: that of the
// member the group would offer next. Each step adds the group's weight to
// it; when the group is chosen its pointer moves on, and once every member
// has been chosen one more time the sum is subtracted. Each step therefore
// compares one candidate per distinct weight, and ties between groups go
// to the lower backend index, as in nginx.
func smoothSequence(w []uint64) []uint32 {
	type group struct {
		weight  int64
		current int64    // current weight of members[next]
		offer   uint32   // members[next]
		next    int      // the member the group offers next
		members []uint32 // backend indices, ascending
	}
	var groups []group
	byWeight := make(map[uint64]int)
	var sum uint64
	for i, x := range w {
		sum += x
		g, ok := byWeight[x]
		if !ok {
			g = len(groups)
			byWeight[x] = g
			groups = append(groups, group{weight: int64(x), offer: uint32(i)})
		}
		groups[g].members = append(groups[g].members, uint32(i))
	}
	seq := make([]uint32, sum)
	for t := range seq {
		best := &groups[0]
		for gi := range groups {
			g := &groups[gi]
			g.current += g.weight
			if g.current > best.current || (g.current == best.current && g.offer < best.offer) {
				best = g
			}
		}
		seq[t] = best.offer
		if best.next++; best.next == len(best.members) {
			best.next = 0
			best.current -= int64(sum)
		}
		best.offer = best.members[best.next]
	}
	return seq
}

var (
	_ Builder = WeightedRoundRobin{}
	_ Picker  = (*wrrPicker)(nil)
)
