package phalanx_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/internal/redistest"
	"github.com/phalanx-lb/phalanx/limiter"
	"github.com/phalanx-lb/phalanx/sharedstore"
	"github.com/phalanx-lb/phalanx/waf"
)

// helloBackend answers every request with a fixed 5-byte body, reading
// requests without allocating, so that a benchmark's allocations are the
// proxy's.
func helloBackend(b *testing.B) string {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
	return serveTCP(b, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			// Requests here have no body: read to the blank line.
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) == 2 {
					break
				}
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
}

// BenchmarkEngine sends keep-alive GETs through the proxy, one at a time
// per connection, on each HTTP/1.1 engine; allocations are the whole
// process's per request, the client and backend allocating none.
func BenchmarkEngine(b *testing.B) {
	be := helloBackend(b)
	limit := phalanx.WithRateLimit(limiter.Config{Rate: 1e9, Burst: 1e9})
	opts := func(o ...phalanx.Option) func(*testing.B) []phalanx.Option {
		return func(*testing.B) []phalanx.Option { return o }
	}
	for _, bc := range []struct {
		name string
		opts func(*testing.B) []phalanx.Option
	}{
		{"phalanx", opts(phalanx.WithHTTP1Engine(phalanx.EnginePhalanx))},
		{"net-http", opts(phalanx.WithHTTP1Engine(phalanx.EngineNetHTTP))},
		{"phalanx+waf+limiter", opts(phalanx.WithWAF(waf.Config{}), limit)},
		{"phalanx+limiter", opts(limit)},
		{"phalanx+limiter+shared_store", func(b *testing.B) []phalanx.Option { return []phalanx.Option{limit, sharedStore(b)} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts := append([]phalanx.Option{phalanx.WithLogger(discard()),
				phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks,
					Servers: []phalanx.UpstreamServer{{Addr: be}}})}, bc.opts(b)...)
			url, _ := startProxyB(b, opts...)
			req := []byte("GET /products/shoes?color=blue HTTP/1.1\r\nHost: shop.example\r\n" +
				"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
				"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\n" +
				"Accept-Encoding: gzip, deflate, br\r\nCookie: session=abc123; theme=dark\r\n\r\n")
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				for pb.Next() {
					if _, err := c.Write(req); err != nil {
						b.Error(err)
						return
					}
					if err := readHello(br); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// sharedStore returns the option of a shared store on a redis-server of
// b's own.
func sharedStore(b *testing.B) phalanx.Option {
	r := redistest.Start(b)
	return phalanx.WithSharedStore(sharedstore.Config{URL: r.URL(0)})
}

// readHello reads one response whose body is "hello", without allocating.
func readHello(br *bufio.Reader) error {
	status, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200")) {
		return io.ErrUnexpectedEOF
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) == 2 {
			break
		}
	}
	_, err = br.Discard(5)
	return err
}

// startProxyB is startProxy for benchmarks.
func startProxyB(b *testing.B, opts ...phalanx.Option) (string, *phalanx.Server) {
	srv, err := phalanx.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String(), srv
}

// BenchmarkIdleConns measures what an idle keep-alive connection costs the
// process: it opens b.N connections (at least 1000), sends one request on
// each, leaves them idle past the time after which the engine gives back
// their read buffer, collects garbage, and reports goroutine stack and
// heap per connection, on each engine. The client side (one socket per
// connection, no buffer kept) is in the heap figure too.
func BenchmarkIdleConns(b *testing.B) {
	be := helloBackend(b)
	for _, engine := range []phalanx.HTTP1Engine{phalanx.EnginePhalanx, phalanx.EngineNetHTTP} {
		b.Run(string(engine), func(b *testing.B) {
			url, _ := startProxyB(b, phalanx.WithLogger(discard()), phalanx.WithHTTP1Engine(engine),
				phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks,
					Servers: []phalanx.UpstreamServer{{Addr: be}}}))
			addr := strings.TrimPrefix(url, "http://")
			n := max(b.N, 1000)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			conns := make([]net.Conn, 0, n)
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			req := []byte("GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0\r\n\r\n")
			for range n {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c)
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if err := readHello(bufio.NewReader(c)); err != nil {
					b.Fatal(err)
				}
			}
			time.Sleep(1500 * time.Millisecond) // past the engine's idle release
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&after)
			kib := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) / 1024 }
			b.ReportMetric(kib(after.StackInuse, before.StackInuse), "stack-KiB/conn")
			b.ReportMetric(kib(after.HeapInuse, before.HeapInuse), "heap-KiB/conn")
			b.ReportMetric(0, "ns/op")
		})
	}
}
