package bandit

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSample checks that sample draws distinct indices in range, each
// index equally often and each equally often first (first wins ties).
func TestSample(t *testing.T) {
	for _, tc := range []struct{ n, d int }{{2, 2}, {3, 3}, {5, 2}, {5, 3}, {10, 8}, {100, 3}, {3, 8}} {
		c := core{rng: rand.New(rand.NewPCG(1, 2)), set: settings{d: tc.d}}
		k := min(tc.n, tc.d)
		draws := 1000 * tc.n // 1000 expected firsts per index
		seen := make([]int, tc.n)
		first := make([]int, tc.n)
		var idx [maxCandidates]int
		for range draws {
			if got := c.sample(tc.n, &idx); got != k {
				t.Fatalf("n=%d d=%d: sample = %d, want %d", tc.n, tc.d, got, k)
			}
			s := slices.Clone(idx[:k])
			slices.Sort(s)
			if s[0] < 0 || s[k-1] >= tc.n || len(slices.Compact(s)) != k {
				t.Fatalf("n=%d d=%d: sample drew %v, want %d distinct indices below %d", tc.n, tc.d, idx[:k], k, tc.n)
			}
			for _, i := range idx[:k] {
				seen[i]++
			}
			first[idx[0]]++
		}
		// Counts are binomial; 6 standard deviations is a false alarm
		// about once in 10^9 checks.
		check := func(what string, counts []int, p float64) {
			mean := float64(draws) * p
			sd := math.Sqrt(mean * (1 - p))
			for i, got := range counts {
				if math.Abs(float64(got)-mean) > 6*sd {
					t.Errorf("n=%d d=%d: index %d %s %d times in %d draws, want %.0f ± %.0f", tc.n, tc.d, i, what, got, draws, mean, 6*sd)
				}
			}
		}
		check("drawn", seen, float64(k)/float64(tc.n))
		check("first", first, 1/float64(tc.n))
	}
}

// TestHealthyAt checks the shortcut against the success rate it stands
// for: below the threshold just before, at or above it from then on.
func TestHealthyAt(t *testing.T) {
	const tau = 1e10
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		s := successEst{t: r.Int64N(1e12) - 5e11}
		s.n = r.Float64() * 200
		s.f = s.n * r.Float64()
		m := 0.05 + 0.9*r.Float64()
		prior := 0.1 + 5*r.Float64()
		at := s.healthyAt(m, prior, tau)
		rate := func(t int64) float64 {
			n, f := s.at(t, tau)
			return successRate(n, f, prior)
		}
		if at == math.MinInt64 {
			if got := rate(s.t); got < m-1e-9 {
				t.Errorf("case %d: healthyAt = always, but the rate now is %v < %v", i, got, m)
			}
			continue
		}
		if got := rate(at); got < m-1e-9 {
			t.Errorf("case %d: rate at healthyAt = %v, want at least %v", i, got, m)
		}
		if at-1000 > s.t {
			if got := rate(at - 1000); got >= m+1e-9 {
				t.Errorf("case %d: rate 1µs before healthyAt = %v, want below %v", i, got, m)
			}
		}
	}
}

func TestTable(t *testing.T) {
	var tab table[int]
	ids := []int{5, 0, denseLimit, 1 << 40, -3, denseLimit - 1, 70}
	for _, id := range ids {
		if tab.get(id) != nil {
			t.Fatalf("get(%d) before put = non-nil", id)
		}
		v := id
		tab.put(id, &v)
	}
	for _, id := range ids {
		if got := tab.get(id); got == nil || *got != id {
			t.Errorf("get(%d) = %v, want %d", id, got, id)
		}
	}
	var got []int
	for id, v := range tab.all() {
		if *v != id {
			t.Errorf("all yields %d with record %d", id, *v)
		}
		got = append(got, id)
	}
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) || tab.n != len(ids) {
		t.Errorf("all = %v (n %d), want %v", got, tab.n, want)
	}
	n := 0
	for range tab.each() {
		n++
	}
	if n != len(ids) {
		t.Errorf("each yields %d records, want %d", n, len(ids))
	}
}

// TestBetaSample checks the Beta draws' mean and variance for shapes below
// and above 1.
func TestBetaSample(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ a, b float64 }{{1, 1}, {2, 1}, {0.3, 0.5}, {50, 3}, {2, 400}} {
		const n = 40000
		var sum, sq float64
		for range n {
			x := betaSample(r, tc.a, tc.b)
			if !(x >= 0 && x <= 1) {
				t.Fatalf("Beta(%v, %v) drew %v", tc.a, tc.b, x)
			}
			sum += x
			sq += x * x
		}
		mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
		wantMean := tc.a / (tc.a + tc.b)
		wantVar := tc.a * tc.b / ((tc.a + tc.b) * (tc.a + tc.b) * (tc.a + tc.b + 1))
		if math.Abs(mean-wantMean) > 6*math.Sqrt(wantVar/n) {
			t.Errorf("Beta(%v, %v): mean %v, want %v", tc.a, tc.b, mean, wantMean)
		}
		if math.Abs(variance-wantVar) > 0.05*wantVar {
			t.Errorf("Beta(%v, %v): variance %v, want %v", tc.a, tc.b, variance, wantVar)
		}
	}
}
