package phalanx

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted := trustedSet{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"untrusted peer ignores the header", "203.0.113.9", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted peer, one hop", "10.0.0.1", []string{"1.2.3.4"}, "1.2.3.4"},
		{"right-most untrusted wins", "10.0.0.1", []string{"6.6.6.6, 1.2.3.4, 10.0.0.2"}, "1.2.3.4"},
		{"several header lines", "10.0.0.1", []string{"6.6.6.6", "1.2.3.4"}, "1.2.3.4"},
		{"all trusted: left-most", "10.0.0.1", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"no header", "10.0.0.1", nil, "10.0.0.1"},
		{"garbage stops at the last trusted hop", "10.0.0.1", []string{"1.2.3.4, <script>"}, "10.0.0.1"},
		{"garbage behind a trusted hop", "10.0.0.1", []string{"junk, 10.0.0.7"}, "10.0.0.7"},
		{"port and brackets", "::1", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"bare bracketed v6", "::1", []string{"[2001:db8::2]"}, "2001:db8::2"},
		{"v4-mapped v6 unmapped", "10.0.0.1", []string{"::ffff:1.2.3.4"}, "1.2.3.4"},
		{"empty elements skipped", "10.0.0.1", []string{" , 1.2.3.4 ,, "}, "1.2.3.4"},
		{"port on v4", "10.0.0.1", []string{"1.2.3.4:5678"}, "1.2.3.4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := trusted.clientAddr(netip.MustParseAddr(tc.peer), tc.xff)
			if got.String() != tc.want {
				t.Errorf("clientAddr(%s, %q) = %s, want %s", tc.peer, tc.xff, got, tc.want)
			}
		})
	}
	// A flood of trusted hops is walked only so far.
	long := strings.Repeat("10.0.0.9, ", 10000) + "10.0.0.8"
	if got := trusted.clientAddr(netip.MustParseAddr("10.0.0.1"), []string{long}); got.String() != "10.0.0.9" {
		t.Errorf("clientAddr(long chain) = %s, want 10.0.0.9 (the last examined hop)", got)
	}
}

func TestForwardedFor(t *testing.T) {
	trusted := trustedSet{netip.MustParsePrefix("127.0.0.0/8")}
	tests := []struct {
		peer string
		xff  []string
		want string
	}{
		{"127.0.0.1", []string{"1.1.1.1"}, "1.1.1.1, 127.0.0.1"},
		{"127.0.0.1", []string{"1.1.1.1", "2.2.2.2"}, "1.1.1.1, 2.2.2.2, 127.0.0.1"},
		{"127.0.0.1", nil, "127.0.0.1"},
		{"192.0.2.1", []string{"1.1.1.1"}, "192.0.2.1"},
	}
	for _, tc := range tests {
		if got := trusted.forwardedFor(netip.MustParseAddr(tc.peer), tc.xff); got != tc.want {
			t.Errorf("forwardedFor(%s, %q) = %q, want %q", tc.peer, tc.xff, got, tc.want)
		}
	}
}

// FuzzClientAddr checks that hostile X-Forwarded-For values never panic
// and that the client found is the peer or an address named in the chain.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "1.2.3.4, 10.0.0.2", "[::1]:80, junk", ",,,", "::ffff:10.0.0.1", "10.0.0.1%eth0", strings.Repeat("10.1.1.1,", 50)} {
		f.Add(s)
	}
	trusted := trustedSet{netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddr("10.0.0.1")
	f.Fuzz(func(t *testing.T, xff string) {
		got := trusted.clientAddr(peer, []string{xff})
		if got == peer {
			return
		}
		if !got.IsValid() {
			t.Fatalf("clientAddr(%q) = invalid address", xff)
		}
		found := false
		for _, hop := range strings.Split(xff, ",") {
			if a, ok := parseHop(hop); ok && a == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("clientAddr(%q) = %s, which the chain does not name", xff, got)
		}
	})
}

func TestRequestID(t *testing.T) {
	for _, in := range []string{"abc-123", "a", strings.Repeat("x", 128), "0f:1e.2d_3c"} {
		if got := requestID(in); got != in {
			t.Errorf("requestID(%q) = %q, want it kept", in, got)
		}
	}
	for _, in := range []string{"", strings.Repeat("x", 129), "a b", "évil", "x\r\nSet-Cookie: a=b", "<script>"} {
		got := requestID(in)
		if got == in || len(got) != 32 || !validRequestID(got) {
			t.Errorf("requestID(%q) = %q, want a new 32-digit id", in, got)
		}
	}
	if a, b := requestID(""), requestID(""); a == b {
		t.Errorf("requestID twice = %q and %q, want different", a, b)
	}
}

func TestClientFromHeaders(t *testing.T) {
	trusted := trustedSet{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name string
		peer string
		h    map[string][]string
		want string
	}{
		{"Forwarded for=", "10.0.0.1", map[string][]string{"Forwarded": {"for=192.0.2.60;proto=http;by=203.0.113.43"}}, "192.0.2.60"},
		{"Forwarded quoted v6 with port", "10.0.0.1", map[string][]string{"Forwarded": {`for="[2001:db8:cafe::17]:4711"`}}, "2001:db8:cafe::17"},
		{"Forwarded chain, right-most untrusted", "10.0.0.1", map[string][]string{"Forwarded": {"for=6.6.6.6, for=198.51.100.17", "for=10.0.0.5"}}, "198.51.100.17"},
		{"Forwarded FOR= case-insensitive", "10.0.0.1", map[string][]string{"Forwarded": {"For=192.0.2.1"}}, "192.0.2.1"},
		{"Forwarded obfuscated stops the walk", "10.0.0.1", map[string][]string{"Forwarded": {"for=6.6.6.6, for=_hidden"}}, "10.0.0.1"},
		{"Forwarded element without for", "10.0.0.1", map[string][]string{"Forwarded": {"proto=https"}}, "10.0.0.1"},
		{"X-Forwarded-For wins over Forwarded", "10.0.0.1", map[string][]string{"X-Forwarded-For": {"1.2.3.4"}, "Forwarded": {"for=5.6.7.8"}}, "1.2.3.4"},
		{"untrusted peer ignores both", "192.0.2.9", map[string][]string{"X-Forwarded-For": {"1.2.3.4"}, "Forwarded": {"for=5.6.7.8"}}, "192.0.2.9"},
	}
	for _, tc := range tests {
		h := http.Header{}
		for k, vs := range tc.h {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
		if got := trusted.clientFromHeaders(netip.MustParseAddr(tc.peer), h); got.String() != tc.want {
			t.Errorf("%s: clientFromHeaders(%s, %v) = %s, want %s", tc.name, tc.peer, tc.h, got, tc.want)
		}
	}
}

// FuzzForwarded checks that hostile Forwarded values never panic and that
// the client found is the peer or an address named in the header.
func FuzzForwarded(f *testing.F) {
	for _, s := range []string{`for=192.0.2.60;proto=http`, `for="[2001:db8::1]:80", for=10.0.0.2`, `for=;;;,,`, `for="`, `FOR=unknown`} {
		f.Add(s)
	}
	trusted := trustedSet{netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddr("10.0.0.1")
	f.Fuzz(func(t *testing.T, v string) {
		got := trusted.clientFromHeaders(peer, http.Header{"Forwarded": {v}})
		if got == peer {
			return
		}
		for _, hop := range forwardedForParams([]string{v}) {
			if a, ok := parseHop(hop); ok && a == got {
				return
			}
		}
		t.Fatalf("clientFromHeaders(Forwarded: %q) = %s, which the header does not name", v, got)
	})
}
