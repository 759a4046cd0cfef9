package uwsgi

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// DefaultMaxHeaderBytes bounds a response's status line and header when
// ReadResponseHeader is given no limit: 64 KiB, the size of uwsgi's
// largest buffer.
const DefaultMaxHeaderBytes = 64 << 10

// ResponseHeader is the status line and header of an application's
// response. uwsgi applications answer with a raw HTTP/1.x response
// ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody"); the body
// runs to the end of the connection, or to Content-Length, or is chunked.
type ResponseHeader struct {
	// Proto is the status line's protocol, e.g. "HTTP/1.1". uwsgi echoes
	// the request's SERVER_PROTOCOL, so it may be "HTTP/2.0".
	Proto string
	// StatusCode is the three-digit status, 100 to 599.
	StatusCode int
	// Reason is the reason phrase, e.g. "OK"; it may be empty.
	Reason string
	// Header holds the fields under their canonical names, values in the
	// order received, leading and trailing blanks removed.
	Header http.Header
	// ContentLength is the Content-Length value, or -1 when there is
	// none or the body is chunked.
	ContentLength int64
	// Chunked reports "Transfer-Encoding: chunked".
	Chunked bool
}

// ReadResponseHeader reads one status line and header block from br,
// through the empty line that ends it and no further, so that the body
// can be read from br next. limit bounds the bytes read, line endings
// included; 0 or less means DefaultMaxHeaderBytes. Lines may end in
// CRLF or a bare LF.
//
// It returns io.EOF if br ends before the first byte, io.ErrUnexpectedEOF
// if it ends inside the header, ErrHeaderTooLarge past limit, an error
// wrapping ErrMalformedResponse for anything that is not HTTP/1.x syntax
// (including folded lines, a bad or conflicting Content-Length, and
// transfer codings other than chunked), or the reader's own error.
func ReadResponseHeader(br *bufio.Reader, limit int) (*ResponseHeader, error) {
	if limit <= 0 {
		limit = DefaultMaxHeaderBytes
	}
	lr := lineReader{br: br, left: limit}
	line, err := lr.line()
	if err != nil {
		if err == io.ErrUnexpectedEOF && lr.left == limit {
			return nil, io.EOF
		}
		return nil, err
	}
	res := &ResponseHeader{Header: make(http.Header), ContentLength: -1}
	if err := res.parseStatusLine(line); err != nil {
		return nil, err
	}
	for {
		line, err := lr.line()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		if err := res.parseField(line); err != nil {
			return nil, err
		}
	}
	if err := res.framing(); err != nil {
		return nil, err
	}
	return res, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedResponse}, args...)...)
}

// parseStatusLine parses "HTTP/1.1 200 OK".
func (res *ResponseHeader) parseStatusLine(line []byte) error {
	proto, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok || !validProto(proto) {
		return malformed("status line %q", truncate(line))
	}
	code := rest
	if i := bytes.IndexByte(rest, ' '); i >= 0 {
		code, rest = rest[:i], rest[i+1:]
	} else {
		rest = nil
	}
	if len(code) != 3 || code[0] < '1' || code[0] > '5' || !isDigit(code[1]) || !isDigit(code[2]) {
		return malformed("status code in %q", truncate(line))
	}
	if !validFieldValue(rest) {
		return malformed("reason phrase in %q", truncate(line))
	}
	res.Proto = string(proto)
	res.StatusCode = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	res.Reason = string(rest)
	return nil
}

// validProto accepts "HTTP/" and a version of digits and dots.
func validProto(p []byte) bool {
	v, ok := bytes.CutPrefix(p, []byte("HTTP/"))
	if !ok || len(v) == 0 || len(v) > 8 || !isDigit(v[0]) {
		return false
	}
	for _, c := range v {
		if !isDigit(c) && c != '.' {
			return false
		}
	}
	return true
}

// parseField parses "Name: value".
func (res *ResponseHeader) parseField(line []byte) error {
	if line[0] == ' ' || line[0] == '\t' {
		return malformed("folded header line %q", truncate(line))
	}
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok || !validFieldName(name) {
		return malformed("header line %q", truncate(line))
	}
	value = bytes.Trim(value, " \t")
	if !validFieldValue(value) {
		return malformed("value of header %q", truncate(name))
	}
	k := http.CanonicalHeaderKey(string(name))
	res.Header[k] = append(res.Header[k], string(value))
	return nil
}

// framing checks Content-Length and Transfer-Encoding and records them.
func (res *ResponseHeader) framing() error {
	if te, ok := res.Header["Transfer-Encoding"]; ok {
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return malformed("transfer coding %q (only chunked is supported)", strings.Join(te, ", "))
		}
		res.Chunked = true
		return nil // Content-Length is ignored with chunked (RFC 9112 6.3)
	}
	cl, ok := res.Header["Content-Length"]
	if !ok {
		return nil
	}
	for _, v := range cl {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || !allDigits(v) || (res.ContentLength >= 0 && n != res.ContentLength) {
			return malformed("Content-Length %q", strings.Join(cl, ", "))
		}
		res.ContentLength = n
	}
	return nil
}

// lineReader reads lines from br with a budget of bytes.
type lineReader struct {
	br   *bufio.Reader
	left int
	buf  []byte // a line longer than br's buffer
}

// line returns the next line without its line ending; it is valid until
// the next call.
func (l *lineReader) line() ([]byte, error) {
	l.buf = l.buf[:0]
	for {
		frag, err := l.br.ReadSlice('\n')
		if len(frag) > l.left {
			return nil, ErrHeaderTooLarge
		}
		l.left -= len(frag)
		switch err {
		case nil:
		case bufio.ErrBufferFull:
			l.buf = append(l.buf, frag...)
			continue
		case io.EOF:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
		line := frag
		if len(l.buf) > 0 {
			l.buf = append(l.buf, frag...)
			line = l.buf
		}
		line = line[:len(line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		return line, nil
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// validFieldName reports whether b is a non-empty token (RFC 9110 5.6.2).
func validFieldName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', isDigit(c):
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validFieldValue rejects control characters other than tab, and DEL;
// obs-text (0x80-0xff) is allowed (RFC 9110 5.5).
func validFieldValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// truncate shortens b for an error message.
func truncate(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
