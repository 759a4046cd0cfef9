package sim

import (
	"errors"
	"fmt"
	"time"
)

// Scenario is a cluster and the traffic it gets, apart from the arrival
// rate, which a Workload derives from its load.
type Scenario struct {
	// Name identifies the scenario in reports.
	Name string
	// Means are the servers' base mean service times; there are
	// len(Means) servers, at most MaxServers.
	Means []time.Duration
	// Workers is the number of FCFS workers per server (c).
	Workers int
	// Service is the distribution of request sizes.
	Service ServiceDist
	// Arrivals is the arrival process; the zero value is Poisson.
	Arrivals Arrivals
	// Duration is the span of virtual time in which requests arrive.
	// Requests still in flight at the end are run to completion.
	Duration time.Duration
	// Warmup is the initial span whose requests are routed but left out
	// of the statistics.
	Warmup time.Duration
	// Timeout is the client's timeout; 0 means none.
	Timeout time.Duration
	// Degrade, if not nil, slows one server for a while.
	Degrade *Degrade
	// BlackHole, if not nil, makes one server fail every request.
	BlackHole *BlackHole
	// Antagonist, if not nil, slows a few random servers, redrawn every
	// period.
	Antagonist *Antagonist
	// Window is the width of the windows traffic shares are counted in;
	// 0 means 50ms.
	Window time.Duration
}

// MaxServers bounds the number of servers of a Scenario.
const MaxServers = 64

// Degrade multiplies the mean service time of Server by Factor for the
// requests that start in [From, To).
type Degrade struct {
	Server   int
	From, To time.Duration
	Factor   float64
}

// BlackHole makes Server answer every request that reaches it from From
// on with a 5xx after Latency, without queueing.
type BlackHole struct {
	Server  int
	From    time.Duration
	Latency time.Duration
}

// Antagonist multiplies the mean service time of Count servers by Factor;
// the set is drawn at random (from the Workload's seed) at the start of
// every Period.
type Antagonist struct {
	Count  int
	Period time.Duration
	Factor float64
}

// window returns the share-counting window width.
func (s *Scenario) window() time.Duration {
	if s.Window > 0 {
		return s.Window
	}
	return 50 * time.Millisecond
}

// Validate reports the first thing wrong with s.
func (s *Scenario) Validate() error {
	n := len(s.Means)
	switch {
	case n == 0 || n > MaxServers:
		return fmt.Errorf("sim: scenario %q: %d servers, want 1 to %d", s.Name, n, MaxServers)
	case s.Workers < 1:
		return fmt.Errorf("sim: scenario %q: %d workers, want at least 1", s.Name, s.Workers)
	case s.Duration <= 0 || s.Warmup < 0 || s.Warmup >= s.Duration:
		return fmt.Errorf("sim: scenario %q: want 0 <= warmup < duration", s.Name)
	case s.Timeout < 0:
		return fmt.Errorf("sim: scenario %q: negative timeout", s.Name)
	case s.Arrivals.Bursty() && (s.Arrivals.BurstMean <= 0 || s.Arrivals.CalmMean <= 0):
		return fmt.Errorf("sim: scenario %q: bursty arrivals need both dwell means", s.Name)
	}
	for i, m := range s.Means {
		if m <= 0 {
			return fmt.Errorf("sim: scenario %q: server %d has mean %v", s.Name, i, m)
		}
	}
	if d := s.Degrade; d != nil && (d.Server < 0 || d.Server >= n || d.Factor <= 0 || d.From >= d.To) {
		return fmt.Errorf("sim: scenario %q: bad degrade %+v", s.Name, *d)
	}
	if b := s.BlackHole; b != nil && (b.Server < 0 || b.Server >= n || b.Latency < 0) {
		return fmt.Errorf("sim: scenario %q: bad black hole %+v", s.Name, *b)
	}
	if a := s.Antagonist; a != nil && (a.Count < 0 || a.Count > n || a.Period <= 0 || a.Factor <= 0) {
		return fmt.Errorf("sim: scenario %q: bad antagonist %+v", s.Name, *a)
	}
	if s.BlackHole != nil && n == 1 {
		return errors.New("sim: a black hole needs another server")
	}
	return nil
}

// Capacity returns the requests per second the servers can serve at the
// worst moment of the scenario: the sum of workers/mean over the servers,
// less the black hole, the degraded server's lost speed and the lost speed
// of the Count fastest servers the antagonist could slow. A Workload's
// load is its arrival rate over this capacity, so a load below 1 keeps
// the cluster stable at every moment.
func (s *Scenario) Capacity() float64 {
	c := float64(s.Workers)
	total := 0.0
	loss := make([]float64, len(s.Means)) // antagonist's loss per server
	for i, m := range s.Means {
		if b := s.BlackHole; b != nil && b.Server == i {
			continue
		}
		ci := c / m.Seconds()
		if d := s.Degrade; d != nil && d.Server == i && d.Factor > 1 {
			ci /= d.Factor
		}
		total += ci
		if a := s.Antagonist; a != nil && a.Factor > 1 {
			loss[i] = ci * (1 - 1/a.Factor)
		}
	}
	if a := s.Antagonist; a != nil {
		// Take the Count largest losses, by selection.
		for k := 0; k < a.Count && k < len(loss); k++ {
			best := k
			for j := k + 1; j < len(loss); j++ {
				if loss[j] > loss[best] {
					best = j
				}
			}
			loss[k], loss[best] = loss[best], loss[k]
			total -= loss[k]
		}
	}
	return total
}
