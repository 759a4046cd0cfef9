package bandit

import (
	"math"
	"time"
)

// Times inside a policy are nanoseconds since its epoch (the first time it
// was given), latencies are seconds, and time constants (tau) are
// nanoseconds as float64.

// decay returns exp(-dt/tau), the weight left after dt nanoseconds to what
// was known before. Time going backwards (dt < 0, as when concurrent
// callers pass slightly different clocks) decays nothing.
func decay(dt int64, tau float64) float64 {
	if dt <= 0 {
		return 1
	}
	return math.Exp(-float64(dt) / tau)
}

func seconds(d time.Duration) float64 { return max(d.Seconds(), 0) }

func duration(s float64) time.Duration {
	if s >= float64(math.MaxInt64)/1e9 {
		return math.MaxInt64
	}
	return time.Duration(s * 1e9)
}

// latencyEst is a time-decayed mean of latency samples. Each sample weighs
// 1 when it arrives and exp(-age/tau) later, so the weight n behind the
// estimate is a decayed count: about rate × tau for an arm in steady use,
// and near 0 for an arm idle for a few tau, whose next sample then
// replaces the estimate almost entirely. Time alone does not move the
// estimate, only its weight; at blends in a prior (see there).
//
// In peak mode (Finagle's peak-EWMA, made count-based), a sample above the
// estimate replaces it at once, and samples below blend in as usual, so
// the estimate rises on a spike and comes back down over about tau.
type latencyEst struct {
	v      float64 // the estimate, in seconds
	n      float64 // the decayed count of samples behind v, as of t
	t      int64   // when n was last decayed
	has    bool    // v is set (sampled or seeded)
	seeded bool    // v was seeded, not sampled: the first sample replaces it
}

func (l *latencyEst) add(t int64, x, tau float64, peak bool) {
	var n float64
	if l.has && !l.seeded {
		n = l.n * decay(t-l.t, tau)
	}
	switch {
	case n == 0, peak && x > l.v:
		l.v = x
	default:
		l.v += (x - l.v) / (n + 1)
	}
	l.n = n + 1
	if !l.has || t > l.t {
		l.t = t
	}
	l.has, l.seeded = true, false
}

// seed sets an estimate that no sample gave, weighing n samples.
func (l *latencyEst) seed(t int64, v, n float64) {
	*l = latencyEst{v: v, n: n, t: t, has: true, seeded: true}
}

// at returns the estimate at t, shrunk toward fleet by prior pseudo-samples:
// (v·n + fleet·prior) / (n + prior), with n decayed to t. An arm in use
// keeps its own estimate; one left idle for long drifts to the fleet's
// typical latency, so that a backend shunned after a slow spell is tried
// again instead of being shunned for ever. It is 0 if there is no estimate.
func (l *latencyEst) at(t int64, tau, fleet, prior float64) float64 {
	if !l.has {
		return 0
	}
	if prior <= 0 || fleet <= 0 {
		return l.v
	}
	n := l.n * decay(t-l.t, tau)
	return (l.v*n + fleet*prior) / (n + prior)
}

// successEst holds time-decayed counts of outcomes and of failures.
type successEst struct {
	n, f float64 // decayed counts of outcomes and failures, as of t
	t    int64
}

func (s *successEst) add(t int64, failed bool, tau float64) {
	if t > s.t {
		w := decay(t-s.t, tau)
		s.n *= w
		s.f *= w
		s.t = t
	}
	s.n++
	if failed {
		s.f++
	}
}

// at returns the counts decayed to t.
func (s *successEst) at(t int64, tau float64) (n, f float64) {
	w := decay(t-s.t, tau)
	return s.n * w, s.f * w
}

// successRate is the estimated probability of success given decayed counts
// and prior pseudo-successes: 1 - f/(n+prior). It is 1 with no outcomes
// and relaxes back to 1 as the counts decay, however bad they were.
func successRate(n, f, prior float64) float64 { return 1 - f/(n+prior) }

// healthyAt returns the first time, with no new outcome, at which the
// success rate is at least m: the rate is 1 - f·w/(n·w + prior) with w the
// decay, which is at least m once w·(f - (1-m)·n) <= (1-m)·prior. The
// answer lets a policy test health with a comparison instead of an exp.
func (s *successEst) healthyAt(m, prior, tau float64) int64 {
	q := 1 - m
	excess := s.f - q*s.n
	if excess <= q*prior {
		return math.MinInt64
	}
	dt := tau * math.Log(excess/(q*prior))
	if dt >= float64(math.MaxInt64)-float64(s.t) {
		return math.MaxInt64
	}
	return s.t + int64(math.Ceil(dt))
}
