package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// Arrivals describes the arrival process of requests. The zero value is a
// Poisson process.
//
// With BurstRatio > 1 it is a two-state Markov-modulated Poisson process
// (MMPP): the process alternates between a calm state and a burst state,
// staying in each for an exponentially distributed time (means CalmMean
// and BurstMean), and arrivals are Poisson at a rate BurstRatio times
// higher in the burst state than in the calm one. The two rates are set
// so that the long-run mean rate is the rate asked for: with calm rate x,
// the mean is x·(CalmMean + BurstRatio·BurstMean)/(CalmMean + BurstMean).
//
// For example BurstRatio 2, BurstMean 100ms, CalmMean 400ms at a mean of
// 1000/s give a calm rate of 1000·500/600 ≈ 833/s and a burst rate of
// ≈ 1667/s, one fifth of the time.
type Arrivals struct {
	// BurstRatio is the burst rate over the calm rate; 0 or 1 means
	// Poisson.
	BurstRatio float64
	// BurstMean and CalmMean are the mean dwell times in each state;
	// required when BurstRatio > 1.
	BurstMean, CalmMean time.Duration
}

// Bursty reports whether a is an MMPP rather than a Poisson process.
func (a Arrivals) Bursty() bool { return a.BurstRatio > 1 }

// rates returns the calm and burst arrival rates, per second, that give
// the mean rate.
func (a Arrivals) rates(mean float64) (calm, burst float64) {
	if !a.Bursty() {
		return mean, mean
	}
	c, b := a.CalmMean.Seconds(), a.BurstMean.Seconds()
	calm = mean * (c + b) / (c + a.BurstRatio*b)
	return calm, calm * a.BurstRatio
}

// generate appends to dst the arrival times in [0, d) of a process with
// mean rate rate (per second), drawing from r, and returns it. The state
// of an MMPP starts at random, with the stationary probabilities.
func (a Arrivals) generate(rate float64, d time.Duration, r *rand.Rand, dst []time.Duration) []time.Duration {
	if rate <= 0 || d <= 0 {
		return dst
	}
	calm, burst := a.rates(rate)
	end := d.Seconds()
	// The process is memoryless, so at a state switch the next arrival
	// is simply redrawn at the new rate. Every step either adds an
	// arrival or switches state; the bound is far above the expected
	// number of steps.
	maxSteps := int(10*rate*end) + 10000
	t := 0.0
	if !a.Bursty() {
		for i := 0; i < maxSteps; i++ {
			t += r.ExpFloat64() / rate
			if t >= end {
				break
			}
			dst = append(dst, secs(t))
		}
		return dst
	}
	c, b := a.CalmMean.Seconds(), a.BurstMean.Seconds()
	inBurst := r.Float64() < b/(b+c)
	switchAt := func(now float64, burst bool) float64 {
		if burst {
			return now + r.ExpFloat64()*b
		}
		return now + r.ExpFloat64()*c
	}
	next := switchAt(0, inBurst)
	for i := 0; i < maxSteps && t < end; i++ {
		lam := calm
		if inBurst {
			lam = burst
		}
		x := t + r.ExpFloat64()/lam
		if x >= next {
			t = next
			inBurst = !inBurst
			next = switchAt(t, inBurst)
			continue
		}
		t = x
		if t < end {
			dst = append(dst, secs(t))
		}
	}
	return dst
}

// secs converts seconds to a Duration, rounding to the nanosecond.
func secs(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }
