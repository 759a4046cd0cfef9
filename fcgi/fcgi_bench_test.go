package fcgi

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkRoundTrip serves requests through a Handler to net/http/fcgi's
// server in the same process, over loopback TCP with a kept connection.
// The allocations include the fake backend's, which are most of them.
func BenchmarkRoundTrip(b *testing.B) {
	ln := fakeBackend(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	h := handler(b, ln, nil)
	r := newRequest(b, "GET", "http://example.com/index.php?a=1", nil)
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("Accept", "*/*")
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		w.code = 0
		h.ServeHTTP(w, r)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

// BenchmarkRoundTripParallel is BenchmarkRoundTrip from many goroutines.
func BenchmarkRoundTripParallel(b *testing.B) {
	ln := fakeBackend(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	h := handler(b, ln, nil)
	r := newRequest(b, "GET", "http://example.com/index.php?a=1", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{header: http.Header{}}
		for pb.Next() {
			clear(w.header)
			w.code = 0
			h.ServeHTTP(w, r)
			if w.code != http.StatusOK {
				b.Errorf("status %d", w.code)
				return
			}
		}
	})
}

type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

func BenchmarkReadRecord(b *testing.B) {
	stream := bytes.Repeat(stdout(1, strings.Repeat("x", 8192), 0), 16)
	buf := make([]byte, maxRecord)
	r := bytes.NewReader(stream)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(stream)
		for {
			if _, _, err := readRecord(r, buf); err != nil {
				break
			}
		}
	}
}

func BenchmarkAppendParams(b *testing.B) {
	s, vars, h := paramsFixture()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendHead(buf[:0], 1, true, true, func(p []byte) []byte { return s.appendParams(p, vars, h) })
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkParseHeader(b *testing.B) {
	block := []byte("X-Powered-By: PHP/8.2.28\r\nSet-Cookie: PHPSESSID=abc; path=/\r\nExpires: Thu, 19 Nov 1981 08:52:00 GMT\r\nCache-Control: no-store, no-cache, must-revalidate\r\nContent-type: text/html; charset=UTF-8\r\n\r\n")
	b.SetBytes(int64(len(block)))
	b.ReportAllocs()
	for b.Loop() {
		end := headerEnd(block)
		if _, err := parseHeader(block[:end], nil); err != nil {
			b.Fatal(err)
		}
	}
}

// paramsFixture is a typical request's state, variables and headers.
func paramsFixture() (*state, *cgiVars, http.Header) {
	s := (&Handler{Addr: "127.0.0.1:9000", Root: "/var/www", Params: []Param{
		{"APP_ENV", "prod"}, {"PATH_TRANSLATED", "$document_root$fastcgi_path_info"},
	}}).build()
	r, _ := http.NewRequest("GET", "http://example.com/index.php/a?b=c", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	r.RequestURI = "/index.php/a?b=c"
	r.Header = http.Header{
		"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Language": {"en-US,en;q=0.5"},
		"Accept-Encoding": {"gzip, deflate, br"},
		"Cookie":          {"PHPSESSID=abc", "theme=dark"},
	}
	var vars cgiVars
	s.setVars(&vars, r, "/index.php/a", "/index.php", "/a", -1)
	return s, &vars, r.Header
}
