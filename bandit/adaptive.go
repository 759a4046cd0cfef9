package bandit

import (
	"math"
	"math/rand/v2"
	"time"
)

// DefaultName is the name of the default policy, Adaptive.
const DefaultName = "adaptive"

// Adaptive is the default policy. It sends each request to the candidate
// with the lowest expected completion time among a few drawn at random:
//
//	cost = L × (in-flight + 1) / p
//
// L is the arm's peak-EWMA latency, p its success rate. Requests answered
// with an error do not feed L, so a backend that fails fast does not look
// fast: its p falls instead, and once p is below MinSuccess the arm is
// passed over while any healthy candidate remains. See the package
// documentation for the estimators and why each part is there.
//
// A worked example, with the defaults: arm 1 answers in 10 ms with 2
// requests in flight, arm 2 in 25 ms with none, arm 3 in 1 ms but fails 9
// requests in 10. Costs are 10 ms × 3 / 1 = 30 ms, 25 ms × 1 / 1 = 25 ms,
// and arm 3 is skipped (p ≈ 0.1 < 0.5; were it not, its cost would be
// 1 ms / 0.1 = 10 ms): arm 2 gets the request, being idle.
//
// The zero value is ready to use, with a randomly seeded generator;
// NewAdaptive sets the generator. Set the fields before the first call:
// later changes are ignored. An Adaptive is safe for concurrent use and
// must not be copied after first use.
type Adaptive struct {
	// Candidates is how many distinct candidates are drawn at random per
	// choice (Mitzenmacher's d); 0 means 3, values above 8 mean 8. Three
	// rather than two finds an idle, healthy arm more often when a few
	// arms are slow or failing, while no arm is seen by every choice, so
	// none draws every request.
	Candidates int
	// LatencyDecay is the time constant of the latency estimates: a
	// sample's weight is exp(-age/LatencyDecay). 0 means 2s: short enough
	// to follow a backend's load as it changes, long enough to average
	// over the many requests a busy backend answers in that time.
	LatencyDecay time.Duration
	// SuccessDecay is the time constant of the success counts; 0 means
	// 10s. It also sets how often a dead backend is probed: about every
	// SuccessDecay × ln(1 + 1/SuccessPrior), 4s with the defaults.
	SuccessDecay time.Duration
	// MinSuccess is the success rate below which a candidate is passed
	// over, unless no candidate reaches it; 0 means 0.5, a negative value
	// turns skipping off, and values of 1 or more mean 0.99.
	MinSuccess float64
	// SuccessPrior is the number of successes assumed before any outcome,
	// which sets how many failures it takes to distrust an arm (the rate
	// is 1 - failures/(outcomes + SuccessPrior)); 0 or less means 2, so a
	// fresh arm is skipped after its third failure in a row.
	SuccessPrior float64
	// LatencyPrior is the weight, in samples, of the fleet's mean latency
	// in each arm's latency estimate, so that an arm idle for long reads
	// as typical and gets tried again; 0 means 0.25, a negative value
	// means none (an arm then keeps its estimate however long it idles).
	LatencyPrior float64

	c core
}

// NewAdaptive returns an Adaptive drawing from r; nil means a randomly
// seeded generator. r is used only with the Adaptive's lock held.
func NewAdaptive(r *rand.Rand) *Adaptive {
	p := &Adaptive{}
	p.c.setRand(r)
	return p
}

func (p *Adaptive) settings() settings {
	sp := p.SuccessPrior
	if !(sp > 0) { // 0, negative or NaN
		sp = defaultSuccessPrior
	}
	ms := orFloat(p.MinSuccess, 0.5)
	if ms >= 1 {
		ms = 0.99
	}
	return settings{
		d:          orInt(p.Candidates, 3),
		latTau:     orDur(p.LatencyDecay, defaultLatencyDecay),
		succTau:    orDur(p.SuccessDecay, defaultSuccessDecay),
		latPrior:   orFloat(p.LatencyPrior, defaultLatencyPrior),
		succPrior:  sp,
		minSuccess: ms,
		peak:       true,
	}
}

// Choose returns the candidate of lowest cost among Candidates drawn at
// random, skipping those below MinSuccess. If every drawn candidate is
// below it, Choose looks through all of them for healthy ones (a
// comparison per candidate, no arithmetic) and draws again among those.
func (p *Adaptive) Choose(candidates []int, now time.Time) int {
	c := &p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.start(now, p.settings)
	var pick int
	switch len(candidates) {
	case 0:
		return -1
	case 1:
		pick = candidates[0]
	default:
		pick = p.choose(candidates, t)
	}
	c.chose(pick, t)
	return pick
}

// choose requires c.mu held.
func (p *Adaptive) choose(cands []int, t int64) int {
	c := &p.c
	var idx [maxCandidates]int
	k := c.sample(len(cands), &idx)
	best, bestCost := -1, math.Inf(1)         // among healthy candidates
	fallback, fallbackCost := -1, math.Inf(1) // among all
	for _, i := range idx[:k] {
		a := c.arm(cands[i], t)
		cost := c.cost(a, t)
		if cost < fallbackCost {
			fallback, fallbackCost = cands[i], cost
		}
		if c.healthy(a, t) && cost < bestCost {
			best, bestCost = cands[i], cost
		}
	}
	if best >= 0 {
		return best
	}
	if k < len(cands) {
		if h := p.healthyCandidate(cands, t); h >= 0 {
			return h
		}
	}
	return fallback
}

// healthyCandidate returns the lowest-cost candidate among Candidates
// drawn from the healthy ones (by reservoir sampling, in one pass), or -1
// if none is healthy. Requires c.mu held.
func (p *Adaptive) healthyCandidate(cands []int, t int64) int {
	c := &p.c
	var res [maxCandidates]int
	k := 0
	for _, id := range cands {
		if !c.healthy(c.arm(id, t), t) {
			continue
		}
		if k < c.set.d {
			res[k] = id
		} else if j := c.rng.IntN(k + 1); j < c.set.d {
			res[j] = id
		}
		k++
	}
	best, bestCost := -1, math.Inf(1)
	for _, id := range res[:min(k, c.set.d)] {
		if cost := c.cost(c.arm(id, t), t); cost < bestCost {
			best, bestCost = id, cost
		}
	}
	return best
}

// Observe records the outcome of a request to arm.
func (p *Adaptive) Observe(arm int, o Outcome, now time.Time) {
	c := &p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.start(now, p.settings)
	c.observe(arm, o, t, o.Failed)
}

// Report appends the arms' estimates; Score is the cost Choose ranks by,
// in seconds.
func (p *Adaptive) Report(now time.Time, dst []ArmReport) []ArmReport {
	c := &p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.start(now, p.settings)
	return c.report(t, dst, func(a *arm) float64 { return c.cost(a, t) }, nil)
}

var (
	_ Bandit   = (*Adaptive)(nil)
	_ Reporter = (*Adaptive)(nil)
)
