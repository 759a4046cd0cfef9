package main

import (
	"strings"
	"testing"
)

func TestRunFloor(t *testing.T) {
	g := quickGrid()
	g.Seeds = 1
	var out strings.Builder
	if err := runFloor(g, 2, &out, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	pols := floorPolicies()
	if len(lines) != len(pols)+2 {
		t.Fatalf("got %d lines, want a title, a header and %d policies:\n%s", len(lines), len(pols), out.String())
	}
	for i, p := range pols {
		line := lines[i+2]
		if !strings.HasPrefix(line, p.Name+" ") {
			t.Errorf("line %d = %q, want policy %s", i+2, line, p.Name)
		}
		f := strings.Fields(line[36:])
		if len(f) != 5 {
			t.Fatalf("line %d = %q, want 5 figures after the name", i+2, line)
		}
		if i == 0 && (f[1] != "1.000" || f[3] != "1.000") {
			t.Errorf("the oracle's own ratios are %s and %s, want 1.000", f[1], f[3])
		}
		if f[0] == "0.00" || f[0] == "NaN" {
			t.Errorf("%s: p50 %s", p.Name, f[0])
		}
	}
}
