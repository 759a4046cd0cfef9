package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
	"github.com/phalanx-lb/phalanx/bench/routing/sim"
)

// The floor experiment (-floor) asks how close any balancer that sees
// only its own traffic gets to the JSQ oracle's median latency in the
// cell where criterion 6 is hardest: homogeneous, 8 instances, load 0.9.
// Each instance there sees an eighth of the requests in flight, so the
// question is what local information allows, whatever the policy. It
// runs the reference policies as the grid does, their exploration turned
// off where a knob allows it, the default with latency memories from 1s
// to 100s, and the classic balancers, on the grid's seeds of that cell.

// floorCell is the cell the floor experiment runs, at the run length of
// grid g.
func floorCell(g grid) cell {
	for _, s := range g.Scenarios {
		if s.Name == scHomogeneous {
			return cell{Scenario: s, K: 8, Load: 0.9}
		}
	}
	panic("no homogeneous scenario in the grid")
}

// floorPolicies returns the JSQ oracle and the local policies of the floor
// experiment.
func floorPolicies() []sim.Policy {
	ps := []sim.Policy{sim.JSQ()}
	for _, n := range referencePolicies {
		ps = append(ps, phalanxPolicy(n))
	}
	tuned := func(name string, f func(*rand.Rand) bandit.Bandit) sim.Policy {
		return sim.BanditPolicy(name, func(r *rand.Rand) (bandit.Bandit, error) { return f(r), nil })
	}
	ps = append(ps,
		tuned("epsilon_greedy Epsilon=-1", func(r *rand.Rand) bandit.Bandit {
			p := bandit.NewEpsilonGreedy(r)
			p.Epsilon = -1
			return p
		}),
		tuned("ucb1 C=-1", func(r *rand.Rand) bandit.Bandit {
			p := bandit.NewUCB1(r)
			p.C = -1
			return p
		}),
		tuned("softmax Temperature=0.1", func(r *rand.Rand) bandit.Bandit {
			p := bandit.NewSoftmax(r)
			p.Temperature = 0.1
			return p
		}),
		phalanxPolicy(polDefault),
	)
	for _, d := range []time.Duration{2 * time.Second, 10 * time.Second, 30 * time.Second, 100 * time.Second} {
		ps = append(ps, tuned(fmt.Sprintf("%s LatencyDecay=%s", polDefault, d), func(r *rand.Rand) bandit.Bandit {
			p := bandit.NewAdaptive(r)
			p.LatencyDecay = d
			return p
		}))
	}
	ps = append(ps,
		tuned(polDefault+" PeakLatency", func(r *rand.Rand) bandit.Bandit {
			p := bandit.NewAdaptive(r)
			p.PeakLatency = true
			return p
		}),
		phalanxPolicy(polPeakEWMA),
		sim.LeastConn(), sim.P2C(), sim.RoundRobin(),
	)
	return ps
}

// runFloor runs the floor experiment at the run length and seeds of g and
// writes its table to out: per policy, the medians over seeds of p50 and
// p99, each over the JSQ oracle's, and of the max backend share over the
// fair share, the figures of criterion 6.
func runFloor(g grid, par int, out, progress io.Writer) error {
	c := floorCell(g)
	pols := floorPolicies()
	rs, err := runGrid([]cell{c}, g.Seeds, pols, par, progress)
	if err != nil {
		return err
	}
	names := make([]string, len(pols))
	for i, p := range pols {
		names[i] = p.Name
	}
	s := summarize(c, rs[0], names)
	jsq := s.policy(sim.JSQName)
	fmt.Fprintf(out, "%s, %d seeds: local policies against the JSQ oracle\n", c, g.Seeds)
	fmt.Fprintf(out, "%-36s %8s %8s %8s %8s %6s\n", "policy", "p50_ms", "p50/jsq", "p99_ms", "p99/jsq", "share")
	for _, p := range s.Policies {
		fmt.Fprintf(out, "%-36s %8.2f %8.3f %8.2f %8.3f %6.2f\n", p.Policy, p.P50, p.P50/jsq.P50, p.P99, p.P99/jsq.P99, p.MaxShare*float64(s.Servers))
	}
	return nil
}
