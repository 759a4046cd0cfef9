package sharedstore

import (
	"net/netip"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/limiter"
)

// benchConfig allows every check, so that each runs the whole script.
var benchConfig = limiter.Config{Rate: 1e9, Burst: 1e9, GlobalRate: 1e9, GlobalBurst: 1e9}

// BenchmarkSharedAllow is one check of a shared Limiter: a round trip to
// a redis-server on the loopback interface, running the GCRA script on
// a client's bucket and the global one.
func BenchmarkSharedAllow(b *testing.B) {
	url, prefix := sharedRedis(b)
	s := openStore(b, Config{URL: url, Prefix: prefix, Timeout: time.Second})
	l := s.Limiter(benchConfig, nil)
	a := netip.MustParseAddr("192.0.2.1")
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !l.Allow(a, time.Time{}).Allowed {
				b.Fatal("refused")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !l.Allow(a, time.Time{}).Allowed {
					b.Error("refused")
					return
				}
			}
		})
	})
	if st := s.Stats(); st.Fallbacks != 0 {
		b.Errorf("%d fallbacks, want 0", st.Fallbacks)
	}
}

// BenchmarkLocalAllow is the same check by limiter.Keyed, in memory, for
// comparison.
func BenchmarkLocalAllow(b *testing.B) {
	k, err := limiter.New(benchConfig)
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("192.0.2.1")
	now := time.Now()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !k.Allow(a, now).Allowed {
				b.Fatal("refused")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !k.Allow(a, now).Allowed {
					b.Error("refused")
					return
				}
			}
		})
	})
}
