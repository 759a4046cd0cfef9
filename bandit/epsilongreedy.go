package bandit

import (
	"math/rand/v2"
	"time"
)

// EpsilonGreedyName is the name of EpsilonGreedy.
const EpsilonGreedyName = "epsilon_greedy"

// DefaultEpsilon is EpsilonGreedy's default exploration rate.
const DefaultEpsilon = 0.10

// EpsilonGreedy explores with probability Epsilon, sending the request to
// a candidate drawn uniformly at random, and otherwise exploits: it sends
// it to the lowest-cost candidate among Candidates drawn at random, cost
// being the expected completion time latency × (in-flight + 1) / success
// rate. Latency is a plain time-decayed mean of the latencies of answered
// requests (and of timeouts), the success rate a separate time-decayed
// estimate; see the package documentation.
//
// Exploring does not look at costs, so an arm that fails every request
// still gets about Epsilon / len(candidates) of the traffic.
//
// The zero value is ready to use, with a randomly seeded generator. Set
// the fields before the first call: later changes are ignored. An
// EpsilonGreedy is safe for concurrent use and must not be copied after
// first use.
type EpsilonGreedy struct {
	// Epsilon is the probability of exploring; 0 means DefaultEpsilon,
	// a negative value means never, values above 1 mean always.
	Epsilon float64
	// Candidates is how many distinct candidates the greedy choice draws;
	// 0 means 2, values above 8 mean 8.
	Candidates int
	// LatencyDecay is the time constant of the latency estimates; 0 means
	// 2s.
	LatencyDecay time.Duration
	// SuccessDecay is the time constant of the success estimates; 0 means
	// 10s.
	SuccessDecay time.Duration

	c   core
	eps float64 // Epsilon resolved, guarded by c.mu
}

// NewEpsilonGreedy returns an EpsilonGreedy drawing from r; nil means a
// randomly seeded generator. r is used only with the policy's lock held.
func NewEpsilonGreedy(r *rand.Rand) *EpsilonGreedy {
	p := &EpsilonGreedy{}
	p.c.setRand(r)
	return p
}

func (p *EpsilonGreedy) settings() settings {
	p.eps = min(orFloat(p.Epsilon, DefaultEpsilon), 1)
	return classicSettings(p.Candidates, p.LatencyDecay, p.SuccessDecay)
}

// Choose returns a random candidate with probability Epsilon, else the
// lowest-cost one among Candidates drawn at random.
func (p *EpsilonGreedy) Choose(candidates []int, now time.Time) int {
	c := &p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.start(now, p.settings)
	var pick int
	switch {
	case len(candidates) == 0:
		return -1
	case len(candidates) == 1:
		pick = candidates[0]
	case c.rng.Float64() < p.eps:
		pick = candidates[c.rng.IntN(len(candidates))]
	default:
		pick = c.lowestCost(candidates, t)
	}
	c.chose(pick, t)
	return pick
}

// Observe records the outcome of a request to arm.
func (p *EpsilonGreedy) Observe(arm int, o Outcome, now time.Time) {
	c := &p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.observe(arm, o, c.start(now, p.settings), o.Failed)
}

// Report appends the arms' estimates; Score is the cost the greedy choice
// ranks by, in seconds.
func (p *EpsilonGreedy) Report(now time.Time, dst []ArmReport) []ArmReport {
	c := &p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.start(now, p.settings)
	return c.report(t, dst, func(a *arm) float64 { return c.cost(a, t) }, nil)
}

// classicSettings resolves the fields the four classic policies share.
func classicSettings(d int, latDecay, succDecay time.Duration) settings {
	return settings{
		d:         orInt(d, 2),
		latTau:    orDur(latDecay, defaultLatencyDecay),
		succTau:   orDur(succDecay, defaultSuccessDecay),
		latPrior:  defaultLatencyPrior,
		succPrior: defaultSuccessPrior,
	}
}

var (
	_ Bandit   = (*EpsilonGreedy)(nil)
	_ Reporter = (*EpsilonGreedy)(nil)
)
