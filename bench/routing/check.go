package main

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/phalanx-lb/phalanx/bench/routing/sim"
)

// Thresholds of the criteria.
const (
	maxWorseP99    = 1.05 // (1) default's p99 over peak_ewma's, every cell
	maxHardGeomean = 0.90 // (2) geometric mean over the hard cells
	maxBlackHole   = 0.01 // (3) error rate with a black hole
	maxVsJSQ       = 1.10 // (4) default's p99 over the JSQ oracle's
	maxLeaveS      = 1.0  // (5) seconds for traffic to leave a slowed backend
	maxReturnS     = 5.0  // (5) seconds for it to come back
	maxShareFactor = 1.5  // (6) max backend share over the fair share
	maxP50VsOracle = 1.2  // (6) p50 over the JSQ oracle's
)

// hardScenarios are the scenarios of criterion (2), at hardLoads.
var (
	hardScenarios = []string{scHeterogeneous, scDegrade, scBursty, scAntagonist}
	hardLoads     = []float64{0.7, 0.9}
)

// criterion is the verdict on one acceptance criterion.
type criterion struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Pass bool   `json:"pass"`
	// Measured says what was measured, in a line.
	Measured string `json:"measured"`
	// Failures lists every cell (and policy) that misses it.
	Failures []string `json:"failures,omitempty"`
}

func (c criterion) String() string {
	v := "PASS"
	if !c.Pass {
		v = "FAIL"
	}
	s := fmt.Sprintf("(%d) %s: %s — %s", c.ID, v, c.Name, c.Measured)
	for _, f := range c.Failures {
		s += "\n      " + f
	}
	return s
}

func cellName(c *cellSummary) string {
	return fmt.Sprintf("%s K=%d load=%.1f", c.Scenario, c.K, c.Load)
}

// check evaluates the criteria on the summaries of a grid.
func check(cs []cellSummary) []criterion {
	return []criterion{
		checkNowhereWorse(cs),
		checkHardGeomean(cs),
		checkBlackHole(cs),
		checkVsJSQ(cs),
		checkDegrade(cs),
		checkNoHerding(cs),
	}
}

// forDefault calls f with each cell (of the scenarios given, all if none)
// and its default policy's summary, and records a failure for cells that
// lack it.
func forDefault(cs []cellSummary, c *criterion, scenarios []string, f func(*cellSummary, *policySummary)) int {
	n := 0
	for i := range cs {
		cell := &cs[i]
		if len(scenarios) > 0 && !slices.Contains(scenarios, cell.Scenario) {
			continue
		}
		p := cell.policy(polDefault)
		if p == nil {
			c.Failures = append(c.Failures, cellName(cell)+": no results for "+polDefault)
			continue
		}
		n++
		f(cell, p)
	}
	if n == 0 {
		c.Failures = append(c.Failures, "no cells to judge")
	}
	return n
}

func checkNowhereWorse(cs []cellSummary) criterion {
	c := criterion{ID: 1, Name: fmt.Sprintf("%s p99 at most %.2f× peak_ewma's in every cell (geometric mean of per-seed ratios)", polDefault, maxWorseP99)}
	worst, where := 0.0, ""
	forDefault(cs, &c, nil, func(cell *cellSummary, p *policySummary) {
		if p.P99RatioGeomean > worst {
			worst, where = p.P99RatioGeomean, cellName(cell)
		}
		if !(p.P99RatioGeomean <= maxWorseP99) {
			c.Failures = append(c.Failures, fmt.Sprintf("%s: ratio %.3f (median %.3f; p99 %.1fms vs %.1fms)",
				cellName(cell), p.P99RatioGeomean, p.P99RatioMedian, p.P99, cell.p99(polPeakEWMA)))
		}
	})
	c.Measured = fmt.Sprintf("worst ratio %.3f (%s)", worst, where)
	c.Pass = len(c.Failures) == 0
	return c
}

func checkHardGeomean(cs []cellSummary) criterion {
	c := criterion{ID: 2, Name: fmt.Sprintf("geometric mean of %s's p99 ratio to peak_ewma over the %s cells at loads 0.7 and 0.9 at most %.2f",
		polDefault, strings.Join(hardScenarios, ", "), maxHardGeomean)}
	var logs []float64
	for i := range cs {
		cell := &cs[i]
		if !slices.Contains(hardScenarios, cell.Scenario) || !slices.Contains(hardLoads, cell.Load) {
			continue
		}
		p := cell.policy(polDefault)
		if p == nil {
			c.Failures = append(c.Failures, cellName(cell)+": no results for "+polDefault)
			continue
		}
		logs = append(logs, p.P99RatioGeomean)
	}
	g := geomean(logs)
	c.Measured = fmt.Sprintf("%.3f over %d cells", g, len(logs))
	if !(g <= maxHardGeomean) {
		c.Failures = append(c.Failures, fmt.Sprintf("geometric mean %.3f > %.2f", g, maxHardGeomean))
	}
	c.Pass = len(c.Failures) == 0
	return c
}

func checkBlackHole(cs []cellSummary) criterion {
	c := criterion{ID: 3, Name: fmt.Sprintf("%s error rate at most %.0f%% with a black hole", polDefault, 100*maxBlackHole)}
	worst := 0.0
	forDefault(cs, &c, []string{scBlackHole}, func(cell *cellSummary, p *policySummary) {
		worst = max(worst, p.ErrorRate)
		if !(p.ErrorRate <= maxBlackHole) {
			c.Failures = append(c.Failures, fmt.Sprintf("%s: error rate %.2f%%", cellName(cell), 100*p.ErrorRate))
		}
	})
	c.Measured = fmt.Sprintf("worst error rate %.2f%%", 100*worst)
	c.Pass = len(c.Failures) == 0
	return c
}

func checkVsJSQ(cs []cellSummary) criterion {
	c := criterion{ID: 4, Name: fmt.Sprintf("%s p99 at most %.2f× the JSQ oracle's in every cell", polDefault, maxVsJSQ)}
	worst, where := 0.0, ""
	forDefault(cs, &c, nil, func(cell *cellSummary, p *policySummary) {
		if p.P99VsJSQ > worst {
			worst, where = p.P99VsJSQ, cellName(cell)
		}
		if !(p.P99VsJSQ <= maxVsJSQ) {
			c.Failures = append(c.Failures, fmt.Sprintf("%s: ratio %.3f (p99 %.1fms vs %.1fms)",
				cellName(cell), p.P99VsJSQ, p.P99, cell.p99(sim.JSQName)))
		}
	})
	c.Measured = fmt.Sprintf("worst ratio %.3f (%s)", worst, where)
	c.Pass = len(c.Failures) == 0
	return c
}

func checkDegrade(cs []cellSummary) criterion {
	c := criterion{ID: 5, Name: fmt.Sprintf("degrade: traffic leaves the slowed backend within %.0fs and returns within %.0fs of recovery (medians over seeds)", maxLeaveS, maxReturnS)}
	worstL, worstR := 0.0, 0.0
	forDefault(cs, &c, []string{scDegrade}, func(cell *cellSummary, p *policySummary) {
		l, r := inf(p.LeaveS), inf(p.ReturnS)
		worstL, worstR = math.Max(worstL, l), math.Max(worstR, r)
		if !(l <= maxLeaveS) || !(r <= maxReturnS) {
			c.Failures = append(c.Failures, fmt.Sprintf("%s: leaves after %s, returns after %s", cellName(cell), fmtTiming(p.LeaveS), fmtTiming(p.ReturnS)))
		}
	})
	c.Measured = fmt.Sprintf("slowest leave %s, slowest return %s", fmtSecs(worstL), fmtSecs(worstR))
	c.Pass = len(c.Failures) == 0
	return c
}

func checkNoHerding(cs []cellSummary) criterion {
	c := criterion{ID: 6, Name: fmt.Sprintf("no herding in %s: %s each keep the max backend share at most %.1f× fair and p50 at most %.1f× the JSQ oracle's",
		scHomogeneous, strings.Join(referencePolicies, ", "), maxShareFactor, maxP50VsOracle)}
	worstShare, worstP50 := 0.0, 0.0
	n := 0
	for i := range cs {
		cell := &cs[i]
		if cell.Scenario != scHomogeneous {
			continue
		}
		jsq := cell.policy(sim.JSQName)
		for _, name := range referencePolicies {
			p := cell.policy(name)
			if p == nil || jsq == nil {
				c.Failures = append(c.Failures, fmt.Sprintf("%s: no results for %s or the JSQ oracle", cellName(cell), name))
				continue
			}
			n++
			share := p.MaxShare * float64(cell.Servers)
			p50 := p.P50 / jsq.P50
			worstShare, worstP50 = max(worstShare, share), max(worstP50, p50)
			if !(share <= maxShareFactor) || !(p50 <= maxP50VsOracle) {
				c.Failures = append(c.Failures, fmt.Sprintf("%s %s: max share %.2f× fair, p50 %.2f× the oracle's", cellName(cell), name, share, p50))
			}
		}
	}
	if n == 0 {
		c.Failures = append(c.Failures, "no cells to judge")
	}
	c.Measured = fmt.Sprintf("worst max share %.2f× fair, worst p50 %.2f× the oracle's", worstShare, worstP50)
	c.Pass = len(c.Failures) == 0
	return c
}

// inf returns *p, or +Inf for nil or a negative value ("never").
func inf(p *float64) float64 {
	if p == nil || *p < 0 {
		return math.Inf(1)
	}
	return *p
}

func fmtSecs(s float64) string {
	if math.IsInf(s, 1) {
		return "never"
	}
	return fmt.Sprintf("%.2fs", s)
}

func fmtTiming(p *float64) string { return fmtSecs(inf(p)) }
