package main

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/bench/routing/sim"
)

// tiny returns a small scenario that replays in about a second.
func tiny(blackHole bool) sim.Scenario {
	s := sim.Scenario{
		Name:     "tiny",
		Means:    []time.Duration{5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond},
		Workers:  2,
		Duration: 1200 * time.Millisecond,
		Warmup:   200 * time.Millisecond,
		Timeout:  time.Second,
	}
	if blackHole {
		s.BlackHole = &sim.BlackHole{Server: 1, Latency: time.Millisecond}
	}
	return s
}

// waitGoroutines waits up to 5s for the number of goroutines to fall back
// to n, and reports whether it did.
func waitGoroutines(n int) (int, bool) {
	got := runtime.NumGoroutine()
	for range 100 {
		if got = runtime.NumGoroutine(); got <= n {
			return got, true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return got, false
}

func TestReplay(t *testing.T) {
	before := runtime.NumGoroutine()
	tests := []struct {
		name      string
		blackHole bool
		policy    string
		// Error rate bounds: a third of the traffic for round robin
		// into a black hole.
		minErr, maxErr float64
	}{
		{"round robin", false, sim.RoundRobinName, 0, 0},
		{"adaptive", false, "adaptive", 0, 0},
		{"round robin into a black hole", true, sim.RoundRobinName, 0.3, 0.37},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := sim.NewWorkload(tiny(tt.blackHole), 1, 0.2, 3)
			if err != nil {
				t.Fatal(err)
			}
			res, err := liveRun(context.Background(), w, tt.policy, 1)
			if err != nil {
				t.Fatalf("liveRun() = %v", err)
			}
			if res.Requests == 0 || res.Requests > w.Len() {
				t.Fatalf("liveRun() counted %d of %d requests", res.Requests, w.Len())
			}
			if e := res.ErrorRate(); e < tt.minErr || e > tt.maxErr {
				t.Errorf("error rate = %.3f, want in [%v, %v]", e, tt.minErr, tt.maxErr)
			}
			if !tt.blackHole && (res.P50 < time.Millisecond || res.P50 > 500*time.Millisecond) {
				t.Errorf("p50 = %v, want a few milliseconds", res.P50)
			}
		})
	}
	if got, ok := waitGoroutines(before); !ok {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after the replays, %d before:\n%s", got, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestReplayCanceled(t *testing.T) {
	before := runtime.NumGoroutine()
	w, err := sim.NewWorkload(tiny(false), 1, 0.2, 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	if _, err := replay(ctx, w, sim.P2CName, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("replay() with a short context = %v, want context.DeadlineExceeded", err)
	}
	if got, ok := waitGoroutines(before); !ok {
		t.Errorf("%d goroutines after a canceled replay, %d before", got, before)
	}
}

// res returns a result with a p99 in milliseconds and an error count out
// of 100 requests.
func res(p99 float64, errs int) sim.Result {
	return sim.Result{P99: time.Duration(p99 * float64(time.Millisecond)), Requests: 100, Errors: errs}
}

func TestKendallTau(t *testing.T) {
	a := []sim.Result{res(1, 0), res(2, 0), res(3, 0), res(4, 0)}
	tests := []struct {
		name string
		b    []sim.Result
		want float64
	}{
		{"same", []sim.Result{res(10, 0), res(20, 0), res(30, 0), res(40, 0)}, 1},
		{"reversed", []sim.Result{res(4, 0), res(3, 0), res(2, 0), res(1, 0)}, -1},
		{"one swap", []sim.Result{res(2, 0), res(1, 0), res(3, 0), res(4, 0)}, 4.0 / 6},
		{"errors break ties", []sim.Result{res(5, 0), res(5, 1), res(5, 2), res(5, 3)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kendallTau(a, tt.b); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("kendallTau() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDisagreements(t *testing.T) {
	r := scenarioReport{
		Sim: []sim.Result{res(10, 0), res(10.5, 0), res(20, 0)},
		Live: []liveResult{
			{Result: res(11, 0)}, {Result: res(10, 0)}, {Result: res(9, 0)},
		},
	}
	for i := range r.Sim {
		r.Sim[i].Policy = []string{"a", "b", "c"}[i]
	}
	bad, clear := r.disagreements(r.names())
	// a and b are within 10%: not a clear pair. c is clearly worst in
	// the simulator but best live.
	if clear != 2 || strings.Join(bad, ";") != "a vs c;b vs c" {
		t.Errorf("disagreements() = %q, %d clear pairs, want [a vs c b vs c], 2", bad, clear)
	}
}

func TestRewriteSection(t *testing.T) {
	doc := "x\n" + beginMarker + "\nold\n" + endMarker + "\n"
	got, err := rewriteSection([]byte(doc), []byte("new"))
	if want := "x\n" + beginMarker + "\nnew\n" + endMarker + "\n"; err != nil || string(got) != want {
		t.Errorf("rewriteSection() = %q, %v, want %q", got, err, want)
	}
	if _, err := rewriteSection([]byte("x"), nil); !errors.Is(err, errMarkers) {
		t.Errorf("rewriteSection() without markers = %v, want errMarkers", err)
	}
}
