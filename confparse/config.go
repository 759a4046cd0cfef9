package confparse

import (
	"net/netip"
	"time"
)

// Config is a validated phalanx.conf with every default filled in. It
// knows nothing of the Server; the phalanx package maps it to options.
type Config struct {
	// WorkerThreads sets GOMAXPROCS ("worker_threads N;", default 4).
	WorkerThreads int
	// AdminBind is the admin listener ("admin_bind ADDR;", default
	// 127.0.0.1:9090); empty after "admin_bind off;".
	AdminBind string
	// AccessLog is where "access_log" writes one line per request:
	// "stderr", "stdout" or a file path; empty ("off", the default) for
	// none. AccessLogFormat is "text" (the default) or "json".
	AccessLog       string
	AccessLogFormat string
	// TCPBind is the raw TCP proxy's listener ("tcp_bind ADDR;", default
	// 0.0.0.0:5000); empty after "tcp_bind off;", or when neither tcp_bind
	// nor tcp_upstream is written and no upstream is named "default".
	TCPBind string
	// TCPUpstream is the pool the TCP proxy uses ("tcp_upstream NAME;",
	// default "default").
	TCPUpstream string
	// TCPProxyProtocol, if 1 or 2, sends a PROXY protocol header of that
	// version to TCP backends with the client's address
	// ("tcp_proxy_protocol v1|v2|off;", default off).
	TCPProxyProtocol int
	// UnknownProtocolUpstream, if set, is the pool that connections on the
	// HTTP ports which are neither HTTP nor TLS are relayed to as raw TCP
	// ("unknown_protocol_upstream NAME;"); by default they are closed.
	UnknownProtocolUpstream string
	// ShutdownTimeout is how long in-flight requests may run after a stop
	// signal ("shutdown_timeout D;", default 30s).
	ShutdownTimeout time.Duration
	// HTTP1Engine is "phalanx" (the default) or "net/http": the engine
	// that serves HTTP/1.x on the listeners ("http1_engine NAME;").
	HTTP1Engine string
	// Resolver is the DNS servers that "resolve" servers are looked up
	// with ("resolver ADDR... [valid=D] [timeout=D];"); empty: those of
	// /etc/resolv.conf. ResolverValid, if set, replaces the records' TTL;
	// ResolverTimeout bounds a query (0: the library's 2s).
	Resolver        []string
	ResolverValid   time.Duration
	ResolverTimeout time.Duration
	// SharedStore is the Redis URL of fleet-wide limits and bans
	// ("shared_store redis://HOST:PORT/DB;"); empty: none.
	// SharedStoreFailClosed refuses requests while it is unreachable
	// ("shared_store_fail closed;") instead of limiting locally.
	SharedStore           string
	SharedStoreFailClosed bool
	// Upstreams in file order, from the top level or inside http.
	Upstreams []Upstream
	// Servers are the server blocks inside http, in file order.
	Servers []Server
}

// Upstream is an "upstream NAME { ... }" block.
type Upstream struct {
	Name      string
	Servers   []UpstreamServer
	Algorithm string // "algorithm A;", default "roundrobin"
	Health    HealthCheck
	Keepalive int // "keepalive N;", default 32; 0 = keep no idle connections
	// AI holds ai_* directives given in the upstream block; unset fields
	// fall back to the server block's, then to the defaults.
	AI  AI
	Pos Pos
}

// UpstreamServer is "server ADDR [weight=N] [max_fails=N]
// [fail_timeout=D] [backup] [h2c|h2];" inside an upstream.
type UpstreamServer struct {
	Addr        string        // host:port
	Weight      int           // default 1
	MaxFails    int           // default 1; 0 disables passive marking
	FailTimeout time.Duration // default 10s
	Backup      bool
	// Protocol is "" (HTTP/1.1), "h2c" (HTTP/2 in clear text, for gRPC
	// servers) or "h2" (HTTPS, HTTP/2 preferred): the flags h2c and h2.
	Protocol string
	// Resolve: Addr's host is a DNS name re-resolved as its records'
	// TTL expires (the flag resolve), each address a backend.
	Resolve bool
	// SRV: Addr is an SRV name ("service _http._tcp.NAME resolve;")
	// whose records give the backends' addresses, ports and weights.
	SRV bool
	Pos Pos
}

// HealthCheck is "health_check interval=D timeout=D rise=N fall=N;" plus
// "health_check_http PATH [status=N];".
type HealthCheck struct {
	Interval   time.Duration // default 5s
	Timeout    time.Duration // default 2s
	Rise       int           // default 2
	Fall       int           // default 3
	HTTPPath   string        // empty: TCP connect check
	HTTPStatus int           // 0: any 2xx or 3xx
}

// AI is the learning-based routing settings.
type AI struct {
	Algorithm           string  // "ai_algorithm", default "adaptive"
	Epsilon             float64 // "ai_epsilon", default 0.10
	Temperature         float64 // "ai_temperature", default 1.0
	UCBConstant         float64 // "ai_ucb_constant", default 2.0
	ThompsonThresholdMS float64 // "ai_thompson_threshold_ms", default 100
}

// Server is a "server { ... }" block inside http.
type Server struct {
	Listen      []string // "listen ADDR;" (repeatable), default 0.0.0.0:8080; "8080" means 0.0.0.0:8080
	ServerNames []string // "server_name NAMES...;"; empty: any host

	SSLCertificate    string // "ssl_certificate PATH;"
	SSLCertificateKey string // "ssl_certificate_key PATH;"

	RateLimitPerIP  float64 // "rate_limit_per_ip N;" requests/s, default 50; 0 = off
	RateLimitBurst  int     // "rate_limit_burst N;", default 100
	GlobalRateLimit float64 // "global_rate_limit N;", 0 (default) = off

	WAF WAF
	AI  AI

	Timeouts            Timeouts
	ClientMaxBodySize   int64 // "client_max_body_size SIZE;" (k, m, g suffixes), default 1m; 0 = no limit (nginx)
	ClientMaxHeaderSize int   // "client_max_header_size SIZE;", default 32k

	// TrustedProxies are the "set_real_ip_from CIDR;" networks (an address
	// alone means a /32 or /128) whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix

	Routes []Route
	Pos    Pos
}

// WAF is the firewall settings of a server block.
type WAF struct {
	Enabled          bool          // "waf_enabled on|off|true|false;", default true
	AutoBanThreshold int           // "waf_auto_ban_threshold N;", default 15
	AutoBanDuration  time.Duration // "waf_auto_ban_duration SECONDS;" (a plain number is seconds), default 3600s
	Paranoia         int           // "waf_paranoia 1..4;", default 1
	DetectOnly       bool          // "waf_mode detect;" (default "block")
	BodyLimit        int64         // "waf_body_limit SIZE;", default 64k; 0 = bodies not inspected
	BotAllow         []string      // "waf_bot_allow USER-AGENT...;": substrings exempt from the bot rules
	BotDeny          []string      // "waf_bot_deny USER-AGENT...;": substrings blocked as bots
}

// Timeouts are the timeout directives, valid in http and server blocks;
// a route takes request_timeout only.
// Zero means "inherit": the route's from the server's, the server's from
// the library defaults.
type Timeouts struct {
	ClientHeader    time.Duration // "client_header_timeout D;"
	ClientIdle      time.Duration // "keepalive_timeout D;"
	UpstreamConnect time.Duration // "proxy_connect_timeout D;"
	UpstreamHeader  time.Duration // "proxy_read_timeout D;"
	Request         time.Duration // "request_timeout D;"
}

// Route is "route PREFIX { ... }" inside a server block. Exactly one of
// Upstream, Root, FastCGIPass and UwsgiPass is set.
type Route struct {
	Prefix string

	Upstream string // "upstream NAME;"

	Root  string   // "root DIR;"; beside fastcgi_pass, the scripts' document root
	Index []string // "index FILES...;", default index.html

	FastCGIPass   string   // "fastcgi_pass ADDR;" (host:port or unix:/path)
	FastCGIParams []Header // "fastcgi_param NAME VALUE;"
	FastCGIIndex  string   // "fastcgi_index FILE;", default index.php

	UwsgiPass   string   // "uwsgi_pass ADDR;"
	UwsgiParams []Header // "uwsgi_param NAME VALUE;"

	AddHeaders         []Header // "add_header NAME VALUE;": sent upstream
	AddResponseHeaders []Header // "add_response_header NAME VALUE;"

	// WAFExclude are the firewall rule ids and family names the route
	// turns off ("waf_exclude 1002 xss;"); the proxy checks them.
	WAFExclude []string

	Timeouts          Timeouts
	ClientMaxBodySize int64 // Build copies the server's when the route sets none; 0 = no limit

	Pos Pos
}

// Header is a name and value given by a directive.
type Header struct {
	Name, Value string
}
