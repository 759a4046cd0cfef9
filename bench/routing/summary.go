package main

import (
	"math"
	"slices"
	"time"

	"github.com/phalanx-lb/phalanx/bench/routing/sim"
)

// cellSummary is what the reports show of one cell.
type cellSummary struct {
	Scenario string  `json:"scenario"`
	K        int     `json:"k"`
	Load     float64 `json:"load"`
	// Servers is the number of backends.
	Servers int `json:"servers"`
	// Rate is the mean arrival rate, per second.
	Rate float64 `json:"rate"`
	// Requests is the median number of requests counted per run.
	Requests int             `json:"requests"`
	Policies []policySummary `json:"policies"`
}

// policySummary sums up one policy's runs in a cell: medians over the
// seeds, and ratios paired by seed.
type policySummary struct {
	Policy string `json:"policy"`
	// P50, P99 and P999 are in milliseconds.
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	P999      float64 `json:"p999_ms"`
	ErrorRate float64 `json:"error_rate"`
	// SettledErrorRate is the error rate of the requests that arrived at
	// least sim.Settle after a black hole opened (black hole only).
	SettledErrorRate *float64 `json:"settled_error_rate,omitempty"`
	MaxShare         float64  `json:"max_share"`
	// P99Ratio is the policy's p99 over peak_ewma's on the same seed:
	// the median and the geometric mean over seeds.
	P99RatioMedian  float64 `json:"p99_ratio_median"`
	P99RatioGeomean float64 `json:"p99_ratio_geomean"`
	// P99VsJSQ is the geometric mean over seeds of p99 over the JSQ
	// oracle's p99.
	P99VsJSQ float64 `json:"p99_vs_jsq_geomean"`
	// LeaveS and ReturnS are the median degrade timings in seconds
	// (degrade only); -1 means never, in at least half of the seeds.
	LeaveS  *float64 `json:"leave_s,omitempty"`
	ReturnS *float64 `json:"return_s,omitempty"`
}

// summarize sums up the runs of a cell. pols names the policies of r, in
// order.
func summarize(c cell, r runs, pols []string) cellSummary {
	w := cellSummary{
		Scenario: c.Scenario.Name,
		K:        c.K,
		Load:     c.Load,
		Servers:  len(c.Scenario.Means),
		Rate:     c.Load * c.Scenario.Capacity(),
	}
	ref := slices.Index(pols, polPeakEWMA)
	jsq := slices.Index(pols, sim.JSQName)
	reqs := make([]float64, 0, len(r[0]))
	for _, res := range r[0] {
		reqs = append(reqs, float64(res.Requests))
	}
	w.Requests = int(median(reqs))
	for p, name := range pols {
		rs := r[p]
		s := policySummary{
			Policy:    name,
			P50:       median(field(rs, func(x sim.Result) float64 { return ms(x.P50) })),
			P99:       median(field(rs, func(x sim.Result) float64 { return ms(x.P99) })),
			P999:      median(field(rs, func(x sim.Result) float64 { return ms(x.P999) })),
			ErrorRate: median(field(rs, func(x sim.Result) float64 { return x.ErrorRate() })),
			MaxShare:  median(field(rs, func(x sim.Result) float64 { return x.MaxShare })),
		}
		if ref >= 0 {
			ratios := paired(rs, r[ref])
			s.P99RatioMedian, s.P99RatioGeomean = median(ratios), geomean(ratios)
		}
		if jsq >= 0 {
			s.P99VsJSQ = geomean(paired(rs, r[jsq]))
		}
		if c.Scenario.BlackHole != nil {
			e := median(field(rs, func(x sim.Result) float64 { return x.SettledErrorRate() }))
			s.SettledErrorRate = &e
		}
		if c.Scenario.Degrade != nil {
			l := timing(field(rs, func(x sim.Result) float64 { return secsOrInf(x.Leave) }))
			t := timing(field(rs, func(x sim.Result) float64 { return secsOrInf(x.Return) }))
			s.LeaveS, s.ReturnS = &l, &t
		}
		w.Policies = append(w.Policies, s)
	}
	return w
}

// p99 returns the named policy's p99 in milliseconds, NaN if it has none.
func (c *cellSummary) p99(name string) float64 {
	if p := c.policy(name); p != nil {
		return p.P99
	}
	return math.NaN()
}

// policy returns the summary of the named policy, or nil.
func (c *cellSummary) policy(name string) *policySummary {
	for i := range c.Policies {
		if c.Policies[i].Policy == name {
			return &c.Policies[i]
		}
	}
	return nil
}

func field(rs []sim.Result, f func(sim.Result) float64) []float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = f(r)
	}
	return xs
}

// paired returns a's p99 over b's, seed by seed.
func paired(a, b []sim.Result) []float64 {
	xs := make([]float64, len(a))
	for i := range a {
		xs[i] = a[i].P99.Seconds() / b[i].P99.Seconds()
	}
	return xs
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }

// secsOrInf returns d in seconds, or +Inf for a negative d ("never").
func secsOrInf(d time.Duration) float64 {
	if d < 0 {
		return math.Inf(1)
	}
	return d.Seconds()
}

// timing returns the median of xs to the millisecond, or -1 if it is
// infinite.
func timing(xs []float64) float64 {
	m := median(xs)
	if math.IsInf(m, 1) {
		return -1
	}
	return math.Round(m*1e3) / 1e3
}

// median returns the median of xs (the mean of the middle two for an even
// count), NaN for none. It does not modify xs.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	if math.IsInf(s[n/2], 1) {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// geomean returns the geometric mean of xs, which must be positive; NaN
// for none.
func geomean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	sum := 0.0
	for _, x := range xs {
		sum += math.Log(x)
	}
	return math.Exp(sum / float64(len(xs)))
}
