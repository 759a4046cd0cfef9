package sim

import (
	"math"
	"testing"
	"time"
)

// erlangC returns the probability that an arrival waits in an M/M/c queue
// with offered load a = λ/μ (Erlang's C formula).
func erlangC(c int, a float64) float64 {
	term, sum := 1.0, 0.0 // term = a^k/k!
	for k := range c {
		sum += term
		term *= a / float64(k+1)
	}
	top := term * float64(c) / (float64(c) - a)
	return top / (sum + top)
}

func TestErlangC(t *testing.T) {
	// Textbook values: M/M/1 waits with probability ρ; M/M/2 with a = 1
	// gives 1/3.
	tests := []struct {
		c    int
		a    float64
		want float64
	}{
		{1, 0.5, 0.5},
		{1, 0.9, 0.9},
		{2, 1, 1.0 / 3},
		// 10 servers at a = 8: 0.4092 (Kleinrock, Queueing Systems).
		{10, 8, 0.40918},
	}
	for _, tt := range tests {
		if got := erlangC(tt.c, tt.a); math.Abs(got-tt.want) > 5e-5 {
			t.Errorf("erlangC(%d, %v) = %.5f, want %.5f", tt.c, tt.a, got, tt.want)
		}
	}
}

// TestMMcWait runs a single FCFS queue with c workers, Poisson arrivals and
// exponential service, and checks the mean wait in queue against
// Wq = C(c, a)/(cμ - λ).
func TestMMcWait(t *testing.T) {
	const mean = 10 * time.Millisecond
	tests := []struct {
		name    string
		workers int
		load    float64
		d       time.Duration // virtual time: enough requests for a standard error under 1%
	}{
		{"M/M/1 load 0.5", 1, 0.5, 12000 * time.Second},
		{"M/M/4 load 0.7", 4, 0.7, 8000 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := Scenario{
				Name:     tt.name,
				Means:    []time.Duration{mean},
				Workers:  tt.workers,
				Duration: tt.d,
				Warmup:   10 * time.Second,
			}
			w, err := NewWorkload(s, 1, tt.load, 42)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(w, RoundRobin(), 1)
			if err != nil {
				t.Fatal(err)
			}
			mu := 1 / mean.Seconds()
			lambda := tt.load * float64(tt.workers) * mu
			want := erlangC(tt.workers, lambda/mu) / (float64(tt.workers)*mu - lambda)
			got := res.MeanWait.Seconds()
			t.Logf("%d requests, mean wait %.4fms, Erlang C %.4fms", res.Requests, got*1e3, want*1e3)
			if math.Abs(got-want)/want > 0.03 {
				t.Errorf("mean wait = %.4fms, want %.4fms ± 3%%", got*1e3, want*1e3)
			}
			// Little's law on the sojourn time: the mean latency is the
			// mean wait plus the mean service time.
			if lat := res.MeanLatency.Seconds(); math.Abs(lat-(want+mean.Seconds()))/(want+mean.Seconds()) > 0.03 {
				t.Errorf("mean latency = %.4fms, want %.4fms ± 3%%", lat*1e3, (want+mean.Seconds())*1e3)
			}
		})
	}
}
