package h1

import "bytes"

// Defaults for the zero fields of Limits.
const (
	// DefaultMaxHeaderBytes bounds the whole head, request line and final
	// CRLF included: 64 KiB, eight times nginx's default large header
	// buffer, and far above any browser's head.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxHeaders bounds the number of header fields, as Apache's
	// LimitRequestFields does by default.
	DefaultMaxHeaders = 100
)

// Limits bound what Parse and ParseResponse accept. Exceeding either is
// an error with Status 431 (502 from ParseResponse). The zero value means
// the defaults.
type Limits struct {
	// MaxHeaderBytes is the most bytes the head may take, from the first
	// byte of the request or status line through the blank line. Zero means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxHeaders is the most header fields the head may have. Zero means
	// DefaultMaxHeaders.
	MaxHeaders int
}

func (l Limits) maxHeaderBytes() int {
	if l.MaxHeaderBytes > 0 {
		return l.MaxHeaderBytes
	}
	return DefaultMaxHeaderBytes
}

func (l Limits) maxHeaders() int {
	if l.MaxHeaders > 0 {
		return l.MaxHeaders
	}
	return DefaultMaxHeaders
}

// cut returns the part of buf that may hold the head, and the error to
// return if it holds no complete head.
func (l Limits) cut(buf []byte) (head []byte, incomplete error) {
	if limit := l.maxHeaderBytes(); len(buf) >= limit {
		return buf[:limit], ErrHeadTooLarge
	}
	return buf, ErrIncomplete
}

// Header is one header field as received: Name as sent (any case), Value
// with the optional whitespace around it removed. Both point into the
// buffer given to Parse or ParseResponse.
type Header struct {
	Name, Value []byte
}

// Request is a request head parsed in place: every []byte field points
// into the buffer given to Parse and is valid only while that buffer is
// neither modified nor reused. Parse resets it first, so one Request
// serves every request of a connection; Headers keeps its capacity across
// requests.
//
// The zero Request is ready to use; NewRequest preallocates Headers so
// that even the first Parse allocates nothing. A Request is not safe for
// concurrent use. It may be copied, but the copy shares Headers' backing
// array with the original.
type Request struct {
	// Method is the method token, case-sensitive ("GET", "POST").
	Method []byte
	// Target is the request-target as sent: origin-form ("/a/b?q"),
	// absolute-form ("http://h/a?q") or asterisk-form ("*", OPTIONS only).
	Target []byte
	// Path is the target's path: "/a/b" for both "/a/b?q" and
	// "http://h/a/b?q", "*" for asterisk-form, and empty for an
	// absolute-form target with no path ("http://h"), which means "/".
	Path []byte
	// RawQuery is what follows the first '?' of the target, undecoded.
	RawQuery []byte
	// ProtoMinor is 1 for HTTP/1.1 and 0 for HTTP/1.0.
	ProtoMinor int
	// Host is the authority of an absolute-form target, or else the Host
	// header's value; empty if neither is present (HTTP/1.0 only).
	Host []byte
	// Headers are the header fields in the order received, Host and the
	// framing fields included.
	Headers []Header
	// ContentLength is the Content-Length value, or -1 if there is none.
	// A request with neither ContentLength >= 0 nor Chunked has no body
	// (RFC 9112, section 6.3).
	ContentLength int64
	// Chunked reports Transfer-Encoding: chunked; read the body through a
	// ChunkedReader.
	Chunked bool
	// Close reports that the connection ends after this request:
	// Connection: close, or HTTP/1.0 without Connection: keep-alive.
	Close bool
	// Expect100 reports Expect: 100-continue on HTTP/1.1 (RFC 9110,
	// section 10.1.1 says to ignore it on HTTP/1.0).
	Expect100 bool
	// Upgrade reports an Upgrade header; the protocols are in its value.
	Upgrade bool
}

// Forget drops r's references to the bytes it was parsed from, keeping
// the room in Headers, so that a connection waiting for its next request
// does not keep its last read buffer alive.
func (r *Request) Forget() {
	clear(r.Headers[:cap(r.Headers)])
	*r = Request{Headers: r.Headers[:0]}
}

// NewRequest returns a Request whose Headers can hold lim.MaxHeaders
// fields, so that Parse never grows it.
func NewRequest(lim Limits) *Request {
	r := &Request{Headers: make([]Header, 0, lim.maxHeaders())}
	r.Reset()
	return r
}

// Reset clears r for the next request, keeping Headers' capacity. Parse
// calls it first, so callers need it only to drop references to a buffer.
func (r *Request) Reset() {
	h := r.Headers
	clear(h)
	*r = Request{Headers: h[:0], ContentLength: -1}
}

// Header returns the value of the first header field named name, ignoring
// case, and whether there is one. name must be lower case.
func (r *Request) Header(name string) ([]byte, bool) {
	return lookup(r.Headers, name)
}

// lookup returns the value of the first field of hs named name.
func lookup(hs []Header, name string) ([]byte, bool) {
	for _, h := range hs {
		if equalFold(h.Name, name) {
			return h.Value, true
		}
	}
	return nil, false
}

// Parse parses the request head at the start of buf into r and returns the
// number of bytes it took, through the blank line that ends it; the body,
// or the next pipelined request, starts at buf[n:]. Parse allocates
// nothing once r.Headers has room for the fields (see NewRequest), and r
// points into buf.
//
// If buf holds only part of a head that is valid so far, Parse returns
// ErrIncomplete, or ErrHeadTooLarge once len(buf) reaches
// lim.MaxHeaderBytes: read more and call Parse again with the longer
// buffer. Any other error is definite and is an *Error; Status gives the
// code to answer with. Errors in complete lines are reported even if the
// head is not complete yet.
//
// The rules are in the package documentation.
func Parse(buf []byte, r *Request, lim Limits) (n int, err error) {
	r.Reset()
	head, incomplete := lim.cut(buf)
	line, pos, err := nextLine(head, 0)
	if err == ErrIncomplete {
		return 0, incomplete
	} else if err != nil {
		return 0, err
	}
	if err := r.parseRequestLine(line); err != nil {
		return 0, err
	}
	f := framing{minor: r.ProtoMinor}
	if pos, err = f.fields(head, pos, lim.maxHeaders(), &r.Headers); err == ErrIncomplete {
		return 0, incomplete
	} else if err != nil {
		return 0, err
	}
	if err := f.finish(r); err != nil {
		return 0, err
	}
	return pos, nil
}

// nextLine returns the line of b starting at pos, without its CRLF, and the
// position after the CRLF. It returns ErrIncomplete if b has no LF after
// pos, and ErrLineEnding for an LF not preceded by CR. A CR elsewhere in
// the line is left for the caller's byte checks to reject.
func nextLine(b []byte, pos int) (line []byte, next int, err error) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 {
		return nil, 0, ErrIncomplete
	}
	if i == 0 || b[pos+i-1] != '\r' {
		return nil, 0, ErrLineEnding
	}
	return b[pos : pos+i-1], pos + i + 1, nil
}

// parseRequestLine parses method SP request-target SP HTTP-version
// (RFC 9112, section 3).
func (r *Request) parseRequestLine(line []byte) error {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return ErrRequestLine
	}
	method, rest := line[:sp], line[sp+1:]
	if len(method) == 0 {
		return ErrRequestLine
	}
	for _, c := range method {
		if class[c]&cToken == 0 {
			return ErrMethod
		}
	}
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return ErrRequestLine
	}
	target, version := rest[:sp], rest[sp+1:]
	switch string(version) {
	case "HTTP/1.1":
		r.ProtoMinor = 1
	case "HTTP/1.0":
		r.ProtoMinor = 0
	default:
		if bytes.IndexByte(version, ' ') >= 0 {
			return ErrRequestLine
		}
		return ErrVersion
	}
	if string(method) == "CONNECT" {
		return ErrConnect
	}
	for _, c := range target {
		if class[c]&cTarget == 0 {
			return ErrTarget
		}
	}
	r.Method, r.Target = method, target
	switch {
	case target[0] == '/':
		return r.splitPath(target)
	case len(target) == 1 && target[0] == '*':
		if string(method) != "OPTIONS" {
			return ErrTarget
		}
		r.Path = target
		return nil
	}
	return r.parseAbsolute(target)
}

// splitPath sets Path and RawQuery from a path with an optional query,
// checking that every '%' in the path starts a two-digit hex escape.
func (r *Request) splitPath(p []byte) error {
	if q := bytes.IndexByte(p, '?'); q >= 0 {
		p, r.RawQuery = p[:q], p[q+1:]
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '%' {
			if i+2 >= len(p) || unhex(p[i+1]) < 0 || unhex(p[i+2]) < 0 {
				return ErrTarget
			}
			i += 2
		}
	}
	r.Path = p
	return nil
}

// parseAbsolute parses an absolute-form target (RFC 9112, section 3.2.2):
// "http://" or "https://" (any case), an authority without userinfo, then
// an optional path and query.
func (r *Request) parseAbsolute(t []byte) error {
	var rest []byte
	switch {
	case len(t) > 7 && equalFold(t[:7], "http://"):
		rest = t[7:]
	case len(t) > 8 && equalFold(t[:8], "https://"):
		rest = t[8:]
	default:
		return ErrTarget
	}
	end := len(rest)
	if i := bytes.IndexAny(rest, "/?"); i >= 0 {
		end = i
	}
	auth := rest[:end]
	if !validAuthority(auth) {
		return ErrTarget
	}
	r.Host = auth
	if end < len(rest) && rest[end] == '?' {
		// "http://h?q": no path, which means "/".
		r.RawQuery = rest[end+1:]
		return nil
	}
	return r.splitPath(rest[end:])
}

// validAuthority reports whether a is host [":" port] with host a
// non-empty reg-name of unreserved bytes or a bracketed IPv6 address, and
// port 1 to 5 digits.
func validAuthority(a []byte) bool {
	var port []byte
	if len(a) > 0 && a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 0 || !validIPv6(a[1:end]) {
			return false
		}
		port = a[end+1:]
	} else {
		host := a
		if i := bytes.IndexByte(a, ':'); i >= 0 {
			host, port = a[:i], a[i:]
		}
		if len(host) == 0 {
			return false
		}
		for _, c := range host {
			if class[c]&cRegName == 0 {
				return false
			}
		}
	}
	if len(port) == 0 {
		return true
	}
	if port[0] != ':' || len(port) < 2 || len(port) > 6 {
		return false
	}
	for _, c := range port[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validIPv6 reports whether s is an IPv6 address in RFC 4291 text form:
// eight groups of 1 to 4 hex digits, at most one "::" standing for one or
// more zero groups, and optionally a dotted IPv4 address as the last two
// groups. Zones are not accepted.
func validIPv6(s []byte) bool {
	groups, ellipsis := 0, false
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis, s = true, s[2:]
		if len(s) == 0 {
			return true
		}
	} else if len(s) > 0 && s[0] == ':' {
		return false
	}
	for len(s) > 0 {
		// s starts a group, or the IPv4 tail.
		n := 0
		for n < len(s) && n < 5 && unhex(s[n]) >= 0 {
			n++
		}
		if n < len(s) && s[n] == '.' {
			if groups > 6 || !validIPv4(s) {
				return false
			}
			groups += 2
			s = nil
			break
		}
		if n == 0 || n > 4 {
			return false
		}
		groups++
		s = s[n:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis {
				return false
			}
			ellipsis, s = true, s[1:]
		}
	}
	if ellipsis {
		return groups < 8
	}
	return groups == 8
}

// validIPv4 reports whether s is a dotted-decimal IPv4 address with no
// leading zeros.
func validIPv4(s []byte) bool {
	for part := range 4 {
		n, v := 0, 0
		for n < len(s) && '0' <= s[n] && s[n] <= '9' {
			v = v*10 + int(s[n]-'0')
			n++
			if n > 3 {
				return false
			}
		}
		if n == 0 || v > 255 || n > 1 && s[0] == '0' {
			return false
		}
		s = s[n:]
		if part < 3 {
			if len(s) == 0 || s[0] != '.' {
				return false
			}
			s = s[1:]
		}
	}
	return len(s) == 0
}

// parseField splits a header line into name and value (RFC 9112, section
// 5): a token, a colon right after it, OWS, the value, OWS.
func parseField(line []byte) (name, value []byte, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return nil, nil, ErrObsFold
	}
	colon := -1
	for i, c := range line {
		if class[c]&cToken == 0 {
			if c == ':' {
				colon = i
			}
			break
		}
	}
	if colon <= 0 {
		return nil, nil, ErrHeaderName
	}
	value = line[colon+1:]
	for _, c := range value {
		if class[c]&cValue == 0 {
			return nil, nil, ErrHeaderValue
		}
	}
	return line[:colon], trimOWS(value), nil
}

// framing collects the header fields that decide the message's framing
// while Parse or ParseResponse reads them.
type framing struct {
	response  bool // a response head: Host means nothing, Transfer-Encoding may list codings
	minor     int  // the message's HTTP/1.minor
	hosts     int
	lengths   int
	encodings int
	length    []byte // first Content-Length value
	n         int64  // its value
	chunked   bool   // the last transfer coding is chunked
	keepAlive bool
	connClose bool
	expect100 bool
	upgrade   bool
	host      []byte // the Host header's value
}

// fields reads the header section of head from pos through the blank line
// that ends it, appending each field to *hs and recording it, and returns
// the position after the blank line.
func (f *framing) fields(head []byte, pos, maxHeaders int, hs *[]Header) (int, error) {
	for {
		line, next, err := nextLine(head, pos)
		if err != nil {
			return 0, err
		}
		if pos = next; len(line) == 0 {
			return pos, nil
		}
		if len(*hs) == maxHeaders {
			return 0, ErrTooManyHeaders
		}
		name, value, err := parseField(line)
		if err != nil {
			return 0, err
		}
		*hs = append(*hs, Header{Name: name, Value: value})
		if err := f.field(name, value); err != nil {
			return 0, err
		}
	}
}

// field records one header field.
func (f *framing) field(name, value []byte) error {
	switch len(name) {
	case 4:
		if !f.response && equalFold(name, "host") {
			f.hosts++
			if f.hosts > 1 {
				return ErrHost
			}
			for _, c := range value {
				if class[c]&cHost == 0 {
					return ErrHost
				}
			}
			f.host = value
		}
	case 6:
		if equalFold(name, "expect") && hasToken(value, "100-continue") {
			f.expect100 = true
		}
	case 7:
		if equalFold(name, "upgrade") {
			f.upgrade = true
		} else if equalFold(name, "trailer") &&
			(hasToken(value, "content-length") || hasToken(value, "transfer-encoding") || hasToken(value, "trailer")) {
			return ErrTrailerField
		}
	case 10:
		if equalFold(name, "connection") {
			if hasToken(value, "close") {
				f.connClose = true
			}
			if hasToken(value, "keep-alive") {
				f.keepAlive = true
			}
		}
	case 14:
		if equalFold(name, "content-length") {
			return f.contentLength(value)
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			f.encodings++
			if f.encodings > 1 || f.minor == 0 {
				return ErrTransferEncoding
			}
			if f.response {
				return f.codings(value)
			}
			if !equalFold(value, "chunked") {
				return ErrTransferEncoding
			}
			f.chunked = true
		}
	}
	return nil
}

// contentLength parses a Content-Length value (RFC 9110, section 8.6).
// Repeats with the same bytes are folded into one, as RFC 9112 section
// 6.3 allows; any difference, even "5" against "05", is an error.
func (f *framing) contentLength(v []byte) error {
	f.lengths++
	if f.lengths > 1 {
		if !bytes.Equal(v, f.length) {
			return ErrAmbiguousLength
		}
		return nil
	}
	if len(v) == 0 {
		return ErrContentLength
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return ErrContentLength
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return ErrContentLength
		}
		n = n*10 + d
	}
	f.length, f.n = v, n
	return nil
}

// finish applies the rules that need every field of a request.
func (f *framing) finish(r *Request) error {
	if f.lengths > 0 && f.encodings > 0 {
		return ErrAmbiguousLength
	}
	if f.lengths > 0 {
		r.ContentLength = f.n
	}
	r.Chunked, r.Upgrade = f.chunked, f.upgrade
	r.Expect100 = f.expect100 && r.ProtoMinor == 1 // RFC 9110, section 10.1.1
	switch {
	case f.hosts == 0 && r.ProtoMinor == 1:
		return ErrHost
	case r.Host != nil:
		// Absolute-form: RFC 9112 section 3.2.2 makes the target's
		// authority win over Host; phalanx requires them to agree.
		if f.hosts > 0 && !equalFoldBytes(f.host, r.Host) {
			return ErrHost
		}
	default:
		r.Host = f.host
	}
	r.Close = f.connClose || r.ProtoMinor == 0 && !f.keepAlive
	return nil
}
