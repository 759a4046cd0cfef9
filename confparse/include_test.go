package confparse_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/phalanx-lb/phalanx/confparse"
)

// writeConfTree writes files (slash-separated names relative to dir, to
// contents) under dir.
func writeConfTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// dumpWithFiles is dumpAST with the file of each directive and argument,
// relative to dir.
func dumpWithFiles(ds []*confparse.Directive, dir string) string {
	var b strings.Builder
	var dump func(ds []*confparse.Directive, depth int)
	rel := func(p confparse.Pos) string {
		f, err := filepath.Rel(dir, p.File)
		if err != nil {
			f = p.File
		}
		return fmt.Sprintf("%s:%d:%d", filepath.ToSlash(f), p.Line, p.Col)
	}
	dump = func(ds []*confparse.Directive, depth int) {
		for _, d := range ds {
			fmt.Fprintf(&b, "%s%s %s", strings.Repeat("  ", depth), rel(d.Pos), d.Name)
			for _, a := range d.Args {
				fmt.Fprintf(&b, " %s", a.String())
				if a.Pos.File != d.Pos.File {
					fmt.Fprintf(&b, "(in %s)", a.Pos.File)
				}
			}
			if !d.IsBlock() {
				b.WriteString(";\n")
				continue
			}
			b.WriteString(" {\n")
			dump(d.Block, depth+1)
			fmt.Fprintf(&b, "%s}\n", strings.Repeat("  ", depth))
		}
	}
	dump(ds, 0)
	return b.String()
}

// relErr is err's text with dir and the path separator removed from file
// names.
func relErr(err error, dir string) string {
	if err == nil {
		return "<nil>"
	}
	return filepath.ToSlash(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""))
}

func TestInclude(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string // main.conf is parsed
		want    string            // dumpWithFiles
		wantErr string            // relErr, "" for none
	}{
		{
			name: "relative at the top",
			files: map[string]string{
				"main.conf":   "a;\ninclude extra.conf;\nb;",
				"extra.conf":  "x 1;\ny {\n  z;\n}\n",
				"unused.conf": "nope;",
			},
			want: "main.conf:1:1 a;\nextra.conf:1:1 x 1;\nextra.conf:2:1 y {\n  extra.conf:3:3 z;\n}\nmain.conf:3:1 b;\n",
		},
		{
			name: "glob in sorted order, skipping dot files",
			files: map[string]string{
				"main.conf":          "include conf.d/*.conf;",
				"conf.d/b.conf":      "b;",
				"conf.d/a.conf":      "a;",
				"conf.d/c.conf":      "c;",
				"conf.d/.#a.conf":    "lock;",
				"conf.d/notes.txt":   "txt;",
				"conf.d/10-x.conf":   "ten;",
				"conf.d/sub/d.conf":  "sub;",
				"conf.d/.hidden.txt": "hidden;",
			},
			want: "conf.d/10-x.conf:1:1 ten;\nconf.d/a.conf:1:1 a;\nconf.d/b.conf:1:1 b;\nconf.d/c.conf:1:1 c;\n",
		},
		{
			name: "explicit dot in the pattern matches dot files",
			files: map[string]string{
				"main.conf":    "include .*.conf;",
				".hidden.conf": "h;",
			},
			want: ".hidden.conf:1:1 h;\n",
		},
		{
			name: "glob matching nothing is fine",
			files: map[string]string{
				"main.conf": "a;\ninclude none.d/*.conf;\nb;",
			},
			want: "main.conf:1:1 a;\nmain.conf:3:1 b;\n",
		},
		{
			name: "nested, relative to the including file",
			files: map[string]string{
				"main.conf":       "include sites/site.conf;",
				"sites/site.conf": "server {\n    include routes.conf;\n}",
				"sites/routes.conf": "route / {\n    upstream app;\n}\n" +
					"route /b { include ../common/*.conf; }",
				"common/h.conf": "add_header X-A b;",
			},
			want: "sites/site.conf:1:1 server {\n" +
				"  sites/routes.conf:1:1 route / {\n" +
				"    sites/routes.conf:2:5 upstream app;\n" +
				"  }\n" +
				"  sites/routes.conf:4:1 route /b {\n" +
				"    common/h.conf:1:1 add_header X-A b;\n" +
				"  }\n" +
				"}\n",
		},
		{
			name: "inside a block, among siblings",
			files: map[string]string{
				"main.conf":    "http {\n    server {\n        listen 80;\n        include r/*.conf;\n        server_name a;\n    }\n}",
				"r/1.conf":     "route /1 {}",
				"r/2.conf":     "route /2 {}",
				"r/empty.conf": "# nothing\n",
			},
			want: "main.conf:1:1 http {\n" +
				"  main.conf:2:5 server {\n" +
				"    main.conf:3:9 listen 80;\n" +
				"    r/1.conf:1:1 route /1 {\n    }\n" +
				"    r/2.conf:1:1 route /2 {\n    }\n" +
				"    main.conf:5:9 server_name a;\n" +
				"  }\n" +
				"}\n",
		},
		{
			name: "a block left empty by an include is still a block",
			files: map[string]string{
				"main.conf": "server { include none/*.conf; }",
			},
			want: "main.conf:1:1 server {\n}\n",
		},
		{
			name: "the same file twice is no cycle",
			files: map[string]string{
				"main.conf":   "server { include common.conf; }\nserver { include common.conf; }",
				"common.conf": "listen 80;",
			},
			want: "main.conf:1:1 server {\n  common.conf:1:1 listen 80;\n}\n" +
				"main.conf:2:1 server {\n  common.conf:1:1 listen 80;\n}\n",
		},
		{
			name: "missing literal file",
			files: map[string]string{
				"main.conf": "a;\ninclude missing.conf;\nb;",
			},
			want:    "main.conf:1:1 a;\nmain.conf:3:1 b;\n",
			wantErr: `main.conf:2:1: include: no file matches "missing.conf"`,
		},
		{
			name: "direct cycle",
			files: map[string]string{
				"main.conf": "include main.conf;",
			},
			wantErr: "main.conf:1:1: include cycle: main.conf -> main.conf",
		},
		{
			name: "glob that matches the including file",
			files: map[string]string{
				"main.conf":  "include *.conf;",
				"other.conf": "o;",
			},
			want:    "other.conf:1:1 o;\n",
			wantErr: "main.conf:1:1: include cycle: main.conf -> main.conf",
		},
		{
			name: "indirect cycle",
			files: map[string]string{
				"main.conf": "include a.conf;",
				"a.conf":    "a;\ninclude b/b.conf;",
				"b/b.conf":  "b;\n  include ../a.conf;",
			},
			want:    "a.conf:1:1 a;\nb/b.conf:1:1 b;\n",
			wantErr: "b/b.conf:2:3: include cycle: a.conf -> b/b.conf -> a.conf",
		},
		{
			name: "wrong forms",
			files: map[string]string{
				"main.conf": "include;\ninclude a b;\ninclude c {}\n",
			},
			wantErr: "main.conf:1:1: include takes one file name or pattern and ends with \";\"\n" +
				"main.conf:2:1: include takes one file name or pattern and ends with \";\"\n" +
				"main.conf:3:1: include takes one file name or pattern and ends with \";\"",
		},
		{
			name: "bad pattern",
			files: map[string]string{
				"main.conf": "include [;",
			},
			wantErr: `main.conf:1:1: include: bad pattern "[": syntax error in pattern`,
		},
		{
			name: "directory",
			files: map[string]string{
				"main.conf":  "include d;",
				"d/a.conf":   "a;",
				"d/b/c.conf": "c;",
			},
			wantErr: "main.conf:1:1: include: read d: is a directory",
		},
		{
			name: "errors in reading order",
			files: map[string]string{
				"main.conf": "a 'x'y;\ninclude bad.conf;\n}\n",
				"bad.conf":  "listen 80\n",
			},
			want: "main.conf:1:1 a \"x\" y;\nbad.conf:1:1 listen 80;\n",
			wantErr: "main.conf:1:6: missing space after quoted string\n" +
				"bad.conf:2:1: expected \";\" or \"{\" after the arguments of \"listen\", found end of file\n" +
				"main.conf:3:1: unexpected \"}\" outside any block",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeConfTree(t, dir, tt.files)
			ds, err := confparse.ParseFile(filepath.Join(dir, "main.conf"))
			if got := relErr(err, dir); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && got != tt.wantErr) {
				t.Errorf("ParseFile error =\n%s\nwant\n%s", got, tt.wantErr)
			}
			if got := dumpWithFiles(ds, dir); got != tt.want {
				t.Errorf("ParseFile =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestIncludeRelativeRoot(t *testing.T) {
	dir := t.TempDir()
	writeConfTree(t, dir, map[string]string{
		"etc/phalanx.conf":      "include conf.d/*.conf;",
		"etc/conf.d/a.conf":     "a;",
		"etc/conf.d/b/inc.conf": "b;",
	})
	t.Chdir(dir)
	ds, err := confparse.ParseFile("etc/phalanx.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ds[0].Pos.String(), filepath.FromSlash("etc/conf.d/a.conf")+":1:1"; got != want {
		t.Errorf("ParseFile: included Pos = %s, want %s", got, want)
	}
}

func TestIncludeAbsolute(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "lib", "abs.conf")
	writeConfTree(t, dir, map[string]string{
		"main.conf":    fmt.Sprintf("include %q;", abs),
		"lib/abs.conf": "x;",
	})
	ds, err := confparse.ParseFile(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Name != "x" || ds[0].Pos.File != abs {
		t.Errorf("ParseFile = %s, want x from %s", dumpAST(ds), abs)
	}
}

// TestIncludeMetaInDir checks that glob metacharacters in the directory of
// the including file are taken literally.
func TestIncludeMetaInDir(t *testing.T) {
	if filepath.Separator == '\\' {
		t.Skip("no escapes in Windows glob patterns")
	}
	dir := t.TempDir()
	writeConfTree(t, dir, map[string]string{
		"[x]/main.conf":   "include *.inc;",
		"[x]/a.inc":       "a;",
		"x/b.inc":         "wrong;",
		"[x]/sub?/c.conf": "c;",
	})
	ds, err := confparse.ParseFile(filepath.Join(dir, "[x]", "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dumpWithFiles(ds, dir), "[x]/a.inc:1:1 a;\n"; got != want {
		t.Errorf("ParseFile =\n%s\nwant\n%s", got, want)
	}
}

func TestIncludeDepth(t *testing.T) {
	files := map[string]string{}
	for i := range 18 {
		files[fmt.Sprintf("f%d.conf", i)] = fmt.Sprintf("d%d;\ninclude f%d.conf;", i, i+1)
	}
	dir := t.TempDir()
	writeConfTree(t, dir, files)
	ds, err := confparse.ParseFile(filepath.Join(dir, "f0.conf"))
	want := "f16.conf:2:1: include: nested more than 16 levels deep"
	if got := relErr(err, dir); got != want {
		t.Errorf("ParseFile error = %s, want %s", got, want)
	}
	// f0 to f16: the top file and 16 levels of includes.
	if len(ds) != 17 || ds[16].Name != "d16" {
		t.Errorf("ParseFile = %d directives, want 17, the last d16:\n%s", len(ds), dumpWithFiles(ds, dir))
	}
}

func TestIncludeFileCount(t *testing.T) {
	fsys := fstest.MapFS{"main.conf": {Data: []byte("include d/*.conf;")}}
	for i := range 1000 {
		fsys[fmt.Sprintf("d/%04d.conf", i)] = &fstest.MapFile{Data: []byte("x;")}
	}
	ds, err := confparse.ParseFS(fsys, "main.conf")
	if got, want := fmt.Sprint(err), "main.conf:1:1: include: more than 1000 files"; got != want {
		t.Errorf("ParseFS error = %s, want %s", got, want)
	}
	if len(ds) != 999 {
		t.Errorf("ParseFS = %d directives, want 999", len(ds))
	}
}

func TestParseFileMissing(t *testing.T) {
	_, err := confparse.ParseFile(filepath.Join(t.TempDir(), "nope.conf"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ParseFile(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func TestParseFS(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/phalanx.conf":   {Data: []byte("http {\n    include /shared/*.conf;\n    include sites/a.conf;\n}\n")},
		"shared/up.conf":     {Data: []byte("upstream app { server 10.0.0.1:80; }")},
		"etc/sites/a.conf":   {Data: []byte("server { include ../loop.conf; }")},
		"etc/loop.conf":      {Data: []byte("include sites/a.conf;")},
		"etc/sites/b.conf":   {Data: []byte("unused;")},
		"shared/.skip.conf":  {Data: []byte("skip;")},
		"shared/other.confx": {Data: []byte("skip;")},
	}
	ds, err := confparse.ParseFS(fsys, "etc/phalanx.conf")
	wantErr := "etc/loop.conf:1:1: include cycle: etc/sites/a.conf -> etc/loop.conf -> etc/sites/a.conf"
	if got := fmt.Sprint(err); got != wantErr {
		t.Errorf("ParseFS error = %s, want %s", got, wantErr)
	}
	want := "etc/phalanx.conf:1:1 http {\n" +
		"  shared/up.conf:1:1 upstream app {\n" +
		"    shared/up.conf:1:16 server 10.0.0.1:80;\n" +
		"  }\n" +
		"  etc/sites/a.conf:1:1 server {\n" +
		"  }\n" +
		"}\n"
	if got := dumpWithFiles(ds, "."); got != want {
		t.Errorf("ParseFS =\n%s\nwant\n%s", got, want)
	}
}
