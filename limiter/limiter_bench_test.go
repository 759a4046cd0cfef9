package limiter_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"golang.org/x/time/rate"

	"github.com/phalanx-lb/phalanx/limiter"
)

// unlimited never refuses in a benchmark: the allowed path, which charges
// the bucket, is the one to measure.
var unlimited = limiter.Config{Rate: 1e9, Burst: 1 << 30}

func BenchmarkAllowExisting(b *testing.B) {
	for _, bc := range []struct {
		name string
		c    limiter.Config
	}{
		{"client", unlimited},
		{"client+global", limiter.Config{Rate: 1e9, Burst: 1 << 30, GlobalRate: 1e9, GlobalBurst: 1 << 30}},
	} {
		b.Run(bc.name+"/serial", func(b *testing.B) {
			k := mustNew(b, bc.c)
			b.ReportAllocs()
			for b.Loop() {
				k.Allow(clientA, t0)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			k := mustNew(b, bc.c)
			var clients [1024]netip.Addr
			for i := range clients {
				clients[i] = v4(i)
				k.Allow(clients[i], t0)
			}
			var seq atomic.Uint32
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := seq.Add(7919) // each goroutine walks the clients from its own offset
				for pb.Next() {
					k.Allow(clients[i%1024], t0)
					i++
				}
			})
		})
	}
}

// BenchmarkRateLimiter is the reference: one rate.Limiter, no lookup.
func BenchmarkRateLimiter(b *testing.B) {
	l := rate.NewLimiter(1e9, 1<<30)
	b.ReportAllocs()
	for b.Loop() {
		l.AllowN(t0, 1)
	}
}

// BenchmarkAllowNewKeys sends a new client each time: the table fills to
// the default MaxKeys, then every call evicts one.
func BenchmarkAllowNewKeys(b *testing.B) {
	for _, bc := range []struct {
		name   string
		client func(int) netip.Addr
	}{{"IPv4", v4}, {"IPv6", v6}} {
		b.Run(bc.name, func(b *testing.B) {
			k := mustNew(b, limiter.Config{Rate: 50, Burst: 100})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				k.Allow(bc.client(i), t0)
				i++
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		k := mustNew(b, limiter.Config{Rate: 50, Burst: 100})
		var seq atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k.Allow(v6(int(seq.Add(1))), t0)
			}
		})
	})
}

func BenchmarkMiddleware(b *testing.B) {
	k := mustNew(b, unlimited)
	h := limiter.Middleware(k, nil, nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	w := nopWriter{http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkMiddlewareRefused measures the 429 path, which an attacker
// drives.
func BenchmarkMiddlewareRefused(b *testing.B) {
	k := mustNew(b, limiter.Config{Rate: 1.0 / 3600, Burst: 1})
	h := limiter.Middleware(k, nil, nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	w := nopWriter{http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// nopWriter is a ResponseWriter that allocates nothing.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header       { return w.h }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}
