package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode/utf8"
)

const hexUpper = "0123456789ABCDEF"

// unreserved reports whether c is an RFC 3986 unreserved byte.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func pct(b *strings.Builder, c byte) {
	b.WriteByte('%')
	b.WriteByte(hexUpper[c>>4])
	b.WriteByte(hexUpper[c&15])
}

// formEscape is what a browser's form submission or url.QueryEscape sends:
// every byte but the unreserved ones escaped, space as '+'.
func formEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case unreserved(c):
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			pct(&b, c)
		}
	}
	return b.String()
}

// browserEscape is what a browser sends for text typed into the address
// bar's query: space, quotes, angle brackets, '#', '&', '%', '+' and
// bytes outside printable ASCII are escaped, the rest is sent raw. spacePlus
// picks '+' rather than %20 for a space.
func browserEscape(s string, spacePlus bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' && spacePlus:
			b.WriteByte('+')
		case c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>#&%+=`", c) >= 0:
			pct(&b, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// toolEscape is what a scanner or curl user sends: only the bytes that
// would break the request line or the parameter split are escaped.
func toolEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			b.WriteString("%20")
		case c < ' ' || c >= 0x7f || c == '#' || c == '&' || c == '%' || c == '+':
			pct(&b, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// pathEscape escapes s for a path segment, keeping '/' and the sub-delims
// raw, as a tool that builds paths by hand does.
func pathEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case unreserved(c) || strings.IndexByte("/!$'()*,;:=@[]", c) >= 0:
			b.WriteByte(c)
		default:
			pct(&b, c)
		}
	}
	return b.String()
}

// fullEscape escapes every byte, letters included.
func fullEscape(s string, r *rand.Rand) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		b.WriteByte('%')
		if r.IntN(2) == 0 {
			b.WriteString(strings.ToLower(fmt.Sprintf("%02X", c)))
		} else {
			fmt.Fprintf(&b, "%02X", c)
		}
	}
	return b.String()
}

// mixedEscape escapes a random half of the bytes that are not unreserved
// and some letters, with hex digits in random case.
func mixedEscape(s string, r *rand.Rand) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		enc := !unreserved(c) && r.IntN(3) > 0 || unreserved(c) && r.IntN(6) == 0
		if c <= ' ' || c >= 0x7f || c == '#' || c == '&' || c == '%' || c == '+' {
			enc = true
		}
		if !enc {
			b.WriteByte(c)
			continue
		}
		h := fmt.Sprintf("%02X", c)
		if r.IntN(2) == 0 {
			h = strings.ToLower(h)
		}
		b.WriteString("%" + h)
	}
	return b.String()
}

// doubleEscape escapes s, then escapes the '%' of every escape again, as
// for an application that decodes twice.
func doubleEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%25")
		b.WriteByte(hexUpper[c>>4])
		b.WriteByte(hexUpper[c&15])
	}
	return b.String()
}

// unicodeEscape writes the IIS %uXXXX form for every byte that is not
// unreserved.
func unicodeEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && unreserved(byte(r)) {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, "%%u%04X", r)
	}
	return b.String()
}

// jsonString encodes s as a JSON string literal, with HTML escaping off
// as most JSON clients send it.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// jsonUnicode encodes s as a JSON string with every byte that is not a
// letter or digit written as a \u escape.
func jsonUnicode(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
			continue
		}
		if r > 0xffff {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, "\\u%04x", r)
	}
	b.WriteByte('"')
	return b.String()
}

// headerSafe reports whether s may be sent raw as a header value.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// mixCase flips the case of letters at random.
func mixCase(s string, r *rand.Rand) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' && r.IntN(2) == 0 {
			b[i] = c - 32
		} else if 'A' <= c && c <= 'Z' && r.IntN(2) == 0 {
			b[i] = c + 32
		}
	}
	return string(b)
}

// htmlEntities writes every byte of s as a decimal or hex character
// reference, some with leading zeros and some without the semicolon.
func htmlEntities(s string, r *rand.Rand) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch r.IntN(4) {
		case 0:
			fmt.Fprintf(&b, "&#%d;", c)
		case 1:
			fmt.Fprintf(&b, "&#x%x;", c)
		case 2:
			fmt.Fprintf(&b, "&#%07d", c)
		default:
			fmt.Fprintf(&b, "&#X%02X;", c)
		}
	}
	return b.String()
}
