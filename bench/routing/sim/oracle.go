package sim

import (
	"math/rand/v2"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
)

// Names of the oracles.
const (
	JSQName            = "jsq_oracle"
	EarliestFinishName = "earliest_finish_oracle"
)

// JSQ returns the join-the-shortest-queue oracle: the server with the
// fewest requests in system per worker, counted across all balancer
// instances (so it sees the other instances' traffic and the requests
// whose clients gave up), ties broken at random. It knows which servers
// are black holes and never uses them while another server works.
func JSQ() Policy {
	return Policy{Name: JSQName, Oracle: true, New: func(c *Cluster, r *rand.Rand) (Router, error) {
		return &jsq{c: c, r: r}, nil
	}}
}

// EarliestFinish returns the clairvoyant earliest-finish oracle: it knows
// each request's size and every server's FCFS worker schedule, and sends
// the request where it would finish first, ties broken at random. Like
// JSQ, it avoids black holes. It is greedy, so not optimal: it does not
// keep fast servers free for the requests still to come.
func EarliestFinish() Policy {
	return Policy{Name: EarliestFinishName, Oracle: true, New: func(c *Cluster, r *rand.Rand) (Router, error) {
		return &earliestFinish{c: c, r: r}, nil
	}}
}

type jsq struct {
	c *Cluster
	r *rand.Rand
}

func (o *jsq) Choose(_ Request, now time.Duration) int {
	return pickMin(o.c, o.r, now, func(i int) float64 {
		return float64(o.c.InSystem(i)) / float64(o.c.Workers())
	})
}

func (*jsq) Observe(int, bandit.Outcome, time.Duration) {}

type earliestFinish struct {
	c *Cluster
	r *rand.Rand
}

func (o *earliestFinish) Choose(req Request, now time.Duration) int {
	return pickMin(o.c, o.r, now, func(i int) float64 {
		return float64(o.c.Finish(i, req.Size, now))
	})
}

func (*earliestFinish) Observe(int, bandit.Outcome, time.Duration) {}

// pickMin returns the working server with the least cost, ties broken at
// random; if every server fails, a random one.
func pickMin(c *Cluster, r *rand.Rand, now time.Duration, cost func(int) float64) int {
	best, ties := -1, 0
	bestCost := 0.0
	for i := range c.Servers() {
		if c.Failing(i, now) {
			continue
		}
		switch x := cost(i); {
		case best < 0 || x < bestCost:
			best, bestCost, ties = i, x, 1
		case x == bestCost:
			ties++
			if r.IntN(ties) == 0 {
				best = i
			}
		}
	}
	if best < 0 {
		return r.IntN(c.Servers())
	}
	return best
}

var (
	_ Router = (*jsq)(nil)
	_ Router = (*earliestFinish)(nil)
)
