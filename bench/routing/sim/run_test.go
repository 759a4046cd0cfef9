package sim

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
)

// small returns a short scenario for tests.
func small(name string, n int) Scenario {
	means := make([]time.Duration, n)
	for i := range means {
		means[i] = 10 * time.Millisecond
	}
	return Scenario{
		Name:     name,
		Means:    means,
		Workers:  4,
		Duration: 4 * time.Second,
		Warmup:   500 * time.Millisecond,
		Timeout:  time.Second,
	}
}

func mustWorkload(t *testing.T, s Scenario, k int, load float64, seed uint64) *Workload {
	t.Helper()
	w, err := NewWorkload(s, k, load, seed)
	if err != nil {
		t.Fatalf("NewWorkload(%s) = %v", s.Name, err)
	}
	return w
}

func mustRun(t *testing.T, w *Workload, p Policy) Result {
	t.Helper()
	res, err := Run(w, p, 99)
	if err != nil {
		t.Fatalf("Run(%s, %s) = %v", w.Scenario.Name, p.Name, err)
	}
	return res
}

func allPolicies() []Policy {
	return []Policy{RoundRobin(), LeastConn(), P2C(), JSQ(), EarliestFinish()}
}

func TestRunDeterministic(t *testing.T) {
	s := small("hom", 5)
	s.Arrivals = Arrivals{BurstRatio: 2, BurstMean: 100 * time.Millisecond, CalmMean: 400 * time.Millisecond}
	for _, p := range allPolicies() {
		t.Run(p.Name, func(t *testing.T) {
			w := mustWorkload(t, s, 3, 0.8, 5)
			a := mustRun(t, w, p)
			b := mustRun(t, mustWorkload(t, s, 3, 0.8, 5), p)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("two runs differ:\n%+v\n%+v", a, b)
			}
			// A run must not change the Workload it reads.
			mustRun(t, w, JSQ())
			if c := mustRun(t, w, p); !reflect.DeepEqual(a, c) {
				t.Errorf("run after another policy differs:\n%+v\n%+v", a, c)
			}
		})
	}
}

func TestWorkloadCommonRandomNumbers(t *testing.T) {
	s := small("het", 4)
	s.Service = ServiceDist{Kind: Bimodal}
	a, b := mustWorkload(t, s, 8, 0.7, 11), mustWorkload(t, s, 8, 0.7, 11)
	if !reflect.DeepEqual(a, b) {
		t.Error("NewWorkload with the same seed gave different workloads")
	}
	c := mustWorkload(t, s, 8, 0.7, 12)
	if reflect.DeepEqual(a.arrival, c.arrival) || reflect.DeepEqual(a.size, c.size) {
		t.Error("NewWorkload with different seeds gave the same traffic")
	}
	// Changing the split or the sizes' distribution leaves the arrivals
	// alone: each has its own stream.
	d := mustWorkload(t, s, 2, 0.7, 11)
	s.Service = ServiceDist{}
	e := mustWorkload(t, s, 8, 0.7, 11)
	if !reflect.DeepEqual(a.arrival, d.arrival) || !reflect.DeepEqual(a.arrival, e.arrival) || !reflect.DeepEqual(a.inst, e.inst) {
		t.Error("changing K or the service distribution changed other draws")
	}
}

// recorder wraps a Router and checks the Choose/Observe protocol.
type recorder struct {
	t        *testing.T
	r        Router
	inflight map[int]int
	timeout  time.Duration
	last     time.Duration
	outcomes []bandit.Outcome
}

func (c *recorder) Choose(req Request, now time.Duration) int {
	if now < c.last {
		c.t.Errorf("Choose at %v after an event at %v", now, c.last)
	}
	c.last = now
	s := c.r.Choose(req, now)
	c.inflight[s]++
	return s
}

func (c *recorder) Observe(s int, o bandit.Outcome, now time.Duration) {
	if now < c.last {
		c.t.Errorf("Observe at %v after an event at %v", now, c.last)
	}
	c.last = now
	c.inflight[s]--
	if c.inflight[s] < 0 {
		c.t.Errorf("Observe(%d) without a Choose", s)
	}
	if o.TimedOut && (!o.Failed || o.Latency != c.timeout) {
		c.t.Errorf("timeout outcome = %+v, want Failed and Latency %v", o, c.timeout)
	}
	if !o.Failed && o.Latency > c.timeout {
		c.t.Errorf("success after %v, over the timeout %v", o.Latency, c.timeout)
	}
	c.outcomes = append(c.outcomes, o)
}

func TestRouterProtocol(t *testing.T) {
	s := small("overload", 3)
	s.BlackHole = &BlackHole{Server: 0, From: time.Second, Latency: time.Millisecond}
	for _, p := range allPolicies() {
		t.Run(p.Name, func(t *testing.T) {
			var recs []*recorder
			wrapped := Policy{Name: p.Name, New: func(c *Cluster, r *rand.Rand) (Router, error) {
				inner, err := p.New(c, r)
				rec := &recorder{t: t, r: inner, inflight: map[int]int{}, timeout: s.Timeout}
				recs = append(recs, rec)
				return rec, err
			}}
			// Load 2.5 overloads the working servers even when a third of it
			// goes to the black hole, so requests time out.
			w := mustWorkload(t, s, 2, 2.5, 3)
			res := mustRun(t, w, wrapped)
			n := 0
			for _, rec := range recs {
				n += len(rec.outcomes)
				for srv, k := range rec.inflight {
					if k != 0 {
						t.Errorf("server %d has %d in flight at the end", srv, k)
					}
				}
			}
			if n != w.Len() {
				t.Errorf("%d outcomes for %d requests", n, w.Len())
			}
			if res.TimedOut == 0 {
				t.Errorf("no timeouts under overload: %+v", res)
			}
			if res.P999 != s.Timeout {
				t.Errorf("P999 = %v, want the timeout %v (failures count as the timeout)", res.P999, s.Timeout)
			}
		})
	}
}

func TestBlackHole(t *testing.T) {
	s := small("blackhole", 5)
	s.BlackHole = &BlackHole{Server: 2, From: s.Warmup, Latency: time.Millisecond}
	w := mustWorkload(t, s, 1, 0.5, 1)
	tests := []struct {
		p            Policy
		minErr, maxE float64
	}{
		{RoundRobin(), 0.19, 0.21},
		{JSQ(), 0, 0},
		{EarliestFinish(), 0, 0},
	}
	for _, tt := range tests {
		res := mustRun(t, w, tt.p)
		if e := res.ErrorRate(); e < tt.minErr || e > tt.maxE {
			t.Errorf("%s: error rate = %.4f, want in [%v, %v]", tt.p.Name, e, tt.minErr, tt.maxE)
		}
		if e := res.SettledErrorRate(); e < tt.minErr || e > tt.maxE || res.SettledRequests < res.Requests/2 {
			t.Errorf("%s: settled error rate = %.4f over %d requests, want in [%v, %v]", tt.p.Name, e, res.SettledRequests, tt.minErr, tt.maxE)
		}
	}
}

func TestDegradeTimes(t *testing.T) {
	s := small("degrade", 5)
	s.Duration = 9 * time.Second
	s.Degrade = &Degrade{Server: 1, From: 3 * time.Second, To: 6 * time.Second, Factor: 10}
	w := mustWorkload(t, s, 1, 0.7, 2)
	rr := mustRun(t, w, RoundRobin())
	if rr.Leave != -1 {
		t.Errorf("round robin: Leave = %v, want -1 (never)", rr.Leave)
	}
	if rr.Return != 0 {
		t.Errorf("round robin: Return = %v, want 0 (it never left)", rr.Return)
	}
	ef := mustRun(t, w, EarliestFinish())
	if ef.Leave < 0 || ef.Leave > 200*time.Millisecond {
		t.Errorf("earliest finish: Leave = %v, want within 200ms", ef.Leave)
	}
	if ef.Return < 0 || ef.Return > 500*time.Millisecond {
		t.Errorf("earliest finish: Return = %v, want within 500ms", ef.Return)
	}
}

func TestAntagonist(t *testing.T) {
	s := small("antagonist", 10)
	s.Duration = 20 * time.Second
	s.Antagonist = &Antagonist{Count: 3, Period: 2 * time.Second, Factor: 3}
	w := mustWorkload(t, s, 1, 0.5, 4)
	seen := map[uint64]bool{}
	for at := time.Duration(0); at < s.Duration; at += 500 * time.Millisecond {
		set := w.SlowSet(at)
		if n := bits.OnesCount64(set); n != 3 {
			t.Errorf("SlowSet(%v) = %b, %d servers, want 3", at, set, n)
		}
		if set != w.SlowSet(at/(2*time.Second)*(2*time.Second)) {
			t.Errorf("SlowSet(%v) changed within its period", at)
		}
		seen[set] = true
		for i := range 10 {
			want := s.Means[i]
			if set&(1<<i) != 0 {
				want *= 3
			}
			if got := w.meanAt(i, at); got != want {
				t.Errorf("meanAt(%d, %v) = %v, want %v", i, at, got, want)
			}
		}
	}
	if len(seen) < 5 {
		t.Errorf("%d distinct slow sets in 10 periods, want them redrawn", len(seen))
	}
}

func TestCapacity(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		s    Scenario
		want float64
	}{
		{"one server", Scenario{Means: []time.Duration{10 * ms}, Workers: 1}, 100},
		{"heterogeneous", Scenario{Means: []time.Duration{10 * ms, 10 * ms, 30 * ms}, Workers: 3}, 700},
		{"black hole", Scenario{Means: []time.Duration{10 * ms, 10 * ms}, Workers: 1, BlackHole: &BlackHole{Server: 1}}, 100},
		{"degrade", Scenario{Means: []time.Duration{10 * ms, 10 * ms}, Workers: 1, Degrade: &Degrade{Server: 0, Factor: 10}}, 110},
		{"antagonist", Scenario{Means: []time.Duration{10 * ms, 20 * ms, 10 * ms}, Workers: 2, Antagonist: &Antagonist{Count: 2, Factor: 4}}, 50 + 100 + 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Capacity(); got < tt.want-1e-9 || got > tt.want+1e-9 {
				t.Errorf("Capacity() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBenchmarkScenarios(t *testing.T) {
	want := map[string]float64{
		Homogeneous:    4000,
		Heterogeneous:  8*400 + 2*400.0/3,
		DegradeName:    9*400 + 40,
		BlackHoleName:  9 * 400,
		Bursty:         4000,
		AntagonistName: 7*400 + 3*400.0/3,
	}
	ss := Benchmark(24*time.Second, 30*time.Second)
	if len(ss) != len(want) {
		t.Fatalf("Benchmark() has %d scenarios, want %d", len(ss), len(want))
	}
	for _, s := range ss {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v", s.Name, err)
		}
		if got := s.Capacity(); math.Abs(got-want[s.Name]) > 1e-6 {
			t.Errorf("%s: Capacity() = %v, want %v", s.Name, got, want[s.Name])
		}
	}
}
