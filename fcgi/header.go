package fcgi

import (
	"bytes"
	"fmt"
	"net/http"
)

// The response of a FastCGI responder is a CGI response (RFC 3875,
// section 6): header fields, a blank line, then the body, all on the
// STDOUT stream.

// maxHeaderBytes bounds the CGI header block. nginx's fastcgi_buffer_size
// is 4k or 8k; applications with many cookies need more.
const maxHeaderBytes = 64 << 10

// headerEnd returns the length of the header block at the start of b,
// blank line included, or -1 if b does not hold all of it yet. Lines may
// end in "\r\n" or "\n".
func headerEnd(b []byte) int {
	switch {
	case bytes.HasPrefix(b, []byte("\n")):
		return 1
	case bytes.HasPrefix(b, []byte("\r\n")):
		return 2
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

// parseHeader parses a header block as found by headerEnd and calls fn
// for each field to pass on to the client, in order. It returns the
// status: Status's code ("Status: 404 Not Found"), else 302 if there is
// a Location field (RFC 3875, section 6.2.3; local redirects are not
// followed), else 200. Hop-by-hop fields (Connection, Transfer-Encoding,
// ...) are dropped, since the client connection has its own framing.
//
// A malformed block is an error, and then fn may have been called for
// some fields: a line without a colon, a continuation line, a name that
// is not an RFC 9110 token, a value with control characters, a Status
// that is not a 3-digit code from 200 to 999, or Content-Length fields
// that are not one decimal number.
func parseHeader(block []byte, fn func(name, value []byte)) (int, error) {
	status, location := 0, false
	var contentLength []byte
	for len(block) > 0 {
		var line []byte
		if i := bytes.IndexByte(block, '\n'); i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			line, block = block, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, fmt.Errorf("%w: line %q", errBadHeader, clip(line))
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		if !isToken(name) {
			return 0, fmt.Errorf("%w: field name %q", errBadHeader, clip(name))
		}
		if !validValue(value) {
			return 0, fmt.Errorf("%w: control character in %s", errBadHeader, name)
		}
		switch {
		case equalFold(name, "Status"):
			if status != 0 {
				continue // the first one counts
			}
			code, ok := parseStatus(value)
			if !ok {
				return 0, fmt.Errorf("%w: Status %q", errBadHeader, clip(value))
			}
			status = code
			continue
		case equalFold(name, "Location"):
			location = true
		case equalFold(name, "Content-Length"):
			if len(value) == 0 || !allDigits(value) || contentLength != nil && !bytes.Equal(value, contentLength) {
				return 0, fmt.Errorf("%w: Content-Length %q", errBadHeader, clip(value))
			}
			if contentLength != nil {
				continue
			}
			contentLength = value
		case hopByHop(name):
			continue
		}
		if fn != nil {
			fn(name, value)
		}
	}
	switch {
	case status != 0:
		return status, nil
	case location:
		return http.StatusFound, nil
	}
	return http.StatusOK, nil
}

// parseStatus parses "404" or "404 Not Found". 1xx codes are refused: a
// CGI response has one final status.
func parseStatus(v []byte) (int, bool) {
	if len(v) < 3 || len(v) > 3 && v[3] != ' ' || !allDigits(v[:3]) {
		return 0, false
	}
	code := int(v[0]-'0')*100 + int(v[1]-'0')*10 + int(v[2]-'0')
	return code, code >= 200
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// hopByHop reports whether name is a connection-specific field (RFC 9110,
// section 7.6.1).
func hopByHop(name []byte) bool {
	for _, h := range [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade"} {
		if equalFold(name, h) {
			return true
		}
	}
	return false
}

// equalFold reports whether b equals the ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// isToken reports whether b is an RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c >= 0x80 || !tokenByte[c] {
			return false
		}
	}
	return true
}

// tokenByte marks the tchar bytes of RFC 9110, section 5.6.2.
var tokenByte = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validValue reports whether a field value is free of control
// characters other than horizontal tab (RFC 9110, section 5.5).
func validValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// clip shortens b for an error message.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
