package limiter

import (
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// Middleware returns a handler that asks l about each request's client.
// When l refuses, it answers 429 Too Many Requests with a Retry-After
// header (Decision.RetryAfterSeconds) and does not call next; otherwise it
// calls next. The allowed path allocates nothing beyond what client and l
// do.
//
// client resolves a request's client: nil means PeerAddr, the socket peer.
// Behind trusted proxies, pass a func that returns the right-most
// X-Forwarded-For hop that is not a trusted proxy; never the left-most,
// which the client writes. refused, if not nil, counts the refusals.
//
// Middleware panics if l or next is nil.
func Middleware(l Limiter, client func(*http.Request) netip.Addr, refused *Refusals, next http.Handler) http.Handler {
	if l == nil || next == nil {
		panic("limiter: Middleware with a nil Limiter or handler")
	}
	if client == nil {
		client = PeerAddr
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := l.Allow(client(r), time.Now())
		if d.Allowed {
			next.ServeHTTP(w, r)
			return
		}
		refused.Add(d)
		// What http.Error writes, without its formatting: an attacker
		// drives this path.
		h := w.Header()
		h.Del("Content-Length")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Retry-After", strconv.FormatInt(d.RetryAfterSeconds(), 10))
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, tooMany)
	})
}

// tooMany is the body of a 429.
const tooMany = "Too Many Requests\n"

// PeerAddr returns the address in r.RemoteAddr, IPv4-mapped IPv6 unmapped,
// or the zero Addr if it is not an address (a Unix socket's peer, say):
// the default client of Middleware.
func PeerAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}
