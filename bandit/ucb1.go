package bandit

import (
	"math"
	"math/rand/v2"
	"time"
)

// UCB1Name is the name of UCB1.
const UCB1Name = "ucb1"

// DefaultUCBConstant is UCB1's default exploration constant.
const DefaultUCBConstant = 2.0

// UCB1 is the upper-confidence-bound rule (Auer, Cesa-Bianchi and Fischer,
// https://doi.org/10.1023/A:1013689704352) turned to costs: among
// Candidates drawn at random, it sends the request to the one with the
// lowest
//
//	cost − C × typical × sqrt(ln N / n)
//
// where cost is the expected completion time latency × (in-flight + 1) /
// success rate, n is the arm's count of outcomes plus its requests in
// flight, and N the same summed over all arms. The counts decay with time
// (time constant SuccessDecay), so an arm left alone grows a bonus and is
// tried again. typical is the cost of a typical arm (the fleet's mean
// latency × (mean in-flight + 1)), which makes C unitless: with C = 2, an
// arm tried n times out of N has its cost lowered by 2 × sqrt(ln N / n)
// typical costs. Counting requests in flight in n keeps a new arm, whose
// bonus is huge, from drawing more than one request before it answers.
//
// The zero value is ready to use, with a randomly seeded generator. Set
// the fields before the first call: later changes are ignored. A UCB1 is
// safe for concurrent use and must not be copied after first use.
type UCB1 struct {
	// C scales the exploration bonus; 0 means DefaultUCBConstant, a
	// negative value means no bonus (a greedy choice).
	C float64
	// Candidates is how many distinct candidates are drawn per choice; 0
	// means 10, values above 16 mean 16. Arms whose breaker is open are
	// passed over (see the package documentation).
	Candidates int
	// LatencyDecay is the time constant of the latency estimates; 0 means
	// 2s.
	LatencyDecay time.Duration
	// SuccessDecay is the time constant of the success estimates and of
	// the counts n and N; 0 means 10s.
	SuccessDecay time.Duration

	c   core
	ucb float64 // C resolved, guarded by c.mu
}

// NewUCB1 returns a UCB1 drawing from r; nil means a randomly seeded
// generator. r is used only with the policy's lock held.
func NewUCB1(r *rand.Rand) *UCB1 {
	p := &UCB1{}
	p.c.setRand(r)
	return p
}

func (p *UCB1) settings() settings {
	p.ucb = orFloat(p.C, DefaultUCBConstant)
	return classicSettings(p.Candidates, p.LatencyDecay, p.SuccessDecay)
}

// minCount floors n in the bonus, so that an arm never tried gets a huge
// but finite bonus (and Report a finite Score).
const minCount = 1e-3

// score returns a's index at t given ln N and the typical cost; lower is
// better. Requires c.mu held.
func (p *UCB1) score(a *arm, t int64, logN, typical float64) float64 {
	c := &p.c
	n, _ := a.succ.at(t, c.set.succTau)
	n = max(n+float64(a.inflight), minCount)
	return c.cost(a, t) - p.ucb*typical*math.Sqrt(logN/n)
}

// logN returns ln(1 + N) at t. Requires c.mu held.
func (p *UCB1) logN(t int64) float64 {
	n, _ := p.c.fleetSucc.at(t, p.c.set.succTau)
	return math.Log1p(n + float64(p.c.inflight))
}

// Choose returns the candidate of lowest index among Candidates drawn at
// random.
func (p *UCB1) Choose(candidates []int, now time.Time) int {
	return p.c.choose(p, candidates, now)
}

// choose requires c.mu held.
func (p *UCB1) choose(cands []int, t int64) int {
	c := &p.c
	var ids [maxCandidates]int
	k := c.draw(cands, t, &ids)
	logN, typical := p.logN(t), c.typicalCost()
	best := math.Inf(1)
	pick := ids[0]
	for _, id := range ids[:k] {
		if s := p.score(c.arm(id, t), t, logN, typical); s < best {
			pick, best = id, s
		}
	}
	return pick
}

// Observe records the outcome of a request to arm.
func (p *UCB1) Observe(arm int, o Outcome, now time.Time) {
	p.c.observeFailures(p, arm, o, now)
}

// Report appends the arms' estimates; Score is the index Choose ranks by,
// cost minus bonus, in seconds (it may be negative).
func (p *UCB1) Report(now time.Time, dst []ArmReport) []ArmReport {
	c := &p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.start(now, p.settings)
	logN, typical := p.logN(t), c.typicalCost()
	return c.report(t, dst, func(a *arm) float64 { return p.score(a, t, logN, typical) }, nil)
}

// Forget drops what the policy knows of arm (see Forgetter).
func (p *UCB1) Forget(arm int) { p.c.forget(arm) }

var (
	_ Bandit    = (*UCB1)(nil)
	_ Reporter  = (*UCB1)(nil)
	_ Forgetter = (*UCB1)(nil)
)
