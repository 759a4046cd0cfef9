package confparse_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/phalanx-lb/phalanx/confparse"
)

// referenceServer is the server block of the reference phalanx.conf.
const referenceServer = `    server {
        listen 8080;
        # ssl_certificate     /etc/phalanx/certs/cert.pem;
        # ssl_certificate_key /etc/phalanx/certs/key.pem;
        rate_limit_per_ip  50;       # Requests per second per IP
        rate_limit_burst   100;      # Burst capacity per IP
        # global_rate_limit  10000;
        waf_enabled             true;
        waf_auto_ban_threshold  15;
        waf_auto_ban_duration   3600;
        ai_algorithm  epsilon_greedy;
        ai_epsilon    0.10;
        route /api {
            upstream default;
            add_header X-Proxy-By "Phalanx";
            add_header X-Powered-By "Rust";
        }
        route / {
            upstream default;
            add_header Cache-Control "no-cache";
        }
    }
`

// referenceConfig is what the reference file builds to, given the
// positions of its upstream block, its server, and the server's block.
func referenceConfig(file string, upstream, backend, server Pos) *confparse.Config {
	p := func(at Pos) confparse.Pos { return confparse.Pos{File: file, Line: at.Line, Col: at.Col} }
	return &confparse.Config{
		WorkerThreads:   8,
		AdminBind:       "127.0.0.1:9090",
		TCPBind:         "0.0.0.0:5000",
		TCPUpstream:     "default",
		ShutdownTimeout: 30 * time.Second,
		HTTP1Engine:     "phalanx",
		Upstreams: []confparse.Upstream{{
			Name: "default",
			Servers: []confparse.UpstreamServer{{
				Addr: "127.0.0.1:9001", Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second, Pos: p(backend),
			}},
			Algorithm: "roundrobin",
			Health:    confparse.HealthCheck{Interval: 5 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3},
			Keepalive: 32,
			Pos:       p(upstream),
		}},
		Servers: []confparse.Server{{
			Listen:          []string{"0.0.0.0:8080"},
			RateLimitPerIP:  50,
			RateLimitBurst:  100,
			GlobalRateLimit: 0,
			WAF:             confparse.WAF{Enabled: true, AutoBanThreshold: 15, AutoBanDuration: time.Hour, Paranoia: 1, BodyLimit: 64 << 10},
			AI: confparse.AI{
				Algorithm: "epsilon_greedy", Epsilon: 0.10, Temperature: 1.0, UCBConstant: 2.0, ThompsonThresholdMS: 100,
			},
			ClientMaxBodySize:   1 << 20,
			ClientMaxHeaderSize: 32 << 10,
			Routes: []confparse.Route{
				{
					Prefix:   "/api",
					Upstream: "default",
					AddHeaders: []confparse.Header{
						{Name: "X-Proxy-By", Value: "Phalanx"},
						{Name: "X-Powered-By", Value: "Rust"},
					},
					ClientMaxBodySize: 1 << 20,
					Pos:               p(Pos{server.Line + 12, 9}),
				},
				{
					Prefix:            "/",
					Upstream:          "default",
					AddHeaders:        []confparse.Header{{Name: "Cache-Control", Value: "no-cache"}},
					ClientMaxBodySize: 1 << 20,
					Pos:               p(Pos{server.Line + 17, 9}),
				},
			},
			Pos: p(server),
		}},
	}
}

// Pos is a line and column, for building expected positions.
type Pos struct{ Line, Col int }

func TestBuildReference(t *testing.T) {
	tests := []struct {
		name                      string
		src                       string
		upstream, backend, server Pos
	}{
		{
			name: "upstream at the top level",
			src: "worker_threads 8;\n" +
				"upstream default { server 127.0.0.1:9001; }\n" +
				"http {\n" + referenceServer + "}\n",
			upstream: Pos{2, 1}, backend: Pos{2, 20}, server: Pos{4, 5},
		},
		{
			name: "upstream in http, after the server",
			src: "worker_threads 8;\n" +
				"http {\n" + referenceServer +
				"    upstream default {\n        server 127.0.0.1:9001;\n    }\n" +
				"}\n",
			upstream: Pos{25, 5}, backend: Pos{26, 9}, server: Pos{3, 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := confparse.LoadBytes("phalanx.conf", []byte(tt.src))
			require.NoError(t, err, "LoadBytes(reference) error")
			want := referenceConfig("phalanx.conf", tt.upstream, tt.backend, tt.server)
			require.Equal(t, want, got, "LoadBytes(reference) = got, want the reference Config")
		})
	}
}

// TestBuildReferenceWithoutUpstream: the reference file alone routes to an
// upstream it does not define.
func TestBuildReferenceWithoutUpstream(t *testing.T) {
	src := "worker_threads 8;\nhttp {\n" + referenceServer + "}\n"
	_, err := confparse.LoadBytes("phalanx.conf", []byte(src))
	want := `phalanx.conf:16:22: route "/api" uses undefined upstream "default"; define it with "upstream default { server HOST:PORT; }" at the top level or in http` + "\n" +
		`phalanx.conf:21:22: route "/" uses undefined upstream "default"; define it with "upstream default { server HOST:PORT; }" at the top level or in http`
	if err == nil || err.Error() != want {
		t.Fatalf("LoadBytes(reference without upstream) = %v, want\n%s", err, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "phalanx.conf")
	write := func(name, text string) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	write("phalanx.conf", "include upstreams.conf;\nhttp { server { route / { upstream app; } } }\n")
	write("upstreams.conf", "upstream app { server 127.0.0.1:9001; }\n")
	cfg, err := confparse.Load(main)
	require.NoError(t, err)
	if got := cfg.Upstreams[0].Pos.File; got != filepath.Join(dir, "upstreams.conf") {
		t.Errorf("Load: upstream Pos.File = %q, want the included file", got)
	}

	// Errors from an included file sort where the include is.
	write("phalanx.conf", "worker_threads 0;\ninclude upstreams.conf;\nadmin_bind x;\n")
	write("upstreams.conf", "upstream app { server 127.0.0.1:9001 weight=0; }\n")
	_, err = confparse.Load(main)
	want := main + `:1:16: invalid number "0" for "worker_threads": use a whole number of 1 or more, e.g. 8` + "\n" +
		filepath.Join(dir, "upstreams.conf") + `:1:38: invalid number "0" for "weight": use a whole number of 1 or more, e.g. weight=2` + "\n" +
		main + `:3:12: invalid address "x" for "admin_bind": add a port, e.g. x:8080`
	if err == nil || err.Error() != want {
		t.Fatalf("Load(bad) = %v, want\n%s", err, want)
	}

	if _, err := confparse.Load(filepath.Join(dir, "missing.conf")); err == nil {
		t.Fatalf("Load(missing) = nil error, want one")
	}
}

// minimal is the smallest useful file: every value not written is a
// default.
const minimal = `
upstream default { server 127.0.0.1:9001; }
http {
    server {
        route / { upstream default; }
    }
}
`

func TestBuildDefaults(t *testing.T) {
	cfg, err := confparse.LoadBytes("phalanx.conf", []byte(minimal))
	require.NoError(t, err)
	u, s, r := cfg.Upstreams[0], cfg.Servers[0], cfg.Servers[0].Routes[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"worker_threads", cfg.WorkerThreads, 4},
		{"admin_bind", cfg.AdminBind, "127.0.0.1:9090"},
		{"tcp_bind", cfg.TCPBind, "0.0.0.0:5000"},
		{"tcp_upstream", cfg.TCPUpstream, "default"},
		{"shutdown_timeout", cfg.ShutdownTimeout, 30 * time.Second},
		{"algorithm", u.Algorithm, "roundrobin"},
		{"health_check", u.Health, confparse.HealthCheck{Interval: 5 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3}},
		{"keepalive", u.Keepalive, 32},
		{"upstream ai_*", u.AI, confparse.AI{}},
		{"weight", u.Servers[0].Weight, 1},
		{"max_fails", u.Servers[0].MaxFails, 1},
		{"fail_timeout", u.Servers[0].FailTimeout, 10 * time.Second},
		{"backup", u.Servers[0].Backup, false},
		{"listen", s.Listen, []string{"0.0.0.0:8080"}},
		{"server_name", s.ServerNames, []string(nil)},
		{"ssl_certificate", s.SSLCertificate, ""},
		{"rate_limit_per_ip", s.RateLimitPerIP, 50.0},
		{"rate_limit_burst", s.RateLimitBurst, 100},
		{"global_rate_limit", s.GlobalRateLimit, 0.0},
		{"waf_*", s.WAF, confparse.WAF{Enabled: true, AutoBanThreshold: 15, AutoBanDuration: 3600 * time.Second, Paranoia: 1, BodyLimit: 64 << 10}},
		{"ai_*", s.AI, confparse.AI{Algorithm: "adaptive", Epsilon: 0.10, Temperature: 1.0, UCBConstant: 2.0, ThompsonThresholdMS: 100}},
		{"timeouts", s.Timeouts, confparse.Timeouts{}},
		{"client_max_body_size", s.ClientMaxBodySize, int64(1 << 20)},
		{"client_max_header_size", s.ClientMaxHeaderSize, 32 << 10},
		{"set_real_ip_from", s.TrustedProxies, []netip.Prefix(nil)},
		{"route timeouts", r.Timeouts, confparse.Timeouts{}},
		{"route client_max_body_size", r.ClientMaxBodySize, int64(1 << 20)},
		{"route index (no root)", r.Index, []string(nil)},
		{"route fastcgi_index (no fastcgi_pass)", r.FastCGIIndex, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.got, "default %s = got, want", tt.name)
		})
	}
}

// TestBuildEverything sets every directive to a value other than its
// default.
func TestBuildEverything(t *testing.T) {
	const src = `
worker_threads 2;
admin_bind [::1]:9999;
tcp_bind *:6000;
tcp_upstream db;
shutdown_timeout 1m30s;
http1_engine net/http;
upstream db {
    server db1:5432 weight=3 max_fails=0 fail_timeout=1m backup;
    server 10.0.0.2:5432 backup weight=2;
    algorithm aipredictive;
    health_check fall=5 interval=1s;
    health_check_http /healthz status=204;
    keepalive 0;
    ai_algorithm ucb1;
    ai_epsilon 0.5;
    ai_temperature 0.25;
    ai_ucb_constant 1.5;
    ai_thompson_threshold_ms 250;
}
http {
    rate_limit_per_ip 0;
    waf_enabled off;
    proxy_read_timeout 2m;
    client_max_body_size 0;
    set_real_ip_from 10.0.0.0/8;
    set_real_ip_from 192.168.1.10;
    upstream php { server 127.0.0.1:9000; }
    server {
        listen 8080;
        listen [::]:8443;
        server_name example.com *.example.com;
        server_name www.example.org;
        ssl_certificate     /etc/phalanx/cert.pem;
        ssl_certificate_key /etc/phalanx/key.pem;
        rate_limit_per_ip 12.5;
        rate_limit_burst 25;
        global_rate_limit 10000;
        waf_auto_ban_threshold 30;
        waf_auto_ban_duration 1h30m;
        waf_paranoia 2;
        waf_mode detect;
        waf_body_limit 1m;
        waf_bot_allow "Go-http-client" "";
        waf_bot_allow curl;
        waf_bot_deny badbot;
        ai_algorithm thompson_sampling;
        ai_epsilon 0;
        ai_temperature 2;
        ai_ucb_constant 0;
        ai_thompson_threshold_ms 50.5;
        client_header_timeout 5s;
        keepalive_timeout 2m;
        proxy_connect_timeout 500ms;
        request_timeout 1h;
        client_max_header_size 64K;
        set_real_ip_from 2001:db8::/32;
        route /static {
            root /var/www;
            index index.htm default.htm;
            add_response_header Cache-Control "max-age=60";
            client_max_body_size 1g;
            waf_exclude 1002 xss;
        }
        route /php {
            fastcgi_pass unix:/run/php-fpm.sock;
            fastcgi_param APP_ENV "prod";
            fastcgi_param "HTTP_PROXY" "";
            request_timeout 10s;
        }
        route /app {
            fastcgi_pass php:9000;
            fastcgi_index app.php;
        }
        route /py {
            uwsgi_pass 127.0.0.1:3031;
            uwsgi_param UWSGI_SCHEME https;
        }
        route / { upstream db; add_header X-Env prod; }
    }
}
`
	cfg, err := confparse.LoadBytes("phalanx.conf", []byte(src))
	require.NoError(t, err)
	for i := range cfg.Upstreams {
		cfg.Upstreams[i].Pos = confparse.Pos{}
		for j := range cfg.Upstreams[i].Servers {
			cfg.Upstreams[i].Servers[j].Pos = confparse.Pos{}
		}
	}
	for i := range cfg.Servers {
		cfg.Servers[i].Pos = confparse.Pos{}
		for j := range cfg.Servers[i].Routes {
			cfg.Servers[i].Routes[j].Pos = confparse.Pos{}
		}
	}
	want := &confparse.Config{
		WorkerThreads:   2,
		AdminBind:       "[::1]:9999",
		TCPBind:         "0.0.0.0:6000",
		TCPUpstream:     "db",
		ShutdownTimeout: 90 * time.Second,
		HTTP1Engine:     "net/http",
		Upstreams: []confparse.Upstream{
			{
				Name: "db",
				Servers: []confparse.UpstreamServer{
					{Addr: "db1:5432", Weight: 3, MaxFails: 0, FailTimeout: time.Minute, Backup: true},
					{Addr: "10.0.0.2:5432", Weight: 2, MaxFails: 1, FailTimeout: 10 * time.Second, Backup: true},
				},
				Algorithm: "aipredictive",
				Health: confparse.HealthCheck{
					Interval: time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 5, HTTPPath: "/healthz", HTTPStatus: 204,
				},
				Keepalive: 0,
				AI:        confparse.AI{Algorithm: "ucb1", Epsilon: 0.5, Temperature: 0.25, UCBConstant: 1.5, ThompsonThresholdMS: 250},
			},
			{
				Name:      "php",
				Servers:   []confparse.UpstreamServer{{Addr: "127.0.0.1:9000", Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second}},
				Algorithm: "roundrobin",
				Health:    confparse.HealthCheck{Interval: 5 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3},
				Keepalive: 32,
			},
		},
		Servers: []confparse.Server{{
			Listen:            []string{"0.0.0.0:8080", "[::]:8443"},
			ServerNames:       []string{"example.com", "*.example.com", "www.example.org"},
			SSLCertificate:    "/etc/phalanx/cert.pem",
			SSLCertificateKey: "/etc/phalanx/key.pem",
			RateLimitPerIP:    12.5,
			RateLimitBurst:    25,
			GlobalRateLimit:   10000,
			WAF: confparse.WAF{Enabled: false, AutoBanThreshold: 30, AutoBanDuration: 90 * time.Minute, Paranoia: 2, DetectOnly: true,
				BodyLimit: 1 << 20, BotAllow: []string{"Go-http-client", "", "curl"}, BotDeny: []string{"badbot"}},
			AI: confparse.AI{Algorithm: "thompson_sampling", Epsilon: 0, Temperature: 2, UCBConstant: 0, ThompsonThresholdMS: 50.5},
			Timeouts: confparse.Timeouts{
				ClientHeader: 5 * time.Second, ClientIdle: 2 * time.Minute, UpstreamConnect: 500 * time.Millisecond,
				UpstreamHeader: 2 * time.Minute, Request: time.Hour,
			},
			ClientMaxBodySize:   0,
			ClientMaxHeaderSize: 64 << 10,
			// The server's own set_real_ip_from replaces http's list.
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")},
			Routes: []confparse.Route{
				{
					Prefix: "/static", Root: "/var/www", Index: []string{"index.htm", "default.htm"},
					AddResponseHeaders: []confparse.Header{{Name: "Cache-Control", Value: "max-age=60"}},
					WAFExclude:         []string{"1002", "xss"},
					ClientMaxBodySize:  1 << 30,
				},
				{
					Prefix: "/php", FastCGIPass: "unix:/run/php-fpm.sock", FastCGIIndex: "index.php",
					FastCGIParams: []confparse.Header{{Name: "APP_ENV", Value: "prod"}, {Name: "HTTP_PROXY", Value: ""}},
					Timeouts:      confparse.Timeouts{Request: 10 * time.Second},
				},
				{Prefix: "/app", FastCGIPass: "php:9000", FastCGIIndex: "app.php"},
				{
					Prefix: "/py", UwsgiPass: "127.0.0.1:3031",
					UwsgiParams: []confparse.Header{{Name: "UWSGI_SCHEME", Value: "https"}},
				},
				{Prefix: "/", Upstream: "db", AddHeaders: []confparse.Header{{Name: "X-Env", Value: "prod"}}},
			},
		}},
	}
	require.Equal(t, want, cfg, "LoadBytes(every directive) = got, want")
}

// TestHTTPInheritance: settings in http are defaults for its servers
// only, and a server's own directive wins.
func TestHTTPInheritance(t *testing.T) {
	const src = `
upstream app { server 127.0.0.1:9001; }
http {
    rate_limit_burst 7;
    set_real_ip_from 10.0.0.0/8;
    server { listen 1; route / { upstream app; } }
    server { listen 2; rate_limit_burst 9; route / { upstream app; } }
    keepalive_timeout 3s;
}
http {
    server { listen 3; route / { upstream app; } }
}
`
	cfg, err := confparse.LoadBytes("phalanx.conf", []byte(src))
	require.NoError(t, err)
	tests := []struct {
		server  int
		burst   int
		idle    time.Duration
		trusted []netip.Prefix
	}{
		{0, 7, 3 * time.Second, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		{1, 9, 3 * time.Second, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		{2, 100, 0, nil},
	}
	for _, tt := range tests {
		s := cfg.Servers[tt.server]
		if s.RateLimitBurst != tt.burst || s.Timeouts.ClientIdle != tt.idle {
			t.Errorf("server %d: burst, keepalive_timeout = %d, %v, want %d, %v", tt.server, s.RateLimitBurst, s.Timeouts.ClientIdle, tt.burst, tt.idle)
		}
		require.Equal(t, tt.trusted, s.TrustedProxies, "server %d: TrustedProxies = got, want", tt.server)
	}
	// The servers do not share the inherited slice.
	cfg.Servers[0].TrustedProxies[0] = netip.Prefix{}
	if cfg.Servers[1].TrustedProxies[0] != netip.MustParsePrefix("10.0.0.0/8") {
		t.Errorf("servers 0 and 1 share their TrustedProxies array")
	}
}

func TestTCPProxy(t *testing.T) {
	tests := []struct {
		name, src string
		bind      string // Config.TCPBind
		err       string
	}{
		{
			name: "default upstream exists",
			src:  "upstream default { server 127.0.0.1:9001; }",
			bind: "0.0.0.0:5000",
		},
		{
			name: "nothing written and no default upstream: disabled",
			src:  "upstream app { server 127.0.0.1:9001; }",
			bind: "",
		},
		{
			name: "off",
			src:  "tcp_bind off; tcp_upstream nowhere;",
			bind: "",
		},
		{
			name: "tcp_upstream written",
			src:  "tcp_upstream app; upstream app { server 127.0.0.1:9001; }",
			bind: "0.0.0.0:5000",
		},
		{
			name: "tcp_upstream written but undefined",
			src:  "tcp_upstream nowhere;",
			err:  `phalanx.conf:1:14: tcp_upstream "nowhere" is not defined; define it with "upstream nowhere { server HOST:PORT; }", or write "tcp_bind off;" to turn the TCP proxy off`,
		},
		{
			name: "tcp_bind written, default upstream undefined",
			src:  "tcp_bind 127.0.0.1:7000;",
			err:  `phalanx.conf:1:10: tcp_bind needs an upstream, and the default tcp_upstream "default" is not defined; name one with "tcp_upstream NAME;" or define "upstream default { server HOST:PORT; }"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := confparse.LoadBytes("phalanx.conf", []byte(tt.src))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("LoadBytes(%q) = %v, want %s", tt.src, err, tt.err)
				}
				return
			}
			require.NoError(t, err)
			if cfg.TCPBind != tt.bind {
				t.Fatalf("LoadBytes(%q).TCPBind = %q, want %q", tt.src, cfg.TCPBind, tt.bind)
			}
		})
	}
}

func TestListenSharing(t *testing.T) {
	tests := []struct {
		name, servers string
		err           string
	}{
		{name: "different names", servers: `
server { listen 80; server_name a.com; route / { upstream app; } }
server { listen 80; server_name b.com; route / { upstream app; } }`},
		{name: "named and unnamed", servers: `
server { listen 80; server_name a.com; route / { upstream app; } }
server { listen 80; route / { upstream app; } }`},
		{name: "same names, different addresses", servers: `
server { listen 80; server_name a.com; route / { upstream app; } }
server { listen 127.0.0.1:80; server_name a.com; route / { upstream app; } }`},
		{name: "port 0 twice", servers: `
server { listen 0; route / { upstream app; } }
server { listen 0; route / { upstream app; } }`},
		{name: "same set in another order and case", servers: `
server { listen 80; server_name a.com b.com; route / { upstream app; } }
server { listen *:80; server_name B.com a.com; route / { upstream app; } }`,
			err: `phalanx.conf:5:17: duplicate listen "0.0.0.0:80" with the same server_name as the server at phalanx.conf:4:1; give one of them another server_name or listen address`},
		{name: "both default", servers: `
server { route / { upstream app; } }
server { route / { upstream app; } }`,
			err: `phalanx.conf:5:1: duplicate listen "0.0.0.0:8080" (the default) with the same server_name as the server at phalanx.conf:4:1 (neither has one); give one of them a server_name or another listen address`},
		{name: "tcp_bind collides", servers: `
server { listen 5000; route / { upstream app; } }`,
			err: `phalanx.conf:4:17: listen address "0.0.0.0:5000" is already used by tcp_bind (its default); give one of them another port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "upstream app { server 127.0.0.1:9001; }\nupstream default { server 127.0.0.1:9002; }\nhttp {" + tt.servers + "\n}\n"
			_, err := confparse.LoadBytes("phalanx.conf", []byte(src))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Fatalf("LoadBytes(%s) = %q, want %q", tt.name, got, tt.err)
			}
		})
	}
}

func TestAIFor(t *testing.T) {
	const src = `
upstream a { server 127.0.0.1:9001; algorithm aipredictive; ai_temperature 3; }
http { server { ai_epsilon 0; ai_algorithm softmax; route / { upstream a; } } }
`
	cfg, err := confparse.LoadBytes("phalanx.conf", []byte(src))
	require.NoError(t, err)
	u, s := &cfg.Upstreams[0], &cfg.Servers[0]
	want := confparse.AI{Algorithm: "softmax", Epsilon: 0, Temperature: 3, UCBConstant: 2, ThompsonThresholdMS: 100}
	require.Equal(t, want, u.AIFor(s), "AIFor(server) = got, want")
	want = confparse.AI{Algorithm: "adaptive", Epsilon: 0.10, Temperature: 3, UCBConstant: 2, ThompsonThresholdMS: 100}
	require.Equal(t, want, u.AIFor(nil), "AIFor(nil) = got, want")
}

func TestTimeoutsOr(t *testing.T) {
	route := confparse.Timeouts{UpstreamHeader: time.Second}
	server := confparse.Timeouts{ClientHeader: 2 * time.Second, UpstreamHeader: 3 * time.Second}
	want := confparse.Timeouts{ClientHeader: 2 * time.Second, UpstreamHeader: time.Second}
	if got := route.Or(server); got != want {
		t.Fatalf("Timeouts.Or = %+v, want %+v", got, want)
	}
}

// TestBuildHandMade builds an AST made without the parser, as a program
// that generates its configuration might.
func TestBuildHandMade(t *testing.T) {
	w := func(v string) confparse.Word { return confparse.Word{Value: v} }
	ds := []*confparse.Directive{
		{Name: "upstream", Args: []confparse.Word{w("app")}, Block: []*confparse.Directive{
			{Name: "server", Args: []confparse.Word{w("127.0.0.1:9001")}},
		}},
		{Name: "http", Block: []*confparse.Directive{
			{Name: "server", Block: []*confparse.Directive{
				{Name: "route", Args: []confparse.Word{w("/")}, Block: []*confparse.Directive{
					{Name: "upstream", Args: []confparse.Word{w("app")}},
				}},
			}},
		}},
	}
	cfg, err := confparse.Build(ds)
	require.NoError(t, err)
	if got := cfg.Servers[0].Routes[0].Upstream; got != "app" {
		t.Fatalf("Build(hand-made).Servers[0].Routes[0].Upstream = %q, want app", got)
	}
	if _, err := confparse.Build(nil); err != nil {
		t.Fatalf("Build(nil) = %v, want no error", err)
	}
}

func TestUpstreamServerProtocol(t *testing.T) {
	src := "upstream g { server 127.0.0.1:50051 h2c; server 127.0.0.1:443 h2 weight=2; server 127.0.0.1:80; }\n"
	c, err := confparse.LoadBytes("phalanx.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range c.Upstreams[0].Servers {
		got = append(got, s.Protocol)
	}
	if want := []string{"h2c", "h2", ""}; !reflect.DeepEqual(got, want) {
		t.Errorf("server protocols = %q, want %q", got, want)
	}
	_, err = confparse.LoadBytes("phalanx.conf", []byte("upstream g { server 127.0.0.1:1 h2c h2; }\n"))
	if err == nil || !strings.Contains(err.Error(), `phalanx.conf:1:37: "h2c" and "h2" exclude each other`) {
		t.Errorf("LoadBytes(h2c h2) error = %v, want one at 1:37 saying they exclude each other", err)
	}
}

func TestUnknownProtocolUpstream(t *testing.T) {
	c, err := confparse.LoadBytes("phalanx.conf", []byte("unknown_protocol_upstream ssh;\nupstream ssh { server 127.0.0.1:22; }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.UnknownProtocolUpstream != "ssh" {
		t.Errorf("UnknownProtocolUpstream = %q, want ssh", c.UnknownProtocolUpstream)
	}
	_, err = confparse.LoadBytes("phalanx.conf", []byte("unknown_protocol_upstream shh;\nupstream ssh { server 127.0.0.1:22; }\n"))
	want := `phalanx.conf:1:27: unknown_protocol_upstream uses undefined upstream "shh"; did you mean "ssh"?`
	if err == nil || err.Error() != want {
		t.Errorf("LoadBytes(undefined unknown_protocol_upstream) error = %v, want %s", err, want)
	}
}

func TestFastCGIRouteRoot(t *testing.T) {
	src := "http { server { route /php { fastcgi_pass 127.0.0.1:9000; root /var/www; } } }\n"
	c, err := confparse.LoadBytes("phalanx.conf", []byte(src))
	if err != nil {
		t.Fatalf("LoadBytes(fastcgi_pass with root) error = %v, want none: root is the document root there", err)
	}
	r := c.Servers[0].Routes[0]
	if r.Root != "/var/www" || r.FastCGIPass != "127.0.0.1:9000" || r.Index != nil || r.FastCGIIndex != "index.php" {
		t.Errorf("route = root %q pass %q index %q fastcgi_index %q, want /var/www, 127.0.0.1:9000, none, index.php", r.Root, r.FastCGIPass, r.Index, r.FastCGIIndex)
	}
}

func TestTCPProxyProtocol(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want int
	}{{"", 0}, {"tcp_proxy_protocol v1;", 1}, {"tcp_proxy_protocol v2;", 2}, {"tcp_proxy_protocol off;", 0}} {
		c, err := confparse.LoadBytes("phalanx.conf", []byte(tc.src+"\nupstream default { server 127.0.0.1:1; }\n"))
		if err != nil {
			t.Fatalf("LoadBytes(%q) error = %v", tc.src, err)
		}
		if c.TCPProxyProtocol != tc.want {
			t.Errorf("LoadBytes(%q).TCPProxyProtocol = %d, want %d", tc.src, c.TCPProxyProtocol, tc.want)
		}
	}
	_, err := confparse.LoadBytes("phalanx.conf", []byte("tcp_proxy_protocol 3;\n"))
	want := `phalanx.conf:1:20: invalid value "3" for "tcp_proxy_protocol": use v1, v2 or off`
	if err == nil || err.Error() != want {
		t.Errorf("LoadBytes(tcp_proxy_protocol 3) error = %v, want %s", err, want)
	}
}

func TestAdminAndAccessLog(t *testing.T) {
	for _, tc := range []struct {
		src                   string
		admin, log, logFormat string
	}{
		{"", "127.0.0.1:9090", "", ""},
		{"admin_bind off;", "", "", ""},
		{"admin_bind 127.0.0.1:0;", "127.0.0.1:0", "", ""},
		{"access_log stderr;", "127.0.0.1:9090", "stderr", "text"},
		{"access_log /var/log/phalanx.log json;", "127.0.0.1:9090", "/var/log/phalanx.log", "json"},
		{"access_log off;", "127.0.0.1:9090", "", "text"},
	} {
		c, err := confparse.LoadBytes("phalanx.conf", []byte(tc.src+"\nupstream default { server 127.0.0.1:1; }\n"))
		if err != nil {
			t.Fatalf("LoadBytes(%q) error = %v", tc.src, err)
		}
		if c.AdminBind != tc.admin || c.AccessLog != tc.log || c.AccessLogFormat != tc.logFormat {
			t.Errorf("LoadBytes(%q) = admin %q, access_log %q %q; want %q, %q %q", tc.src,
				c.AdminBind, c.AccessLog, c.AccessLogFormat, tc.admin, tc.log, tc.logFormat)
		}
	}
	_, err := confparse.LoadBytes("phalanx.conf", []byte("access_log stderr xml;\n"))
	want := `phalanx.conf:1:19: invalid format "xml" for "access_log": use text or json`
	if err == nil || err.Error() != want {
		t.Errorf("LoadBytes(access_log stderr xml) error = %v, want %s", err, want)
	}
}

func TestDiscoveryAndSharedStore(t *testing.T) {
	const src = `
resolver 10.0.0.2 [::1]:5353 fd00::53 valid=30s timeout=1s;
shared_store redis://10.0.0.5:6379/2;
shared_store_fail closed;
upstream app {
    server 10.0.0.1:8000;
    server app.internal:8000 weight=2 resolve;
    service _http._tcp.api.internal max_fails=2 h2c resolve;
}
`
	c, err := confparse.LoadBytes("phalanx.conf", []byte(src))
	require.NoError(t, err)
	require.Equal(t, []string{"10.0.0.2:53", "[::1]:5353", "[fd00::53]:53"}, c.Resolver)
	require.Equal(t, 30*time.Second, c.ResolverValid)
	require.Equal(t, time.Second, c.ResolverTimeout)
	require.Equal(t, "redis://10.0.0.5:6379/2", c.SharedStore)
	require.True(t, c.SharedStoreFailClosed)
	s := c.Upstreams[0].Servers
	require.Len(t, s, 3)
	require.False(t, s[0].Resolve)
	require.Equal(t, "app.internal:8000", s[1].Addr)
	require.True(t, s[1].Resolve)
	require.Equal(t, 2, s[1].Weight)
	require.Equal(t, "_http._tcp.api.internal", s[2].Addr)
	require.True(t, s[2].SRV && s[2].Resolve)
	require.Equal(t, "h2c", s[2].Protocol)
	require.Equal(t, 2, s[2].MaxFails)

	d, err := confparse.LoadBytes("phalanx.conf", []byte("upstream default { server 127.0.0.1:1; }\n"))
	require.NoError(t, err)
	require.Empty(t, d.Resolver)
	require.Empty(t, d.SharedStore)
	require.False(t, d.SharedStoreFailClosed)

	for _, tc := range []struct{ src, want string }{
		{"resolver valid=5s;", `phalanx.conf:1:1: "resolver" needs at least one DNS server address, e.g. resolver 10.0.0.2;`},
		{"resolver dns.example;", `phalanx.conf:1:10: invalid address "dns.example" for "resolver": use an IP address with an optional port, e.g. 10.0.0.2 or 10.0.0.2:5353`},
		{"shared_store http://x:1/0;", `phalanx.conf:1:14: invalid URL "http://x:1/0" for "shared_store": the scheme must be redis, not "http" (TLS is not supported yet)`},
		{"shared_store redis://x/0;", `phalanx.conf:1:14: invalid URL "redis://x/0" for "shared_store": give HOST:PORT, e.g. redis://127.0.0.1:6379/0`},
		{"shared_store redis://x:6379/99;", `phalanx.conf:1:14: invalid URL "redis://x:6379/99" for "shared_store": the database "99" must be a number from 0 to 15`},
		{"shared_store_fail maybe;", `phalanx.conf:1:19: invalid value "maybe" for "shared_store_fail": use open (limit locally while the store is unreachable) or closed (refuse)`},
		{"upstream a { service _http._tcp.x h2c; }", `phalanx.conf:1:14: "service" needs the flag resolve: its backends come from DNS, e.g. service _http._tcp.x resolve;`},
		{"upstream a { service _http._tcp.x weight=2 resolve; }", `unknown parameter`},
		{"upstream a { service http.x resolve; }", `phalanx.conf:1:22: invalid SRV name "http.x" for "service": write _SERVICE._tcp.NAME, e.g. _http._tcp.app.internal`},
	} {
		_, err := confparse.LoadBytes("phalanx.conf", []byte(tc.src+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadBytes(%q) error = %v, want %s", tc.src, err, tc.want)
		}
	}
}
