package limiter_test

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/phalanx-lb/phalanx/limiter"
)

// TestMemoryBound sprays a million clients at a Keyed with the default
// MaxKeys, all at one instant so that no bucket refills and nothing is
// swept: the hard cap alone bounds the memory.
//
// The bound: each of the 65536 keys costs a 40-byte entry and two 4-byte
// hash table cells, 3 MiB in all; each shard's 1025 entries (41000 bytes)
// take 48 KiB pages, which adds 0.5 MiB. Allow 64 bytes a key and 1 MiB of
// slack for the runtime: 5 MiB.
func TestMemoryBound(t *testing.T) {
	const (
		clients = 1_000_000
		bound   = 1<<16*64 + 1<<20
	)
	for _, tc := range []struct {
		name   string
		client func(i int) netip.Addr
	}{
		{"IPv4", v4},
		{"IPv6 /64s", v6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			k := mustNew(t, limiter.Config{Rate: 50, Burst: 100})
			for i := range clients {
				k.Allow(tc.client(i), t0)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			n := k.Len()
			runtime.KeepAlive(k)
			grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("%d clients: Len() = %d, heap grew %.2f MiB (%.0f bytes per key)", clients, n, float64(grown)/(1<<20), float64(grown)/float64(n))
			if n != 1<<16 {
				t.Errorf("Len() = %d, want MaxKeys, %d", n, 1<<16)
			}
			if grown > bound {
				t.Errorf("heap grew %d bytes, want less than %d", grown, bound)
			}
		})
	}
}
