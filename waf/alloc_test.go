//go:build !race

package waf_test

import (
	"testing"

	"github.com/phalanx-lb/phalanx/waf"
)

// TestInspectAllocs checks that inspecting a clean request without a body
// allocates nothing: the engine's buffers are pooled, and libinjection,
// which allocates, is not run on values that cannot hold an injection.
// The race detector allocates, hence the build tag.
func TestInspectAllocs(t *testing.T) {
	e := quietEngine(t, waf.Config{})
	for _, tc := range []struct{ name, raw string }{
		{"typical", typicalRequest},
		{"small", "GET /search?q=red+summer+dress&page=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := parse(t, tc.raw)
			e.Inspect(r)
			if allocs := testing.AllocsPerRun(1000, func() { e.Inspect(r) }); allocs != 0 {
				t.Errorf("AllocsPerRun(Inspect) = %v, want 0", allocs)
			}
		})
	}
}
