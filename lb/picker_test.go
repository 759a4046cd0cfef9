package lb_test

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/phalanx-lb/phalanx/lb"
)

// ourNames are the algorithms this package registers.
var ourNames = []string{
	lb.IPHashName,
	lb.LeastConnectionsName,
	lb.P2CName,
	lb.RandomName,
	lb.RoundRobinName,
	lb.WeightedRoundRobinName,
}

// newBackends returns one backend per weight, at 127.0.0.1:8001 onwards.
func newBackends(tb testing.TB, weights ...int) []*lb.Backend {
	tb.Helper()
	bs := make([]*lb.Backend, len(weights))
	for i, w := range weights {
		b, err := lb.NewBackend(fmt.Sprintf("127.0.0.1:%d", 8001+i), lb.BackendConfig{Weight: w})
		if err != nil {
			tb.Fatalf("NewBackend: %v", err)
		}
		bs[i] = b
	}
	return bs
}

// equalWeights returns n weights of 1.
func equalWeights(n int) []int {
	w := make([]int, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// mixedWeights returns n weights cycling through 1..5.
func mixedWeights(n int) []int {
	w := make([]int, n)
	for i := range w {
		w[i] = i%5 + 1
	}
	return w
}

// seeded returns a reproducible random source; it is not safe for
// concurrent use.
func seeded() func() uint64 { return rand.New(rand.NewPCG(1, 2)).Uint64 }

// zeroRand always returns 0: pickers start at their first backend.
func zeroRand() uint64 { return 0 }

// testRequests returns n requests with distinct client IPs.
func testRequests(n int) []lb.Request {
	reqs := make([]lb.Request, n)
	for i := range reqs {
		reqs[i] = lb.Request{ClientIP: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}
	}
	return reqs
}

// indexOf returns the index of b in bs, or -1.
func indexOf(bs []*lb.Backend, b *lb.Backend) int { return slices.Index(bs, b) }

// count picks n times with the given requests (cycled) and returns how
// often each backend of bs was chosen. It fails the test on an error or a
// backend outside bs.
func count(t *testing.T, p lb.Picker, bs []*lb.Backend, reqs []lb.Request, n int) []int {
	t.Helper()
	counts := make([]int, len(bs))
	for i := range n {
		r := reqs[i%len(reqs)]
		res, err := p.Pick(r)
		if err != nil {
			t.Fatalf("Pick(%+v) = %v, want no error", r, err)
		}
		j := indexOf(bs, res.Backend)
		if j < 0 {
			t.Fatalf("Pick(%+v) = %v, want one of the built backends", r, res.Backend)
		}
		counts[j]++
	}
	return counts
}

// chiSquaredAlpha is the probability that a correct picker fails a
// distribution test; the tests are seeded, so they are reproducible anyway.
const chiSquaredAlpha = 1e-6

// zAlpha is the standard normal quantile of 1-chiSquaredAlpha.
const zAlpha = 4.753424

// checkChiSquared fails t if counts do not fit the proportions given by
// weights, by Pearson's chi-squared test at chiSquaredAlpha. Every arm
// must expect at least 500 hits.
func checkChiSquared(t *testing.T, name string, counts []int, weights []float64) {
	t.Helper()
	var n, total float64
	for i := range counts {
		n += float64(counts[i])
		total += weights[i]
	}
	var stat float64
	for i, c := range counts {
		want := n * weights[i] / total
		if want < 500 {
			t.Fatalf("%s: arm %d expects %.0f hits, want at least 500", name, i, want)
		}
		d := float64(c) - want
		stat += d * d / want
	}
	// Wilson–Hilferty approximation of the chi-squared quantile.
	df := float64(len(counts) - 1)
	crit := df * math.Pow(1-2/(9*df)+zAlpha*math.Sqrt(2/(9*df)), 3)
	if stat > crit {
		t.Errorf("%s: counts = %v, want proportional to %v (chi-squared %.1f > %.1f, df %.0f, alpha %g)",
			name, counts, weights, stat, crit, df, chiSquaredAlpha)
	}
}

func floats(ws []int) []float64 {
	f := make([]float64, len(ws))
	for i, w := range ws {
		f[i] = float64(w)
	}
	return f
}

func TestNames(t *testing.T) {
	names := lb.Names()
	for _, want := range ourNames {
		if !slices.Contains(names, want) {
			t.Errorf("Names() = %v, want it to contain %q", names, want)
		}
		if _, err := lb.Lookup(want); err != nil {
			t.Errorf("Lookup(%q) = %v, want no error", want, err)
		}
	}
	if _, err := lb.Lookup("least_conn"); !errors.Is(err, lb.ErrUnknownAlgorithm) {
		t.Errorf("Lookup(%q) = %v, want ErrUnknownAlgorithm", "least_conn", err)
	}
}

// TestPickers runs the conformance suite over every registered algorithm.
func TestPickers(t *testing.T) {
	for _, name := range lb.Names() {
		t.Run(name, func(t *testing.T) {
			b, err := lb.Lookup(name)
			if err != nil {
				t.Fatalf("Lookup(%q) = %v", name, err)
			}
			testPicker(t, b)
		})
	}
}

// testPicker is the conformance suite for a Builder.
func testPicker(t *testing.T, builder lb.Builder) {
	reqs := append(testRequests(500),
		lb.Request{},
		lb.Request{HashKey: "session-1"},
		lb.Request{ClientIP: "10.0.0.1", HashKey: "session-2"},
	)
	t.Run("OnlyBuiltSet", func(t *testing.T) {
		all := newBackends(t, 1, 2, 3, 4, 5)
		for _, set := range [][]*lb.Backend{all[1:4], all[:1], all[4:], {all[0], all[4]}} {
			p := builder.Build(set)
			count(t, p, set, reqs, 2000)
		}
	})
	t.Run("Single", func(t *testing.T) {
		bs := newBackends(t, 3)
		p := builder.Build(bs)
		bs[0].Start() // a loaded single backend is still the only choice
		for _, r := range reqs {
			res, err := p.Pick(r)
			if err != nil || res.Backend != bs[0] {
				t.Fatalf("Pick(%+v) = %v, %v, want %v", r, res.Backend, err, bs[0])
			}
		}
	})
	t.Run("KeepsBackends", func(t *testing.T) {
		bs := newBackends(t, 5, 1, 1, 2)
		orig := slices.Clone(bs)
		p := builder.Build(bs)
		count(t, p, bs, reqs, 1000)
		if !slices.Equal(bs, orig) {
			t.Errorf("Build(backends) modified backends: %v, want %v", bs, orig)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		bs := newBackends(t, mixedWeights(10)...)
		p := builder.Build(bs)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Go(func() {
				for i := range 2000 {
					r := reqs[(g*2000+i)%len(reqs)]
					res, err := p.Pick(r)
					if err != nil || indexOf(bs, res.Backend) < 0 {
						errs <- fmt.Errorf("Pick(%+v) = %v, %v, want a built backend", r, res.Backend, err)
						return
					}
					res.Backend.Start()
					res.Backend.Finish(lb.Outcome{Status: 200})
					if res.Done != nil {
						res.Done(res.Backend, lb.Outcome{Status: 200})
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for _, b := range bs {
			if b.InFlight() != 0 {
				t.Errorf("%s InFlight() = %d after all requests finished, want 0", b.Addr(), b.InFlight())
			}
		}
	})
	t.Run("Pool", func(t *testing.T) {
		// Each case marks the given backends down by one failed request
		// (MaxFails defaults to 1), before or after NewPool, and expects
		// picks from want, or ErrNoBackend if want is empty.
		tests := []struct {
			name   string
			down   []int
			before bool
			want   []int
		}{
			{name: "AllUp", want: []int{0, 1}},
			{name: "OneDown", down: []int{0}, want: []int{1}},
			{name: "PrimariesDown", down: []int{0, 1}, want: []int{2}},
			{name: "AllDown", down: []int{0, 1, 2}},
			{name: "AllDownBeforeNewPool", down: []int{0, 1, 2}, before: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				bs := newBackends(t, 2, 1)
				backup, err := lb.NewBackend("127.0.0.1:9001", lb.BackendConfig{Backup: true})
				if err != nil {
					t.Fatal(err)
				}
				bs = append(bs, backup)
				markDown := func() {
					for _, i := range tt.down {
						bs[i].Start()
						bs[i].Finish(lb.Outcome{ConnFailed: true})
					}
				}
				if tt.before {
					markDown()
				}
				pool, err := lb.NewPool("app", bs, lb.PoolConfig{
					Builder: builder,
					Health:  lb.HealthCheck{Interval: -1},
					Logger:  slog.New(slog.DiscardHandler),
				})
				if err != nil {
					t.Fatalf("NewPool: %v", err)
				}
				defer pool.Close()
				if !tt.before {
					markDown()
				}
				for _, r := range reqs {
					res, err := pool.Pick(r)
					if len(tt.want) == 0 {
						if !errors.Is(err, lb.ErrNoBackend) {
							t.Fatalf("Pick(%+v) = %v, %v, want ErrNoBackend", r, res.Backend, err)
						}
						continue
					}
					if err != nil || !slices.Contains(tt.want, indexOf(bs, res.Backend)) {
						t.Fatalf("Pick(%+v) = %v, %v, want one of backends %v", r, res.Backend, err, tt.want)
					}
				}
			})
		}
	})
}

func TestBuildEmpty(t *testing.T) {
	for _, name := range ourNames {
		b, _ := lb.Lookup(name)
		if _, err := b.Build(nil).Pick(lb.Request{}); !errors.Is(err, lb.ErrNoBackend) {
			t.Errorf("%s: Build(nil).Pick() = %v, want ErrNoBackend", name, err)
		}
	}
}

func TestDoneIsNil(t *testing.T) {
	bs := newBackends(t, 1, 2, 3)
	for _, name := range ourNames {
		b, _ := lb.Lookup(name)
		if res, _ := b.Build(bs).Pick(lb.Request{ClientIP: "10.0.0.1"}); res.Done != nil {
			t.Errorf("%s: Pick().Done = non-nil, want nil", name)
		}
	}
}

func TestRoundRobin(t *testing.T) {
	bs := newBackends(t, 5, 1, 1, 2, 3) // weights are ignored
	p := lb.RoundRobin{Rand: seeded()}.Build(bs)
	prev := -1
	counts := make([]int, len(bs))
	for i := range 5000 {
		res, _ := p.Pick(lb.Request{})
		j := indexOf(bs, res.Backend)
		if prev >= 0 && j != (prev+1)%len(bs) {
			t.Fatalf("pick %d: Pick() = backend %d after %d, want %d", i, j, prev, (prev+1)%len(bs))
		}
		prev = j
		counts[j]++
	}
	for j, c := range counts {
		if c != 1000 {
			t.Errorf("backend %d picked %d times in 5000, want 1000", j, c)
		}
	}
}

func TestRoundRobinRandomStart(t *testing.T) {
	bs := newBackends(t, equalWeights(5)...)
	rr := lb.RoundRobin{Rand: seeded()}
	starts := make([]int, len(bs))
	for range 3000 {
		res, _ := rr.Build(bs).Pick(lb.Request{})
		starts[indexOf(bs, res.Backend)]++
	}
	checkChiSquared(t, "RoundRobin first picks", starts, floats(equalWeights(5)))

	res, _ := lb.RoundRobin{Rand: zeroRand}.Build(bs).Pick(lb.Request{})
	if res.Backend != bs[0] {
		t.Errorf("RoundRobin{Rand: zero}.Build().Pick() = %v, want %v", res.Backend, bs[0])
	}
}

// nginxSWRR is nginx's smooth weighted round robin as written in
// ngx_http_upstream_get_peer, run for n picks from the zero state.
func nginxSWRR(weights []int, n int) []int {
	cur := make([]int, len(weights))
	total := 0
	for _, w := range weights {
		total += w
	}
	seq := make([]int, n)
	for k := range seq {
		best := -1
		for i, w := range weights {
			cur[i] += w
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		seq[k] = best
	}
	return seq
}

// picks returns the indices of n picks.
func picks(p lb.Picker, bs []*lb.Backend, n int) []int {
	seq := make([]int, n)
	for i := range seq {
		res, _ := p.Pick(lb.Request{})
		seq[i] = indexOf(bs, res.Backend)
	}
	return seq
}

func letters(seq []int) string {
	var sb strings.Builder
	for i, j := range seq {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteByte(byte('a' + j))
	}
	return sb.String()
}

func TestWeightedRoundRobinSequence(t *testing.T) {
	bs := newBackends(t, 5, 1, 1)
	p := lb.WeightedRoundRobin{Rand: zeroRand}.Build(bs)
	const cycle = "a a b a c a a"
	got := letters(picks(p, bs, 21))
	if want := cycle + " " + cycle + " " + cycle; got != want {
		t.Errorf("WeightedRoundRobin(5, 1, 1) = %s, want %s", got, want)
	}

	// From a random start, the picks are a rotation of the cycle.
	wr := lb.WeightedRoundRobin{Rand: seeded()}
	starts := map[string]bool{}
	for range 100 {
		got := letters(picks(wr.Build(bs), bs, 7))
		if !strings.Contains(cycle+" "+cycle, got) {
			t.Fatalf("WeightedRoundRobin(5, 1, 1) from a random start = %s, want a rotation of %s", got, cycle)
		}
		starts[got] = true
	}
	if len(starts) != 7 {
		t.Errorf("WeightedRoundRobin(5, 1, 1) started at %d of 7 points in 100 builds, want all 7", len(starts))
	}
}

func TestWeightedRoundRobinMatchesNginx(t *testing.T) {
	tests := [][]int{
		{1}, {1, 1, 1}, {5, 1, 1}, {1, 5, 1}, {1, 1, 5}, {10, 2, 2}, {3, 2, 1}, {1, 2, 3},
		{4, 4, 2, 2, 1}, {2, 3, 2, 3, 2}, {7, 5, 3, 2}, {100, 1}, {6, 10, 15},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 30 {
		w := make([]int, 1+r.IntN(12))
		for i := range w {
			w[i] = 1 + r.IntN(6) // small range: many equal weights
		}
		tests = append(tests, w)
	}
	for _, weights := range tests {
		t.Run(fmt.Sprint(weights), func(t *testing.T) {
			bs := newBackends(t, weights...)
			total := 0
			for _, w := range weights {
				total += w
			}
			got := picks(lb.WeightedRoundRobin{Rand: zeroRand}.Build(bs), bs, 3*total)
			if want := nginxSWRR(weights, 3*total); !slices.Equal(got, want) {
				t.Errorf("WeightedRoundRobin(%v) = %v, want %v", weights, got, want)
			}
		})
	}
}

func TestWeightedRoundRobinProportions(t *testing.T) {
	tests := []struct {
		weights []int
		cycle   int // sum of the weights over their gcd
	}{
		{[]int{3, 2, 1}, 6},
		{[]int{10, 20, 30}, 6},
		{[]int{1, 1, 1, 1}, 4},
		{[]int{7, 3}, 10},
		{[]int{1000, 1, 250}, 1251},
		{[]int{65536, 1}, 65537}, // sums to just over the cap: scaled
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.weights), func(t *testing.T) {
			bs := newBackends(t, tt.weights...)
			p := lb.WeightedRoundRobin{Rand: seeded()}.Build(bs)
			const cycles = 5
			counts := count(t, p, bs, []lb.Request{{}}, cycles*tt.cycle)
			g := tt.weights[0]
			for _, w := range tt.weights {
				for w != 0 {
					g, w = w, g%w
				}
			}
			for i, w := range tt.weights {
				if want := cycles * w / g; counts[i] != want && tt.cycle <= 1<<16 {
					t.Errorf("backend %d (weight %d) picked %d times in %d, want %d", i, w, counts[i], cycles*tt.cycle, want)
				}
			}
			if tt.cycle > 1<<16 {
				// 65536:1 cannot keep 1 per 65537 picks exactly; the
				// light backend keeps at least one pick per cycle.
				if counts[1] < cycles {
					t.Errorf("backend 1 (weight 1) picked %d times in %d, want at least %d", counts[1], cycles*tt.cycle, cycles)
				}
			}
		})
	}
}

func TestWeightedRoundRobinLargeWeights(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
	}{
		{"NearlyEqual", []int{1000000, 999999, 3, 1}},
		{"MaxInt", []int{math.MaxInt, math.MaxInt - 1, 1}},
		{"Coprime", []int{65521, 65519, 65497}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := newBackends(t, tt.weights...)
			p := lb.WeightedRoundRobin{Rand: seeded()}.Build(bs)
			const n = 1 << 18 // at least 3 cycles of at most 65536+n
			counts := count(t, p, bs, []lb.Request{{}}, n)
			var total float64
			for _, w := range tt.weights {
				total += float64(w)
			}
			for i, w := range tt.weights {
				// The cycle, at most 65536+3 picks long, gives every backend
				// at least one pick, and keeps each share within about one
				// pick per cycle.
				if counts[i] < n/(1<<16+3) {
					t.Errorf("backend %d (weight %d) picked %d times in %d, want at least %d", i, w, counts[i], n, n/(1<<16+3))
				}
				want := float64(n) * float64(w) / total
				if tol := 2 * float64(n) / (1 << 16); want > 100 && math.Abs(float64(counts[i])-want) > tol {
					t.Errorf("backend %d (weight %d) picked %d times in %d, want %.0f±%.0f", i, w, counts[i], n, want, tol)
				}
			}
		})
	}
}

func TestRandom(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		n       int
	}{
		{"Weighted", []int{1, 2, 3, 4}, 20000},
		{"Equal", equalWeights(5), 5000},
		{"Heavy", []int{1, 100}, 101 * 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := newBackends(t, tt.weights...)
			p := lb.Random{Rand: seeded()}.Build(bs)
			counts := count(t, p, bs, []lb.Request{{}}, tt.n)
			checkChiSquared(t, "Random", counts, floats(tt.weights))
		})
	}
}

func TestP2CIdle(t *testing.T) {
	// With every backend idle, each pick is the first candidate, drawn by
	// weight.
	tests := []struct {
		name    string
		weights []int
		n       int
	}{
		{"Weighted", []int{1, 2, 3, 4}, 20000},
		{"Equal", equalWeights(5), 5000},
		{"Two", []int{1, 3}, 4000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := newBackends(t, tt.weights...)
			p := lb.P2C{Rand: seeded()}.Build(bs)
			counts := count(t, p, bs, []lb.Request{{}}, tt.n)
			checkChiSquared(t, "P2C", counts, floats(tt.weights))
		})
	}
}

// setInFlight starts n requests on each backend.
func setInFlight(bs []*lb.Backend, n []int) {
	for i, b := range bs {
		for range n[i] {
			b.Start()
		}
	}
}

func TestP2CLoaded(t *testing.T) {
	tests := []struct {
		name     string
		weights  []int
		inflight []int
		want     []int // the backends that may be picked
	}{
		{"TwoPicksIdle", []int{1, 1}, []int{3, 0}, []int{1}},
		{"NeverTheBusiest", []int{1, 1, 1, 1}, []int{0, 1, 10, 1}, []int{0, 1, 3}},
		{"RelativeToWeight", []int{1, 4}, []int{1, 3}, []int{1}}, // 3/4 < 1/1
		{"HeavyButBusy", []int{1, 4}, []int{1, 5}, []int{0}},     // 1/1 < 5/4
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := newBackends(t, tt.weights...)
			setInFlight(bs, tt.inflight)
			p := lb.P2C{Rand: seeded()}.Build(bs)
			counts := count(t, p, bs, []lb.Request{{}}, 3000)
			for i, c := range counts {
				if c > 0 && !slices.Contains(tt.want, i) {
					t.Errorf("P2C(weights %v, inflight %v) picked backend %d %d times, want only %v",
						tt.weights, tt.inflight, i, c, tt.want)
				}
			}
		})
	}
}

func TestLeastConnections(t *testing.T) {
	tests := []struct {
		name     string
		weights  []int
		inflight []int
		want     int
	}{
		{"Min", []int{1, 1, 1}, []int{3, 1, 2}, 1},
		{"Last", []int{1, 1, 1, 1}, []int{3, 1, 2, 0}, 3},
		{"RelativeToWeight", []int{1, 3}, []int{1, 2}, 1}, // 2/3 < 1/1
		{"HeavyButBusy", []int{1, 3}, []int{1, 4}, 0},     // 1/1 < 4/3
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := newBackends(t, tt.weights...)
			setInFlight(bs, tt.inflight)
			p := lb.LeastConnections{Rand: seeded()}.Build(bs)
			for range 100 {
				res, _ := p.Pick(lb.Request{})
				if got := indexOf(bs, res.Backend); got != tt.want {
					t.Fatalf("LeastConnections(weights %v, inflight %v) = backend %d, want %d", tt.weights, tt.inflight, got, tt.want)
				}
			}
		})
	}
}

func TestLeastConnectionsTies(t *testing.T) {
	tests := []struct {
		name     string
		weights  []int
		inflight []int
		tied     []int
	}{
		{"AllIdle", []int{1, 1, 1, 1}, []int{0, 0, 0, 0}, []int{0, 1, 2, 3}},
		{"IdleIgnoresWeight", []int{1, 5, 2}, []int{0, 0, 0}, []int{0, 1, 2}},
		{"SomeBusy", []int{1, 1, 1, 1, 1}, []int{0, 0, 5, 1, 0}, []int{0, 1, 4}},
		{"Weighted", []int{1, 2, 1}, []int{1, 2, 3}, []int{0, 1}}, // 1/1 = 2/2 < 3/1
		{"LastTwo", []int{1, 1, 1}, []int{2, 1, 1}, []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := newBackends(t, tt.weights...)
			setInFlight(bs, tt.inflight)
			p := lb.LeastConnections{Rand: seeded()}.Build(bs)
			counts := count(t, p, bs, []lb.Request{{}}, 1000*len(tt.tied))
			tied := make([]int, len(tt.tied))
			for k, i := range tt.tied {
				tied[k] = counts[i]
			}
			var picked int
			for _, c := range tied {
				picked += c
			}
			if picked != 1000*len(tt.tied) {
				t.Fatalf("LeastConnections(weights %v, inflight %v) picks = %v, want only backends %v", tt.weights, tt.inflight, counts, tt.tied)
			}
			checkChiSquared(t, "LeastConnections ties", tied, floats(equalWeights(len(tied))))
		})
	}
}

// hashMap returns the index of the backend each request goes to.
func hashMap(t *testing.T, p lb.Picker, bs []*lb.Backend, reqs []lb.Request) []int {
	t.Helper()
	m := make([]int, len(reqs))
	for k, r := range reqs {
		res, err := p.Pick(r)
		if err != nil {
			t.Fatalf("Pick(%+v) = %v", r, err)
		}
		if m[k] = indexOf(bs, res.Backend); m[k] < 0 {
			t.Fatalf("Pick(%+v) = %v, want a built backend", r, res.Backend)
		}
	}
	return m
}

func TestIPHashSticky(t *testing.T) {
	for _, weights := range [][]int{equalWeights(5), {1, 2, 3, 4, 5}} {
		t.Run(fmt.Sprint(weights), func(t *testing.T) {
			bs := newBackends(t, weights...)
			reqs := testRequests(2000)
			first := hashMap(t, lb.IPHash{}.Build(bs), bs, reqs)
			again := hashMap(t, lb.IPHash{}.Build(bs), bs, reqs)
			// The order of the backends does not matter.
			rev := slices.Clone(bs)
			slices.Reverse(rev)
			reversed := hashMap(t, lb.IPHash{}.Build(rev), rev, reqs)
			for k, r := range reqs {
				if again[k] != first[k] {
					t.Fatalf("Pick(%+v) = backend %d, then %d after a rebuild, want the same", r, first[k], again[k])
				}
				if got := indexOf(bs, rev[reversed[k]]); got != first[k] {
					t.Fatalf("Pick(%+v) = backend %d over reversed backends, want %d", r, got, first[k])
				}
			}
		})
	}
}

func TestIPHashKey(t *testing.T) {
	bs := newBackends(t, 1, 2, 3, 4, 5)
	p := lb.IPHash{}.Build(bs)
	for _, key := range []string{"10.0.0.1", "session-42", "::1"} {
		want, _ := p.Pick(lb.Request{ClientIP: key})
		got, _ := p.Pick(lb.Request{ClientIP: "192.0.2.1", HashKey: key})
		if got.Backend != want.Backend {
			t.Errorf("Pick(HashKey %q) = %v, want %v as for ClientIP %q", key, got.Backend, want.Backend, key)
		}
	}
}

func TestIPHashSpread(t *testing.T) {
	tests := []struct {
		weights []int
		keys    int
	}{
		{equalWeights(5), 5000},
		{[]int{1, 2, 3, 4, 5}, 15000},
		{[]int{1, 10}, 11 * 600},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.weights), func(t *testing.T) {
			bs := newBackends(t, tt.weights...)
			counts := count(t, lb.IPHash{}.Build(bs), bs, testRequests(tt.keys), tt.keys)
			checkChiSquared(t, "IPHash", counts, floats(tt.weights))
		})
	}
}

func TestIPHashRemove(t *testing.T) {
	for _, weights := range [][]int{equalWeights(5), {1, 2, 3, 4, 5}} {
		bs := newBackends(t, weights...)
		reqs := testRequests(10000)
		before := hashMap(t, lb.IPHash{}.Build(bs), bs, reqs)
		for gone := range bs {
			t.Run(fmt.Sprintf("%v/remove%d", weights, gone), func(t *testing.T) {
				rest := slices.Delete(slices.Clone(bs), gone, gone+1)
				after := hashMap(t, lb.IPHash{}.Build(rest), rest, reqs)
				moved := 0
				for k, r := range reqs {
					got := indexOf(bs, rest[after[k]])
					if before[k] == gone {
						moved++
						continue
					}
					if got != before[k] {
						t.Fatalf("Pick(%+v) = backend %d after removing %d, want %d as before", r, got, gone, before[k])
					}
				}
				if moved == 0 {
					t.Errorf("no key of 10000 was on backend %d, want some", gone)
				}
			})
		}
	}
}

func TestIPHashEmptyKey(t *testing.T) {
	weights := []int{1, 2, 3}
	bs := newBackends(t, weights...)
	p := lb.IPHash{Rand: seeded()}.Build(bs)
	counts := count(t, p, bs, []lb.Request{{}}, 6000)
	checkChiSquared(t, "IPHash without key", counts, floats(weights))
}

// referenceIPHash is IPHash's documented scoring, written plainly: the
// backend with the highest -weight/ln(u) wins, u in (0, 1) from the
// splitmix64 finaliser of the key's xxhash xor the backend's.
func referenceIPHash(bs []*lb.Backend, key string) int {
	mix := func(z uint64) uint64 {
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	h := xxhash.Sum64String(key)
	best, bestScore := -1, 0.0
	for i, b := range bs {
		u := (float64(mix(h^b.Hash())>>11) + 0.5) / (1 << 53)
		if s := -float64(b.Weight()) / math.Log(u); best < 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

func TestIPHashMatchesReference(t *testing.T) {
	for _, weights := range [][]int{equalWeights(7), {1, 2, 3, 4, 5}, mixedWeights(100), {1, 1000}} {
		t.Run(fmt.Sprintf("n=%d", len(weights)), func(t *testing.T) {
			bs := newBackends(t, weights...)
			reqs := testRequests(10000)
			got := hashMap(t, lb.IPHash{}.Build(bs), bs, reqs)
			for k, r := range reqs {
				if want := referenceIPHash(bs, r.Key()); got[k] != want {
					t.Fatalf("Pick(%+v) = backend %d, want %d", r, got[k], want)
				}
			}
		})
	}
}
