// Package phalanx is an embeddable L7 load balancer and reverse proxy.
//
// A Server owns listeners, an HTTP pipeline and named upstream pools:
//
//	srv, err := phalanx.New(
//		phalanx.WithListen("0.0.0.0:8080"),
//		phalanx.WithUpstream(phalanx.Upstream{
//			Name:      "app",
//			Algorithm: "leastconnections",
//			Servers:   []phalanx.UpstreamServer{{Addr: "10.0.0.1:8000"}, {Addr: "10.0.0.2:8000", Weight: 2}},
//		}),
//		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "app"}),
//	)
//	...
//	err = srv.ListenAndServe(ctx) // until ctx ends, then a graceful shutdown
//
// Handler returns the same pipeline as an http.Handler, to mount in an
// existing Go HTTP server.
//
// # The request path
//
// For each request: recover from panics; match a route by host (exact,
// then "*.suffix" wildcards, then routes for any host) and then by the
// longest path prefix; enforce the header and body limits (431, 413); then
// run the route's action. For an upstream, the proxy sets
// X-Forwarded-For/-Proto/-Host (extending a chain only when the peer is a
// trusted proxy), X-Request-Id (kept when the client sent a sane one) and
// the route's added headers, removes hop-by-hop headers both ways, picks a
// backend with the pool's lb.Picker and streams both bodies, flushing
// chunked and event-stream responses as they arrive. Backend connections
// are kept alive in a bounded pool per backend.
//
// Failures become a status the client can act on, and one log line naming
// the route, upstream, backend and cause: 502 when the backend cannot be
// reached or breaks off, 504 when it is too slow, 503 when the pool has
// no usable backend (at once, without waiting), 413 and 431 over the
// limits. A request whose connection failed before anything was sent is
// retried once on another backend; so is an idempotent request (GET, HEAD,
// OPTIONS, TRACE, PUT, DELETE, or any with Idempotency-Key) whose
// connection broke before response headers, if none of its body was sent.
// A non-idempotent request that reached a backend is never replayed.
//
// # Protocols
//
// Serve tells each connection's protocol by its first bytes (package
// sniff): HTTP/1.x, HTTP/2 with prior knowledge and TLS share a port. TLS
// (1.2+) negotiates h2 or http/1.1 by ALPN, with the WithCertificate
// certificate chosen by SNI. Other protocols are closed, or relayed to the
// WithUnknownProtocols pool. Backends speak HTTP/1.1, h2c or h2
// (UpstreamServer.Protocol), so gRPC passes through with its streams,
// trailers and deadline. WebSocket upgrades are relayed and count as in
// flight while open. WithTCPProxy adds raw TCP ports: a backend per
// connection, splice(2), half-close, PROXY protocol.
//
// # Two HTTP engines
//
// HTTP/1.x on the Server's own listeners (clear text, and TLS without h2)
// is served by phalanx's own engine (EnginePhalanx, directive
// "http1_engine phalanx;"): it parses each request head in place, runs the
// same pipeline stages as the net/http path, and proxies over its own
// pooled backend connections from the client connection's goroutine, at a
// fraction of net/http's cost per request. Its parser is stricter than
// net/http's (package internal/h1 lists every difference): requests a
// backend might frame differently are refused with 400. Requests it does
// not proxy itself (routes with a Handler, WebSocket upgrades, upstreams
// with h2c or h2 backends) go on, with their connection, to net/http,
// which also serves HTTP/2 and the Handler an embedding program mounts.
// WithHTTP1Engine(EngineNetHTTP) ("http1_engine net/http;") serves all
// HTTP/1.x with net/http instead; both pass the same end-to-end suite.
//
// # Health
//
// Each pool checks its backends actively (TCP connect, or an HTTP GET,
// every 5s by default; see lb.HealthCheck) and passively (MaxFails
// consecutive failed requests take a backend out for FailTimeout). Every
// transition is logged. Shutdown stops the checks.
//
// # Discovery
//
// An UpstreamServer marked Resolve ("server NAME:PORT resolve;") or SRV
// ("service _http._tcp.NAME resolve;") is looked up with package resolve
// as its records' TTL expires (WithResolver: "resolver ADDR...;"): the
// backends DNS adds join the pool without a reload, those it drops leave,
// and those that stay keep their state. A failed lookup keeps the last
// good set.
//
// # Fleets
//
// WithSharedStore ("shared_store redis://HOST:PORT/DB;") keeps request
// rate limits and the firewall's strikes and bans in Redis (package
// sharedstore), so that they hold across every instance that uses it;
// while Redis is unreachable each instance limits on its own, or refuses
// with FailClosed.
//
// # Learning, firewall, observability
//
// Algorithm "aipredictive" hands backend choice to a learning policy of
// package bandit (Upstream.AI picks it; lb.NewBandit plugs in your own),
// which learns from each request's latency, failure or timeout. WithWAF
// puts the firewall of package waf in the pipeline, after the request
// limiter and the route match: banned clients, bot User-Agents and attack
// payloads get 403 with the request id. WithAdmin (or ServeAdmin, or
// AdminHandler in your own mux) serves health and readiness probes,
// Prometheus metrics (Collector, for your own registry too), a JSON
// status, reload, ban management and a live status page, never on a
// traffic port; WithAccessLog writes a line per request.
//
// # Configuration
//
// The daemon's phalanx.conf maps onto these options:
//
//	upstream app {                       # WithUpstream
//	    server 10.0.0.1:8000 weight=2 max_fails=3 fail_timeout=10s;
//	    server 10.0.0.9:8000 backup;
//	    algorithm leastconnections;
//	    health_check interval=5s timeout=2s rise=2 fall=3;
//	    health_check_http /healthz status=200;
//	    keepalive 32;
//	}
//	server {
//	    listen 0.0.0.0:8080;             # WithListen
//	    route /api {                     # WithRoute
//	        upstream app;
//	        add_header X-Env prod;       # Route.AddHeaders
//	    }
//	}
//
// A Server is safe for concurrent use.
package phalanx
