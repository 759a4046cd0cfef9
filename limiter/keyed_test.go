package limiter_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/phalanx-lb/phalanx/limiter"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func mustNew(t testing.TB, c limiter.Config) *limiter.Keyed {
	t.Helper()
	k, err := limiter.New(c)
	if err != nil {
		t.Fatalf("New(%+v) = %v", c, err)
	}
	return k
}

// v4 returns the i-th address of 10.0.0.0/8 (and on past it).
func v4(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10 + byte(i>>24), byte(i >> 16), byte(i >> 8), byte(i)})
}

// v6 returns an address in the i-th /64 of 2001:db8::/32.
func v6(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 15: 1})
}

var (
	clientA = netip.MustParseAddr("192.0.2.1")
	clientB = netip.MustParseAddr("192.0.2.2")
)

// near reports whether got is within 1µs of want.
func near(got, want time.Duration) bool { return (got - want).Abs() <= time.Microsecond }

func TestBurst(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rate      float64
		burst     int
		wantBurst int
	}{
		{"defaults of the config file", 50, 100, 100},
		{"one per second", 1, 1, 1},
		{"burst 0 means one second's worth", 10, 0, 10},
		{"fractional rate rounds the burst up", 2.5, 0, 3},
		{"slow rate still has a burst of 1", 0.5, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := mustNew(t, limiter.Config{Rate: tc.rate, Burst: tc.burst})
			for i := range tc.wantBurst {
				if d := k.Allow(clientA, t0); !d.Allowed {
					t.Fatalf("event %d: Allow = %+v, want allowed", i, d)
				}
			}
			d := k.Allow(clientA, t0)
			// The burst is spent exactly (wantBurst tokens, whole), so a
			// token is one refill period away.
			want := time.Duration(float64(time.Second) / tc.rate)
			if d.Allowed || d.Global || !near(d.RetryAfter, want) {
				t.Errorf("Allow after the burst = %+v, want refused by the client limit, RetryAfter %v", d, want)
			}
		})
	}
}

func TestRefill(t *testing.T) {
	k := mustNew(t, limiter.Config{Rate: 10, Burst: 5})
	steps := []struct {
		at      time.Duration
		allowed bool
		retry   time.Duration // when refused
	}{
		{0, true, 0}, {0, true, 0}, {0, true, 0}, {0, true, 0}, {0, true, 0},
		{0, false, 100 * time.Millisecond},
		{40 * time.Millisecond, false, 60 * time.Millisecond},
		{100 * time.Millisecond, true, 0},
		{100 * time.Millisecond, false, 100 * time.Millisecond},
		{250 * time.Millisecond, true, 0}, // 1.5 tokens
		{250 * time.Millisecond, false, 50 * time.Millisecond},
		{300 * time.Millisecond, true, 0},
		// An hour of idleness refills the bucket to Burst, no more.
		{time.Hour, true, 0}, {time.Hour, true, 0}, {time.Hour, true, 0}, {time.Hour, true, 0}, {time.Hour, true, 0},
		{time.Hour, false, 100 * time.Millisecond},
		// A time before the last one counts as the last one.
		{time.Hour - time.Second, false, 100 * time.Millisecond},
	}
	for i, s := range steps {
		d := k.Allow(clientA, at(s.at))
		if d.Allowed != s.allowed || (!s.allowed && !near(d.RetryAfter, s.retry)) {
			t.Errorf("step %d: Allow(at %v) = %+v, want allowed %v, RetryAfter %v", i, s.at, d, s.allowed, s.retry)
		}
	}
}

// TestRetryAfterIsEnough checks that waiting RetryAfter is always enough
// and never much more than needed.
func TestRetryAfterIsEnough(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range []float64{0.3, 1, 7, 50, 1000, 123456.789} {
		k := mustNew(t, limiter.Config{Rate: r, Burst: 3})
		now := t0
		for i := range 2000 {
			now = now.Add(time.Duration(rng.Float64() * 2 / r * float64(time.Second)))
			d := k.Allow(clientA, now)
			if d.Allowed {
				continue
			}
			if d2 := k.Allow(clientA, now.Add(d.RetryAfter)); !d2.Allowed {
				t.Fatalf("rate %v step %d: Allow after RetryAfter %v = %+v, want allowed", r, i, d.RetryAfter, d2)
			}
			now = now.Add(d.RetryAfter)
		}
	}
}

// TestMatchesRate runs a bucket of Keyed and a rate.Limiter side by side
// over random event times: they must decide alike.
func TestMatchesRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		rate  float64
		burst int
	}{{1, 1}, {0.25, 3}, {50, 100}, {10, 1}, {3.3, 7}, {1e6, 1000}} {
		t.Run(fmt.Sprintf("rate=%v/burst=%d", c.rate, c.burst), func(t *testing.T) {
			perClient := mustNew(t, limiter.Config{Rate: c.rate, Burst: c.burst})
			globalOnly := mustNew(t, limiter.Config{GlobalRate: c.rate, GlobalBurst: c.burst})
			ref := rate.NewLimiter(rate.Limit(c.rate), c.burst)
			now := t0
			for i := range 20000 {
				// Mostly bursts, sometimes long gaps, sometimes none.
				switch rng.IntN(4) {
				case 0:
				case 1:
					now = now.Add(time.Duration(rng.Float64() * 3 / c.rate * float64(time.Second)))
				default:
					now = now.Add(time.Duration(rng.Float64() / c.rate / 10 * float64(time.Second)))
				}
				want := ref.AllowN(now, 1)
				var wantRetry time.Duration
				if !want {
					wantRetry = time.Duration((1 - ref.TokensAt(now)) / c.rate * float64(time.Second))
				}
				for name, l := range map[string]*limiter.Keyed{"per-client": perClient, "global": globalOnly} {
					d := l.Allow(clientA, now)
					if d.Allowed != want || (!want && !near(d.RetryAfter, wantRetry)) {
						t.Fatalf("step %d: %s Allow = %+v, rate.Limiter says allowed %v, retry %v", i, name, d, want, wantRetry)
					}
				}
			}
		})
	}
}

func TestIsolation(t *testing.T) {
	k := mustNew(t, limiter.Config{Rate: 1, Burst: 2})
	for range 10 {
		k.Allow(clientA, t0)
	}
	for i := range 2 {
		if d := k.Allow(clientB, t0); !d.Allowed {
			t.Errorf("event %d of B after A drained its bucket: Allow = %+v, want allowed", i, d)
		}
	}
	if d := k.Allow(clientA, t0); d.Allowed {
		t.Errorf("Allow(A) = %+v, want refused", d)
	}
}

func TestGlobal(t *testing.T) {
	t.Run("caps all clients together", func(t *testing.T) {
		k := mustNew(t, limiter.Config{GlobalRate: 10, GlobalBurst: 10})
		for i := range 10 {
			if d := k.Allow(v4(i), t0); !d.Allowed {
				t.Fatalf("client %d: Allow = %+v, want allowed", i, d)
			}
		}
		d := k.Allow(v4(10), t0)
		if d.Allowed || !d.Global || !near(d.RetryAfter, 100*time.Millisecond) {
			t.Errorf("client 10: Allow = %+v, want refused by the global limit, RetryAfter 100ms", d)
		}
		if d := k.Allow(v4(11), at(100*time.Millisecond)); !d.Allowed {
			t.Errorf("after 100ms: Allow = %+v, want allowed", d)
		}
		if n := k.Len(); n != 0 {
			t.Errorf("Len() = %d with the per-client limit off, want 0", n)
		}
	})
	t.Run("a refusal does not charge the client", func(t *testing.T) {
		// The client's bucket takes an hour to refill; the global one a
		// second.
		k := mustNew(t, limiter.Config{Rate: 1.0 / 3600, Burst: 1, GlobalRate: 1, GlobalBurst: 1})
		if d := k.Allow(clientA, t0); !d.Allowed {
			t.Fatalf("Allow(A) = %+v, want allowed", d)
		}
		if d := k.Allow(clientB, t0); d.Allowed || !d.Global {
			t.Fatalf("Allow(B) = %+v, want refused by the global limit", d)
		}
		if d := k.Allow(clientB, at(time.Second)); !d.Allowed {
			t.Errorf("Allow(B) a second later = %+v, want allowed: B's token was kept", d)
		}
	})
	t.Run("a client over its limit does not drain it", func(t *testing.T) {
		k := mustNew(t, limiter.Config{Rate: 1.0 / 3600, Burst: 1, GlobalRate: 1.0 / 3600, GlobalBurst: 2})
		for i := range 10 {
			if d := k.Allow(clientA, t0); d.Allowed != (i == 0) || d.Global {
				t.Fatalf("event %d of A: Allow = %+v, want allowed only the first, never a global refusal", i, d)
			}
		}
		if d := k.Allow(clientB, t0); !d.Allowed {
			t.Errorf("Allow(B) = %+v, want allowed: one global token is left", d)
		}
		if d := k.Allow(v4(0), t0); d.Allowed || !d.Global {
			t.Errorf("Allow(third client) = %+v, want refused by the global limit", d)
		}
	})
}

// shared reports whether a and b share a bucket under c: a drains one
// token (c has Burst 1) and b is refused.
func shared(t *testing.T, c limiter.Config, a, b netip.Addr) bool {
	t.Helper()
	c.Rate, c.Burst = 1.0/3600, 1
	k := mustNew(t, c)
	if d := k.Allow(a, t0); !d.Allowed {
		t.Fatalf("first Allow(%v) = %+v, want allowed", a, d)
	}
	return !k.Allow(b, t0).Allowed
}

func TestKeys(t *testing.T) {
	p := netip.MustParseAddr
	for _, tc := range []struct {
		a, b   netip.Addr
		prefix int
		want   bool
	}{
		{p("2001:db8::1"), p("2001:db8::ffff"), 0, true},
		{p("2001:db8::1"), p("2001:db8:0:0:ffff:ffff:ffff:ffff"), 0, true},
		{p("2001:db8::1"), p("2001:db8:0:1::1"), 0, false},
		{p("2001:db8::1"), p("2001:db8::ffff"), 128, false},
		{p("2001:db8::1"), p("2001:db8::1"), 128, true},
		{p("2001:db8::1"), p("2001:db8::8000:0:0:1"), 64, true},
		{p("2001:db8::1"), p("2001:db8::8000:0:0:1"), 65, false},
		{p("2001:db8::1"), p("2001:db8:ffff::1"), 32, true},
		{p("2001:db8::1"), p("2001:db9::1"), 32, false},
		{p("2001:db8::1"), p("2001:db9::1"), 16, true},
		{p("fe80::1%eth0"), p("fe80::2"), 0, true},
		{p("::ffff:1.2.3.4"), p("1.2.3.4"), 0, true},
		{p("::ffff:1.2.3.4"), p("1.2.3.4"), 128, true},
		{p("1.2.3.4"), p("1.2.3.5"), 0, false},
		{p("1.2.3.4"), p("::1.2.3.4"), 128, false}, // IPv4-compatible is IPv6
		{p("0.0.0.0"), p("::"), 128, false},
		{p("0.0.0.0"), p("::ffff:0.0.0.0"), 0, true},
		{p("::ffff:0:0"), p("::"), 0, false},
		{p("::1"), p("::2"), 0, true},
		{p("::"), netip.Addr{}, 0, false},
		{p("0.0.0.0"), netip.Addr{}, 0, false},
		{netip.Addr{}, netip.Addr{}, 0, true},
	} {
		t.Run(fmt.Sprintf("%v,%v/prefix=%d", tc.a, tc.b, tc.prefix), func(t *testing.T) {
			c := limiter.Config{IPv6Prefix: tc.prefix}
			if got := shared(t, c, tc.a, tc.b); got != tc.want {
				t.Errorf("shared(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := shared(t, c, tc.b, tc.a); got != tc.want {
				t.Errorf("shared(%v, %v) = %v, want %v", tc.b, tc.a, got, tc.want)
			}
		})
	}
}

func TestInvalidAddr(t *testing.T) {
	k := mustNew(t, limiter.Config{Rate: 1, Burst: 2, MaxKeys: 1})
	for i := range 3 {
		if d := k.Allow(netip.Addr{}, t0); d.Allowed != (i < 2) {
			t.Errorf("event %d: Allow(invalid) = %+v, want allowed %v", i, d, i < 2)
		}
	}
	// The shared bucket is outside the table: it neither counts nor is
	// evicted, nor evicts.
	k.Allow(clientA, t0)
	if n := k.Len(); n != 1 {
		t.Errorf("Len() = %d, want 1", n)
	}
	k.Allow(clientB, t0) // evicts A
	if d := k.Allow(netip.Addr{}, t0); d.Allowed {
		t.Errorf("Allow(invalid) = %+v after evictions, want refused", d)
	}
	if d := k.Allow(netip.Addr{}, at(time.Second)); !d.Allowed {
		t.Errorf("Allow(invalid) a second later = %+v, want allowed", d)
	}
}

func TestIdleEviction(t *testing.T) {
	k := mustNew(t, limiter.Config{Rate: 10, Burst: 10, Shards: 1})
	for i := range 100 {
		k.Allow(v4(i), t0)
	}
	if n := k.Len(); n != 100 {
		t.Fatalf("Len() = %d, want 100", n)
	}
	// 50ms later the buckets hold 9.5 tokens: nothing may go.
	for range 100 {
		k.Allow(v4(0), at(50*time.Millisecond))
	}
	if n := k.Len(); n != 100 {
		t.Errorf("Len() = %d before the buckets refilled, want 100", n)
	}
	// 2s later every bucket but v4(0)'s is full again; each call drops
	// up to two.
	for i := 1; i <= 60; i++ {
		k.Allow(v4(0), at(2*time.Second))
		if n, want := k.Len(), max(1, 100-2*i); n != want {
			t.Fatalf("call %d: Len() = %d, want %d", i, n, want)
		}
	}
}

func TestMaxKeys(t *testing.T) {
	t.Run("LRU", func(t *testing.T) {
		k := mustNew(t, limiter.Config{Rate: 1.0 / 3600, Burst: 1, MaxKeys: 8, Shards: 1})
		hot, cold := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8:1::1")
		k.Allow(hot, t0)
		k.Allow(cold, t0)
		for i := range 100 {
			k.Allow(v4(i), t0)
			if d := k.Allow(hot, t0); d.Allowed {
				t.Fatalf("after %d new clients: Allow(hot) = %+v, want refused: the most recently used client was evicted", i+1, d)
			}
			if n := k.Len(); n > 8 {
				t.Fatalf("after %d new clients: Len() = %d, want at most 8", i+1, n)
			}
		}
		// Evicting a client whose bucket has not refilled gives it a fresh
		// one: the documented cost of the hard cap.
		if d := k.Allow(cold, t0); !d.Allowed {
			t.Errorf("Allow(cold) = %+v, want allowed: it was evicted", d)
		}
	})
	for _, c := range []limiter.Config{
		{MaxKeys: 1},
		{MaxKeys: 10},
		{MaxKeys: 100, Shards: 4},
		{MaxKeys: 1000},
	} {
		t.Run(fmt.Sprintf("MaxKeys=%d/Shards=%d", c.MaxKeys, c.Shards), func(t *testing.T) {
			c.Rate = 1
			k := mustNew(t, c)
			for i := range 50 * c.MaxKeys {
				k.Allow(v6(i), t0)
				if n := k.Len(); n > c.MaxKeys {
					t.Fatalf("after %d clients: Len() = %d, want at most %d", i+1, n, c.MaxKeys)
				}
			}
			if n := k.Len(); c.MaxKeys >= 100 && n < c.MaxKeys*3/4 {
				t.Errorf("Len() = %d, want near MaxKeys %d: shards are under-used", n, c.MaxKeys)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		c       limiter.Config
		wantErr string // "" if valid
	}{
		{limiter.Config{}, ""},
		{limiter.Config{Rate: 50, Burst: 100, GlobalRate: 10000}, ""},
		{limiter.Config{Rate: 1, MaxKeys: 1}, ""},
		{limiter.Config{Rate: 1, MaxKeys: 3, Shards: 2}, ""},
		{limiter.Config{Rate: 1, IPv6Prefix: 128, Shards: 1}, ""},
		{limiter.Config{Rate: 1, IPv6Prefix: 1}, ""},
		{limiter.Config{Burst: 5}, ""}, // ignored with Rate 0
		{limiter.Config{Rate: -1}, "Rate is -1"},
		{limiter.Config{Rate: math.NaN()}, "Rate is NaN"},
		{limiter.Config{Rate: math.Inf(1)}, "Rate is +Inf"},
		{limiter.Config{Burst: -1}, "Burst is -1"},
		{limiter.Config{GlobalRate: -0.5}, "GlobalRate is -0.5"},
		{limiter.Config{GlobalBurst: -2}, "GlobalBurst is -2"},
		{limiter.Config{MaxKeys: -1}, "MaxKeys is -1"},
		{limiter.Config{MaxKeys: math.MaxInt32 + 1}, "MaxKeys is 2147483648"},
		{limiter.Config{IPv6Prefix: -1}, "IPv6Prefix is -1"},
		{limiter.Config{IPv6Prefix: 129}, "IPv6Prefix is 129"},
		{limiter.Config{Shards: 3}, "Shards is 3"},
		{limiter.Config{Shards: -4}, "Shards is -4"},
		{limiter.Config{Shards: 8, MaxKeys: 4}, "Shards is 8, more than MaxKeys (4)"},
		{limiter.Config{Rate: -1, IPv6Prefix: 200}, "IPv6Prefix is 200"}, // every problem is reported
	} {
		t.Run(fmt.Sprintf("%+v", tc.c), func(t *testing.T) {
			k, err := limiter.New(tc.c)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("New(%+v) = %v, want no error", tc.c, err)
			case tc.wantErr == "" && k == nil:
				t.Errorf("New(%+v) = nil, want a Keyed", tc.c)
			case tc.wantErr != "" && (err == nil || !errors.Is(err, limiter.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("New(%+v) = %v, want an ErrInvalidConfig containing %q", tc.c, err, tc.wantErr)
			case tc.wantErr != "" && k != nil:
				t.Errorf("New(%+v) returned a Keyed and an error", tc.c)
			}
		})
	}
}

func TestZeroKeyed(t *testing.T) {
	var k limiter.Keyed
	for i := range 1000 {
		if d := k.Allow(v4(i%3), t0); !d.Allowed {
			t.Fatalf("Keyed{}.Allow = %+v, want allowed", d)
		}
	}
	if n := k.Len(); n != 0 {
		t.Errorf("Keyed{}.Len() = %d, want 0", n)
	}
}

// TestConcurrent checks that concurrent callers never get more tokens than
// there are. Run it with -race.
func TestConcurrent(t *testing.T) {
	const workers, calls = 8, 500
	k := mustNew(t, limiter.Config{Rate: 1.0 / 3600, Burst: 10, GlobalRate: 1.0 / 3600, GlobalBurst: 300, MaxKeys: 64, Shards: 4})
	var (
		wg                      sync.WaitGroup
		mu                      sync.Mutex
		allowed, hot, refusedGl int
	)
	for w := range workers {
		wg.Go(func() {
			a, h, g := 0, 0, 0
			for i := range calls {
				client := clientA // hot: one bucket shared by every worker
				if i%2 == 1 {
					client = v6(w*calls + i) // a new client each time
				}
				d := k.Allow(client, t0)
				if d.Allowed {
					a++
					if client == clientA {
						h++
					}
				} else if d.Global {
					g++
				}
			}
			mu.Lock()
			allowed, hot, refusedGl = allowed+a, hot+h, refusedGl+g
			mu.Unlock()
		})
	}
	wg.Wait()
	if hot != 10 {
		t.Errorf("hot client allowed %d times, want its burst, 10", hot)
	}
	if allowed != 300 {
		t.Errorf("allowed %d events, want the global burst, 300", allowed)
	}
	if n := k.Len(); n > 64 {
		t.Errorf("Len() = %d, want at most 64", n)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want int64
	}{
		{0, 1}, {time.Nanosecond, 1}, {999 * time.Millisecond, 1}, {time.Second, 1},
		{time.Second + time.Nanosecond, 2}, {2500 * time.Millisecond, 3}, {time.Hour, 3600},
		{rate.InfDuration, math.MaxInt64/int64(time.Second) + 1},
	} {
		if got := (limiter.Decision{RetryAfter: tc.in}).RetryAfterSeconds(); got != tc.want {
			t.Errorf("Decision{RetryAfter: %v}.RetryAfterSeconds() = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestRefusals(t *testing.T) {
	var r limiter.Refusals
	for _, d := range []limiter.Decision{
		{Allowed: true}, {}, {RetryAfter: time.Second}, {Global: true}, {Allowed: true}, {}, {Global: true, RetryAfter: 1},
	} {
		r.Add(d)
	}
	if c, g := r.Client.Load(), r.Global.Load(); c != 3 || g != 2 {
		t.Errorf("Refusals = {Client: %d, Global: %d}, want {3, 2}", c, g)
	}
	var nilR *limiter.Refusals
	nilR.Add(limiter.Decision{}) // must not panic
}
