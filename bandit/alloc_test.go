//go:build !race

package bandit_test

import (
	"fmt"
	"testing"

	"github.com/phalanx-lb/phalanx/bandit"
)

// TestChooseObserveAllocs checks that Choose and Observe allocate nothing
// once every arm is known, for every policy. The race detector allocates,
// hence the build tag.
func TestChooseObserveAllocs(t *testing.T) {
	for _, name := range bandit.Names() {
		for _, arms := range []int{1, 3, 100} {
			t.Run(fmt.Sprintf("%s/arms=%d", name, arms), func(t *testing.T) {
				p := newPolicy(t, name, 1)
				w := newWorkload(arms)
				w.warm(p)
				if allocs := testing.AllocsPerRun(1000, func() { w.step(p) }); allocs != 0 {
					t.Errorf("AllocsPerRun(Choose+Observe) = %v, want 0", allocs)
				}
			})
		}
	}
}
