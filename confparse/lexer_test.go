package confparse

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// lexAll returns every token of src as "LINE:COL KIND VALUE", up to and
// including the end of file, and the errors.
func lexAll(src string) (toks []string, errs []string) {
	var el ErrorList
	lx := newLexer("f", src, &el)
	for {
		t := lx.next()
		var s string
		switch t.kind {
		case tokEOF:
			s = "EOF"
		case tokWord:
			if t.quoted {
				s = fmt.Sprintf("quoted %q", t.val)
			} else {
				s = fmt.Sprintf("word %q", t.val)
			}
		default:
			s = t.String()
		}
		toks = append(toks, fmt.Sprintf("%d:%d %s", t.line, t.col, s))
		if t.kind == tokEOF || len(toks) > 1000 {
			break
		}
	}
	for _, e := range el {
		errs = append(errs, e.Error())
	}
	return toks, errs
}

func TestLex(t *testing.T) {
	tests := []struct {
		name string
		src  string
		toks []string
		errs []string
	}{
		{
			name: "empty",
			src:  "",
			toks: []string{"1:1 EOF"},
		},
		{
			name: "simple directive",
			src:  "listen 0.0.0.0:8080;\n",
			toks: []string{`1:1 word "listen"`, `1:8 word "0.0.0.0:8080"`, `1:20 ";"`, "2:1 EOF"},
		},
		{
			name: "bare words of every kind",
			src:  "x $var a=b 5s /path/*.conf unix:/x ~^(.*)$ é",
			toks: []string{`1:1 word "x"`, `1:3 word "$var"`, `1:8 word "a=b"`, `1:12 word "5s"`,
				`1:15 word "/path/*.conf"`, `1:28 word "unix:/x"`, `1:36 word "~^(.*)$"`, `1:44 word "é"`, "1:46 EOF"},
		},
		{
			name: "braces and semicolons end words",
			src:  "a{b}c;d",
			toks: []string{`1:1 word "a"`, `1:2 "{"`, `1:3 word "b"`, `1:4 "}"`, `1:5 word "c"`, `1:6 ";"`, `1:7 word "d"`, "1:8 EOF"},
		},
		{
			name: "CRLF",
			src:  "a b;\r\n\r\n  c {\r\n}\r\n",
			toks: []string{`1:1 word "a"`, `1:3 word "b"`, `1:4 ";"`, `3:3 word "c"`, `3:5 "{"`, `4:1 "}"`, "5:1 EOF"},
		},
		{
			name: "lone CR is a space",
			src:  "a\rb",
			toks: []string{`1:1 word "a"`, `1:3 word "b"`, "1:4 EOF"},
		},
		{
			name: "tabs count one column",
			src:  "\ta\t\tb",
			toks: []string{`1:2 word "a"`, `1:5 word "b"`, "1:6 EOF"},
		},
		{
			name: "comments",
			src:  "# top\na; # end of line\n  # indented\nb;#c\n#",
			toks: []string{`2:1 word "a"`, `2:2 ";"`, `4:1 word "b"`, `4:2 ";"`, "5:2 EOF"},
		},
		{
			name: "hash inside word and string",
			src:  `a#b "c # d" 'e#' f# #g`,
			toks: []string{`1:1 word "a#b"`, `1:5 quoted "c # d"`, `1:13 quoted "e#"`, `1:18 word "f#"`, "1:23 EOF"},
		},
		{
			name: "hash right after a brace starts a comment",
			src:  "a {#x\n}",
			toks: []string{`1:1 word "a"`, `1:3 "{"`, `2:1 "}"`, "2:2 EOF"},
		},
		{
			name: "quotes",
			src:  `"a b" 'c d' "" ''`,
			toks: []string{`1:1 quoted "a b"`, `1:7 quoted "c d"`, `1:13 quoted ""`, `1:16 quoted ""`, "1:18 EOF"},
		},
		{
			name: "escapes",
			src:  `"q\"s\'b\\n\nr\rt\tx\d" 'it\'s "fine"'`,
			toks: []string{`1:1 quoted "q\"s'b\\n\nr\rt\txd"`, `1:25 quoted "it's \"fine\""`, "1:39 EOF"},
		},
		{
			name: "escaped newline and multi-line string",
			src:  "\"a\\\nb\nc\" d",
			toks: []string{`1:1 quoted "a\nb\nc"`, `3:4 word "d"`, "3:5 EOF"},
		},
		{
			name: "escaped multibyte rune",
			src:  `"\é"`,
			toks: []string{`1:1 quoted "é"`, "1:6 EOF"},
		},
		{
			name: "backslash is ordinary in a bare word",
			src:  `^/a\d+ c:\x\`,
			toks: []string{`1:1 word "^/a\\d+"`, `1:8 word "c:\\x\\"`, "1:13 EOF"},
		},
		{
			name: "string directly before separators",
			src:  `"a";"b"{"c"}`,
			toks: []string{`1:1 quoted "a"`, `1:4 ";"`, `1:5 quoted "b"`, `1:8 "{"`, `1:9 quoted "c"`, `1:12 "}"`, "1:13 EOF"},
		},
		{
			name: "byte order mark",
			src:  "\uFEFFa;",
			toks: []string{`1:1 word "a"`, `1:2 ";"`, "1:3 EOF"},
		},
		{
			name: "unterminated string",
			src:  "a \"b;\nc;",
			toks: []string{`1:1 word "a"`, `1:3 quoted "b;\nc;"`, "2:3 EOF"},
			errs: []string{"f:1:3: unterminated quoted string"},
		},
		{
			name: "unterminated string ending in a backslash",
			src:  `'ab\`,
			toks: []string{`1:1 quoted "ab"`, "1:5 EOF"},
			errs: []string{"f:1:1: unterminated quoted string"},
		},
		{
			name: "missing space after string",
			src:  `"a"b 'c'"d"`,
			toks: []string{`1:1 quoted "a"`, `1:4 word "b"`, `1:6 quoted "c"`, `1:9 quoted "d"`, "1:12 EOF"},
			errs: []string{"f:1:4: missing space after quoted string", "f:1:9: missing space after quoted string"},
		},
		{
			name: "quote inside word",
			src:  `ab"c d`,
			toks: []string{`1:1 word "ab\"c"`, `1:6 word "d"`, "1:7 EOF"},
			errs: []string{`f:1:3: quote inside the word "ab"; quote the whole word instead`},
		},
		{
			name: "NUL and invalid UTF-8",
			src:  "a\x00b;\nc \xff \xfe;",
			toks: []string{`1:1 word "a\x00b"`, `1:4 ";"`, `2:1 word "c"`, `2:3 word "\xff"`, `2:5 word "\xfe"`, `2:6 ";"`, "2:7 EOF"},
			errs: []string{"f:1:2: NUL byte in input", "f:2:3: invalid UTF-8 encoding"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			toks, errs := lexAll(tt.src)
			if !slices.Equal(toks, tt.toks) {
				t.Errorf("lex(%q) tokens =\n\t%s\nwant\n\t%s", tt.src, strings.Join(toks, "\n\t"), strings.Join(tt.toks, "\n\t"))
			}
			if !slices.Equal(errs, tt.errs) {
				t.Errorf("lex(%q) errors = %q, want %q", tt.src, errs, tt.errs)
			}
		})
	}
}

func TestNeedsQuotes(t *testing.T) {
	for _, v := range []string{"", "#a", "a b", "a\tb", "a\nb", "a\rb", "a{", "}", "a;b", `a"b`, "it's"} {
		if !needsQuotes(v) {
			t.Errorf("needsQuotes(%q) = false, want true", v)
		}
	}
	for _, v := range []string{"a", "a#b", `a\b`, "$host", "*.example.com", "é", "~^/a(.*)$"} {
		if needsQuotes(v) {
			t.Errorf("needsQuotes(%q) = true, want false", v)
		}
	}
}
