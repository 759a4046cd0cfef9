// Command goproxy is the baseline for bench/proxy.sh: Go's standard
// net/http/httputil.ReverseProxy in front of one backend, with nothing
// else (no firewall, no rate limit, no access log).
//
//	goproxy -listen 127.0.0.1:8081 -backend 127.0.0.1:8000
//
// It forwards X-Forwarded-For, X-Forwarded-Host and X-Forwarded-Proto
// (ProxyRequest.SetXForwarded) and sets an X-Request-Id of 16 random bytes
// in hex, as phalanx and the nginx configuration of bench/proxy.sh do, and
// keeps up to 64 idle connections to the backend. SIGINT or SIGTERM stops
// it, letting in-flight requests finish for up to 2 s.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "`address` to serve on")
	backend := flag.String("backend", "", "backend `address` (host:port)")
	flag.Parse()
	if err := run(*listen, *backend); err != nil {
		fmt.Fprintln(os.Stderr, "goproxy:", err)
		os.Exit(1)
	}
}

func run(listen, backend string) error {
	if _, _, err := net.SplitHostPort(backend); err != nil {
		return fmt.Errorf("-backend %q: %w", backend, err)
	}
	target := &url.URL{Scheme: "http", Host: backend}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     60 * time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
			r.SetXForwarded()
			var id [16]byte
			rand.Read(id[:])
			r.Out.Header.Set("X-Request-Id", hex.EncodeToString(id[:]))
		},
		Transport: transport,
	}
	srv := &http.Server{
		Handler:           rp,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       75 * time.Second,
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Printf("goproxy: listening on %s, backend %s", ln.Addr(), backend)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
