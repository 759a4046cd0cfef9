package confparse

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokenKind is the kind of a token.
type tokenKind uint8

const (
	tokEOF    tokenKind = iota
	tokWord             // a bare word or a quoted string
	tokLBrace           // {
	tokRBrace           // }
	tokSemi             // ;
)

// token is one lexical token. For tokWord, val is the unquoted and
// unescaped value and quoted says whether it was written in quotes.
type token struct {
	kind   tokenKind
	quoted bool
	val    string
	line   int
	col    int
}

// String describes t for error messages: a brace or ";" in quotes, "end
// of file", or a word in quotes.
func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokLBrace:
		return `"{"`
	case tokRBrace:
		return `"}"`
	case tokSemi:
		return `";"`
	}
	return strconv.Quote(t.val)
}

// lexer splits nginx-style configuration text into tokens. It records
// problems in errs and always makes progress, so that the parser can go on
// and report more than one mistake. The zero value is not usable; see
// newLexer.
type lexer struct {
	file      string
	src       string
	off       int // offset of the next unread byte
	line      int // line of src[off], from 1
	lineStart int // offset of the first byte of line
	errs      *ErrorList
	// brokenEOF is set when the end of the input was reached inside a
	// quoted string (or the parser gave up); the parser then keeps quiet
	// about what the end of file cut short, since that was reported.
	brokenEOF bool
}

// byteOrderMark is U+FEFF in UTF-8.
const byteOrderMark = "\uFEFF"

func newLexer(file, src string, errs *ErrorList) *lexer {
	lx := &lexer{file: file, src: src, line: 1, errs: errs}
	// Skip a UTF-8 byte order mark, which some editors write; columns on
	// line 1 then count from the byte after it.
	if strings.HasPrefix(src, byteOrderMark) {
		lx.off = len(byteOrderMark)
		lx.lineStart = lx.off
	}
	lx.checkEncoding()
	return lx
}

func (lx *lexer) errorf(line, col int, format string, args ...any) {
	*lx.errs = append(*lx.errs, &Error{Pos: Pos{File: lx.file, Line: line, Col: col}, Msg: fmt.Sprintf(format, args...)})
}

// checkEncoding reports NUL bytes and invalid UTF-8, at most one per
// line. The lexer itself then treats the offending bytes as ordinary word
// bytes.
func (lx *lexer) checkEncoding() {
	s := lx.src[lx.off:]
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return
	}
	line, lineStart, reported := 1, 0, 0
	if lx.off > 0 {
		lineStart = lx.off
	}
	for i := lx.off; i < len(lx.src); {
		c := lx.src[i]
		if c == '\n' {
			line++
			lineStart = i + 1
			i++
			continue
		}
		if c < utf8.RuneSelf {
			if c == 0 && reported < line {
				lx.errorf(line, i-lineStart+1, "NUL byte in input")
				reported = line
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(lx.src[i:])
		if r == utf8.RuneError && size == 1 && reported < line {
			lx.errorf(line, i-lineStart+1, "invalid UTF-8 encoding")
			reported = line
		}
		i += size
	}
}

func (lx *lexer) col(off int) int { return off - lx.lineStart + 1 }

// isSpaceByte reports whether c separates tokens. Only ASCII space, tab, CR
// and LF do, as in nginx; a CR that is not part of CRLF is a space too.
func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// endsWord reports whether c ends a bare word.
func endsWord(c byte) bool { return isSpaceByte(c) || c == '{' || c == '}' || c == ';' }

// next returns the next token.
func (lx *lexer) next() token {
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		switch {
		case c == '\n':
			lx.off++
			lx.line++
			lx.lineStart = lx.off
		case isSpaceByte(c):
			lx.off++
		case c == '#':
			// A comment runs to the end of the line; the newline is
			// left for the loop to count.
			if i := strings.IndexByte(lx.src[lx.off:], '\n'); i >= 0 {
				lx.off += i
			} else {
				lx.off = len(lx.src)
			}
		case c == '{' || c == '}' || c == ';':
			t := token{kind: tokLBrace, line: lx.line, col: lx.col(lx.off)}
			switch c {
			case '}':
				t.kind = tokRBrace
			case ';':
				t.kind = tokSemi
			}
			lx.off++
			return t
		case c == '"' || c == '\'':
			return lx.quoted(c)
		default:
			return lx.word()
		}
	}
	return token{kind: tokEOF, line: lx.line, col: lx.col(lx.off)}
}

// word lexes a bare word: bytes up to a space, "{", "}", ";" or the end of
// the input. A "#" or a backslash inside a bare word is an ordinary byte.
// A quote inside a bare word is reported (once) and then kept as an ordinary
// byte, which is what nginx does with it.
func (lx *lexer) word() token {
	start := lx.off
	t := token{kind: tokWord, line: lx.line, col: lx.col(start)}
	i, reported := start, false
	for i < len(lx.src) {
		c := lx.src[i]
		if endsWord(c) {
			break
		}
		if (c == '"' || c == '\'') && !reported {
			lx.errorf(lx.line, lx.col(i), "quote inside the word %s; quote the whole word instead", strconv.Quote(lx.src[start:i]))
			reported = true
		}
		i++
	}
	lx.off = i
	t.val = lx.src[start:i]
	return t
}

// quoted lexes a string in single or double quotes. Inside it, a
// backslash escapes the next byte: \n, \r and \t stand for newline,
// carriage return and tab, and any other escaped byte stands for itself
// (\", \', \\, but also \x for x). A quoted string may span lines. It
// must be followed by a space, "{", "}", ";" or the end of the input.
func (lx *lexer) quoted(q byte) token {
	t := token{kind: tokWord, quoted: true, line: lx.line, col: lx.col(lx.off)}
	lx.off++ // opening quote
	start := lx.off
	var b []byte // the unescaped value, once an escape is seen
	for i := start; i < len(lx.src); i++ {
		c := lx.src[i]
		switch c {
		case q:
			if b == nil {
				t.val = lx.src[start:i]
			} else {
				t.val = string(b)
			}
			lx.off = i + 1
			if lx.off < len(lx.src) && !endsWord(lx.src[lx.off]) {
				lx.errorf(lx.line, lx.col(lx.off), "missing space after quoted string")
			}
			return t
		case '\\':
			if b == nil {
				b = append(make([]byte, 0, len(lx.src[start:i])+16), lx.src[start:i]...)
			}
			if i+1 == len(lx.src) {
				continue // unterminated; reported below
			}
			i++
			switch e := lx.src[i]; e {
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			default:
				if e == '\n' {
					lx.line++
					lx.lineStart = i + 1
				}
				b = append(b, e)
			}
			continue
		case '\n':
			lx.line++
			lx.lineStart = i + 1
		}
		if b != nil {
			b = append(b, c)
		}
	}
	lx.errorf(t.line, t.col, "unterminated quoted string")
	lx.off = len(lx.src)
	lx.brokenEOF = true
	if b == nil {
		t.val = lx.src[start:]
	} else {
		t.val = string(b)
	}
	return t
}
