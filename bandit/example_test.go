package bandit_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
)

// blackHoleRun sends 4000 requests, four at a time, to three backends: arm
// 0 answers in 10ms, arm 1 in 40ms, and arm 2 is a black hole that
// answers every request with an error in 1ms. It returns the requests
// each arm got, and the policy's report.
func blackHoleRun(p bandit.Bandit) ([]int, []bandit.ArmReport) {
	latency := []time.Duration{10 * time.Millisecond, 40 * time.Millisecond, time.Millisecond}
	arms := []int{0, 1, 2}
	picks := make([]int, len(arms))
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // a fake clock
	var batch [4]int
	for range 1000 {
		for i := range batch {
			batch[i] = p.Choose(arms, now)
			picks[batch[i]]++
		}
		for _, arm := range batch {
			p.Observe(arm, bandit.Outcome{Latency: latency[arm], Failed: arm == 2}, now.Add(latency[arm]))
		}
		now = now.Add(50 * time.Millisecond)
	}
	return picks, p.(bandit.Reporter).Report(now, nil)
}

// The default policy learns from outcomes alone that arm 1 is slow and
// that arm 2, though quick, fails: three failures in a row open arm 2's
// breaker, and from then on it only gets a request now and then, to probe
// it, each failed probe doubling the wait (1s, 2s, 4s, up to 10s). Over
// the 50 seconds of the run, that is about ten requests.
func ExampleAdaptive() {
	p := bandit.NewAdaptive(rand.New(rand.NewPCG(1, 2))) // seeded, to be reproducible
	picks, report := blackHoleRun(p)

	fmt.Println("arm 0 gets most requests:", picks[0] > picks[1]+picks[2])
	fmt.Println("arm 1 gets some, when arm 0 is busy:", picks[1] > 0)
	fmt.Println("arm 2 gets under 1%:", picks[2] < 40)
	fmt.Println("arm 2 gets a dozen at most:", picks[2] <= 12)
	fmt.Println("arm 2's failures did not make it look fast:", report[2].Latency > report[0].Latency)
	// Output:
	// arm 0 gets most requests: true
	// arm 1 gets some, when arm 0 is busy: true
	// arm 2 gets under 1%: true
	// arm 2 gets a dozen at most: true
	// arm 2's failures did not make it look fast: true
}

// Policies are made by name, as the config file names them. PeakEWMA,
// the reference policy, lets failures feed latency, so the black hole
// looks like the fastest backend.
func ExampleNew() {
	for _, name := range []string{bandit.DefaultName, bandit.PeakEWMAName} {
		p, err := bandit.New(name, bandit.Params{}, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			panic(err)
		}
		picks, _ := blackHoleRun(p)
		fmt.Printf("%s: errors under 1%%: %v\n", name, picks[2] < 40)
	}

	_, err := bandit.New("round_robin", bandit.Params{}, nil)
	fmt.Println(errors.Is(err, bandit.ErrUnknownPolicy))
	fmt.Println(err)
	// Output:
	// adaptive: errors under 1%: true
	// peak_ewma: errors under 1%: false
	// true
	// bandit: unknown policy "round_robin" (known: adaptive, epsilon_greedy, ucb1, softmax, thompson_sampling, peak_ewma)
}

// A custom policy needs only Choose and Observe. This one sends each
// request to the candidate with the fewest requests in flight, counting
// them itself between Choose and Observe.
func Example_custom() {
	p := &leastInFlight{inflight: map[int]int{}}
	a := p.Choose([]int{1, 2}, time.Time{})
	b := p.Choose([]int{1, 2}, time.Time{})
	p.Observe(a, bandit.Outcome{Latency: time.Millisecond}, time.Time{})
	c := p.Choose([]int{1, 2}, time.Time{})
	fmt.Println(a, b, c)
	// Output: 1 2 1
}

// leastInFlight is not safe for concurrent use; a real policy would hold
// a mutex in Choose and Observe.
type leastInFlight struct{ inflight map[int]int }

func (p *leastInFlight) Choose(candidates []int, _ time.Time) int {
	best := candidates[0]
	for _, c := range candidates[1:] {
		if p.inflight[c] < p.inflight[best] {
			best = c
		}
	}
	p.inflight[best]++
	return best
}

func (p *leastInFlight) Observe(arm int, _ bandit.Outcome, _ time.Time) { p.inflight[arm]-- }
