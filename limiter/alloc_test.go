//go:build !race

package limiter_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/phalanx-lb/phalanx/limiter"
)

// TestAllowAllocs checks that Allow allocates nothing for a tracked client,
// allowed or refused, nor for a new client once the table is full. The
// race detector allocates, hence the build tag.
func TestAllowAllocs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		c      limiter.Config
		client netip.Addr
	}{
		{"IPv4", limiter.Config{Rate: 1e9, Burst: 1 << 30}, clientA},
		{"IPv6", limiter.Config{Rate: 1e9, Burst: 1 << 30}, netip.MustParseAddr("2001:db8::1")},
		{"IPv4-mapped", limiter.Config{Rate: 1e9, Burst: 1 << 30}, netip.MustParseAddr("::ffff:192.0.2.1")},
		{"refused", limiter.Config{Rate: 1, Burst: 1}, clientA},
		{"global", limiter.Config{Rate: 1e9, Burst: 1 << 30, GlobalRate: 1e9, GlobalBurst: 1 << 30}, clientA},
		{"refused globally", limiter.Config{Rate: 1e9, Burst: 1 << 30, GlobalRate: 1, GlobalBurst: 1}, clientA},
		{"global only", limiter.Config{GlobalRate: 1e9}, clientA},
		{"invalid address", limiter.Config{Rate: 1e9, Burst: 1 << 30}, netip.Addr{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := mustNew(t, tc.c)
			k.Allow(tc.client, t0)
			if allocs := testing.AllocsPerRun(1000, func() { k.Allow(tc.client, t0) }); allocs != 0 {
				t.Errorf("AllocsPerRun(Allow) = %v, want 0", allocs)
			}
		})
	}
	t.Run("new clients, table full", func(t *testing.T) {
		k := mustNew(t, limiter.Config{Rate: 50, Burst: 100, MaxKeys: 1024})
		i := 0
		for ; i < 4096; i++ {
			k.Allow(v6(i), t0)
		}
		if allocs := testing.AllocsPerRun(10000, func() { k.Allow(v6(i), t0); i++ }); allocs != 0 {
			t.Errorf("AllocsPerRun(Allow(new client)) = %v, want 0", allocs)
		}
	})
}

func TestMiddlewareAllocs(t *testing.T) {
	k := mustNew(t, limiter.Config{Rate: 1e9, Burst: 1 << 30})
	h := limiter.Middleware(k, nil, nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	w := nopWriter{http.Header{}}
	if allocs := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) }); allocs != 0 {
		t.Errorf("AllocsPerRun(ServeHTTP) = %v, want 0 on the allowed path", allocs)
	}
}
