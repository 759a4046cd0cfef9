package confparse

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
)

// maxNesting bounds how deeply blocks may nest, so that a hostile or
// broken file cannot exhaust the stack.
const maxNesting = 100

// Parse parses src, the text of the file named filename, into directives.
// It does not expand includes: "include" is returned as a directive like
// any other (see ParseFile). filename is used only in positions.
//
// On a syntax error Parse goes on at the next ";" or "}" to find more,
// and returns what it could parse with an ErrorList sorted by position.
func Parse(filename string, src []byte) ([]*Directive, error) {
	p := &parser{}
	p.lx = newLexer(filename, string(src), &p.errs)
	p.advance()
	ds := p.block(nil)
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
		})
		return ds, p.errs
	}
	return ds, nil
}

// parser is a recursive-descent parser over a lexer, with one token of
// lookahead. The grammar is in doc.go.
type parser struct {
	lx    *lexer
	tok   token // the lookahead
	errs  ErrorList
	depth int // of open blocks

	args []Word       // the arguments of the directive being read
	kids []*Directive // the children of every open block, innermost last

	// The AST is carved out of these slabs to save allocations. Every
	// slice handed out has its capacity capped at its length, so that
	// appending to it copies instead of overwriting a neighbour.
	dslab slab[Directive]
	wslab slab[Word]
	pslab slab[*Directive]
}

func (p *parser) advance() { p.tok = p.lx.next() }

func (p *parser) pos(t token) Pos { return Pos{File: p.lx.file, Line: t.line, Col: t.col} }

func (p *parser) errorf(pos Pos, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// block parses directives up to the "}" that closes open's block, which
// it consumes, or up to the end of the input when open is nil.
func (p *parser) block(open *Directive) []*Directive {
	if open != nil {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxNesting {
			p.errorf(open.Pos, "blocks nested too deeply (more than %d levels)", maxNesting)
			p.giveUp()
			return []*Directive{}
		}
	}
	base := len(p.kids)
	for {
		switch p.tok.kind {
		case tokWord:
			d := p.directive()
			p.kids = append(p.kids, d)
		case tokRBrace:
			if open != nil {
				p.advance()
				return p.takeKids(base)
			}
			p.errorf(p.pos(p.tok), `unexpected "}" outside any block`)
			p.advance()
		case tokSemi:
			p.errorf(p.pos(p.tok), `unexpected ";", expected a directive name`)
			p.advance()
		case tokLBrace:
			// A block without a name: report it, and parse and drop its
			// contents so that its "}" closes it.
			p.errorf(p.pos(p.tok), `unexpected "{", expected a directive name`)
			anon := &Directive{Pos: p.pos(p.tok)}
			p.advance()
			p.block(anon)
		case tokEOF:
			if open != nil && !p.lx.brokenEOF {
				if open.Name == "" {
					p.errorf(open.Pos, `unclosed "{": missing "}" before end of file`)
				} else {
					p.errorf(open.Pos, `unclosed block %s: missing "}" before end of file`, strconv.Quote(open.Name))
				}
			}
			if open == nil && len(p.kids) == base {
				return nil
			}
			return p.takeKids(base)
		}
	}
}

// directive parses "name args... ;" or "name args... { block }", starting
// at its name, the current token.
func (p *parser) directive() *Directive {
	d := p.newDirective()
	d.Name = p.tok.val
	d.Pos = p.pos(p.tok)
	if p.tok.quoted {
		p.errorf(d.Pos, "directive name %s must not be quoted", strconv.Quote(d.Name))
	}
	p.advance()
	for p.tok.kind == tokWord {
		p.args = append(p.args, Word{Value: p.tok.val, Quoted: p.tok.quoted, Pos: p.pos(p.tok)})
		p.advance()
	}
	d.Args = p.takeArgs()
	switch p.tok.kind {
	case tokSemi:
		p.advance()
	case tokLBrace:
		p.advance()
		d.Block = p.block(d)
	default: // "}" or the end of the input: leave it to the block
		if p.tok.kind == tokEOF && p.lx.brokenEOF {
			break
		}
		after := strconv.Quote(d.Name)
		if len(d.Args) > 0 {
			after = "the arguments of " + after
		}
		p.errorf(p.pos(p.tok), `expected ";" or "{" after %s, found %s`, after, p.tok)
	}
	return d
}

// giveUp stops parsing: the lexer is moved to the end of its input, and
// the end of file is not reported as a further error.
func (p *parser) giveUp() {
	p.lx.off = len(p.lx.src)
	p.lx.brokenEOF = true
	p.advance()
}

func (p *parser) newDirective() *Directive { return &p.dslab.take(1)[0] }

// takeArgs returns a copy of p.args, or nil when it is empty, and empties
// p.args.
func (p *parser) takeArgs() []Word {
	if len(p.args) == 0 {
		return nil
	}
	ws := p.wslab.take(len(p.args))
	copy(ws, p.args)
	clear(p.args)
	p.args = p.args[:0]
	return ws
}

// takeKids returns a copy of p.kids[base:], never nil, and truncates
// p.kids to base.
func (p *parser) takeKids(base int) []*Directive {
	if len(p.kids) == base {
		return []*Directive{}
	}
	ds := p.pslab.take(len(p.kids) - base)
	copy(ds, p.kids[base:])
	clear(p.kids[base:])
	p.kids = p.kids[:base]
	return ds
}

// slab hands out slices carved from larger allocations. Its zero value is
// ready to use.
type slab[T any] struct {
	free []T
	size int // of the last allocation
}

// take returns a zeroed slice of length and capacity n.
func (s *slab[T]) take(n int) []T {
	if len(s.free) < n {
		// Start small, for the common small file, and double up to a
		// bound.
		s.size = min(max(2*s.size, 16), 1024)
		s.free = make([]T, max(n, s.size))
	}
	x := s.free[:n:n]
	s.free = s.free[n:]
	return x
}
