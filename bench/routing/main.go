// Command routing is the routing benchmark: it runs phalanx's bandit
// policies, the classic balancers and two oracles through the simulator
// of package sim over a grid of scenarios, loads and numbers of balancer
// instances, and reports how the default policy compares with
// power-of-two-choices with peak-EWMA.
//
// Usage:
//
//	go run ./bench/routing [-quick] [-check] [-readme FILE] [-json FILE] [-svg FILE]
//	go run ./bench/routing -floor [-quick] [-seeds N]
//
// It prints a summary and the verdict on each acceptance criterion,
// writes the results as JSON and the p99 chart as SVG, and with -readme
// rewrites the section of FILE between the markers
// <!-- routing:begin --> and <!-- routing:end --> with the result tables.
// With -check it exits with status 1 if any criterion fails. -quick runs
// a reduced grid and, unless -json or -svg are given, writes no files.
// -floor runs only the floor experiment (see floor.go) and prints its
// table.
//
// See bench/routing/README.md for the model, the scenarios and the
// criteria.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/phalanx-lb/phalanx/bench/routing/sim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "routing:", err)
		os.Exit(1)
	}
}

// errCheck reports failed criteria under -check.
type errCheck struct{ failed int }

func (e errCheck) Error() string { return fmt.Sprintf("%d criteria failed", e.failed) }

func run(args []string) error {
	fs := flag.NewFlagSet("routing", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "run a reduced grid (3 seeds, loads 0.7 and 0.9, shorter runs)")
	checkFlag := fs.Bool("check", false, "exit non-zero if any acceptance criterion fails")
	readme := fs.String("readme", "", "rewrite the routing section of this markdown `file`")
	jsonPath := fs.String("json", "bench/routing/results.json", "write the results as JSON to `file` (empty: none)")
	svgPath := fs.String("svg", "bench/routing/p99.svg", "write the p99 chart to `file` (empty: none)")
	seeds := fs.Int("seeds", 0, "seeds per cell (0: the grid's, 10 or 3 with -quick)")
	par := fs.Int("par", runtime.GOMAXPROCS(0), "cell-seeds run in parallel")
	floor := fs.Bool("floor", false, "run only the floor experiment: local policies against the JSQ oracle in the homogeneous cell with 8 instances at load 0.9")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	g := fullGrid()
	if *quick {
		g = quickGrid()
		if !set["json"] {
			*jsonPath = ""
		}
		if !set["svg"] {
			*svgPath = ""
		}
	}
	if *seeds > 0 {
		g.Seeds = *seeds
	}
	if *floor {
		return runFloor(g, *par, os.Stdout, os.Stderr)
	}
	rep, err := runBenchmark(g, *quick, *par, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Print(rep.text())
	if *jsonPath != "" {
		if err := rep.writeJSON(*jsonPath); err != nil {
			return err
		}
	}
	if *svgPath != "" {
		if err := os.WriteFile(*svgPath, []byte(rep.svgChart()), 0o644); err != nil {
			return err
		}
	}
	if *readme != "" {
		chart := ""
		if *svgPath != "" {
			if rel, err := filepath.Rel(filepath.Dir(*readme), *svgPath); err == nil {
				chart = filepath.ToSlash(rel)
			}
		}
		doc, err := os.ReadFile(*readme)
		if err != nil {
			return err
		}
		out, err := rewriteSection(doc, []byte(rep.markdown(chart)))
		if err != nil {
			return fmt.Errorf("%s: %w", *readme, err)
		}
		if err := os.WriteFile(*readme, out, 0o644); err != nil {
			return err
		}
	}
	if *checkFlag && !rep.passed() {
		n := 0
		for _, c := range rep.Criteria {
			if !c.Pass {
				n++
			}
		}
		return errCheck{n}
	}
	return nil
}

// runBenchmark runs grid g with every policy and sums it up.
func runBenchmark(g grid, quick bool, par int, progress *os.File) (*report, error) {
	pols := policies()
	names := make([]string, len(pols))
	for i, p := range pols {
		names[i] = p.Name
	}
	if err := smoke(pols); err != nil {
		return nil, err
	}
	start := time.Now()
	cells := g.cells()
	rs, err := runGrid(cells, g.Seeds, pols, par, progress)
	if err != nil {
		return nil, err
	}
	rep := &report{Grid: newGridInfo(g, quick, names)}
	for i, c := range cells {
		rep.Cells = append(rep.Cells, summarize(c, rs[i], names))
	}
	rep.Criteria = check(rep.Cells)
	if progress != nil {
		fmt.Fprintf(progress, "grid of %d cells × %d seeds × %d policies in %s\n", len(cells), g.Seeds, len(pols), time.Since(start).Round(time.Millisecond))
	}
	return rep, nil
}

// smoke runs every policy on a tiny workload, to fail early, before the
// grid, on a policy that cannot be made or misbehaves.
func smoke(pols []sim.Policy) error {
	s := scenarios(2*time.Second, 2*time.Second)[0]
	w, err := sim.NewWorkload(s, 2, 0.5, 1)
	if err != nil {
		return err
	}
	for _, p := range pols {
		if _, err := sim.Run(w, p, 1); err != nil {
			return err
		}
	}
	return nil
}
