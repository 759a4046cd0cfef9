package limiter_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/limiter"
)

func TestMiddleware(t *testing.T) {
	for _, tc := range []struct {
		name       string
		decision   limiter.Decision
		wantStatus int
		wantRetry  string
		wantNext   bool
		wantClient uint64 // Refusals.Client
		wantGlobal uint64 // Refusals.Global
	}{
		{"allowed", limiter.Decision{Allowed: true}, http.StatusOK, "", true, 0, 0},
		{"refused", limiter.Decision{RetryAfter: 20 * time.Millisecond}, http.StatusTooManyRequests, "1", false, 1, 0},
		{"refused, rounded up", limiter.Decision{RetryAfter: 2500 * time.Millisecond}, http.StatusTooManyRequests, "3", false, 1, 0},
		{"refused globally", limiter.Decision{RetryAfter: time.Minute, Global: true}, http.StatusTooManyRequests, "60", false, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				gotClient netip.Addr
				nextRan   bool
				refused   limiter.Refusals
			)
			l := limiter.Func(func(c netip.Addr, now time.Time) limiter.Decision {
				gotClient = c
				return tc.decision
			})
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { nextRan = true })
			h := limiter.Middleware(l, nil, &refused, next)
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = "[::ffff:198.51.100.7]:4321"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tc.wantStatus)
			}
			if got := w.Header().Get("Retry-After"); got != tc.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tc.wantRetry)
			}
			if !tc.wantNext {
				if body, ct := w.Body.String(), w.Header().Get("Content-Type"); body != "Too Many Requests\n" || ct != "text/plain; charset=utf-8" {
					t.Errorf("body, Content-Type = %q, %q, want %q, %q", body, ct, "Too Many Requests\n", "text/plain; charset=utf-8")
				}
			}
			if nextRan != tc.wantNext {
				t.Errorf("next called = %v, want %v", nextRan, tc.wantNext)
			}
			if want := netip.MustParseAddr("198.51.100.7"); gotClient != want {
				t.Errorf("Allow got client %v, want %v (PeerAddr, unmapped)", gotClient, want)
			}
			if c, g := refused.Client.Load(), refused.Global.Load(); c != tc.wantClient || g != tc.wantGlobal {
				t.Errorf("Refusals = {Client: %d, Global: %d}, want {%d, %d}", c, g, tc.wantClient, tc.wantGlobal)
			}
		})
	}
}

// TestMiddlewareKeyed runs Middleware over a Keyed with a client func, as
// behind a proxy: requests are keyed by the header, not the socket peer.
func TestMiddlewareKeyed(t *testing.T) {
	k := mustNew(t, limiter.Config{Rate: 1.0 / 60, Burst: 2})
	client := func(r *http.Request) netip.Addr {
		a, _ := netip.ParseAddr(r.Header.Get("X-Client"))
		return a
	}
	h := limiter.Middleware(k, client, nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for i, tc := range []struct {
		client string
		want   int
	}{
		{"192.0.2.1", 200}, {"192.0.2.1", 200}, {"192.0.2.1", 429},
		{"192.0.2.2", 200}, {"", 200}, {"", 200}, {"", 429}, {"192.0.2.2", 200}, {"192.0.2.2", 429},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Client", tc.client)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("request %d from %q: status %d, want %d", i, tc.client, w.Code, tc.want)
		}
		if w.Code == 429 && w.Header().Get("Retry-After") != "60" {
			t.Errorf("request %d: Retry-After = %q, want 60", i, w.Header().Get("Retry-After"))
		}
	}
}

func TestPeerAddr(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"[fe80::1%eth0]:80", "fe80::1%eth0"},
		{"192.0.2.1", "192.0.2.1"},
		{"2001:db8::1", "2001:db8::1"},
		{"", "invalid IP"},
		{"@", "invalid IP"},
		{"example.com:80", "invalid IP"},
	} {
		r := &http.Request{RemoteAddr: tc.remote}
		if got := limiter.PeerAddr(r).String(); got != tc.want {
			t.Errorf("PeerAddr(RemoteAddr %q) = %s, want %s", tc.remote, got, tc.want)
		}
	}
}

func TestMiddlewarePanics(t *testing.T) {
	next := http.NotFoundHandler()
	l := limiter.Func(func(netip.Addr, time.Time) limiter.Decision { return limiter.Decision{} })
	for name, f := range map[string]func(){
		"nil Limiter": func() { limiter.Middleware(nil, nil, nil, next) },
		"nil next":    func() { limiter.Middleware(l, nil, nil, nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Middleware with %s did not panic", name)
				}
			}()
			f()
		}()
	}
}
