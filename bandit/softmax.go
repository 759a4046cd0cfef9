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
//	exp(−cost / (Temperature × spread))
//
// where cost is the expected completion time latency × (in-flight + 1) /
// success rate and spread the candidates' mean excess cost over the
// cheapest one, divided by their number k. Measuring the temperature in
// the spread of the costs at hand, rather than in absolute costs, makes
// it mean the same whatever the latencies and the load: with Temperature
// 1, a candidate whose cost exceeds the cheapest's by the mean excess is
// chosen e^k times less often (about 22000 times with 10 candidates), one
// that exceeds it by a k-th of that e ≈ 2.7 times less often. So the
// choice concentrates on the few cheapest candidates, and among arms of
// nearly equal cost it spreads the requests; lower temperatures are
// greedier, higher ones closer to uniform. If every candidate costs the
// same, the choice is uniform.
//
// The zero value is ready to use, with a randomly seeded generator. Set
// the fields before the first call: later changes are ignored. A Softmax
// is safe for concurrent use and must not be copied after first use.
type Softmax struct {
	// Temperature is the temperature in units of the candidates' spread;
	// 0 means DefaultTemperature. Negative values mean the default too.
	Temperature float64
	// Candidates is how many distinct candidates are drawn per choice; 0
	// means 10, values above 16 mean 16. Arms whose breaker is open are
	// passed over (see the package documentation).
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
	return p.c.choose(p, candidates, now)
}

// choose requires c.mu held.
func (p *Softmax) choose(cands []int, t int64) int {
	c := &p.c
	var ids [maxCandidates]int
	var w [maxCandidates]float64
	k := c.draw(cands, t, &ids)
	lowest, total := math.Inf(1), 0.0
	for j, id := range ids[:k] {
		w[j] = c.cost(c.arm(id, t), t)
		lowest = min(lowest, w[j])
		total += w[j]
	}
	// The unit of temperature: the candidates' mean excess over the
	// cheapest, shared among them. It is 0 if all cost the same, and ids
	// are in random order.
	unit := (total/float64(k) - lowest) / float64(k)
	if !(unit > 0) || math.IsInf(total, 0) {
		return ids[0]
	}
	// Weights relative to the cheapest candidate's, which is 1, so that
	// they neither overflow nor all vanish.
	scale := 1 / (p.temp * unit)
	sum := 0.0
	for j := range k {
		w[j] = math.Exp((lowest - w[j]) * scale)
		sum += w[j]
	}
	x := c.rng.Float64() * sum
	for j := range k {
		if x -= w[j]; x < 0 {
			return ids[j]
		}
	}
	return ids[k-1]
}

// Observe records the outcome of a request to arm.
func (p *Softmax) Observe(arm int, o Outcome, now time.Time) {
	p.c.observeFailures(p, arm, o, now)
}

// Report appends the arms' estimates; Score is the cost Choose weighs, in
// seconds.
func (p *Softmax) Report(now time.Time, dst []ArmReport) []ArmReport {
	return p.c.reportCost(p, now, dst)
}

// Forget drops what the policy knows of arm (see Forgetter).
func (p *Softmax) Forget(arm int) { p.c.forget(arm) }

var (
	_ Bandit    = (*Softmax)(nil)
	_ Reporter  = (*Softmax)(nil)
	_ Forgetter = (*Softmax)(nil)
)
