package sniff

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

func BenchmarkDetect(b *testing.B) {
	for _, s := range sniffSamples(b) {
		b.Run(s.name, func(b *testing.B) {
			data := s.data[:min(len(s.data), MaxPeek)]
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if p, _ := Detect(data); p != s.want {
					b.Fatalf("Detect(%q) = %v, want %v", data, p, s.want)
				}
			}
		})
	}
}

// memConn is an in-memory net.Conn over a byte slice, so that
// BenchmarkSniff measures the sniff and not a transport.
type memConn struct {
	data []byte
	off  int
}

func (c *memConn) Read(p []byte) (int, error) {
	if c.off == len(c.data) {
		return 0, io.EOF
	}
	n := copy(p, c.data[c.off:])
	c.off += n
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkSniff measures Sniff per connection, reading and replaying a
// request's first bytes.
func BenchmarkSniff(b *testing.B) {
	for _, s := range sniffSamples(b) {
		b.Run(s.name, func(b *testing.B) {
			mc := &memConn{data: s.data}
			buf := make([]byte, MaxPeek)
			b.ReportAllocs()
			for b.Loop() {
				mc.off = 0
				p, c, err := Sniff(mc, 5*time.Second)
				if p != s.want || err != nil {
					b.Fatalf("Sniff = %v, %v, want %v, nil", p, err, s.want)
				}
				if _, err := c.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSniffPipe measures Sniff over a net.Pipe, deadlines included.
func BenchmarkSniffPipe(b *testing.B) {
	data := []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n")
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go func() {
		for {
			if _, err := client.Write(data[:MaxPeek]); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, MaxPeek)
	b.ReportAllocs()
	for b.Loop() {
		p, c, err := Sniff(server, 5*time.Second)
		if p != HTTP1 || err != nil {
			b.Fatalf("Sniff = %v, %v, want http1, nil", p, err)
		}
		if _, err := io.ReadFull(c, buf); err != nil { // the replayed write
			b.Fatal(err)
		}
	}
}

func BenchmarkReadProxyHeader(b *testing.B) {
	for _, tt := range []struct{ name, in string }{
		{"v1", "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"},
		{"v2", v2(0x21, 0x11, ipv4Body("192.0.2.1", "198.51.100.2", 56324, 443))},
		{"none", "GET / HTTP/1.1\r\n"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			in := []byte(tt.in)
			br := bytes.NewReader(in)
			r := bufio.NewReaderSize(br, proxyBufSize)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				br.Reset(in)
				r.Reset(br)
				if _, err := ReadProxyHeader(r); err != nil && tt.name != "none" {
					b.Fatal(err)
				}
			}
		})
	}
}
