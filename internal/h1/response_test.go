package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// nginxHead is a typical response head from nginx serving a static file:
// 233 bytes, 7 fields.
const nginxHead = "HTTP/1.1 200 OK\r\n" +
	"Server: nginx/1.27.4\r\n" +
	"Date: Wed, 26 Nov 2025 13:41:07 GMT\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Content-Length: 5124\r\n" +
	"Last-Modified: Tue, 25 Nov 2025 09:12:44 GMT\r\n" +
	"Connection: keep-alive\r\n" +
	"ETag: \"69257e4c-1404\"\r\n" +
	"\r\n"

// ok11 is the start of most test responses.
const ok11 = "HTTP/1.1 200 OK\r\n"

func TestParseResponse(t *testing.T) {
	for _, c := range []struct {
		name   string
		raw    string
		head   bool
		status int
		reason string
		minor  int
		length int64
		// chunked, until close, close
		chunked, until, close bool
	}{
		{"nginx", nginxHead, false, 200, "OK", 1, 5124, false, false, false},
		{"chunked", ok11 + te + "\r\n", false, 200, "OK", 1, -1, true, false, false},
		{"gzip then chunked", ok11 + "Transfer-Encoding: gzip, chunked\r\n\r\n", false, 200, "OK", 1, -1, true, false, false},
		{"chunked then gzip", ok11 + "Transfer-Encoding: chunked , gzip\r\n\r\n", false, 200, "OK", 1, -1, false, true, true},
		{"gzip only", ok11 + "Transfer-Encoding: gzip\r\n\r\n", false, 200, "OK", 1, -1, false, true, true},
		{"no length", ok11 + "\r\n", false, 200, "OK", 1, -1, false, true, true},
		{"no length keep-alive", ok11 + "Connection: keep-alive\r\n\r\n", false, 200, "OK", 1, -1, false, true, true},
		{"connection close", ok11 + "Connection: close\r\nContent-Length: 0\r\n\r\n", false, 200, "OK", 1, 0, false, false, true},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", false, 200, "OK", 0, 3, false, false, true},
		{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n\r\n", false, 200, "OK", 0, 3, false, false, false},
		{"no reason", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", false, 404, "", 1, 0, false, false, false},
		{"empty reason", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", false, 404, "", 1, 0, false, false, false},
		{"reason kept as sent", "HTTP/1.1 503  Service\tUnavailable \r\nContent-Length: 0\r\n\r\n", false, 503, " Service\tUnavailable ", 1, 0, false, false, false},
		{"100", "HTTP/1.1 100 Continue\r\n\r\n", false, 100, "Continue", 1, -1, false, false, false},
		{"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false, 101, "Switching Protocols", 1, -1, false, false, false},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", false, 204, "No Content", 1, -1, false, false, false},
		{"204 with length", "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", false, 204, "No Content", 1, 7, false, false, false},
		{"304 with length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5124\r\n\r\n", false, 304, "Not Modified", 1, 5124, false, false, false},
		{"304 chunked", "HTTP/1.1 304 Not Modified\r\n" + te + "\r\n", false, 304, "Not Modified", 1, -1, false, false, false},
		{"head with length", ok11 + "Content-Length: 5124\r\n\r\n", true, 200, "OK", 1, 5124, false, false, false},
		{"head chunked", ok11 + te + "\r\n", true, 200, "OK", 1, -1, false, false, false},
		{"head no length", ok11 + "\r\n", true, 200, "OK", 1, -1, false, false, false},
		{"599", "HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n", false, 599, "X", 1, 0, false, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			buf := []byte(c.raw + "body")
			r := NewResponse(Limits{})
			n, err := ParseResponse(buf, r, Limits{}, c.head)
			if err != nil || n != len(c.raw) {
				t.Fatalf("ParseResponse(%q) = %d, %v; want %d, nil", c.raw, n, err, len(c.raw))
			}
			if r.Status != c.status || string(r.Reason) != c.reason || r.ProtoMinor != c.minor || r.ContentLength != c.length ||
				r.Chunked != c.chunked || r.UntilClose != c.until || r.Close != c.close {
				t.Errorf("ParseResponse(%q) = %d %q minor %d length %d chunked %v until close %v close %v; want %d %q minor %d length %d chunked %v until close %v close %v",
					c.raw, r.Status, r.Reason, r.ProtoMinor, r.ContentLength, r.Chunked, r.UntilClose, r.Close,
					c.status, c.reason, c.minor, c.length, c.chunked, c.until, c.close)
			}
		})
	}
}

func TestParseResponseHeaders(t *testing.T) {
	r := NewResponse(Limits{})
	if _, err := ParseResponse([]byte(nginxHead), r, Limits{}, false); err != nil {
		t.Fatalf("ParseResponse = %v", err)
	}
	if len(r.Headers) != 7 || string(r.Headers[0].Name) != "Server" || string(r.Headers[6].Value) != `"69257e4c-1404"` {
		t.Errorf("ParseResponse Headers = %q, want the 7 fields in order", r.Headers)
	}
	if v, ok := r.Header("content-type"); !ok || string(v) != "text/html; charset=utf-8" {
		t.Errorf("Header(content-type) = %q, %v; want text/html; charset=utf-8, true", v, ok)
	}
	if _, ok := r.Header("x-missing"); ok {
		t.Errorf("Header(x-missing) ok = true, want false")
	}
	r.Reset()
	if len(r.Headers) != 0 || cap(r.Headers) != DefaultMaxHeaders || r.ContentLength != -1 || r.Status != 0 {
		t.Errorf("Reset = %+v, want an empty Response keeping Headers' capacity", r)
	}
}

func TestParseResponseErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		raw  string
		lim  Limits
		head bool
		want error
	}{
		{"short and incomplete", ok11 + "Content-Le", Limits{}, false, ErrIncomplete},
		{"incomplete status line", "HTTP/1.1 200", Limits{}, false, ErrIncomplete},
		{"head too large", ok11 + "X: " + strings.Repeat("a", 100), Limits{MaxHeaderBytes: 64}, false, ErrHeadTooLarge},
		{"too many headers", ok11 + "A: 1\r\nB: 2\r\n\r\n", Limits{MaxHeaders: 1}, false, ErrTooManyHeaders},
		{"no space", "HTTP/1.1\r\n\r\n", Limits{}, false, ErrStatusLine},
		{"version http/1.2", "HTTP/1.2 200 OK\r\n\r\n", Limits{}, false, ErrVersion},
		{"version http/2", "HTTP/2 200\r\n\r\n", Limits{}, false, ErrVersion},
		{"version lower case", "http/1.1 200 OK\r\n\r\n", Limits{}, false, ErrVersion},
		{"leading empty line", "\r\n" + ok11 + "\r\n", Limits{}, false, ErrStatusLine},
		{"two digits", "HTTP/1.1 20 OK\r\n\r\n", Limits{}, false, ErrStatusCode},
		{"four digits", "HTTP/1.1 2000 OK\r\n\r\n", Limits{}, false, ErrStatusCode},
		{"below 100", "HTTP/1.1 099 X\r\n\r\n", Limits{}, false, ErrStatusCode},
		{"above 599", "HTTP/1.1 600 X\r\n\r\n", Limits{}, false, ErrStatusCode},
		{"plus sign", "HTTP/1.1 +20 X\r\n\r\n", Limits{}, false, ErrStatusCode},
		{"two spaces", "HTTP/1.1  200 OK\r\n\r\n", Limits{}, false, ErrStatusCode},
		{"tab after code", "HTTP/1.1 200\tOK\r\n\r\n", Limits{}, false, ErrStatusCode},
		{"control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", Limits{}, false, ErrStatusLine},
		{"bare cr in reason", "HTTP/1.1 200 O\rK\r\n\r\n", Limits{}, false, ErrStatusLine},
		{"bare lf", "HTTP/1.1 200 OK\n\r\n", Limits{}, false, ErrLineEnding},
		{"obs-fold", ok11 + "A: 1\r\n 2\r\n\r\n", Limits{}, false, ErrObsFold},
		{"space before colon", ok11 + "Content-Length : 5\r\n\r\n", Limits{}, false, ErrHeaderName},
		{"nul in value", ok11 + "A: \x00\r\n\r\n", Limits{}, false, ErrHeaderValue},
		{"te and cl", ok11 + te + "Content-Length: 5\r\n\r\n", Limits{}, false, ErrAmbiguousLength},
		{"te and cl head", ok11 + te + "Content-Length: 5\r\n\r\n", Limits{}, true, ErrAmbiguousLength},
		{"cl differ", ok11 + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", Limits{}, false, ErrAmbiguousLength},
		{"cl list", ok11 + "Content-Length: 5, 5\r\n\r\n", Limits{}, false, ErrContentLength},
		{"cl invalid on 304", "HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n", Limits{}, false, ErrContentLength},
		{"te twice", ok11 + te + te + "\r\n", Limits{}, false, ErrTransferEncoding},
		{"te chunked twice", ok11 + "Transfer-Encoding: chunked, chunked\r\n\r\n", Limits{}, false, ErrTransferEncoding},
		{"te empty", ok11 + "Transfer-Encoding: \r\n\r\n", Limits{}, false, ErrTransferEncoding},
		{"te empty element", ok11 + "Transfer-Encoding: gzip, ,chunked\r\n\r\n", Limits{}, false, ErrTransferEncoding},
		{"te parameter", ok11 + "Transfer-Encoding: chunked;x=1\r\n\r\n", Limits{}, false, ErrTransferEncoding},
		{"te http/1.0", "HTTP/1.0 200 OK\r\n" + te + "\r\n", Limits{}, false, ErrTransferEncoding},
		{"te on 204", "HTTP/1.1 204 No Content\r\n" + te + "\r\n", Limits{}, false, ErrTransferEncoding},
		{"te on 100", "HTTP/1.1 100 Continue\r\n" + te + "\r\n", Limits{}, false, ErrTransferEncoding},
		{"trailer names cl", ok11 + te + "Trailer: Content-Length\r\n\r\n", Limits{}, false, ErrTrailerField},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, err := ParseResponse([]byte(c.raw), new(Response), c.lim, c.head)
			if n != 0 || !errors.Is(err, c.want) {
				t.Fatalf("ParseResponse(%q) = %d, %v; want 0, %v", c.raw, n, err, c.want)
			}
			want := 502
			if c.want == ErrIncomplete {
				want = 0
			}
			if got := Status(err); got != want {
				t.Errorf("Status(%v) = %d, want %d", err, got, want)
			}
		})
	}
	// The request side keeps its own status.
	if _, err := Parse([]byte(get+"A: 1\r\n 2\r\n\r\n"), new(Request), Limits{}); err != ErrObsFold || Status(err) != 400 {
		t.Errorf("Parse(obs-fold) = %v, Status %d; want ErrObsFold, 400", err, Status(err))
	}
}

func TestParseResponseIncremental(t *testing.T) {
	raw := []byte(nginxHead)
	var r Response
	for k := range len(raw) {
		if _, err := ParseResponse(raw[:k], &r, Limits{}, false); err != ErrIncomplete {
			t.Fatalf("ParseResponse(first %d bytes) err = %v, want ErrIncomplete", k, err)
		}
	}
	if n, err := ParseResponse(raw, &r, Limits{}, false); err != nil || n != len(raw) {
		t.Fatalf("ParseResponse = %d, %v; want %d, nil", n, err, len(raw))
	}
}

// TestParseResponseInterim reads a 100 Continue and a 103 Early Hints
// before the final response from one buffer.
func TestParseResponseInterim(t *testing.T) {
	buf := []byte("HTTP/1.1 100 Continue\r\n\r\n" +
		"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" +
		ok11 + "Content-Length: 2\r\n\r\nok")
	r := NewResponse(Limits{})
	var got []int
	for {
		n, err := ParseResponse(buf, r, Limits{}, false)
		if err != nil {
			t.Fatalf("ParseResponse(%q) = %v", buf, err)
		}
		got = append(got, r.Status)
		buf = buf[n:]
		if !NoBody(r.Status, false) {
			break
		}
	}
	if len(got) != 3 || got[0] != 100 || got[1] != 103 || got[2] != 200 || string(buf) != "ok" {
		t.Errorf("statuses %v, body %q; want [100 103 200], ok", got, buf)
	}
}

func TestNoBody(t *testing.T) {
	for _, c := range []struct {
		status int
		head   bool
		want   bool
	}{
		{100, false, true}, {101, false, true}, {199, false, true}, {200, false, false}, {200, true, true},
		{204, false, true}, {205, false, false}, {304, false, true}, {404, true, true}, {500, false, false},
	} {
		if got := NoBody(c.status, c.head); got != c.want {
			t.Errorf("NoBody(%d, %v) = %v, want %v", c.status, c.head, got, c.want)
		}
	}
}

// respCase is one raw response fed to both ParseResponse (then the body,
// framed as the Response says) and http.ReadResponse.
type respCase struct {
	name string
	raw  string
	// head: the request was HEAD.
	head bool
	// why is set exactly when phalanx rejects a response that net/http
	// accepts, and says why accepting it would be dangerous for a proxy.
	why string
	// lenient is set exactly when phalanx accepts a response that
	// net/http rejects, and says why that is safe.
	lenient string
}

// Building blocks for the response cases.
const (
	ok10    = "HTTP/1.0 200 OK\r\n"
	chunks  = "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n"
	noTE    = "net/http supports no transfer coding but chunked, and only alone; "
	teRule4 = noTE + "RFC 9112 section 6.3 rule 4 reads a response whose last coding is not chunked until the connection closes, which frames it unambiguously"
)

var validResponses = []respCase{
	{name: "content-length", raw: ok11 + "Content-Length: 5\r\n\r\nhello"},
	{name: "content-length zero", raw: ok11 + "Content-Length: 0\r\n\r\n"},
	{name: "content-length leading zeros", raw: ok11 + "Content-Length: 005\r\n\r\nhello"},
	{name: "content-length OWS", raw: ok11 + "Content-Length:\t5 \r\n\r\nhello"},
	{name: "identical content-length repeated", raw: ok11 + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "chunked", raw: ok11 + te + "\r\n" + chunks},
	{name: "chunked mixed case", raw: ok11 + "Transfer-Encoding: CHUNKED\r\n\r\n" + hello},
	{name: "chunked with trailer", raw: ok11 + te + "Trailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n"},
	{name: "chunked empty", raw: ok11 + te + "\r\n0\r\n\r\n"},
	{name: "until close", raw: ok11 + "Content-Type: text/plain\r\n\r\nhello world"},
	{name: "until close empty", raw: ok11 + "\r\n"},
	{name: "http/1.0 until close", raw: ok10 + "\r\nhello"},
	{name: "http/1.0 content-length", raw: ok10 + "Content-Length: 5\r\n\r\nhello"},
	{name: "http/1.0 keep-alive", raw: ok10 + "Connection: keep-alive\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "connection close", raw: ok11 + "Connection: close\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "nginx", raw: nginxHead + strings.Repeat("x", 5124)},
	{name: "empty reason", raw: "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"},
	{name: "reason leading space", raw: "HTTP/1.1 200  OK\r\nContent-Length: 0\r\n\r\n"},
	{name: "reason obs-text", raw: "HTTP/1.1 200 \xc3\x80 la bonne heure\r\nContent-Length: 0\r\n\r\n"},
	{name: "reason tab", raw: "HTTP/1.1 404 Not\tFound\r\nContent-Length: 0\r\n\r\n"},
	{name: "unregistered status", raw: "HTTP/1.1 299 Whatever\r\nContent-Length: 2\r\n\r\nok"},
	{name: "status 599", raw: "HTTP/1.1 599 Network Timeout\r\nContent-Length: 0\r\n\r\n"},
	{name: "100 continue", raw: "HTTP/1.1 100 Continue\r\n\r\n"},
	{name: "103 early hints", raw: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"},
	{name: "101 switching protocols", raw: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
	{name: "204", raw: "HTTP/1.1 204 No Content\r\n\r\n"},
	{name: "204 content-length zero", raw: "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"},
	{name: "204 content-length ignored", raw: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"},
	{name: "304 content-length", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 5124\r\n\r\n"},
	{name: "304 chunked", raw: "HTTP/1.1 304 Not Modified\r\n" + te + "\r\n"},
	{name: "head content-length", raw: ok11 + "Content-Length: 5124\r\n\r\n", head: true},
	{name: "head chunked", raw: ok11 + te + "\r\n", head: true},
	{name: "head no length", raw: ok11 + "\r\n", head: true},
	{name: "head 404", raw: "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n", head: true},
	{name: "obs-text in value", raw: ok11 + "X-Name: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n"},
	{name: "set-cookie twice", raw: ok11 + "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n"},
	{name: "trailer not framing", raw: ok11 + te + "Trailer: X-A, X-B\r\n\r\n" + hello},

	{name: "no reason no space", raw: "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok"},

	{name: "te gzip", raw: ok11 + "Transfer-Encoding: gzip\r\n\r\n\x1f\x8b...", lenient: teRule4},
	{name: "te chunked then gzip", raw: ok11 + "Transfer-Encoding: chunked, gzip\r\n\r\n" + hello, lenient: teRule4},
	{name: "te gzip then chunked", raw: ok11 + "Transfer-Encoding: gzip, chunked\r\n\r\n" + hello,
		lenient: noTE + "the last coding is chunked, so the body is framed by its chunks (RFC 9112 section 6.3 rule 4)"},
}

var malformedResponses = []respCase{
	// Framing.
	{name: "te and cl", raw: ok11 + te + "Content-Length: 5\r\n\r\n" + hello,
		why: "response splitting: net/http lets chunked win, a cache or client that honours Content-Length reads a different body (RFC 9112 section 6.3: ought to be handled as an error)"},
	{name: "cl and te zero", raw: ok11 + "Content-Length: 0\r\n" + te + "\r\n" + hello,
		why: "the same ambiguity with the fields in the other order"},
	{name: "te and cl on 304", raw: "HTTP/1.1 304 Not Modified\r\n" + te + "Content-Length: 5\r\n\r\n",
		why: "a sender MUST NOT send both (RFC 9112 section 6.2); phalanx refuses it whatever the status rather than decide when it is harmless"},
	{name: "te on 204", raw: "HTTP/1.1 204 No Content\r\n" + te + "\r\n" + hello,
		why: "a server MUST NOT send Transfer-Encoding on a 204 (RFC 9112 section 6.1); a backend that does may also send the chunks, which the proxy would read as the next response"},
	{name: "te on 100", raw: "HTTP/1.1 100 Continue\r\n" + te + "\r\n",
		why: "a server MUST NOT send Transfer-Encoding on a 1xx (RFC 9112 section 6.1), same risk as on a 204"},
	{name: "http/1.0 te", raw: ok10 + te + "\r\n" + hello,
		why: "net/http ignores Transfer-Encoding on HTTP/1.0 and reads the chunks as the body; RFC 9112 section 6.1 calls it faulty framing"},
	{name: "http/1.0 te and cl", raw: ok10 + te + "Content-Length: 3\r\n\r\nabc",
		why: "faulty framing on HTTP/1.0 (RFC 9112 section 6.1) with two lengths to choose from"},
	{name: "te twice", raw: ok11 + te + te + "\r\n" + hello},
	{name: "te chunked twice in one field", raw: ok11 + "Transfer-Encoding: chunked, chunked\r\n\r\n" + hello},
	{name: "te empty", raw: ok11 + "Transfer-Encoding:\r\n\r\nhello"},
	{name: "te empty element", raw: ok11 + "Transfer-Encoding: gzip,,chunked\r\n\r\n" + hello},
	{name: "te parameter", raw: ok11 + "Transfer-Encoding: chunked;q=1\r\n\r\n" + hello},
	{name: "te not a token", raw: ok11 + "Transfer-Encoding: \"chunked\"\r\n\r\n" + hello},
	{name: "te space before colon", raw: ok11 + "Transfer-Encoding : chunked\r\n\r\n" + hello,
		why: "net/http keeps \"Transfer-Encoding \" as another field and reads until close; RFC 9112 section 5.1 has a proxy strip the space, which frames by chunks"},
	{name: "te obs-fold", raw: ok11 + "Transfer-Encoding:\r\n chunked\r\n\r\n" + hello,
		why: "net/http unfolds the line and frames by chunks; a recipient that does not unfold sees an empty Transfer-Encoding and a bogus line"},
	{name: "cl differing", raw: ok11 + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
	{name: "cl same number differing bytes", raw: ok11 + "Content-Length: 5\r\nContent-Length: 05\r\n\r\nhello"},
	{name: "cl list same", raw: ok11 + "Content-Length: 5, 5\r\n\r\nhello"},
	{name: "cl list differing", raw: ok11 + "Content-Length: 5, 6\r\n\r\nhello!"},
	{name: "cl plus sign", raw: ok11 + "Content-Length: +5\r\n\r\nhello"},
	{name: "cl negative", raw: ok11 + "Content-Length: -1\r\n\r\n"},
	{name: "cl empty", raw: ok11 + "Content-Length:\r\n\r\n"},
	{name: "cl overflow", raw: ok11 + "Content-Length: 9223372036854775808\r\n\r\n"},
	{name: "cl invalid on 204", raw: "HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n"},
	{name: "cl body truncated", raw: ok11 + "Content-Length: 10\r\n\r\nhello"},
	{name: "chunked body truncated", raw: ok11 + te + "\r\n5\r\nhel"},
	{name: "chunk size 0x", raw: ok11 + te + "\r\n0x5\r\nhello\r\n0\r\n\r\n"},
	{name: "trailer header names content-length", raw: ok11 + te + "Trailer: Content-Length\r\n\r\n" + hello},

	// Status line.
	{name: "http/1.2", raw: "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
		why: "an HTTP version phalanx does not speak: its framing rules are unknown"},
	{name: "http/2.0", raw: "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
		why: "an HTTP/2 version on an HTTP/1 connection: the backend is not speaking HTTP/1"},
	{name: "http/2", raw: "HTTP/2 200\r\n\r\n"},
	{name: "version lower case", raw: "http/1.1 200 OK\r\n\r\n"},
	{name: "icy", raw: "ICY 200 OK\r\n\r\n"},
	{name: "no status", raw: "HTTP/1.1\r\n\r\n"},
	{name: "empty status", raw: "HTTP/1.1 \r\n\r\n"},
	{name: "status two digits", raw: "HTTP/1.1 20 OK\r\n\r\n"},
	{name: "status four digits", raw: "HTTP/1.1 2000 OK\r\n\r\n"},
	{name: "status letters", raw: "HTTP/1.1 abc OK\r\n\r\n"},
	{name: "status below 100", raw: "HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n",
		why: "no such status class (RFC 9110 section 15): whether it allows a body is undefined"},
	{name: "status 000", raw: "HTTP/1.1 000 Odd\r\nContent-Length: 0\r\n\r\n",
		why: "no such status class, same as below 100"},
	{name: "status 600", raw: "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
		why: "outside 100..599 (RFC 9110 section 15): a status for internal use that clients handle in different ways"},
	{name: "status plus sign", raw: "HTTP/1.1 +20 Odd\r\nContent-Length: 0\r\n\r\n",
		why: "not three digits: net/http reads status 20"},
	{name: "two spaces before status", raw: "HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n",
		why: "not the status-line grammar: net/http skips the spaces, a recipient splitting on single SP reads an empty status"},
	{name: "tab before status", raw: "HTTP/1.1\t200 OK\r\n\r\n"},
	{name: "tab after status", raw: "HTTP/1.1 200\tOK\r\nContent-Length: 0\r\n\r\n"},
	{name: "leading empty line", raw: "\r\n" + ok11 + "Content-Length: 0\r\n\r\n"},
	{name: "control byte in reason", raw: "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n",
		why: "a control byte in the reason phrase, which the proxy would forward to its client"},
	{name: "nul in reason", raw: "HTTP/1.1 200 O\x00K\r\nContent-Length: 0\r\n\r\n",
		why: "NUL in the reason phrase ends it early for C recipients"},
	{name: "bare cr in reason", raw: "HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n",
		why: "a bare CR is a line end to some recipients, which then read a different head"},

	// Line endings, names and values.
	{name: "bare lf after status line", raw: "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
		why: "bare LF line ends: a recipient that only splits on CRLF reads a different head"},
	{name: "bare lf after header", raw: ok11 + "Content-Length: 5\nX-A: b\r\n\r\nhello",
		why: "bare LF inside the head: one recipient sees Content-Length 5, another a field value \"5\\nX-A: b\""},
	{name: "bare lf blank line", raw: ok11 + "Content-Length: 5\r\n\nhello",
		why: "a head ended by a bare LF: a recipient that needs CRLF CRLF reads the body as header lines"},
	{name: "obs-fold", raw: ok11 + "X-A: one\r\n two\r\nContent-Length: 0\r\n\r\n",
		why: "obsolete line folding (RFC 9112 section 5.2): recipients disagree on whether the next line is a continuation or a new field"},
	{name: "space before colon", raw: ok11 + "Content-Length : 5\r\n\r\nhello",
		why: "RFC 9112 section 5.1 has a proxy strip the space, which gives Content-Length 5, while net/http keeps \"Content-Length \" as another field and reads until close"},
	{name: "name without colon", raw: ok11 + "X-A b\r\n\r\n"},
	{name: "name empty", raw: ok11 + ": b\r\n\r\n"},
	{name: "nul in value", raw: ok11 + "X-A: a\x00b\r\nContent-Length: 0\r\n\r\n"},
	{name: "del in value", raw: ok11 + "X-A: a\x7fb\r\nContent-Length: 0\r\n\r\n"},
	{name: "cr in value", raw: ok11 + "X-A: a\rb\r\nContent-Length: 0\r\n\r\n"},
	{name: "too many headers", raw: ok11 + strings.Repeat("X-A: b\r\n", 101) + "Content-Length: 0\r\n\r\n",
		why: "more fields than the limit: a 502 bounds the work one response can cause"},
	{name: "head too large", raw: ok11 + "X-A: " + strings.Repeat("a", 70000) + "\r\nContent-Length: 0\r\n\r\n",
		why: "a head over the size limit: a 502 bounds the memory one backend connection can hold"},
	{name: "incomplete head", raw: ok11 + "Content-Length: 0\r\n"},
	{name: "empty", raw: ""},
}

// respOutcome is what one parser made of a raw response.
type respOutcome struct {
	status, minor int
	close         bool
	body          string
	err           error
}

// phalanxResponse runs ParseResponse and reads the body as it is framed.
func phalanxResponse(raw []byte, head bool) respOutcome {
	var r Response
	n, err := ParseResponse(raw, &r, Limits{}, head)
	if err != nil {
		return respOutcome{err: err}
	}
	o := respOutcome{status: r.Status, minor: r.ProtoMinor, close: r.Close}
	rest := raw[n:]
	switch {
	case NoBody(r.Status, head):
	case r.Chunked:
		b, err := io.ReadAll(NewChunkedReader(bufio.NewReader(bytes.NewReader(rest))))
		if err != nil {
			return respOutcome{err: err}
		}
		o.body = string(b)
	case r.UntilClose:
		o.body = string(rest)
	case r.ContentLength > int64(len(rest)):
		return respOutcome{err: io.ErrUnexpectedEOF}
	default:
		o.body = string(rest[:r.ContentLength])
	}
	return o
}

// netHTTPResponse runs http.ReadResponse and reads the body.
func netHTTPResponse(raw []byte, head bool) respOutcome {
	req := &http.Request{Method: http.MethodGet}
	if head {
		req.Method = http.MethodHead
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), req)
	if err != nil {
		return respOutcome{err: err}
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return respOutcome{err: err}
	}
	return respOutcome{status: resp.StatusCode, minor: resp.ProtoMinor, close: resp.Close, body: string(b)}
}

func TestDifferentialResponse(t *testing.T) {
	if len(malformedResponses) < 40 || len(validResponses) < 30 {
		t.Fatalf("have %d malformed and %d valid responses, want at least 40 and 30", len(malformedResponses), len(validResponses))
	}
	check := func(t *testing.T, c respCase, valid bool) {
		raw := []byte(c.raw)
		ph, nh := phalanxResponse(raw, c.head), netHTTPResponse(raw, c.head)
		switch {
		case valid && ph.err != nil:
			t.Fatalf("ParseResponse(%q) err = %v, want a valid response", c.raw, ph.err)
		case !valid && ph.err == nil:
			t.Fatalf("ParseResponse(%q) = %+v, want an error", c.raw, ph)
		case ph.err == nil && nh.err != nil && c.lenient == "":
			t.Fatalf("ParseResponse(%q) accepts what net/http rejects (%v): the case needs a lenient", c.raw, nh.err)
		case c.lenient != "" && (ph.err != nil || nh.err == nil):
			t.Fatalf("%q: phalanx err = %v, net/http err = %v; drop the lenient", c.raw, ph.err, nh.err)
		case ph.err != nil && nh.err == nil && c.why == "":
			t.Fatalf("ParseResponse(%q) err = %v but net/http accepts it: the case needs a why", c.raw, ph.err)
		case nh.err != nil && c.why != "":
			t.Fatalf("net/http rejects %q (%v) too: drop the why", c.raw, nh.err)
		}
		if ph.err == nil && nh.err == nil && ph != nh {
			t.Fatalf("ParseResponse(%q) = %+v, net/http = %+v, want the same", c.raw, ph, nh)
		}
		if _, err := ParseResponse(raw, new(Response), Limits{}, c.head); err != nil && err != ErrIncomplete && Status(err) != 502 {
			t.Errorf("ParseResponse(%q) err = %v with Status %d, want 502", c.raw, err, Status(err))
		}
	}
	for _, c := range validResponses {
		t.Run("valid/"+c.name, func(t *testing.T) { check(t, c, true) })
	}
	for _, c := range malformedResponses {
		t.Run("malformed/"+c.name, func(t *testing.T) { check(t, c, false) })
	}
}

// TestDifferentialResponseList logs the responses phalanx and net/http
// disagree on, with the reason; run with -v to read it.
func TestDifferentialResponseList(t *testing.T) {
	var strict, lenient int
	for _, c := range malformedResponses {
		if c.why != "" {
			strict++
			t.Logf("rejected by phalanx only: %-32s %s", c.name, c.why)
		}
	}
	for _, c := range validResponses {
		if c.lenient != "" {
			lenient++
			t.Logf("accepted by phalanx only: %-32s %s", c.name, c.lenient)
		}
	}
	t.Logf("%d malformed responses, %d valid; %d rejected and %d accepted by phalanx only",
		len(malformedResponses), len(validResponses), strict, lenient)
}
