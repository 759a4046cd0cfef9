package bandit

import (
	"math"
	"math/rand/v2"
	"time"
)

// SoftmaxName is the name of Softmax.
const SoftmaxName = "softmax"

// DefaultTemperature is Softmax's default temperature.
const DefaultTemperature = 1.0

// Softmax (Boltzmann exploration) draws Candidates distinct candidates at
// random and sends the request to one of them with probability
// proportional to
//
//	exp(−cost / (Temperature × typical))
//
// where cost is the expected completion time latency × (in-flight + 1) /
// success rate and typical the cost of a typical arm (the fleet's mean
// latency × (mean in-flight + 1)). Measuring the temperature in typical
// costs makes it mean the same whatever the latencies: with Temperature
// 1, a candidate costing one typical cost more than another is chosen
// e ≈ 2.7 times less often; lower temperatures are greedier.
//
// The zero value is ready to use, with a randomly seeded generator. Set
// the fields before the first call: later changes are ignored. A Softmax
// is safe for concurrent use and must not be copied after first use.
type Softmax struct {
	// Temperature is the temperature in typical costs; 0 means
	// DefaultTemperature. Negative values mean the default too.
	Temperature float64
	// Candidates is how many distinct candidates are drawn per choice; 0
	// means 2, values above 8 mean 8.
	Candidates int
	// LatencyDecay is the time constant of the latency estimates; 0 means
	// 2s.
	LatencyDecay time.Duration
	// SuccessDecay is the time constant of the success estimates; 0 means
	// 10s.
	SuccessDecay time.Duration

	c    core
	temp float64 // Temperature resolved, guarded by c.mu
}

// NewSoftmax returns a Softmax drawing from r; nil means a randomly
// seeded generator. r is used only with the policy's lock held.
func NewSoftmax(r *rand.Rand) *Softmax {
	p := &Softmax{}
	p.c.setRand(r)
	return p
}

func (p *Softmax) settings() settings {
	p.temp = p.Temperature
	if !(p.temp > 0) || math.IsInf(p.temp, 0) {
		p.temp = DefaultTemperature
	}
	return classicSettings(p.Candidates, p.LatencyDecay, p.SuccessDecay)
}

// Choose draws Candidates candidates and returns one of them with
// probability decreasing exponentially with its cost.
func (p *Softmax) Choose(candidates []int, now time.Time) int {
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
func (p *Softmax) choose(cands []int, t int64) int {
	c := &p.c
	var idx [maxCandidates]int
	var w [maxCandidates]float64
	k := c.sample(len(cands), &idx)
	lowest := math.Inf(1)
	for j, i := range idx[:k] {
		w[j] = c.cost(c.arm(cands[i], t), t)
		lowest = min(lowest, w[j])
	}
	// Weights relative to the cheapest candidate's, which is 1, so that
	// they neither overflow nor all vanish.
	scale := 1 / (p.temp * c.typicalCost())
	sum := 0.0
	for j := range k {
		w[j] = math.Exp((lowest - w[j]) * scale)
		sum += w[j]
	}
	x := c.rng.Float64() * sum
	for j := range k {
		if x -= w[j]; x < 0 {
			return cands[idx[j]]
		}
	}
	return cands[idx[k-1]]
}

// Observe records the outcome of a request to arm.
func (p *Softmax) Observe(arm int, o Outcome, now time.Time) {
	c := &p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.observe(arm, o, c.start(now, p.settings), o.Failed)
}

// Report appends the arms' estimates; Score is the cost Choose weighs, in
// seconds.
func (p *Softmax) Report(now time.Time, dst []ArmReport) []ArmReport {
	c := &p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.start(now, p.settings)
	return c.report(t, dst, func(a *arm) float64 { return c.cost(a, t) }, nil)
}

var (
	_ Bandit   = (*Softmax)(nil)
	_ Reporter = (*Softmax)(nil)
)
