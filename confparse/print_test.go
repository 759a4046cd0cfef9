package confparse_test

import (
	"testing"

	"github.com/phalanx-lb/phalanx/confparse"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{
			name: "empty",
			src:  "# only a comment\n",
			want: "",
		},
		{
			name: "layout",
			src: "worker_threads   4 ;  # four\r\nupstream app{server a:1 weight=2;server b:1 backup;}" +
				"http{server{listen 80;server_name a b;route /{upstream app;}route /s{}}}",
			want: `worker_threads 4;

upstream app {
    server a:1 weight=2;
    server b:1 backup;
}

http {
    server {
        listen 80;
        server_name a b;

        route / {
            upstream app;
        }

        route /s {}
    }
}
`,
		},
		{
			name: "quoted words keep their quotes",
			src:  `add_header X-N "v"; root '/srv/www';`,
			want: "add_header X-N \"v\";\nroot \"/srv/www\";\n",
		},
		{
			name: "escapes",
			src:  `a "x\"y" 'it\'s' "b\\s" "l1\nl2\tt\r" "\q";`,
			want: `a "x\"y" "it's" "b\\s" "l1\nl2\tt\r" "q";` + "\n",
		},
		{
			name: "bare words that need no quotes",
			src:  `a a#b ^/x\d+$ $host *.example.com é;`,
			want: `a a#b ^/x\d+$ $host *.example.com é;` + "\n",
		},
		{
			// Parse skips a byte order mark; a name that starts with one
			// gets a mark in front to be skipped instead.
			name: "name starting with U+FEFF",
			src:  "\uFEFF\uFEFFa;",
			want: "\uFEFF\uFEFFa;\n",
		},
		{
			name: "empty and special strings",
			src:  `a "" "#x" "b c" "{" "}" ";" "'";`,
			want: `a "" "#x" "b c" "{" "}" ";" "'";` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := confparse.Parse("f", []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tt.src, err)
			}
			got := string(confparse.Format(ds))
			if got != tt.want {
				t.Errorf("Format(Parse(%q)) =\n%s\nwant\n%s", tt.src, got, tt.want)
			}
			ds2, err := confparse.Parse("f", []byte(got))
			if err != nil {
				t.Fatalf("Parse(Format(...)) error = %v", err)
			}
			if !equalIgnoringPos(ds, ds2) {
				t.Errorf("Parse(Format(Parse(%q))) =\n%s\nwant\n%s", tt.src, dumpAST(ds2), dumpAST(ds))
			}
		})
	}
}

// TestFormatQuotesWhenNeeded checks that Format quotes unquoted values
// that cannot be bare words, as a program building an AST may make.
func TestFormatQuotesWhenNeeded(t *testing.T) {
	ds := []*confparse.Directive{{
		Name: "add_header",
		Args: []confparse.Word{{Value: "X-A"}, {Value: "a b"}, {Value: ""}, {Value: "#c"}, {Value: `x"y`}, {Value: "a;"}},
	}}
	want := `add_header X-A "a b" "" "#c" "x\"y" "a;";` + "\n"
	if got := string(confparse.Format(ds)); got != want {
		t.Errorf("Format = %q, want %q", got, want)
	}
}

func TestDirectiveString(t *testing.T) {
	ds, err := confparse.Parse("f", []byte("listen 80;\nroute /a { upstream app; }\nr {}"))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"listen 80;", "route /a {\n    upstream app;\n}", "r {}"} {
		if got := ds[i].String(); got != want {
			t.Errorf("ds[%d].String() = %q, want %q", i, got, want)
		}
	}
}

func TestWordString(t *testing.T) {
	tests := []struct {
		w    confparse.Word
		want string
	}{
		{confparse.Word{Value: "80"}, "80"},
		{confparse.Word{Value: "80", Quoted: true}, `"80"`},
		{confparse.Word{Value: "a b"}, `"a b"`},
		{confparse.Word{Value: ""}, `""`},
		{confparse.Word{Value: "say \"hi\"\n"}, `"say \"hi\"\n"`},
	}
	for _, tt := range tests {
		if got := tt.w.String(); got != tt.want {
			t.Errorf("Word{%q, %v}.String() = %s, want %s", tt.w.Value, tt.w.Quoted, got, tt.want)
		}
	}
}
