package phalanx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phalanx-lb/phalanx/limiter"
	"github.com/phalanx-lb/phalanx/resolve"
	"github.com/phalanx-lb/phalanx/sharedstore"
	"github.com/phalanx-lb/phalanx/sniff"
	"github.com/phalanx-lb/phalanx/waf"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// Server is a load balancer: listeners, the L7 pipeline and the upstream
// pools behind it. Create one with New. A Server is safe for concurrent use
// and must not be copied.
type Server struct {
	cfg    config // as given to New: listeners and net/http settings
	logger *slog.Logger
	state  atomic.Pointer[snapshot]
	proxy  *httputil.ReverseProxy
	http   *http.Server

	tcp     []*tcpPort // raw TCP proxy ports, fixed at New
	unknown *tcpProxy  // unknown protocols on HTTP ports; nil: close them
	tunnels tunnelSet  // open WebSockets, which net/http no longer tracks
	fast    h1Engine   // the HTTP/1.1 engine, with EnginePhalanx

	started   time.Time    // when New returned
	adminOnce sync.Once    // builds admin
	admin     http.Handler // AdminHandler's
	rates     rateSampler  // the status page's request rates

	// store is the shared store of WithSharedStore, nil without one;
	// wafShared is the firewall it shares, until wafShare is called.
	store     *sharedstore.Store
	wafShared *waf.Engine
	wafShare  context.CancelFunc

	// refusedConns and refusedRequests count what the limiters refused,
	// across reloads.
	refusedConns, refusedRequests limiter.Refusals
	metrics                       *metrics

	// mu serialises Reload with itself and with Shutdown and Close, and
	// protects closed, released and muxes.
	mu       sync.Mutex
	closed   bool                // shutting down: Serve and Reload refuse
	released bool                // pools and transports let go
	muxes    map[*sniff.Mux]bool // the sniffing listeners of running Serve calls
	done     chan struct{}       // closed by release
	bg       sync.WaitGroup      // retire's drain goroutines
}

// snapshot is the Server's live configuration: settings, routes and
// pools. It is immutable once published; the request path reads it
// through one atomic load, and a request keeps the snapshot it started
// with to the end.
type snapshot struct {
	cfg       *config
	certs     *certStore      // nil: no TLS
	conns     limiter.Limiter // at accept; nil: none
	requests  limiter.Limiter // per request; nil: none
	routes    *routeTable
	upstreams map[string]*upstream
	waf       *waf.Engine // nil: no firewall
	// resolver looks up the Resolve and SRV servers; nil without any.
	resolver *resolve.Resolver
}

// New returns a Server configured by opts, with its pools' health checks
// running. Call Shutdown (or Close) to stop them, even when the Server is
// only used through Handler.
func New(opts ...Option) (*Server, error) {
	c := newConfig(opts)
	started := false
	defer func() {
		if !started {
			closeOwned(c.routes)
		}
	}()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("phalanx: %w", err)
	}
	c.metrics = newMetrics()
	s := &Server{cfg: c, logger: c.logger, metrics: c.metrics, done: make(chan struct{}), muxes: make(map[*sniff.Mux]bool)}
	if c.shared != nil {
		sc := *c.shared
		if sc.Logger == nil {
			sc.Logger = c.logger
		}
		store, err := sharedstore.Open(sc)
		if err != nil {
			return nil, fmt.Errorf("phalanx: shared store: %w", err)
		}
		s.store, s.cfg.store = store, store
		c.store = store
		defer func() {
			if !started {
				store.Close()
			}
		}()
	}
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
		// HTTP/1.1, HTTP/2 over TLS (ALPN h2), and h2c with prior
		// knowledge on clear-text connections.
		Protocols:   new(http.Protocols),
		TLSConfig:   s.tlsConfig(),
		ConnState:   s.metrics.connState,
		ConnContext: connContext,
	}
	s.fast.s = s
	s.http.Protocols.SetHTTP1(true)
	s.http.Protocols.SetHTTP2(true)
	s.http.Protocols.SetUnencryptedHTTP2(true)
	if err := c.checkTCPUpstreams(snap); err != nil {
		for _, u := range snap.upstreams {
			u.pool.Close()
		}
		return nil, fmt.Errorf("phalanx: %w", err)
	}
	if s.tcp, s.unknown, err = newTCPProxies(&s.cfg, snap); err != nil {
		for _, u := range snap.upstreams {
			u.pool.Close()
		}
		return nil, fmt.Errorf("phalanx: %w", err)
	}
	for _, u := range snap.upstreams {
		u.pool.Start(context.Background())
		u.startDiscovery()
	}
	s.shareFirewall(snap.waf)
	s.state.Store(snap)
	started = true
	s.started = time.Now()
	return s, nil
}

// newConfig applies opts, in order, to the defaults.
func newConfig(opts []Option) config {
	c := defaultConfig()
	for _, o := range opts {
		o.apply(&c)
	}
	return c
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
		{"tunnel idle timeout", int64(t.TunnelIdle)},
	} {
		if d.v < 0 {
			return fmt.Errorf("%s is negative", d.name)
		}
	}
	if c.engine != EnginePhalanx && c.engine != EngineNetHTTP {
		return fmt.Errorf("unknown HTTP/1 engine %q (want %q or %q)", c.engine, EnginePhalanx, EngineNetHTTP)
	}
	if c.maxHeaderBytes < 1024 {
		return fmt.Errorf("max header bytes %d is below 1024", c.maxHeaderBytes)
	}
	for _, p := range c.trusted {
		if !p.IsValid() {
			return errors.New("invalid trusted proxy prefix")
		}
	}
	for _, p := range c.tcp {
		if p.Listen == "" || p.Upstream == "" {
			return fmt.Errorf("tcp proxy %q -> %q: needs a listen address and an upstream", p.Listen, p.Upstream)
		}
		if p.SendProxy < 0 || p.SendProxy > 2 {
			return fmt.Errorf("tcp proxy %s: PROXY protocol version %d, want 0, 1 or 2", p.Listen, p.SendProxy)
		}
	}
	return nil
}

// checkTCPUpstreams reports a TCP port whose upstream snap lacks.
func (c *config) checkTCPUpstreams(snap *snapshot) error {
	for _, p := range c.tcp {
		if _, ok := snap.upstreams[p.Upstream]; !ok {
			return fmt.Errorf("tcp proxy %s: unknown upstream %q", p.Listen, p.Upstream)
		}
	}
	if u := c.unknownTCP; u != "" {
		if _, ok := snap.upstreams[u]; !ok {
			return fmt.Errorf("unknown-protocol fallback: unknown upstream %q", u)
		}
	}
	return nil
}

// tcpPort is one raw TCP proxy port of the Server.
type tcpPort struct {
	spec  TCPProxy
	proxy *tcpProxy
}

// newTCPProxies builds the TCP proxies of c over snap's pools.
func newTCPProxies(c *config, snap *snapshot) ([]*tcpPort, *tcpProxy, error) {
	mk := func(upstream string, sendProxy int) (*tcpProxy, error) {
		return newTCPProxy(tcpConfig{
			pool:           snap.upstreams[upstream].pool,
			connectTimeout: c.timeouts.UpstreamConnect,
			idleTimeout:    c.timeouts.TunnelIdle,
			dial:           c.dial,
			trusted:        c.trusted,
			sendProxy:      sendProxy,
			logger:         c.logger,
		})
	}
	var ports []*tcpPort
	for _, spec := range c.tcp {
		p, err := mk(spec.Upstream, spec.SendProxy)
		if err != nil {
			return nil, nil, fmt.Errorf("tcp proxy %s: %w", spec.Listen, err)
		}
		ports = append(ports, &tcpPort{spec: spec, proxy: p})
	}
	var unknown *tcpProxy
	if c.unknownTCP != "" {
		p, err := mk(c.unknownTCP, 0)
		if err != nil {
			return nil, nil, err
		}
		unknown = p
	}
	return ports, unknown, nil
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
	certs, err := loadCerts(c.certs)
	if err != nil {
		return nil, err
	}
	snap.certs = certs
	if snap.conns, snap.requests, err = buildLimiters(c, old); err != nil {
		return nil, err
	}
	var res *resolve.Resolver
	if c.needsResolver() {
		rc := resolve.Config{}
		if c.resolver != nil {
			rc = *c.resolver
		}
		if rc.Logger == nil {
			rc.Logger = c.logger
		}
		if res, err = resolve.New(rc); err != nil {
			return fail(fmt.Errorf("resolver: %w", err))
		}
	}
	snap.resolver = res
	for _, u := range c.upstreams {
		if _, dup := snap.upstreams[u.Name]; dup {
			return fail(fmt.Errorf("upstream %s defined twice", u.Name))
		}
		var prev *upstream
		if old != nil {
			prev = old.upstreams[u.Name]
		}
		up, err := newUpstream(u, c, prev, res)
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
	if snap.waf, err = newFirewall(c, old); err != nil {
		return fail(err)
	}
	for _, r := range routes {
		rt := &route{Route: r}
		if rt.wafX, err = routeExclusions(r); err != nil {
			return fail(err)
		}
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
// Each connection is told apart by its first bytes: HTTP/1.x, HTTP/2 with
// prior knowledge (h2c) and TLS (HTTP/2 or HTTP/1.1 by ALPN, with the
// certificates of WithCertificate) are all served; anything else is
// closed, or relayed to the WithUnknownProtocols upstream. Serve returns
// ErrServerClosed after Shutdown or Close, or the listener's error.
func (s *Server) Serve(l net.Listener) error {
	l = limiter.Gate(l, limiter.Func(s.allowConn), &s.refusedConns)
	m := sniff.NewMux(l, sniff.Config{
		Timeout:   s.cfg.timeouts.ClientHeader,
		Unmatched: s.unmatched,
		ErrorLog:  s.logger,
	})
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		m.Close()
		return ErrServerClosed
	}
	s.muxes[m] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.muxes, m)
		s.mu.Unlock()
	}()

	// listeners are served by net/http, engines by the HTTP/1.1 engine.
	var listeners []net.Listener
	var engines []func() error
	var handoff *handoffListener
	if s.cfg.engine == EnginePhalanx {
		handoff = newHandoffListener(l.Addr())
		listeners = []net.Listener{
			handoff, // connections the engine passes on, h2 over TLS among them
			h2cListener{m.Listener(sniff.HTTP2)},
		}
		// Listeners are registered before m serves: a connection for a
		// protocol without one is unmatched.
		plain, secure := m.Listener(sniff.HTTP1), m.Listener(sniff.TLS)
		engines = []func() error{
			func() error { return s.fast.serve(plain, nil, handoff) },
			func() error { return s.fast.serve(secure, s.http.TLSConfig, handoff) },
		}
	} else {
		listeners = []net.Listener{
			m.Listener(sniff.HTTP1),
			h2cListener{m.Listener(sniff.HTTP2)}, // net/http serves h2c prior knowledge on clear-text conns
			tls.NewListener(m.Listener(sniff.TLS), s.http.TLSConfig),
		}
	}
	errc := make(chan error, len(listeners)+len(engines)+1)
	for _, pl := range listeners {
		go func() { errc <- s.http.Serve(pl) }()
	}
	for _, serve := range engines {
		go func() { errc <- serve() }()
	}
	go func() {
		if err := m.Serve(); err != nil {
			errc <- err
			return
		}
		errc <- ErrServerClosed
	}()
	first := <-errc
	m.Close() // ends the other Serve calls
	if handoff != nil {
		handoff.Close()
	}
	for range len(listeners) + len(engines) {
		<-errc
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed || errors.Is(first, ErrServerClosed) {
		return ErrServerClosed
	}
	return first
}

// unmatched receives connections that are neither HTTP nor TLS.
func (s *Server) unmatched(p sniff.Protocol, c net.Conn) {
	if s.unknown != nil {
		s.unknown.handle(c)
		return
	}
	s.logger.Debug("closed a connection of unknown protocol", "client", c.RemoteAddr().String())
	c.Close()
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
	for _, tp := range s.tcp {
		l, err := lc.Listen(ctx, "tcp", tp.spec.Listen)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return fmt.Errorf("phalanx: tcp proxy: %w", err)
		}
		s.logger.Info("tcp proxy listening", "addr", l.Addr().String(), "upstream", tp.spec.Upstream)
		ls = append(ls, l)
	}
	if addr := s.cfg.admin.Addr; addr != "" {
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return fmt.Errorf("phalanx: admin: %w", err)
		}
		ls = append(ls, l)
	}
	errc := make(chan error, len(ls))
	for i, l := range ls {
		if i == len(s.cfg.listen)+len(s.tcp) { // the admin listener
			go func() {
				if err := s.ServeAdmin(l); err != nil {
					errc <- err
					return
				}
				errc <- ErrServerClosed
			}()
			continue
		}
		if i < len(s.cfg.listen) {
			go func() { errc <- s.Serve(l) }()
			continue
		}
		tp := s.tcp[i-len(s.cfg.listen)]
		l = limiter.Gate(l, limiter.Func(s.allowConn), &s.refusedConns)
		go func() {
			if err := tp.proxy.serve(l); err != nil {
				errc <- err
				return
			}
			errc <- ErrServerClosed
		}()
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
	s.closeMuxes()
	var wg sync.WaitGroup
	errs := make([]error, len(s.tcp)+2)
	for i, p := range s.tcpProxies() {
		wg.Go(func() { errs[i] = p.close(ctx) })
	}
	var ferr error
	wg.Go(func() { ferr = s.fast.shutdown(ctx) })
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	terr := s.tunnels.drain(ctx)
	wg.Wait()
	s.release()
	if err == nil {
		err = terr
	}
	if err == nil {
		err = ferr
	}
	return errors.Join(append(errs, err)...)
}

// Close closes all listeners and connections at once and stops health
// checks. Shutdown is the graceful alternative.
func (s *Server) Close() error {
	s.closeMuxes()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, p := range s.tcpProxies() {
		p.close(done)
	}
	err := s.http.Close()
	s.fast.closeAll()
	s.tunnels.closeAll()
	s.release()
	return err
}

// tcpProxies returns every TCP proxy of the Server.
func (s *Server) tcpProxies() []*tcpProxy {
	var ps []*tcpProxy
	for _, tp := range s.tcp {
		ps = append(ps, tp.proxy)
	}
	if s.unknown != nil {
		ps = append(ps, s.unknown)
	}
	return ps
}

// closeMuxes closes the sniffing listeners, so no new connection comes in.
func (s *Server) closeMuxes() {
	s.mu.Lock()
	s.closed = true // Serve calls from now on return at once
	ms := make([]*sniff.Mux, 0, len(s.muxes))
	for m := range s.muxes {
		ms = append(ms, m)
	}
	s.mu.Unlock()
	for _, m := range ms {
		m.Close()
	}
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
	return s.ReloadFrom(func() ([]Option, error) { return opts, nil })
}

// ReloadFrom reloads with the options load returns, as Reload does; a
// load that fails (a config file that does not parse, say) counts as a
// failed reload in the metrics, and changes nothing.
func (s *Server) ReloadFrom(load func() ([]Option, error)) error {
	opts, err := load()
	if err == nil {
		err = s.reload(opts)
	}
	if err != nil {
		s.metrics.reloads.WithLabelValues("failed").Inc()
		return err
	}
	s.metrics.reloads.WithLabelValues("ok").Inc()
	s.metrics.lastReload.SetToCurrentTime()
	return nil
}

func (s *Server) reload(opts []Option) error {
	c := newConfig(opts)
	c.metrics = s.metrics
	c.store = s.store
	started := false
	defer func() {
		if !started {
			closeOwned(c.routes)
		}
	}()
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
	if err == nil {
		// TCP ports are fixed at New: their upstreams must stay.
		err = s.cfg.checkTCPUpstreams(snap)
	}
	if err != nil {
		if snap != nil {
			for _, u := range snap.upstreams {
				u.pool.Close()
			}
		}
		return fmt.Errorf("phalanx: reload: %w", err)
	}
	if !slices.Equal(c.listen, s.cfg.listen) || c.timeouts.ClientHeader != s.cfg.timeouts.ClientHeader ||
		c.timeouts.ClientIdle != s.cfg.timeouts.ClientIdle || c.engine != s.cfg.engine || !sameStore(c.shared, s.cfg.shared) {
		s.logger.Warn("reload: listen addresses, client header/idle timeouts, the HTTP/1 engine and the shared store take effect after a restart",
			"listen", s.cfg.listen, "wanted", c.listen, "engine", s.cfg.engine, "wanted_engine", c.engine)
	}
	for _, u := range snap.upstreams {
		u.pool.Start(context.Background())
		u.startDiscovery()
	}
	s.shareFirewall(snap.waf)
	s.state.Store(snap)
	for _, tp := range s.tcp {
		tp.proxy.setPool(snap.upstreams[tp.spec.Upstream].pool)
	}
	if s.unknown != nil {
		s.unknown.setPool(snap.upstreams[s.cfg.unknownTCP].pool)
	}
	started = true
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
	keptH1 := make(map[*h1Pool]bool)
	if next != nil {
		for _, u := range next.upstreams {
			for _, t := range u.transports {
				kept[t] = true
			}
			for _, p := range *u.h1.Load() {
				keptH1[p] = true
			}
		}
	}
	for _, u := range old.upstreams {
		u.stopDiscovery()
		u.pool.Close()
		for _, p := range *u.h1.Load() {
			if !keptH1[p] {
				p.close() // connections in use close when their request ends
			}
		}
		var drop []*http.Transport
		for _, t := range u.transports {
			if t != nil && !kept[t] {
				t.CloseIdleConnections()
				drop = append(drop, t)
			}
		}
		if next != nil && len(drop) > 0 {
			s.bg.Add(1)
			go s.closeWhenIdle(u, drop)
		}
	}
	switch {
	case next == nil:
		closeOwned(old.cfg.routes)
	case slices.ContainsFunc(old.cfg.routes, func(r Route) bool { return r.owned }):
		s.bg.Add(1)
		go s.closeOwnedLater(old.cfg.routes)
	}
}

// retireGrace is how long the handlers of a retired configuration stay
// open after a Reload: a request that loaded the old snapshot just before
// the swap reaches its handler within microseconds. Requests already in a
// handler are safe anyway (os.Root finishes the operations in progress,
// and files already opened stay open).
const retireGrace = time.Second

// closeOwnedLater closes routes' owned handlers after retireGrace, or at
// once when the Server is released.
func (s *Server) closeOwnedLater(routes []Route) {
	defer s.bg.Done()
	t := time.NewTimer(retireGrace)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.done:
	}
	closeOwned(routes)
}

// closeOwned closes the handlers ConfigOptions built for routes.
func closeOwned(routes []Route) {
	for _, r := range routes {
		if c, ok := r.Handler.(io.Closer); ok && r.owned {
			c.Close()
		}
	}
}

// closeWhenIdle waits for the requests on a retired upstream to finish,
// then closes the connections they leave idle. Shutdown ends the wait.
func (s *Server) closeWhenIdle(u *upstream, ts []*http.Transport) {
	defer s.bg.Done()
	defer func() {
		for _, t := range ts {
			t.CloseIdleConnections()
		}
	}()
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
	if s.released {
		return
	}
	s.closed, s.released = true, true
	close(s.done)
	s.retire(s.state.Load(), nil)
	s.bg.Wait()
	if s.store != nil {
		s.shareFirewall(nil)
		s.store.Close()
	}
}

// shareFirewall makes e (nil: none) the firewall the shared store shares,
// ending the sharing of the one before. Requires s.mu held, or New.
func (s *Server) shareFirewall(e *waf.Engine) {
	if s.store == nil || e == s.wafShared {
		return
	}
	if s.wafShare != nil {
		s.wafShare()
		s.wafShare = nil
	}
	s.wafShared = e
	if e == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.wafShare = cancel
	s.store.ShareWAF(ctx, e)
}

// sameStore reports whether a and b configure the same shared store.
func sameStore(a, b *sharedstore.Config) bool {
	switch {
	case a == nil || b == nil:
		return a == b
	}
	x, y := *a, *b
	x.Logger, y.Logger = nil, nil
	return x == y
}
