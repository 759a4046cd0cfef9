package phalanx

import (
	"context"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/phalanx-lb/phalanx/limiter"
)

// serveHTTP is the L7 pipeline of the net/http engine: recover, limits,
// route match, then the route's action.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	snap := s.state.Load()
	c := snap.cfg
	var o observed
	w, r = s.begin(w, r, &o)
	st := &reqState{cfg: c, id: requestID(r.Header.Get("X-Request-Id"))}
	defer s.end(r, &o, st) // deferred first, so it runs after recover's answer
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v) // net/http's signal to drop the connection quietly
			}
			s.logger.Error("panic in handler", "panic", v, "method", r.Method, "path", r.URL.Path)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}
	}()
	id := st.id
	w.Header().Set("X-Request-Id", id)
	client := c.trusted.clientFromHeaders(peerAddr(r.RemoteAddr), r.Header)
	clientIP := client.String()
	st.client, st.clientIP = client, clientIP
	if l := snap.requests; l != nil {
		if d := l.Allow(client, time.Now()); !d.Allowed {
			s.refusedRequests.Add(d)
			s.tooMany(w, r, d, id, clientIP)
			return
		}
	}

	path := r.URL.Path
	if path == "" {
		path = "/" // absolute-form without a path (RFC 9112, section 3.2.2)
	}
	rt := snap.routes.match(r.Host, path)
	if rt == nil {
		s.reject(w, r, http.StatusNotFound, nil, id, clientIP, "no route matches")
		return
	}
	st.route = rt
	if n := headerBytes(r); n > c.maxHeaderBytes {
		s.reject(w, r, http.StatusRequestHeaderFieldsTooLarge, rt, id, clientIP,
			"request headers of "+strconv.Itoa(n)+" bytes exceed the limit of "+strconv.Itoa(c.maxHeaderBytes))
		return
	}
	limit := c.maxBodyBytes
	if rt.MaxBodyBytes != 0 {
		limit = rt.MaxBodyBytes
	}
	if limit >= 0 && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > limit {
			s.reject(w, r, http.StatusRequestEntityTooLarge, rt, id, clientIP,
				"request body of "+strconv.FormatInt(r.ContentLength, 10)+" bytes exceeds the limit of "+strconv.FormatInt(limit, 10))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	ctx := context.WithValue(r.Context(), stateKey{}, st)
	r = r.WithContext(ctx)
	if snap.waf != nil {
		r.Header.Set("X-Request-Id", id) // for the firewall's log line; sent upstream anyway
		if !s.firewall(w, r, snap.waf, rt, st) {
			return
		}
	}
	timeout := c.timeouts.Request
	if rt.Timeout > 0 {
		timeout = rt.Timeout
	}
	if isGRPC(r) {
		// The client's deadline bounds the call here too, so an expired
		// call stops using a backend (the header itself goes upstream).
		if d, ok := grpcTimeout(r.Header.Get("Grpc-Timeout")); ok && (timeout == 0 || d < timeout) {
			timeout = d
		}
	}
	if rt.Handler != nil {
		for _, h := range rt.AddResponseHeaders {
			w.Header().Set(h.Name, h.Value)
		}
		if timeout > 0 {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		rt.Handler.ServeHTTP(w, r)
		return
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	s.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// tooMany answers a request over the rate limit. It logs at debug only:
// under attack a line per refusal would be a second flood; the refusals
// are counted instead.
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, d limiter.Decision, id, client string) {
	s.logger.LogAttrs(r.Context(), slog.LevelDebug, "request rate limited",
		slog.String("client", client), slog.Bool("global", d.Global), slog.String("request_id", id))
	if isGRPC(r) {
		writeGRPCError(w, http.StatusTooManyRequests)
		return
	}
	w.Header().Set("Retry-After", strconv.FormatInt(d.RetryAfterSeconds(), 10))
	http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
}

// reject answers a request the pipeline refuses, with one log line.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, status int, rt *route, id, client, cause string) {
	s.logRejected(r.Context(), status, cause, requestLine{method: r.Method, host: r.Host, path: r.URL.Path}, rt, client, id)
	if isGRPC(r) {
		writeGRPCError(w, status)
		return
	}
	if status == http.StatusRequestEntityTooLarge || status == http.StatusRequestHeaderFieldsTooLarge {
		w.Header().Set("Connection", "close") // the rest of the request is not read
	}
	http.Error(w, http.StatusText(status), status)
}

// logRejected writes the one line of a request the pipeline refused.
func (s *Server) logRejected(ctx context.Context, status int, cause string, l requestLine, rt *route, client, id string) {
	attrs := []slog.Attr{
		slog.Int("status", status),
		slog.String("cause", cause),
		slog.String("method", l.method),
		slog.String("host", l.host),
		slog.String("path", l.path),
		slog.String("client", client),
		slog.String("request_id", id),
	}
	if rt != nil {
		attrs = append(attrs, slog.String("route", rt.name))
		if rt.up != nil {
			attrs = append(attrs, slog.String("upstream", rt.up.name))
		}
	}
	s.logger.LogAttrs(ctx, slog.LevelWarn, "request rejected", attrs...)
}

// headerBytes approximates the size of the request head as it came in.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 + len(r.Host) + 8
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// maxRequestIDLen bounds an incoming X-Request-Id that is kept.
const maxRequestIDLen = 128

// requestID returns the incoming id if it is sane (1 to 128 characters
// of letters, digits and -_.:), else a new random one of 32 hex digits.
func requestID(in string) string {
	if validRequestID(in) {
		return in
	}
	var b [16]byte
	u1, u2 := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		b[i] = byte(u1 >> (8 * i))
		b[8+i] = byte(u2 >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}
