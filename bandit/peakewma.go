package bandit

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// PeakEWMAName is the name of PeakEWMA.
const PeakEWMAName = "peak_ewma"

// DefaultPeakEWMADecay is PeakEWMA's default time constant, Finagle's.
const DefaultPeakEWMADecay = 10 * time.Second

// peakPenalty is the load, in seconds, of an arm with no latency yet and a
// request in flight: Finagle's Long.MaxValue >> 16 nanoseconds.
const peakPenalty = float64(math.MaxInt64>>16) / 1e9

// PeakEWMA is the power of two choices with Finagle's peak-EWMA load
// (https://github.com/twitter/finagle/blob/develop/finagle-core/src/main/scala/com/twitter/finagle/loadbalancer/PeakEwma.scala),
// also Linkerd's: it draws two distinct candidates at random and sends the
// request to the one with the lower
//
//	cost × (pending + 1)
//
// cost being a moving average of the arm's latency that is sensitive to
// peaks: a sample above it replaces it; otherwise, with w = exp(−Δt/Decay)
// and Δt the time since cost was last updated, cost becomes cost × w +
// sample × (1 − w). Reading a load decays cost toward 0 the same way (an
// update with a sample of 0), so an arm left alone grows attractive again.
// Every outcome but a canceled one feeds its latency, failures included.
//
// An arm never observed has cost 0 (or DefaultRTT): its load is 0 while
// idle, so it is tried at once, and a huge penalty while that first
// request is in flight, so it is tried once at a time until it answers.
// On a tie the second candidate drawn wins; with one candidate there is
// no draw. These are Finagle's rules, kept as they are so that PeakEWMA
// can serve as the reference the other policies are measured against.
// Unlike them it has no notion of failure: a backend that answers errors
// quickly looks fast and draws traffic (the success rate in Report is for
// display only).
//
// The zero value is ready to use, with a randomly seeded generator. Set
// the fields before the first call: later changes are ignored. A PeakEWMA
// is safe for concurrent use and must not be copied after first use.
type PeakEWMA struct {
	// Decay is the time constant of cost; 0 means DefaultPeakEWMADecay.
	Decay time.Duration
	// DefaultRTT is the cost of an arm never observed, decaying from when
	// the arm is first seen, as in tower and Linkerd 2 (which use 30ms).
	// 0 means Finagle's rule above.
	DefaultRTT time.Duration

	mu    sync.Mutex // guards everything below, rng included
	rng   *rand.Rand
	ready bool
	epoch time.Time
	tau   float64 // Decay in nanoseconds
	rtt0  float64 // DefaultRTT in seconds
	arms  table[peakArm]
}

type peakArm struct {
	cost    float64 // seconds, as of stamp
	stamp   int64
	pending int
	chosen  uint64
	succ    successEst // for Report only
	// forgotten: Forget was called with requests pending; the record
	// goes when the last of them is observed.
	forgotten bool
}

// DefaultPeakEWMARTT is the starting cost NewPeakEWMA gives arms never
// observed, as tower and Linkerd 2 do.
const DefaultPeakEWMARTT = 30 * time.Millisecond

// NewPeakEWMA returns a PeakEWMA drawing from r, with DefaultRTT set to
// DefaultPeakEWMARTT; nil means a randomly seeded generator. r is used
// only with the policy's lock held.
func NewPeakEWMA(r *rand.Rand) *PeakEWMA {
	if r == nil {
		r = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &PeakEWMA{rng: r, DefaultRTT: DefaultPeakEWMARTT}
}

// start requires mu held.
func (p *PeakEWMA) start(now time.Time) int64 {
	if !p.ready {
		p.ready = true
		p.epoch = now
		p.tau = orDur(p.Decay, DefaultPeakEWMADecay)
		p.rtt0 = seconds(p.DefaultRTT)
		if p.rng == nil {
			p.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		}
	}
	return int64(now.Sub(p.epoch))
}

// arm returns id's record, creating it on first sight. Requires mu held.
func (p *PeakEWMA) arm(id int, t int64) *peakArm {
	if a := p.arms.get(id); a != nil {
		return a
	}
	a := &peakArm{cost: p.rtt0, stamp: t}
	p.arms.put(id, a)
	return a
}

// update folds a latency sample into a's cost at t. Requires mu held.
func (p *PeakEWMA) update(a *peakArm, t int64, rtt float64) {
	w := decay(t-a.stamp, p.tau)
	if rtt > a.cost {
		a.cost = rtt
	} else {
		a.cost = a.cost*w + rtt*(1-w)
	}
	a.stamp = max(a.stamp, t)
}

// load returns a's load at t, given its cost at t.
func (a *peakArm) load(cost float64) float64 {
	if cost == 0 && a.pending != 0 {
		return peakPenalty + float64(a.pending)
	}
	return cost * float64(a.pending+1)
}

// Choose returns the less loaded of two distinct candidates drawn at
// random.
func (p *PeakEWMA) Choose(candidates []int, now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.start(now)
	var pick int
	switch n := len(candidates); n {
	case 0:
		return -1
	case 1:
		pick = candidates[0]
	default:
		i := p.rng.IntN(n)
		j := p.rng.IntN(n - 1)
		if j >= i {
			j++
		}
		a, b := p.arm(candidates[i], t), p.arm(candidates[j], t)
		p.update(a, t, 0) // Finagle decays cost on every read
		la := a.load(a.cost)
		p.update(b, t, 0)
		if la < b.load(b.cost) {
			pick = candidates[i]
		} else {
			pick = candidates[j]
		}
	}
	a := p.arm(pick, t)
	a.pending++
	a.chosen++
	a.forgotten = false
	return pick
}

// Observe records the outcome of a request to arm: its latency feeds the
// arm's cost unless it was canceled.
func (p *PeakEWMA) Observe(arm int, o Outcome, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.start(now)
	a := p.arm(arm, t)
	if a.pending > 0 {
		a.pending--
	}
	if a.forgotten {
		if a.pending == 0 {
			p.arms.del(arm)
		}
		return
	}
	if o.Canceled {
		return
	}
	p.update(a, t, seconds(o.Latency))
	a.succ.add(t, o.Failed, float64(defaultSuccessDecay))
}

// Report appends the arms' estimates: Latency is cost, Score the load
// Choose compares, in seconds, and Success an estimate (with the
// defaults of Adaptive) that Choose does not use.
func (p *PeakEWMA) Report(now time.Time, dst []ArmReport) []ArmReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.start(now)
	for id, a := range p.arms.all() {
		if a.forgotten {
			continue
		}
		cost := a.cost * decay(t-a.stamp, p.tau)
		n, f := a.succ.at(t, float64(defaultSuccessDecay))
		dst = append(dst, ArmReport{
			Arm:      id,
			InFlight: a.pending,
			Latency:  duration(cost),
			Success:  successRate(n, f, defaultSuccessPrior),
			Score:    a.load(cost),
			Chosen:   a.chosen,
		})
	}
	return dst
}

// Forget drops what the policy knows of arm (see Forgetter).
func (p *PeakEWMA) Forget(arm int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch a := p.arms.get(arm); {
	case a == nil:
	case a.pending == 0:
		p.arms.del(arm)
	default:
		a.forgotten = true
	}
}

var (
	_ Bandit    = (*PeakEWMA)(nil)
	_ Reporter  = (*PeakEWMA)(nil)
	_ Forgetter = (*PeakEWMA)(nil)
)
