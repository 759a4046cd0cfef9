package sim

import (
	"math/rand/v2"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
)

// Names of the classic balancers.
const (
	RoundRobinName = "round_robin"
	LeastConnName  = "least_conn"
	P2CName        = "p2c"
)

// RoundRobin returns the round-robin policy: the candidates in turn,
// starting at a random offset.
func RoundRobin() Policy {
	return BanditPolicy(RoundRobinName, func(r *rand.Rand) (bandit.Bandit, error) {
		return &roundRobin{next: r.Uint64()}, nil
	})
}

// LeastConn returns the least-connections policy: the candidate with the
// fewest of the instance's own requests in flight, ties broken at random.
func LeastConn() Policy {
	return BanditPolicy(LeastConnName, func(r *rand.Rand) (bandit.Bandit, error) {
		return &leastConn{r: r}, nil
	})
}

// P2C returns the power of two choices on the instance's own in-flight
// counts (least request): two distinct random candidates, the one with
// fewer in flight, the first on a tie.
func P2C() Policy {
	return BanditPolicy(P2CName, func(r *rand.Rand) (bandit.Bandit, error) {
		return &p2c{r: r}, nil
	})
}

// roundRobin is a bandit.Bandit that ignores outcomes. It is not safe for
// concurrent use; the simulator does not need it to be.
type roundRobin struct{ next uint64 }

func (b *roundRobin) Choose(c []int, _ time.Time) int {
	b.next++
	return c[b.next%uint64(len(c))]
}

func (*roundRobin) Observe(int, bandit.Outcome, time.Time) {}

// inflight counts requests in flight per arm.
type inflight []int

// grow makes room for arm.
func (f *inflight) grow(arm int) {
	if arm >= len(*f) {
		*f = append(*f, make([]int, arm+1-len(*f))...)
	}
}

func (f *inflight) start(arm int) { f.grow(arm); (*f)[arm]++ }

func (f *inflight) done(arm int) {
	if arm < len(*f) && (*f)[arm] > 0 {
		(*f)[arm]--
	}
}

func (f inflight) of(arm int) int {
	if arm < len(f) {
		return f[arm]
	}
	return 0
}

// leastConn is a bandit.Bandit choosing the arm with the fewest in flight.
type leastConn struct {
	r   *rand.Rand
	out inflight
}

func (b *leastConn) Choose(c []int, _ time.Time) int {
	best, ties := c[0], 0
	for _, a := range c {
		switch n, m := b.out.of(a), b.out.of(best); {
		case n < m:
			best, ties = a, 1
		case n == m:
			// Reservoir sampling: each tied arm wins with
			// probability 1/ties.
			ties++
			if b.r.IntN(ties) == 0 {
				best = a
			}
		}
	}
	b.out.start(best)
	return best
}

func (b *leastConn) Observe(arm int, _ bandit.Outcome, _ time.Time) { b.out.done(arm) }

// p2c is a bandit.Bandit choosing the less loaded of two random arms.
type p2c struct {
	r   *rand.Rand
	out inflight
}

func (b *p2c) Choose(c []int, _ time.Time) int {
	if len(c) == 1 {
		b.out.start(c[0])
		return c[0]
	}
	i := b.r.IntN(len(c))
	j := b.r.IntN(len(c) - 1)
	if j >= i {
		j++
	}
	a, o := c[i], c[j]
	if b.out.of(o) < b.out.of(a) {
		a = o
	}
	b.out.start(a)
	return a
}

func (b *p2c) Observe(arm int, _ bandit.Outcome, _ time.Time) { b.out.done(arm) }

var (
	_ bandit.Bandit = (*roundRobin)(nil)
	_ bandit.Bandit = (*leastConn)(nil)
	_ bandit.Bandit = (*p2c)(nil)
)
