package bandit_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
)

// TestSoftmaxTemperature checks that the temperature is measured in the
// spread of the candidates' costs: at 1 the choice goes to the cheapest
// few whatever the scale of the latencies, higher temperatures spread it,
// and equal costs share it evenly.
func TestSoftmaxTemperature(t *testing.T) {
	// shares trains arms 0 to 3 with the given latencies, then returns
	// the share of 4000 choices each gets, none of them in flight.
	shares := func(temp float64, lat [4]time.Duration) [4]float64 {
		p := bandit.NewSoftmax(rand.New(rand.NewPCG(1, 2)))
		p.Temperature = temp
		now := epoch
		for range 200 {
			for arm, l := range lat {
				now = feed(p, now, arm, 1, time.Millisecond, ok(l))
			}
		}
		var s [4]float64
		cands := []int{0, 1, 2, 3}
		for range 4000 {
			arm := p.Choose(cands, now)
			p.Observe(arm, bandit.Outcome{Canceled: true}, now)
			s[arm] += 1.0 / 4000
		}
		return s
	}
	// Costs 10, 11, 20 and 40: the mean excess over the cheapest is 10.25,
	// so a unit of temperature is 10.25 / 4 ≈ 2.6ms, and arm 1 weighs
	// e^(−1/2.6) ≈ 0.68 of arm 0, arm 2 e^(−3.9) ≈ 0.02, arm 3 nothing.
	lat := [4]time.Duration{10 * ms, 11 * ms, 20 * ms, 40 * ms}
	for _, scale := range []time.Duration{1, 100} {
		var l [4]time.Duration
		for i := range lat {
			l[i] = lat[i] * scale
		}
		got := shares(1, l)
		t.Logf("latencies %v: shares %.3f", l, got)
		if got[0] < 0.5 || got[0]+got[1] < 0.95 || got[3] > 0.005 {
			t.Errorf("latencies %v: shares %.3f at temperature 1, want over 0.5 for arm 0, over 0.95 for arms 0 and 1, under 0.005 for arm 3", l, got)
		}
		if got[1] < 0.3 {
			t.Errorf("latencies %v: share of arm 1 = %.3f, want over 0.3: it costs 10%% more than arm 0", l, got[1])
		}
	}
	hot := shares(10, lat)
	t.Logf("temperature 10: shares %.3f", hot)
	if hot[3] < 0.05 {
		t.Errorf("shares %.3f at temperature 10, want over 0.05 for arm 3", hot)
	}
	even := shares(1, [4]time.Duration{10 * ms, 10 * ms, 10 * ms, 10 * ms})
	for arm, s := range even {
		if s < 0.2 || s > 0.3 {
			t.Errorf("equal costs: shares %.3f, want 0.25 ± 0.05 for arm %d", even, arm)
		}
	}
}
