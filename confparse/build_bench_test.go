package confparse_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/confparse"
)

// bigConfig has n server blocks sharing one port by name, each with ten
// routes, plus n upstreams.
func bigConfig(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "upstream u%d { server 10.0.%d.%d:8000 weight=2; health_check interval=5s; }\n", i, i/256%256, i%256)
	}
	b.WriteString("http {\n")
	for i := range n {
		fmt.Fprintf(&b, "  server { listen 80; server_name s%d.example.com; client_max_body_size 10m;\n", i)
		for j := range 10 {
			fmt.Fprintf(&b, "    route /r%d { upstream u%d; add_header X-R %d; request_timeout 30s; }\n", j, i, j)
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

func BenchmarkLoadBytes(b *testing.B) {
	src := bigConfig(100)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := confparse.LoadBytes("phalanx.conf", src); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBuildScales guards against quadratic checks: ten times the servers
// must not take a hundred times as long. It also bounds the cost of
// suggestions for an absurdly long unknown name.
func TestBuildScales(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	src := bigConfig(5000)
	start := time.Now()
	if _, err := confparse.LoadBytes("phalanx.conf", src); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("LoadBytes(5000 servers) took %v, want well under 20s", d)
	}

	long := []byte(strings.Repeat("x", 1<<20) + " on;\n")
	start = time.Now()
	if _, err := confparse.LoadBytes("phalanx.conf", long); err == nil {
		t.Fatal("LoadBytes(1 MiB name) = nil error, want unknown directive")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("LoadBytes(1 MiB name) took %v, want well under 5s", d)
	}
}
