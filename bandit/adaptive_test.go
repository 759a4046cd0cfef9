package bandit_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
)

const ms = time.Millisecond

func newAdaptive() *bandit.Adaptive { return bandit.NewAdaptive(rand.New(rand.NewPCG(1, 2))) }

// feed sends n requests to arm, one every gap, each answered as o, and
// returns the clock after them.
func feed(p bandit.Bandit, now time.Time, arm, n int, gap time.Duration, o bandit.Outcome) time.Time {
	for range n {
		p.Choose([]int{arm}, now)
		now = now.Add(gap)
		p.Observe(arm, o, now)
	}
	return now
}

func ok(lat time.Duration) bandit.Outcome { return bandit.Outcome{Latency: lat} }

func near(got, want time.Duration, tol float64) bool {
	return math.Abs(float64(got-want)) <= tol*float64(want)
}

// armOf returns arm's report from p at now.
func armOf(p bandit.Reporter, arm int, now time.Time) bandit.ArmReport {
	for _, r := range p.Report(now, nil) {
		if r.Arm == arm {
			return r
		}
	}
	return bandit.ArmReport{Arm: -1}
}

// TestAdaptiveMean checks the default latency estimate, a time-decayed
// mean: one slow answer among many moves it a little, a run of them moves
// it within a time constant.
func TestAdaptiveMean(t *testing.T) {
	p := newAdaptive()
	now := feed(p, epoch, 0, 1000, ms, ok(10*ms))
	if got := armOf(p, 0, now).Latency; !near(got, 10*ms, 0.01) {
		t.Fatalf("Latency after 10ms answers = %v, want 10ms", got)
	}
	// About 1000 answers weigh in the last time constant (1s).
	now = feed(p, now, 0, 1, ms, ok(100*ms))
	if got := armOf(p, 0, now).Latency; got < 10*ms || got > 11*ms {
		t.Errorf("Latency after one 100ms answer = %v, want from 10ms to 11ms", got)
	}
	now = feed(p, now, 0, 1000, ms, ok(100*ms)) // one time constant
	if got := armOf(p, 0, now).Latency; got < 50*ms || got > 80*ms {
		t.Errorf("Latency after 1s of 100ms answers = %v, want from 50ms to 80ms", got)
	}
	now = feed(p, now, 0, 5000, ms, ok(100*ms))
	if got := armOf(p, 0, now).Latency; !near(got, 100*ms, 0.01) {
		t.Errorf("Latency after 6s of 100ms answers = %v, want 100ms", got)
	}
}

// TestAdaptivePeak checks the peak-EWMA of PeakLatency: a sample above the
// estimate replaces it at once, samples below bring it down over about a
// time constant.
func TestAdaptivePeak(t *testing.T) {
	p := newAdaptive()
	p.PeakLatency = true
	p.LatencyDecay = 2 * time.Second
	now := feed(p, epoch, 0, 1000, ms, ok(10*ms))
	if got := armOf(p, 0, now).Latency; !near(got, 10*ms, 0.01) {
		t.Fatalf("Latency after 10ms answers = %v, want 10ms", got)
	}
	now = feed(p, now, 0, 1, ms, ok(100*ms))
	if got := armOf(p, 0, now).Latency; !near(got, 100*ms, 0.01) {
		t.Errorf("Latency after one 100ms answer = %v, want 100ms at once", got)
	}
	now = feed(p, now, 0, 1, ms, ok(10*ms))
	if got := armOf(p, 0, now).Latency; got < 99*ms {
		t.Errorf("Latency after one more 10ms answer = %v, want about 100ms still", got)
	}
	now = feed(p, now, 0, 2000, ms, ok(10*ms)) // one time constant
	if got := armOf(p, 0, now).Latency; got > 50*ms || got < 11*ms {
		t.Errorf("Latency after 2s of 10ms answers = %v, want between 11ms and 50ms", got)
	}
	now = feed(p, now, 0, 10000, ms, ok(10*ms))
	if got := armOf(p, 0, now).Latency; !near(got, 10*ms, 0.01) {
		t.Errorf("Latency after 12s of 10ms answers = %v, want 10ms", got)
	}
}

// TestAdaptiveDecaysByElapsedTime checks that old samples lose weight with
// the time elapsed, not with the number of updates.
func TestAdaptiveDecaysByElapsedTime(t *testing.T) {
	// The same answers, 100 slow then 100 fast, closer or further apart:
	// with decay per update, both estimates would be equal.
	est := func(gap time.Duration) time.Duration {
		p := newAdaptive()
		now := feed(p, epoch, 0, 100, gap, ok(100*ms))
		now = feed(p, now, 0, 100, gap, ok(10*ms))
		return armOf(p, 0, now).Latency
	}
	close, apart := est(ms), est(50*ms)
	if apart > close/2 || apart > 20*ms {
		t.Errorf("Latency with answers 50ms apart = %v, want at most 20ms and half of %v (answers 1ms apart)", apart, close)
	}

	// One fast answer right after many slow ones barely counts; after a
	// long silence it replaces them.
	for _, tc := range []struct {
		name      string
		idle      time.Duration
		low, high time.Duration
	}{
		{"right after", 0, 99 * ms, 100 * ms},
		{"after 30s idle", 30 * time.Second, 10 * ms, 11 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newAdaptive()
			now := feed(p, epoch, 0, 1000, ms, ok(100*ms))
			now = feed(p, now.Add(tc.idle), 0, 1, ms, ok(10*ms))
			if got := armOf(p, 0, now).Latency; got < tc.low || got > tc.high {
				t.Errorf("Latency = %v, want from %v to %v", got, tc.low, tc.high)
			}
		})
	}

	// Failures are forgotten with time alone, without another outcome.
	p := newAdaptive()
	now := feed(p, epoch, 0, 20, ms, bandit.Outcome{Latency: ms, Failed: true})
	if got := armOf(p, 0, now).Success; got > 0.1 {
		t.Errorf("Success after 20 failures = %.3f, want at most 0.1", got)
	}
	if got := armOf(p, 0, now.Add(time.Minute)).Success; got < 0.95 {
		t.Errorf("Success a minute later = %.3f, want at least 0.95", got)
	}
}

// TestAdaptiveNewArm checks that an arm first seen starts at the fleet's
// worst latency, so that it does not look fastest and draw a stampede.
func TestAdaptiveNewArm(t *testing.T) {
	p := newAdaptive()
	now := feed(p, epoch, 0, 500, ms, ok(10*ms))
	now = feed(p, now, 1, 500, ms, ok(40*ms))
	worst := armOf(p, 1, now).Latency

	// A burst of requests, none answered yet, with arm 2 new.
	n := 0
	for range 30 {
		if p.Choose([]int{0, 2}, now) == 2 {
			n++
		}
	}
	if got := armOf(p, 2, now).Latency; got < worst*9/10 {
		t.Errorf("Latency of a new arm = %v, want near the worst, %v", got, worst)
	}
	// Costs even out when arm 0 has 4 times arm 2's requests in flight.
	if n > 10 {
		t.Errorf("new arm got %d of a burst of 30, want at most 10", n)
	}

	// With no latency known anywhere, the fleet's first answer is every
	// arm's starting point.
	p = newAdaptive()
	for _, arm := range []int{0, 1, 2} {
		p.Choose([]int{arm}, epoch)
	}
	p.Observe(0, ok(20*ms), epoch.Add(20*ms))
	for _, arm := range []int{1, 2} {
		if got := armOf(p, arm, epoch.Add(20*ms)).Latency; !near(got, 20*ms, 0.1) {
			t.Errorf("arm %d: Latency after the fleet's first answer = %v, want 20ms", arm, got)
		}
	}
}

// TestAdaptiveSkipsFailing checks the MinSuccess rule: a candidate below it
// is passed over however cheap, unless every candidate is below it.
func TestAdaptiveSkipsFailing(t *testing.T) {
	flaky := func(p bandit.Bandit, now time.Time, arm int, lat time.Duration) time.Time {
		for i := range 100 {
			now = feed(p, now, arm, 1, ms, bandit.Outcome{Latency: lat, Failed: i%10 < 7})
		}
		return now
	}
	choices := func(p bandit.Bandit, cands []int, now time.Time) map[int]int {
		m := make(map[int]int)
		for range 200 {
			arm := p.Choose(cands, now)
			m[arm]++
			p.Observe(arm, bandit.Outcome{Canceled: true}, now)
		}
		return m
	}

	t.Run("one failing", func(t *testing.T) {
		p := newAdaptive()
		now := flaky(p, epoch, 0, ms) // cheap, but fails 70%
		now = feed(p, now, 1, 100, ms, ok(50*ms))
		if got := armOf(p, 0, now).Success; got >= 0.5 {
			t.Fatalf("Success of arm 0 = %.2f, want below 0.5", got)
		}
		if got := choices(p, []int{0, 1}, now); got[0] != 0 {
			t.Errorf("choices = %v, want arm 0 never", got)
		}
	})
	t.Run("all failing", func(t *testing.T) {
		p := newAdaptive()
		now := flaky(p, epoch, 0, ms)
		now = flaky(p, now, 1, 50*ms)
		if got := choices(p, []int{0, 1}, now); got[0] != 200 {
			t.Errorf("choices = %v, want arm 0, the cheaper, always", got)
		}
	})
	t.Run("one healthy in twenty", func(t *testing.T) {
		p := newAdaptive()
		now := epoch
		cands := make([]int, 20)
		for i := range cands {
			cands[i] = i
			if i < 19 {
				now = flaky(p, now, i, ms)
			}
		}
		now = feed(p, now, 19, 10, ms, ok(100*ms))
		if got := choices(p, cands, now); got[19] != 200 {
			t.Errorf("choices = %v, want arm 19, the only healthy one, always", got)
		}
	})
	t.Run("skipping off", func(t *testing.T) {
		p := newAdaptive()
		p.MinSuccess = -1
		now := flaky(p, epoch, 0, ms)
		now = feed(p, now, 1, 100, ms, ok(50*ms))
		if got := choices(p, []int{0, 1}, now); got[0] != 200 {
			t.Errorf("choices with MinSuccess -1 = %v, want arm 0, the cheaper, always", got)
		}
	})
}

// TestAdaptiveTimeouts checks that a timeout feeds the latency estimate
// with the time waited, and another failure does not feed it at all.
func TestAdaptiveTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		peak      bool
		low, high time.Duration // the estimate after the timeout
	}{
		// 100 answers in 100ms weigh about 95 with a 1s time constant:
		// (95 × 10ms + 2s) / 96 ≈ 31ms.
		{"mean", false, 28 * ms, 34 * ms},
		{"peak", true, 1980 * ms, 2020 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newAdaptive()
			p.PeakLatency = tc.peak
			now := feed(p, epoch, 0, 100, ms, ok(10*ms))
			now = feed(p, now, 0, 1, ms, bandit.Outcome{Latency: ms, Failed: true})
			r := armOf(p, 0, now)
			if !near(r.Latency, 10*ms, 0.01) {
				t.Errorf("Latency after a fast error = %v, want 10ms as before", r.Latency)
			}
			if r.Success >= 1 {
				t.Errorf("Success after an error = %v, want below 1", r.Success)
			}
			now = feed(p, now, 0, 1, ms, bandit.Outcome{Latency: 2 * time.Second, Failed: true, TimedOut: true})
			if got := armOf(p, 0, now).Latency; got < tc.low || got > tc.high {
				t.Errorf("Latency after a 2s timeout = %v, want from %v to %v", got, tc.low, tc.high)
			}
		})
	}
}

// TestAdaptiveBeatsPeakEWMA runs both on a few workloads with Poisson
// arrivals and compares their tail latency, or with a black hole their
// errors (PeakEWMA's quick errors would flatter its latencies).
func TestAdaptiveBeatsPeakEWMA(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	pool := func(means ...time.Duration) []backend {
		var bs []backend
		for _, m := range means {
			bs = append(bs, backend{Service: expo(m), Servers: 4})
		}
		return bs
	}
	for _, sc := range []struct {
		name     string
		backends []backend
		rate     float64 // requests per second
		errors   bool    // compare errors, not latency
	}{
		// Capacity 4150/s.
		{"mixed speeds", pool(5*ms, 5*ms, 5*ms, 10*ms, 10*ms, 10*ms, 20*ms, 20*ms, 40*ms, 80*ms), 3100, false},
		// Two backends stall for 300ms on 2% of requests.
		{"stalls", func() []backend {
			bs := pool(10*ms, 10*ms, 10*ms, 10*ms, 10*ms, 10*ms, 10*ms, 10*ms)
			bs[0].Service = func(r *rand.Rand) time.Duration {
				d := time.Duration(r.ExpFloat64() * float64(10*ms))
				if r.Float64() < 0.02 {
					d += 300 * ms
				}
				return d
			}
			bs[1].Service = bs[0].Service
			return bs
		}(), 2400, false},
		{"black hole", append(pool(10*ms, 10*ms, 10*ms, 10*ms, 10*ms, 10*ms), backend{Service: fixed(ms), Fail: true}), 1800, true},
	} {
		t.Run(sc.name, func(t *testing.T) {
			const n = 50000
			ad := simulateOpen(newAdaptive(), clone(sc.backends), sc.rate, n, 8, nil)
			pe := simulateOpen(bandit.NewPeakEWMA(rand.New(rand.NewPCG(1, 2))), clone(sc.backends), sc.rate, n, 8, nil)
			t.Logf("adaptive  p50 %v p99 %v p999 %v errors %.4f", ad.quantile(0.5), ad.quantile(0.99), ad.quantile(0.999), float64(ad.Failed)/n)
			t.Logf("peak_ewma p50 %v p99 %v p999 %v errors %.4f", pe.quantile(0.5), pe.quantile(0.99), pe.quantile(0.999), float64(pe.Failed)/n)
			if !sc.errors && ad.quantile(0.99) > pe.quantile(0.99) {
				t.Errorf("adaptive p99 = %v, want at most peak_ewma's %v", ad.quantile(0.99), pe.quantile(0.99))
			}
			if got := float64(ad.Failed) / n; got > 0.01 {
				t.Errorf("adaptive error rate = %.4f, want at most 0.01", got)
			}
			if sc.errors && pe.Failed < 10*max(ad.Failed, 1) {
				t.Errorf("errors: adaptive %d, peak_ewma %d, want ten times fewer", ad.Failed, pe.Failed)
			}
		})
	}
}

func clone(bs []backend) []backend { return append([]backend(nil), bs...) }

// TestAdaptiveBreaker checks that a run of failures after a long good run
// opens an arm's breaker, which the success rate alone would take dozens
// of failures to do, and what the breaker then lets through.
func TestAdaptiveBreaker(t *testing.T) {
	fail := bandit.Outcome{Latency: ms, Failed: true}
	// setup gives arm 0 a good run, 10ms answers, and arm 1 one of 30ms
	// answers and 3 requests in flight for good: arm 0 is the cheaper
	// while it is available, however long both stay idle.
	setup := func() (*bandit.Adaptive, time.Time) {
		p := newAdaptive()
		now := feed(p, epoch, 0, 1000, ms, ok(10*ms))
		now = feed(p, now, 1, 100, ms, ok(30*ms))
		for range 3 {
			p.Choose([]int{1}, now)
		}
		return p, now
	}
	// gets reports whether arm 0 gets a request at now (then canceled).
	gets := func(p *bandit.Adaptive, now time.Time) bool {
		arm := p.Choose([]int{0, 1}, now)
		p.Observe(arm, bandit.Outcome{Canceled: true}, now)
		return arm == 0
	}

	t.Run("opens after three failures", func(t *testing.T) {
		p, now := setup()
		now = feed(p, now, 0, 2, ms, fail)
		if !gets(p, now) {
			t.Fatalf("arm 0 passed over after 2 failures in 1000, want it still chosen")
		}
		now = feed(p, now, 0, 1, ms, fail)
		if gets(p, now) {
			t.Errorf("arm 0 chosen after 3 failures in a row, want it passed over")
		}
		if got := armOf(p, 0, now).Success; got < 0.99 {
			t.Errorf("Success = %.3f, want above 0.99: the breaker, not the rate, passes it over", got)
		}
	})
	t.Run("one failure", func(t *testing.T) {
		p, now := setup()
		now = feed(p, now, 0, 1, ms, fail)
		now = feed(p, now, 0, 10, ms, ok(10*ms))
		now = feed(p, now, 0, 2, ms, fail)
		if !gets(p, now) {
			t.Errorf("arm 0 passed over after failures that were not in a row, want it chosen")
		}
	})
	t.Run("flaky", func(t *testing.T) {
		// An arm failing one request in five: four failures in a row
		// happen by chance (0.2⁴ = 0.0016), five hardly (0.0003).
		p := newAdaptive()
		now := epoch
		for i := range 1000 {
			now = feed(p, now, 0, 1, ms, bandit.Outcome{Latency: 10 * ms, Failed: i%5 == 0})
		}
		now = feed(p, now, 1, 100, ms, ok(30*ms))
		now = feed(p, now, 0, 4, ms, fail)
		if !gets(p, now) {
			t.Errorf("flaky arm passed over after 4 failures in a row, want it chosen")
		}
		now = feed(p, now, 0, 1, ms, fail)
		if gets(p, now) {
			t.Errorf("flaky arm chosen after 5 failures in a row, want it passed over")
		}
	})
	t.Run("probes", func(t *testing.T) {
		p, now := setup()
		now = feed(p, now, 0, 3, ms, fail)
		opened := now
		// One probe at a time, once the backoff (1s, then 2s, 4s, 8s,
		// 10s, 10s) is over; each probe fails.
		for i, backoff := range []time.Duration{1, 2, 4, 8, 10, 10} {
			backoff *= time.Second
			if gets(p, opened.Add(backoff-ms)) {
				t.Fatalf("probe %d: arm 0 chosen before the backoff of %v ended", i, backoff)
			}
			at := opened.Add(backoff)
			if arm := p.Choose([]int{0, 1}, at); arm != 0 {
				t.Fatalf("probe %d: Choose = %d once the backoff of %v ended, want 0", i, arm, backoff)
			}
			if arm := p.Choose([]int{0, 1}, at); arm != 1 {
				t.Fatalf("probe %d: Choose = %d with the probe in flight, want 1", i, arm)
			}
			p.Observe(1, bandit.Outcome{Canceled: true}, at)
			opened = at.Add(ms)
			p.Observe(0, fail, opened)
		}
		// A probe that succeeds closes the breaker: several requests in
		// flight at once again.
		at := opened.Add(10 * time.Second)
		p.Choose([]int{0, 1}, at)
		p.Observe(0, ok(10*ms), at.Add(10*ms))
		at = at.Add(10 * ms)
		for i := range 3 {
			if arm := p.Choose([]int{0, 1}, at); arm != 0 {
				t.Fatalf("request %d after a good probe: Choose = %d, want 0", i, arm)
			}
		}
	})
	t.Run("off", func(t *testing.T) {
		p := newAdaptive()
		p.BreakAfter = -1
		now := feed(p, epoch, 0, 1000, ms, ok(10*ms))
		now = feed(p, now, 1, 100, ms, ok(30*ms))
		now = feed(p, now, 0, 10, ms, fail)
		if !gets(p, now) {
			t.Errorf("arm 0 passed over after 10 failures with BreakAfter -1, want it chosen (Success %.3f)", armOf(p, 0, now).Success)
		}
	})
}
