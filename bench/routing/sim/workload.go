package sim

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Random streams, one per use, so that adding draws to one never shifts
// another.
const (
	streamArrivals uint64 = 1 + iota
	streamInstances
	streamSizes
	streamAntagonist
	streamPolicy // + instance number
)

// Workload is the traffic of one run, drawn up front from a seed: common
// random numbers for every policy run on it. It is read-only once built
// and safe for concurrent use.
type Workload struct {
	Scenario Scenario
	// K is the number of balancer instances.
	K int
	// Load is the arrival rate over the scenario's Capacity.
	Load float64
	// Seed is the seed the traffic was drawn from.
	Seed uint64
	// Rate is the mean arrival rate, per second.
	Rate float64

	arrival []time.Duration // arrival times, increasing
	inst    []uint16        // balancer instance of each request
	size    []float64       // size of each request (mean 1)
	slow    []uint64        // antagonist's set of slowed servers, per period
}

// NewWorkload draws the traffic of scenario s split among k balancer
// instances at the given load.
func NewWorkload(s Scenario, k int, load float64, seed uint64) (*Workload, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if k < 1 || k > 1<<16-1 {
		return nil, fmt.Errorf("sim: %d balancer instances, want 1 to %d", k, 1<<16-1)
	}
	if load <= 0 {
		return nil, fmt.Errorf("sim: load %v, want > 0", load)
	}
	s.Means = append([]time.Duration(nil), s.Means...)
	w := &Workload{Scenario: s, K: k, Load: load, Seed: seed, Rate: load * s.Capacity()}
	w.arrival = s.Arrivals.generate(w.Rate, s.Duration, stream(seed, streamArrivals), nil)
	n := len(w.arrival)
	ri, rs := stream(seed, streamInstances), stream(seed, streamSizes)
	w.inst = make([]uint16, n)
	w.size = make([]float64, n)
	for i := range n {
		w.inst[i] = uint16(ri.IntN(k))
		w.size[i] = s.Service.draw(rs)
	}
	if a := s.Antagonist; a != nil {
		ra := stream(seed, streamAntagonist)
		periods := int(s.Duration/a.Period) + 1
		w.slow = make([]uint64, periods)
		servers := len(s.Means)
		perm := make([]int, servers)
		for p := range w.slow {
			for i := range perm {
				perm[i] = i
			}
			// A partial Fisher-Yates shuffle picks Count distinct servers.
			for j := 0; j < a.Count; j++ {
				x := j + ra.IntN(servers-j)
				perm[j], perm[x] = perm[x], perm[j]
				w.slow[p] |= 1 << uint(perm[j])
			}
		}
	}
	return w, nil
}

// Len returns the number of requests.
func (w *Workload) Len() int { return len(w.arrival) }

// Request returns request i's arrival time, size (see ServiceDist) and
// balancer instance, for replaying the workload outside the simulator.
func (w *Workload) Request(i int) (at time.Duration, size float64, instance int) {
	return w.arrival[i], w.size[i], int(w.inst[i])
}

// MeanAt returns server i's mean service time for a request starting at
// virtual time t: its base mean, times the degrade and antagonist factors
// in force at t.
func (w *Workload) MeanAt(i int, t time.Duration) time.Duration { return w.meanAt(i, t) }

// Failing reports whether server i is a black hole at virtual time t.
func (w *Workload) Failing(i int, t time.Duration) bool { return w.failing(i, t) }

// stream returns the random stream id of the seed.
func stream(seed, id uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, id*0x9e3779b97f4a7c15+0x632be59bd9b4e019))
}

// meanAt returns server i's mean service time for a request starting at t.
func (w *Workload) meanAt(i int, t time.Duration) time.Duration {
	s := &w.Scenario
	m := s.Means[i]
	if d := s.Degrade; d != nil && d.Server == i && t >= d.From && t < d.To {
		m = time.Duration(float64(m) * d.Factor)
	}
	if a := s.Antagonist; a != nil {
		p := int(t / a.Period)
		if p < len(w.slow) && w.slow[p]&(1<<uint(i)) != 0 {
			m = time.Duration(float64(m) * a.Factor)
		}
	}
	return m
}

// failing reports whether server i is a black hole at t.
func (w *Workload) failing(i int, t time.Duration) bool {
	b := w.Scenario.BlackHole
	return b != nil && b.Server == i && t >= b.From
}

// SlowSet returns the bit set of servers the antagonist slows at t (bit i
// for server i), 0 if there is no antagonist.
func (w *Workload) SlowSet(t time.Duration) uint64 {
	a := w.Scenario.Antagonist
	if a == nil || t < 0 {
		return 0
	}
	p := int(t / a.Period)
	if p >= len(w.slow) {
		return 0
	}
	return w.slow[p]
}
