// Package h1test holds the raw-request corpus shared by h1's differential
// test and the Server's end-to-end differential test: requests that
// phalanx's HTTP/1.1 parser must accept, and malformed or ambiguous ones
// it must reject, each compared with what net/http makes of it.
//
// It imports no phalanx package, so that h1's own tests can import it.
package h1test

import "strings"

// Case is one raw request: a head, and for most, a body.
type Case struct {
	// Name names the case in subtest names.
	Name string
	// Raw is the request as sent on the wire.
	Raw string
	// Valid reports that phalanx must accept the request, and net/http
	// accepts it too.
	Valid bool
	// Why is set exactly when phalanx rejects a request that net/http
	// accepts, and says why accepting it would be dangerous for a proxy.
	Why string
}

// Building blocks for the cases.
const (
	get   = "GET / HTTP/1.1\r\nHost: example.com\r\n"
	post  = "POST /upload HTTP/1.1\r\nHost: example.com\r\n"
	post0 = "POST /upload HTTP/1.0\r\n"
	te    = "Transfer-Encoding: chunked\r\n"
	hello = "5\r\nhello\r\n0\r\n\r\n"
)

// Valid holds requests both phalanx and net/http accept, and must read
// the same way: method, target, host, version, Close and body.
var Valid = []Case{
	{Name: "simple get", Raw: get + "\r\n", Valid: true},
	{Name: "query", Raw: "GET /search?q=a+b&lang=en HTTP/1.1\r\nHost: example.com\r\n\r\n", Valid: true},
	{Name: "query with raw percent", Raw: "GET /p?discount=100% HTTP/1.1\r\nHost: a\r\n\r\n", Valid: true},
	{Name: "percent-encoded path", Raw: "GET /a%20b/%C3%A9 HTTP/1.1\r\nHost: a\r\n\r\n", Valid: true},
	{Name: "double slash path", Raw: "GET //evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n", Valid: true},
	{Name: "post content-length", Raw: post + "Content-Length: 5\r\n\r\nhello", Valid: true},
	{Name: "content-length zero", Raw: post + "Content-Length: 0\r\n\r\n", Valid: true},
	{Name: "content-length leading zeros", Raw: post + "Content-Length: 005\r\n\r\nhello", Valid: true},
	{Name: "content-length with OWS", Raw: post + "Content-Length: \t5 \r\n\r\nhello", Valid: true},
	{Name: "identical content-length repeated", Raw: post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", Valid: true},
	{Name: "chunked", Raw: post + te + "\r\n" + hello, Valid: true},
	{Name: "chunked empty body", Raw: post + te + "\r\n0\r\n\r\n", Valid: true},
	{Name: "chunked several chunks", Raw: post + te + "\r\n3\r\nhel\r\n2\r\nlo\r\n1\r\n!\r\n0\r\n\r\n", Valid: true},
	{Name: "chunked upper-case hex", Raw: post + te + "\r\nA\r\n0123456789\r\n0\r\n\r\n", Valid: true},
	{Name: "chunked leading zero size", Raw: post + te + "\r\n005\r\nhello\r\n0\r\n\r\n", Valid: true},
	{Name: "chunk extension", Raw: post + te + "\r\n5;name=value\r\nhello\r\n0;last\r\n\r\n", Valid: true},
	{Name: "chunk extension quoted", Raw: post + te + "\r\n5;n=\"a b;c\"\r\nhello\r\n0\r\n\r\n", Valid: true},
	{Name: "chunked with trailers", Raw: post + te + "Trailer: X-Checksum\r\n\r\n" + "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n", Valid: true},
	{Name: "transfer-encoding mixed case", Raw: post + "Transfer-Encoding: ChUnKeD\r\n\r\n" + hello, Valid: true},
	{Name: "transfer-encoding OWS", Raw: post + "Transfer-Encoding:   chunked \t\r\n\r\n" + hello, Valid: true},
	{Name: "http/1.0 without host", Raw: "GET /old HTTP/1.0\r\n\r\n", Valid: true},
	{Name: "http/1.0 keep-alive", Raw: "GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", Valid: true},
	{Name: "http/1.0 post content-length", Raw: post0 + "Content-Length: 5\r\n\r\nhello", Valid: true},
	{Name: "connection close", Raw: get + "Connection: Keep-Alive, Close\r\n\r\n", Valid: true},
	{Name: "options asterisk", Raw: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", Valid: true},
	{Name: "absolute-form", Raw: "GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n", Valid: true},
	{Name: "absolute-form https port case", Raw: "GET HTTPS://Example.com:8443/a HTTP/1.1\r\nHost: example.COM:8443\r\n\r\n", Valid: true},
	{Name: "absolute-form no path", Raw: "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", Valid: true},
	{Name: "absolute-form ipv6", Raw: "GET http://[2001:db8::1]:8080/x HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n", Valid: true},
	{Name: "absolute-form ipv4-mapped", Raw: "GET http://[::ffff:10.0.0.1]/ HTTP/1.1\r\nHost: [::ffff:10.0.0.1]\r\n\r\n", Valid: true},
	{Name: "absolute-form http/1.0 no host", Raw: "GET http://example.com/ HTTP/1.0\r\n\r\n", Valid: true},
	{Name: "lower-case method", Raw: "get / HTTP/1.1\r\nHost: a\r\n\r\n", Valid: true},
	{Name: "extension method", Raw: "PURGE /cache/x HTTP/1.1\r\nHost: a\r\n\r\n", Valid: true},
	{Name: "obs-text in value", Raw: get + "X-Name: caf\xc3\xa9 \xff\r\n\r\n", Valid: true},
	{Name: "tab inside value", Raw: get + "X-Tab: a\tb\r\n\r\n", Valid: true},
	{Name: "empty value", Raw: get + "X-Empty:\r\n\r\n", Valid: true},
	{Name: "empty host", Raw: "GET / HTTP/1.1\r\nHost:\r\n\r\n", Valid: true},
	{Name: "host with port", Raw: "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", Valid: true},
	{Name: "expect 100-continue", Raw: post + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", Valid: true},
	{Name: "websocket upgrade", Raw: get + "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", Valid: true},
	{Name: "browser head", Raw: browserHead, Valid: true},
	{Name: "trailer header not framing", Raw: post + te + "Trailer: X-A, X-B\r\n\r\n" + hello, Valid: true},
}

// Malformed holds requests phalanx rejects. net/http rejects them too,
// unless Why says why phalanx refuses what net/http accepts.
var Malformed = []Case{
	// Content-Length and Transfer-Encoding together.
	{Name: "cl then te", Raw: post + "Content-Length: 5\r\n" + te + "\r\n" + hello,
		Why: "CL.TE smuggling: a backend that honours Content-Length reads 5 bytes of chunk framing as the body and the rest as a new request (RFC 9112 section 6.1 says to treat it as an error)"},
	{Name: "te then cl", Raw: post + te + "Content-Length: 5\r\n\r\n" + hello,
		Why: "TE.CL smuggling: the same ambiguity in the other order"},
	{Name: "te and cl zero", Raw: post + te + "Content-Length: 0\r\n\r\n" + hello,
		Why: "a backend using Content-Length sees an empty body and the chunks as a second request"},
	{Name: "te and bad cl", Raw: post + te + "Content-Length: x\r\n\r\n" + hello},
	{Name: "http/1.0 te and cl", Raw: post0 + te + "Content-Length: 3\r\n\r\nabc",
		Why: "net/http ignores Transfer-Encoding on HTTP/1.0; a backend that honours it frames the body as chunks (RFC 9112 section 6.1: faulty framing)"},
	{Name: "http/1.0 te", Raw: post0 + te + "\r\n" + "0\r\n\r\n",
		Why: "net/http ignores Transfer-Encoding on HTTP/1.0 and sees no body; a backend that honours it reads the chunks as the body"},

	// Content-Length values.
	{Name: "cl differing", Raw: post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
	{Name: "cl same number differing bytes", Raw: post + "Content-Length: 5\r\nContent-Length: 05\r\n\r\nhello"},
	{Name: "cl list same", Raw: post + "Content-Length: 5, 5\r\n\r\nhello"},
	{Name: "cl list differing", Raw: post + "Content-Length: 5,6\r\n\r\nhello!"},
	{Name: "cl plus sign", Raw: post + "Content-Length: +5\r\n\r\nhello"},
	{Name: "cl negative", Raw: post + "Content-Length: -1\r\n\r\n"},
	{Name: "cl hex", Raw: post + "Content-Length: 0x5\r\n\r\nhello"},
	{Name: "cl inner space", Raw: post + "Content-Length: 1 0\r\n\r\nhelloworld"},
	{Name: "cl empty", Raw: post + "Content-Length:\r\n\r\n"},
	{Name: "cl int64 overflow", Raw: post + "Content-Length: 9223372036854775808\r\n\r\n"},
	{Name: "cl huge", Raw: post + "Content-Length: 99999999999999999999\r\n\r\n"},
	{Name: "cl trailing letter", Raw: post + "Content-Length: 5a\r\n\r\nhello"},
	{Name: "cl underscore", Raw: post + "Content-Length: 1_0\r\n\r\nhelloworld"},
	{Name: "cl fullwidth digit", Raw: post + "Content-Length: \xef\xbc\x95\r\n\r\nhello"},
	{Name: "cl body truncated", Raw: post + "Content-Length: 10\r\n\r\nhello"},

	// Transfer-Encoding values.
	{Name: "te gzip", Raw: post + "Transfer-Encoding: gzip\r\n\r\n" + hello},
	{Name: "te chunked gzip", Raw: post + "Transfer-Encoding: chunked, gzip\r\n\r\n" + hello},
	{Name: "te gzip chunked", Raw: post + "Transfer-Encoding: gzip, chunked\r\n\r\n" + hello},
	{Name: "te xchunked", Raw: post + "Transfer-Encoding: xchunked\r\n\r\n" + hello},
	{Name: "te chunked twice in one field", Raw: post + "Transfer-Encoding: chunked, chunked\r\n\r\n" + hello},
	{Name: "te chunked in two fields", Raw: post + te + te + "\r\n" + hello},
	{Name: "te empty", Raw: post + "Transfer-Encoding:\r\n\r\n"},
	{Name: "te vertical tab", Raw: post + "Transfer-Encoding: \x0bchunked\r\n\r\n" + hello},
	{Name: "te space before colon", Raw: post + "Transfer-Encoding : chunked\r\n\r\n" + hello,
		Why: "net/http keeps \"Transfer-Encoding \" as a different field and sees no body; a backend that trims the name reads chunks (RFC 9112 section 5.1 requires a 400)"},
	{Name: "te obs-fold", Raw: post + "Transfer-Encoding:\r\n chunked\r\n\r\n" + hello,
		Why: "net/http unfolds the line and frames by chunks; a backend that does not unfold sees an empty Transfer-Encoding and a bogus header line"},

	// Line folding and whitespace.
	{Name: "obs-fold", Raw: get + "X-A: one\r\n two\r\n\r\n",
		Why: "obsolete line folding (RFC 9112 section 5.2): recipients disagree on whether the next line is a continuation or a new field"},
	{Name: "obs-fold tab", Raw: get + "X-A: one\r\n\ttwo\r\n\r\n",
		Why: "obsolete line folding with HTAB, same ambiguity"},
	{Name: "space before first header", Raw: "GET / HTTP/1.1\r\n Host: a\r\n\r\n"},
	{Name: "space before colon", Raw: get + "X-A : b\r\n\r\n",
		Why: "whitespace between name and colon (RFC 9112 section 5.1 says MUST reject): some recipients strip it and get a different field name"},
	{Name: "host space before colon", Raw: "GET / HTTP/1.0\r\nHost : evil\r\n\r\n",
		Why: "net/http sees no Host; a backend that strips the space routes to host \"evil\""},
	{Name: "tab before colon", Raw: get + "X-A\t: b\r\n\r\n"},

	// Chunked framing.
	{Name: "chunk size 0x", Raw: post + te + "\r\n0x5\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size negative", Raw: post + te + "\r\n-5\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size leading space", Raw: post + te + "\r\n 5\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size trailing space", Raw: post + te + "\r\n5 \r\nhello\r\n0\r\n\r\n",
		Why: "whitespace after a chunk size is not in the RFC 9112 section 7.1 grammar; parsers that stop at it and parsers that reject it frame differently"},
	{Name: "chunk size trailing tab", Raw: post + te + "\r\n5\t\r\nhello\r\n0\r\n\r\n",
		Why: "same as a trailing space"},
	{Name: "chunk size 16 digits", Raw: post + te + "\r\n0000000000000005\r\nhello\r\n0\r\n\r\n",
		Why: "more than 15 hex digits: parsers with a fixed-width accumulator truncate or wrap it and read a different length"},
	{Name: "chunk size 17 digits", Raw: post + te + "\r\n10000000000000000\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size uint64 max", Raw: post + te + "\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size bare lf", Raw: post + te + "\r\n5\nhello\r\n0\r\n\r\n"},
	{Name: "chunk size bare cr", Raw: post + te + "\r\n5\rhello\r\n0\r\n\r\n"},
	{Name: "chunk data no crlf", Raw: post + te + "\r\n5\r\nhelloXX0\r\n\r\n"},
	{Name: "chunk data bare lf", Raw: post + te + "\r\n5\r\nhello\n0\r\n\r\n"},
	{Name: "chunk data too long", Raw: post + te + "\r\n3\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk body truncated", Raw: post + te + "\r\n5\r\nhello\r\n"},
	{Name: "chunk last crlf missing", Raw: post + te + "\r\n5\r\nhello\r\n0\r\n"},
	{Name: "chunk size empty", Raw: post + te + "\r\n\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk extension without size", Raw: post + te + "\r\n;a=b\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk extension bws", Raw: post + te + "\r\n5 ;a=b\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk extension control byte", Raw: post + te + "\r\n5;a=\x01\r\nhello\r\n0\r\n\r\n",
		Why: "a control byte in a chunk extension: recipients that scan for line ends differently disagree on where the chunk-size line stops"},
	{Name: "chunk extension bare cr", Raw: post + te + "\r\n5;a\rb\r\nhello\r\n0\r\n\r\n"},
	{Name: "chunk extension too long", Raw: post + te + "\r\n5;" + strings.Repeat("x", 2000) + "\r\nhello\r\n0\r\n\r\n",
		Why: "unbounded chunk extensions let a client make the proxy read and discard arbitrary bytes per data byte (compare CVE-2023-39326)"},
	{Name: "trailer obs-fold", Raw: post + te + "\r\n5\r\nhello\r\n0\r\nX-A: a\r\n b\r\n\r\n",
		Why: "obsolete line folding in the trailer section, same ambiguity as in the head"},
	{Name: "trailer bare lf", Raw: post + te + "\r\n5\r\nhello\r\n0\r\nX-A: a\nX-B: b\r\n\r\n",
		Why: "bare LF in the trailer section: a recipient that requires CRLF keeps reading and swallows the next request"},
	{Name: "trailer name with space", Raw: post + te + "\r\n5\r\nhello\r\n0\r\nX A: a\r\n\r\n",
		Why: "a field name that is not a token (RFC 9110 section 5.1)"},
	{Name: "trailer too large", Raw: post + te + "\r\n5\r\nhello\r\n0\r\nX-A: " + strings.Repeat("a", 5000) + "\r\n\r\n"},
	{Name: "trailer header names content-length", Raw: post + te + "Trailer: Content-Length\r\n\r\n" + hello},
	{Name: "trailer header names cl without chunked", Raw: post + "Trailer: Content-Length\r\nContent-Length: 5\r\n\r\nhello",
		Why: "announcing a framing field as a trailer is forbidden (RFC 9110 section 6.5.1); phalanx refuses it whatever the framing rather than forward it"},

	// Line endings and bytes.
	{Name: "bare lf after request line", Raw: "GET / HTTP/1.1\nHost: a\r\n\r\n",
		Why: "bare LF line ends (RFC 9112 section 2.2 allows, phalanx refuses): a recipient that only splits on CRLF sees one long line and a different header set"},
	{Name: "bare lf after header", Raw: "GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n",
		Why: "bare LF inside the head, same split ambiguity"},
	{Name: "bare lf blank line", Raw: "GET / HTTP/1.1\r\nHost: a\r\n\n",
		Why: "a head ended by a bare LF: a recipient that needs CRLF CRLF treats the next request's bytes as more header fields"},
	{Name: "bare cr in value", Raw: get + "X-A: a\rb\r\n\r\n"},
	{Name: "cr before crlf", Raw: get + "X-A: a\r\r\n\r\n"},
	{Name: "bare cr in request line", Raw: "GET / HTTP/1.1\rHost: a\r\n\r\n"},
	{Name: "nul in value", Raw: get + "X-A: a\x00b\r\n\r\n"},
	{Name: "nul in path", Raw: "GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{Name: "nul in name", Raw: get + "X\x00A: b\r\n\r\n"},
	{Name: "nul in method", Raw: "G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{Name: "del in value", Raw: get + "X-A: a\x7fb\r\n\r\n"},
	{Name: "control byte in value", Raw: get + "X-A: a\x01b\r\n\r\n"},
	{Name: "header line too long", Raw: get + "X-A: " + strings.Repeat("a", 70000) + "\r\n\r\n",
		Why: "a head over the size limit: answering 431 bounds the memory one connection can hold"},
	{Name: "too many headers", Raw: get + strings.Repeat("X-A: b\r\n", 101) + "\r\n",
		Why: "more fields than the limit: answering 431 bounds the work one request can cause"},
	{Name: "incomplete head", Raw: get},

	// Methods and names.
	{Name: "method with slash", Raw: "GE/T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{Name: "method empty", Raw: " / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{Name: "method non-ascii", Raw: "G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{Name: "name empty", Raw: get + ": b\r\n\r\n"},
	{Name: "name without colon", Raw: get + "X-A b\r\n\r\n"},
	{Name: "name with slash", Raw: get + "X/A: b\r\n\r\n"},
	{Name: "name non-ascii", Raw: get + "X\xc3\xa9: b\r\n\r\n"},
	{Name: "name with quote", Raw: get + "X\"A: b\r\n\r\n"},

	// Host.
	{Name: "missing host", Raw: "GET / HTTP/1.1\r\n\r\n",
		Why: "HTTP/1.1 without Host (RFC 9112 section 3.2 says MUST 400): the proxy would have to invent a routing key the backend does not see"},
	{Name: "duplicate host", Raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
	{Name: "duplicate host same", Raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"},
	{Name: "duplicate host http/1.0", Raw: "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"},
	{Name: "host with space", Raw: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		Why: "a Host that is not an authority: the proxy and the backend can route on different parts of it"},
	{Name: "host with slash", Raw: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
		Why: "a path in Host confuses backends that build URLs from it (cache poisoning, open redirects)"},
	{Name: "host with userinfo", Raw: "GET / HTTP/1.1\r\nHost: user@evil\r\n\r\n",
		Why: "userinfo in Host: one recipient routes on \"user\", another on \"evil\""},

	// Targets.
	{Name: "absolute-form host mismatch", Raw: "GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n",
		Why: "the target's authority wins over Host (RFC 9112 section 3.2.2) in net/http, but a backend reading Host routes to the other name"},
	{Name: "absolute-form userinfo", Raw: "GET http://user@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
		Why: "userinfo in an http URI (RFC 9110 section 4.2.4 says to treat it as an error)"},
	{Name: "absolute-form ftp", Raw: "GET ftp://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
		Why: "a scheme the proxy cannot serve: forwarding it asks the backend to act as a forward proxy"},
	{Name: "absolute-form single slash", Raw: "GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n",
		Why: "not absolute-form: parsed as a path by some recipients and as a URI by others"},
	{Name: "absolute-form bad port", Raw: "GET http://a:x/ HTTP/1.1\r\nHost: a:x\r\n\r\n"},
	{Name: "absolute-form empty host", Raw: "GET http:///a HTTP/1.1\r\nHost: a\r\n\r\n",
		Why: "an absolute-form target with no authority, where the Host header silently takes over"},
	{Name: "opaque target", Raw: "GET foo:bar HTTP/1.1\r\nHost: a\r\n\r\n",
		Why: "neither origin-form nor absolute-form: recipients disagree on its path"},
	{Name: "relative target", Raw: "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"},
	{Name: "asterisk with get", Raw: "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
		Why: "asterisk-form is only for OPTIONS (RFC 9112 section 3.2.4); routing \"*\" as a path is undefined"},
	{Name: "asterisk with query", Raw: "OPTIONS *?a HTTP/1.1\r\nHost: a\r\n\r\n"},
	{Name: "connect", Raw: "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
		Why: "phalanx does not tunnel: forwarding CONNECT would open arbitrary TCP connections from the proxy"},
	{Name: "fragment", Raw: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
		Why: "a fragment is never sent (RFC 9112 section 3.2); recipients disagree on whether \"#b\" is part of the path"},
	{Name: "non-ascii target", Raw: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
		Why: "raw non-ASCII bytes in the target: recipients decode or normalise them differently, which defeats path-based routing and WAF rules"},
	{Name: "bad percent escape", Raw: "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n"},
	{Name: "truncated percent escape", Raw: "GET /a% HTTP/1.1\r\nHost: a\r\n\r\n"},

	// Request line and version.
	{Name: "http/1.2", Raw: "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
		Why: "an HTTP version phalanx does not speak: its framing rules are unknown"},
	{Name: "http/2.0 request line", Raw: "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
		Why: "an HTTP/2 version in an HTTP/1 request line"},
	{Name: "http/2 preface", Raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		Why: "the HTTP/2 preface belongs to the h2c engine, not to an HTTP/1.1 parser"},
	{Name: "http/0.9", Raw: "GET /\r\n\r\n"},
	{Name: "lower-case version", Raw: "GET / http/1.1\r\nHost: a\r\n\r\n"},
	{Name: "version trailing space", Raw: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"},
	{Name: "two spaces after method", Raw: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{Name: "tab separator", Raw: "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"},
	{Name: "version two digits", Raw: "GET / HTTP/1.10\r\nHost: a\r\n\r\n"},
	{Name: "version leading zero", Raw: "GET / HTTP/01.1\r\nHost: a\r\n\r\n"},
	{Name: "leading empty line", Raw: "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"},
	{Name: "empty request", Raw: "\r\n\r\n"},
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
