//go:build !race

package fcgi

import (
	"bytes"
	"strings"
	"testing"
)

// TestAllocs checks that the per-record and per-request codecs allocate
// nothing. The race detector allocates, hence the build tag.
func TestAllocs(t *testing.T) {
	stream := bytes.Repeat(stdout(1, strings.Repeat("x", 1000), 0), 4)
	buf := make([]byte, maxRecord)
	r := bytes.NewReader(stream)
	s, vars, h := paramsFixture()
	pbuf := make([]byte, 0, 4096)
	block := []byte("X-Powered-By: PHP/8.2.28\r\nStatus: 404 Not Found\r\nContent-type: text/html\r\n\r\n")
	for _, tc := range []struct {
		name string
		fn   func()
	}{
		{"readRecord", func() {
			r.Reset(stream)
			for {
				if _, _, err := readRecord(r, buf); err != nil {
					break
				}
			}
		}},
		{"appendHead", func() {
			pbuf = appendHead(pbuf[:0], 1, true, true, func(p []byte) []byte { return s.appendParams(p, vars, h) })
		}},
		{"parseHeader", func() { parseHeader(block[:headerEnd(block)], nil) }},
		{"mapPath", func() { mapPath("/blog/index.php/posts/7", ".php", "index.php") }},
	} {
		if allocs := testing.AllocsPerRun(100, tc.fn); allocs != 0 {
			t.Errorf("AllocsPerRun(%s) = %v, want 0", tc.name, allocs)
		}
	}
}
