package lb_test

import (
	"fmt"
	"testing"

	"github.com/phalanx-lb/phalanx/lb"
)

// BenchmarkPick measures Pick for every algorithm over 3 and 100 backends
// of weights 1 to 5, all idle, from one goroutine and from GOMAXPROCS.
// Requests cycle through 1024 client IPs.
func BenchmarkPick(b *testing.B) {
	reqs := testRequests(1024)
	for _, name := range lb.Names() {
		builder, err := lb.Lookup(name)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{3, 100} {
			p := builder.Build(newBackends(b, mixedWeights(n)...))
			b.Run(fmt.Sprintf("%s/n=%d/serial", name, n), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					p.Pick(reqs[i&1023])
					i++
				}
			})
			b.Run(fmt.Sprintf("%s/n=%d/parallel", name, n), func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						p.Pick(reqs[i&1023])
						i++
					}
				})
			})
		}
	}
}

// BenchmarkBuildWeightedRoundRobin measures computing a smooth weighted
// round robin cycle, which happens under the Pool's lock on every health
// change.
func BenchmarkBuildWeightedRoundRobin(b *testing.B) {
	tests := []struct {
		name    string
		weights []int
	}{
		{"n=3/weights=5,1,1", []int{5, 1, 1}},
		{"n=100/weights=1..5", mixedWeights(100)},
		{"n=100/weights=distinct", distinctWeights(100)},
	}
	for _, tt := range tests {
		bs := newBackends(b, tt.weights...)
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				lb.WeightedRoundRobin{}.Build(bs)
			}
		})
	}
}

// distinctWeights returns n distinct weights whose cycle hits the length
// cap: the worst case for WeightedRoundRobin.Build.
func distinctWeights(n int) []int {
	w := make([]int, n)
	for i := range w {
		w[i] = 1000 + 7*i
	}
	return w
}
