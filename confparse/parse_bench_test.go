package confparse_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/phalanx-lb/phalanx/confparse"
)

// routesConfig returns a config whose one server block holds n route
// blocks.
func routesConfig(n int) []byte {
	var b strings.Builder
	b.WriteString("upstream default {\n    server 127.0.0.1:8000;\n}\n\nhttp {\n    server {\n        listen 8080;\n")
	for i := range n {
		fmt.Fprintf(&b, "        route /p%d {\n            upstream default;\n            add_header X-N \"v\";\n        }\n", i)
	}
	b.WriteString("    }\n}\n")
	return []byte(b.String())
}

func BenchmarkParse1000Routes(b *testing.B) {
	src := routesConfig(1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := confparse.Parse("bench.conf", src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseFullConfig(b *testing.B) {
	src := []byte(fullConfig)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := confparse.Parse("phalanx.conf", src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormat1000Routes(b *testing.B) {
	src := routesConfig(1000)
	ds, err := confparse.Parse("bench.conf", src)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		confparse.Format(ds)
	}
}
