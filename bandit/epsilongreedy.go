package bandit

import (
	"math/rand/v2"
	"time"
)

// EpsilonGreedyName is the name of EpsilonGreedy.
const EpsilonGreedyName = "epsilon_greedy"

// DefaultEpsilon is EpsilonGreedy's default exploration rate.
const DefaultEpsilon = 0.10

// EpsilonGreedy draws Candidates distinct candidates at random, then
// explores with probability Epsilon, sending the request to one of them
// drawn uniformly, and otherwise exploits: it sends it to the one of
// lowest cost, the expected completion time latency × (in-flight + 1) /
// success rate. Latency is a plain time-decayed mean of the latencies of
// answered requests (and of timeouts), the success rate a separate
// time-decayed estimate; see the package documentation.
//
// Exploring does not look at costs, so a slow arm still gets about
// Epsilon / len(candidates) of the traffic (when Candidates is at least
// the number of candidates, as by default with up to 10 backends). At
// high load that costs some median latency: a tenth of the requests go
// to a backend drawn at random, busy or not. An arm that fails every
// request is the exception: a few failures in a row open its breaker,
// and while it is open both exploring and exploiting pass it over (see
// the package documentation).
//
// The zero value is ready to use, with a randomly seeded generator. Set
// the fields before the first call: later changes are ignored. An
// EpsilonGreedy is safe for concurrent use and must not be copied after
// first use.
type EpsilonGreedy struct {
	// Epsilon is the probability of exploring; 0 means DefaultEpsilon,
	// a negative value means never, values above 1 mean always.
	Epsilon float64
	// Candidates is how many distinct candidates are drawn per choice,
	// among which both exploring and exploiting choose; 0 means 10,
	// values above 16 mean 16.
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

// Choose draws Candidates candidates at random and returns one of them
// drawn uniformly with probability Epsilon, else the one of lowest cost.
func (p *EpsilonGreedy) Choose(candidates []int, now time.Time) int {
	return p.c.choose(p, candidates, now)
}

// choose requires c.mu held.
func (p *EpsilonGreedy) choose(cands []int, t int64) int {
	c := &p.c
	var pick int
	var ids [maxCandidates]int
	k := c.draw(cands, t, &ids)
	if c.rng.Float64() < p.eps {
		pick = ids[c.rng.IntN(k)]
	} else {
		pick = c.cheapest(ids[:k], t)
	}
	return pick
}

// Observe records the outcome of a request to arm.
func (p *EpsilonGreedy) Observe(arm int, o Outcome, now time.Time) {
	p.c.observeFailures(p, arm, o, now)
}

// Report appends the arms' estimates; Score is the cost the greedy choice
// ranks by, in seconds.
func (p *EpsilonGreedy) Report(now time.Time, dst []ArmReport) []ArmReport {
	return p.c.reportCost(p, now, dst)
}

// classicSettings resolves the fields the four classic policies share.
// Their breakers take Adaptive's defaults.
func classicSettings(d int, latDecay, succDecay time.Duration) settings {
	return settings{
		d:          orInt(d, defaultCandidates),
		latTau:     orDur(latDecay, defaultLatencyDecay),
		succTau:    orDur(succDecay, defaultSuccessDecay),
		latPrior:   defaultLatencyPrior,
		succPrior:  defaultSuccessPrior,
		breakAfter: defaultBreakAfter,
		backoff:    int64(defaultBackoff),
		maxBackoff: int64(defaultMaxBackoff),
	}
}

// Forget drops what the policy knows of arm (see Forgetter).
func (p *EpsilonGreedy) Forget(arm int) { p.c.forget(arm) }

var (
	_ Bandit    = (*EpsilonGreedy)(nil)
	_ Reporter  = (*EpsilonGreedy)(nil)
	_ Forgetter = (*EpsilonGreedy)(nil)
)
