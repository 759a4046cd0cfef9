package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// diffCase is one raw request fed to both Parse (plus ChunkedReader) and
// http.ReadRequest.
type diffCase struct {
	name string
	raw  string
	// valid: phalanx must accept the request, and so must net/http.
	valid bool
	// why is set exactly when phalanx rejects a request that net/http
	// accepts, and says why accepting it would be dangerous for a proxy.
	why string
}

// Building blocks for the cases.
const (
	get   = "GET / HTTP/1.1\r\nHost: example.com\r\n"
	post  = "POST /upload HTTP/1.1\r\nHost: example.com\r\n"
	post0 = "POST /upload HTTP/1.0\r\n"
	te    = "Transfer-Encoding: chunked\r\n"
	hello = "5\r\nhello\r\n0\r\n\r\n"
)

var validCases = []diffCase{
	{name: "simple get", raw: get + "\r\n"},
	{name: "query", raw: "GET /search?q=a+b&lang=en HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{name: "query with raw percent", raw: "GET /p?discount=100% HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "percent-encoded path", raw: "GET /a%20b/%C3%A9 HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "double slash path", raw: "GET //evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "post content-length", raw: post + "Content-Length: 5\r\n\r\nhello"},
	{name: "content-length zero", raw: post + "Content-Length: 0\r\n\r\n"},
	{name: "content-length leading zeros", raw: post + "Content-Length: 005\r\n\r\nhello"},
	{name: "content-length with OWS", raw: post + "Content-Length: \t5 \r\n\r\nhello"},
	{name: "identical content-length repeated", raw: post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "chunked", raw: post + te + "\r\n" + hello},
	{name: "chunked empty body", raw: post + te + "\r\n0\r\n\r\n"},
	{name: "chunked several chunks", raw: post + te + "\r\n3\r\nhel\r\n2\r\nlo\r\n1\r\n!\r\n0\r\n\r\n"},
	{name: "chunked upper-case hex", raw: post + te + "\r\nA\r\n0123456789\r\n0\r\n\r\n"},
	{name: "chunked leading zero size", raw: post + te + "\r\n005\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk extension", raw: post + te + "\r\n5;name=value\r\nhello\r\n0;last\r\n\r\n"},
	{name: "chunk extension quoted", raw: post + te + "\r\n5;n=\"a b;c\"\r\nhello\r\n0\r\n\r\n"},
	{name: "chunked with trailers", raw: post + te + "Trailer: X-Checksum\r\n\r\n" + "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"},
	{name: "transfer-encoding mixed case", raw: post + "Transfer-Encoding: ChUnKeD\r\n\r\n" + hello},
	{name: "transfer-encoding OWS", raw: post + "Transfer-Encoding:   chunked \t\r\n\r\n" + hello},
	{name: "http/1.0 without host", raw: "GET /old HTTP/1.0\r\n\r\n"},
	{name: "http/1.0 keep-alive", raw: "GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"},
	{name: "http/1.0 post content-length", raw: post0 + "Content-Length: 5\r\n\r\nhello"},
	{name: "connection close", raw: get + "Connection: Keep-Alive, Close\r\n\r\n"},
	{name: "options asterisk", raw: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "absolute-form", raw: "GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{name: "absolute-form https port case", raw: "GET HTTPS://Example.com:8443/a HTTP/1.1\r\nHost: example.COM:8443\r\n\r\n"},
	{name: "absolute-form no path", raw: "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"},
	{name: "absolute-form ipv6", raw: "GET http://[2001:db8::1]:8080/x HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n"},
	{name: "absolute-form ipv4-mapped", raw: "GET http://[::ffff:10.0.0.1]/ HTTP/1.1\r\nHost: [::ffff:10.0.0.1]\r\n\r\n"},
	{name: "absolute-form http/1.0 no host", raw: "GET http://example.com/ HTTP/1.0\r\n\r\n"},
	{name: "lower-case method", raw: "get / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "extension method", raw: "PURGE /cache/x HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "obs-text in value", raw: get + "X-Name: caf\xc3\xa9 \xff\r\n\r\n"},
	{name: "tab inside value", raw: get + "X-Tab: a\tb\r\n\r\n"},
	{name: "empty value", raw: get + "X-Empty:\r\n\r\n"},
	{name: "empty host", raw: "GET / HTTP/1.1\r\nHost:\r\n\r\n"},
	{name: "host with port", raw: "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"},
	{name: "expect 100-continue", raw: post + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "websocket upgrade", raw: get + "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"},
	{name: "browser head", raw: browserHead},
	{name: "trailer header not framing", raw: post + te + "Trailer: X-A, X-B\r\n\r\n" + hello},
}

var malformedCases = []diffCase{
	// Content-Length and Transfer-Encoding together.
	{name: "cl then te", raw: post + "Content-Length: 5\r\n" + te + "\r\n" + hello,
		why: "CL.TE smuggling: a backend that honours Content-Length reads 5 bytes of chunk framing as the body and the rest as a new request (RFC 9112 section 6.1 says to treat it as an error)"},
	{name: "te then cl", raw: post + te + "Content-Length: 5\r\n\r\n" + hello,
		why: "TE.CL smuggling: the same ambiguity in the other order"},
	{name: "te and cl zero", raw: post + te + "Content-Length: 0\r\n\r\n" + hello,
		why: "a backend using Content-Length sees an empty body and the chunks as a second request"},
	{name: "te and bad cl", raw: post + te + "Content-Length: x\r\n\r\n" + hello},
	{name: "http/1.0 te and cl", raw: post0 + te + "Content-Length: 3\r\n\r\nabc",
		why: "net/http ignores Transfer-Encoding on HTTP/1.0; a backend that honours it frames the body as chunks (RFC 9112 section 6.1: faulty framing)"},
	{name: "http/1.0 te", raw: post0 + te + "\r\n" + "0\r\n\r\n",
		why: "net/http ignores Transfer-Encoding on HTTP/1.0 and sees no body; a backend that honours it reads the chunks as the body"},

	// Content-Length values.
	{name: "cl differing", raw: post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
	{name: "cl same number differing bytes", raw: post + "Content-Length: 5\r\nContent-Length: 05\r\n\r\nhello"},
	{name: "cl list same", raw: post + "Content-Length: 5, 5\r\n\r\nhello"},
	{name: "cl list differing", raw: post + "Content-Length: 5,6\r\n\r\nhello!"},
	{name: "cl plus sign", raw: post + "Content-Length: +5\r\n\r\nhello"},
	{name: "cl negative", raw: post + "Content-Length: -1\r\n\r\n"},
	{name: "cl hex", raw: post + "Content-Length: 0x5\r\n\r\nhello"},
	{name: "cl inner space", raw: post + "Content-Length: 1 0\r\n\r\nhelloworld"},
	{name: "cl empty", raw: post + "Content-Length:\r\n\r\n"},
	{name: "cl int64 overflow", raw: post + "Content-Length: 9223372036854775808\r\n\r\n"},
	{name: "cl huge", raw: post + "Content-Length: 99999999999999999999\r\n\r\n"},
	{name: "cl trailing letter", raw: post + "Content-Length: 5a\r\n\r\nhello"},
	{name: "cl underscore", raw: post + "Content-Length: 1_0\r\n\r\nhelloworld"},
	{name: "cl fullwidth digit", raw: post + "Content-Length: \xef\xbc\x95\r\n\r\nhello"},
	{name: "cl body truncated", raw: post + "Content-Length: 10\r\n\r\nhello"},

	// Transfer-Encoding values.
	{name: "te gzip", raw: post + "Transfer-Encoding: gzip\r\n\r\n" + hello},
	{name: "te chunked gzip", raw: post + "Transfer-Encoding: chunked, gzip\r\n\r\n" + hello},
	{name: "te gzip chunked", raw: post + "Transfer-Encoding: gzip, chunked\r\n\r\n" + hello},
	{name: "te xchunked", raw: post + "Transfer-Encoding: xchunked\r\n\r\n" + hello},
	{name: "te chunked twice in one field", raw: post + "Transfer-Encoding: chunked, chunked\r\n\r\n" + hello},
	{name: "te chunked in two fields", raw: post + te + te + "\r\n" + hello},
	{name: "te empty", raw: post + "Transfer-Encoding:\r\n\r\n"},
	{name: "te vertical tab", raw: post + "Transfer-Encoding: \x0bchunked\r\n\r\n" + hello},
	{name: "te space before colon", raw: post + "Transfer-Encoding : chunked\r\n\r\n" + hello,
		why: "net/http keeps \"Transfer-Encoding \" as a different field and sees no body; a backend that trims the name reads chunks (RFC 9112 section 5.1 requires a 400)"},
	{name: "te obs-fold", raw: post + "Transfer-Encoding:\r\n chunked\r\n\r\n" + hello,
		why: "net/http unfolds the line and frames by chunks; a backend that does not unfold sees an empty Transfer-Encoding and a bogus header line"},

	// Line folding and whitespace.
	{name: "obs-fold", raw: get + "X-A: one\r\n two\r\n\r\n",
		why: "obsolete line folding (RFC 9112 section 5.2): recipients disagree on whether the next line is a continuation or a new field"},
	{name: "obs-fold tab", raw: get + "X-A: one\r\n\ttwo\r\n\r\n",
		why: "obsolete line folding with HTAB, same ambiguity"},
	{name: "space before first header", raw: "GET / HTTP/1.1\r\n Host: a\r\n\r\n"},
	{name: "space before colon", raw: get + "X-A : b\r\n\r\n",
		why: "whitespace between name and colon (RFC 9112 section 5.1 says MUST reject): some recipients strip it and get a different field name"},
	{name: "host space before colon", raw: "GET / HTTP/1.0\r\nHost : evil\r\n\r\n",
		why: "net/http sees no Host; a backend that strips the space routes to host \"evil\""},
	{name: "tab before colon", raw: get + "X-A\t: b\r\n\r\n"},

	// Chunked framing.
	{name: "chunk size 0x", raw: post + te + "\r\n0x5\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size negative", raw: post + te + "\r\n-5\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size leading space", raw: post + te + "\r\n 5\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size trailing space", raw: post + te + "\r\n5 \r\nhello\r\n0\r\n\r\n",
		why: "whitespace after a chunk size is not in the RFC 9112 section 7.1 grammar; parsers that stop at it and parsers that reject it frame differently"},
	{name: "chunk size trailing tab", raw: post + te + "\r\n5\t\r\nhello\r\n0\r\n\r\n",
		why: "same as a trailing space"},
	{name: "chunk size 16 digits", raw: post + te + "\r\n0000000000000005\r\nhello\r\n0\r\n\r\n",
		why: "more than 15 hex digits: parsers with a fixed-width accumulator truncate or wrap it and read a different length"},
	{name: "chunk size 17 digits", raw: post + te + "\r\n10000000000000000\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size uint64 max", raw: post + te + "\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size bare lf", raw: post + te + "\r\n5\nhello\r\n0\r\n\r\n"},
	{name: "chunk size bare cr", raw: post + te + "\r\n5\rhello\r\n0\r\n\r\n"},
	{name: "chunk data no crlf", raw: post + te + "\r\n5\r\nhelloXX0\r\n\r\n"},
	{name: "chunk data bare lf", raw: post + te + "\r\n5\r\nhello\n0\r\n\r\n"},
	{name: "chunk data too long", raw: post + te + "\r\n3\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk body truncated", raw: post + te + "\r\n5\r\nhello\r\n"},
	{name: "chunk last crlf missing", raw: post + te + "\r\n5\r\nhello\r\n0\r\n"},
	{name: "chunk size empty", raw: post + te + "\r\n\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk extension without size", raw: post + te + "\r\n;a=b\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk extension bws", raw: post + te + "\r\n5 ;a=b\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk extension control byte", raw: post + te + "\r\n5;a=\x01\r\nhello\r\n0\r\n\r\n",
		why: "a control byte in a chunk extension: recipients that scan for line ends differently disagree on where the chunk-size line stops"},
	{name: "chunk extension bare cr", raw: post + te + "\r\n5;a\rb\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk extension too long", raw: post + te + "\r\n5;" + strings.Repeat("x", 2000) + "\r\nhello\r\n0\r\n\r\n",
		why: "unbounded chunk extensions let a client make the proxy read and discard arbitrary bytes per data byte (compare CVE-2023-39326)"},
	{name: "trailer obs-fold", raw: post + te + "\r\n5\r\nhello\r\n0\r\nX-A: a\r\n b\r\n\r\n",
		why: "obsolete line folding in the trailer section, same ambiguity as in the head"},
	{name: "trailer bare lf", raw: post + te + "\r\n5\r\nhello\r\n0\r\nX-A: a\nX-B: b\r\n\r\n",
		why: "bare LF in the trailer section: a recipient that requires CRLF keeps reading and swallows the next request"},
	{name: "trailer name with space", raw: post + te + "\r\n5\r\nhello\r\n0\r\nX A: a\r\n\r\n",
		why: "a field name that is not a token (RFC 9110 section 5.1)"},
	{name: "trailer too large", raw: post + te + "\r\n5\r\nhello\r\n0\r\nX-A: " + strings.Repeat("a", 5000) + "\r\n\r\n"},
	{name: "trailer header names content-length", raw: post + te + "Trailer: Content-Length\r\n\r\n" + hello},
	{name: "trailer header names cl without chunked", raw: post + "Trailer: Content-Length\r\nContent-Length: 5\r\n\r\nhello",
		why: "announcing a framing field as a trailer is forbidden (RFC 9110 section 6.5.1); phalanx refuses it whatever the framing rather than forward it"},

	// Line endings and bytes.
	{name: "bare lf after request line", raw: "GET / HTTP/1.1\nHost: a\r\n\r\n",
		why: "bare LF line ends (RFC 9112 section 2.2 allows, phalanx refuses): a recipient that only splits on CRLF sees one long line and a different header set"},
	{name: "bare lf after header", raw: "GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n",
		why: "bare LF inside the head, same split ambiguity"},
	{name: "bare lf blank line", raw: "GET / HTTP/1.1\r\nHost: a\r\n\n",
		why: "a head ended by a bare LF: a recipient that needs CRLF CRLF treats the next request's bytes as more header fields"},
	{name: "bare cr in value", raw: get + "X-A: a\rb\r\n\r\n"},
	{name: "cr before crlf", raw: get + "X-A: a\r\r\n\r\n"},
	{name: "bare cr in request line", raw: "GET / HTTP/1.1\rHost: a\r\n\r\n"},
	{name: "nul in value", raw: get + "X-A: a\x00b\r\n\r\n"},
	{name: "nul in path", raw: "GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "nul in name", raw: get + "X\x00A: b\r\n\r\n"},
	{name: "nul in method", raw: "G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "del in value", raw: get + "X-A: a\x7fb\r\n\r\n"},
	{name: "control byte in value", raw: get + "X-A: a\x01b\r\n\r\n"},
	{name: "header line too long", raw: get + "X-A: " + strings.Repeat("a", 70000) + "\r\n\r\n",
		why: "a head over the size limit: answering 431 bounds the memory one connection can hold"},
	{name: "too many headers", raw: get + strings.Repeat("X-A: b\r\n", 101) + "\r\n",
		why: "more fields than the limit: answering 431 bounds the work one request can cause"},
	{name: "incomplete head", raw: get},

	// Methods and names.
	{name: "method with slash", raw: "GE/T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "method empty", raw: " / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "method non-ascii", raw: "G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "name empty", raw: get + ": b\r\n\r\n"},
	{name: "name without colon", raw: get + "X-A b\r\n\r\n"},
	{name: "name with slash", raw: get + "X/A: b\r\n\r\n"},
	{name: "name non-ascii", raw: get + "X\xc3\xa9: b\r\n\r\n"},
	{name: "name with quote", raw: get + "X\"A: b\r\n\r\n"},

	// Host.
	{name: "missing host", raw: "GET / HTTP/1.1\r\n\r\n",
		why: "HTTP/1.1 without Host (RFC 9112 section 3.2 says MUST 400): the proxy would have to invent a routing key the backend does not see"},
	{name: "duplicate host", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
	{name: "duplicate host same", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"},
	{name: "duplicate host http/1.0", raw: "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"},
	{name: "host with space", raw: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		why: "a Host that is not an authority: the proxy and the backend can route on different parts of it"},
	{name: "host with slash", raw: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
		why: "a path in Host confuses backends that build URLs from it (cache poisoning, open redirects)"},
	{name: "host with userinfo", raw: "GET / HTTP/1.1\r\nHost: user@evil\r\n\r\n",
		why: "userinfo in Host: one recipient routes on \"user\", another on \"evil\""},

	// Targets.
	{name: "absolute-form host mismatch", raw: "GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n",
		why: "the target's authority wins over Host (RFC 9112 section 3.2.2) in net/http, but a backend reading Host routes to the other name"},
	{name: "absolute-form userinfo", raw: "GET http://user@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
		why: "userinfo in an http URI (RFC 9110 section 4.2.4 says to treat it as an error)"},
	{name: "absolute-form ftp", raw: "GET ftp://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
		why: "a scheme the proxy cannot serve: forwarding it asks the backend to act as a forward proxy"},
	{name: "absolute-form single slash", raw: "GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n",
		why: "not absolute-form: parsed as a path by some recipients and as a URI by others"},
	{name: "absolute-form bad port", raw: "GET http://a:x/ HTTP/1.1\r\nHost: a:x\r\n\r\n"},
	{name: "absolute-form empty host", raw: "GET http:///a HTTP/1.1\r\nHost: a\r\n\r\n",
		why: "an absolute-form target with no authority, where the Host header silently takes over"},
	{name: "opaque target", raw: "GET foo:bar HTTP/1.1\r\nHost: a\r\n\r\n",
		why: "neither origin-form nor absolute-form: recipients disagree on its path"},
	{name: "relative target", raw: "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "asterisk with get", raw: "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
		why: "asterisk-form is only for OPTIONS (RFC 9112 section 3.2.4); routing \"*\" as a path is undefined"},
	{name: "asterisk with query", raw: "OPTIONS *?a HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "connect", raw: "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
		why: "phalanx does not tunnel: forwarding CONNECT would open arbitrary TCP connections from the proxy"},
	{name: "fragment", raw: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
		why: "a fragment is never sent (RFC 9112 section 3.2); recipients disagree on whether \"#b\" is part of the path"},
	{name: "non-ascii target", raw: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
		why: "raw non-ASCII bytes in the target: recipients decode or normalise them differently, which defeats path-based routing and WAF rules"},
	{name: "bad percent escape", raw: "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "truncated percent escape", raw: "GET /a% HTTP/1.1\r\nHost: a\r\n\r\n"},

	// Request line and version.
	{name: "http/1.2", raw: "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
		why: "an HTTP version phalanx does not speak: its framing rules are unknown"},
	{name: "http/2.0 request line", raw: "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
		why: "an HTTP/2 version in an HTTP/1 request line"},
	{name: "http/2 preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		why: "the HTTP/2 preface belongs to the h2c engine, not to an HTTP/1.1 parser"},
	{name: "http/0.9", raw: "GET /\r\n\r\n"},
	{name: "lower-case version", raw: "GET / http/1.1\r\nHost: a\r\n\r\n"},
	{name: "version trailing space", raw: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"},
	{name: "two spaces after method", raw: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "tab separator", raw: "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "version two digits", raw: "GET / HTTP/1.10\r\nHost: a\r\n\r\n"},
	{name: "version leading zero", raw: "GET / HTTP/01.1\r\nHost: a\r\n\r\n"},
	{name: "leading empty line", raw: "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{name: "empty request", raw: "\r\n\r\n"},
}

// browserHead is a typical browser request: 560 bytes, 10 fields.
const browserHead = "GET /products/shoes/running?color=blue&size=42 HTTP/1.1\r\n" +
	"Host: shop.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
	"Accept-Language: en-GB,en;q=0.9\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://shop.example.com/products/shoes\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=3f2a9c0d8e7b6a5f4e3d2c1b0a998877; theme=dark\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"Sec-Fetch-Mode: navigate\r\n" +
	"\r\n"

// outcome is what one parser made of a raw request.
type outcome struct {
	method, target, host string
	minor                int
	close                bool
	body                 string
	err                  error
}

// phalanxParse runs Parse and, for a body, ChunkedReader or the
// Content-Length bytes.
func phalanxParse(raw []byte) outcome {
	var r Request
	n, err := Parse(raw, &r, Limits{})
	if err != nil {
		return outcome{err: err}
	}
	o := outcome{method: string(r.Method), target: string(r.Target), host: string(r.Host), minor: r.ProtoMinor, close: r.Close}
	rest := raw[n:]
	switch {
	case r.Chunked:
		b, err := io.ReadAll(NewChunkedReader(bufio.NewReader(bytes.NewReader(rest))))
		if err != nil {
			return outcome{err: err}
		}
		o.body = string(b)
	case r.ContentLength > int64(len(rest)):
		return outcome{err: io.ErrUnexpectedEOF}
	case r.ContentLength > 0:
		o.body = string(rest[:r.ContentLength])
	}
	return o
}

// netHTTPParse runs http.ReadRequest and reads the body.
func netHTTPParse(raw []byte) outcome {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return outcome{err: err}
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return outcome{err: err}
	}
	return outcome{method: req.Method, target: req.RequestURI, host: req.Host, minor: req.ProtoMinor, close: req.Close, body: string(b)}
}

func TestDifferential(t *testing.T) {
	if len(malformedCases) < 60 || len(validCases) < 20 {
		t.Fatalf("have %d malformed and %d valid cases, want at least 60 and 20", len(malformedCases), len(validCases))
	}
	check := func(t *testing.T, c diffCase) {
		ph, nh := phalanxParse([]byte(c.raw)), netHTTPParse([]byte(c.raw))
		switch {
		case c.valid && ph.err != nil:
			t.Fatalf("Parse(%q) err = %v, want a valid request", c.raw, ph.err)
		case c.valid && nh.err != nil:
			t.Fatalf("http.ReadRequest(%q) err = %v, want a valid request", c.raw, nh.err)
		case !c.valid && ph.err == nil:
			t.Fatalf("Parse(%q) = %+v, want an error", c.raw, ph)
		case nh.err != nil && ph.err == nil:
			t.Fatalf("Parse(%q) accepts what net/http rejects (%v)", c.raw, nh.err)
		case ph.err != nil && nh.err == nil && c.why == "":
			t.Fatalf("Parse(%q) err = %v but net/http accepts it: the case needs a why", c.raw, ph.err)
		case nh.err != nil && c.why != "":
			t.Fatalf("net/http rejects %q (%v) too: drop the why", c.raw, nh.err)
		}
		if ph.err == nil && nh.err == nil && ph != nh {
			t.Fatalf("Parse(%q) = %+v, net/http = %+v, want the same", c.raw, ph, nh)
		}
		if ph.err != nil && ph.err != ErrIncomplete {
			if s := Status(ph.err); s != 400 && s != 431 {
				t.Errorf("Status(%v) = %d, want 400 or 431", ph.err, s)
			}
		}
	}
	for _, c := range validCases {
		c.valid = true
		t.Run("valid/"+c.name, func(t *testing.T) { check(t, c) })
	}
	for _, c := range malformedCases {
		t.Run("malformed/"+c.name, func(t *testing.T) { check(t, c) })
	}
}

// TestDifferentialList logs the requests phalanx rejects and net/http
// accepts, with the reason; run with -v to read it.
func TestDifferentialList(t *testing.T) {
	n := 0
	for _, c := range malformedCases {
		if c.why != "" {
			n++
			t.Logf("%-40s %s", c.name, c.why)
		}
	}
	t.Logf("%d malformed cases, %d valid, %d rejected by phalanx only", len(malformedCases), len(validCases), n)
}
