package waf

import (
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// hookLog records what an Engine's hooks were called with.
type hookLog struct {
	strikes []Strike
	bans    []Ban
	unbans  []netip.Prefix
}

func (l *hookLog) hooks() Hooks {
	return Hooks{
		Strike: func(s Strike) { l.strikes = append(l.strikes, s) },
		Ban:    func(b Ban) { l.bans = append(l.bans, b) },
		Unban:  func(p netip.Prefix) { l.unbans = append(l.unbans, p) },
	}
}

// sameBan reports whether a and b are the same ban, at the same instant.
func sameBan(a, b Ban) bool {
	return a.Client == b.Client && a.Until.Equal(b.Until) && a.Reason == b.Reason
}

func newHookedEngine(t *testing.T) (*Engine, *hookLog) {
	t.Helper()
	e, err := New(Config{Now: func() time.Time { return t0 }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l := new(hookLog)
	e.SetHooks(l.hooks())
	return e, l
}

// TestHooksLocal checks that the changes an engine makes itself reach its
// hooks: strikes from Check, the ban they lead to, Ban and Unban.
func TestHooksLocal(t *testing.T) {
	e, l := newHookedEngine(t)
	req := &Request{Method: "GET", Path: "/", RawQuery: "q=1'+UNION+SELECT+password+FROM+users--",
		Header: http.Header{"User-Agent": {"Mozilla/5.0"}}, Client: netip.MustParseAddr("2001:db8:1:2::7")}
	p64 := netip.MustParsePrefix("2001:db8:1:2::/64")
	for i := 1; i <= 6; i++ { // 3 strikes each: the sixth passes 15
		v := e.Check(req, nil)
		if v.Banned != (i == 6) {
			t.Fatalf("Check %d: Banned = %v, want %v", i, v.Banned, i == 6)
		}
	}
	if len(l.strikes) != 5 || l.strikes[0] != (Strike{Client: p64, N: 3}) {
		t.Errorf("Strike hook calls = %+v, want 5 of {%v 3}", l.strikes, p64)
	}
	want := Ban{Client: p64, Until: t0.Add(DefaultAutoBanDuration), Reason: "auto-ban"}
	if len(l.bans) != 1 || !sameBan(l.bans[0], want) {
		t.Errorf("Ban hook calls = %+v, want [%+v]", l.bans, want)
	}
	a := netip.MustParseAddr("192.0.2.1")
	e.Ban(a, time.Minute, "by hand")
	if got, want := l.bans[len(l.bans)-1], (Ban{Client: netip.MustParsePrefix("192.0.2.1/32"), Until: t0.Add(time.Minute), Reason: "by hand"}); !sameBan(got, want) {
		t.Errorf("Ban hook after Ban = %+v, want %+v", got, want)
	}
	e.Unban(a)
	if len(l.unbans) != 1 || l.unbans[0] != netip.MustParsePrefix("192.0.2.1/32") {
		t.Errorf("Unban hook calls = %v, want [192.0.2.1/32]", l.unbans)
	}
	e.SetHooks(Hooks{})
	e.Ban(a, time.Minute, "")
	if len(l.bans) != 2 {
		t.Errorf("Ban hook called after SetHooks(Hooks{})")
	}
}

// TestHooksRemote checks that changes applied from elsewhere do not echo
// back through the hooks, except a ban that remote strikes lead to.
func TestHooksRemote(t *testing.T) {
	e, l := newHookedEngine(t)
	a := netip.MustParseAddr("192.0.2.1")
	p := netip.MustParsePrefix("192.0.2.1/32")
	for i := 1; i <= 5; i++ {
		if e.AddStrikes(a, 3) {
			t.Fatalf("AddStrikes %d banned, want no ban at %d strikes", i, 3*i)
		}
	}
	if got := e.Strikes(a); got != 15 {
		t.Errorf("Strikes = %v, want 15", got)
	}
	if !e.AddStrikes(a, 3) {
		t.Fatal("AddStrikes past the threshold did not ban")
	}
	if len(l.strikes) != 0 || len(l.bans) != 1 || l.bans[0].Client != p {
		t.Errorf("hooks after AddStrikes: strikes %v, bans %v; want none and one ban of %v", l.strikes, l.bans, p)
	}
	if !e.ApplyUnban(p) || len(e.Bans()) != 0 {
		t.Errorf("ApplyUnban did not lift the ban: %v", e.Bans())
	}
	b := Ban{Client: netip.MustParsePrefix("2001:db8::/64"), Until: t0.Add(time.Minute), Reason: "elsewhere"}
	if !e.ApplyBan(b) {
		t.Fatal("ApplyBan = false")
	}
	if got := e.Bans(); len(got) != 1 || !sameBan(got[0], b) {
		t.Errorf("Bans after ApplyBan = %+v, want [%+v]", got, b)
	}
	if e.ApplyBan(Ban{Client: p, Until: t0}) {
		t.Errorf("ApplyBan of a ban already over = true")
	}
	if len(l.bans) != 1 || len(l.unbans) != 0 {
		t.Errorf("ApplyBan or ApplyUnban called hooks: bans %v, unbans %v", l.bans, l.unbans)
	}
	if n := e.Stats().Bans; n != 1 {
		t.Errorf("Stats().Bans = %d, want 1 (the ban made here)", n)
	}
}
