package sharedstore

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/internal/redistest"
	"github.com/phalanx-lb/phalanx/limiter"
)

// instances returns n Limiters of lc, each on a Store of its own as n
// instances would have, all on the same server and prefix. Their local
// limiters count the checks that reach them.
func instances(t *testing.T, n int, lc limiter.Config) ([]limiter.Limiter, []*Store, *atomic.Int64) {
	t.Helper()
	url, prefix := sharedRedis(t)
	var locals atomic.Int64
	local := limiter.Func(func(netip.Addr, time.Time) limiter.Decision {
		locals.Add(1)
		return limiter.Decision{Allowed: true}
	})
	var ls []limiter.Limiter
	var ss []*Store
	for range n {
		s := openStore(t, Config{URL: url, Prefix: prefix})
		ss = append(ss, s)
		ls = append(ls, s.Limiter(lc, local))
	}
	return ls, ss, &locals
}

// hammer sends 60 checks over about a second, in round robin over ls,
// with client(i) the client of check i. It returns the checks allowed,
// the refusals, and the time from the first check to the last.
func hammer(ls []limiter.Limiter, client func(i int) netip.Addr) (allowed int, refused []limiter.Decision, elapsed time.Duration) {
	const checks = 60
	start := time.Now()
	for i := range checks {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / checks)); d > 0 {
			time.Sleep(d)
		}
		d := ls[i%len(ls)].Allow(client(i), time.Now())
		if d.Allowed {
			allowed++
		} else {
			refused = append(refused, d)
		}
	}
	return allowed, refused, time.Since(start)
}

// checkFleetBound checks that allowed is about what one limiter of rate 5
// and burst 5 allows in elapsed, 5 + 5·elapsed, and not what three would.
func checkFleetBound(t *testing.T, allowed int, elapsed time.Duration) {
	t.Helper()
	want := 5 + 5*elapsed.Seconds()
	t.Logf("allowed %d of 60 checks in %v across 3 instances; one limiter allows %.1f", allowed, elapsed.Round(time.Millisecond), want)
	if float64(allowed) < want-2 || float64(allowed) > want+1.5 {
		t.Errorf("allowed = %d in %v, want about %.1f (5 + 5/s); three separate limiters would allow about %.0f",
			allowed, elapsed, want, 3*want)
	}
}

// TestFleetClientLimit is the case: a client hammering three
// instances gets one limit's worth, not three.
func TestFleetClientLimit(t *testing.T) {
	ls, ss, locals := instances(t, 3, limiter.Config{Rate: 5, Burst: 5})
	a := netip.MustParseAddr("192.0.2.1")
	allowed, refused, elapsed := hammer(ls, func(int) netip.Addr { return a })
	checkFleetBound(t, allowed, elapsed)
	for _, d := range refused {
		if d.Global || d.RetryAfter <= 0 || d.RetryAfter > 200*time.Millisecond {
			t.Errorf("refusal %+v, want Global false and RetryAfter in (0, 200ms]", d)
			break
		}
	}
	if n := locals.Load(); n != 0 {
		t.Errorf("the local limiters decided %d checks, want 0 with Redis up", n)
	}
	for i, s := range ss {
		if st := s.Stats(); st.Checks != 20 || st.Fallbacks != 0 || st.Errors != 0 || !st.Up {
			t.Errorf("instance %d: Stats() = %+v, want 20 checks, no fallback, no error, up", i, st)
		}
	}
}

// TestFleetGlobalLimit: many clients over three instances share one
// global limit.
func TestFleetGlobalLimit(t *testing.T) {
	ls, _, _ := instances(t, 3, limiter.Config{Rate: 100, GlobalRate: 5, GlobalBurst: 5})
	allowed, refused, elapsed := hammer(ls, func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}) })
	checkFleetBound(t, allowed, elapsed)
	for _, d := range refused {
		if !d.Global || d.RetryAfter <= 0 || d.RetryAfter > 200*time.Millisecond {
			t.Errorf("refusal %+v, want Global and RetryAfter in (0, 200ms]", d)
			break
		}
	}
}

// TestFleetIPv6Prefix: the addresses of a /64, spread over three
// instances, share one client's limit.
func TestFleetIPv6Prefix(t *testing.T) {
	ls, _, _ := instances(t, 3, limiter.Config{Rate: 5, Burst: 5})
	allowed, _, elapsed := hammer(ls, func(i int) netip.Addr {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 7, 8: byte(i), 15: byte(i)})
	})
	checkFleetBound(t, allowed, elapsed)
}

// TestSharedMatchesKeyed runs sequences of checks, made within a few
// milliseconds, through a shared Limiter and through limiter.Keyed at one
// instant, and wants the same decisions: which limit refuses, what a
// refusal charges, how clients are keyed.
func TestSharedMatchesKeyed(t *testing.T) {
	url, _ := sharedRedis(t)
	v4 := netip.MustParseAddr("192.0.2.1")
	other := netip.MustParseAddr("192.0.2.2")
	third := netip.MustParseAddr("192.0.2.3")
	for _, tc := range []struct {
		name    string
		lc      limiter.Config
		clients []netip.Addr
	}{
		{"client burst", limiter.Config{Rate: 1, Burst: 3}, []netip.Addr{v4, v4, v4, v4, v4, other}},
		{"burst defaults to one second of rate", limiter.Config{Rate: 2}, []netip.Addr{v4, v4, v4}},
		{"global refusal does not charge the client", limiter.Config{Rate: 1, Burst: 1, GlobalRate: 1, GlobalBurst: 2},
			[]netip.Addr{v4, other, third, third}},
		{"client refusal does not charge the global bucket", limiter.Config{Rate: 1, Burst: 1, GlobalRate: 1, GlobalBurst: 2},
			[]netip.Addr{v4, v4, v4, other, third}},
		{"global only", limiter.Config{GlobalRate: 1, GlobalBurst: 2}, []netip.Addr{v4, other, third}},
		{"IPv6 /64 is one client", limiter.Config{Rate: 1, Burst: 2}, []netip.Addr{
			netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::ffff:2"),
			netip.MustParseAddr("2001:db8::3%eth0"), netip.MustParseAddr("2001:db8:0:1::1")}},
		{"IPv6 /128 by config", limiter.Config{Rate: 1, Burst: 1, IPv6Prefix: 128}, []netip.Addr{
			netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("2001:db8::1")}},
		{"IPv4-mapped is IPv4", limiter.Config{Rate: 1, Burst: 1}, []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.1"), v4}},
		{"invalid addresses are one client", limiter.Config{Rate: 1, Burst: 1}, []netip.Addr{{}, {}, v4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, prefix := sharedRedis(t)
			s := openStore(t, Config{URL: url, Prefix: prefix})
			l := s.Limiter(tc.lc, nil)
			k, err := limiter.New(tc.lc)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			for i, c := range tc.clients {
				got, want := l.Allow(c, now), k.Allow(c, now)
				if got.Allowed != want.Allowed || got.Global != want.Global ||
					(got.RetryAfter-want.RetryAfter).Abs() > 50*time.Millisecond {
					t.Errorf("step %d: Allow(%v) = %+v, want %+v as limiter.Keyed decides", i, c, got, want)
				}
			}
			if st := s.Stats(); st.Fallbacks != 0 {
				t.Errorf("Stats().Fallbacks = %d, want 0", st.Fallbacks)
			}
		})
	}
}

// TestRefusedClientNotCharged checks in Redis itself that a client the
// global limit refuses keeps no bucket, and that a bucket expires once
// full.
func TestRefusedClientNotCharged(t *testing.T) {
	url, prefix := sharedRedis(t)
	s := openStore(t, Config{URL: url, Prefix: prefix})
	l := s.Limiter(limiter.Config{Rate: 20, Burst: 1, GlobalRate: 1, GlobalBurst: 1}, nil).(*shared)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	if d := l.Allow(a, time.Now()); !d.Allowed {
		t.Fatalf("first Allow = %+v, want allowed", d)
	}
	if d := l.Allow(b, time.Now()); d.Allowed || !d.Global {
		t.Fatalf("second Allow = %+v, want refused by the global limit", d)
	}
	ctx := context.Background()
	if n := s.rdb.Exists(ctx, l.key(b)).Val(); n != 0 {
		t.Errorf("the refused client has a bucket (%s), want none", l.key(b))
	}
	if n := s.rdb.Exists(ctx, l.key(a)).Val(); n != 1 {
		t.Errorf("the allowed client has no bucket (%s)", l.key(a))
	}
	// a's bucket (one token, 20 a second) is full after 50ms, and then
	// expires.
	if _, ok := waitFor(time.Second, func() bool { return s.rdb.Exists(ctx, l.key(a)).Val() == 0 }); !ok {
		t.Errorf("a full bucket did not expire within 1s")
	}
}

// TestRedisDown kills Redis in the middle of a run: checks fall back to
// the local limiter (fail open) with one log line, or are refused (fail
// closed); when Redis is back on the same port, the same Stores share
// limits again within about 2 seconds, with one more log line.
func TestRedisDown(t *testing.T) {
	r := redistest.Start(t)
	var logs logBuffer
	lc := limiter.Config{Rate: 5, Burst: 5}
	var ls []limiter.Limiter
	var ss []*Store
	for range 2 {
		s := openStore(t, Config{URL: r.URL(0), Logger: logs.logger()})
		local, err := limiter.New(lc)
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
		ls = append(ls, s.Limiter(lc, local))
	}
	closed := openStore(t, Config{URL: r.URL(0), FailClosed: true})
	lClosed := closed.Limiter(lc, nil)
	a := netip.MustParseAddr("192.0.2.1")
	if d := lClosed.Allow(netip.MustParseAddr("192.0.2.99"), time.Now()); !d.Allowed {
		t.Fatalf("fail-closed limiter with Redis up: %+v, want allowed", d)
	}

	r.Stop()
	start := time.Now()
	allowed := 0
	for i := range 50 {
		if ls[i%2].Allow(a, time.Now()).Allowed {
			allowed++
		}
	}
	el := time.Since(start)
	if el > time.Second {
		t.Errorf("50 checks with Redis down took %v, want them quick (one probe a second)", el)
	}
	// Each instance's local limiter allows its own burst of 5, and 5 a
	// second after it.
	if most := 10 + int(math.Ceil(2*5*el.Seconds())); allowed < 10 || allowed > most {
		t.Errorf("with Redis down, allowed %d of 50 checks at 2 instances in %v, want 10 to %d (a local burst each)", allowed, el, most)
	}
	st := ss[0].Stats()
	if st.Up || st.Fallbacks < 20 || st.Errors == 0 {
		t.Errorf("Stats() with Redis down = %+v, want down, 20 or more fallbacks, errors", st)
	}
	if n := logs.count("redis unreachable"); n != 2 { // one per Store
		t.Errorf("%d 'redis unreachable' log lines from 2 stores, want 2", n)
	}
	if d := lClosed.Allow(a, time.Now()); d.Allowed || !d.Global || d.RetryAfter != time.Second {
		t.Errorf("fail-closed limiter with Redis down: %+v, want refused, Global, RetryAfter 1s", d)
	}

	r.Start()
	back := time.Now()
	b := netip.MustParseAddr("192.0.2.2")
	took, ok := waitFor(3*time.Second, func() bool {
		for i := range ls {
			ls[i].Allow(b, time.Now())
		}
		return ss[0].Stats().Up && ss[1].Stats().Up
	})
	t.Logf("sharing resumed %v after Redis restarted", took.Round(time.Millisecond))
	if !ok || took > 2500*time.Millisecond {
		t.Fatalf("sharing resumed = %v after %v, want within about 2s", ok, took)
	}
	// Shared again: a fresh client gets one burst from both instances.
	c := netip.MustParseAddr("192.0.2.3")
	fb := ss[0].Stats().Fallbacks + ss[1].Stats().Fallbacks
	allowed = 0
	for i := range 10 {
		if ls[i%2].Allow(c, time.Now()).Allowed {
			allowed++
		}
	}
	if allowed > 6 {
		t.Errorf("after recovery, allowed %d of 10 quick checks at 2 instances, want about 5 (shared)", allowed)
	}
	if n := ss[0].Stats().Fallbacks + ss[1].Stats().Fallbacks; n != fb {
		t.Errorf("%d fallbacks after recovery, want 0", n-fb)
	}
	if n := logs.count("redis answers again"); n != 2 {
		t.Errorf("%d 'redis answers again' log lines, want 2 (one per store)", n)
	}
	if n := logs.count("redis unreachable"); n != 2 {
		t.Errorf("%d 'redis unreachable' log lines, want still 2", n)
	}
	if time.Since(back) > 5*time.Second {
		t.Errorf("recovery checks took %v", time.Since(back))
	}
}

// TestOpenDown: a store whose server is not there opens, logs once, and
// falls back.
func TestOpenDown(t *testing.T) {
	var logs logBuffer
	port := redistest.FreePort(t)
	s := openStore(t, Config{URL: "redis://127.0.0.1:" + strconv.Itoa(port) + "/0", Logger: logs.logger()})
	l := s.Limiter(limiter.Config{Rate: 1}, nil)
	for range 5 {
		if d := l.Allow(netip.MustParseAddr("192.0.2.1"), time.Now()); !d.Allowed {
			t.Fatalf("Allow with Redis down and no local limiter = %+v, want allowed (fail open)", d)
		}
	}
	if _, ok := waitFor(2*time.Second, func() bool { return logs.count("redis unreachable") > 0 }); !ok {
		t.Fatal("no log line for a server down at start")
	}
	if n := logs.count("redis unreachable"); n != 1 {
		t.Errorf("%d log lines, want 1", n)
	}
	if st := s.Stats(); st.Up || st.Fallbacks == 0 {
		t.Errorf("Stats() = %+v, want down with fallbacks", st)
	}
}

// TestOpenErrors checks that Open names what is wrong with a URL, and
// never shows its password.
func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		url, want string
	}{
		{"", "empty"},
		{"http://localhost:6379/0", `scheme "http"`},
		{"localhost:6379", `scheme "localhost"`},
		{"redis:///0", "no host"},
		{"redis://:secret@:6379/0", "no host"},
		{"redis://user:secret@host:0/0", `port "0"`},
		{"redis://user:secret@host:99999/0", `port "99999"`},
		{"redis://host:6379/x", `database "x"`},
		{"redis://host:6379/-1", `database "-1"`},
		{"redis://host:6379/0?dial_timeout=1", "query parameters"},
		{"redis://host:6379/0#x", "fragment"},
		{"redis://user:secret@host:port/0", "invalid port"},
		{"redis://host:6379/0/1", `database "0/1"`},
	} {
		t.Run(tc.url, func(t *testing.T) {
			s, err := Open(Config{URL: tc.url})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) = nil error, want one about %s", tc.url, tc.want)
			}
			if !errors.Is(err, ErrURL) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) = %v, want ErrURL naming %s", tc.url, err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Open(%q) = %v, which shows the password", tc.url, err)
			}
		})
	}
	if _, err := Open(Config{URL: "redis://host/0", Timeout: -1}); !errors.Is(err, ErrConfig) {
		t.Errorf("Open with a negative Timeout = %v, want ErrConfig", err)
	}
	port := strconv.Itoa(redistest.FreePort(t)) // nothing listens there
	for _, u := range []string{"redis://127.0.0.1", "redis://127.0.0.1:" + port, "redis://u:p@127.0.0.1:" + port + "/3", "rediss://127.0.0.1:" + port + "/1"} {
		s, err := Open(Config{URL: u, Logger: discard})
		if err != nil {
			t.Errorf("Open(%q) = %v, want no error", u, err)
			continue
		}
		s.Close()
	}
}

// TestLimiterNames: Limiters share buckets only with those of the same
// name and limits.
func TestLimiterNames(t *testing.T) {
	url, prefix := sharedRedis(t)
	s := openStore(t, Config{URL: url, Prefix: prefix})
	lc := limiter.Config{Rate: 1, Burst: 1}
	for i, tc := range []struct {
		name   string
		second limiter.Limiter
		shared bool
	}{
		{"same name and limits", s.Limiter(lc, nil), true},
		{"other name", s.NamedLimiter("conn", lc, nil), false},
		{"other limits", s.Limiter(limiter.Config{Rate: 1, Burst: 2}, nil), false},
		{"other prefix", openStore(t, Config{URL: url, Prefix: prefix + "x:"}).Limiter(lc, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := s.Limiter(lc, nil)
			client := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
			if d := first.Allow(client, time.Now()); !d.Allowed {
				t.Fatalf("first check = %+v, want allowed", d)
			}
			if d := tc.second.Allow(client, time.Now()); d.Allowed == tc.shared {
				t.Errorf("second limiter's check = %+v, want allowed %v (shared buckets: %v)", d, !tc.shared, tc.shared)
			}
		})
	}
}

// TestLimiterInvalidConfig: an invalid limiter.Config is a programming
// error, found at start-up.
func TestLimiterInvalidConfig(t *testing.T) {
	s := openStore(t, Config{URL: "redis://127.0.0.1:" + strconv.Itoa(redistest.FreePort(t)) + "/0"})
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "Rate") {
			t.Errorf("Limiter with Rate -1: recovered %v, want a panic naming Rate", r)
		}
	}()
	s.Limiter(limiter.Config{Rate: -1}, nil)
}
