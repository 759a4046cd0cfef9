package confparse

import "bytes"

// formatIndent is one level of indentation in Format's output.
const formatIndent = "    "

// Format returns ds in canonical syntax: one directive per line, blocks
// indented by four spaces, a blank line around each block directive,
// every argument separated by one space and quoted (in double quotes) only
// when it must be or when it was quoted in the source. Comments and the
// original layout are not kept, since the AST does not hold them.
//
// For directives returned by Parse, Parse(Format(ds)) returns the same
// directives (positions aside), and Format of that is Format(ds) again. A
// directive name is printed as it is; a name that is empty or is not a
// bare word (see the package documentation) makes output that does not
// parse.
func Format(ds []*Directive) []byte {
	b := appendBlock(nil, ds, 0)
	if bytes.HasPrefix(b, []byte(byteOrderMark)) {
		// The first name starts with U+FEFF, which Parse would skip as a
		// byte order mark: write a mark for it to skip instead.
		b = append([]byte(byteOrderMark), b...)
	}
	return b
}

// String returns d, and its block if it has one, as Format would print it
// at the top level, without the final newline.
func (d *Directive) String() string {
	return string(bytes.TrimSuffix(appendDirective(nil, d, 0), []byte("\n")))
}

// String returns w as it is written in a configuration file: bare when it
// can be, else in double quotes with escapes. A word that was quoted in
// the source stays quoted.
func (w Word) String() string {
	return string(appendWord(nil, w.Value, w.Quoted))
}

func appendBlock(b []byte, ds []*Directive, depth int) []byte {
	for i, d := range ds {
		if i > 0 && (d.IsBlock() || ds[i-1].IsBlock()) {
			b = append(b, '\n')
		}
		b = appendDirective(b, d, depth)
	}
	return b
}

func appendDirective(b []byte, d *Directive, depth int) []byte {
	for range depth {
		b = append(b, formatIndent...)
	}
	b = appendWord(b, d.Name, false)
	for _, a := range d.Args {
		b = append(b, ' ')
		b = appendWord(b, a.Value, a.Quoted)
	}
	switch {
	case d.Block == nil:
		return append(b, ";\n"...)
	case len(d.Block) == 0:
		return append(b, " {}\n"...)
	}
	b = append(b, " {\n"...)
	b = appendBlock(b, d.Block, depth+1)
	for range depth {
		b = append(b, formatIndent...)
	}
	return append(b, "}\n"...)
}

// appendWord appends v, in quotes if quoted or if it cannot be a bare
// word.
func appendWord(b []byte, v string, quoted bool) []byte {
	if !quoted && !needsQuotes(v) {
		return append(b, v...)
	}
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// needsQuotes reports whether v would not read back as one bare word with
// value v: it is empty, starts a comment, or holds a space, "{", "}", ";"
// or a quote. A "#" after the first byte and a backslash are ordinary in
// a bare word, so they do not need quotes.
func needsQuotes(v string) bool {
	if v == "" || v[0] == '#' {
		return true
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; endsWord(c) || c == '"' || c == '\'' {
			return true
		}
	}
	return false
}
