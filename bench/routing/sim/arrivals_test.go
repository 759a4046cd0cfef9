package sim

import (
	"math"
	"testing"
	"time"
)

// counts returns the number of arrivals in each window of width win.
func counts(ts []time.Duration, d, win time.Duration) []float64 {
	c := make([]float64, int(d/win))
	for _, t := range ts {
		if k := int(t / win); k < len(c) {
			c[k]++
		}
	}
	return c
}

func meanVar(xs []float64) (m, v float64) {
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, v / float64(len(xs)-1)
}

func TestArrivals(t *testing.T) {
	const (
		rate = 1000.0
		d    = 2000 * time.Second
		win  = time.Second
	)
	mmpp := Arrivals{BurstRatio: 2, BurstMean: 100 * time.Millisecond, CalmMean: 400 * time.Millisecond}
	tests := []struct {
		name string
		a    Arrivals
		// Index of dispersion of the counts in 1s windows (variance
		// over mean): 1 for Poisson.
		idcMin, idcMax float64
	}{
		{"poisson", Arrivals{}, 0.9, 1.1},
		// Over windows much longer than the dwell times, the MMPP's
		// index of dispersion is about
		// 1 + 2·(λb-λc)²·πb·πc/(λ·(rb+rc)) with switching rates rb =
		// 10/s, rc = 2.5/s: 1 + 2·833²·0.16/(1000·12.5) ≈ 18.8, a bit
		// less over 1s windows.
		{"mmpp", mmpp, 12, 22},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := tt.a.generate(rate, d, stream(7, streamArrivals), nil)
			for i := 1; i < len(ts); i++ {
				if ts[i] < ts[i-1] {
					t.Fatalf("arrival %d at %v before arrival %d at %v", i, ts[i], i-1, ts[i-1])
				}
			}
			got := float64(len(ts)) / d.Seconds()
			if math.Abs(got-rate)/rate > 0.01 {
				t.Errorf("mean rate = %.1f/s, want %.0f/s ± 1%%", got, rate)
			}
			m, v := meanVar(counts(ts, d, win))
			if idc := v / m; idc < tt.idcMin || idc > tt.idcMax {
				t.Errorf("index of dispersion = %.2f, want in [%v, %v]", idc, tt.idcMin, tt.idcMax)
			}
		})
	}
}

// TestMMPPStates checks the rates of the two states and the time spent in
// each, from the counts in windows much shorter than a dwell time.
func TestMMPPStates(t *testing.T) {
	a := Arrivals{BurstRatio: 4, BurstMean: 2 * time.Second, CalmMean: 6 * time.Second}
	calm, burst := a.rates(1000)
	if want := 1000 * 8 / (6 + 4*2.0); math.Abs(calm-want) > 1e-9 || math.Abs(burst-4*want) > 1e-9 {
		t.Fatalf("rates(1000) = %v, %v, want %v, %v", calm, burst, want, 4*want)
	}
	ts := a.generate(1000, 4000*time.Second, stream(3, streamArrivals), nil)
	c := counts(ts, 4000*time.Second, 50*time.Millisecond)
	// Calm windows expect 28.6 arrivals and burst windows 114: split
	// at the geometric middle.
	var nb, sb, sc float64
	for _, x := range c {
		if x > 57 {
			nb++
			sb += x
		} else {
			sc += x
		}
	}
	frac := nb / float64(len(c))
	if math.Abs(frac-0.25) > 0.03 {
		t.Errorf("fraction of time in burst = %.3f, want 0.25 ± 0.03", frac)
	}
	if got := sb / nb / 0.05; math.Abs(got-burst)/burst > 0.03 {
		t.Errorf("burst rate = %.0f/s, want %.0f/s ± 3%%", got, burst)
	}
	if got := sc / (float64(len(c)) - nb) / 0.05; math.Abs(got-calm)/calm > 0.03 {
		t.Errorf("calm rate = %.0f/s, want %.0f/s ± 3%%", got, calm)
	}
}

func TestServiceMeans(t *testing.T) {
	for _, d := range []ServiceDist{{Kind: Exponential}, {Kind: Lognormal}, {Kind: Lognormal, Sigma: 0.5}, {Kind: Bimodal}} {
		t.Run(d.String(), func(t *testing.T) {
			r := stream(1, streamSizes)
			const n = 400000
			sum := 0.0
			for range n {
				x := d.draw(r)
				if x <= 0 {
					t.Fatalf("draw() = %v, want > 0", x)
				}
				sum += x
			}
			if m := sum / n; math.Abs(m-1) > 0.02 {
				t.Errorf("mean size = %.4f, want 1 ± 0.02", m)
			}
		})
	}
}
