package confparse

// Directive reference. Build accepts these directives, in these blocks,
// with these defaults ("main" is the top level of the file). D is a
// duration (500ms, 5s, 1m, 1h, 1d, 1m30s; a plain number is seconds),
// SIZE a byte count with an optional k, m or g suffix (powers of 1024,
// any case), N a whole number, F a decimal number.
//
//	directive                      blocks               default           example
//	worker_threads N;              main                 4                 worker_threads 8;
//	admin_bind ADDR|off;           main                 127.0.0.1:9090    admin_bind 127.0.0.1:9090;
//	access_log off|stderr|stdout|PATH [text|json]; main off         access_log /var/log/phalanx.log json;
//	tcp_bind ADDR|off;             main                 0.0.0.0:5000      tcp_bind off;
//	tcp_upstream NAME;             main                 default           tcp_upstream db;
//	tcp_proxy_protocol v1|v2|off;  main                 off               tcp_proxy_protocol v2;
//	unknown_protocol_upstream NAME; main                closed            unknown_protocol_upstream ssh;
//	shutdown_timeout D;            main                 30s               shutdown_timeout 1m;
//	http1_engine phalanx|net/http; main                 phalanx           http1_engine net/http;
//	resolver ADDR... [valid=D] [timeout=D]; main        /etc/resolv.conf  resolver 10.0.0.2 10.0.0.3:53 valid=30s;
//	shared_store URL|off;          main                 off               shared_store redis://10.0.0.5:6379/0;
//	shared_store_fail open|closed; main                 open              shared_store_fail closed;
//	upstream NAME { ... }          main, http           -                 upstream app { server 10.0.0.1:8000; }
//	http { ... }                   main (repeatable)    -                 http { server { listen 80; } }
//	server { ... }                 http (repeatable)    -                 server { listen 8080; }
//	listen ADDR;                   server (repeatable)  0.0.0.0:8080      listen 8080; listen [::1]:8080;
//	server_name NAME...;           server (repeatable)  any host          server_name example.com *.example.com;
//	ssl_certificate PATH;          server               no TLS            ssl_certificate /etc/phalanx/cert.pem;
//	ssl_certificate_key PATH;      server               no TLS            ssl_certificate_key /etc/phalanx/key.pem;
//	rate_limit_per_ip F;           http, server         50 (0: off)       rate_limit_per_ip 20.5;
//	rate_limit_burst N;            http, server         100               rate_limit_burst 40;
//	global_rate_limit F;           http, server         0 (off)           global_rate_limit 10000;
//	waf_enabled on|off;            http, server         true              waf_enabled off;
//	waf_auto_ban_threshold N;      http, server         15                waf_auto_ban_threshold 30;
//	waf_auto_ban_duration D;       http, server         3600s             waf_auto_ban_duration 1h;
//	waf_paranoia N;                http, server         1                 waf_paranoia 2;
//	waf_mode block|detect;         http, server         block             waf_mode detect;
//	waf_body_limit SIZE;           http, server         64k (0: off)      waf_body_limit 1m;
//	waf_bot_allow UA...;           http, server (rep.)  none              waf_bot_allow Go-http-client "";
//	waf_bot_deny UA...;            http, server (rep.)  none              waf_bot_deny badbot;
//	waf_exclude ID|FAMILY...;      route (repeatable)   none              waf_exclude 1002 xss;
//	ai_algorithm A;                http, server, upstr. adaptive          ai_algorithm ucb1;
//	ai_epsilon F;                  http, server, upstr. 0.10              ai_epsilon 0.05;
//	ai_temperature F;              http, server, upstr. 1.0               ai_temperature 0.5;
//	ai_ucb_constant F;             http, server, upstr. 2.0               ai_ucb_constant 1.4;
//	ai_thompson_threshold_ms F;    http, server, upstr. 100               ai_thompson_threshold_ms 250;
//	client_header_timeout D;       http, server         10s (library)     client_header_timeout 5s;
//	keepalive_timeout D;           http, server         75s (library)     keepalive_timeout 2m;
//	proxy_connect_timeout D;       http, server         5s (library)      proxy_connect_timeout 2s;
//	proxy_read_timeout D;          http, server         60s (library)     proxy_read_timeout 5m;
//	request_timeout D;             http, server, route  off (library)     request_timeout 30s;
//	client_max_body_size SIZE;     http, server, route  1m (0: no limit)  client_max_body_size 10m;
//	client_max_header_size SIZE;   http, server         32k               client_max_header_size 64k;
//	set_real_ip_from CIDR;         http, server (rep.)  none              set_real_ip_from 10.0.0.0/8;
//	route PREFIX { ... }           server (repeatable)  -                 route /api { upstream app; }
//	server ADDR [PARAMS];          upstream (rep.)      -                 server 10.0.0.2:8000 weight=2 max_fails=3 fail_timeout=30s backup;
//	                                                                      server app.internal:8000 resolve;
//	service NAME [PARAMS] resolve; upstream (rep.)      -                 service _http._tcp.app.internal resolve;
//	algorithm A;                   upstream             roundrobin        algorithm leastconnections;
//	health_check [PARAMS];         upstream             5s, 2s, 2, 3      health_check interval=10s timeout=1s rise=3 fall=2;
//	health_check_http PATH [status=N]; upstream         TCP connect       health_check_http /healthz status=200;
//	keepalive N;                   upstream             32 (0: none)      keepalive 64;
//	upstream NAME;                 route                -                 upstream app;
//	root DIR;                      route                -                 root /var/www/html;
//	index FILE...;                 route (with root)    index.html        index index.html index.htm;
//	fastcgi_pass ADDR;             route                -                 fastcgi_pass unix:/run/php/php-fpm.sock;
//	fastcgi_param NAME VALUE;      route (rep.)         -                 fastcgi_param APP_ENV prod;
//	fastcgi_index FILE;            route (w/ fastcgi)   index.php         fastcgi_index app.php;
//	uwsgi_pass ADDR;               route                -                 uwsgi_pass 127.0.0.1:3031;
//	uwsgi_param NAME VALUE;        route (rep.)         -                 uwsgi_param APP_ENV prod;
//	add_header NAME VALUE;         route (rep.)         -                 add_header X-Proxy-By "Phalanx";
//	add_response_header NAME VALUE; route (rep.)        -                 add_response_header Cache-Control no-store;
//
// Rules Build applies beyond the table:
//
//   - Server settings given in http (rate limits, waf_*, ai_*, timeouts,
//     client_max_*_size, set_real_ip_from) are defaults for the server
//     blocks of that http block; a server's own directive replaces the
//     inherited value. As in nginx, a server with any set_real_ip_from of
//     its own replaces the whole inherited list rather than adding to it.
//   - Upstream names share one namespace whether the block is at the top
//     level or in any http block. Routes may name an upstream defined
//     later in the file.
//   - An upstream's ai_* directives are stored as given (others zero):
//     Upstream.AIFor fills the rest from the server, then the defaults.
//     Because zero means "unset" there, ai_epsilon 0 and ai_ucb_constant
//     0 are refused in an upstream block (they are fine in server and
//     http blocks).
//   - The TCP proxy runs on tcp_bind (default 0.0.0.0:5000) and forwards
//     to tcp_upstream (default "default"). When neither tcp_bind nor
//     tcp_upstream is written and there is no upstream named "default",
//     the TCP proxy is disabled: Config.TCPBind is "". When either is
//     written (and tcp_bind is not off), the upstream must exist.
//   - Timeouts left unset stay zero: a route inherits its server's, a
//     server the library defaults (see Timeouts.Or). A timeout of 0 is
//     refused, since it would read as "unset".
//   - client_max_body_size 0 disables the body limit, as in nginx. A route
//     without its own client_max_body_size gets the server's value, so a
//     route's 0 also means "no limit".
//   - A route has exactly one action: upstream, root, fastcgi_pass or
//     uwsgi_pass (beside fastcgi_pass, root is the document root). index
//     goes only with root, fastcgi_param and
//     fastcgi_index only with fastcgi_pass, uwsgi_param only with
//     uwsgi_pass. Index and FastCGIIndex get their defaults only in routes
//     of that kind.
//   - Listen addresses are normalized: "8080" and "*:8080" are
//     0.0.0.0:8080, IP addresses are written canonically. Two server
//     blocks may share a listen address when their server_name sets
//     differ, but not share a name on it; listen, admin_bind and tcp_bind
//     must not collide.

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Load reads the configuration file at path, expanding includes (see
// ParseFile), and builds it (see Build). Syntax errors are returned
// without building.
func Load(path string) (*Config, error) {
	ds, err := ParseFile(path)
	if err != nil {
		return nil, err
	}
	return Build(ds)
}

// LoadBytes parses src, the text of a file named filename, and builds it.
// Includes are not expanded. Syntax errors are returned without building.
func LoadBytes(filename string, src []byte) (*Config, error) {
	ds, err := Parse(filename, src)
	if err != nil {
		return nil, err
	}
	return Build(ds)
}

// Build turns the directives of a whole file into a Config, with every
// default filled in (see the directive reference at the top of build.go).
// It checks everything and reports every problem, not just the first: the
// error is an ErrorList sorted by position, each *Error at the directive
// or argument at fault. On error the Config is nil.
//
// Build reads no files: it checks that ssl_certificate and
// ssl_certificate_key come together, not that they exist. It does not
// modify ds, and is safe for concurrent use.
func Build(ds []*Directive) (*Config, error) {
	b := &builder{upstreams: make(map[string]*Upstream)}
	cfg := b.main(ds)
	b.validate(cfg)
	if len(b.errs) > 0 {
		sortErrors(b.errs, ds)
		return nil, b.errs
	}
	return cfg, nil
}

// builder holds the state of one Build.
type builder struct {
	errs ErrorList

	// upstreams indexes the upstreams built so far by name.
	upstreams map[string]*Upstream
	// upstreamOrder lists the names of the upstreams, in file order.
	upstreamOrder []string
	// upstreamPtrs keeps the built upstreams until they are copied into
	// the Config.
	upstreamPtrs []*Upstream

	// refs are the "upstream NAME;" words of routes, checked once every
	// upstream is known.
	refs []routeRef
	// servers are the facts about each server block that cross-server
	// checks need, in file order.
	servers []serverFacts

	tcpBind, tcpUpstream, adminBind *Word // as written, if written
	unknownUpstream                 *Word
}

type routeRef struct {
	route string // `route "/api"`, for messages
	name  Word
}

// serverFacts are what the cross-server checks need to know about one
// server block.
type serverFacts struct {
	pos     Pos
	listens []listenAt
	names   []Word // server_name words
	nameKey string // the sorted, lowercased, distinct names joined by " "
}

type listenAt struct {
	addr     string
	pos      Pos
	implicit bool // the default, for a server without listen
}

func (b *builder) errorf(pos Pos, format string, args ...any) {
	b.errs = append(b.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// sortErrors sorts errs by position in reading order: the order of the
// directives and their arguments in ds, so that the errors of an included
// file come where it was included. Positions not in ds (a hand-made AST)
// sort last, by file, line and column.
func sortErrors(errs ErrorList, ds []*Directive) {
	order := make(map[Pos]int)
	var walk func([]*Directive)
	walk = func(ds []*Directive) {
		for _, d := range ds {
			if _, ok := order[d.Pos]; !ok {
				order[d.Pos] = len(order)
			}
			for _, w := range d.Args {
				if _, ok := order[w.Pos]; !ok {
					order[w.Pos] = len(order)
				}
			}
			walk(d.Block)
		}
	}
	walk(ds)
	rank := func(p Pos) int {
		if r, ok := order[p]; ok {
			return r
		}
		return math.MaxInt
	}
	slices.SortStableFunc(errs, func(x, y *Error) int {
		return cmp.Or(
			cmp.Compare(rank(x.Pos), rank(y.Pos)),
			cmp.Compare(x.Pos.File, y.Pos.File),
			cmp.Compare(x.Pos.Line, y.Pos.Line),
			cmp.Compare(x.Pos.Col, y.Pos.Col),
		)
	})
}

// shaped is a directive whose shape checkShape accepted.
type shaped struct {
	d *Directive
	s *spec
}

// shapes checks the shape of every directive of a block of kind k and
// refuses a second occurrence of a directive that may appear once. It
// returns the directives worth interpreting.
func (b *builder) shapes(k block, ds []*Directive) []shaped {
	var out []shaped
	seen := make(map[string]Pos)
	for _, d := range ds {
		s := b.checkShape(k, d)
		if s == nil {
			continue
		}
		if !s.repeat {
			if first, ok := seen[d.Name]; ok {
				b.errorf(d.Pos, "%q is given twice %s (first at %s); remove one", d.Name, k.where(), first)
				continue
			}
			seen[d.Name] = d.Pos
		}
		out = append(out, shaped{d, s})
	}
	return out
}

// arg returns d's i-th argument, or a zero Word at d's position when the
// argument count was wrong (block directives are interpreted anyway).
func arg(d *Directive, i int) Word {
	if i < len(d.Args) {
		return d.Args[i]
	}
	return Word{Pos: d.Pos}
}

// defaultServer is a server block with every default filled in, before
// any directive is applied.
func defaultServer() Server {
	return Server{
		RateLimitPerIP:  50,  // requests per second per client IP
		RateLimitBurst:  100, // two seconds' worth at the default rate
		GlobalRateLimit: 0,   // off
		WAF: WAF{
			Enabled:          true,
			AutoBanThreshold: 15,
			AutoBanDuration:  3600 * time.Second,
			Paranoia:         1,
			BodyLimit:        64 << 10,
		},
		AI:                  defaultAI(),
		ClientMaxBodySize:   1 << 20, // 1m, nginx's default
		ClientMaxHeaderSize: 32 << 10,
	}
}

// defaultAI is the learning-based routing defaults.
func defaultAI() AI {
	return AI{
		Algorithm:           "adaptive", // the policy that wins bench/routing
		Epsilon:             0.10,       // explore one request in ten
		Temperature:         1.0,
		UCBConstant:         2.0,
		ThompsonThresholdMS: 100, // a response slower than 100ms counts as a failure
	}
}

// defaultHealth is the active health check of an upstream without a
// health_check directive.
func defaultHealth() HealthCheck {
	return HealthCheck{Interval: 5 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3}
}

const (
	defaultWorkerThreads   = 4
	defaultAdminBind       = "127.0.0.1:9090"
	defaultTCPBind         = "0.0.0.0:5000"
	defaultTCPUpstream     = "default"
	defaultShutdownTimeout = 30 * time.Second
	defaultListen          = "0.0.0.0:8080"
	defaultAlgorithm       = "roundrobin"
	defaultKeepalive       = 32
	defaultWeight          = 1
	defaultMaxFails        = 1
	defaultFailTimeout     = 10 * time.Second
	defaultIndex           = "index.html"
	defaultFastCGIIndex    = "index.php"
)

// algorithms are the values of "algorithm", the lb registry names plus
// aipredictive.
var algorithms = []string{"roundrobin", "weightedroundrobin", "leastconnections", "iphash", "random", "p2c", "aipredictive"}

// aiAlgorithms are the values of "ai_algorithm".
var aiAlgorithms = []string{"adaptive", "epsilon_greedy", "ucb1", "softmax", "thompson_sampling", "peak_ewma"}

// main builds the top level.
func (b *builder) main(ds []*Directive) *Config {
	cfg := &Config{
		WorkerThreads:   defaultWorkerThreads,
		AdminBind:       defaultAdminBind,
		TCPBind:         defaultTCPBind,
		TCPUpstream:     defaultTCPUpstream,
		ShutdownTimeout: defaultShutdownTimeout,
		HTTP1Engine:     "phalanx",
	}
	for _, x := range b.shapes(mainBlock, ds) {
		d := x.d
		switch d.Name {
		case "worker_threads":
			if n, ok := b.integer(d.Args[0], d.Name, 1, 1<<16, "a whole number of 1 or more, e.g. 8"); ok {
				cfg.WorkerThreads = n
			}
		case "admin_bind":
			b.adminBind = &d.Args[0]
			if d.Args[0].Value == "off" {
				cfg.AdminBind = ""
			} else if a, ok := b.bind(d.Args[0], d.Name); ok {
				cfg.AdminBind = a
			}
		case "access_log":
			cfg.AccessLog = d.Args[0].Value
			if cfg.AccessLog == "off" {
				cfg.AccessLog = ""
			}
			cfg.AccessLogFormat = "text"
			if len(d.Args) == 2 {
				switch f := d.Args[1].Value; f {
				case "text", "json":
					cfg.AccessLogFormat = f
				default:
					b.errorf(d.Args[1].Pos, "invalid format %q for %q: use text or json", f, d.Name)
				}
			}
		case "tcp_bind":
			b.tcpBind = &d.Args[0]
			if d.Args[0].Value == "off" {
				cfg.TCPBind = ""
			} else if a, ok := b.bind(d.Args[0], d.Name); ok {
				cfg.TCPBind = a
			}
		case "tcp_proxy_protocol":
			switch v := d.Args[0].Value; v {
			case "v1", "v2":
				cfg.TCPProxyProtocol = int(v[1] - '0')
			case "off":
				cfg.TCPProxyProtocol = 0
			default:
				b.errorf(d.Args[0].Pos, "invalid value %q for %q: use v1, v2 or off", v, d.Name)
			}
		case "unknown_protocol_upstream":
			if b.nonEmpty(d.Args[0], d.Name, "default") {
				b.unknownUpstream = &d.Args[0]
				cfg.UnknownProtocolUpstream = d.Args[0].Value
			}
		case "tcp_upstream":
			if b.nonEmpty(d.Args[0], d.Name, "default") {
				b.tcpUpstream = &d.Args[0]
				cfg.TCPUpstream = d.Args[0].Value
			}
		case "shutdown_timeout":
			if v, ok := b.duration(d.Args[0], d.Name); ok {
				cfg.ShutdownTimeout = v
			}
		case "resolver":
			b.resolver(d, cfg)
		case "shared_store":
			if v := d.Args[0].Value; v != "off" {
				if err := checkRedisURL(v); err != nil {
					b.errorf(d.Args[0].Pos, "invalid URL %q for %q: %v", v, d.Name, err)
				} else {
					cfg.SharedStore = v
				}
			}
		case "shared_store_fail":
			switch v := d.Args[0].Value; v {
			case "open", "closed":
				cfg.SharedStoreFailClosed = v == "closed"
			default:
				b.errorf(d.Args[0].Pos, "invalid value %q for %q: use open (limit locally while the store is unreachable) or closed (refuse)", v, d.Name)
			}
		case "http1_engine":
			switch v := d.Args[0].Value; v {
			case "phalanx", "net/http":
				cfg.HTTP1Engine = v
			default:
				b.errorf(d.Args[0].Pos, "invalid value %q for %q: use phalanx or net/http", v, d.Name)
			}
		case "upstream":
			b.upstream(d)
		case "http":
			cfg.Servers = append(cfg.Servers, b.http(d)...)
		}
	}
	for _, u := range b.upstreamPtrs {
		cfg.Upstreams = append(cfg.Upstreams, *u)
	}
	return cfg
}

// http builds an http block and returns its servers.
func (b *builder) http(d *Directive) []Server {
	tmpl := defaultServer()
	var servers []*Directive
	for _, x := range b.shapes(httpBlock, d.Block) {
		switch x.d.Name {
		case "upstream":
			b.upstream(x.d)
		case "server":
			servers = append(servers, x.d)
		default:
			b.serverSetting(x.d, &tmpl, httpBlock)
		}
	}
	var out []Server
	for _, sd := range servers {
		out = append(out, b.server(sd, tmpl))
	}
	return out
}

// server builds a server block, starting from the settings inherited from
// its http block.
func (b *builder) server(d *Directive, inherited Server) Server {
	s := inherited
	s.TrustedProxies = slices.Clone(inherited.TrustedProxies)
	s.Pos = d.Pos
	facts := serverFacts{pos: d.Pos}
	ownTrusted, sawListen := false, false
	var cert, key *Directive
	var routes []*Directive
	for _, x := range b.shapes(serverBlock, d.Block) {
		d := x.d
		switch d.Name {
		case "listen":
			sawListen = true
			a, ok := b.bind(d.Args[0], d.Name)
			if !ok {
				continue
			}
			if i := slices.IndexFunc(facts.listens, func(l listenAt) bool { return l.addr == a }); i >= 0 {
				b.errorf(d.Args[0].Pos, "duplicate listen %q in this server (first at %s); remove one", a, facts.listens[i].pos)
				continue
			}
			facts.listens = append(facts.listens, listenAt{a, d.Args[0].Pos, false})
			s.Listen = append(s.Listen, a)
		case "server_name":
			for _, w := range d.Args {
				if err := parseServerName(w.Value); err != nil {
					b.errorf(w.Pos, "invalid server name %q for %q: %v", w.Value, d.Name, err)
					continue
				}
				if i := slices.IndexFunc(facts.names, func(n Word) bool { return strings.EqualFold(n.Value, w.Value) }); i >= 0 {
					b.errorf(w.Pos, "duplicate server_name %q in this server (first at %s); remove one", w.Value, facts.names[i].Pos)
					continue
				}
				facts.names = append(facts.names, w)
				s.ServerNames = append(s.ServerNames, w.Value)
			}
		case "ssl_certificate":
			cert = d
			if b.nonEmpty(d.Args[0], d.Name, "/etc/phalanx/cert.pem") {
				s.SSLCertificate = d.Args[0].Value
			}
		case "ssl_certificate_key":
			key = d
			if b.nonEmpty(d.Args[0], d.Name, "/etc/phalanx/key.pem") {
				s.SSLCertificateKey = d.Args[0].Value
			}
		case "route":
			routes = append(routes, d)
		case "set_real_ip_from":
			if !ownTrusted {
				s.TrustedProxies, ownTrusted = nil, true
			}
			b.serverSetting(d, &s, serverBlock)
		default:
			b.serverSetting(d, &s, serverBlock)
		}
	}
	switch {
	case cert != nil && key == nil:
		b.errorf(cert.Pos, "%q needs %q in the same server; add ssl_certificate_key PATH;", cert.Name, "ssl_certificate_key")
	case key != nil && cert == nil:
		b.errorf(key.Pos, "%q needs %q in the same server; add ssl_certificate PATH;", key.Name, "ssl_certificate")
	}
	if !sawListen {
		s.Listen = []string{defaultListen}
		facts.listens = []listenAt{{defaultListen, d.Pos, true}}
	}
	facts.nameKey = nameKey(s.ServerNames)
	b.servers = append(b.servers, facts)

	prefixes := make(map[string]Pos)
	for _, rd := range routes {
		r := b.route(rd, &s)
		if p, ok := prefixes[r.Prefix]; ok && len(rd.Args) == 1 {
			b.errorf(rd.Args[0].Pos, "duplicate route %q in this server (first at %s); merge the two blocks", r.Prefix, p)
			continue
		}
		prefixes[r.Prefix] = arg(rd, 0).Pos
		s.Routes = append(s.Routes, r)
	}
	return s
}

// nameKey canonicalizes a server_name set for comparison.
func nameKey(names []string) string {
	lower := make([]string, len(names))
	for i, n := range names {
		lower[i] = strings.ToLower(strings.TrimSuffix(n, "."))
	}
	slices.Sort(lower)
	return strings.Join(slices.Compact(lower), " ")
}

// serverSetting applies a directive that may appear in http or server
// (and, for timeouts and client_max_body_size, route) to s. Upstream
// blocks use ai instead.
func (b *builder) serverSetting(d *Directive, s *Server, k block) {
	w := d.Args[0]
	switch d.Name {
	case "rate_limit_per_ip":
		if v, ok := b.float(w, d.Name, func(f float64) bool { return f >= 0 }, "a number of requests per second, e.g. 50 (0 turns the limit off)"); ok {
			s.RateLimitPerIP = v
		}
	case "rate_limit_burst":
		if n, ok := b.integer(w, d.Name, 1, math.MaxInt32, "a whole number of 1 or more, e.g. 100"); ok {
			s.RateLimitBurst = n
		}
	case "global_rate_limit":
		if v, ok := b.float(w, d.Name, func(f float64) bool { return f >= 0 }, "a number of requests per second, e.g. 10000 (0 turns the limit off)"); ok {
			s.GlobalRateLimit = v
		}
	case "waf_enabled":
		if v, ok := b.boolean(w, d.Name); ok {
			s.WAF.Enabled = v
		}
	case "waf_auto_ban_threshold":
		if n, ok := b.integer(w, d.Name, 1, math.MaxInt32, "a whole number of 1 or more, e.g. 15"); ok {
			s.WAF.AutoBanThreshold = n
		}
	case "waf_auto_ban_duration":
		if v, ok := b.duration(w, d.Name); ok {
			s.WAF.AutoBanDuration = v
		}
	case "waf_paranoia":
		if n, ok := b.integer(w, d.Name, 1, 4, "1 (the default), 2, 3 or 4"); ok {
			s.WAF.Paranoia = n
		}
	case "waf_mode":
		switch w.Value {
		case "block":
			s.WAF.DetectOnly = false
		case "detect":
			s.WAF.DetectOnly = true
		default:
			b.errorf(w.Pos, "invalid value %q for %q: use block or detect", w.Value, d.Name)
		}
	case "waf_body_limit":
		if v, ok := b.size(w, d.Name, 0); ok {
			s.WAF.BodyLimit = v
		}
	case "waf_bot_allow", "waf_bot_deny":
		dst := &s.WAF.BotAllow
		if d.Name == "waf_bot_deny" {
			dst = &s.WAF.BotDeny
		}
		for _, a := range d.Args {
			if d.Name == "waf_bot_deny" && !b.nonEmpty(a, d.Name, "curl") {
				continue
			}
			*dst = append(slices.Clip(*dst), a.Value) // "" allows requests without a User-Agent
		}
	case "client_max_body_size":
		if v, ok := b.size(w, d.Name, 0); ok {
			s.ClientMaxBodySize = v
		}
	case "client_max_header_size":
		if v, ok := b.size(w, d.Name, 1); ok {
			if v > math.MaxInt32 {
				b.errorf(w.Pos, "invalid size %q for %q: too large; use at most 1g", w.Value, d.Name)
			} else {
				s.ClientMaxHeaderSize = int(v)
			}
		}
	case "set_real_ip_from":
		p, err := parsePrefix(w.Value)
		if err != nil {
			b.errorf(w.Pos, "invalid address %q for %q: %v", w.Value, d.Name, err)
		} else if !slices.Contains(s.TrustedProxies, p) {
			s.TrustedProxies = append(s.TrustedProxies, p)
		}
	default:
		if !b.timeout(d, &s.Timeouts) {
			b.ai(d, &s.AI, k)
		}
	}
}

// timeout applies a timeout directive to t and reports whether d was one.
func (b *builder) timeout(d *Directive, t *Timeouts) bool {
	var dst *time.Duration
	switch d.Name {
	case "client_header_timeout":
		dst = &t.ClientHeader
	case "keepalive_timeout":
		dst = &t.ClientIdle
	case "proxy_connect_timeout":
		dst = &t.UpstreamConnect
	case "proxy_read_timeout":
		dst = &t.UpstreamHeader
	case "request_timeout":
		dst = &t.Request
	default:
		return false
	}
	if v, ok := b.duration(d.Args[0], d.Name); ok {
		*dst = v
	}
	return true
}

// ai applies an ai_* directive to a. In an upstream block a zero value
// would read as "unset", so it is refused.
func (b *builder) ai(d *Directive, a *AI, k block) {
	w := d.Args[0]
	var dst *float64
	var v float64
	var ok bool
	switch d.Name {
	case "ai_algorithm":
		if slices.Contains(aiAlgorithms, w.Value) {
			a.Algorithm = w.Value
		} else {
			b.errorf(w.Pos, "unknown algorithm %q for %q%s", w.Value, d.Name, didYouMean(w.Value, aiAlgorithms, true))
		}
		return
	case "ai_epsilon":
		dst = &a.Epsilon
		v, ok = b.float(w, d.Name, func(f float64) bool { return f >= 0 && f <= 1 }, "a number from 0 to 1, e.g. 0.1")
	case "ai_temperature":
		dst = &a.Temperature
		v, ok = b.float(w, d.Name, func(f float64) bool { return f > 0 }, "a number greater than 0, e.g. 1.0")
	case "ai_ucb_constant":
		dst = &a.UCBConstant
		v, ok = b.float(w, d.Name, func(f float64) bool { return f >= 0 }, "a number of 0 or more, e.g. 2.0")
	case "ai_thompson_threshold_ms":
		dst = &a.ThompsonThresholdMS
		v, ok = b.float(w, d.Name, func(f float64) bool { return f > 0 }, "a number of milliseconds greater than 0, e.g. 100")
	default:
		panic("confparse: no handler for " + d.Name) // the spec table and the handlers disagree
	}
	if !ok {
		return
	}
	if v == 0 && k == upstreamBlock {
		b.errorf(w.Pos, "%s 0 is not supported in an upstream block yet (0 there means \"inherit the server's\"); set it in the server block, or use a small value such as 0.001", d.Name)
		return
	}
	*dst = v
}

// upstream builds an "upstream NAME { ... }" block and records it.
func (b *builder) upstream(d *Directive) {
	name := arg(d, 0)
	u := &Upstream{
		Name:      name.Value,
		Algorithm: defaultAlgorithm,
		Health:    defaultHealth(),
		Keepalive: defaultKeepalive,
		Pos:       d.Pos,
	}
	addrs := make(map[string]Pos)
	for _, x := range b.shapes(upstreamBlock, d.Block) {
		d := x.d
		switch d.Name {
		case "server", "service":
			srv, ok := b.upstreamServer(d)
			if !ok {
				continue
			}
			if p, dup := addrs[srv.Addr]; dup {
				b.errorf(d.Args[0].Pos, "duplicate server %q in upstream %q (first at %s); list each backend once and raise its weight instead", srv.Addr, u.Name, p)
				continue
			}
			addrs[srv.Addr] = d.Args[0].Pos
			u.Servers = append(u.Servers, srv)
		case "algorithm":
			w := d.Args[0]
			if slices.Contains(algorithms, w.Value) {
				u.Algorithm = w.Value
			} else {
				b.errorf(w.Pos, "unknown algorithm %q for %q%s", w.Value, d.Name, didYouMean(w.Value, algorithms, true))
			}
		case "health_check":
			b.healthCheck(d, &u.Health)
		case "health_check_http":
			b.healthCheckHTTP(d, &u.Health)
		case "keepalive":
			if n, ok := b.integer(d.Args[0], d.Name, 0, math.MaxInt32, "a whole number of idle connections per backend, e.g. 32 (0 keeps none)"); ok {
				u.Keepalive = n
			}
		default:
			b.ai(d, &u.AI, upstreamBlock)
		}
	}
	if len(d.Args) == 0 {
		return // already reported; do not record a nameless upstream
	}
	if !validName(name.Value) {
		// Recorded anyway, so that routes naming it are not reported too.
		b.errorf(name.Pos, "invalid upstream name %q: use letters, digits, '_', '-' and '.', e.g. app_v2", name.Value)
	}
	if prev, dup := b.upstreams[name.Value]; dup {
		b.errorf(name.Pos, "duplicate upstream %q (first defined at %s); rename one or merge their servers", name.Value, prev.Pos)
		return
	}
	if !slices.ContainsFunc(d.Block, func(c *Directive) bool { return c.Name == "server" || c.Name == "service" }) {
		b.errorf(d.Pos, "upstream %q has no servers; add at least one \"server HOST:PORT;\"", name.Value)
	}
	b.upstreams[name.Value] = u
	b.upstreamOrder = append(b.upstreamOrder, name.Value)
	b.upstreamPtrs = append(b.upstreamPtrs, u)
}

// validName reports whether s may name an upstream.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// params interprets the KEY=VALUE and FLAG words of d, reporting unknown
// and repeated keys. forms are the accepted words, "key=V" for keys that
// take a value ("weight=N") and "flag" for the others ("backup"); set is
// called with the key and value of each good word.
func (b *builder) params(d *Directive, words []Word, forms []string, set func(key string, w Word, val string)) {
	takesValue := make(map[string]bool)
	var keys []string
	for _, f := range forms {
		k, _, hasVal := strings.Cut(f, "=")
		takesValue[k] = hasVal
		keys = append(keys, k)
	}
	seen := make(map[string]Pos)
	for _, w := range words {
		key, val, hasVal := strings.Cut(w.Value, "=")
		want, known := takesValue[key]
		switch {
		case !known:
			hint := didYouMean(key, keys, false)
			if hint == "" {
				hint = "; use " + orList(forms)
			}
			b.errorf(w.Pos, "unknown parameter %q for %q%s", key, d.Name, hint)
			continue
		case want && !hasVal:
			b.errorf(w.Pos, "parameter %q of %q needs a value: write %s=VALUE with no spaces around '='", key, d.Name, key)
			continue
		case !want && hasVal:
			b.errorf(w.Pos, "parameter %q of %q takes no value; write just %s", key, d.Name, key)
			continue
		}
		if p, dup := seen[key]; dup {
			b.errorf(w.Pos, "parameter %q is given twice (first at %s); remove one", key, p)
			continue
		}
		seen[key] = w.Pos
		set(key, w, val)
	}
}

// upstreamServer builds "server ADDR [weight=N] [max_fails=N]
// [fail_timeout=D] [backup] [h2c|h2];".
func (b *builder) upstreamServer(d *Directive) (UpstreamServer, bool) {
	srv := UpstreamServer{Weight: defaultWeight, MaxFails: defaultMaxFails, FailTimeout: defaultFailTimeout, Pos: d.Pos}
	w := d.Args[0]
	forms := []string{"weight=N", "max_fails=N", "fail_timeout=D", "backup", "h2c", "h2", "resolve"}
	if d.Name == "service" {
		// Weights and backups come from the SRV records.
		forms = []string{"max_fails=N", "fail_timeout=D", "h2c", "h2", "resolve"}
		if err := checkSRVName(w.Value); err != nil {
			b.errorf(w.Pos, "invalid SRV name %q for %q: %v", w.Value, d.Name, err)
			return srv, false
		}
		srv.Addr, srv.SRV = w.Value, true
	} else {
		a, err := parseBackend(w.Value)
		if err != nil {
			b.errorf(w.Pos, "invalid address %q for %q: %v", w.Value, d.Name, err)
			return srv, false
		}
		srv.Addr = a
	}
	b.params(d, d.Args[1:], forms, func(key string, w Word, val string) {
		switch key {
		case "resolve":
			srv.Resolve = true
		case "weight":
			if n, ok := b.integerParam(w, key, val, 1, 1<<20, "a whole number of 1 or more, e.g. weight=2"); ok {
				srv.Weight = n
			}
		case "max_fails":
			if n, ok := b.integerParam(w, key, val, 0, math.MaxInt32, "a whole number, e.g. max_fails=3 (0 disables passive checks)"); ok {
				srv.MaxFails = n
			}
		case "fail_timeout":
			if v, ok := b.durationParam(w, key, val); ok {
				srv.FailTimeout = v
			}
		case "backup":
			srv.Backup = true
		case "h2c", "h2":
			if srv.Protocol != "" {
				b.errorf(w.Pos, "%q and %q exclude each other: h2c is HTTP/2 in clear text, h2 is HTTPS", srv.Protocol, key)
				return
			}
			srv.Protocol = key
		}
	})
	if srv.SRV && !srv.Resolve {
		b.errorf(d.Pos, "%q needs the flag resolve: its backends come from DNS, e.g. service %s resolve;", d.Name, w.Value)
		return srv, false
	}
	return srv, true
}

// resolver applies "resolver ADDR... [valid=D] [timeout=D];".
func (b *builder) resolver(d *Directive, cfg *Config) {
	var addrs []Word
	var params []Word
	for _, w := range d.Args {
		if strings.Contains(w.Value, "=") {
			params = append(params, w)
		} else {
			addrs = append(addrs, w)
		}
	}
	cfg.Resolver = nil
	for _, w := range addrs {
		a := w.Value
		if _, err := netip.ParseAddr(strings.Trim(a, "[]")); err == nil {
			if strings.Contains(strings.Trim(a, "[]"), ":") {
				a = "[" + strings.Trim(a, "[]") + "]"
			}
			a += ":53"
		} else if ap, err := netip.ParseAddrPort(a); err == nil {
			a = ap.String()
		} else {
			b.errorf(w.Pos, "invalid address %q for %q: use an IP address with an optional port, e.g. 10.0.0.2 or 10.0.0.2:5353", w.Value, d.Name)
			continue
		}
		cfg.Resolver = append(cfg.Resolver, a)
	}
	if len(addrs) == 0 {
		b.errorf(d.Pos, "%q needs at least one DNS server address, e.g. resolver 10.0.0.2;", d.Name)
	}
	b.params(d, params, []string{"valid=D", "timeout=D"}, func(key string, w Word, val string) {
		if v, ok := b.durationParam(w, key, val); ok {
			if key == "valid" {
				cfg.ResolverValid = v
			} else {
				cfg.ResolverTimeout = v
			}
		}
	})
}

// healthCheck applies "health_check [interval=D] [timeout=D] [rise=N]
// [fall=N];".
func (b *builder) healthCheck(d *Directive, h *HealthCheck) {
	b.params(d, d.Args, []string{"interval=D", "timeout=D", "rise=N", "fall=N"}, func(key string, w Word, val string) {
		switch key {
		case "interval":
			if v, ok := b.durationParam(w, key, val); ok {
				h.Interval = v
			}
		case "timeout":
			if v, ok := b.durationParam(w, key, val); ok {
				h.Timeout = v
			}
		case "rise":
			if n, ok := b.integerParam(w, key, val, 1, math.MaxInt32, "a whole number of 1 or more, e.g. rise=2"); ok {
				h.Rise = n
			}
		case "fall":
			if n, ok := b.integerParam(w, key, val, 1, math.MaxInt32, "a whole number of 1 or more, e.g. fall=3"); ok {
				h.Fall = n
			}
		}
	})
}

// healthCheckHTTP applies "health_check_http PATH [status=N];".
func (b *builder) healthCheckHTTP(d *Directive, h *HealthCheck) {
	path := d.Args[0]
	if !strings.HasPrefix(path.Value, "/") {
		b.errorf(path.Pos, "invalid path %q for %q: it must start with \"/\", e.g. /healthz", path.Value, d.Name)
	} else if !validHeaderValue(path.Value) || strings.ContainsAny(path.Value, " ") {
		b.errorf(path.Pos, "invalid path %q for %q: percent-encode spaces and control characters", path.Value, d.Name)
	} else {
		h.HTTPPath = path.Value
	}
	b.params(d, d.Args[1:], []string{"status=N"}, func(key string, w Word, val string) {
		if n, ok := b.integerParam(w, key, val, 100, 599, "an HTTP status from 100 to 599, e.g. status=200"); ok {
			h.HTTPStatus = n
		}
	})
}

// route builds a "route PREFIX { ... }" block of server s.
func (b *builder) route(d *Directive, s *Server) Route {
	prefix := arg(d, 0)
	r := Route{Prefix: prefix.Value, Pos: d.Pos}
	if len(d.Args) == 1 && !strings.HasPrefix(prefix.Value, "/") {
		b.errorf(prefix.Pos, "route prefix %q must start with \"/\"; write route /%s { ... }", prefix.Value, prefix.Value)
	}
	label := fmt.Sprintf("route %q", prefix.Value)
	if len(d.Args) != 1 {
		label = "this route"
	}
	var actions []*Directive
	var bodySize bool
	var needs []*Directive // directives that need a particular action
	for _, x := range b.shapes(routeBlock, d.Block) {
		d := x.d
		w := d.Args[0]
		switch d.Name {
		case "upstream":
			actions = append(actions, d)
			r.Upstream = w.Value
			if len(d.Args) == 1 {
				b.refs = append(b.refs, routeRef{label, w})
			}
		case "root":
			actions = append(actions, d)
			if b.nonEmpty(w, d.Name, "/var/www") {
				r.Root = w.Value
			}
		case "fastcgi_pass", "uwsgi_pass":
			actions = append(actions, d)
			a, err := parsePass(w.Value)
			if err != nil {
				b.errorf(w.Pos, "invalid address %q for %q: %v", w.Value, d.Name, err)
				a = w.Value
			}
			if d.Name == "fastcgi_pass" {
				r.FastCGIPass = a
			} else {
				r.UwsgiPass = a
			}
		case "index":
			needs = append(needs, d)
			for _, w := range d.Args {
				if b.nonEmpty(w, d.Name, "index.html") {
					r.Index = append(r.Index, w.Value)
				}
			}
		case "fastcgi_index":
			needs = append(needs, d)
			if b.nonEmpty(w, d.Name, "index.php") {
				r.FastCGIIndex = w.Value
			}
		case "fastcgi_param", "uwsgi_param", "add_header", "add_response_header":
			h, ok := b.header(d)
			if !ok {
				continue
			}
			switch d.Name {
			case "fastcgi_param":
				needs = append(needs, d)
				r.FastCGIParams = append(r.FastCGIParams, h)
			case "uwsgi_param":
				needs = append(needs, d)
				r.UwsgiParams = append(r.UwsgiParams, h)
			case "add_header":
				r.AddHeaders = append(r.AddHeaders, h)
			case "add_response_header":
				r.AddResponseHeaders = append(r.AddResponseHeaders, h)
			}
		case "client_max_body_size":
			if v, ok := b.size(w, d.Name, 0); ok {
				r.ClientMaxBodySize = v
				bodySize = true
			}
		case "waf_exclude":
			for _, a := range d.Args {
				if b.nonEmpty(a, d.Name, "1002 or sqli") {
					r.WAFExclude = append(r.WAFExclude, a.Value)
				}
			}
		default:
			b.timeout(d, &r.Timeouts)
		}
	}
	if !bodySize {
		r.ClientMaxBodySize = s.ClientMaxBodySize
	}
	if r.FastCGIPass != "" {
		// Beside fastcgi_pass, root is the scripts' document root, as in
		// nginx, not an action of its own.
		actions = slices.DeleteFunc(actions, func(a *Directive) bool { return a.Name == "root" })
	}
	switch len(actions) {
	case 0:
		// An unknown or malformed directive may have been meant as the
		// action ("upstrem", "proxy_pass", "upstream a b;"); its own
		// error says enough.
		if !slices.ContainsFunc(d.Block, func(c *Directive) bool {
			return byBlock[routeBlock][c.Name] == nil || isAction(c.Name)
		}) {
			b.errorf(d.Pos, "%s has no action; add one of upstream NAME;, root DIR;, fastcgi_pass ADDR; or uwsgi_pass ADDR;", label)
		}
	case 1:
	default:
		for _, a := range actions[1:] {
			if a.Name == actions[0].Name {
				continue // reported as a duplicate by shapes
			}
			b.errorf(a.Pos, "%s has two actions, %q here and %q at %s; keep exactly one", label, a.Name, actions[0].Name, actions[0].Pos)
		}
	}
	for _, n := range needs {
		var want string
		switch n.Name {
		case "index":
			want = "root"
		case "fastcgi_param", "fastcgi_index":
			want = "fastcgi_pass"
		case "uwsgi_param":
			want = "uwsgi_pass"
		}
		if !slices.ContainsFunc(actions, func(a *Directive) bool { return a.Name == want }) {
			b.errorf(n.Pos, "%q works only with %q in the same route; add %s or remove this line", n.Name, want, byBlock[routeBlock][want].usage)
		}
	}
	if r.Root != "" && r.Index == nil && r.FastCGIPass == "" {
		r.Index = []string{defaultIndex}
	}
	if r.FastCGIPass != "" && r.FastCGIIndex == "" {
		r.FastCGIIndex = defaultFastCGIIndex
	}
	return r
}

// isAction reports whether name is one of a route's actions.
func isAction(name string) bool {
	switch name {
	case "upstream", "root", "fastcgi_pass", "uwsgi_pass":
		return true
	}
	return false
}

// header parses "NAME VALUE" of add_header and friends.
func (b *builder) header(d *Directive) (Header, bool) {
	name, val := d.Args[0], d.Args[1]
	ok := true
	if d.Name == "add_header" || d.Name == "add_response_header" {
		if !validHeaderName(name.Value) {
			b.errorf(name.Pos, "invalid header name %q for %q: use letters, digits and '-', e.g. X-Proxy-By", name.Value, d.Name)
			ok = false
		}
	} else if name.Value == "" || strings.ContainsAny(name.Value, " \t\r\n") {
		b.errorf(name.Pos, "invalid parameter name %q for %q: use a name without spaces, e.g. SCRIPT_FILENAME", name.Value, d.Name)
		ok = false
	}
	if !validHeaderValue(val.Value) {
		b.errorf(val.Pos, "invalid value %q for %q: remove control characters and line breaks", val.Value, d.Name)
		ok = false
	}
	return Header{Name: name.Value, Value: val.Value}, ok
}

// Value helpers: each parses w as the value of the directive or parameter
// named what, reports a problem at w, and returns ok.

func (b *builder) duration(w Word, what string) (time.Duration, bool) {
	return b.durationParam(w, what, w.Value)
}

// durationParam parses val, the value part of the word w.
func (b *builder) durationParam(w Word, what, val string) (time.Duration, bool) {
	v, err := parseDuration(val)
	switch {
	case err != nil:
		b.errorf(w.Pos, "invalid duration %q for %q: %v", val, what, err)
		return 0, false
	case v == 0:
		b.errorf(w.Pos, "invalid duration %q for %q: use a time greater than 0, e.g. 5s", val, what)
		return 0, false
	}
	return v, true
}

func (b *builder) size(w Word, what string, lo int64) (int64, bool) {
	v, err := parseSize(w.Value)
	switch {
	case err != nil:
		b.errorf(w.Pos, "invalid size %q for %q: %v", w.Value, what, err)
		return 0, false
	case v < lo:
		b.errorf(w.Pos, "invalid size %q for %q: use a size greater than 0, e.g. 32k", w.Value, what)
		return 0, false
	}
	return v, true
}

func (b *builder) integer(w Word, what string, lo, hi int, want string) (int, bool) {
	return b.integerParam(w, what, w.Value, lo, hi, want)
}

func (b *builder) integerParam(w Word, what, val string, lo, hi int, want string) (int, bool) {
	n, err := parseInt(val, lo, hi, want)
	if err != nil {
		b.errorf(w.Pos, "invalid number %q for %q: %v", val, what, err)
		return 0, false
	}
	return n, true
}

func (b *builder) float(w Word, what string, ok func(float64) bool, want string) (float64, bool) {
	v, err := parseFloat(w.Value, ok, want)
	if err != nil {
		b.errorf(w.Pos, "invalid number %q for %q: %v", w.Value, what, err)
		return 0, false
	}
	return v, true
}

func (b *builder) boolean(w Word, what string) (bool, bool) {
	v, err := parseBool(w.Value)
	if err != nil {
		b.errorf(w.Pos, "invalid value %q for %q: %v", w.Value, what, err)
		return false, false
	}
	return v, true
}

// nonEmpty reports whether w is not empty, and reports it if it is.
func (b *builder) nonEmpty(w Word, what, example string) bool {
	if w.Value == "" {
		b.errorf(w.Pos, "empty value for %q: give one, e.g. %s", what, example)
		return false
	}
	return true
}

func (b *builder) bind(w Word, what string) (string, bool) {
	a, err := parseBind(w.Value)
	if err != nil {
		b.errorf(w.Pos, "invalid address %q for %q: %v", w.Value, what, err)
		return "", false
	}
	return a, true
}
