package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRewriteSection(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    string
		wantErr bool
	}{
		{"replaces", "a\n" + beginMarker + "\nold\n" + endMarker + "\nb\n", "a\n" + beginMarker + "\nnew\n" + endMarker + "\nb\n", false},
		{"empty section", beginMarker + endMarker, beginMarker + "\nnew\n" + endMarker, false},
		{"no begin", "a\n" + endMarker, "", true},
		{"no end", beginMarker + "\n", "", true},
		{"wrong order", endMarker + "\n" + beginMarker, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rewriteSection([]byte(tt.doc), []byte("\nnew\n\n"))
			if tt.wantErr {
				if !errors.Is(err, errMarkers) {
					t.Errorf("rewriteSection() error = %v, want errMarkers", err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("rewriteSection() = %q, %v, want %q", got, err, tt.want)
			}
			// Rewriting again gives the same document.
			again, err := rewriteSection(got, []byte("new"))
			if err != nil || string(again) != string(got) {
				t.Errorf("second rewriteSection() = %q, %v, want %q", again, err, got)
			}
		})
	}
}

func TestMedianGeomean(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		xs            []float64
		median, gmean float64
	}{
		{[]float64{3, 1, 2}, 2, math.Cbrt(6)},
		{[]float64{4, 1}, 2.5, 2},
		{[]float64{1, inf, inf, 2}, inf, inf},
		{[]float64{1, 2, inf}, 2, inf},
	}
	for _, tt := range tests {
		if got := median(tt.xs); got != tt.median {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.median)
		}
		if got := geomean(tt.xs); math.Abs(got-tt.gmean) > 1e-12 && got != tt.gmean {
			t.Errorf("geomean(%v) = %v, want %v", tt.xs, got, tt.gmean)
		}
	}
}

// fakeCell returns a cell summary where every policy has the given p99
// ratio to peak_ewma and to the JSQ oracle.
func fakeCell(scenario string, k int, load float64, ratio float64) cellSummary {
	ps := []policySummary{{Policy: polPeakEWMA, P99: 100, P50: 10, P99RatioGeomean: 1, P99VsJSQ: 1}, {Policy: "jsq_oracle", P99: 100, P50: 10, P99RatioGeomean: 1, P99VsJSQ: 1}}
	for _, n := range append([]string{polDefault}, referencePolicies...) {
		ps = append(ps, policySummary{Policy: n, P99: 100 * ratio, P50: 10, MaxShare: 0.11, P99RatioGeomean: ratio, P99RatioMedian: ratio, P99VsJSQ: ratio})
	}
	c := cellSummary{Scenario: scenario, K: k, Load: load, Servers: 10, Policies: ps}
	if scenario == scDegrade {
		for i := range c.Policies {
			l, r := 0.3, 2.0
			c.Policies[i].LeaveS, c.Policies[i].ReturnS = &l, &r
		}
	}
	return c
}

func fakeGrid(ratio float64) []cellSummary {
	var cs []cellSummary
	for _, s := range []string{scHomogeneous, scHeterogeneous, scDegrade, scBlackHole, scBursty, scAntagonist} {
		for _, k := range []int{1, 8} {
			for _, l := range []float64{0.5, 0.7, 0.9} {
				cs = append(cs, fakeCell(s, k, l, ratio))
			}
		}
	}
	return cs
}

func TestCheck(t *testing.T) {
	verdicts := func(cs []cellSummary) []bool {
		var v []bool
		for _, c := range check(cs) {
			v = append(v, c.Pass)
		}
		return v
	}

	tests := []struct {
		name   string
		mutate func([]cellSummary)
		want   []bool
	}{
		{"all pass", func([]cellSummary) {}, []bool{true, true, true, true, true, true}},
		{"worse in one cell", func(cs []cellSummary) { cs[0].policy(polDefault).P99RatioGeomean = 1.06 }, []bool{false, true, true, true, true, true}},
		{"black hole errors", func(cs []cellSummary) {
			for i := range cs {
				if cs[i].Scenario == scBlackHole {
					cs[i].policy(polDefault).ErrorRate = 0.02
				}
			}
		}, []bool{true, true, false, true, true, true}},
		{"far from JSQ", func(cs []cellSummary) { cs[5].policy(polDefault).P99VsJSQ = 1.2 }, []bool{true, true, true, false, true, true}},
		{"never returns", func(cs []cellSummary) {
			for i := range cs {
				if cs[i].Scenario == scDegrade {
					never := -1.0
					cs[i].policy(polDefault).ReturnS = &never
				}
			}
		}, []bool{true, true, true, true, false, true}},
		{"herding", func(cs []cellSummary) { cs[1].policy("ucb1").MaxShare = 0.16 }, []bool{true, true, true, true, true, false}},
		{"slow p50", func(cs []cellSummary) { cs[2].policy("softmax").P50 = 12.5 }, []bool{true, true, true, true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fakeGrid(0.85)
			tt.mutate(cs)
			if got := verdicts(cs); !slices.Equal(got, tt.want) {
				t.Errorf("check() verdicts = %v, want %v", got, tt.want)
			}
		})
	}
	// Criterion (2) needs the hard cells to gain 10% on average.
	if got := verdicts(fakeGrid(0.95)); got[1] {
		t.Errorf("check() with ratio 0.95: criterion 2 passed, want a failure")
	}
}

// TestTinyGrid runs a small grid end to end and checks the outputs.
func TestTinyGrid(t *testing.T) {
	g := grid{Scenarios: scenarios(3*time.Second, 6*time.Second), K: []int{1, 2}, Loads: []float64{0.7}, Seeds: 2}
	for i := range g.Scenarios {
		// Fewer servers keep the test short.
		s := &g.Scenarios[i]
		s.Means = s.Means[:5]
	}
	rep, err := runBenchmark(g, true, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cells) != 12 || len(rep.Criteria) != 6 {
		t.Fatalf("%d cells and %d criteria, want 12 and 6", len(rep.Cells), len(rep.Criteria))
	}
	for _, c := range rep.Cells {
		if len(c.Policies) != len(rep.Grid.Policies) {
			t.Errorf("%s: %d policies, want %d", c.Scenario, len(c.Policies), len(rep.Grid.Policies))
		}
		if pe := c.policy(polPeakEWMA); pe == nil || pe.P99RatioGeomean != 1 || pe.P99RatioMedian != 1 {
			t.Errorf("%s: peak_ewma's ratio to itself = %+v, want 1", c.Scenario, pe)
		}
		if c.Scenario == scBlackHole {
			if jsq := c.policy("jsq_oracle"); jsq.ErrorRate != 0 {
				t.Errorf("black hole: JSQ oracle error rate = %v, want 0", jsq.ErrorRate)
			}
		}
		if (c.Scenario == scDegrade) != (c.policy("round_robin").LeaveS != nil) {
			t.Errorf("%s: degrade timings present = %v", c.Scenario, c.policy("round_robin").LeaveS != nil)
		}
	}

	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "results.json")
	if err := rep.writeJSON(jsonPath); err != nil {
		t.Fatal(err)
	}
	var back report
	b, _ := os.ReadFile(jsonPath)
	if err := json.Unmarshal(b, &back); err != nil || len(back.Cells) != len(rep.Cells) {
		t.Errorf("JSON round trip: %v, %d cells", err, len(back.Cells))
	}

	svg := rep.svgChart()
	d := xml.NewDecoder(strings.NewReader(svg))
	for range len(svg) { // a token takes at least a byte
		if _, err := d.Token(); err != nil {
			if err != io.EOF {
				t.Errorf("SVG is not well-formed XML: %v", err)
			}
			break
		}
	}
	if n := strings.Count(svg, "<title>"); n != 12*len(rep.Grid.Policies) {
		t.Errorf("SVG has %d markers with a title, want %d", n, 12*len(rep.Grid.Policies))
	}

	md := rep.markdown("p99.svg")
	for _, want := range []string{"#### Criteria", "| heterogeneous | 2 | 0.7 |", "#### Degrade", "#### Black hole", "![p99 latency by scenario and policy](p99.svg)"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}
