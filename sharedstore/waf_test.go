package sharedstore

import (
	"context"
	"math"
	"net/http"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/internal/redistest"
	"github.com/phalanx-lb/phalanx/waf"
)

// instance is one phalanx instance's WAF: its engine, sharing through a
// store of its own.
type instance struct {
	e *waf.Engine
	s *Store
}

// newInstance returns an engine shared through a new store on url and
// prefix, until the test ends.
func newInstance(t *testing.T, url, prefix string, c waf.Config) instance {
	t.Helper()
	c.Logger = discard
	e, err := waf.New(c)
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, Config{URL: url, Prefix: prefix})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s.ShareWAF(ctx, e)
	return instance{e, s}
}

// isBanned reports whether e refuses a clean request from a as banned.
func isBanned(e *waf.Engine, a netip.Addr) bool {
	v := e.Check(&waf.Request{Method: "GET", Path: "/", Header: http.Header{"User-Agent": {"Mozilla/5.0"}}, Client: a}, nil)
	return v.Cause == waf.CauseBan
}

// attack sends one SQL injection from a to e: 3 strikes.
func attack(t *testing.T, e *waf.Engine, a netip.Addr) waf.Verdict {
	t.Helper()
	v := e.Check(&waf.Request{Method: "GET", Path: "/", RawQuery: "id=1'+UNION+SELECT+password+FROM+users--",
		Header: http.Header{"User-Agent": {"Mozilla/5.0"}}, Client: a}, nil)
	if v.Cause != waf.CausePayload && v.Cause != waf.CauseBan {
		t.Fatalf("attack verdict = %+v, want a payload block", v)
	}
	return v
}

// TestShareBan: a ban made by hand at one instance blocks at the other
// within a second, and so does its unban.
func TestShareBan(t *testing.T) {
	url, prefix := sharedRedis(t)
	a, b := newInstance(t, url, prefix, waf.Config{}), newInstance(t, url, prefix, waf.Config{})
	x := netip.MustParseAddr("2001:db8:5:6::1")
	other := netip.MustParseAddr("2001:db8:5:6:ffff::2") // the same /64
	if isBanned(b.e, other) {
		t.Fatal("banned before the ban")
	}
	a.e.Ban(x, time.Hour, "by hand")
	took, ok := waitFor(time.Second, func() bool { return isBanned(b.e, other) })
	t.Logf("ban propagated in %v", took)
	if !ok {
		t.Fatalf("a ban at one instance did not block at the other within 1s")
	}
	bans := b.e.Bans()
	if len(bans) != 1 || bans[0].Client != netip.MustParsePrefix("2001:db8:5:6::/64") || bans[0].Reason != "by hand" ||
		(bans[0].Until.Sub(time.Now().Add(time.Hour))).Abs() > 5*time.Second {
		t.Errorf("Bans at the other instance = %+v, want 2001:db8:5:6::/64 for an hour, by hand", bans)
	}
	a.e.Unban(x)
	took, ok = waitFor(time.Second, func() bool { return !isBanned(b.e, x) })
	t.Logf("unban propagated in %v", took)
	if !ok {
		t.Fatalf("an unban at one instance did not reach the other within 1s")
	}
	// The sender counts an unban once Redis has answered, which may be
	// after the receiver applied it.
	var sa, sb Stats
	if _, ok := waitFor(time.Second, func() bool {
		sa, sb = a.s.Stats(), b.s.Stats()
		return sa.BansSent == 1 && sa.UnbansSent == 1 && sb.BansReceived == 1 && sb.UnbansReceived == 1
	}); !ok {
		t.Errorf("Stats: sender %+v, receiver %+v; want one ban and one unban each way", sa, sb)
	}
}

// TestShareStrikes: strikes add up across instances, and the auto-ban
// they lead to blocks everywhere within a second.
func TestShareStrikes(t *testing.T) {
	url, prefix := sharedRedis(t)
	var in []instance
	for range 3 {
		in = append(in, newInstance(t, url, prefix, waf.Config{}))
	}
	x := netip.MustParseAddr("192.0.2.77")
	// Five attacks, over the three instances: 15 strikes, no ban (more
	// than 15 bans).
	for i := range 5 {
		if v := attack(t, in[i%3].e, x); v.Banned {
			t.Fatalf("attack %d banned, want no ban at %d strikes", i+1, 3*(i+1))
		}
	}
	for i, n := range in {
		if _, ok := waitFor(time.Second, func() bool { return math.Abs(n.e.Strikes(x)-15) < 0.1 }); !ok {
			t.Fatalf("instance %d has %v strikes, want the fleet's 15", i, n.e.Strikes(x))
		}
	}
	start := time.Now()
	if v := attack(t, in[2].e, x); !v.Banned {
		t.Fatalf("sixth attack (18 strikes) at instance 2 did not ban")
	}
	for i, n := range in[:2] {
		if _, ok := waitFor(time.Second, func() bool { return isBanned(n.e, x) }); !ok {
			t.Fatalf("the auto-ban at instance 2 did not block at instance %d within 1s", i)
		}
	}
	t.Logf("auto-ban propagated to both others in %v", time.Since(start))
	var st Stats // counted once Redis answered or once applied: may lag a moment
	if _, ok := waitFor(time.Second, func() bool {
		st = in[0].s.Stats()
		return st.StrikesSent == 2 && st.StrikesReceived == 3 && st.BansReceived == 1
	}); !ok {
		t.Errorf("instance 0 Stats() = %+v, want 2 strikes sent, 3 received, 1 ban received", st)
	}
}

// TestShareLateJoiner: an instance that starts after a ban was made gets
// it before ShareWAF returns.
func TestShareLateJoiner(t *testing.T) {
	url, prefix := sharedRedis(t)
	a := newInstance(t, url, prefix, waf.Config{})
	x := netip.MustParseAddr("198.51.100.7")
	a.e.Ban(x, time.Hour, "early")
	a.e.Ban(netip.MustParseAddr("198.51.100.8"), 50*time.Millisecond, "short")
	if _, ok := waitFor(time.Second, func() bool { return a.s.Stats().BansSent == 2 }); !ok {
		t.Fatal("the bans were not sent within 1s")
	}
	time.Sleep(60 * time.Millisecond) // the short ban is over
	late := newInstance(t, url, prefix, waf.Config{})
	bans := late.e.Bans()
	if len(bans) != 1 || bans[0].Client.Addr() != x || bans[0].Reason != "early" {
		t.Errorf("Bans of an instance started later = %+v, want the ban of %v in force", bans, x)
	}
	if !isBanned(late.e, x) {
		t.Errorf("the late instance does not block %v", x)
	}
}

// TestShareExpiry: a ban ends at every instance when it is due.
func TestShareExpiry(t *testing.T) {
	url, prefix := sharedRedis(t)
	a, b := newInstance(t, url, prefix, waf.Config{}), newInstance(t, url, prefix, waf.Config{})
	x := netip.MustParseAddr("203.0.113.5")
	a.e.Ban(x, 700*time.Millisecond, "brief")
	until := time.Now().Add(700 * time.Millisecond)
	if _, ok := waitFor(time.Second, func() bool { return isBanned(b.e, x) }); !ok {
		t.Fatal("the ban did not reach the other instance within 1s")
	}
	time.Sleep(time.Until(until) + 20*time.Millisecond)
	for i, n := range []instance{a, b} {
		if isBanned(n.e, x) || len(n.e.Bans()) != 0 {
			t.Errorf("instance %d still bans %v after the ban's end", i, x)
		}
	}
	// The stored set drops ended bans as new ones are written.
	a.e.Ban(netip.MustParseAddr("203.0.113.6"), time.Hour, "")
	if _, ok := waitFor(time.Second, func() bool {
		return a.s.rdb.ZScore(context.Background(), a.s.prefix+bansKey, "203.0.113.5/32").Err() != nil
	}); !ok {
		t.Errorf("the ended ban is still stored")
	}
}

// TestShareRedisRestart: Redis restarts empty; changes made meanwhile are
// sent when it is back, the instances store their bans again for those
// that start later, and sharing goes on without a new Store.
func TestShareRedisRestart(t *testing.T) {
	r := redistest.Start(t)
	a, b := newInstance(t, r.URL(0), "", waf.Config{}), newInstance(t, r.URL(0), "", waf.Config{})
	before := netip.MustParseAddr("192.0.2.10")
	during := netip.MustParseAddr("192.0.2.11")
	after := netip.MustParseAddr("192.0.2.12")
	a.e.Ban(before, time.Hour, "before")
	if _, ok := waitFor(time.Second, func() bool { return isBanned(b.e, before) }); !ok {
		t.Fatal("the first ban did not propagate")
	}
	r.Stop()
	a.e.Ban(during, time.Hour, "during")
	time.Sleep(300 * time.Millisecond)
	if isBanned(b.e, during) {
		t.Fatal("a ban propagated with Redis down?")
	}
	r.Start()
	took, ok := waitFor(3*time.Second, func() bool { return isBanned(b.e, during) })
	t.Logf("a ban made while Redis was down reached the other instance %v after Redis restarted", took)
	if !ok {
		t.Fatalf("the ban made during the outage did not reach the other instance within 3s of the restart")
	}
	a.e.Ban(after, time.Hour, "after")
	if took, ok := waitFor(time.Second, func() bool { return isBanned(b.e, after) }); !ok {
		t.Fatalf("a ban after the restart did not propagate within 1s")
	} else {
		t.Logf("a ban after the restart propagated in %v", took)
	}
	// The first ban was lost with Redis's data; the instances stored it
	// again.
	late := newInstance(t, r.URL(0), "", waf.Config{})
	for _, x := range []netip.Addr{before, during, after} {
		if !isBanned(late.e, x) {
			t.Errorf("an instance started after the restart does not ban %v; bans %+v", x, late.e.Bans())
		}
	}
}

// TestShareWAFStops: after its context ends, an engine no longer shares.
func TestShareWAFStops(t *testing.T) {
	url, prefix := sharedRedis(t)
	a := newInstance(t, url, prefix, waf.Config{})
	e, err := waf.New(waf.Config{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, Config{URL: url, Prefix: prefix})
	ctx, cancel := context.WithCancel(context.Background())
	s.ShareWAF(ctx, e)
	cancel()
	time.Sleep(50 * time.Millisecond)
	e.Ban(netip.MustParseAddr("192.0.2.1"), time.Hour, "")
	a.e.Ban(netip.MustParseAddr("192.0.2.2"), time.Hour, "")
	time.Sleep(300 * time.Millisecond)
	if len(a.e.Bans()) != 1 || len(e.Bans()) != 1 {
		t.Errorf("after the sharing ended: bans %v and %v, want one each", a.e.Bans(), e.Bans())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}

// TestSharePartition: Redis stops answering for a while without losing
// its data (the process is stopped, as a network partition would look).
// The changes made meanwhile reach the other instance when it answers
// again, and a resync does not undo an unban made during the outage.
func TestSharePartition(t *testing.T) {
	r := redistest.Start(t)
	a, b := newInstance(t, r.URL(0), "", waf.Config{}), newInstance(t, r.URL(0), "", waf.Config{})
	x, y := netip.MustParseAddr("192.0.2.20"), netip.MustParseAddr("192.0.2.21")
	a.e.Ban(x, time.Hour, "x")
	if _, ok := waitFor(time.Second, func() bool { return isBanned(b.e, x) }); !ok {
		t.Fatal("the first ban did not propagate")
	}
	if err := r.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			_ = r.Signal(syscall.SIGCONT)
		}
	}()
	// Wait until both instances take Redis for down, so that they resync
	// when it is back.
	if _, ok := waitFor(3*time.Second, func() bool { return !a.s.Stats().Up && !b.s.Stats().Up }); !ok {
		t.Fatal("the instances did not notice that Redis stopped answering within 3s")
	}
	a.e.Unban(x)
	a.e.Ban(y, time.Hour, "y")
	_ = r.Signal(syscall.SIGCONT)
	stopped = false
	took, ok := waitFor(3*time.Second, func() bool { return !isBanned(b.e, x) && isBanned(b.e, y) })
	t.Logf("changes made during the outage reached the other instance %v after Redis answered again", took)
	if !ok {
		t.Fatalf("after the outage the other instance bans %v, want only %v", b.e.Bans(), y)
	}
	time.Sleep(300 * time.Millisecond) // any resync is done
	if isBanned(a.e, x) || !isBanned(a.e, y) {
		t.Errorf("after the outage the instance that made the changes bans %v, want only %v", a.e.Bans(), y)
	}
	if !a.s.Stats().Up || !b.s.Stats().Up {
		t.Errorf("Stats().Up = false after Redis answers again")
	}
}

// TestApplySkipsResent: an event sent again (a batch whose EXEC went
// through but whose reply was lost is retried) does not count twice;
// events of another origin, or without a sequence number, do.
func TestApplySkipsResent(t *testing.T) {
	e, err := waf.New(waf.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := &sharing{e: e, s: &Store{}, origin: "me"}
	x := netip.MustParseAddr("192.0.2.9")
	strike := func(origin, q string) map[string]any {
		v := map[string]any{"o": origin, "k": "s", "c": "192.0.2.9/32", "n": "3"}
		if q != "" {
			v["q"] = q
		}
		return v
	}
	for _, ev := range []map[string]any{
		strike("a", "1"), strike("a", "2"),
		strike("a", "1"), strike("a", "2"), // resent
		strike("b", "1"),  // another instance
		strike("me", "9"), // this one's own
		strike("a", "3"),
	} {
		w.apply(ev)
	}
	if got := e.Strikes(x); math.Abs(got-12) > 0.1 {
		t.Errorf("Strikes = %v, want 12 (four events of 3)", got)
	}
	w.apply(strike("c", "")) // an event without a sequence number counts
	if got := e.Strikes(x); math.Abs(got-15) > 0.1 {
		t.Errorf("Strikes = %v, want 15", got)
	}
}
