package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/phalanx-lb/phalanx/bench/routing/sim"
)

// Pairs the simulator tells clearly apart: p99 more than clearRatio apart,
// or error rates more than clearErr apart.
const (
	clearRatio = 1.10
	clearErr   = 0.01
)

// scenarioReport compares the live and simulated runs of one scenario.
type scenarioReport struct {
	Scenario string
	Load     float64
	Requests int
	Live     []liveResult // by policy, in the order asked
	Sim      []sim.Result
}

// compare runs every policy live and in the simulator on the same
// workload of s.
func compare(ctx context.Context, s sim.Scenario, load float64, seed uint64, pols []string, progress io.Writer) (scenarioReport, error) {
	w, err := sim.NewWorkload(s, 1, load, seed)
	if err != nil {
		return scenarioReport{}, err
	}
	rep := scenarioReport{Scenario: s.Name, Load: load, Requests: w.Len()}
	for _, name := range pols {
		t0 := time.Now()
		lr, err := liveRun(ctx, w, name, seed)
		if err != nil {
			return rep, err
		}
		sr, err := sim.Run(w, simPolicy(name), seed)
		if err != nil {
			return rep, err
		}
		if progress != nil {
			fmt.Fprintf(progress, "%s %s: live p99 %v errors %.2f%% (sends late by %v at p99), sim p99 %v errors %.2f%% (%v)\n", s.Name, name,
				lr.P99.Round(10*time.Microsecond), 100*lr.ErrorRate(), lr.LateP99.Round(10*time.Microsecond),
				sr.P99.Round(10*time.Microsecond), 100*sr.ErrorRate(), time.Since(t0).Round(time.Second))
		}
		rep.Live = append(rep.Live, lr)
		rep.Sim = append(rep.Sim, sr)
	}
	return rep, nil
}

// better reports whether a ranks before b: lower p99, then fewer errors.
func better(a, b sim.Result) bool {
	if a.P99 != b.P99 {
		return a.P99 < b.P99
	}
	return a.ErrorRate() < b.ErrorRate()
}

// order returns the policy indices sorted best first.
func order(rs []sim.Result) []int {
	idx := make([]int, len(rs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		switch {
		case better(rs[i], rs[j]):
			return -1
		case better(rs[j], rs[i]):
			return 1
		}
		return 0
	})
	return idx
}

// results returns the simulator's figures of live results.
func results(ls []liveResult) []sim.Result {
	rs := make([]sim.Result, len(ls))
	for i, l := range ls {
		rs[i] = l.Result
	}
	return rs
}

// kendallTau returns Kendall's tau-b between the two rankings by better.
func kendallTau(a, b []sim.Result) float64 {
	var conc, disc, tieA, tieB float64
	for i := range a {
		for j := i + 1; j < len(a); j++ {
			x := cmpRes(a[i], a[j])
			y := cmpRes(b[i], b[j])
			switch {
			case x == 0 && y == 0:
			case x == 0:
				tieA++
			case y == 0:
				tieB++
			case x == y:
				conc++
			default:
				disc++
			}
		}
	}
	d := (conc + disc + tieA) * (conc + disc + tieB)
	if d == 0 {
		return 1
	}
	return (conc - disc) / math.Sqrt(d)
}

func cmpRes(a, b sim.Result) int {
	switch {
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

// clearlyApart reports whether the simulator tells a and b clearly apart.
func clearlyApart(a, b sim.Result) bool {
	hi, lo := max(a.P99, b.P99), min(a.P99, b.P99)
	if lo > 0 && float64(hi)/float64(lo) > clearRatio {
		return true
	}
	d := a.ErrorRate() - b.ErrorRate()
	return d > clearErr || -d > clearErr
}

// disagreements lists the pairs the simulator tells clearly apart that the
// live run orders the other way, and counts the clear pairs.
func (r *scenarioReport) disagreements(names []string) (bad []string, clear int) {
	for i := range r.Sim {
		for j := i + 1; j < len(r.Sim); j++ {
			if !clearlyApart(r.Sim[i], r.Sim[j]) {
				continue
			}
			clear++
			if cmpRes(r.Sim[i], r.Sim[j]) != cmpRes(r.Live[i].Result, r.Live[j].Result) {
				bad = append(bad, fmt.Sprintf("%s vs %s", names[i], names[j]))
			}
		}
	}
	return bad, clear
}

func (r *scenarioReport) names() []string {
	n := make([]string, len(r.Sim))
	for i, s := range r.Sim {
		n[i] = s.Policy
	}
	return n
}

// markdown renders the comparison.
func (r *scenarioReport) markdown() string {
	var b strings.Builder
	names := r.names()
	fmt.Fprintf(&b, "#### %s, load %.1f, %d requests\n\n", r.Scenario, r.Load, r.Requests)
	fmt.Fprintf(&b, "| policy | live p50 ms | live p99 ms | live errors | sim p50 ms | sim p99 ms | sim errors | sends late at p99 ms |\n|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for i := range r.Sim {
		l, s := r.Live[i], r.Sim[i]
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f%% | %.2f | %.2f | %.2f%% | %.2f |\n", names[i],
			ms(l.P50), ms(l.P99), 100*l.ErrorRate(), ms(s.P50), ms(s.P99), 100*s.ErrorRate(), ms(l.LateP99))
	}
	ord := func(rs []sim.Result) string {
		var parts []string
		for _, i := range order(rs) {
			parts = append(parts, names[i])
		}
		return strings.Join(parts, " < ")
	}
	live := results(r.Live)
	fmt.Fprintf(&b, "\n- simulator, by p99 then errors: %s\n- live: %s\n", ord(r.Sim), ord(live))
	bad, clear := r.disagreements(names)
	fmt.Fprintf(&b, "- Kendall's tau %.2f; the live run agrees on %d of the %d pairs the simulator tells clearly apart", kendallTau(r.Sim, live), clear-len(bad), clear)
	if len(bad) > 0 {
		fmt.Fprintf(&b, " (not on %s)", strings.Join(bad, ", "))
	}
	b.WriteString("\n\n")
	return b.String()
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }
