package h1

import (
	"bytes"
	"strings"
)

// Byte classes, one bit each in class[c].
const (
	cToken   = 1 << iota // RFC 9110 tchar (section 5.6.2)
	cValue               // field-value byte: HTAB, SP, VCHAR, obs-text (RFC 9110 section 5.5)
	cTarget              // request-target byte: VCHAR except '#' (RFC 9112 section 3.2)
	cHost                // Host header byte: unreserved, sub-delims, ':', '[', ']', '%' (RFC 3986 section 3.2.2)
	cRegName             // absolute-form reg-name byte: ALPHA, DIGIT, '-', '.', '_', '~'
)

// class is computed once at package initialisation from the RFC
// definitions below rather than written out by hand.
var class = func() (t [256]uint8) {
	alnum := func(c int) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }
	for c := range 256 {
		var k uint8
		if alnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0 {
			k |= cToken
		}
		if c == '\t' || c == ' ' || 0x21 <= c && c <= 0x7e || c >= 0x80 {
			k |= cValue
		}
		if 0x21 <= c && c <= 0x7e && c != '#' {
			k |= cTarget
		}
		if alnum(c) || strings.IndexByte("-._~!$&'()*+,;=:[]%", byte(c)) >= 0 {
			k |= cHost
		}
		if alnum(c) || strings.IndexByte("-._~", byte(c)) >= 0 {
			k |= cRegName
		}
		t[c] = k
	}
	return t
}()

// unhex returns the value of hex digit c, or -1.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// lower returns c in lower case, if it is an ASCII letter.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring
// the case of b.
func equalFold(b []byte, s string) bool {
	return EqualFold(b, s)
}

// EqualFold reports whether b equals the lower-case s, ignoring b's ASCII
// case: a field name against a known one.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// equalFoldBytes reports whether a and b are equal, ignoring ASCII case.
func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// trimOWS removes SP and HTAB from both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// hasToken reports whether the comma-separated list v has an element equal
// to the lower-case token tok, ignoring case and OWS around elements.
func hasToken(v []byte, tok string) bool {
	return listHas(v, func(e []byte) bool { return equalFold(e, tok) })
}

// HasToken reports whether the comma-separated list v (a Connection
// value, say) holds tok, ignoring ASCII case and optional whitespace
// around the elements.
func HasToken(v, tok []byte) bool {
	return listHas(v, func(e []byte) bool { return equalFoldBytes(e, tok) })
}

// listHas reports whether match holds for an element of the
// comma-separated list v, OWS trimmed.
func listHas(v []byte, match func([]byte) bool) bool {
	for len(v) > 0 {
		var elem []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			elem, v = v[:i], v[i+1:]
		} else {
			elem, v = v, nil
		}
		if match(trimOWS(elem)) {
			return true
		}
	}
	return false
}
