package phalanx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// Server is a load balancer: listeners, the L7 pipeline and the upstream
// pools behind it. Create one with New. A Server is safe for concurrent use
// and must not be copied.
type Server struct {
	cfg    config
	logger *slog.Logger
	state  atomic.Pointer[snapshot]
	proxy  *httputil.ReverseProxy
	http   *http.Server

	// mu serialises Reload with itself and with Shutdown and Close, and
	// protects closed.
	mu     sync.Mutex
	closed bool
	done   chan struct{}  // closed by release
	bg     sync.WaitGroup // retire's drain goroutines
}

// snapshot is the Server's live configuration: settings, routes and
// pools. It is immutable once published; the request path reads it
// through one atomic load, and a request keeps the snapshot it started
// with to the end.
type snapshot struct {
	cfg       *config
	routes    *routeTable
	upstreams map[string]*upstream
}

// New returns a Server configured by opts, with its pools' health checks
// running. Call Shutdown (or Close) to stop them, even when the Server is
// only used through Handler.
func New(opts ...Option) (*Server, error) {
	c := defaultConfig()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("phalanx: %w", err)
	}
	s := &Server{cfg: c, logger: c.logger, done: make(chan struct{})}
	snap, err := buildSnapshot(&c, nil)
	if err != nil {
		return nil, fmt.Errorf("phalanx: %w", err)
	}
	s.proxy = s.newReverseProxy()
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: c.timeouts.ClientHeader,
		IdleTimeout:       c.timeouts.ClientIdle,
		// net/http adds 4 KiB of slack; requests between the limit and
		// that get the pipeline's own 431 with a log line.
		MaxHeaderBytes: c.maxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(c.logger.Handler(), slog.LevelDebug),
	}
	for _, u := range snap.upstreams {
		u.pool.Start(context.Background())
	}
	s.state.Store(snap)
	return s, nil
}

func (c *config) validate() error {
	t := c.timeouts
	for _, d := range []struct {
		name string
		v    int64
	}{
		{"client header timeout", int64(t.ClientHeader)},
		{"client idle timeout", int64(t.ClientIdle)},
		{"upstream connect timeout", int64(t.UpstreamConnect)},
		{"upstream header timeout", int64(t.UpstreamHeader)},
		{"upstream idle timeout", int64(t.UpstreamIdle)},
		{"request timeout", int64(t.Request)},
		{"shutdown timeout", int64(t.Shutdown)},
	} {
		if d.v < 0 {
			return fmt.Errorf("%s is negative", d.name)
		}
	}
	if c.maxHeaderBytes < 1024 {
		return fmt.Errorf("max header bytes %d is below 1024", c.maxHeaderBytes)
	}
	for _, p := range c.trusted {
		if !p.IsValid() {
			return errors.New("invalid trusted proxy prefix")
		}
	}
	return nil
}

// buildSnapshot turns the configuration into pools and a route table.
// Backends and transports of old (the snapshot being replaced, or nil)
// that still fit carry their state over.
func buildSnapshot(c *config, old *snapshot) (*snapshot, error) {
	snap := &snapshot{cfg: c, upstreams: make(map[string]*upstream, len(c.upstreams))}
	fail := func(err error) (*snapshot, error) {
		for _, u := range snap.upstreams {
			u.pool.Close()
		}
		return nil, err
	}
	for _, u := range c.upstreams {
		if _, dup := snap.upstreams[u.Name]; dup {
			return fail(fmt.Errorf("upstream %s defined twice", u.Name))
		}
		var prev *upstream
		if old != nil {
			prev = old.upstreams[u.Name]
		}
		up, err := newUpstream(u, c, prev)
		if err != nil {
			return fail(err)
		}
		snap.upstreams[u.Name] = up
	}
	routes := c.routes
	if len(routes) == 0 && len(c.upstreams) == 1 {
		routes = []Route{{Path: "/", Upstream: c.upstreams[0].Name}}
	}
	rs := make([]*route, 0, len(routes))
	for _, r := range routes {
		rt := &route{Route: r}
		switch {
		case r.Handler != nil && r.Upstream != "":
			return fail(fmt.Errorf("route %s%s has both an upstream and a handler", r.Host, r.Path))
		case r.Handler == nil:
			up, ok := snap.upstreams[r.Upstream]
			if !ok {
				return fail(fmt.Errorf("route %s%s: unknown upstream %q", r.Host, r.Path, r.Upstream))
			}
			rt.up = up
		}
		rs = append(rs, rt)
	}
	t, err := newRouteTable(rs)
	if err != nil {
		return fail(err)
	}
	snap.routes = t
	return snap, nil
}

// Handler returns the L7 pipeline as an http.Handler, to mount in another
// HTTP server. It applies the same limits as the Server's own listeners,
// except those net/http enforces on the server (header read timeout, idle
// timeout), which are the mounting server's to set.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Serve accepts connections on l and serves them until Shutdown or Close.
// It returns ErrServerClosed after those, or the listener's error.
func (s *Server) Serve(l net.Listener) error {
	return s.http.Serve(l)
}

// ListenAndServe listens on the configured addresses and serves until ctx
// ends, then shuts down, letting in-flight requests finish for up to
// Timeouts.Shutdown. It returns nil after a clean shutdown.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	var ls []net.Listener
	for _, addr := range s.cfg.listen {
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return fmt.Errorf("phalanx: %w", err)
		}
		s.logger.Info("listening", "addr", l.Addr().String())
		ls = append(ls, l)
	}
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() { errc <- s.Serve(l) }()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc: // a listener failed: stop the others too
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.timeouts.Shutdown)
	defer cancel()
	err := s.Shutdown(sctx)
	for range len(ls) - btoi(first != nil) {
		<-errc
	}
	if first != nil && !errors.Is(first, ErrServerClosed) {
		return fmt.Errorf("phalanx: %w", first)
	}
	return err
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Shutdown stops accepting connections, closes idle ones, waits for
// in-flight requests to finish or ctx to end (then closes the rest), and
// stops health checks. It returns ctx's error if requests were cut.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	s.release()
	return err
}

// Close closes all listeners and connections at once and stops health
// checks. Shutdown is the graceful alternative.
func (s *Server) Close() error {
	err := s.http.Close()
	s.release()
	return err
}

// Reload replaces the Server's configuration with one built from opts,
// as New would build it, without dropping a connection. The new
// configuration is validated and its pools built and health-checked
// first; on any error the running one stays and the error says why. On
// success, new requests use the new routes and pools at once, requests in
// flight finish on the old ones, and backends that keep their upstream and
// address keep their health state and totals (and, when the upstream's
// connection settings are unchanged, its idle connections).
//
// The listen addresses and the client header and idle timeouts belong to
// the listeners: changes to them are logged and wait for a restart.
func (s *Server) Reload(opts ...Option) error {
	c := defaultConfig()
	for _, o := range opts {
		o.apply(&c)
	}
	if err := c.validate(); err != nil {
		return fmt.Errorf("phalanx: reload: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("phalanx: reload: server is shut down")
	}
	old := s.state.Load()
	snap, err := buildSnapshot(&c, old)
	if err != nil {
		return fmt.Errorf("phalanx: reload: %w", err)
	}
	if !slices.Equal(c.listen, s.cfg.listen) || c.timeouts.ClientHeader != s.cfg.timeouts.ClientHeader ||
		c.timeouts.ClientIdle != s.cfg.timeouts.ClientIdle {
		s.logger.Warn("reload: listen addresses and client header/idle timeouts take effect after a restart",
			"listen", s.cfg.listen, "wanted", c.listen)
	}
	for _, u := range snap.upstreams {
		u.pool.Start(context.Background())
	}
	s.state.Store(snap)
	s.retire(old, snap)
	s.logger.Info("configuration reloaded", "upstreams", len(snap.upstreams))
	return nil
}

// retire stops the pools of old, and closes the connections of its
// transports that next does not keep once the requests still running on
// them are done. Those requests finish normally: a closed pool still
// answers Pick. Requires s.mu held.
func (s *Server) retire(old, next *snapshot) {
	kept := make(map[*http.Transport]bool)
	if next != nil {
		for _, u := range next.upstreams {
			kept[u.transport] = true
		}
	}
	for _, u := range old.upstreams {
		u.pool.Close()
		if kept[u.transport] {
			continue
		}
		u.transport.CloseIdleConnections()
		if next != nil {
			s.bg.Add(1)
			go s.closeWhenIdle(u)
		}
	}
}

// closeWhenIdle waits for the requests on a retired upstream to finish,
// then closes the connections they leave idle. Shutdown ends the wait.
func (s *Server) closeWhenIdle(u *upstream) {
	defer s.bg.Done()
	defer u.transport.CloseIdleConnections()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	quiet := 0      // ticks seen with nothing in flight
	for quiet < 2 { // one more tick lets the last connection go idle
		inflight := int64(0)
		for _, b := range u.pool.Backends() {
			inflight += b.InFlight()
		}
		if inflight == 0 {
			quiet++
		} else {
			quiet = 0
		}
		select {
		case <-tick.C:
		case <-s.done:
			return
		}
	}
}

// release stops the pools' background work and drops idle backend
// connections, once.
func (s *Server) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	close(s.done)
	s.retire(s.state.Load(), nil)
	s.bg.Wait()
}
