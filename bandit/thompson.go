package bandit

import (
	"math"
	"math/rand/v2"
	"time"
)

// ThompsonSamplingName is the name of ThompsonSampling.
const ThompsonSamplingName = "thompson_sampling"

const (
	// DefaultThompsonThreshold is ThompsonSampling's default absolute
	// latency threshold.
	DefaultThompsonThreshold = 100 * time.Millisecond
	// DefaultRelativeThreshold is ThompsonSampling's default threshold
	// relative to the fleet's mean latency.
	DefaultRelativeThreshold = 4.0
)

// ThompsonSampling keeps a Beta(α, β) belief about each arm's probability
// of a good answer, with α = 2 + good answers and β = 1 + bad ones, the
// counts decaying with time (time constant SuccessDecay) so that the
// belief of an arm left alone returns to the prior Beta(2, 1): mildly
// optimistic (mean 2/3), so that new and forgotten arms get tried. An answer is
// good if the request did not fail and took at most
//
//	max(Threshold, RelativeThreshold × the fleet's mean latency)
//
// so that the threshold follows the fleet: a fixed 100 ms would call every
// answer of a 300 ms service bad, and every answer of a 2 ms one good.
//
// For each request it draws Candidates distinct candidates at random,
// draws a probability p from each one's belief, and sends the request to
// the lowest latency × (in-flight + 1) / p: an expected completion time
// under that draw. Uncertain arms draw varied p and so get tried now and
// then; arms known to be bad draw small p and are left alone.
//
// The zero value is ready to use, with a randomly seeded generator. Set
// the fields before the first call: later changes are ignored. A
// ThompsonSampling is safe for concurrent use and must not be copied after
// first use.
type ThompsonSampling struct {
	// Threshold is the latency under which an answer is good, whatever
	// the fleet; 0 means DefaultThompsonThreshold.
	Threshold time.Duration
	// RelativeThreshold, times the fleet's mean latency, is the latency
	// under which an answer is good when that exceeds Threshold; 0 means
	// DefaultRelativeThreshold, a negative value turns it off.
	RelativeThreshold float64
	// Candidates is how many distinct candidates are drawn per choice; 0
	// means 10, values above 16 mean 16. Arms whose breaker is open are
	// passed over (see the package documentation).
	Candidates int
	// LatencyDecay is the time constant of the latency estimates; 0 means
	// 2s.
	LatencyDecay time.Duration
	// SuccessDecay is the time constant of the good and bad counts; 0
	// means 10s.
	SuccessDecay time.Duration

	c        core
	thr, rel float64 // the thresholds resolved, guarded by c.mu
}

// NewThompsonSampling returns a ThompsonSampling drawing from r; nil
// means a randomly seeded generator. r is used only with the policy's
// lock held.
func NewThompsonSampling(r *rand.Rand) *ThompsonSampling {
	p := &ThompsonSampling{}
	p.c.setRand(r)
	return p
}

func (p *ThompsonSampling) settings() settings {
	p.thr = seconds(p.Threshold)
	if p.thr == 0 {
		p.thr = seconds(DefaultThompsonThreshold)
	}
	p.rel = orFloat(p.RelativeThreshold, DefaultRelativeThreshold)
	return classicSettings(p.Candidates, p.LatencyDecay, p.SuccessDecay)
}

// The Beta prior, in good and bad answers.
const (
	priorGood = 2
	priorBad  = 1
)

// belief returns a's α and β at t. Requires c.mu held.
func (p *ThompsonSampling) belief(a *arm, t int64) (alpha, beta float64) {
	n, f := a.succ.at(t, p.c.set.succTau)
	return priorGood + max(n-f, 0), priorBad + f
}

// Choose draws Candidates candidates, a success probability for each, and
// returns the one with the lowest expected completion time under the draw.
func (p *ThompsonSampling) Choose(candidates []int, now time.Time) int {
	return p.c.choose(p, candidates, now)
}

// choose requires c.mu held.
func (p *ThompsonSampling) choose(cands []int, t int64) int {
	c := &p.c
	var ids [maxCandidates]int
	k := c.draw(cands, t, &ids)
	best := math.Inf(1)
	pick := ids[0]
	for _, id := range ids[:k] {
		a := c.arm(id, t)
		load := c.load(a, t)
		if load >= best {
			continue // no draw of p, at most 1, makes it cheaper
		}
		alpha, beta := p.belief(a, t)
		prob := betaSample(c.rng, alpha, beta)
		if cost := load / max(prob, minRate); cost < best {
			pick, best = id, cost
		}
	}
	return pick
}

// Observe records the outcome of a request to arm: bad if it failed or
// took longer than the threshold.
func (p *ThompsonSampling) Observe(arm int, o Outcome, now time.Time) {
	c := &p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.start(now, p.settings)
	bad := o.Failed || seconds(o.Latency) > max(p.thr, p.rel*c.fleet.v)
	c.observe(arm, o, t, bad)
}

// Report appends the arms' estimates. Success is the mean of the belief
// (the probability of a good answer, which also asks for speed), and
// Score the expected completion time under it, in seconds.
func (p *ThompsonSampling) Report(now time.Time, dst []ArmReport) []ArmReport {
	c := &p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.start(now, p.settings)
	mean := func(a *arm) float64 {
		alpha, beta := p.belief(a, t)
		return alpha / (alpha + beta)
	}
	return c.report(t, dst, func(a *arm) float64 { return c.load(a, t) / mean(a) }, mean)
}

// betaSample draws from Beta(a, b), a and b positive, as X/(X+Y) with X
// and Y drawn from Gamma(a) and Gamma(b).
func betaSample(r *rand.Rand, a, b float64) float64 {
	x := gammaSample(r, a)
	y := gammaSample(r, b)
	if x+y == 0 {
		return a / (a + b)
	}
	return x / (x + y)
}

// gammaSample draws from Gamma(a, 1), a positive, by Marsaglia and Tsang's
// method (https://doi.org/10.1145/358407.358414), with Gamma(a) =
// Gamma(a+1) × U^(1/a) for a < 1.
func gammaSample(r *rand.Rand, a float64) float64 {
	boost := 1.0
	if a < 1 {
		boost = math.Pow(r.Float64(), 1/a)
		a++
	}
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v * boost
		}
	}
}

// Forget drops what the policy knows of arm (see Forgetter).
func (p *ThompsonSampling) Forget(arm int) { p.c.forget(arm) }

var (
	_ Bandit    = (*ThompsonSampling)(nil)
	_ Reporter  = (*ThompsonSampling)(nil)
	_ Forgetter = (*ThompsonSampling)(nil)
)
