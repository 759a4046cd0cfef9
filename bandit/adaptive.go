package bandit

import (
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
// L is the arm's latency, a time-decayed mean, and p its success rate.
// Requests answered with an error do not feed L, so a backend that fails
// fast does not look fast: its p falls instead, and once p is below
// MinSuccess the arm is passed over while any healthy candidate remains.
// A run of failures opens the arm's breaker (BreakAfter) before p has had
// time to fall. See the package documentation for the estimators and why
// each part is there.
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
	// choice (Mitzenmacher's d); 0 means 10, values above 16 mean 16. The
	// cost counts only this balancer's own requests in flight, so a wide
	// look finds an arm both idle and fast far more often than two or
	// three draws, above all when several balancers share the backends;
	// the in-flight counts keep it from herding.
	Candidates int
	// LatencyDecay is the time constant of the latency estimates: a
	// sample's weight is exp(-age/LatencyDecay). 0 means 1s: short enough
	// to follow a backend's load as it changes and to trust a recovered
	// backend again within a few seconds, long enough to average over the
	// many requests a busy backend answers in that time.
	LatencyDecay time.Duration
	// PeakLatency makes L a peak-EWMA, as in Finagle: a sample above L
	// replaces it at once, and samples below blend in. Off by default: a
	// backend that slows down is left quickly anyway, as its requests pile
	// up in flight and the mean follows within LatencyDecay, while with a
	// noisy service time the peaks make arms look slow at random, which
	// costs tail latency.
	PeakLatency bool
	// SuccessDecay is the time constant of the success counts; 0 means
	// 10s. It also sets how often a dead backend is probed, once its
	// success rate is below MinSuccess: about every SuccessDecay × ln(1 +
	// 1/SuccessPrior), 4s with the defaults.
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
	// BreakAfter is how many failures in a row open an arm's breaker,
	// provided that the arm's failure rate before them makes such a run
	// unlikely (odds below 1 in 1000), so that one that fails now and
	// then is not shunned for a chance run; 0 means 3, a negative value
	// means no breaker. An open breaker passes the arm over for Backoff,
	// then lets a single request through to probe it: a success closes
	// the breaker, a failure opens it again for twice as long, up to
	// MaxBackoff. The success rate alone reacts too slowly to a backend
	// that starts failing after a good run: with hundreds of recent
	// successes, it takes hundreds of failures to fall below MinSuccess.
	BreakAfter int
	// Backoff is how long an open breaker first passes the arm over; 0
	// means 1s.
	Backoff time.Duration
	// MaxBackoff bounds the backoff; 0 means 10s (or Backoff, if more).
	MaxBackoff time.Duration
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
	backoff := orDur(p.Backoff, defaultBackoff)
	return settings{
		d:          orInt(p.Candidates, defaultCandidates),
		latTau:     orDur(p.LatencyDecay, defaultAdaptiveLatencyDecay),
		succTau:    orDur(p.SuccessDecay, defaultSuccessDecay),
		latPrior:   orFloat(p.LatencyPrior, defaultLatencyPrior),
		succPrior:  sp,
		minSuccess: ms,
		peak:       p.PeakLatency,
		breakAfter: orBreak(p.BreakAfter),
		backoff:    int64(backoff),
		maxBackoff: int64(max(orDur(p.MaxBackoff, defaultMaxBackoff), backoff)),
	}
}

// Choose returns the candidate of lowest cost among Candidates drawn at
// random, skipping those below MinSuccess or with an open breaker. If
// every drawn candidate is skipped, Choose looks through all of them for
// the others (a comparison per candidate, no arithmetic) and draws again
// among those; if there are none, it ranks the drawn ones by cost alone.
func (p *Adaptive) Choose(candidates []int, now time.Time) int {
	return p.c.choose(p, candidates, now)
}

// choose requires c.mu held.
func (p *Adaptive) choose(cands []int, t int64) int {
	var ids [maxCandidates]int
	k := p.c.draw(cands, t, &ids)
	return p.c.cheapest(ids[:k], t)
}

// Observe records the outcome of a request to arm.
func (p *Adaptive) Observe(arm int, o Outcome, now time.Time) {
	p.c.observeFailures(p, arm, o, now)
}

// Report appends the arms' estimates; Score is the cost Choose ranks by,
// in seconds.
func (p *Adaptive) Report(now time.Time, dst []ArmReport) []ArmReport {
	return p.c.reportCost(p, now, dst)
}

// Forget drops what the policy knows of arm (see Forgetter).
func (p *Adaptive) Forget(arm int) { p.c.forget(arm) }

var (
	_ Bandit    = (*Adaptive)(nil)
	_ Reporter  = (*Adaptive)(nil)
	_ Forgetter = (*Adaptive)(nil)
)
