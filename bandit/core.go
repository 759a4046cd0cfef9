package bandit

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

const (
	// maxCandidates bounds the candidates a policy samples per choice.
	maxCandidates = 16
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
	defaultCandidates           = 10
	defaultAdaptiveLatencyDecay = time.Second
	defaultLatencyDecay         = 2 * time.Second
	defaultSuccessDecay         = 10 * time.Second
	defaultLatencyPrior         = 0.25
	defaultSuccessPrior         = 2
	defaultBreakAfter           = 3
	defaultBackoff              = time.Second
	defaultMaxBackoff           = 10 * time.Second
)

// breakOdds is how unlikely a run of failures must be, given the arm's
// failure rate before the run, to open the breaker: an arm failing one
// request in five needs five failures in a row (0.2⁵ ≈ 0.0003), one that
// never failed needs breakAfter.
const breakOdds = 1e-3

// arm is what core knows of one arm.
type arm struct {
	inflight int
	chosen   uint64
	lat      latencyEst
	succ     successEst
	// healthyAt is the first time the success rate reaches the policy's
	// minimum, if no outcome comes first (see successEst.healthyAt).
	healthyAt int64
	// The breaker (see core.breaker): streak counts the failures in a
	// row, the first of them sent at streakFrom; trips counts the times
	// the breaker opened since the last success, and the arm is left
	// alone until openUntil.
	streak     int
	streakFrom int64
	trips      int
	openUntil  int64
	// forgotten: Forget was called with requests in flight; the record
	// goes when the last of them is observed.
	forgotten bool
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
	breakAfter int     // failures in a row that open the breaker; 0: none
	backoff    int64   // how long it first stays open, ns
	maxBackoff int64   // the most it stays open, ns
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

// policy is what a policy adds to core: its settings, and its choice
// among two or more candidates.
type policy interface {
	settings() settings
	// choose returns one of cands (at least two) at policy time t.
	// Requires the core's mu held.
	choose(cands []int, t int64) int
}

// choose is every policy's Choose: it takes the lock, reads the clock,
// answers the trivial cases, asks p otherwise, and counts the pick as in
// flight.
func (c *core) choose(p policy, candidates []int, now time.Time) int {
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

// observeFailures is the Observe of a policy that learns failure from
// o.Failed alone: it takes the lock, reads the clock and records o.
func (c *core) observeFailures(p policy, arm int, o Outcome, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.observe(arm, o, c.start(now, p.settings), o.Failed)
}

// reportCost is the Report of a policy whose Score is the cost of an arm
// (latency estimate x (in flight + 1) over the success rate), in seconds.
func (c *core) reportCost(p policy, now time.Time, dst []ArmReport) []ArmReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.start(now, p.settings)
	return c.report(t, dst, func(a *arm) float64 { return c.cost(a, t) }, nil)
}

// arm returns the record of id, creating it on first sight. A new arm
// starts at the fleet's worst latency estimate (if there is any): at 0 it
// would look fastest and draw a stampede before its first answer.
func (c *core) arm(id int, t int64) *arm {
	if a := c.arms.get(id); a != nil {
		return a
	}
	a := &arm{healthyAt: math.MinInt64, openUntil: math.MinInt64}
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
		if !a.forgotten {
			w = max(w, c.latency(a, t))
		}
	}
	return w
}

// forget is every policy's Forget: it drops id's record now if it has no
// request in flight, else when the last one is observed.
func (c *core) forget(id int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch a := c.arms.get(id); {
	case a == nil:
	case a.inflight == 0:
		c.arms.del(id)
	default:
		a.forgotten = true
	}
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

// available reports whether a may be chosen at t while other candidates
// may: its success rate is at least the minimum, and its breaker is
// closed, or half open (the backoff is over) with no request in flight,
// so that a single request probes it.
func (c *core) available(a *arm, t int64) bool {
	return t >= a.healthyAt && t >= a.openUntil && (a.trips == 0 || a.inflight == 0)
}

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

// draw puts the candidates a choice looks at into out, in random order,
// and returns how many (at least 1, given candidates): d drawn at random,
// less the unavailable ones. If none of those is available, it draws up
// to d among the available candidates instead (a pass over all of them,
// a comparison each); if no candidate is available, it keeps the d drawn,
// so that a policy whose arms all fail still chooses by cost.
func (c *core) draw(cands []int, t int64, out *[maxCandidates]int) int {
	var idx [maxCandidates]int
	k := c.sample(len(cands), &idx)
	m := 0
	for _, i := range idx[:k] {
		if c.available(c.arm(cands[i], t), t) {
			out[m] = cands[i]
			m++
		}
	}
	if m > 0 {
		return m
	}
	if k < len(cands) {
		// Reservoir sampling of d among the available ones, in one pass.
		seen := 0
		for _, id := range cands {
			if !c.available(c.arm(id, t), t) {
				continue
			}
			if seen < k {
				out[seen] = id
			} else if j := c.rng.IntN(seen + 1); j < k {
				out[j] = id
			}
			seen++
		}
		if seen > 0 {
			return min(seen, k)
		}
	}
	for j, i := range idx[:k] {
		out[j] = cands[i]
	}
	return k
}

// cheapest returns the id of lowest cost among ids, the first on a tie.
// The success rate divides the load and is at most 1, so an arm whose
// load alone is no lower than the best cost so far is passed over
// without computing it.
func (c *core) cheapest(ids []int, t int64) int {
	best, bestCost := ids[0], math.Inf(1)
	for _, id := range ids {
		a := c.arm(id, t)
		load := c.load(a, t)
		if load >= bestCost {
			continue
		}
		if cost := load / max(c.success(a, t), minRate); cost < bestCost {
			best, bestCost = id, cost
		}
	}
	return best
}

// chose counts a choice of id.
func (c *core) chose(id int, t int64) {
	a := c.arm(id, t)
	a.inflight++
	a.chosen++
	a.forgotten = false
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
	if a.forgotten {
		if a.inflight == 0 {
			c.arms.del(id)
		}
		return
	}
	if o.Canceled {
		return
	}
	a.succ.add(t, failed, c.set.succTau)
	c.fleetSucc.add(t, failed, c.set.succTau)
	if c.set.minSuccess > 0 {
		a.healthyAt = a.succ.healthyAt(c.set.minSuccess, c.set.succPrior, c.set.succTau)
	}
	c.breaker(a, o, t)
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

// breaker updates a's breaker with an outcome at t. The success rate
// reacts slowly to a backend that starts failing after a long good run:
// with hundreds of recent successes behind it, it takes hundreds of
// failures to fall, and a backend failing fast looks idle meanwhile. The
// breaker reacts within a few: it opens when the arm has failed
// breakAfter times in a row, and that run is unlikely (odds below
// breakOdds) given the arm's failure rate before it, so that a backend
// that fails now and then is not shunned for a chance run. While open,
// the arm is passed over; then a single request probes it. A success
// closes the breaker; a failure opens it again for twice as long, up to
// maxBackoff. Failures that arrive while it is open extend nothing, and
// a success only counts if its request was sent after the run's first
// failure: answers to requests sent before a backend broke must not
// hide that it did.
func (c *core) breaker(a *arm, o Outcome, t int64) {
	sent := t - int64(max(o.Latency, 0))
	if !o.Failed {
		if a.streak == 0 || sent >= a.streakFrom {
			a.streak, a.trips, a.openUntil = 0, 0, math.MinInt64
		}
		return
	}
	if a.streak == 0 {
		a.streakFrom = sent
	}
	a.streak++
	if c.set.breakAfter <= 0 || a.streak < c.set.breakAfter || t < a.openUntil {
		return
	}
	if a.trips == 0 {
		// The failure rate before the run: the run's failures are recent,
		// so they weigh about 1 each in the decayed counts.
		n, f := a.succ.at(t, c.set.succTau)
		s := float64(a.streak)
		q := max(f-s, 0) / (max(n-s, 0) + c.set.succPrior)
		if math.Pow(q, s) > breakOdds {
			return
		}
	}
	b := c.set.backoff // doubled for each trip before, up to maxBackoff
	for i := 0; i < a.trips && b < c.set.maxBackoff; i++ {
		if b > c.set.maxBackoff/2 {
			b = c.set.maxBackoff
		} else {
			b *= 2
		}
	}
	if b > math.MaxInt64-t {
		a.openUntil = math.MaxInt64
	} else {
		a.openUntil = t + b
	}
	a.trips++
}

// report appends the arms' reports at t, scored by score, with success
// rates from success (nil: the core's).
func (c *core) report(t int64, dst []ArmReport, score, success func(*arm) float64) []ArmReport {
	for id, a := range c.arms.all() {
		if a.forgotten {
			continue
		}
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

// orBreak resolves a breaker threshold: 0 means the default, negative
// values none.
func orBreak(v int) int {
	switch {
	case v == 0:
		return defaultBreakAfter
	case v < 0:
		return 0
	}
	return v
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
