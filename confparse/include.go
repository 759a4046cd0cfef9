package confparse

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Limits on include expansion.
const (
	// maxIncludeDepth is how deeply includes may nest: the top file may
	// include a file, which may include another, and so on, to a chain of
	// this many include directives.
	maxIncludeDepth = 16
	// maxIncludeFiles is how many files, the top one included, one
	// ParseFile may read.
	maxIncludeFiles = 1000
)

// ParseFile reads and parses the configuration file at path, and expands
// every "include PATTERN;" directive, at any level, in place: the
// directives of the files that PATTERN names replace it, in the sorted
// order of their names. See the package documentation for the rules.
//
// An error reading path itself is returned as it is (wrapped, so that
// errors.Is(err, fs.ErrNotExist) works). Every other problem, in path or
// in an included file, is returned in an ErrorList, in reading order, with
// what could be parsed.
func ParseFile(path string) ([]*Directive, error) {
	return parseTree(osIncludeFS{}, path)
}

// ParseFS is ParseFile over fsys, for configurations embedded in the
// program or kept in memory. Names are slash-separated as fs.FS wants; an
// include pattern that starts with "/" is taken from the root of fsys.
func ParseFS(fsys fs.FS, name string) ([]*Directive, error) {
	return parseTree(fsIncludeFS{fsys}, name)
}

// includeFS is the file system includes are read from: the operating
// system's, or an fs.FS.
type includeFS interface {
	readFile(name string) ([]byte, error)
	// resolve returns the name, or for glob the pattern, that pattern
	// means in an include in the file named from.
	resolve(from, pattern string, glob bool) string
	glob(pattern string) ([]string, error)
	// hasMeta reports whether pattern is a glob pattern rather than a
	// file name.
	hasMeta(pattern string) bool
	// key identifies the file name, to detect include cycles.
	key(name string) string
}

func parseTree(fsys includeFS, name string) ([]*Directive, error) {
	src, err := fsys.readFile(name)
	if err != nil {
		return nil, fmt.Errorf("confparse: %w", err)
	}
	in := &includer{fsys: fsys, files: 1}
	ds := in.file(src, []includeFrame{{name: name, key: fsys.key(name)}})
	return ds, in.errs.Err()
}

// includer expands the includes of one ParseFile or ParseFS.
type includer struct {
	fsys    includeFS
	files   int // read so far
	tooMany bool
	errs    ErrorList
}

// includeFrame is one file of the chain of includes being expanded.
type includeFrame struct {
	name string // as given, for positions and messages
	key  string
}

// includeFile is the state of one file being expanded.
type includeFile struct {
	// stack is the chain of includes from the top file to this one,
	// which is last.
	stack []includeFrame
	// pending holds this file's syntax errors that are not yet in
	// includer.errs, sorted. They are moved there as expansion passes
	// them, so that errors come in reading order.
	pending ErrorList
}

func (in *includer) errorf(pos Pos, format string, args ...any) {
	in.errs = append(in.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// file parses src, the file last in stack, and expands its includes.
func (in *includer) file(src []byte, stack []includeFrame) []*Directive {
	ds, err := Parse(stack[len(stack)-1].name, src)
	f := &includeFile{stack: stack}
	if err != nil {
		f.pending = err.(ErrorList)
	}
	ds = in.expand(ds, f)
	in.errs = append(in.errs, f.pending...)
	return ds
}

// expand returns ds with its includes, and those in its blocks, replaced
// by what they include. It changes the blocks of ds in place but not ds.
func (in *includer) expand(ds []*Directive, f *includeFile) []*Directive {
	var out []*Directive // a copy of ds, once an include is met
	for i, d := range ds {
		if d.Name != "include" {
			if d.Block != nil {
				d.Block = in.expand(d.Block, f)
			}
			if out != nil {
				out = append(out, d)
			}
			continue
		}
		if out == nil {
			out = append(make([]*Directive, 0, len(ds)), ds[:i]...)
		}
		// Report this file's syntax errors up to the include before
		// the errors of what it includes.
		n := 0
		for n < len(f.pending) && posLess(f.pending[n].Pos, d.Pos) {
			n++
		}
		in.errs = append(in.errs, f.pending[:n]...)
		f.pending = f.pending[n:]

		out = append(out, in.include(d, f)...)
	}
	if out == nil {
		return ds
	}
	return out
}

func posLess(a, b Pos) bool { return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col }

// include returns the directives that the include directive d, in the
// file f, stands for.
func (in *includer) include(d *Directive, f *includeFile) []*Directive {
	if len(d.Args) != 1 || d.Block != nil {
		in.errorf(d.Pos, `include takes one file name or pattern and ends with ";"`)
		return nil
	}
	pattern := d.Args[0].Value
	from := f.stack[len(f.stack)-1].name
	glob := in.fsys.hasMeta(pattern)
	var names []string
	if glob {
		matches, err := in.fsys.glob(in.fsys.resolve(from, pattern, true))
		if err != nil {
			in.errorf(d.Pos, "include: bad pattern %q: %v", pattern, err)
			return nil
		}
		// As glob(3), which nginx uses, "*" and "?" do not match a
		// leading dot, so that "*.conf" skips editor lock files such as
		// ".#a.conf".
		dotted := strings.HasPrefix(path.Base(filepath.ToSlash(pattern)), ".")
		for _, m := range matches {
			if dotted || !strings.HasPrefix(filepath.Base(m), ".") {
				names = append(names, m)
			}
		}
		slices.Sort(names)
	} else {
		names = []string{in.fsys.resolve(from, pattern, false)}
	}

	var out []*Directive
	for _, name := range names {
		key := in.fsys.key(name)
		if i := slices.IndexFunc(f.stack, func(fr includeFrame) bool { return fr.key == key }); i >= 0 {
			chain := make([]string, 0, len(f.stack)-i+1)
			for _, fr := range f.stack[i:] {
				chain = append(chain, fr.name)
			}
			chain = append(chain, name)
			in.errorf(d.Pos, "include cycle: %s", strings.Join(chain, " -> "))
			continue
		}
		if len(f.stack) > maxIncludeDepth {
			in.errorf(d.Pos, "include: nested more than %d levels deep", maxIncludeDepth)
			return out
		}
		if in.files >= maxIncludeFiles {
			if !in.tooMany {
				in.errorf(d.Pos, "include: more than %d files", maxIncludeFiles)
				in.tooMany = true
			}
			return out
		}
		src, err := in.fsys.readFile(name)
		if err != nil {
			if !glob && errors.Is(err, fs.ErrNotExist) {
				in.errorf(d.Pos, "include: no file matches %q", name)
			} else {
				in.errorf(d.Pos, "include: %v", err)
			}
			continue
		}
		in.files++
		stack := append(f.stack[:len(f.stack):len(f.stack)], includeFrame{name: name, key: key})
		out = append(out, in.file(src, stack)...)
	}
	return out
}

// osIncludeFS is the operating system's file system.
type osIncludeFS struct{}

// windowsPaths is whether paths are Windows paths, where a backslash is a
// separator rather than an escape in glob patterns.
const windowsPaths = filepath.Separator == '\\'

func (osIncludeFS) readFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (osIncludeFS) resolve(from, pattern string, glob bool) string {
	if filepath.IsAbs(pattern) {
		return pattern
	}
	dir := filepath.Dir(from)
	if glob && !windowsPaths {
		dir = escapeMeta(dir)
	}
	return filepath.Join(dir, pattern)
}

func (osIncludeFS) glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

func (osIncludeFS) hasMeta(pattern string) bool {
	if windowsPaths {
		return strings.ContainsAny(pattern, "*?[")
	}
	return strings.ContainsAny(pattern, `*?[\`)
}

func (osIncludeFS) key(name string) string {
	if abs, err := filepath.Abs(name); err == nil {
		return abs
	}
	return filepath.Clean(name)
}

// fsIncludeFS is an fs.FS.
type fsIncludeFS struct{ fsys fs.FS }

func (f fsIncludeFS) readFile(name string) ([]byte, error) { return fs.ReadFile(f.fsys, name) }

func (fsIncludeFS) resolve(from, pattern string, glob bool) string {
	if strings.HasPrefix(pattern, "/") {
		return path.Clean(strings.TrimLeft(pattern, "/"))
	}
	dir := path.Dir(from)
	if glob {
		dir = escapeMeta(dir)
	}
	return path.Join(dir, pattern)
}

func (f fsIncludeFS) glob(pattern string) ([]string, error) { return fs.Glob(f.fsys, pattern) }

func (fsIncludeFS) hasMeta(pattern string) bool { return strings.ContainsAny(pattern, `*?[\`) }

func (fsIncludeFS) key(name string) string { return path.Clean(name) }

// escapeMeta escapes the glob metacharacters of a directory name, so that
// a pattern relative to it matches only in it.
func escapeMeta(dir string) string {
	if !strings.ContainsAny(dir, `*?[\`) {
		return dir
	}
	var b strings.Builder
	for i := 0; i < len(dir); i++ {
		if strings.IndexByte(`*?[\`, dir[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(dir[i])
	}
	return b.String()
}
