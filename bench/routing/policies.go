package main

import (
	"math/rand/v2"

	"github.com/phalanx-lb/phalanx/bandit"
	"github.com/phalanx-lb/phalanx/bench/routing/sim"
)

// Policy names from package bandit.
const (
	polDefault  = bandit.DefaultName // "adaptive"
	polPeakEWMA = "peak_ewma"
)

// referencePolicies are the four textbook bandits, made load-aware.
var referencePolicies = []string{"epsilon_greedy", "ucb1", "softmax", "thompson_sampling"}

// policies returns every policy of the benchmark, in report order: the
// default, the comparator, the reference bandits, the classic balancers,
// the oracles.
func policies() []sim.Policy {
	ps := []sim.Policy{phalanxPolicy(polDefault), phalanxPolicy(polPeakEWMA)}
	for _, n := range referencePolicies {
		ps = append(ps, phalanxPolicy(n))
	}
	return append(ps, sim.P2C(), sim.LeastConn(), sim.RoundRobin(), sim.JSQ(), sim.EarliestFinish())
}

// phalanxPolicy returns the bandit policy name of package bandit, with
// default parameters.
func phalanxPolicy(name string) sim.Policy {
	return sim.BanditPolicy(name, func(r *rand.Rand) (bandit.Bandit, error) {
		return bandit.New(name, bandit.Params{}, r)
	})
}
