package limiter_test

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/phalanx-lb/phalanx/limiter"
)

// implementations lists every Limiter of this package, and a reference
// built on one rate.Limiter, as constructors of a limiter that allows a
// single client r events per second with bursts of b.
var implementations = []struct {
	name string
	new  func(t *testing.T, r float64, b int) limiter.Limiter
}{
	{"rate.Limiter", func(t *testing.T, r float64, b int) limiter.Limiter {
		lim := rate.NewLimiter(rate.Limit(r), b)
		var mu sync.Mutex // makes AllowN and TokensAt one step
		return limiter.Func(func(_ netip.Addr, now time.Time) limiter.Decision {
			mu.Lock()
			defer mu.Unlock()
			if lim.AllowN(now, 1) {
				return limiter.Decision{Allowed: true}
			}
			return limiter.Decision{RetryAfter: time.Duration((1 - lim.TokensAt(now)) / r * float64(time.Second))}
		})
	}},
	{"Keyed", func(t *testing.T, r float64, b int) limiter.Limiter {
		return mustNew(t, limiter.Config{Rate: r, Burst: b})
	}},
	{"Keyed/MaxKeys=1", func(t *testing.T, r float64, b int) limiter.Limiter {
		return mustNew(t, limiter.Config{Rate: r, Burst: b, MaxKeys: 1})
	}},
	{"Keyed/IPv6Prefix=128", func(t *testing.T, r float64, b int) limiter.Limiter {
		return mustNew(t, limiter.Config{Rate: r, Burst: b, IPv6Prefix: 128, Shards: 1})
	}},
	{"Keyed/global", func(t *testing.T, r float64, b int) limiter.Limiter {
		return mustNew(t, limiter.Config{GlobalRate: r, GlobalBurst: b})
	}},
	{"Keyed/both", func(t *testing.T, r float64, b int) limiter.Limiter {
		return mustNew(t, limiter.Config{Rate: r, Burst: b, GlobalRate: 10 * r, GlobalBurst: 10 * b})
	}},
}

// TestLimiter is the conformance suite every Limiter passes.
func TestLimiter(t *testing.T) {
	clients := []netip.Addr{clientA, netip.MustParseAddr("2001:db8::7"), {}}
	for _, impl := range implementations {
		for _, client := range clients {
			t.Run(impl.name+"/"+client.String(), func(t *testing.T) {
				t.Run("burst", func(t *testing.T) {
					l := impl.new(t, 4, 3)
					for i := range 3 {
						if d := l.Allow(client, t0); !d.Allowed {
							t.Fatalf("event %d: Allow = %+v, want allowed", i, d)
						}
					}
					d := l.Allow(client, t0)
					if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 250*time.Millisecond+time.Microsecond {
						t.Fatalf("Allow after the burst = %+v, want refused, RetryAfter in (0, 250ms]", d)
					}
					if d := l.Allow(client, t0.Add(d.RetryAfter)); !d.Allowed {
						t.Errorf("Allow after RetryAfter = %+v, want allowed", d)
					}
				})
				t.Run("idle refills to the burst", func(t *testing.T) {
					l := impl.new(t, 4, 3)
					l.Allow(client, t0)
					n := 0
					for range 10 {
						if l.Allow(client, t0.Add(time.Hour)).Allowed {
							n++
						}
					}
					if n != 3 {
						t.Errorf("allowed %d events after an hour, want the burst, 3", n)
					}
				})
				t.Run("concurrent", func(t *testing.T) {
					l := impl.new(t, 1, 50)
					var n atomic.Int64
					var wg sync.WaitGroup
					for range 8 {
						wg.Go(func() {
							for range 100 {
								if l.Allow(client, t0).Allowed {
									n.Add(1)
								}
							}
						})
					}
					wg.Wait()
					if n.Load() != 50 {
						t.Errorf("allowed %d concurrent events, want the burst, 50", n.Load())
					}
				})
			})
		}
	}
}
