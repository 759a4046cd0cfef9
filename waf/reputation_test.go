package waf

import (
	"math"
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestStrikesDecay(t *testing.T) {
	r := newReputation(15, time.Hour, 10*time.Minute, 100)
	a := netip.MustParseAddr("192.0.2.1")
	r.strike(a, 3, t0)
	for _, tc := range []struct {
		at   time.Duration
		want float64
	}{{0, 3}, {10 * time.Minute, 1.5}, {20 * time.Minute, 0.75}, {5 * time.Minute, 3 / math.Sqrt2}} {
		if got := r.strikes(a, t0.Add(tc.at)); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("strikes at %v = %v, want %v", tc.at, got, tc.want)
		}
	}
}

// TestAutoBan follows a client through strikes, a ban and its end, with
// the default threshold (more than 15 strikes) and duration.
func TestAutoBan(t *testing.T) {
	r := newReputation(15, time.Hour, 10*time.Minute, 100)
	a := netip.MustParseAddr("192.0.2.1")
	for i := 1; i <= 5; i++ {
		if r.strike(a, 3, t0) {
			t.Fatalf("strike %d (%d strikes) banned, want no ban at 15 or fewer", i, 3*i)
		}
	}
	if !r.strike(a, 3, t0) {
		t.Fatalf("sixth strike (18 strikes) did not ban")
	}
	if !r.banned(a, t0.Add(59*time.Minute)) {
		t.Errorf("banned at 59m = false, want true")
	}
	if r.banned(netip.MustParseAddr("192.0.2.2"), t0) {
		t.Errorf("another client banned, want not")
	}
	if r.banned(a, t0.Add(time.Hour)) {
		t.Errorf("banned at 1h = true, want the ban over")
	}
	if got := r.strikes(a, t0.Add(time.Hour)); got != 0 {
		t.Errorf("strikes after the ban = %v, want 0", got)
	}
	if n := r.active.Load(); n != 0 {
		t.Errorf("active bans = %d, want 0", n)
	}
}

func TestDecayAvoidsBan(t *testing.T) {
	r := newReputation(15, time.Hour, 10*time.Minute, 100)
	a := netip.MustParseAddr("192.0.2.1")
	// An attack every 10 minutes never gets past 6 strikes.
	for i := range 100 {
		if r.strike(a, 3, t0.Add(time.Duration(i)*10*time.Minute)) {
			t.Fatalf("banned after %d spaced strikes", i+1)
		}
	}
}

func TestManualBan(t *testing.T) {
	r := newReputation(15, time.Hour, 10*time.Minute, 100)
	v6 := netip.MustParseAddr("2001:db8:1:2::1")
	if !r.ban(v6, time.Minute, "by hand", t0) {
		t.Fatal("ban(v6) = false")
	}
	if !r.banned(netip.MustParseAddr("2001:db8:1:2:ffff::9"), t0) {
		t.Errorf("another address of the /64 not banned")
	}
	if r.banned(netip.MustParseAddr("2001:db8:1:3::1"), t0) {
		t.Errorf("another /64 banned")
	}
	bans := r.bans(t0)
	if len(bans) != 1 || bans[0].Client != netip.MustParsePrefix("2001:db8:1:2::/64") || bans[0].Reason != "by hand" || !bans[0].Until.Equal(t0.Add(time.Minute)) {
		t.Errorf("bans = %+v, want one of 2001:db8:1:2::/64 until +1m, by hand", bans)
	}
	if !r.unban(v6, t0) || r.banned(v6, t0) {
		t.Errorf("unban did not lift the ban")
	}
	if r.ban(netip.Addr{}, time.Minute, "", t0) {
		t.Errorf("ban(invalid address) = true, want false")
	}
	m := netip.MustParseAddr("::ffff:192.0.2.9")
	r.ban(m, time.Minute, "", t0)
	if !r.banned(netip.MustParseAddr("192.0.2.9"), t0) {
		t.Errorf("a ban of an IPv4-mapped address does not hold for the IPv4 address")
	}
}

// TestReputationBound checks that the table never holds more clients than
// MaxClients, however many attack, and that eviction spares bans.
func TestReputationBound(t *testing.T) {
	const max = 1000
	r := newReputation(15, time.Hour, 10*time.Minute, max)
	var banned []netip.Addr
	for i := range 10 {
		a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		r.ban(a, time.Hour, "", t0)
		banned = append(banned, a)
	}
	for i := range 1_000_000 {
		var a netip.Addr
		if i%2 == 0 {
			a = netip.AddrFrom4([4]byte{byte(100 + i>>24), byte(i >> 16), byte(i >> 8), byte(i)})
		} else {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 15: 1})
		}
		r.strike(a, 1, t0)
		if i%100_000 == 0 {
			if n := r.len(); n > max {
				t.Fatalf("after %d clients the table holds %d, want at most %d", i+1, n, max)
			}
		}
	}
	if n := r.len(); n > max {
		t.Fatalf("table holds %d clients, want at most %d", n, max)
	}
	for _, a := range banned {
		if !r.banned(a, t0) {
			t.Errorf("ban of %v evicted by the spray", a)
		}
	}
}
