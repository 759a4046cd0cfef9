package phalanx

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/phalanx-lb/phalanx/internal/h1"
)

// h1header.go: the engine's header changes, the same as the net/http
// path's (rewrite and modifyResponse, with httputil's hop-by-hop rules):
// hop-by-hop fields and those the Connection header names are dropped,
// forwarding fields are replaced, the request id and a route's added
// fields are set, and framing is written by phalanx.

// hopByHop are the fields that describe one connection, never forwarded
// (RFC 9110, section 7.6.1, and those httputil also drops).
var hopByHop = []string{"connection", "proxy-connection", "keep-alive", "proxy-authenticate",
	"proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"}

// replacedRequest are request fields phalanx writes itself.
var replacedRequest = []string{"host", "content-length", "x-forwarded-for", "x-forwarded-host",
	"x-forwarded-proto", "x-request-id", "expect"}

// replacedResponse are response fields phalanx writes itself.
var replacedResponse = []string{"content-length", "x-request-id"}

// isAny reports whether name is one of the lower-case names.
func isAny(name []byte, names []string) bool {
	for _, n := range names {
		if len(n) == len(name) && h1.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// listed reports whether a Connection field of hs names name.
func listed(hs []h1.Header, name []byte) bool {
	for _, h := range hs {
		if h1.EqualFold(h.Name, "connection") && h1.HasToken(h.Value, name) {
			return true
		}
	}
	return false
}

// added reports whether hs sets name.
func added(hs []Header, name []byte) bool {
	for _, h := range hs {
		if len(h.Name) == len(name) && bytes.EqualFold([]byte(h.Name), name) {
			return true
		}
	}
	return false
}

// forwardable reports whether a received field goes on.
func forwardable(hs []h1.Header, name []byte, replaced []string, set []Header) bool {
	return !isAny(name, hopByHop) && !isAny(name, replaced) && !listed(hs, name) && !added(set, name)
}

// appendRawField appends a received field as it came.
func appendRawField(b []byte, h h1.Header) []byte {
	b = append(b, h.Name...)
	b = append(b, ": "...)
	b = append(b, h.Value...)
	return append(b, "\r\n"...)
}

// appendUpstreamHead appends the head of the request as sent to a backend,
// but for its framing and the blank line (see body.appendFraming).
func (hc *h1Conn) appendUpstreamHead(b []byte, x *exchange, rt *route) []byte {
	req := &hc.req
	st := x.st
	trusted := st.cfg.trusted.contains(hc.peer)
	b = append(b, req.Method...)
	b = append(b, ' ')
	switch {
	case len(req.Target) > 0 && req.Target[0] == '/':
		b = append(b, req.Target...)
	case len(req.Path) == 0:
		b = append(b, '/')
		fallthrough
	default:
		b = append(b, req.Path...)
		if bytes.IndexByte(req.Target, '?') >= 0 {
			b = append(b, '?')
			b = append(b, req.RawQuery...)
		}
	}
	b = append(b, " HTTP/1.1\r\n"...)
	if len(req.Host) > 0 {
		b = append(b, "Host: "...)
		b = append(b, req.Host...)
		b = append(b, "\r\n"...)
	}
	var xfp, xfh []byte
	for _, h := range req.Headers {
		if !forwardable(req.Headers, h.Name, replacedRequest, rt.AddHeaders) {
			if trusted {
				switch {
				case h1.EqualFold(h.Name, "x-forwarded-proto"):
					xfp = h.Value
				case h1.EqualFold(h.Name, "x-forwarded-host"):
					xfh = h.Value
				}
			}
			continue
		}
		b = appendRawField(b, h)
	}
	b = append(b, "X-Forwarded-For: "...)
	if trusted && hc.peer.IsValid() {
		for _, h := range req.Headers {
			if h1.EqualFold(h.Name, "x-forwarded-for") {
				b = append(b, h.Value...)
				b = append(b, ", "...)
			}
		}
	}
	b = append(b, hc.peerStr...)
	b = append(b, "\r\nX-Forwarded-Proto: "...)
	switch {
	case len(xfp) > 0:
		b = append(b, xfp...)
	case hc.tls != nil:
		b = append(b, "https"...)
	default:
		b = append(b, "http"...)
	}
	b = append(b, "\r\nX-Forwarded-Host: "...)
	if len(xfh) > 0 {
		b = append(b, xfh...)
	} else {
		b = append(b, req.Host...)
	}
	b = append(b, "\r\nX-Request-Id: "...)
	b = append(b, st.id...)
	b = append(b, "\r\n"...)
	for _, h := range rt.AddHeaders {
		b = appendField(b, h.Name, h.Value)
	}
	return b
}

// notTrailers are fields a trailer section must not carry (RFC 9110,
// section 6.5.1), besides the hop-by-hop ones: framing, content format,
// routing, authentication, request modifiers and response controls,
// which a recipient must have before the content. They are dropped from
// a trailer relayed.
var notTrailers = []string{"content-length", "content-encoding", "content-type", "content-range",
	"host", "authorization", "www-authenticate", "cache-control", "expect", "max-forwards", "pragma",
	"range", "set-cookie"}

// appendLastChunk ends a chunked body sent to the client: the last chunk,
// then the fields of the backend's trailer section (raw lines from
// h1.ChunkedReader.Trailer, each checked as a header field) less the
// hop-by-hop ones and those a trailer must not carry.
func appendLastChunk(b, trailer []byte) []byte {
	b = append(b, "0\r\n"...)
	for len(trailer) > 0 {
		end := bytes.Index(trailer, crlf) + 2
		line := trailer[:end]
		trailer = trailer[end:]
		name := line[:max(bytes.IndexByte(line, ':'), 0)]
		if !isAny(name, hopByHop) && !isAny(name, notTrailers) {
			b = append(b, line...)
		}
	}
	return append(b, "\r\n"...)
}

// appendResponseHead appends the head of the response as sent to the
// client. noBody: the response has none; chunk: its body is sent chunked.
func (hc *h1Conn) appendResponseHead(b []byte, x *exchange, r *h1.Response, rt *route, noBody, chunk bool) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	if len(r.Reason) > 0 {
		b = append(b, r.Reason...)
	} else {
		b = append(b, http.StatusText(r.Status)...)
	}
	b = append(b, "\r\n"...)
	// Trailer announces fields after a chunked body: it goes on when the
	// body goes on chunked, with its trailer (see appendLastChunk).
	keepTrailer := chunk && r.Chunked
	for _, h := range r.Headers {
		if !forwardable(r.Headers, h.Name, replacedResponse, rt.AddResponseHeaders) &&
			!(keepTrailer && h1.EqualFold(h.Name, "trailer") && !listed(r.Headers, h.Name)) {
			continue
		}
		b = appendRawField(b, h)
	}
	b = append(b, "X-Request-Id: "...)
	b = append(b, x.st.id...)
	b = append(b, "\r\n"...)
	for _, h := range rt.AddResponseHeaders {
		b = appendField(b, h.Name, h.Value)
	}
	switch {
	case noBody:
		if r.ContentLength >= 0 && r.Status != http.StatusNoContent {
			b = append(b, "Content-Length: "...)
			b = strconv.AppendInt(b, r.ContentLength, 10)
			b = append(b, "\r\n"...)
		}
	case chunk:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case r.ContentLength >= 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, r.ContentLength, 10)
		b = append(b, "\r\n"...)
	}
	b = hc.appendConnection(b, x)
	return append(b, "\r\n"...)
}
