package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// BenchmarkParse parses a typical browser head (560 bytes, 10
// fields) with Parse and with http.ReadRequest. Both reuse what a server
// would reuse per connection: the Request, or the bufio.Reader.
func BenchmarkParse(b *testing.B) {
	r := NewRequest(Limits{})
	benchHead(b, browserHead,
		func(buf []byte) error { _, err := Parse(buf, r, Limits{}); return err },
		func(br *bufio.Reader) error { _, err := http.ReadRequest(br); return err })
}

// BenchmarkParseResponse parses a typical nginx response head (233 bytes,
// 7 fields) with ParseResponse and with http.ReadResponse, each reusing
// what a proxy would reuse per backend connection.
func BenchmarkParseResponse(b *testing.B) {
	r := NewResponse(Limits{})
	benchHead(b, nginxHead,
		func(buf []byte) error { _, err := ParseResponse(buf, r, Limits{}, false); return err },
		func(br *bufio.Reader) error { _, err := http.ReadResponse(br, nil); return err })
}

// benchHead runs phalanx's parse of head and net/http's, each reusing what
// a proxy would reuse per connection.
func benchHead(b *testing.B, head string, phalanx func([]byte) error, netHTTP func(*bufio.Reader) error) {
	buf := []byte(head)
	b.Run("phalanx", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			if err := phalanx(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("net-http", func(b *testing.B) {
		rd := bytes.NewReader(buf)
		br := bufio.NewReader(rd)
		b.ReportAllocs()
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			rd.Reset(buf)
			br.Reset(rd)
			if err := netHTTP(br); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkChunked decodes a 64 KiB body sent in 4 KiB chunks.
func BenchmarkChunked(b *testing.B) {
	var body bytes.Buffer
	chunk := bytes.Repeat([]byte("x"), 4096)
	for range 16 {
		body.WriteString("1000\r\n")
		body.Write(chunk)
		body.WriteString("\r\n")
	}
	body.WriteString("0\r\n\r\n")
	raw := body.Bytes()
	rd := bytes.NewReader(raw)
	br := bufio.NewReader(rd)
	c := NewChunkedReader(br)
	dst := make([]byte, 32<<10)
	b.ReportAllocs()
	b.SetBytes(16 * 4096)
	for b.Loop() {
		rd.Reset(raw)
		br.Reset(rd)
		c.Reset(br)
		for {
			_, err := c.Read(dst)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
