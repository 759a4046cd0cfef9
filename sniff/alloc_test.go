//go:build !race

package sniff

import "testing"

// TestDetectAllocs checks that Detect allocates nothing. The race detector
// allocates, hence the build tag.
func TestDetectAllocs(t *testing.T) {
	for _, s := range sniffSamples(t) {
		for _, n := range []int{1, 3, len(s.data)} {
			b := s.data[:min(n, len(s.data))]
			if allocs := testing.AllocsPerRun(1000, func() { Detect(b) }); allocs != 0 {
				t.Errorf("AllocsPerRun(Detect(%q)) = %v, want 0", b, allocs)
			}
		}
	}
}
