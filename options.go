package phalanx

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
	"github.com/phalanx-lb/phalanx/lb"
	"github.com/phalanx-lb/phalanx/limiter"
	"github.com/phalanx-lb/phalanx/resolve"
	"github.com/phalanx-lb/phalanx/sharedstore"
	"github.com/phalanx-lb/phalanx/waf"
)

// An Option configures a Server. Options are applied in order by New; the
// result is validated once, after all of them.
type Option interface {
	apply(*config)
}

// optionFunc adapts a function to an Option.
type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// DialFunc dials a backend; it has the shape of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Upstream is a named pool of backends, the target of a Route.
type Upstream struct {
	// Name is how routes refer to the pool.
	Name string
	// Servers are the pool's backends.
	Servers []UpstreamServer
	// Algorithm is the name of a registered lb Builder ("roundrobin",
	// "weightedroundrobin", "leastconnections", "iphash", "random", "p2c",
	// "aipredictive"); empty means "roundrobin". Builder, if set, takes
	// precedence.
	Algorithm string
	// AI chooses and tunes the learning policy of "aipredictive".
	AI AI
	// Builder, if not nil, builds the pool's Picker instead of Algorithm:
	// lb.NewBandit(policy) plugs in a policy of your own.
	Builder lb.Builder
	// Health configures active health checks; the zero value means TCP
	// connect checks every 5s (see lb.HealthCheck).
	Health lb.HealthCheck
	// Keepalive bounds the idle connections kept open to each backend;
	// 0 means 32, negative disables keep-alive to the backends.
	Keepalive int
	// TLSConfig is the client TLS configuration for "h2" backends; nil
	// verifies them against the system roots.
	TLSConfig *tls.Config
}

// AI is the learning-based routing of an Upstream whose Algorithm is
// "aipredictive" (see package bandit). A Reload that keeps an upstream's
// name and AI keeps what its policy learned about the backends that stay.
type AI struct {
	// Algorithm names the policy (bandit.Names); empty means
	// bandit.DefaultName.
	Algorithm string
	// Params tune it; zero fields take the policy's defaults.
	Params bandit.Params
}

// UpstreamServer is one backend of an Upstream.
type UpstreamServer struct {
	// Addr is the backend's "host:port".
	Addr string
	// Weight is its relative share of traffic; 0 means 1.
	Weight int
	// MaxFails consecutive failed requests (connection failure or 5xx)
	// take the backend out for FailTimeout. 0 means 1; negative disables.
	MaxFails int
	// FailTimeout is the passive cool-down; 0 means 10s.
	FailTimeout time.Duration
	// Backup servers get traffic only when no other server is usable.
	Backup bool
	// Protocol is how to speak to the backend: "http1" (or empty) for
	// HTTP/1.1, "h2c" for HTTP/2 in clear text (gRPC servers), "h2" for
	// HTTPS, preferring HTTP/2.
	Protocol string
	// Resolve makes Addr ("NAME:PORT") a DNS name that is looked up again
	// as its records' TTL expires (see WithResolver): each address is a
	// backend of this line's settings, joining and leaving the pool
	// without a reload, health-checked and learned about like a static
	// one. A failed lookup keeps the last good set.
	Resolve bool
	// SRV makes Addr an SRV name ("_http._tcp.NAME"), looked up like
	// Resolve; the records give the backends' ports and weights (Weight
	// is ignored), and those of a priority above the lowest are backups.
	SRV bool
}

// Header is one header field added by a Route.
type Header struct {
	Name, Value string
}

// Route maps requests to an action. A request is matched by host first
// (routes with a Host, then routes without one), then by the longest Path
// prefix within that set. Exactly one of Upstream and Handler is set.
type Route struct {
	// Host, if not empty, restricts the route to requests for that host
	// (case-insensitive, port ignored). A leading "*." matches any
	// subdomain: "*.example.com" matches "a.example.com", not
	// "example.com".
	Host string
	// Path is a path prefix, compared byte for byte as nginx's prefix
	// locations are: "/api" matches "/api", "/api/x" and "/apix". Empty
	// means "/".
	Path string
	// Upstream names the pool that serves the route.
	Upstream string
	// Handler serves the route instead of an upstream (static files,
	// FastCGI, a Go handler of the embedding program).
	Handler http.Handler
	// AddHeaders are set on the request sent upstream (nginx's
	// proxy_set_header; the config file calls it add_header).
	AddHeaders []Header
	// AddResponseHeaders are set on the response to the client.
	AddResponseHeaders []Header
	// Timeout, if positive, bounds the whole request, replacing
	// Timeouts.Request for this route.
	Timeout time.Duration
	// MaxBodyBytes, if not 0, replaces the Server's body limit for this
	// route; negative means no limit.
	MaxBodyBytes int64
	// WAFExclude turns firewall rules off for this route: rule ids
	// ("1002") and family names ("sqli", "xss", "traversal", "rfi",
	// "command", "nosql", "bot", "protocol"), for a route whose
	// legitimate traffic looks like an attack.
	WAFExclude []string
	// WAFOff turns the firewall off for this route.
	WAFOff bool

	// owned is set by ConfigOptions on the routes whose Handler it built:
	// the Server closes such a Handler (an io.Closer) when it retires the
	// configuration holding it.
	owned bool
}

// Timeouts bound every wait of the proxy. A zero field keeps its default.
type Timeouts struct {
	// ClientHeader bounds reading a request's headers (slowloris); 10s.
	ClientHeader time.Duration
	// ClientIdle is how long a client keep-alive connection may sit
	// between requests; 75s (nginx's keepalive_timeout).
	ClientIdle time.Duration
	// UpstreamConnect bounds dialing a backend; 5s.
	UpstreamConnect time.Duration
	// UpstreamHeader bounds the wait for a backend's response headers
	// once the request is sent; 60s (nginx's proxy_read_timeout).
	UpstreamHeader time.Duration
	// UpstreamIdle is how long an idle backend connection is kept; 60s.
	UpstreamIdle time.Duration
	// Request, if positive, bounds a whole request end to end; off by
	// default, since it would cut long downloads and streams.
	Request time.Duration
	// TunnelIdle closes an upgraded connection (WebSocket) or a TCP
	// proxy session when no byte has moved either way for this long; 10m.
	TunnelIdle time.Duration
	// Shutdown is how long ListenAndServe lets in-flight requests finish
	// after its context ends; 30s.
	Shutdown time.Duration
}

type config struct {
	rateLimit      limiter.Config  // zero: no limits
	connLimiter    limiter.Limiter // WithLimiters; overrides rateLimit at accept
	reqLimiter     limiter.Limiter // WithLimiters; overrides rateLimit per request
	listen         []string
	tcp            []TCPProxy
	unknownTCP     string // upstream for unknown protocols on HTTP ports
	certs          []certSpec
	upstreams      []Upstream
	routes         []Route
	logger         *slog.Logger
	timeouts       Timeouts
	dial           DialFunc
	trusted        trustedSet
	maxBodyBytes   int64
	maxHeaderBytes int
	accessLog      *slog.Logger // nil: no access log
	waf            *waf.Config  // nil: no firewall
	admin          Admin
	engine         HTTP1Engine
	resolver       *resolve.Config     // nil: the defaults
	shared         *sharedstore.Config // nil: no shared store

	// store is the Server's shared store (WithSharedStore), set by New
	// and Reload (not an option).
	store *sharedstore.Store

	// metrics are the Server's, set by New and Reload (not an option).
	metrics *metrics
}

// defaultConfig holds every default in one place.
func defaultConfig() config {
	return config{
		// The reference daemon's HTTP port.
		listen: []string{"0.0.0.0:8080"},
		logger: slog.Default(),
		timeouts: Timeouts{
			ClientHeader:    10 * time.Second, // long enough for slow links, short enough for slowloris
			ClientIdle:      75 * time.Second, // nginx keepalive_timeout
			UpstreamConnect: 5 * time.Second,  // a healthy backend on a LAN accepts in milliseconds
			UpstreamHeader:  60 * time.Second, // nginx proxy_read_timeout
			UpstreamIdle:    60 * time.Second, // below common backend idle timeouts would be better; 60s matches nginx
			TunnelIdle:      10 * time.Minute, // long enough for chatty WebSockets' pings, short enough to reap dead peers
			Shutdown:        30 * time.Second, // Kubernetes' default termination grace period
		},
		// 1 MiB, nginx's client_max_body_size.
		maxBodyBytes: 1 << 20,
		// 32 KiB, nginx's large_client_header_buffers (4 x 8k).
		maxHeaderBytes: 32 << 10,
		engine:         defaultEngine,
	}
}

// WithSharedStore shares the request rate limits (per client and
// global) and the firewall's strikes and bans with every instance that
// uses the same Redis (see package sharedstore; the config file's
// "shared_store redis://HOST:PORT/DB;" and "shared_store_fail"). Without
// it, nothing leaves the process. Routing estimates stay local, and so
// does the connection gate at accept: a round trip per connection would
// let a flood of them stall accepting. While Redis is unreachable the
// local limiter decides (or, with FailClosed, requests are refused), and
// sharing resumes on its own. The store is fixed at New.
func WithSharedStore(c sharedstore.Config) Option {
	return optionFunc(func(cfg *config) { cfg.shared = &c })
}

// HTTP1Engine names the engine that serves HTTP/1.x on the Server's own
// listeners (clear text, and TLS without ALPN h2).
type HTTP1Engine string

const (
	// EnginePhalanx is phalanx's own HTTP/1.1 engine, the default: it
	// parses a request head in place and proxies over its own pooled
	// backend connections, at a fraction of net/http's cost per request.
	// Requests it does not proxy itself (routes with a Handler, WebSocket
	// upgrades, backends spoken to over HTTP/2) are handed with their
	// connection to net/http.
	EnginePhalanx HTTP1Engine = "phalanx"
	// EngineNetHTTP serves HTTP/1.x with net/http, as Handler does.
	EngineNetHTTP HTTP1Engine = "net/http"
)

// defaultEngine is the engine of a Server without WithHTTP1Engine. Tests
// may switch it (see export_test.go) to run the suite on either.
var defaultEngine = EnginePhalanx

// WithHTTP1Engine chooses the engine for HTTP/1.x on the Server's
// listeners; HTTP/2 is always net/http's (with x/net/http2). The engine is
// fixed at New: Reload keeps the running one.
func WithHTTP1Engine(e HTTP1Engine) Option {
	return optionFunc(func(c *config) { c.engine = e })
}

// defaultKeepalive is the idle-connection bound per backend when an
// Upstream leaves Keepalive at 0.
const defaultKeepalive = 32

// WithListen sets the addresses ListenAndServe listens on, replacing the
// default 0.0.0.0:8080.
func WithListen(addrs ...string) Option {
	return optionFunc(func(c *config) { c.listen = append([]string(nil), addrs...) })
}

// WithCertificate adds a TLS certificate and key (PEM files). Every
// listener then also accepts TLS (it tells TLS from clear text by the first
// bytes), negotiating HTTP/2 or HTTP/1.1 by ALPN. The certificate serves
// the SNI names given, or, with none, the DNS names and IP addresses it
// was issued for; "*.example.com" matches one label. The first certificate
// added also answers handshakes without a matching name. Reload re-reads
// the files.
func WithCertificate(certFile, keyFile string, names ...string) Option {
	return optionFunc(func(c *config) {
		c.certs = append(c.certs, certSpec{certFile: certFile, keyFile: keyFile, names: append([]string(nil), names...)})
	})
}

// TCPProxy is a port whose connections are relayed as raw bytes to the
// backends of an upstream, like nginx's stream proxy_pass. The upstream's
// health checks and in-flight counts are shared with HTTP routes to it.
type TCPProxy struct {
	// Listen is the "host:port" ListenAndServe listens on.
	Listen string
	// Upstream names the pool.
	Upstream string
	// SendProxy, if 1 or 2, sends a PROXY protocol header of that version
	// to the backend with the client's address; 0 sends none. PROXY
	// headers from clients are read only from WithTrustedProxies peers.
	SendProxy int
}

// WithTCPProxy adds a raw TCP proxy port.
func WithTCPProxy(p TCPProxy) Option {
	return optionFunc(func(c *config) { c.tcp = append(c.tcp, p) })
}

// WithUnknownProtocols hands connections on the HTTP ports that are
// neither HTTP nor TLS to upstream's backends as raw TCP, instead of
// closing them.
func WithUnknownProtocols(upstream string) Option {
	return optionFunc(func(c *config) { c.unknownTCP = upstream })
}

// WithRateLimit limits each client (and, with GlobalRate, all clients
// together) twice with the same rates, in separate buckets: new
// connections at accept, which are closed before any byte is read when
// over the limit, and requests, which get 429 Too Many Requests with
// Retry-After (keep-alive and HTTP/2 would otherwise let one connection
// send without limit). The client is the socket peer, or behind trusted
// proxies the right-most untrusted X-Forwarded-For / Forwarded hop.
// Buckets survive a Reload that keeps the same limits.
func WithRateLimit(c limiter.Config) Option {
	return optionFunc(func(cfg *config) { cfg.rateLimit = c })
}

// WithLimiters plugs in other limiters (a fleet-wide store, say): conn is
// asked at accept, req per request. A nil one leaves that point to
// WithRateLimit's.
func WithLimiters(conn, req limiter.Limiter) Option {
	return optionFunc(func(c *config) { c.connLimiter, c.reqLimiter = conn, req })
}

// WithUpstream adds a pool of backends.
func WithUpstream(u Upstream) Option {
	return optionFunc(func(c *config) { c.upstreams = append(c.upstreams, u) })
}

// WithRoute adds a route. Without any route, a Server with exactly one
// upstream routes "/" to it.
func WithRoute(r Route) Option {
	return optionFunc(func(c *config) { c.routes = append(c.routes, r) })
}

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithAccessLog writes one line per HTTP request to l, at level Info:
// method, host, path, protocol, status, bytes in and out, total and
// upstream durations, route, upstream, backend, client address and
// request id. nil (the default) writes none. l may be the same logger as
// WithLogger's, or one of its own (a JSON handler on a file, say).
func WithAccessLog(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.accessLog = l })
}

// WithTimeouts overrides the non-zero fields of t.
func WithTimeouts(t Timeouts) Option {
	return optionFunc(func(c *config) {
		d := &c.timeouts
		for _, f := range []struct{ dst, src *time.Duration }{
			{&d.ClientHeader, &t.ClientHeader},
			{&d.ClientIdle, &t.ClientIdle},
			{&d.UpstreamConnect, &t.UpstreamConnect},
			{&d.UpstreamHeader, &t.UpstreamHeader},
			{&d.UpstreamIdle, &t.UpstreamIdle},
			{&d.Request, &t.Request},
			{&d.TunnelIdle, &t.TunnelIdle},
			{&d.Shutdown, &t.Shutdown},
		} {
			if *f.src != 0 {
				*f.dst = *f.src
			}
		}
	})
}

// WithDialer replaces the dialer used for backend connections and health
// checks (tests use it to inject faults). The dial is still bounded by
// Timeouts.UpstreamConnect.
func WithDialer(d DialFunc) Option {
	return optionFunc(func(c *config) { c.dial = d })
}

// WithTrustedProxies lists the networks whose X-Forwarded-* headers are
// believed. From anyone else, X-Forwarded-For starts afresh at the socket
// peer.
func WithTrustedProxies(prefixes ...netip.Prefix) Option {
	return optionFunc(func(c *config) { c.trusted = append(c.trusted, prefixes...) })
}

// WithMaxBodyBytes bounds request bodies; larger ones get 413. 0 keeps the
// 1 MiB default; negative means no limit.
func WithMaxBodyBytes(n int64) Option {
	return optionFunc(func(c *config) {
		if n != 0 {
			c.maxBodyBytes = n
		}
	})
}

// WithMaxHeaderBytes bounds the request line plus headers; larger ones get
// 431. 0 keeps the 32 KiB default.
func WithMaxHeaderBytes(n int) Option {
	return optionFunc(func(c *config) {
		if n != 0 {
			c.maxHeaderBytes = n
		}
	})
}
