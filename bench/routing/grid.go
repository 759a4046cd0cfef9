package main

import (
	"fmt"
	"hash/fnv"
	"io"
	"sync"
	"time"

	"github.com/phalanx-lb/phalanx/bench/routing/sim"
)

// runs holds the results of one cell: runs[p][s] is policy p on seed s.
type runs [][]sim.Result

// seedOf returns the traffic seed of a cell's s-th seed. It depends only
// on the cell and s, so that a cell's traffic is the same whatever else
// the grid holds.
func seedOf(c cell, s int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d/%.3f/%d", c.Scenario.Name, c.K, c.Load, s)
	return h.Sum64()
}

// runGrid runs every policy on every seed of every cell, with up to par
// cells' seeds in parallel, and returns the results by cell. Progress goes
// to progress, if not nil.
func runGrid(cells []cell, seeds int, pols []sim.Policy, par int, progress io.Writer) ([]runs, error) {
	out := make([]runs, len(cells))
	for i := range out {
		out[i] = make(runs, len(pols))
		for p := range pols {
			out[i][p] = make([]sim.Result, seeds)
		}
	}
	type job struct{ cell, seed int }
	jobs := make(chan job)
	var (
		mu       sync.Mutex // protects firstErr, done
		firstErr error
		done     int
		wg       sync.WaitGroup
	)
	start := time.Now()
	total := len(cells) * seeds
	for range max(par, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				err := runJob(cells[j.cell], seedOf(cells[j.cell], j.seed), pols, out[j.cell], j.seed)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%v seed %d: %w", cells[j.cell], j.seed, err)
				}
				done++
				if progress != nil && (done%20 == 0 || done == total) {
					fmt.Fprintf(progress, "\r%d/%d cell-seeds, %s", done, total, time.Since(start).Round(time.Second))
					if done == total {
						fmt.Fprintln(progress)
					}
				}
				mu.Unlock()
			}
		}()
	}
	for c := range cells {
		for s := range seeds {
			jobs <- job{c, s}
		}
	}
	close(jobs)
	wg.Wait()
	return out, firstErr
}

// runJob draws one seed's traffic for c and runs every policy on it,
// storing result p in r[p][slot].
func runJob(c cell, seed uint64, pols []sim.Policy, r runs, slot int) error {
	w, err := sim.NewWorkload(c.Scenario, c.K, c.Load, seed)
	if err != nil {
		return err
	}
	for p, pol := range pols {
		res, err := sim.Run(w, pol, seed^0x5bd1e995)
		if err != nil {
			return err
		}
		res.Share = nil // not reported; saves memory over the grid
		r[p][slot] = res
	}
	return nil
}
