package uwsgi_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/phalanx-lb/phalanx/uwsgi"
)

// discardWriter is a reusable http.ResponseWriter.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkRoundTrip measures the Handler's own cost per request: the
// application is an in-memory pipe answering a canned response.
func BenchmarkRoundTrip(b *testing.B) {
	const resp = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 13\r\nX-Frame-Options: DENY\r\n\r\nHello, world!"
	h := &uwsgi.Handler{Addr: "app:3031", Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		c, app := net.Pipe()
		go func() {
			defer app.Close()
			// Skip the packet without decoding it: the benchmark
			// counts the Handler's allocations, not the fake's.
			var hdr [4]byte
			if _, err := io.ReadFull(app, hdr[:]); err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, app, int64(binary.LittleEndian.Uint16(hdr[1:3]))); err != nil {
				return
			}
			io.WriteString(app, resp)
		}()
		return c, nil
	}}
	req := httptest.NewRequest("GET", "/products/42?ref=home", nil)
	req.RemoteAddr = "192.0.2.1:51234"
	for k, v := range map[string]string{
		"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "Accept": "text/html,application/xhtml+xml",
		"Accept-Language": "en-US,en;q=0.9", "Accept-Encoding": "gzip, deflate, br", "Cookie": "session=abc123; theme=dark",
	} {
		req.Header.Set(k, v)
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

func BenchmarkReadResponseHeader(b *testing.B) {
	const raw = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 13\r\nX-Frame-Options: DENY\r\nSet-Cookie: a=1; Path=/\r\n\r\n"
	sr := strings.NewReader(raw)
	br := bufio.NewReader(sr)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		sr.Reset(raw)
		br.Reset(sr)
		if _, err := uwsgi.ReadResponseHeader(br, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPacketAppend(b *testing.B) {
	p := uwsgi.Packet{Vars: []uwsgi.Param{
		{Name: "REQUEST_METHOD", Value: "GET"}, {Name: "REQUEST_URI", Value: "/products/42?ref=home"},
		{Name: "PATH_INFO", Value: "/products/42"}, {Name: "QUERY_STRING", Value: "ref=home"},
		{Name: "HTTP_HOST", Value: "shop.example"}, {Name: "HTTP_USER_AGENT", Value: "Mozilla/5.0"},
	}}
	buf, _ := p.Append(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = p.Append(buf[:0])
	}
}
