package confparse

import (
	"fmt"
	"strings"
)

// Pos is a position in a configuration file. Line and Col count from 1;
// Col counts bytes.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats p as FILE:LINE:COL.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Word is one argument of a directive, unquoted and unescaped.
type Word struct {
	Value string
	// Quoted reports whether the word was written in quotes. A quoted word
	// is never taken for a block keyword.
	Quoted bool
	Pos    Pos
}

// Directive is "name args...;" or "name args... { block }".
type Directive struct {
	Name string
	Args []Word
	// Block holds the child directives of a block directive. It is nil for
	// a simple directive and non-nil (possibly empty) for a block, so that
	// "a {}" and "a;" differ.
	Block []*Directive
	Pos   Pos
}

// IsBlock reports whether d has a block.
func (d *Directive) IsBlock() bool { return d.Block != nil }

// ArgValues returns the values of d's arguments.
func (d *Directive) ArgValues() []string {
	vs := make([]string, len(d.Args))
	for i, a := range d.Args {
		vs[i] = a.Value
	}
	return vs
}

// Error is one problem found in a configuration, at a position.
type Error struct {
	Pos Pos
	Msg string
}

// Error formats e as "FILE:LINE:COL: message".
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every problem found, in file order. It is returned as an
// error when not empty.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
