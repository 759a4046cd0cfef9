package waf

//go:generate go run gen_table.go

import (
	"bytes"
	"unicode/utf8"
	"unsafe"
)

// Flags of a normalised value: what the normaliser removed or undid, which
// some rules treat as evidence of evasion.
const (
	fNUL          uint16 = 1 << iota // a NUL byte (sent as %00, \u0000 or raw)
	fComment                         // a /*...*/ comment, replaced by a space
	fVersioned                       // a MySQL executable comment /*!...*/
	fCommentGlue                     // a comment between two words, as if it were a space
	fMultiDecode                     // percent-encoded more than once
	fLookAlike                       // an overlong UTF-8 form or a look-alike of an ASCII character
	fPercentU                        // a %uXXXX escape
	fControl                         // a control byte other than tab, CR, LF, VT, FF and NUL
	fSplitKeyword                    // a comment inside an SQL keyword: UN/**/ION
)

// sqlKeywords are the words that a comment inside one (SEL/**/ECT) marks
// as an attempt to get past a filter.
var sqlKeywords = map[string]bool{
	"select": true, "union": true, "insert": true, "update": true, "delete": true, "drop": true, "where": true,
	"from": true, "sleep": true, "benchmark": true, "concat": true, "having": true, "order": true, "group": true,
	"table": true, "information_schema": true, "version": true, "database": true, "waitfor": true, "delay": true,
	"exec": true, "execute": true, "declare": true, "substring": true, "ascii": true, "char": true, "limit": true,
	"into": true, "outfile": true, "load_file": true, "extractvalue": true, "updatexml": true,
}

// splitsKeyword reports whether the word that ends before and the word
// that starts after make an SQL keyword when joined.
func splitsKeyword(before, after []byte) bool {
	i := len(before)
	for i > 0 && isLetter(before[i-1]) {
		i--
	}
	j := 0
	for j < len(after) && isLetter(after[j]) {
		j++
	}
	if i == len(before) || j == 0 || len(before)-i+j > 20 {
		return false
	}
	var w [20]byte
	n := copy(w[:], before[i:])
	n += copy(w[n:], after[:j])
	return sqlKeywords[string(w[:n])]
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || c == '_' }

// maxDecodePasses bounds the rounds of percent-decoding: enough for a
// value encoded three times over.
const maxDecodePasses = 4

// normalizer holds the scratch buffers of normalize; the zero value is
// ready. Not safe for concurrent use.
type normalizer struct {
	a, b []byte
}

// Normalize returns the normal form the rules match, for a query or form
// value (plus means a '+' is a space): percent-decoding repeated until
// stable (at most 4 rounds, %uXXXX included), overlong UTF-8 and
// look-alike characters (fullwidth forms, division slash, odd spaces)
// folded to ASCII, HTML character references and JavaScript \x and \u
// escapes decoded, ASCII lowercased, NUL and other control bytes dropped,
// runs of white space made one space (or one newline if the run has one),
// and SQL comments /*...*/ replaced by a space (MySQL's /*!...*/ keeps its
// content). It is what the engine matches besides the raw value.
func Normalize(s string, plus bool) string {
	var n normalizer
	out, _, _ := n.normalize(nil, s, plus)
	return string(out)
}

// normalize appends the normal form of s to dst. It returns the result,
// the union of the byte classes of the bytes it appended (a superset once
// comments were removed) and the flags of what it undid.
func (n *normalizer) normalize(dst []byte, s string, plus bool) ([]byte, uint32, uint16) {
	var flags uint16
	src := unsafe.Slice(unsafe.StringData(s), len(s))
	if bytes.IndexByte(src, '%') >= 0 || plus && bytes.IndexByte(src, '+') >= 0 {
		var changed, pu bool
		n.a, changed, pu = pctDecode(n.a[:0], src, plus)
		if pu {
			flags |= fPercentU
		}
		if changed {
			for pass := 1; pass < maxDecodePasses && bytes.IndexByte(n.a, '%') >= 0; pass++ {
				n.b, changed, pu = pctDecode(n.b[:0], n.a, false)
				if !changed {
					break
				}
				if pu {
					flags |= fPercentU
				}
				n.a, n.b = n.b, n.a
				flags |= fMultiDecode
			}
			src = n.a
		}
	}
	start := len(dst)
	var mask uint32
	for i := 0; i < len(src); {
		c := src[i]
		cl := byteClass[c]
		if cl&slowClasses == 0 {
			// Most bytes: copied as they are.
			dst = append(dst, c)
			mask |= cl
			i++
			continue
		}
		switch {
		case cl == cUpper:
			dst = append(dst, c+'a'-'A')
			mask |= cLower
			i++
			continue
		case c == '&':
			if r, size := decodeEntity(src[i:]); size > 0 {
				dst, mask, flags = emitRune(dst, start, mask, flags, r)
				i += size
				continue
			}
		case c == '#':
			// An empty SQL line comment, "#" then a line break, is a
			// space: UNION#%0aSELECT.
			if i+1 < len(src) && (src[i+1] == '\n' || src[i+1] == '\r') {
				flags |= fComment
				i++
				continue
			}
		case c == '\\':
			if r, size := decodeJSEscape(src[i:]); size > 0 {
				dst, mask, flags = emitRune(dst, start, mask, flags, r)
				i += size
				continue
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(src[i:])
			if r != utf8.RuneError || size > 1 {
				dst, mask, flags = emitRune(dst, start, mask, flags, r)
				i += size
				continue
			}
			if a, size := overlong(src[i:]); size > 0 {
				flags |= fLookAlike
				dst, mask, flags = emitByte(dst, start, mask, flags, byte(a))
				i += size
				continue
			}
			if c == 0xa0 { // a Latin-1 no-break space
				dst, mask, flags = emitByte(dst, start, mask, flags, ' ')
			} else {
				dst = append(dst, c)
				mask |= cHigh
			}
			i++
			continue
		}
		dst, mask, flags = emitByte(dst, start, mask, flags, c)
		i++
	}
	if mask&(cSlash|cStar) == cSlash|cStar {
		var f uint16
		dst, f = stripComments(dst, start)
		flags |= f
	}
	return dst, mask, flags
}

// slowClasses are the byte classes that normalize does more with than
// copy.
const slowClasses = cUpper | cSpace | cNewline | cCtl | cHigh | cAmp | cHash | cBackslash

// emitByte appends one ASCII byte of the normal form to dst[start:]:
// lowercased, white space collapsed, NUL and other control bytes dropped.
func emitByte(dst []byte, start int, mask uint32, flags uint16, c byte) ([]byte, uint32, uint16) {
	switch {
	case 'A' <= c && c <= 'Z':
		c += 'a' - 'A'
	case c == 0:
		return dst, mask, flags | fNUL
	case c == '\t' || c == '\r' || c == '\v' || c == '\f':
		c = ' '
	case c < ' ' && c != '\n' || c == 0x7f:
		return dst, mask, flags | fControl
	}
	if c == ' ' || c == '\n' {
		if l := len(dst); l > start && (dst[l-1] == ' ' || dst[l-1] == '\n') {
			if c == '\n' {
				dst[l-1] = '\n'
				mask |= cNewline
			}
			return dst, mask, flags
		}
	}
	return append(dst, c), mask | byteClass[c], flags
}

// emitRune appends a decoded character: an ASCII one by emitByte, a
// look-alike as its ASCII character, any other as UTF-8.
func emitRune(dst []byte, start int, mask uint32, flags uint16, r rune) ([]byte, uint32, uint16) {
	if r < utf8.RuneSelf {
		return emitByte(dst, start, mask, flags, byte(r))
	}
	if a, ok := foldRune(r); ok {
		flags |= fLookAlike
		if a == 0 {
			return dst, mask, flags
		}
		return emitByte(dst, start, mask, flags, a)
	}
	return utf8.AppendRune(dst, r), mask | cHigh, flags
}

// stripComments replaces each terminated /*...*/ in b[start:] by a space,
// keeping the content of a MySQL /*!NNNNN ...*/ between spaces, and then
// collapses the spaces that leaves. An unterminated /* is kept.
func stripComments(b []byte, start int) ([]byte, uint16) {
	var flags uint16
	w := start
	for r := start; r < len(b); {
		if b[r] == '/' && r+1 < len(b) && b[r+1] == '*' {
			end := bytes.Index(b[r+2:], []byte("*/"))
			if end >= 0 {
				flags |= fComment
				body := b[r+2 : r+2+end]
				after := r + 2 + end + 2
				if w > start && after < len(b) && isWordByte(b[w-1]) && isWordByte(b[after]) {
					flags |= fCommentGlue
					if splitsKeyword(b[start:w], b[after:]) {
						flags |= fSplitKeyword
					}
				}
				b[w] = ' '
				w++
				if len(body) > 0 && body[0] == '!' {
					flags |= fVersioned
					k := 1
					for k < len(body) && '0' <= body[k] && body[k] <= '9' {
						k++
					}
					w += copy(b[w:], body[k:])
					b[w] = ' '
					w++
				}
				r = after
				continue
			}
		}
		b[w] = b[r]
		w++
		r++
	}
	b = b[:w]
	if flags == 0 {
		return b, 0
	}
	// Collapse the spaces the comments left.
	w = start
	for r := start; r < len(b); r++ {
		c := b[r]
		if (c == ' ' || c == '\n') && w > start && (b[w-1] == ' ' || b[w-1] == '\n') {
			if c == '\n' {
				b[w-1] = '\n'
			}
			continue
		}
		b[w] = c
		w++
	}
	return b[:w], flags
}

// isWordByte reports whether c may be part of an SQL word or a quoted
// string's edge.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '\'' || c == '"' || c == '@' || c >= 0x80
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// pctDecode appends s with its %XX and %uXXXX escapes decoded (and '+' as
// a space if plus) to dst. changed reports that something was decoded, pu
// that a %u escape was.
func pctDecode[S ~string | ~[]byte](dst []byte, s S, plus bool) (out []byte, changed, pu bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '+' && plus {
			dst = append(dst, ' ')
			changed = true
			continue
		}
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 < len(s) {
			if h, ok := unhex(s[i+1]); ok {
				if l, ok := unhex(s[i+2]); ok {
					dst = append(dst, h<<4|l)
					i += 2
					changed = true
					continue
				}
			}
		}
		if i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			var r rune
			ok := true
			for k := 2; k < 6 && ok; k++ {
				var d byte
				d, ok = unhex(s[i+k])
				r = r<<4 | rune(d)
			}
			if ok {
				dst = utf8.AppendRune(dst, r)
				i += 5
				changed, pu = true, true
				continue
			}
		}
		dst = append(dst, c)
	}
	return dst, changed, pu
}

// namedEntities are the HTML character references decoded by name; the
// first four are recognised without their semicolon, as browsers do.
var namedEntities = map[string]rune{
	"lt": '<', "gt": '>', "amp": '&', "quot": '"', "apos": '\'', "colon": ':', "lpar": '(', "rpar": ')',
	"sol": '/', "bsol": '\\', "tab": '\t', "newline": '\n', "nbsp": ' ', "semi": ';', "comma": ',',
	"period": '.', "excl": '!', "num": '#', "dollar": '$', "percnt": '%', "lsqb": '[', "rsqb": ']',
	"lbrack": '[', "rbrack": ']', "lcub": '{', "rcub": '}', "lbrace": '{', "rbrace": '}', "equals": '=',
	"plus": '+', "grave": '`', "vert": '|', "verbar": '|', "ast": '*', "midast": '*', "quest": '?',
	"hyphen": '-', "lowbar": '_', "commat": '@', "hat": '^',
}

// decodeEntity decodes the HTML character reference at the start of p
// (p[0] == '&'). It returns the character and the bytes it took, or size
// 0 if p does not start with one.
func decodeEntity(p []byte) (rune, int) {
	if len(p) < 3 {
		return 0, 0
	}
	if p[1] == '#' {
		i := 2
		var r rune
		digits := 0
		if p[i] == 'x' || p[i] == 'X' {
			i++
			for i < len(p) && digits < 8 {
				d, ok := unhex(p[i])
				if !ok {
					break
				}
				r = r<<4 | rune(d)
				i++
				digits++
			}
		} else {
			for i < len(p) && digits < 10 && '0' <= p[i] && p[i] <= '9' {
				r = r*10 + rune(p[i]-'0')
				i++
				digits++
			}
		}
		if digits == 0 || r > utf8.MaxRune {
			return 0, 0
		}
		if i < len(p) && p[i] == ';' {
			i++
		}
		return r, i
	}
	i := 1
	for i < len(p) && i <= 8 && ('a' <= p[i] && p[i] <= 'z' || 'A' <= p[i] && p[i] <= 'Z') {
		i++
	}
	if i == 1 {
		return 0, 0
	}
	var name [8]byte
	k := copy(name[:], p[1:i])
	for j := range k {
		name[j] |= 0x20
	}
	r, ok := namedEntities[string(name[:k])]
	if !ok {
		return 0, 0
	}
	if i < len(p) && p[i] == ';' {
		return r, i + 1
	}
	if r == '<' || r == '>' || r == '&' || r == '"' {
		return r, i
	}
	return 0, 0
}

// decodeJSEscape decodes the JavaScript escape \xHH, \uHHHH or \u{H...}
// at the start of p (p[0] == '\\'), or returns size 0.
func decodeJSEscape(p []byte) (rune, int) {
	if len(p) < 4 {
		return 0, 0
	}
	switch p[1] {
	case 'x':
		h, ok1 := unhex(p[2])
		l, ok2 := unhex(p[3])
		if ok1 && ok2 {
			return rune(h<<4 | l), 4
		}
	case 'u':
		if p[2] == '{' {
			var r rune
			for i := 3; i < len(p) && i < 10; i++ {
				if p[i] == '}' && i > 3 && r <= utf8.MaxRune {
					return r, i + 1
				}
				d, ok := unhex(p[i])
				if !ok {
					return 0, 0
				}
				r = r<<4 | rune(d)
			}
			return 0, 0
		}
		if len(p) < 6 {
			return 0, 0
		}
		var r rune
		for i := 2; i < 6; i++ {
			d, ok := unhex(p[i])
			if !ok {
				return 0, 0
			}
			r = r<<4 | rune(d)
		}
		return r, 6
	}
	return 0, 0
}

// overlong decodes an overlong UTF-8 form at the start of p (C0 AE for
// '.', E0 80 AF for '/'), which strict decoders reject and some servers
// accept. It returns size 0 if p does not start with one.
func overlong(p []byte) (rune, int) {
	cont := func(i int) bool { return i < len(p) && p[i]&0xc0 == 0x80 }
	switch {
	case (p[0] == 0xc0 || p[0] == 0xc1) && cont(1):
		return rune(p[0]&0x1f)<<6 | rune(p[1]&0x3f), 2
	case p[0] == 0xe0 && cont(1) && p[1] < 0xa0 && cont(2):
		return rune(p[1]&0x3f)<<6 | rune(p[2]&0x3f), 3
	case p[0] == 0xf0 && cont(1) && p[1] < 0x90 && cont(2) && cont(3):
		return rune(p[1]&0x3f)<<12 | rune(p[2]&0x3f)<<6 | rune(p[3]&0x3f), 4
	}
	return 0, 0
}

// foldRune maps a character that stands in for an ASCII one (a fullwidth
// form, a slash or space look-alike) to it, or to 0 for an invisible
// character to drop. ok is false for any other character.
func foldRune(r rune) (byte, bool) {
	switch {
	case 0xff01 <= r && r <= 0xff5e:
		return byte(r - 0xfee0), true
	case r == 0x2215 || r == 0x2044 || r == 0x29f8:
		return '/', true
	case r == 0x2216 || r == 0xfe68 || r == 0x29f9:
		return '\\', true
	case r == 0x2024:
		return '.', true
	case r == 0xfe64:
		return '<', true
	case r == 0xfe65:
		return '>', true
	case r == 0xa0 || r == 0x1680 || 0x2000 <= r && r <= 0x200a || r == 0x202f || r == 0x205f || r == 0x3000:
		return ' ', true
	case r == 0x2028 || r == 0x2029 || r == 0x85:
		return '\n', true
	case 0x200b <= r && r <= 0x200d || r == 0x2060 || r == 0xfeff || r == 0xad:
		return 0, true
	}
	return 0, false
}

// cleanPath rewrites a normalised path in place for the rules on files:
// backslashes become slashes, runs of slashes one, and "/./" segments go.
// ".." segments stay, for the traversal rules.
func cleanPath(b []byte) []byte {
	w := 0
	for r := 0; r < len(b); r++ {
		c := b[r]
		if c == '\\' {
			c = '/'
		}
		if c == '/' {
			if w > 0 && b[w-1] == '/' {
				continue
			}
			// "/./" or a trailing "/."
			if w >= 2 && b[w-1] == '.' && b[w-2] == '/' {
				w--
				continue
			}
		}
		b[w] = c
		w++
	}
	if w >= 2 && b[w-1] == '.' && b[w-2] == '/' {
		w--
	}
	return b[:w]
}
