package main

import (
	"fmt"
	"time"

	"github.com/phalanx-lb/phalanx/bench/routing/sim"
)

// Scenario names.
const (
	scHomogeneous   = sim.Homogeneous
	scHeterogeneous = sim.Heterogeneous
	scDegrade       = sim.DegradeName
	scBlackHole     = sim.BlackHoleName
	scBursty        = sim.Bursty
	scAntagonist    = sim.AntagonistName
)

// grid is the set of runs to make.
type grid struct {
	Scenarios []sim.Scenario
	K         []int
	Loads     []float64
	Seeds     int
}

// cell is one scenario at one K and load.
type cell struct {
	Scenario sim.Scenario
	K        int
	Load     float64
}

func (c cell) String() string { return fmt.Sprintf("%s K=%d load=%.1f", c.Scenario.Name, c.K, c.Load) }

// cells lists the grid's cells, scenario by scenario.
func (g grid) cells() []cell {
	var cs []cell
	for _, s := range g.Scenarios {
		for _, k := range g.K {
			for _, l := range g.Loads {
				cs = append(cs, cell{Scenario: s, K: k, Load: l})
			}
		}
	}
	return cs
}

// fullGrid is the benchmark: every scenario at K 1 and 8 and loads 0.5,
// 0.7 and 0.9, ten seeds each.
func fullGrid() grid {
	return grid{Scenarios: scenarios(24*time.Second, 30*time.Second), K: []int{1, 8}, Loads: []float64{0.5, 0.7, 0.9}, Seeds: 10}
}

// quickGrid is a reduced grid for a fast look: shorter runs, the two higher
// loads, three seeds.
func quickGrid() grid {
	return grid{Scenarios: scenarios(8*time.Second, 18*time.Second), K: []int{1, 8}, Loads: []float64{0.7, 0.9}, Seeds: 3}
}

// scenarios returns the benchmark's scenarios; runs last d, the degrade
// scenario's dd.
func scenarios(d, dd time.Duration) []sim.Scenario { return sim.Benchmark(d, dd) }
