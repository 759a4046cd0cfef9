package phalanx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/phalanx-lb/phalanx/internal/h1"
	"github.com/phalanx-lb/phalanx/waf"
)

// h1proxy.go: the engine's pipeline and proxy stages for one request: the
// same stages as serveHTTP (limiter, route match, WAF, header changes,
// pick, feedback), reading the request in place.

// heads recycles the buffers request and response heads are built in.
var heads bytebufferpool.Pool

// copyBuffers recycles the engine's body copy buffers.
var copyBuffers bufferPool

// exchange is what the engine knows about the request being served, kept
// past the head's bytes (which the body's reads overwrite).
type exchange struct {
	st       *reqState
	start    time.Time
	deadline time.Time // the request timeout's; zero: none
	head     bool      // a HEAD request: the response has no body
	info     []byte    // method, host and path, for the log lines
	mlen     int       // len(method) in info
	hlen     int       // len(host) in info
	status   int       // sent to the client; 0 until then
	bytesIn  int64
	bytesOut int64
	close    bool // the connection ends after this response
	ended    bool // reported to the metrics and the access log
	// unread: the response did not wait for the whole request body, which
	// the client may still be sending (see h1Conn.lingerClose).
	unread bool
}

func (x *exchange) methodString() string { return string(x.info[:x.mlen]) }
func (x *exchange) hostString() string   { return string(x.info[x.mlen : x.mlen+x.hlen]) }
func (x *exchange) pathString() string   { return string(x.info[x.mlen+x.hlen:]) }

// handle serves the request whose head, n bytes, hc.req holds. It reports
// whether the connection stays open, or is to be handed to net/http.
func (hc *h1Conn) handle(n int) (keep, handoff bool) {
	s := hc.s
	snap := s.state.Load()
	c := snap.cfg
	req := &hc.req
	path := req.Path
	if len(path) == 0 {
		path = slash // absolute-form without a path
	}
	var rt *route
	if bytes.IndexByte(path, '%') >= 0 {
		p, err := url.PathUnescape(string(path))
		if err != nil {
			hc.badRequest(errors.New("invalid escape in the path"))
			return false, false
		}
		rt = snap.routes.match(string(req.Host), p)
	} else {
		rt = snap.routes.match(string(req.Host), string(path))
	}
	if rt != nil && hc.needsNetHTTP(rt, snap) {
		return false, true
	}

	x := &hc.x
	*x = exchange{start: time.Now(), head: string(req.Method) == http.MethodHead, info: x.info}
	x.info = append(append(append(x.info[:0], req.Method...), req.Host...), path...)
	x.mlen, x.hlen = len(req.Method), len(req.Host)
	idv, _ := req.Header("x-request-id")
	st := &hc.st
	st.cfg, st.route, st.id = c, nil, requestID(string(idv))
	st.backend.Store(nil)
	st.upstreamNanos.Store(0)
	x.st = st
	client := c.trusted.clientFromHeaders(hc.peer, h1Header{req})
	st.client, st.clientIP = client, hc.peerStr
	if client != hc.peer {
		st.clientIP = client.String()
	}
	x.close = req.Close || hc.e.isClosing()
	s.metrics.inflight.Inc()
	defer hc.end(x)

	if l := snap.requests; l != nil {
		if d := l.Allow(client, x.start); !d.Allowed {
			s.refusedRequests.Add(d)
			s.logger.LogAttrs(context.Background(), slog.LevelDebug, "request rate limited",
				slog.String("client", st.clientIP), slog.Bool("global", d.Global), slog.String("request_id", st.id))
			hc.respond(x, http.StatusTooManyRequests, http.StatusText(http.StatusTooManyRequests)+"\n",
				"Retry-After", strconv.FormatInt(d.RetryAfterSeconds(), 10))
			return hc.afterRefusal(x, n), false
		}
	}
	if rt == nil {
		hc.reject(x, http.StatusNotFound, "no route matches")
		return hc.afterRefusal(x, n), false
	}
	st.route = rt
	if n > c.maxHeaderBytes {
		x.close, x.unread = true, hasBody(req)
		hc.reject(x, http.StatusRequestHeaderFieldsTooLarge,
			"request headers of "+strconv.Itoa(n)+" bytes exceed the limit of "+strconv.Itoa(c.maxHeaderBytes))
		return false, false
	}
	limit := c.maxBodyBytes
	if rt.MaxBodyBytes != 0 {
		limit = rt.MaxBodyBytes
	}
	if limit >= 0 && req.ContentLength > limit {
		x.close, x.unread = true, true // the body is not read
		hc.reject(x, http.StatusRequestEntityTooLarge,
			"request body of "+strconv.FormatInt(req.ContentLength, 10)+" bytes exceeds the limit of "+strconv.FormatInt(limit, 10))
		return false, false
	}
	var prefix []byte // body bytes already read, for the firewall
	if snap.waf != nil && !rt.WAFOff {
		var blocked bool
		if prefix, blocked = hc.firewall(x, snap.waf, rt, n); blocked {
			return false, false
		}
		if prefix != nil {
			n = 0 // firewall consumed the head
			defer copyBuffers.Put(prefix[:cap(prefix)])
		}
	}
	timeout := c.timeouts.Request
	if rt.Timeout > 0 {
		timeout = rt.Timeout
	}
	if timeout > 0 {
		x.deadline = x.start.Add(timeout)
	}
	return hc.proxy(x, rt, n, prefix, limit), false
}

var slash = []byte("/")

// hasBody reports whether a request announces a body.
func hasBody(r *h1.Request) bool { return r.Chunked || r.ContentLength > 0 }

// needsNetHTTP reports whether the request is one the engine hands to
// net/http: a route served by a Handler, a WebSocket upgrade, an upstream
// with backends spoken to over HTTP/2 or TLS, OPTIONS *, and a chunked
// body the firewall would have to read.
func (hc *h1Conn) needsNetHTTP(rt *route, snap *snapshot) bool {
	req := &hc.req
	switch {
	case rt.Handler != nil, rt.up == nil, rt.up.nonHTTP1:
		return true
	case req.Upgrade:
		if v, ok := req.Header("upgrade"); ok && bytes.Contains(bytes.ToLower(v), []byte("websocket")) {
			return true
		}
	case len(req.Path) == 1 && req.Path[0] == '*':
		return true
	}
	if req.Chunked && snap.waf != nil && !rt.WAFOff && snap.waf.BodyLimit() > 0 {
		ct, _ := req.Header("content-type")
		return waf.Inspectable(string(ct))
	}
	return false
}

// afterRefusal decides whether the connection survives a request that
// was answered without reading its body: only if it had none. n is the
// head's length.
func (hc *h1Conn) afterRefusal(x *exchange, n int) bool {
	if hasBody(&hc.req) {
		x.unread = true
		return false
	}
	if x.close {
		return false
	}
	hc.br.Discard(n)
	return true
}

// firewall inspects the request; n is the head's length in br. When the
// firewall reads the body, the head is consumed and the body bytes read
// are returned, to be sent before the rest.
func (hc *h1Conn) firewall(x *exchange, e *waf.Engine, rt *route, n int) (prefix []byte, blocked bool) {
	req := &hc.req
	st := x.st
	wr := waf.Request{
		Method:    string(req.Method),
		Path:      string(req.Path),
		RawQuery:  string(req.RawQuery),
		Header:    h1Header{req},
		Client:    st.client,
		RequestID: st.id,
	}
	if lim := e.BodyLimit(); lim > 0 && req.ContentLength > 0 {
		if ct, _ := req.Header("content-type"); waf.Inspectable(string(ct)) {
			// The head's bytes must outlive the reads of the body: keep a
			// copy and parse it again from there.
			head, _ := hc.br.Peek(n)
			hc.scratch = append(hc.scratch[:0], head...)
			if _, err := h1.Parse(hc.scratch, req, h1.Limits{MaxHeaderBytes: hc.maxHead()}); err != nil {
				hc.badRequest(err)
				return nil, true
			}
			hc.br.Discard(n)
			if req.Expect100 && hc.br.Buffered() == 0 {
				hc.write(continue100) // the client waits for it to send the body
			}
			size := min(lim, req.ContentLength)
			buf := copyBuffers.Get()
			if int64(cap(buf)) < size {
				buf = make([]byte, size)
			}
			hc.setReadDeadline(time.Now().Add(hc.s.cfg.timeouts.ClientIdle))
			k, err := io.ReadFull(hc.br, buf[:size])
			if err != nil {
				copyBuffers.Put(buf)
				x.close = true
				return nil, true
			}
			wr.Body, wr.BodyTruncated = buf[:k], req.ContentLength > size
			prefix = buf[:k]
		}
	}
	v := e.Check(&wr, rt.wafX)
	if !v.Block {
		return prefix, false
	}
	if prefix != nil {
		copyBuffers.Put(prefix[:cap(prefix)])
	}
	x.close, x.unread = true, hasBody(req) // the rest of the body is not read
	hc.respond(x, http.StatusForbidden, waf.ForbiddenBody(st.id),
		"X-Content-Type-Options", "nosniff", "Cache-Control", "no-store")
	return nil, true
}

// h1Header is the waf.Header and header view of a parsed request.
type h1Header struct{ r *h1.Request }

func (h h1Header) Values(name string) []string {
	var vs []string
	for _, f := range h.r.Headers {
		if len(f.Name) == len(name) && bytes.EqualFold(f.Name, []byte(name)) {
			vs = append(vs, string(f.Value))
		}
	}
	return vs
}

// EachHeader lets the firewall inspect every header.
func (h h1Header) EachHeader(f func(name, value string)) {
	for _, hf := range h.r.Headers {
		f(http.CanonicalHeaderKey(string(hf.Name)), string(hf.Value))
	}
}

// reject answers a request the pipeline refuses, with one log line.
func (hc *h1Conn) reject(x *exchange, status int, cause string) {
	st := x.st
	hc.s.logRejected(context.Background(), status, cause,
		requestLine{method: x.methodString(), host: x.hostString(), path: x.pathString()}, st.route, st.clientIP, st.id)
	hc.respond(x, status, http.StatusText(status)+"\n")
}

// respond writes a whole response generated by phalanx: a short plain
// text body, the request id, and the route's response headers.
func (hc *h1Conn) respond(x *exchange, status int, body string, kv ...string) {
	if x.head {
		body = ""
	}
	x.status = status
	x.bytesOut = int64(len(body))
	b := heads.Get()
	defer heads.Put(b)
	b.B = appendStatusLine(b.B, status, "")
	b.B = append(b.B, "Content-Type: text/plain; charset=utf-8\r\nX-Request-Id: "...)
	b.B = append(b.B, x.st.id...)
	b.B = append(b.B, "\r\n"...)
	for i := 0; i+1 < len(kv); i += 2 {
		b.B = appendField(b.B, kv[i], kv[i+1])
	}
	if rt := x.st.route; rt != nil {
		for _, h := range rt.AddResponseHeaders {
			b.B = appendField(b.B, h.Name, h.Value)
		}
	}
	b.B = append(b.B, "Content-Length: "...)
	b.B = strconv.AppendInt(b.B, int64(len(body)), 10)
	b.B = append(b.B, "\r\n"...)
	b.B = hc.appendConnection(b.B, x)
	b.B = append(b.B, "\r\n"...)
	b.B = append(b.B, body...)
	hc.finalWrite(x, b.B)
}

// finalWrite reports the request (metrics, access log) and then writes the
// last bytes of its response, so that a client that has its answer finds
// it counted.
func (hc *h1Conn) finalWrite(x *exchange, p []byte) error {
	hc.end(x)
	if len(p) == 0 {
		return nil
	}
	return hc.write(p)
}

// writeClosing writes a response outside any request's exchange (a head
// that did not parse), after which the connection closes.
func (hc *h1Conn) writeClosing(status int, body string) {
	b := heads.Get()
	defer heads.Put(b)
	b.B = appendStatusLine(b.B, status, "")
	b.B = append(b.B, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b.B = strconv.AppendInt(b.B, int64(len(body)), 10)
	b.B = append(b.B, "\r\nConnection: close\r\n\r\n"...)
	b.B = append(b.B, body...)
	hc.write(b.B)
}

// write writes p to the client, bounded by the idle timeout.
func (hc *h1Conn) write(p []byte) error {
	if d := time.Now().Add(hc.s.cfg.timeouts.ClientIdle); hc.wd.due(d) {
		hc.c.SetWriteDeadline(d)
	}
	_, err := hc.c.Write(p)
	return err
}

// appendConnection appends the Connection header the response needs.
func (hc *h1Conn) appendConnection(b []byte, x *exchange) []byte {
	switch {
	case x.close:
		return append(b, "Connection: close\r\n"...)
	case hc.req.ProtoMinor == 0:
		return append(b, "Connection: keep-alive\r\n"...)
	}
	return b
}

func appendStatusLine(b []byte, status int, reason string) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	if reason == "" {
		reason = http.StatusText(status)
	}
	b = append(b, reason...)
	return append(b, "\r\n"...)
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// end reports the request to the metrics and the access log, once.
func (hc *h1Conn) end(x *exchange) {
	if x.ended {
		return
	}
	x.ended = true
	s := hc.s
	s.metrics.inflight.Dec()
	status := x.status
	if status == 0 {
		status = statusClientClosed
	}
	s.report(x.st, status, x.bytesIn, x.bytesOut, time.Since(x.start), func() requestLine {
		proto := "HTTP/1.1"
		if hc.req.ProtoMinor == 0 {
			proto = "HTTP/1.0"
		}
		return requestLine{method: x.methodString(), host: x.hostString(), path: x.pathString(), proto: proto}
	})
}
