package confparse_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/phalanx-lb/phalanx/confparse"
)

// dumpAST prints ds one directive a line, with the position of every name
// and argument: "L:C name L:C arg ... ;" or "... {" then the block, indented
// by two spaces, and "}". Quoted arguments are printed in quotes.
func dumpAST(ds []*confparse.Directive) string {
	var b strings.Builder
	var dump func(ds []*confparse.Directive, depth int)
	dump = func(ds []*confparse.Directive, depth int) {
		for _, d := range ds {
			fmt.Fprintf(&b, "%s%d:%d %s", strings.Repeat("  ", depth), d.Pos.Line, d.Pos.Col, d.Name)
			for _, a := range d.Args {
				v := a.Value
				if a.Quoted {
					v = fmt.Sprintf("%q", v)
				}
				fmt.Fprintf(&b, " %d:%d %s", a.Pos.Line, a.Pos.Col, v)
			}
			if !d.IsBlock() {
				b.WriteString(" ;\n")
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

// stripPos returns a copy of ds with every position zeroed, to compare
// directives regardless of where they were written.
func stripPos(ds []*confparse.Directive) []*confparse.Directive {
	if ds == nil {
		return nil
	}
	out := make([]*confparse.Directive, len(ds))
	for i, d := range ds {
		c := &confparse.Directive{Name: d.Name, Block: stripPos(d.Block)}
		if d.Args != nil {
			c.Args = make([]confparse.Word, len(d.Args))
			for j, a := range d.Args {
				c.Args[j] = confparse.Word{Value: a.Value, Quoted: a.Quoted}
			}
		}
		out[i] = c
	}
	return out
}

func equalIgnoringPos(a, b []*confparse.Directive) bool {
	return reflect.DeepEqual(stripPos(a), stripPos(b))
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{
			name: "empty",
			src:  "",
			want: "",
		},
		{
			name: "only comments",
			src:  "# nothing\n   # here\n",
			want: "",
		},
		{
			name: "simple directives",
			src:  "worker_threads 4;\nadmin_bind 127.0.0.1:9090;",
			want: "1:1 worker_threads 1:16 4 ;\n2:1 admin_bind 2:12 127.0.0.1:9090 ;\n",
		},
		{
			name: "no arguments",
			src:  "backup;",
			want: "1:1 backup ;\n",
		},
		{
			name: "empty block versus no block",
			src:  "a {}\na;\nb{ }",
			want: "1:1 a {\n}\n2:1 a ;\n3:1 b {\n}\n",
		},
		{
			name: "nested blocks",
			src: `http {
    upstream app {
        server 10.0.0.1:8000 weight=2;
    }
    server {
        listen 8080;
        route /api {
            upstream app;
        }
    }
}
`,
			want: `1:1 http {
  2:5 upstream 2:14 app {
    3:9 server 3:16 10.0.0.1:8000 3:30 weight=2 ;
  }
  5:5 server {
    6:9 listen 6:16 8080 ;
    7:9 route 7:15 /api {
      8:13 upstream 8:22 app ;
    }
  }
}
`,
		},
		{
			name: "CRLF and comments at line ends",
			src:  "http { # main\r\n\tserver {\r\n\t\tlisten 80; # port\r\n\t}\r\n}\r\n",
			want: "1:1 http {\n  2:2 server {\n    3:3 listen 3:10 80 ;\n  }\n}\n",
		},
		{
			name: "hash inside words and strings",
			src:  `add_header X-A a#b; add_header X-B "c # d"; # e`,
			want: "1:1 add_header 1:12 X-A 1:16 a#b ;\n1:21 add_header 1:32 X-B 1:36 \"c # d\" ;\n",
		},
		{
			name: "quoted arguments and escapes",
			src:  "add_header X-Q \"say \\\"hi\\\"\\n\" '';\nroot 'C:\\\\www';",
			want: "1:1 add_header 1:12 X-Q 1:16 \"say \\\"hi\\\"\\n\" 1:31 \"\" ;\n2:1 root 2:6 \"C:\\\\www\" ;\n",
		},
		{
			name: "quoted brace is an argument",
			src:  `a "{" '}' ";";`,
			want: "1:1 a 1:3 \"{\" 1:7 \"}\" 1:11 \";\" ;\n",
		},
		{
			name: "any key value form",
			src:  "health_check interval=5s timeout=2s rise=2 fall=3;\nfastcgi_pass unix:/run/php.sock;",
			want: "1:1 health_check 1:14 interval=5s 1:26 timeout=2s 1:37 rise=2 1:44 fall=3 ;\n2:1 fastcgi_pass 2:14 unix:/run/php.sock ;\n",
		},
		{
			name: "include is an ordinary directive",
			src:  "include conf.d/*.conf;",
			want: "1:1 include 1:9 conf.d/*.conf ;\n",
		},
		{
			name: "block with arguments and no spaces",
			src:  "route /a{upstream b;}route /c{}",
			want: "1:1 route 1:7 /a {\n  1:10 upstream 1:19 b ;\n}\n1:22 route 1:28 /c {\n}\n",
		},
		{
			name: "multi-line argument list",
			src:  "server_name\n    a.example.com\n    b.example.com\n    ;",
			want: "1:1 server_name 2:5 a.example.com 3:5 b.example.com ;\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := confparse.Parse("f", []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse(%q) error = %v, want nil", tt.src, err)
			}
			if got := dumpAST(ds); got != tt.want {
				t.Errorf("Parse(%q) =\n%s\nwant\n%s", tt.src, got, tt.want)
			}
			for _, d := range ds {
				if d.Pos.File != "f" {
					t.Errorf("Parse(%q): Pos.File = %q, want %q", tt.src, d.Pos.File, "f")
				}
			}
		})
	}
}

func TestParseBlockNilness(t *testing.T) {
	ds, err := confparse.Parse("f", []byte("a {}\nb;\nc { d; }"))
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Block == nil || len(ds[0].Block) != 0 {
		t.Errorf(`Parse("a {}").Block = %#v, want empty and non-nil`, ds[0].Block)
	}
	if ds[1].Block != nil || ds[1].IsBlock() {
		t.Errorf(`Parse("b;").Block = %#v, want nil`, ds[1].Block)
	}
	if ds[1].Args != nil {
		t.Errorf(`Parse("b;").Args = %#v, want nil`, ds[1].Args)
	}
	// The slices are carved from shared slabs; appending to one must not
	// overwrite its neighbour.
	_ = append(ds[2].Block, &confparse.Directive{Name: "x"})
	ds[0].Args = append(ds[0].Args, confparse.Word{Value: "x"})
	if got := string(confparse.Format(ds)); got != "a x {}\n\nb;\n\nc {\n    d;\n}\n" {
		t.Errorf("Format after appends = %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // every error, one a line
	}{
		{
			name: "missing semicolon before brace",
			src:  "server {\n    listen 80\n}\n",
			want: `f:3:1: expected ";" or "{" after the arguments of "listen", found "}"`,
		},
		{
			name: "missing semicolon without arguments",
			src:  "server { backup }",
			want: `f:1:17: expected ";" or "{" after "backup", found "}"`,
		},
		{
			name: "missing semicolon at end of file",
			src:  "worker_threads 4",
			want: `f:1:17: expected ";" or "{" after the arguments of "worker_threads", found end of file`,
		},
		{
			name: "unexpected closing brace",
			src:  "a;\n}\nb;",
			want: `f:2:1: unexpected "}" outside any block`,
		},
		{
			name: "unclosed block",
			src:  "http {\n    server {\n        listen 80;\n    }\n",
			want: `f:1:1: unclosed block "http": missing "}" before end of file`,
		},
		{
			name: "unclosed nested blocks",
			src:  "http {\n  server {\n    route / {\n",
			want: "f:1:1: unclosed block \"http\": missing \"}\" before end of file\n" +
				"f:2:3: unclosed block \"server\": missing \"}\" before end of file\n" +
				"f:3:5: unclosed block \"route\": missing \"}\" before end of file",
		},
		{
			name: "quoted directive name",
			src:  "\"listen\" 80;\n'a' { b; }",
			want: "f:1:1: directive name \"listen\" must not be quoted\n" +
				"f:2:1: directive name \"a\" must not be quoted",
		},
		{
			name: "missing directive name",
			src:  "a;\n; b;\n{ c; }\nd;",
			want: "f:2:1: unexpected \";\", expected a directive name\n" +
				"f:3:1: unexpected \"{\", expected a directive name",
		},
		{
			name: "unclosed anonymous block",
			src:  "{",
			want: "f:1:1: unexpected \"{\", expected a directive name\n" +
				"f:1:1: unclosed \"{\": missing \"}\" before end of file",
		},
		{
			name: "unterminated string is reported once",
			src:  "server {\n    add_header X \"v;\n}\n",
			want: `f:2:18: unterminated quoted string`,
		},
		{
			name: "missing space after string",
			src:  `add_header X "a"b;`,
			want: `f:1:17: missing space after quoted string`,
		},
		{
			name: "quote inside word",
			src:  `add_header X a"b";`,
			want: `f:1:15: quote inside the word "a"; quote the whole word instead`,
		},
		{
			name: "NUL byte",
			src:  "a;\nb\x00;",
			want: `f:2:2: NUL byte in input`,
		},
		{
			name: "invalid UTF-8",
			src:  "a \xc3;",
			want: `f:1:3: invalid UTF-8 encoding`,
		},
		{
			name: "several mistakes, sorted by position",
			src:  "http {\n    server {\n        listen 80\n    }\n    \"route\" / {}\n}\n}\nx 'y\n",
			want: "f:4:5: expected \";\" or \"{\" after the arguments of \"listen\", found \"}\"\n" +
				"f:5:5: directive name \"route\" must not be quoted\n" +
				"f:7:1: unexpected \"}\" outside any block\n" +
				"f:8:3: unterminated quoted string",
		},
		{
			name: "nesting bound",
			src:  strings.Repeat("a {", 101) + strings.Repeat("}", 101),
			want: "f:1:301: blocks nested too deeply (more than 100 levels)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := confparse.Parse("f", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse(%q) error = nil, want %q", tt.src, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%q) error =\n%s\nwant\n%s", tt.src, got, tt.want)
			}
			if _, ok := err.(confparse.ErrorList); !ok {
				t.Errorf("Parse(%q) error is %T, want ErrorList", tt.src, err)
			}
		})
	}
}

// TestParseRecovers checks that what follows a mistake is still parsed.
func TestParseRecovers(t *testing.T) {
	src := "a {\n    b 1\n}\nc 2;\n} d;\n"
	ds, err := confparse.Parse("f", []byte(src))
	if err == nil {
		t.Fatalf("Parse(%q) error = nil, want two errors", src)
	}
	want := "1:1 a {\n  2:5 b 2:7 1 ;\n}\n4:1 c 4:3 2 ;\n5:3 d ;\n"
	if got := dumpAST(ds); got != want {
		t.Errorf("Parse(%q) =\n%s\nwant\n%s", src, got, want)
	}
}
