package phalanx_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

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
