// Package h1 parses HTTP/1.1 messages for phalanx's own HTTP/1.1 engine:
// Parse reads a request head in place from a byte buffer, ParseResponse
// does the same for a backend's response head, and ChunkedReader decodes
// a chunked body of either. It imports no phalanx package.
//
// The Server's own HTTP/1.1 engine uses it: Parse and ChunkedReader on
// the client side, ParseResponse and ChunkedReader on the backend side.
//
//	r := h1.NewRequest(h1.Limits{})
//	n, err := h1.Parse(buf, r, h1.Limits{})
//	switch {
//	case err == h1.ErrIncomplete: // read more into buf, call Parse again
//	case err != nil:              // answer h1.Status(err), close
//	default:                      // r.Method, r.Path, r.Host...; body at buf[n:]
//	}
//
// and on the backend side, with head set for a HEAD request:
//
//	n, err := h1.ParseResponse(buf, resp, h1.Limits{}, head)
//	switch {
//	case err == h1.ErrIncomplete:      // read more into buf, call ParseResponse again
//	case err != nil:                   // answer h1.Status(err), 502; close the backend connection
//	case h1.NoBody(resp.Status, head): // no body; after a 1xx but 101, parse again at buf[n:]
//	default:                           // body at buf[n:]: Chunked, UntilClose or ContentLength
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
// Every other error from Parse has Status 400. ChunkedReader documents the rules for
// chunked bodies (RFC 9112, section 7.1): 1 to 15 hex digits, no
// whitespace, bounded extensions, CRLF after the data, and a bounded,
// checked and discarded trailer section.
//
// A request with neither Content-Length nor chunked has no body, HTTP/1.0
// included (RFC 9112, section 6.3).
//
// # Responses
//
// A proxy that frames a backend's response differently from the backend
// lets the backend's content, or an attacker's reflected in it, be read
// as the next response on the connection (response splitting, RFC 9112
// section 11.1). ParseResponse reads the header section with the same
// rules as Parse: CRLF line ends only, no obsolete line folding, token
// names right before the colon, no control byte in a value, the same
// Content-Length rules, a Trailer that names no framing field, and the
// same Limits. Every error it returns has Status 502, the answer a proxy
// owes its client for a bad response from upstream (RFC 9110, section
// 15.6.3); for the checks shared with Parse it is a twin of the request
// error, which errors.Is still matches (see Error). The response
// differential test lists every response phalanx rejects that net/http's
// http.ReadResponse accepts, and the few it accepts that net/http
// rejects, with the reason. On top of the shared rules, ParseResponse
// rejects:
//
//   - a status line other than HTTP-version SP status-code, then nothing,
//     SP, or SP and a reason phrase of field-value bytes (RFC 9112,
//     section 4; "HTTP/1.1 200" with no SP is accepted, as net/http does);
//     a version other than HTTP/1.0 or HTTP/1.1; a status code that is
//     not three digits from 100 to 599 (RFC 9110, section 15).
//   - both Content-Length and Transfer-Encoding, whatever the status:
//     section 6.3 says such a message ought to be handled as an error, and
//     net/http letting chunked win is exactly the disagreement that splits
//     responses.
//   - a Transfer-Encoding that is not one field listing bare tokens with
//     chunked at most once (section 6.1), and any Transfer-Encoding on
//     HTTP/1.0 (faulty framing) or on a 1xx or 204 response, which a server
//     must not send and whose chunks would be read as the next response.
//
// The body is then framed as section 6.3 says, in this order:
//
//   - none for 1xx, 204 and 304 and for any response to HEAD (NoBody).
//     Content-Length is reported as sent but frames nothing: a 304 or a
//     response to HEAD gives the length the body would have had, and a
//     Content-Length on a 1xx or 204, which a server must not send (RFC
//     9110, section 8.6), is ignored, as net/http ignores it. A 101 ends
//     HTTP on the connection; after any other 1xx the final response
//     follows.
//   - chunked if the last transfer coding is chunked (Chunked); codings
//     listed before it are still applied to the decoded body. net/http
//     accepts only "chunked" alone.
//   - until the connection closes if Transfer-Encoding is present and its
//     last coding is not chunked, or if there is no Content-Length
//     (UntilClose, which implies Close).
//   - Content-Length bytes otherwise.
//
// # Allocations
//
// Parse allocates nothing: the Request's byte fields point into the
// buffer, Headers is a slice of spans whose capacity is kept across
// requests (NewRequest sizes it to Limits.MaxHeaders up front), and errors
// are package-level values. The same holds for ParseResponse, Response
// and NewResponse. ChunkedReader allocates nothing after
// NewChunkedReader; Reset reuses it for the next body. A Request or
// Response is valid only while its buffer is left alone: the engine must
// parse the next message only after it is done with the previous one, or
// copy what it keeps.
//
// # Concurrency
//
// Parse and ParseResponse are safe to call from many goroutines on
// different Requests and Responses. A Request, Response or ChunkedReader
// belongs to one connection at a time.
package h1
