package bandit

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

const (
	// maxCandidates bounds the candidates a policy samples per choice.
	maxCandidates = 8
	// minLatency floors latency estimates in costs, so that arms measured
	// at 0 (a fake clock, a cache) still compare by in-flight count.
	minLatency = 1e-6
	// minRate floors success rates in costs, keeping them finite.
	minRate = 1e-9
	// seedWeight is the weight, in samples, of the latency a new arm
	// starts with: enough that it reads as the fleet's worst for a few
	// time constants, and nothing once the arm answers (its first sample
	// replaces the seed).
	seedWeight = 4
)

// Defaults shared by the policies built on core.
const (
	defaultLatencyDecay = 2 * time.Second
	defaultSuccessDecay = 10 * time.Second
	defaultLatencyPrior = 0.25
	defaultSuccessPrior = 2
)

// arm is what core knows of one arm.
type arm struct {
	inflight int
	chosen   uint64
	lat      latencyEst
	succ     successEst
	// healthyAt is the first time the success rate reaches the policy's
	// minimum, if no outcome comes first (see successEst.healthyAt).
	healthyAt int64
}

// settings are a policy's tuning fields resolved to values.
type settings struct {
	d          int     // candidates sampled per choice
	latTau     float64 // latency decay, ns
	succTau    float64 // success decay, ns
	latPrior   float64 // pseudo-samples of the fleet latency; 0: none
	succPrior  float64 // pseudo-successes
	minSuccess float64 // the health threshold; 0: none
	peak       bool    // peak-EWMA latency instead of a plain mean
}

// core is the state shared by the policies that rank arms by expected
// completion time: per-arm latency and success estimates decayed by
// elapsed time, in-flight counts, fleet-wide figures, and the sampling of
// candidates. Its methods require mu held.
type core struct {
	mu sync.Mutex // guards everything below, rng included

	rng   *rand.Rand
	set   settings
	ready bool
	epoch time.Time

	arms      table[arm]
	fleet     latencyEst // every latency sample, a plain mean
	fleetSucc successEst // every outcome
	inflight  int        // the sum of the arms' in-flight counts
}

// setRand sets the generator; nil means a randomly seeded one.
func (c *core) setRand(r *rand.Rand) {
	if r == nil {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	c.rng = r
}

// start makes the policy ready on first use, with the settings that set
// returns, and converts now to the policy's clock. Requires mu held.
func (c *core) start(now time.Time, set func() settings) int64 {
	if !c.ready {
		c.ready = true
		c.set = set()
		c.epoch = now
		if c.rng == nil {
			c.setRand(nil)
		}
	}
	return int64(now.Sub(c.epoch))
}

// arm returns the record of id, creating it on first sight. A new arm
// starts at the fleet's worst latency estimate (if there is any): at 0 it
// would look fastest and draw a stampede before its first answer.
func (c *core) arm(id int, t int64) *arm {
	if a := c.arms.get(id); a != nil {
		return a
	}
	a := &arm{healthyAt: math.MinInt64}
	if c.fleet.has {
		a.lat.seed(t, c.worst(t), seedWeight)
	}
	c.arms.put(id, a)
	return a
}

// worst returns the highest latency estimate at t.
func (c *core) worst(t int64) float64 {
	w := 0.0
	for _, a := range c.arms.each() {
		w = max(w, c.latency(a, t))
	}
	return w
}

// latency returns a's latency estimate at t, 0 if it has none.
func (c *core) latency(a *arm, t int64) float64 {
	return a.lat.at(t, c.set.latTau, c.fleet.v, c.set.latPrior)
}

// success returns a's success rate at t.
func (c *core) success(a *arm, t int64) float64 {
	n, f := a.succ.at(t, c.set.succTau)
	return successRate(n, f, c.set.succPrior)
}

// healthy reports whether a's success rate at t is at least the minimum.
func (c *core) healthy(a *arm, t int64) bool { return t >= a.healthyAt }

// cost returns a's expected completion time at t, in seconds: the time a
// request would take there, latency × (in-flight + 1), divided by the
// success rate (the expected number of tries).
func (c *core) cost(a *arm, t int64) float64 {
	return c.load(a, t) / max(c.success(a, t), minRate)
}

// load returns latency × (in-flight + 1), without the success rate.
func (c *core) load(a *arm, t int64) float64 {
	return max(c.latency(a, t), minLatency) * float64(a.inflight+1)
}

// typicalCost returns the cost of a typical arm: the fleet's mean latency
// times the mean in-flight count plus one. Policies scale their knobs by
// it, so that the knobs mean the same whatever the latencies.
func (c *core) typicalCost() float64 {
	l := max(c.fleet.v, minLatency)
	if c.arms.n == 0 {
		return l
	}
	return l * (float64(c.inflight)/float64(c.arms.n) + 1)
}

// sample puts min(d, n) distinct indices into [0, n), drawn uniformly, into
// idx in random order, and returns how many. Ties between candidates are
// then broken at random by keeping the first.
func (c *core) sample(n int, idx *[maxCandidates]int) int {
	k := min(c.set.d, n)
	var sorted [maxCandidates]int
	for j := range k {
		// The x-th index not drawn yet: step over the drawn ones, in
		// increasing order.
		x := c.rng.IntN(n - j)
		p := 0
		for p < j && sorted[p] <= x {
			x++
			p++
		}
		copy(sorted[p+1:j+1], sorted[p:j])
		sorted[p] = x
		idx[j] = x
	}
	return k
}

// lowestCost returns the candidate of lowest cost among a sample of d.
func (c *core) lowestCost(cands []int, t int64) int {
	var idx [maxCandidates]int
	k := c.sample(len(cands), &idx)
	best, bestCost := cands[idx[0]], math.Inf(1)
	for _, i := range idx[:k] {
		if cost := c.cost(c.arm(cands[i], t), t); cost < bestCost {
			best, bestCost = cands[i], cost
		}
	}
	return best
}

// chose counts a choice of id.
func (c *core) chose(id int, t int64) {
	a := c.arm(id, t)
	a.inflight++
	a.chosen++
	c.inflight++
}

// observe ends a request to id. A canceled outcome only ends it; others
// count as a failure if failed, and feed the latency estimates unless
// they failed without timing out.
func (c *core) observe(id int, o Outcome, t int64, failed bool) {
	a := c.arm(id, t)
	if a.inflight > 0 {
		a.inflight--
		c.inflight--
	}
	if o.Canceled {
		return
	}
	a.succ.add(t, failed, c.set.succTau)
	c.fleetSucc.add(t, failed, c.set.succTau)
	if c.set.minSuccess > 0 {
		a.healthyAt = a.succ.healthyAt(c.set.minSuccess, c.set.succPrior, c.set.succTau)
	}
	if o.Failed && !o.TimedOut {
		return
	}
	x := seconds(o.Latency)
	first := !c.fleet.has
	a.lat.add(t, x, c.set.latTau, c.set.peak)
	c.fleet.add(t, x, c.set.latTau, false)
	if first {
		// The fleet's first latency: the other arms start from it.
		for _, b := range c.arms.each() {
			if !b.lat.has {
				b.lat.seed(t, x, seedWeight)
			}
		}
	}
}

// report appends the arms' reports at t, scored by score, with success
// rates from success (nil: the core's).
func (c *core) report(t int64, dst []ArmReport, score, success func(*arm) float64) []ArmReport {
	for id, a := range c.arms.all() {
		var s float64
		if success != nil {
			s = success(a)
		} else {
			s = c.success(a, t)
		}
		dst = append(dst, ArmReport{
			Arm:      id,
			InFlight: a.inflight,
			Latency:  duration(c.latency(a, t)),
			Success:  s,
			Score:    score(a),
			Chosen:   a.chosen,
		})
	}
	return dst
}

// Helpers resolving tuning fields: zero means the default.

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return min(v, maxCandidates)
}

func orDur(v, def time.Duration) float64 {
	if v <= 0 {
		v = def
	}
	return float64(v)
}

// orFloat returns def for 0 or NaN, 0 for negative values, else v.
func orFloat(v, def float64) float64 {
	switch {
	case v == 0 || math.IsNaN(v):
		return def
	case v < 0:
		return 0
	}
	return v
}
