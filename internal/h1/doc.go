// Package h1 parses HTTP/1.1 requests for phalanx's own HTTP/1.1 engine:
// Parse reads a request head in place from a byte buffer, and
// ChunkedReader decodes a chunked body. It imports no phalanx package.
//
// The Server does not use it yet: today every HTTP/1.x request goes
// through net/http. The fast-path engine described in DESIGN.md ("The data
// path") will read into a per-connection buffer, call Parse, answer
// Status(err) on an error, route on the Request, and relay the body by
// ContentLength or through a ChunkedReader.
//
//	r := h1.NewRequest(h1.Limits{})
//	n, err := h1.Parse(buf, r, h1.Limits{})
//	switch {
//	case err == h1.ErrIncomplete: // read more into buf, call Parse again
//	case err != nil:              // answer h1.Status(err), close
//	default:                      // r.Method, r.Path, r.Host...; body at buf[n:]
//	}
//
// # Strictness
//
// A proxy that reads a request differently from its backend lets a client
// smuggle a second request past it (RFC 9112, section 11.2). Parse
// therefore accepts a subset of what net/http's http.ReadRequest accepts,
// and rejects what RFC 9112 lets a recipient accept but where recipients
// are known to disagree. The differential test checks the first claim and
// lists every request phalanx rejects that net/http accepts, with the
// reason. Parse rejects:
//
//   - a line ended by a bare LF, and a CR anywhere but before LF. RFC 9112
//     section 2.2 lets a recipient accept a bare LF in the head; phalanx
//     does not, since another recipient may not split the lines there.
//   - NUL, and any other control byte except HTAB in a header value;
//     any control byte, SP inside, '#' or a byte above 0x7E in the target.
//   - a request line other than method SP request-target SP version
//     (section 3), with exactly one SP at each place and no empty line
//     before it; a method that is not a token (RFC 9110, section 9.1);
//     a version other than HTTP/1.0 or HTTP/1.1 (section 2.3), so the
//     HTTP/2 preface is rejected too: it belongs to the h2c engine.
//   - CONNECT, whatever its target: phalanx does not tunnel. The
//     asterisk-form "*" for any method but OPTIONS (section 3.2.4).
//     Targets other than origin-form ("/path?query", with well-formed
//     percent-escapes in the path) and absolute-form (section 3.2.2:
//     "http://" or "https://", a host of unreserved bytes or an IPv6
//     literal, an optional port, no userinfo).
//   - a header name that is not a token, or whitespace between the name
//     and the colon (RFC 9112, section 5.1); obsolete line folding, a line
//     starting with SP or HTAB (section 5.2).
//   - an HTTP/1.1 request without a Host header, any request with more
//     than one, a Host with bytes no authority has, and an absolute-form
//     target whose authority differs from Host, ignoring case (section
//     3.2; section 3.2.2 makes the target win, which a backend reading
//     Host would not know).
//   - both Content-Length and Transfer-Encoding (section 6.1 allows
//     forwarding such a message without Content-Length; phalanx refuses
//     it); a Content-Length that is not 1*DIGIT (no sign, no list) or
//     does not fit in an int64 (RFC 9110, section 8.6). Several
//     Content-Length fields with byte-for-byte the same value are folded
//     into one, as RFC 9112 section 6.3 allows: they frame the message
//     the same way for every recipient, and net/http folds them too, so a
//     backend behind phalanx cannot be confused. Any difference, even "5"
//     against "05", is an error.
//   - a Transfer-Encoding other than a single field whose value is
//     "chunked" (any case): "chunked, gzip", "gzip, chunked", "gzip",
//     "xchunked", "chunked" twice, empty. A request has no reason to use
//     another coding, and section 6.3 requires a final chunked anyway.
//     Any Transfer-Encoding on HTTP/1.0 (section 6.1: faulty framing).
//   - a Trailer header naming Content-Length, Transfer-Encoding or
//     Trailer (RFC 9110, section 6.5.1).
//   - more than Limits.MaxHeaders fields, or a head longer than
//     Limits.MaxHeaderBytes: Status 431 (RFC 6585, section 5).
//
// Every other error has Status 400. ChunkedReader documents the rules for
// chunked bodies (RFC 9112, section 7.1): 1 to 15 hex digits, no
// whitespace, bounded extensions, CRLF after the data, and a bounded,
// checked and discarded trailer section.
//
// A request with neither Content-Length nor chunked has no body, HTTP/1.0
// included (RFC 9112, section 6.3).
//
// # Allocations
//
// Parse allocates nothing: the Request's byte fields point into the
// buffer, Headers is a slice of spans whose capacity is kept across
// requests (NewRequest sizes it to Limits.MaxHeaders up front), and errors
// are package-level values. ChunkedReader allocates nothing after
// NewChunkedReader; Reset reuses it for the next body. A Request is valid
// only while its buffer is left alone: the engine must parse the next
// request only after it is done with the previous one, or copy what it
// keeps.
//
// # Concurrency
//
// Parse is safe to call from many goroutines on different Requests. A
// Request or ChunkedReader belongs to one connection at a time.
package h1
