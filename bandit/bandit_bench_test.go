package bandit_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
)

// workload is a cycle of requests for benchmarks and allocation tests: a
// clock that advances, and outcomes of several kinds.
type workload struct {
	cands []int
	now   time.Time
	i     int
}

func newWorkload(arms int) *workload {
	w := &workload{cands: make([]int, arms), now: epoch}
	for i := range w.cands {
		w.cands[i] = i
	}
	return w
}

// step makes one Choose and its Observe.
func (w *workload) step(b bandit.Bandit) {
	w.i++
	w.now = w.now.Add(10 * time.Microsecond)
	arm := b.Choose(w.cands, w.now)
	o := bandit.Outcome{Latency: time.Duration(arm%7+1) * time.Millisecond}
	switch w.i % 100 {
	case 0:
		o.Failed = true
	case 1:
		o.Failed, o.TimedOut = true, true
	case 2:
		o.Canceled = true
	}
	b.Observe(arm, o, w.now.Add(o.Latency))
}

// warm makes every arm known and the estimates settled.
func (w *workload) warm(b bandit.Bandit) {
	for _, arm := range w.cands {
		b.Choose([]int{arm}, w.now)
		b.Observe(arm, bandit.Outcome{Latency: time.Millisecond}, w.now)
	}
	for range 10 * len(w.cands) {
		w.step(b)
	}
}

func BenchmarkChooseObserve(b *testing.B) {
	for _, name := range bandit.Names() {
		for _, arms := range []int{3, 100} {
			b.Run(fmt.Sprintf("%s/arms=%d", name, arms), func(b *testing.B) {
				p, err := bandit.New(name, bandit.Params{}, rand.New(rand.NewPCG(1, 2)))
				if err != nil {
					b.Fatal(err)
				}
				w := newWorkload(arms)
				w.warm(p)
				b.ReportAllocs()
				for b.Loop() {
					w.step(p)
				}
			})
			b.Run(fmt.Sprintf("%s/arms=%d/parallel", name, arms), func(b *testing.B) {
				p, err := bandit.New(name, bandit.Params{}, rand.New(rand.NewPCG(1, 2)))
				if err != nil {
					b.Fatal(err)
				}
				newWorkload(arms).warm(p)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					w := newWorkload(arms) // each goroutine keeps a clock
					for pb.Next() {
						w.step(p)
					}
				})
			})
		}
	}
}
