package bandit

import (
	"math/rand/v2"
	"testing"
	"time"
)

// held returns how many arm records b keeps.
func held(t *testing.T, b Bandit) int {
	switch p := b.(type) {
	case *Adaptive:
		return p.c.arms.n
	case *EpsilonGreedy:
		return p.c.arms.n
	case *UCB1:
		return p.c.arms.n
	case *Softmax:
		return p.c.arms.n
	case *ThompsonSampling:
		return p.c.arms.n
	case *PeakEWMA:
		return p.arms.n
	}
	t.Fatalf("no table for %T", b)
	return 0
}

// TestForget: a policy that sees arms come and go keeps records only for
// the arms it still has, or that have requests in flight; a forgotten
// arm's late outcome ends its request and teaches nothing.
func TestForget(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			b, err := New(name, Params{}, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			f := b.(Forgetter)
			rep := b.(Reporter)
			now := time.Unix(0, 0)
			// Churn: each step a new arm joins the two kept ones and the
			// previous newcomer leaves, with a request still in flight
			// one time in two.
			var late []int
			for i := 10; i < 10010; i++ {
				cands := []int{0, 1, i}
				for range 4 {
					arm := b.Choose(cands, now)
					now = now.Add(time.Millisecond)
					b.Observe(arm, Outcome{Latency: time.Millisecond}, now)
				}
				if i%2 == 0 {
					late = append(late, b.Choose([]int{i}, now))
				}
				f.Forget(i)
				if n := len(rep.Report(now, nil)); n > 2 {
					t.Fatalf("step %d: Report lists %d arms, want the 2 kept", i, n)
				}
				if len(late) > 8 {
					b.Observe(late[0], Outcome{Latency: time.Hour, Failed: true}, now)
					late = late[1:]
				}
			}
			if n := held(t, b); n > 2+len(late) {
				t.Errorf("%d records held, want at most 2 + %d in flight", n, len(late))
			}
			for _, arm := range late {
				b.Observe(arm, Outcome{Latency: time.Hour, Failed: true}, now)
			}
			if n := held(t, b); n != 2 {
				t.Errorf("%d records held once the late outcomes came, want 2", n)
			}
			for _, r := range rep.Report(now, nil) {
				if r.InFlight != 0 || r.Latency > time.Second {
					t.Errorf("arm %d: %d in flight, latency %v: a forgotten arm's outcome leaked", r.Arm, r.InFlight, r.Latency)
				}
			}
			f.Forget(12345) // unknown: nothing to do
		})
	}
}
