package waf

import (
	"io"
	"net/http"
	"strings"
)

// Middleware returns a handler that inspects each request with e and
// answers 403 Forbidden to the ones it blocks, with the request id in the
// body; it calls next for the others, with the body intact. Middleware
// panics if e or next is nil.
func Middleware(e *Engine, next http.Handler) http.Handler {
	return MiddlewareWith(e, nil, next)
}

// MiddlewareWith is Middleware with the rules x turns off, for one route.
func MiddlewareWith(e *Engine, x *Exclusions, next http.Handler) http.Handler {
	if e == nil || next == nil {
		panic("waf: Middleware with a nil Engine or handler")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := e.InspectWith(r, x)
		if !v.Block {
			next.ServeHTTP(w, r)
			return
		}
		Forbid(w, r.Header.Get(e.cfg.RequestIDHeader))
	})
}

// Forbid writes the 403 response of a blocked request, naming its request
// id (cut to 128 bytes of printable ASCII) if it has one. An HTTP engine
// other than net/http writes the same.
func Forbid(w http.ResponseWriter, requestID string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	io.WriteString(w, ForbiddenBody(requestID))
}

// ForbiddenBody returns the body of a 403 for a request id.
func ForbiddenBody(requestID string) string {
	id := printable(requestID)
	if id == "" {
		return "Forbidden: the request was blocked by the web application firewall.\n"
	}
	return "Forbidden: the request was blocked by the web application firewall.\nRequest id: " + id + "\n"
}

// printable returns s cut to 128 bytes with every byte outside printable
// ASCII dropped: the id comes from a header a client may have set.
func printable(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	ok := true
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= ' ' && s[i] <= '~' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
