package phalanx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
	"github.com/phalanx-lb/phalanx/lb"
	"github.com/phalanx-lb/phalanx/resolve"
)

// Backend protocols: how phalanx speaks to a backend.
const (
	protoHTTP1 = iota // HTTP/1.1 in clear text, the default
	protoH2C          // HTTP/2 in clear text with prior knowledge ("h2c")
	protoTLS          // HTTPS, ALPN h2 preferred, http/1.1 accepted ("h2")
	numProtos
)

// backendProto maps an UpstreamServer.Protocol to its constant.
func backendProto(s string) (int, error) {
	switch s {
	case "", "http1", "http/1.1":
		return protoHTTP1, nil
	case "h2c":
		return protoH2C, nil
	case "h2", "https":
		return protoTLS, nil
	}
	return 0, fmt.Errorf("unknown backend protocol %q (want http1, h2c or h2)", s)
}

// upstream is a pool with the HTTP transports that talk to its backends,
// one per protocol in use. Each transport keeps a bounded set of idle
// keep-alive connections per backend address.
type upstream struct {
	name       string
	pool       *lb.Pool
	transports [numProtos]*http.Transport
	tkey       transportKey // what the transports were built from
	// ai is the learning policy's settings if the pool's Builder is one
	// made here for "aipredictive", so that a reload can keep it.
	ai *AI
	// algorithm names the pool's algorithm ("custom" for a Builder).
	algorithm string
	// nonHTTP1: some server is spoken to over h2c or h2, so the HTTP/1.1
	// engine hands this upstream's requests to net/http.
	nonHTTP1 bool
	// protos maps a backend address to its protocol (absent: HTTP/1.1),
	// and h1 holds the HTTP/1.1 engine's connection pools of the HTTP/1.1
	// backends. Both are replaced whole when discovery changes the
	// membership, and read without a lock.
	protos atomic.Pointer[map[string]int]
	h1     atomic.Pointer[map[string]*h1Pool]
	// keepalive is false when the upstream keeps no idle connections;
	// h1Keep and h1Idle bound the engine's pools; dial reaches backends.
	keepalive bool
	h1Keep    int
	h1Idle    time.Duration
	dial      DialFunc
	// disc is the upstream's service discovery; nil without Resolve or
	// SRV servers.
	disc *discovery
}

// transportKey is what the transports depend on: an upstream whose key is
// unchanged by a reload keeps its transports and idle connections.
type transportKey struct {
	keepalive             int
	connect, header, idle time.Duration
	dial                  uintptr // the dial hook's code pointer
	tls                   *tls.Config
}

// transportFor returns the transport and URL scheme for backend b.
func (u *upstream) transportFor(b *lb.Backend) (*http.Transport, string) {
	p := (*u.protos.Load())[b.Addr()]
	if p == protoTLS {
		return u.transports[p], "https"
	}
	return u.transports[p], "http"
}

// builder returns the Builder of u's pool. A learning policy is taken over
// from prev, the upstream u replaces, if both use the same one.
func (u *Upstream) builder(prev *upstream) (lb.Builder, error) {
	if u.Builder != nil {
		return u.Builder, nil
	}
	name := u.Algorithm
	if name == "" {
		name = lb.RoundRobinName
	}
	if name != lb.AIPredictiveName {
		return lb.Lookup(name)
	}
	if prev != nil && prev.ai != nil && *prev.ai == u.AI {
		if bb, ok := prev.pool.Builder().(*lb.BanditBuilder); ok {
			return bb, nil
		}
	}
	policy := u.AI.Algorithm
	if policy == "" {
		policy = bandit.DefaultName
	}
	p, err := bandit.New(policy, u.AI.Params, nil)
	if err != nil {
		return nil, err
	}
	return lb.NewBandit(p), nil
}

// newUpstream builds an upstream from its definition. Backends of prev
// (the same-named upstream being replaced, or nil) at the same address
// hand their health and totals to their successors, and prev's transports
// are kept if they still fit.
func newUpstream(u Upstream, c *config, prev *upstream, res *resolve.Resolver) (*upstream, error) {
	if u.Name == "" {
		return nil, errors.New("upstream without a name")
	}
	if len(u.Servers) == 0 {
		return nil, fmt.Errorf("upstream %s: no servers", u.Name)
	}
	builder, err := u.builder(prev)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", u.Name, err)
	}
	up := &upstream{name: u.Name, algorithm: u.Algorithm, dial: c.dialer(), h1Idle: c.timeouts.UpstreamIdle}
	if u.Builder != nil {
		up.algorithm = "custom"
	} else if up.algorithm == "" {
		up.algorithm = lb.RoundRobinName
	}
	if _, ok := builder.(*lb.BanditBuilder); ok && u.Builder == nil {
		up.ai = &u.AI
	}
	up.keepalive = u.Keepalive >= 0
	up.h1Keep = defaultKeepalive
	switch {
	case u.Keepalive < 0:
		up.h1Keep = 0
	case u.Keepalive > 0:
		up.h1Keep = u.Keepalive
	}
	var used [numProtos]bool
	var static []*lb.Backend
	var dyn []UpstreamServer
	staticProtos := make(map[string]int)
	for _, sv := range u.Servers {
		proto, err := backendProto(sv.Protocol)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: server %s: %w", u.Name, sv.Addr, err)
		}
		used[proto] = true
		up.nonHTTP1 = up.nonHTTP1 || proto != protoHTTP1
		if sv.Resolve || sv.SRV {
			dyn = append(dyn, sv)
			continue
		}
		b, err := newServerBackend(sv, sv.Addr, sv.Weight, sv.Backup)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", u.Name, err)
		}
		static = append(static, b)
		if proto != protoHTTP1 {
			staticProtos[sv.Addr] = proto
		}
	}
	if len(dyn) > 0 {
		up.disc = newDiscovery(up, static, staticProtos, dyn, res, prev, c.logger)
	}
	members, protos := up.members(static, staticProtos)
	if prev != nil {
		for _, b := range members {
			for _, ob := range prev.pool.Backends() {
				if ob.Addr() == b.Addr() {
					b.Inherit(ob)
				}
			}
		}
	}
	health := u.Health
	if health.Dial == nil {
		health.Dial = up.dial
	}
	pool, err := lb.NewPool(u.Name, members, lb.PoolConfig{Builder: builder, Health: health, Logger: c.logger,
		OnEvent: c.metrics.poolEvent(u.Name)})
	if err != nil {
		return nil, err
	}
	up.pool = pool
	up.tkey = transportKey{
		keepalive: u.Keepalive,
		connect:   c.timeouts.UpstreamConnect,
		header:    c.timeouts.UpstreamHeader,
		idle:      c.timeouts.UpstreamIdle,
		tls:       u.TLSConfig,
	}
	if c.dial != nil {
		up.tkey.dial = reflect.ValueOf(c.dial).Pointer()
	}
	for p := range numProtos {
		if !used[p] {
			continue
		}
		if prev != nil && prev.tkey == up.tkey && prev.transports[p] != nil {
			up.transports[p] = prev.transports[p]
			continue
		}
		up.transports[p] = newTransport(p, u, c, up.dial)
	}
	var keep map[string]*h1Pool // pools taken over from prev
	if prev != nil && prev.tkey == up.tkey {
		keep = *prev.h1.Load()
	}
	up.setMembers(members, protos, keep)
	return up, nil
}

// newServerBackend makes the backend at addr of server line sv.
func newServerBackend(sv UpstreamServer, addr string, weight int, backup bool) (*lb.Backend, error) {
	return lb.NewBackend(addr, lb.BackendConfig{
		Weight:      weight,
		Backup:      backup,
		MaxFails:    sv.MaxFails,
		FailTimeout: sv.FailTimeout,
	})
}

// members returns the pool's backends: the static ones, then those
// discovery found, an address listed once, with the protocols of those
// not spoken to over HTTP/1.1.
func (u *upstream) members(static []*lb.Backend, staticProtos map[string]int) ([]*lb.Backend, map[string]int) {
	members := append([]*lb.Backend(nil), static...)
	protos := maps.Clone(staticProtos)
	if u.disc != nil {
		members = u.disc.appendFound(members, protos)
	}
	return members, protos
}

// setMembers publishes the protocols of members and the engine's pools
// for the HTTP/1.1 ones, taking a pool from from (the previous map) where
// there is one for the address. It returns the pools of from that are no
// longer used, for the caller to close.
func (u *upstream) setMembers(members []*lb.Backend, protos map[string]int, from map[string]*h1Pool) []*h1Pool {
	pools := make(map[string]*h1Pool, len(members))
	for _, b := range members {
		addr := b.Addr()
		if _, other := protos[addr]; other {
			continue
		}
		if p := from[addr]; p != nil {
			pools[addr] = p
			continue
		}
		pools[addr] = &h1Pool{addr: addr, dial: u.dial, max: u.h1Keep, timeout: u.h1Idle}
	}
	var unused []*h1Pool
	for addr, p := range from {
		if pools[addr] != p {
			unused = append(unused, p)
		}
	}
	u.protos.Store(&protos)
	u.h1.Store(&pools)
	return unused
}

// h1Pool returns the engine's pool for backend b. A backend that left
// the pool (discovery dropped it after a request picked it) has none any
// more: it gets a closed one, which dials afresh and keeps nothing.
func (u *upstream) h1Pool(b *lb.Backend) *h1Pool {
	if p := (*u.h1.Load())[b.Addr()]; p != nil {
		return p
	}
	return &h1Pool{addr: b.Addr(), dial: u.dial, timeout: u.h1Idle, closed: true}
}

// newTransport builds the transport for one backend protocol.
func newTransport(proto int, u Upstream, c *config, dial DialFunc) *http.Transport {
	t := &http.Transport{
		Proxy:                  nil, // never route backend traffic through an environment proxy
		DialContext:            dial,
		IdleConnTimeout:        c.timeouts.UpstreamIdle,
		ResponseHeaderTimeout:  c.timeouts.UpstreamHeader,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true, // pass encodings through untouched
		MaxResponseHeaderBytes: 1 << 20,
		Protocols:              new(http.Protocols),
	}
	switch proto {
	case protoHTTP1:
		t.Protocols.SetHTTP1(true)
	case protoH2C:
		t.Protocols.SetUnencryptedHTTP2(true)
	case protoTLS:
		t.Protocols.SetHTTP1(true)
		t.Protocols.SetHTTP2(true)
		t.TLSClientConfig = u.TLSConfig.Clone() // nil: system roots
		t.TLSHandshakeTimeout = c.timeouts.UpstreamConnect
	}
	switch {
	case u.Keepalive < 0:
		t.DisableKeepAlives = true
	case u.Keepalive == 0:
		t.MaxIdleConnsPerHost = defaultKeepalive
	default:
		t.MaxIdleConnsPerHost = u.Keepalive
	}
	return t
}

// dialer returns the backend dialer, bounded by the connect timeout, whose
// errors are marked as dial errors so that the retry logic knows no byte
// reached the backend.
func (c *config) dialer() DialFunc {
	dial := c.dial
	if dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		dial = d.DialContext
	}
	timeout := c.timeouts.UpstreamConnect
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, &dialError{addr: addr, err: err}
		}
		return conn, nil
	}
}

// dialError marks a failure to connect: nothing was sent to the backend.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string { return "connect to " + e.addr + ": " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// Timeout reports whether the dial timed out.
func (e *dialError) Timeout() bool { return isTimeout(e.err) }

// reqState is what the pipeline knows about one proxied request; it rides
// in the request context from the handler to the transport and the error
// handler.
type reqState struct {
	cfg      *config
	route    *route
	id       string
	client   netip.Addr
	clientIP string
	backend  atomic.Pointer[lb.Backend] // the last backend tried
	// upstreamNanos is the last attempt's time to response headers.
	upstreamNanos atomic.Int64
}

type stateKey struct{}

func stateOf(r *http.Request) *reqState {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	return st
}

// roundTripper picks a backend for each request and sends it with the
// upstream's transport, retrying once on another backend when that cannot
// duplicate work: after a connection failure (nothing was sent), or for an
// idempotent request whose body was not read, after the connection broke
// before response headers.
type roundTripper struct {
	tunnels *tunnelSet // the Server's open upgraded connections
	metrics *metrics
}

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	st := stateOf(req)
	if st == nil || st.route.up == nil {
		return nil, errors.New("phalanx: request without route state")
	}
	up := st.route.up
	var body *replayBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &replayBody{rc: req.Body}
	}
	var tried [1]*lb.Backend
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		b, done, err := pickAvoiding(up.pool, lb.Request{ClientIP: st.clientIP}, tried[:attempt])
		if err != nil {
			if lastErr != nil {
				return nil, lastErr // nothing else to try: report the real failure
			}
			return nil, err
		}
		st.backend.Store(b)
		t, scheme := up.transportFor(b)
		out := req.WithContext(req.Context())
		u := *req.URL
		u.Scheme, u.Host = scheme, b.Addr()
		out.URL = &u
		if body != nil {
			out.Body = body.attempt()
		}
		b.Start()
		start := time.Now()
		res, err := t.RoundTrip(out)
		latency := time.Since(start)
		st.upstreamNanos.Store(int64(latency))
		rt.metrics.upstreamDuration.WithLabelValues(up.name, b.Addr()).Observe(latency.Seconds())
		if err == nil {
			o := lb.Outcome{Latency: latency, Status: res.StatusCode}
			if rwc, ok := res.Body.(io.ReadWriteCloser); ok && res.StatusCode == http.StatusSwitchingProtocols {
				// An upgraded connection (WebSocket) stays in flight on b
				// until it closes.
				var tun *tunnel
				tun = newTunnel(rwc, st.cfg.timeouts.TunnelIdle, func() {
					rt.tunnels.remove(tun)
					finish(b, done, o)
				})
				rt.tunnels.add(tun)
				res.Body = tun
				return res, nil
			}
			res.Body = &finishBody{ReadCloser: res.Body, ctx: req.Context(), b: b, o: o, done: done}
			return res, nil
		}
		// A request the client abandoned, or whose body the client broke
		// off or overran, says nothing about the backend.
		// A deadline that passed (the route's request_timeout, a gRPC
		// timeout, proxy_read_timeout) is the backend's slowness.
		ctxErr := req.Context().Err()
		timedOut := errors.Is(ctxErr, context.DeadlineExceeded) || (ctxErr == nil && isTimeout(err))
		clientFault := (ctxErr != nil && !timedOut) || (body != nil && body.failed())
		finish(b, done, lb.Outcome{Latency: latency, ConnFailed: !clientFault,
			TimedOut: timedOut && !clientFault, Canceled: clientFault})
		lastErr = err
		if !retryable(req, err, body) {
			return nil, err
		}
		tried[0] = b
	}
	return nil, lastErr
}

// pickAvoiding picks a backend not in avoid, asking the pool a few times
// since a picker may legitimately return the same backend again (iphash
// always does, until passive health checks take it out).
func pickAvoiding(p *lb.Pool, r lb.Request, avoid []*lb.Backend) (*lb.Backend, func(*lb.Backend, lb.Outcome), error) {
	for range 4 {
		res, err := p.Pick(r)
		if err != nil {
			return nil, nil, err
		}
		if !slices.Contains(avoid, res.Backend) {
			return res.Backend, res.Done, nil
		}
		if res.Done != nil { // a learning picker counts the pick as in flight
			res.Done(res.Backend, lb.Outcome{Canceled: true})
		}
	}
	return nil, nil, fmt.Errorf("%w in pool %s other than those tried", lb.ErrNoBackend, p.Name())
}

func finish(b *lb.Backend, done func(*lb.Backend, lb.Outcome), o lb.Outcome) {
	b.Finish(o)
	if done != nil {
		done(b, o)
	}
}

// retryable reports whether a failed attempt may be repeated on another
// backend without risk of doing the work twice.
func retryable(req *http.Request, err error, body *replayBody) bool {
	if req.Context().Err() != nil {
		return false // the client left or the request deadline passed
	}
	if body != nil && body.touched() {
		return false // some of the body went out; it cannot be replayed
	}
	var de *dialError
	if errors.As(err, &de) {
		return true // nothing reached the backend
	}
	if isTimeout(err) {
		return false // the backend may still be working on it
	}
	return idempotent(req)
}

// isTimeout reports whether err is a timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// idempotent reports whether req may be sent twice (RFC 9110 9.2.2).
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return req.Header.Get("Idempotency-Key") != ""
}

// replayBody lets a request body be offered to a second attempt as long
// as the first read none of it. Each attempt reads through its own view;
// a view from an abandoned attempt can no longer read.
type replayBody struct {
	rc   io.ReadCloser
	gen  atomic.Int32
	read atomic.Bool
	err  atomic.Bool // reading the client's body failed (not EOF)
}

func (b *replayBody) attempt() io.ReadCloser {
	return &bodyView{b: b, gen: b.gen.Add(1)}
}

func (b *replayBody) touched() bool { return b.read.Load() }

func (b *replayBody) failed() bool { return b.err.Load() }

type bodyView struct {
	b   *replayBody
	gen int32
}

var errStaleBody = errors.New("phalanx: request body read by an abandoned attempt")

func (v *bodyView) Read(p []byte) (int, error) {
	if v.b.gen.Load() != v.gen {
		return 0, errStaleBody
	}
	n, err := v.b.rc.Read(p)
	if n > 0 {
		v.b.read.Store(true)
	}
	if err != nil && err != io.EOF {
		v.b.err.Store(true)
	}
	return n, err
}

// Close does not close the client's body: the server does that when the
// handler returns, and a retry may still need it.
func (v *bodyView) Close() error { return nil }

// finishBody reports the outcome of a request when its response body is
// done, so in-flight counts cover the whole exchange.
type finishBody struct {
	io.ReadCloser
	ctx  context.Context
	b    *lb.Backend
	o    lb.Outcome
	done func(*lb.Backend, lb.Outcome)
	once sync.Once
}

func (f *finishBody) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if err != nil && err != io.EOF && f.ctx.Err() == nil {
		f.o.ConnFailed = true // the backend broke off the response
	}
	return n, err
}

func (f *finishBody) Close() error {
	err := f.ReadCloser.Close()
	f.once.Do(func() { finish(f.b, f.done, f.o) })
	return err
}

// tunnel is the backend side of an upgraded connection. It closes itself
// when no byte has moved either way for idle, and reports the end of the
// session once. Closing it ends the whole relay: the proxy then closes
// the client side too.
type tunnel struct {
	rwc   io.ReadWriteCloser
	idle  time.Duration
	timer *time.Timer
	once  sync.Once
	end   func()
}

func newTunnel(rwc io.ReadWriteCloser, idle time.Duration, end func()) *tunnel {
	t := &tunnel{rwc: rwc, idle: idle, end: end}
	t.timer = time.AfterFunc(time.Hour, func() { t.Close() })
	t.timer.Reset(idle) // armed only once t.timer is set
	return t
}

// tunnelSet tracks the open tunnels of a Server: net/http forgets a
// connection once it is hijacked, so Shutdown and Close use this to wait
// for and end WebSockets.
type tunnelSet struct {
	mu     sync.Mutex
	m      map[*tunnel]struct{}
	closed bool // no new tunnels: they are closed on arrival
}

// add registers t, or closes it if the set is closed.
func (ts *tunnelSet) add(t *tunnel) {
	ts.mu.Lock()
	if ts.closed {
		ts.mu.Unlock()
		t.Close()
		return
	}
	if ts.m == nil {
		ts.m = make(map[*tunnel]struct{})
	}
	ts.m[t] = struct{}{}
	ts.mu.Unlock()
}

func (ts *tunnelSet) remove(t *tunnel) {
	ts.mu.Lock()
	delete(ts.m, t)
	ts.mu.Unlock()
}

// drain refuses new tunnels, waits for the open ones to end or ctx to be
// done, and then closes what is left, returning ctx's error if any was.
func (ts *tunnelSet) drain(ctx context.Context) error {
	ts.mu.Lock()
	ts.closed = true
	ts.mu.Unlock()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ts.mu.Lock()
		n := len(ts.m)
		ts.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			ts.closeAll()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// closeAll closes every open tunnel and refuses new ones.
func (ts *tunnelSet) closeAll() {
	ts.mu.Lock()
	ts.closed = true
	open := make([]*tunnel, 0, len(ts.m))
	for t := range ts.m {
		open = append(open, t)
	}
	ts.mu.Unlock()
	for _, t := range open {
		t.Close()
	}
}

func (t *tunnel) Read(p []byte) (int, error) {
	n, err := t.rwc.Read(p)
	if n > 0 {
		t.timer.Reset(t.idle)
	}
	return n, err
}

func (t *tunnel) Write(p []byte) (int, error) {
	n, err := t.rwc.Write(p)
	if n > 0 {
		t.timer.Reset(t.idle)
	}
	return n, err
}

func (t *tunnel) Close() error {
	t.timer.Stop()
	err := t.rwc.Close()
	t.once.Do(t.end)
	return err
}

// bufferPool recycles the proxy's copy buffers. It holds array pointers,
// so that neither Get nor Put allocates.
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

func (bp *bufferPool) Get() []byte {
	if a, ok := bp.p.Get().(*[copyBufferSize]byte); ok {
		return a[:]
	}
	return new([copyBufferSize]byte)[:]
}

func (bp *bufferPool) Put(b []byte) {
	if cap(b) == copyBufferSize {
		bp.p.Put((*[copyBufferSize]byte)(b[:copyBufferSize]))
	}
}

// newReverseProxy builds the net/http engine's proxy stage.
func (s *Server) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        s.rewrite,
		Transport:      roundTripper{tunnels: &s.tunnels, metrics: s.metrics},
		BufferPool:     &bufferPool{},
		ModifyResponse: modifyResponse,
		ErrorHandler:   s.proxyError,
		ErrorLog:       slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
}

// rewrite prepares the request sent upstream: forwarding headers, the
// request id and the route's added headers. Hop-by-hop headers and any
// incoming X-Forwarded-* are already gone.
func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In)
	in, out := pr.In, pr.Out
	if up := out.Header.Get("Upgrade"); up != "" && !strings.EqualFold(up, "websocket") {
		// Relay WebSocket upgrades only. An h2c upgrade that a backend
		// accepted would become a tunnel of HTTP/2 requests that skip
		// routing, limits and the WAF ("h2c smuggling").
		out.Header.Del("Upgrade")
		out.Header.Del("Connection")
		out.Header.Del("Http2-Settings")
	}
	out.URL.Scheme = "http"
	out.URL.Host = st.route.up.name // replaced by the picked backend
	out.URL.RawQuery = in.URL.RawQuery
	peer := peerAddr(in.RemoteAddr)
	trusted := st.cfg.trusted.contains(peer)
	out.Header.Set("X-Forwarded-For", st.cfg.trusted.forwardedFor(peer, in.Header.Values("X-Forwarded-For")))
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	if v := in.Header.Get("X-Forwarded-Proto"); trusted && v != "" {
		proto = v
	}
	out.Header.Set("X-Forwarded-Proto", proto)
	host := in.Host
	if v := in.Header.Get("X-Forwarded-Host"); trusted && v != "" {
		host = v
	}
	out.Header.Set("X-Forwarded-Host", host)
	out.Header.Set("X-Request-Id", st.id)
	for _, h := range st.route.AddHeaders {
		out.Header.Set(h.Name, h.Value)
	}
}

func modifyResponse(res *http.Response) error {
	st := stateOf(res.Request)
	for _, h := range st.route.AddResponseHeaders {
		res.Header.Set(h.Name, h.Value)
	}
	return nil
}

// statusClientClosed is logged (never sent) when the client went away
// before the response, as nginx's 499.
const statusClientClosed = 499

// classify maps a proxying error to the status the client gets.
func classify(r *http.Request, err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, lb.ErrNoBackend):
		return http.StatusServiceUnavailable
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return statusClientClosed
	case isTimeout(err):
		return http.StatusGatewayTimeout
	default:
		return http.StatusBadGateway
	}
}

func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r)
	status := classify(r, err)
	s.logFailed(r.Context(), st, status, err, r.Method, r.URL.Path)
	if status == statusClientClosed {
		return
	}
	if isGRPC(r) {
		writeGRPCError(w, status)
		return
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, http.StatusText(status), status)
}

// logFailed writes the one line of a request that no backend answered:
// at debug level when the client left (499), else as a warning.
func (s *Server) logFailed(ctx context.Context, st *reqState, status int, err error, method, path string) {
	backend := ""
	if b := st.backend.Load(); b != nil {
		backend = b.Addr()
	}
	level := slog.LevelWarn
	if status == statusClientClosed {
		level = slog.LevelDebug
	}
	s.logger.LogAttrs(ctx, level, "request failed",
		slog.Int("status", status),
		slog.String("route", st.route.name),
		slog.String("upstream", st.route.up.name),
		slog.String("backend", backend),
		slog.String("cause", err.Error()),
		slog.String("method", method),
		slog.String("path", path),
		slog.String("client", st.clientIP),
		slog.String("request_id", st.id),
	)
}

// len returns the number of open tunnels.
func (ts *tunnelSet) len() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.m)
}
