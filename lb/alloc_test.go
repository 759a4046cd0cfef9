//go:build !race

package lb_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/lb"
)

// TestPickAllocs checks that Pick allocates nothing, for every algorithm.
// The race detector allocates, hence the build tag.
func TestPickAllocs(t *testing.T) {
	reqs := append(testRequests(63), lb.Request{}) // one without a key
	for _, name := range lb.Names() {
		builder, err := lb.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{3, 100} {
			for _, ws := range [][]int{equalWeights(n), mixedWeights(n)} {
				t.Run(fmt.Sprintf("%s/n=%d/weights=%v", name, n, ws[:3]), func(t *testing.T) {
					bs := newBackends(t, ws...)
					p := builder.Build(bs)
					bs[1].Start() // a tie-breaking path and a non-tie one
					i := 0
					allocs := testing.AllocsPerRun(1000, func() {
						if _, err := p.Pick(reqs[i%len(reqs)]); err != nil {
							t.Fatal(err)
						}
						i++
					})
					if allocs != 0 {
						t.Errorf("AllocsPerRun(Pick) = %v, want 0", allocs)
					}
				})
			}
		}
	}
}

// TestBanditPickDoneAllocs checks that a pick and its Done through the
// default learning policy allocate nothing once every backend is known.
func TestBanditPickDoneAllocs(t *testing.T) {
	b, err := lb.Lookup(lb.AIPredictiveName)
	if err != nil {
		t.Fatal(err)
	}
	bb := b.(lb.Factory).NewBuilder().(*lb.BanditBuilder)
	bs := newBackends(t, equalWeights(100)...)
	pickDone := func(what string, p lb.Picker) {
		o := lb.Outcome{Latency: time.Millisecond, Status: 200}
		allocs := testing.AllocsPerRun(1000, func() {
			res, err := p.Pick(lb.Request{})
			if err != nil {
				t.Fatal(err)
			}
			res.Done(res.Backend, o)
		})
		if allocs != 0 {
			t.Errorf("%s: AllocsPerRun(Pick+Done) = %v, want 0", what, allocs)
		}
	}
	pickDone("dense arm ids", bb.Build(bs))
	// Addresses that came and went leave the arm ids sparse.
	fresh := func(port int) *lb.Backend {
		b, err := lb.NewBackend(fmt.Sprintf("127.0.0.2:%d", port), lb.BackendConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i := range 1000 {
		old := fresh(10000 + i)
		bb.Build([]*lb.Backend{old})
		bb.Forget(old.Addr())
	}
	joined := bs[:50:50]
	for i := range 50 {
		joined = append(joined, fresh(20000+i))
	}
	pickDone("sparse arm ids", bb.Build(joined))
}
