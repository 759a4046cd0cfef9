package phalanx_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phalanx-lb/phalanx"
)

// Mount phalanx's pipeline in an existing Go HTTP server.
func ExampleServer_Handler() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend got %s, tagged %q", r.URL.Path, r.Header.Get("X-Env"))
	}))
	defer backend.Close()

	lbsrv, err := phalanx.New(
		phalanx.WithLogger(slog.New(slog.DiscardHandler)),
		phalanx.WithUpstream(phalanx.Upstream{
			Name:    "app",
			Servers: []phalanx.UpstreamServer{{Addr: strings.TrimPrefix(backend.URL, "http://")}},
		}),
		phalanx.WithRoute(phalanx.Route{
			Path:       "/api/",
			Upstream:   "app",
			AddHeaders: []phalanx.Header{{Name: "X-Env", Value: "prod"}},
		}),
	)
	if err != nil {
		panic(err)
	}
	defer lbsrv.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/api/", lbsrv.Handler())
	front := httptest.NewServer(mux)
	defer front.Close()

	res, err := http.Get(front.URL + "/api/users")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))
	// Output: 200 backend got /api/users, tagged "prod"
}

// Register phalanx's metrics in the embedding program's own Prometheus
// registry, and mount its admin API under a path of its own mux.
func ExampleServer_Collector() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer backend.Close()
	lbsrv, err := phalanx.New(
		phalanx.WithLogger(slog.New(slog.DiscardHandler)),
		phalanx.WithUpstream(phalanx.Upstream{
			Name:    "app",
			Servers: []phalanx.UpstreamServer{{Addr: strings.TrimPrefix(backend.URL, "http://")}},
		}),
	)
	if err != nil {
		panic(err)
	}
	defer lbsrv.Shutdown(context.Background())

	reg := prometheus.NewRegistry()
	reg.MustRegister(lbsrv.Collector())
	mux := http.NewServeMux()
	mux.Handle("/lb/", http.StripPrefix("/lb", lbsrv.AdminHandler()))

	rec := httptest.NewRecorder()
	lbsrv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		if f.GetName() == "phalanx_http_requests_total" {
			m := f.GetMetric()[0]
			fmt.Println(f.GetName(), m.GetCounter().GetValue())
		}
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/lb/health", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// phalanx_http_requests_total 1
	// 200 ok
}

// Choose the engine that serves HTTP/1.x on the Server's listeners:
// phalanx's own (the default), or net/http, side by side here. Both proxy
// a plain GET; given a head with both Content-Length and
// Transfer-Encoding, which backends may frame differently, net/http
// drops the length and forwards it (RFC 9112 allows that), while phalanx
// refuses it before any backend sees it.
func ExampleWithHTTP1Engine() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer backend.Close()
	for _, engine := range []phalanx.HTTP1Engine{phalanx.EnginePhalanx, phalanx.EngineNetHTTP} {
		srv, err := phalanx.New(
			phalanx.WithLogger(slog.New(slog.DiscardHandler)),
			phalanx.WithHTTP1Engine(engine),
			phalanx.WithUpstream(phalanx.Upstream{Name: "app",
				Servers: []phalanx.UpstreamServer{{Addr: strings.TrimPrefix(backend.URL, "http://")}}}),
		)
		if err != nil {
			panic(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		go srv.Serve(l)

		res, err := http.Get("http://" + l.Addr().String() + "/")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()

		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			panic(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
		bad, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			panic(err)
		}
		c.Close()
		fmt.Println(engine, res.StatusCode, string(body), bad.StatusCode)
		srv.Shutdown(context.Background())
	}
	// Output:
	// phalanx 200 hello 400
	// net/http 200 hello 200
}
