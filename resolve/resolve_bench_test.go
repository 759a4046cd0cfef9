package resolve

import "testing"

// BenchmarkLookupHost measures one LookupHost (an A and an AAAA query at
// once, over UDP) against the in-process server on loopback.
func BenchmarkLookupHost(b *testing.B) {
	f := newFakeDNS(b, hostZone...)
	r, _ := newTestResolver(b, f, Config{})
	b.ReportAllocs()
	for b.Loop() {
		ts, _, err := r.LookupHost(b.Context(), "a.test", 80)
		if err != nil || len(ts) != 3 {
			b.Fatalf("LookupHost(a.test) = %v, %v, want 3 targets", ts, err)
		}
	}
}
