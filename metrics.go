package phalanx

import (
	"crypto/tls"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phalanx-lb/phalanx/bandit"
	"github.com/phalanx-lb/phalanx/lb"
)

// latencyBuckets are the histogram buckets of every duration series, in
// seconds: from a local backend's half millisecond to a slow upload's
// half minute.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// metrics are the Server's own Prometheus series: those counted on the
// request path. They live as long as the Server, across reloads. The
// series read off live state at scrape time (backends, limiters, the
// TCP proxy, routing estimates) are made by Collect.
type metrics struct {
	requests         *prometheus.CounterVec   // route, upstream, backend, code
	duration         *prometheus.HistogramVec // route
	upstreamDuration *prometheus.HistogramVec // upstream, backend
	inflight         prometheus.Gauge
	bytesIn          *prometheus.CounterVec // route
	bytesOut         *prometheus.CounterVec // route
	connsActive      *prometheus.GaugeVec   // protocol
	connsTotal       *prometheus.CounterVec // protocol
	tlsHandshakes    *prometheus.CounterVec // result
	healthChecks     *prometheus.CounterVec // upstream, backend, result
	transitions      *prometheus.CounterVec // upstream, backend, state, check
	membership       *prometheus.CounterVec // upstream, change
	reloads          *prometheus.CounterVec // result
	lastReload       prometheus.Gauge

	// tlsActive holds the TLS connections that have served a request,
	// so that each handshake is counted once.
	tlsActive sync.Map
	// handed holds the connections the HTTP/1.1 engine counted and then
	// handed to net/http, which must not count them again.
	handed sync.Map
	// connHTTP1 and connTLS are the engine's connection series.
	connHTTP1, connTLS connSeries

	all []prometheus.Collector
}

func newMetrics() *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phalanx_http_requests_total",
			Help: "HTTP requests answered, by route, upstream, backend (empty when no backend answered) and status class.",
		}, []string{"route", "upstream", "backend", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "phalanx_http_request_duration_seconds",
			Help:    "Time from reading a request's head to the end of its response, as the client sees it, by route.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "phalanx_upstream_response_duration_seconds",
			Help:    "Time from sending a request to a backend to its response headers (or failure), per attempt.",
			Buckets: latencyBuckets,
		}, []string{"upstream", "backend"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "phalanx_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phalanx_http_request_body_bytes_total",
			Help: "Request body bytes read from clients, by route.",
		}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phalanx_http_response_body_bytes_total",
			Help: "Response body bytes written to clients, by route.",
		}, []string{"route"}),
		connsActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "phalanx_connections_active",
			Help: "Open client connections on HTTP ports, by protocol (http1, h2c, tls).",
		}, []string{"protocol"}),
		connsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phalanx_connections_total",
			Help: "Client connections accepted on HTTP ports, by protocol (http1, h2c, tls).",
		}, []string{"protocol"}),
		membership: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phalanx_backend_membership_changes_total",
			Help: "Backends that joined or left a pool through service discovery, by upstream and change (joined, left).",
		}, []string{"upstream", "change"}),
		tlsHandshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phalanx_tls_handshakes_total",
			Help: "TLS handshakes with clients, by result (ok, failed).",
		}, []string{"result"}),
		healthChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phalanx_health_checks_total",
			Help: "Active health probes, by upstream, backend and result (pass, fail).",
		}, []string{"upstream", "backend", "result"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phalanx_backend_transitions_total",
			Help: "Backends going down or coming back, by the check that saw it (active, passive).",
		}, []string{"upstream", "backend", "state", "check"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phalanx_config_reloads_total",
			Help: "Configuration reloads, by result (ok, failed).",
		}, []string{"result"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "phalanx_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration in use was loaded, as a Unix time.",
		}),
	}
	m.all = []prometheus.Collector{m.requests, m.duration, m.upstreamDuration, m.inflight, m.bytesIn, m.bytesOut,
		m.connsActive, m.connsTotal, m.tlsHandshakes, m.healthChecks, m.transitions, m.membership, m.reloads, m.lastReload}
	for _, r := range []string{"ok", "failed"} {
		m.reloads.WithLabelValues(r)
		m.tlsHandshakes.WithLabelValues(r)
	}
	m.lastReload.SetToCurrentTime()
	m.connHTTP1 = connSeries{m.connsTotal.WithLabelValues("http1"), m.connsActive.WithLabelValues("http1")}
	m.connTLS = connSeries{m.connsTotal.WithLabelValues("tls"), m.connsActive.WithLabelValues("tls")}
	return m
}

// connSeries are the connection counts of one protocol.
type connSeries struct {
	total  prometheus.Counter
	active prometheus.Gauge
}

// poolEvent counts a pool's health events; it is the pools' OnEvent hook.
func (m *metrics) poolEvent(pool string) func(lb.Event) {
	return func(e lb.Event) {
		switch e.Kind {
		case lb.Checked:
			result := "pass"
			if e.Err != nil {
				result = "fail"
			}
			m.healthChecks.WithLabelValues(pool, e.Backend.Addr(), result).Inc()
		case lb.WentDown, lb.CameUp:
			m.transitions.WithLabelValues(pool, e.Backend.Addr(), e.Kind.String(), e.Check).Inc()
		case lb.Joined, lb.Left:
			m.membership.WithLabelValues(pool, e.Kind.String()).Inc()
		}
	}
}

// statusClass maps a status to its class label, "2xx" and so on.
var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(code int) string {
	if code >= 100 && code < 600 {
		return statusClasses[code/100-1]
	}
	return "other"
}

// connState counts client connections by protocol; it is the HTTP
// server's ConnState hook.
func (m *metrics) connState(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		if _, ok := m.handed.LoadAndDelete(c); ok {
			return
		}
		p := connProtocol(c)
		m.connsTotal.WithLabelValues(p).Inc()
		m.connsActive.WithLabelValues(p).Inc()
	case http.StateActive:
		// net/http completes the handshake before it reads a request, so
		// a TLS connection's first request marks a good handshake.
		if _, ok := c.(*tls.Conn); ok {
			if _, seen := m.tlsActive.LoadOrStore(c, struct{}{}); !seen {
				m.tlsHandshakes.WithLabelValues("ok").Inc()
			}
		}
	case http.StateHijacked, http.StateClosed:
		// A hijacked connection (a WebSocket) is counted as a tunnel
		// from now on.
		p := connProtocol(c)
		m.connsActive.WithLabelValues(p).Dec()
		if tc, ok := c.(*tls.Conn); ok {
			if _, seen := m.tlsActive.LoadAndDelete(c); !seen {
				// No request came: the handshake failed, or the client
				// left right after it.
				result := "failed"
				if tc.ConnectionState().HandshakeComplete {
					result = "ok"
				}
				m.tlsHandshakes.WithLabelValues(result).Inc()
			}
		}
	}
}

// connProtocol names the protocol of a connection the HTTP server got
// from one of Serve's listeners.
func connProtocol(c net.Conn) string {
	switch c := c.(type) {
	case *tls.Conn:
		return "tls"
	case *replayConn:
		return c.proto
	case h2cConn:
		return "h2c"
	default:
		return "http1"
	}
}

// h2cConn marks the connections of the h2c (HTTP/2 prior knowledge)
// listener, so that connState can tell them from HTTP/1.x ones.
type h2cConn struct{ net.Conn }

// h2cListener wraps the sniffer's HTTP/2 listener.
type h2cListener struct{ net.Listener }

func (l h2cListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return h2cConn{c}, nil
}

// Collector returns a Prometheus collector of every phalanx series, for
// an embedding program to register in its own registry (the admin
// listener serves them too). The series are those of the Server for its
// whole life, across reloads.
func (s *Server) Collector() prometheus.Collector { return (*collector)(s) }

// collector is a Server seen as a prometheus.Collector.
type collector Server

var (
	descBackendUp = prometheus.NewDesc("phalanx_backend_up",
		"Whether the backend gets traffic: 1 up, 0 down (by active or passive checks).", []string{"upstream", "backend"}, nil)
	descBackendInFlight = prometheus.NewDesc("phalanx_backend_in_flight",
		"Requests (or TCP connections) sent to the backend and not yet finished.", []string{"upstream", "backend"}, nil)
	descBackendPicks = prometheus.NewDesc("phalanx_backend_picks_total",
		"Requests (or TCP connections) the routing policy sent to the backend.", []string{"upstream", "backend"}, nil)
	descBackendFailures = prometheus.NewDesc("phalanx_backend_failures_total",
		"Requests to the backend that failed: connection failures, timeouts and 5xx.", []string{"upstream", "backend"}, nil)
	descRoutingLatency = prometheus.NewDesc("phalanx_routing_latency_estimate_seconds",
		"The learning policy's latency estimate for the backend.", []string{"upstream", "backend", "policy"}, nil)
	descRoutingSuccess = prometheus.NewDesc("phalanx_routing_success_estimate_ratio",
		"The learning policy's estimated probability that a request to the backend succeeds.", []string{"upstream", "backend", "policy"}, nil)
	descRoutingScore = prometheus.NewDesc("phalanx_routing_score",
		"The cost the learning policy ranks the backend by (lower is better).", []string{"upstream", "backend", "policy"}, nil)
	descRateLimited = prometheus.NewDesc("phalanx_rate_limited_total",
		"Connections and requests refused by the rate limiter, by level (connection, request) and limit (client, global).",
		[]string{"level", "limit"}, nil)
	descTunnels = prometheus.NewDesc("phalanx_websocket_tunnels_active",
		"Upgraded (WebSocket) connections being relayed.", nil, nil)
	descTCPActive = prometheus.NewDesc("phalanx_tcp_connections_active",
		"TCP proxy sessions open, by listener.", []string{"listen"}, nil)
	descTCPAccepted = prometheus.NewDesc("phalanx_tcp_connections_total",
		"TCP proxy sessions accepted, by listener.", []string{"listen"}, nil)
	descTCPFailed = prometheus.NewDesc("phalanx_tcp_connect_failures_total",
		"TCP proxy sessions that reached no backend, by listener.", []string{"listen"}, nil)
	descTCPBytes = prometheus.NewDesc("phalanx_tcp_bytes_total",
		"Bytes relayed by the TCP proxy, by listener and direction (in: from clients, out: to clients).",
		[]string{"listen", "direction"}, nil)
	descStoreUp = prometheus.NewDesc("phalanx_shared_store_up",
		"Whether the shared store (Redis) answers: 1 while it does, 0 while limits fall back to this instance.", nil, nil)
	descStoreChecks = prometheus.NewDesc("phalanx_shared_store_checks_total",
		"Rate-limit checks made with the shared store, by result (shared: decided by Redis; fallback: by this instance, Redis being unreachable).",
		[]string{"result"}, nil)
	descStoreErrors = prometheus.NewDesc("phalanx_shared_store_errors_total",
		"Failed calls to the shared store.", nil, nil)
	descStoreWAF = prometheus.NewDesc("phalanx_shared_store_waf_events_total",
		"Firewall strikes, bans and unbans shared with other instances, by event and direction (sent, received).",
		[]string{"event", "direction"}, nil)
	descDNSLookups = prometheus.NewDesc("phalanx_dns_lookups_total",
		"DNS lookups of service discovery, by result (ok, failed); a failed lookup keeps the last good backends.", []string{"result"}, nil)
	descDiscoveryUp = prometheus.NewDesc("phalanx_discovery_up",
		"Whether the last DNS lookup of an upstream's resolve or service line was answered (1) or failed (0, the line keeps its last good backends).",
		[]string{"upstream", "server"}, nil)
	descDiscoveryTargets = prometheus.NewDesc("phalanx_discovery_targets",
		"Addresses in the last good DNS answer of an upstream's resolve or service line (0 before one).",
		[]string{"upstream", "server"}, nil)
	descBuildInfo = prometheus.NewDesc("phalanx_build_info",
		"Build information: the module version and the Go version; always 1.", []string{"version", "goversion"}, nil)
)

// Describe sends every descriptor.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics.all {
		m.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{descBackendUp, descBackendInFlight, descBackendPicks, descBackendFailures,
		descRoutingLatency, descRoutingSuccess, descRoutingScore, descRateLimited, descTunnels,
		descTCPActive, descTCPAccepted, descTCPFailed, descTCPBytes, descBuildInfo, descDNSLookups,
		descDiscoveryUp, descDiscoveryTargets,
		descStoreUp, descStoreChecks, descStoreErrors, descStoreWAF,
		descWAFInspected, descWAFBlocked, descWAFRule, descWAFBot, descWAFBans, descWAFBansTotal} {
		ch <- d
	}
}

// Collect sends the counted series and reads the live ones.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := (*Server)(c)
	for _, m := range s.metrics.all {
		m.Collect(ch)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if snap := s.state.Load(); snap != nil {
		if r := snap.resolver; r != nil {
			st := r.Stats()
			counter(descDNSLookups, float64(st.Lookups-st.Failures), "ok")
			counter(descDNSLookups, float64(st.Failures), "failed")
		}
		for _, name := range sortedKeys(snap.upstreams) {
			u := snap.upstreams[name]
			if u.disc != nil {
				for _, l := range u.disc.status() {
					gauge(descDiscoveryUp, float64(btoi(l.ok)), name, l.server)
					gauge(descDiscoveryTargets, float64(l.targets), name, l.server)
				}
			}
			for _, b := range u.pool.Backends() {
				gauge(descBackendUp, float64(btoi(b.Healthy())), name, b.Addr())
				gauge(descBackendInFlight, float64(b.InFlight()), name, b.Addr())
				counter(descBackendPicks, float64(b.Requests()), name, b.Addr())
				counter(descBackendFailures, float64(b.Failures()), name, b.Addr())
			}
			if rep, policy, ok := u.report(); ok {
				for _, r := range rep {
					if r.Latency > 0 {
						gauge(descRoutingLatency, r.Latency.Seconds(), name, r.Addr, policy)
					}
					gauge(descRoutingSuccess, r.Success, name, r.Addr, policy)
					gauge(descRoutingScore, r.Score, name, r.Addr, policy)
				}
			}
		}
	}
	counter(descRateLimited, float64(s.refusedConns.Client.Load()), "connection", "client")
	counter(descRateLimited, float64(s.refusedConns.Global.Load()), "connection", "global")
	counter(descRateLimited, float64(s.refusedRequests.Client.Load()), "request", "client")
	counter(descRateLimited, float64(s.refusedRequests.Global.Load()), "request", "global")
	gauge(descTunnels, float64(s.tunnels.len()))
	tcp := s.tcpPorts()
	for _, tp := range tcp {
		p := tp.proxy
		gauge(descTCPActive, float64(p.nActive.Load()), tp.listen)
		counter(descTCPAccepted, float64(p.nAccepted.Load()), tp.listen)
		counter(descTCPFailed, float64(p.nFailed.Load()), tp.listen)
		counter(descTCPBytes, float64(p.nIn.Load()), tp.listen, "in")
		counter(descTCPBytes, float64(p.nOut.Load()), tp.listen, "out")
	}
	s.collectWAF(ch)
	if s.store != nil {
		st := s.store.Stats()
		gauge(descStoreUp, float64(btoi(st.Up)))
		counter(descStoreChecks, float64(st.Checks-st.Fallbacks), "shared")
		counter(descStoreChecks, float64(st.Fallbacks), "fallback")
		counter(descStoreErrors, float64(st.Errors))
		for _, e := range []struct {
			event, dir string
			n          uint64
		}{{"strike", "sent", st.StrikesSent}, {"strike", "received", st.StrikesReceived},
			{"ban", "sent", st.BansSent}, {"ban", "received", st.BansReceived},
			{"unban", "sent", st.UnbansSent}, {"unban", "received", st.UnbansReceived}} {
			counter(descStoreWAF, float64(e.n), e.event, e.dir)
		}
	}
	gauge(descBuildInfo, 1, buildVersion(), runtime.Version())
}

// tcpPortStats names a TCP proxy for metrics.
type tcpPortStats struct {
	listen string // the listen address, or "http" for unknown protocols on HTTP ports
	proxy  *tcpProxy
}

// tcpPorts returns the Server's TCP proxies with their metric names.
func (s *Server) tcpPorts() []tcpPortStats {
	var ps []tcpPortStats
	for _, tp := range s.tcp {
		ps = append(ps, tcpPortStats{listen: tp.spec.Listen, proxy: tp.proxy})
	}
	if s.unknown != nil {
		ps = append(ps, tcpPortStats{listen: "http", proxy: s.unknown})
	}
	return ps
}

// report returns the learning policy's view of u's backends, if u's pool
// is run by one that reports, with the policy's name.
func (u *upstream) report() ([]lb.BackendReport, string, bool) {
	bb, ok := u.pool.Builder().(*lb.BanditBuilder)
	if !ok {
		return nil, "", false
	}
	rep, ok := bb.Report()
	return rep, u.policyName(), ok
}

// policyName names u's learning policy for metrics and the status page.
func (u *upstream) policyName() string {
	switch {
	case u.ai == nil:
		return "custom"
	case u.ai.Algorithm == "":
		return bandit.DefaultName
	default:
		return u.ai.Algorithm
	}
}

// buildVersion returns the main module's version, or "(devel)".
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/phalanx-lb/phalanx" {
				return d.Version
			}
		}
		if bi.Main.Path == "github.com/phalanx-lb/phalanx" && bi.Main.Version != "" {
			return bi.Main.Version
		}
	}
	return "(devel)"
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
