package confparse_test

import (
	"strings"
	"testing"

	"github.com/phalanx-lb/phalanx/confparse"
)

// app defines the upstream most cases route to.
const app = "upstream app { server 127.0.0.1:9001; }\n"

// TestMistakeMessages shows the exact message for realistic mistakes: each
// names FILE:LINE:COL and says what to do.
func TestMistakeMessages(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // the errors, one a line
	}{
		{
			name: "typo in a directive name",
			src: app + `http { server {
  route / {
    upstrem app;
  }
} }`,
			want: `phalanx.conf:4:5: unknown directive "upstrem" inside "route"; did you mean "upstream"?`,
		},
		{
			name: "typo at the top level",
			src:  "worker_thread 8;\nfrobnicate on;",
			want: `phalanx.conf:1:1: unknown directive "worker_thread" at the top level; did you mean "worker_threads"?` + "\n" +
				`phalanx.conf:2:1: unknown directive "frobnicate" at the top level; allowed here: worker_threads, admin_bind, access_log, tcp_bind, tcp_upstream, tcp_proxy_protocol, unknown_protocol_upstream, shutdown_timeout, http1_engine, resolver, shared_store, shared_store_fail, http, upstream`,
		},
		{
			name: "listen with two addresses",
			src: app + `http { server {
  listen 8080 8081;
  route / { upstream app; }
} }`,
			want: `phalanx.conf:3:15: "listen" takes 1 argument (listen ADDR;), got 2; give each address its own listen directive`,
		},
		{
			name: "nginx listen ssl",
			src: app + `http { server {
  listen 443 ssl;
  route / { upstream app; }
} }`,
			want: `phalanx.conf:3:14: "listen" takes 1 argument (listen ADDR;), got 2; TLS is on when the server has ssl_certificate and ssl_certificate_key, so drop "ssl"`,
		},
		{
			name: "bad duration unit",
			src: `upstream app {
  server 127.0.0.1:9001;
  health_check interval=5x fall=2;
}`,
			want: `phalanx.conf:3:16: invalid duration "5x" for "interval": use a number with ms, s, m, h or d, e.g. 5s`,
		},
		{
			name: "fractional duration",
			src:  app + "http { proxy_read_timeout 1.5s; server { route / { upstream app; } } }",
			want: `phalanx.conf:2:27: invalid duration "1.5s" for "proxy_read_timeout": use whole numbers, e.g. 1500ms rather than 1.5s`,
		},
		{
			name: "zero duration",
			src:  "shutdown_timeout 0;",
			want: `phalanx.conf:1:18: invalid duration "0" for "shutdown_timeout": use a time greater than 0, e.g. 5s`,
		},
		{
			name: "negative weight",
			src: `upstream app {
  server 127.0.0.1:9001 weight=-1;
}`,
			want: `phalanx.conf:2:25: invalid number "-1" for "weight": use a whole number of 1 or more, e.g. weight=2`,
		},
		{
			name: "typo in a parameter",
			src: `upstream app {
  server 127.0.0.1:9001 max_fail=3;
}`,
			want: `phalanx.conf:2:25: unknown parameter "max_fail" for "server"; did you mean "max_fails"?`,
		},
		{
			name: "route to an undefined upstream, with a suggestion",
			src: `upstream default { server 127.0.0.1:9001; }
http { server {
  route / { upstream defualt; }
} }`,
			want: `phalanx.conf:3:22: route "/" uses undefined upstream "defualt"; did you mean "default"?`,
		},
		{
			name: "route to an undefined upstream, nothing close",
			src: app + `http { server {
  route / { upstream billing; }
} }`,
			want: `phalanx.conf:3:22: route "/" uses undefined upstream "billing"; define it with "upstream billing { server HOST:PORT; }" at the top level or in http`,
		},
		{
			name: "nginx proxy_pass",
			src: app + `http { server {
  route / {
    proxy_pass http://app;
  }
} }`,
			want: `phalanx.conf:4:5: "proxy_pass" is nginx syntax; in phalanx a route names its pool with "upstream app;", and backends are listed in an "upstream NAME { server HOST:PORT; }" block`,
		},
		{
			name: "nginx location",
			src: `http { server {
  location / { proxy_pass http://127.0.0.1:9001; }
} }`,
			want: `phalanx.conf:2:3: "location" is nginx syntax; phalanx matches path prefixes with "route PREFIX { ... }" inside a server block`,
		},
		{
			name: "nginx add_header always",
			src: app + `http { server {
  route / { upstream app; add_header X-Frame-Options DENY always; }
} }`,
			want: `phalanx.conf:3:59: "add_header" takes 2 arguments (add_header NAME VALUE;), got 3; phalanx has no "always": add_header sets a request header sent upstream, and add_response_header NAME VALUE; sets a response header`,
		},
		{
			name: "route without an action",
			src: `http { server {
  route /static {
    add_header X-A b;
  }
} }`,
			want: `phalanx.conf:2:3: route "/static" has no action; add one of upstream NAME;, root DIR;, fastcgi_pass ADDR; or uwsgi_pass ADDR;`,
		},
		{
			name: "route with two actions",
			src: app + `http { server {
  route / {
    upstream app;
    root /var/www;
  }
} }`,
			want: `phalanx.conf:5:5: route "/" has two actions, "root" here and "upstream" at phalanx.conf:4:5; keep exactly one`,
		},
		{
			name: "fastcgi_param without fastcgi_pass",
			src: `http { server {
  route / {
    root /var/www;
    fastcgi_param APP_ENV prod;
  }
} }`,
			want: `phalanx.conf:4:5: "fastcgi_param" works only with "fastcgi_pass" in the same route; add fastcgi_pass ADDR; or remove this line`,
		},
		{
			name: "ai_epsilon out of range",
			src: app + `http { server {
  ai_epsilon 1.5;
  route / { upstream app; }
} }`,
			want: `phalanx.conf:3:14: invalid number "1.5" for "ai_epsilon": use a number from 0 to 1, e.g. 0.1`,
		},
		{
			name: "ai_epsilon 0 in an upstream",
			src: `upstream app {
  server 127.0.0.1:9001;
  ai_epsilon 0;
}`,
			want: `phalanx.conf:3:14: ai_epsilon 0 is not supported in an upstream block yet (0 there means "inherit the server's"); set it in the server block, or use a small value such as 0.001`,
		},
		{
			name: "waf_enabled maybe",
			src: app + `http { server {
  waf_enabled maybe;
  route / { upstream app; }
} }`,
			want: `phalanx.conf:3:15: invalid value "maybe" for "waf_enabled": use on, off, true or false`,
		},
		{
			name: "unknown algorithm",
			src:  "upstream app { server 127.0.0.1:9001; algorithm round_robin; }",
			want: `phalanx.conf:1:49: unknown algorithm "round_robin" for "algorithm"; did you mean "roundrobin"?`,
		},
		{
			name: "nginx least_conn",
			src:  "upstream app { server 127.0.0.1:9001; least_conn; }",
			want: `phalanx.conf:1:39: "least_conn" is nginx syntax; write "algorithm leastconnections;" in the upstream block`,
		},
		{
			name: "duplicate listen in one server",
			src: app + `http { server {
  listen 8080;
  listen 0.0.0.0:8080;
  route / { upstream app; }
} }`,
			want: `phalanx.conf:4:10: duplicate listen "0.0.0.0:8080" in this server (first at phalanx.conf:3:10); remove one`,
		},
		{
			name: "duplicate listen across servers",
			src: app + `http {
  server { listen 8080; route / { upstream app; } }
  server { listen 0.0.0.0:8080; route / { upstream app; } }
}`,
			want: `phalanx.conf:4:19: duplicate listen "0.0.0.0:8080" with the same server_name as the server at phalanx.conf:3:3 (neither has one); give one of them a server_name or another listen address`,
		},
		{
			name: "one name in two servers on one address",
			src: app + `http {
  server { server_name a.example.com b.example.com; route / { upstream app; } }
  server { server_name b.example.com; route / { upstream app; } }
}`,
			want: `phalanx.conf:4:24: server_name "b.example.com" is also served on "0.0.0.0:8080" by the server at phalanx.conf:3:3; keep each name in one server per address`,
		},
		{
			name: "listen on the admin port",
			src: app + `http { server {
  listen 127.0.0.1:9090;
  route / { upstream app; }
} }`,
			want: `phalanx.conf:3:10: listen address "127.0.0.1:9090" is already used by admin_bind (its default); give one of them another port`,
		},
		{
			name: "backend server at the top level",
			src:  app + "server 127.0.0.1:9002;",
			want: `phalanx.conf:2:1: "server" directive is not allowed at the top level; it belongs in "http" (server { ... }) or "upstream" (server ADDR [weight=N] [max_fails=N] [fail_timeout=D] [backup] [h2c|h2] [resolve];)`,
		},
		{
			name: "backend server in http",
			src:  "http {\n  server 127.0.0.1:9001;\n}",
			want: `phalanx.conf:2:3: "server" inside "http" needs a block: server { ... }; the form "server ADDR [weight=N] [max_fails=N] [fail_timeout=D] [backup] [h2c|h2] [resolve];" belongs in "upstream"`,
		},
		{
			name: "listen in http",
			src:  "http {\n  listen 80;\n}",
			want: `phalanx.conf:2:3: "listen" directive is not allowed inside "http"; it belongs in "server"`,
		},
		{
			name: "upstream block inside a route",
			src: app + `http { server {
  route / { upstream app { server 127.0.0.1:9002; } }
} }`,
			want: `phalanx.conf:3:13: "upstream" inside "route" takes no block (upstream NAME;); "upstream NAME { ... }" blocks belong at the top level or in "http"`,
		},
		{
			name: "route without a block",
			src: app + `http { server {
  route /api;
} }`,
			want: `phalanx.conf:3:3: "route" inside "server" needs a block: route PREFIX { ... }`,
		},
		{
			name: "ssl_certificate without a key",
			src: app + `http { server {
  ssl_certificate /etc/phalanx/cert.pem;
  route / { upstream app; }
} }`,
			want: `phalanx.conf:3:3: "ssl_certificate" needs "ssl_certificate_key" in the same server; add ssl_certificate_key PATH;`,
		},
		{
			name: "bad size unit",
			src: app + `http { server {
  client_max_body_size 10q;
  route / { upstream app; }
} }`,
			want: `phalanx.conf:3:24: invalid size "10q" for "client_max_body_size": use a number of bytes with an optional k, m or g suffix, e.g. 10m`,
		},
		{
			name: "directive given twice",
			src: app + `http { server {
  rate_limit_burst 100;
  rate_limit_burst 200;
  route / { upstream app; }
} }`,
			want: `phalanx.conf:4:3: "rate_limit_burst" is given twice inside "server" (first at phalanx.conf:3:3); remove one`,
		},
		{
			name: "duplicate upstream and duplicate backend",
			src: `upstream app {
  server 127.0.0.1:9001;
  server 127.0.0.1:9001;
}
upstream app { server 127.0.0.1:9002; }`,
			want: `phalanx.conf:3:10: duplicate server "127.0.0.1:9001" in upstream "app" (first at phalanx.conf:2:10); list each backend once and raise its weight instead` + "\n" +
				`phalanx.conf:5:10: duplicate upstream "app" (first defined at phalanx.conf:1:1); rename one or merge their servers`,
		},
		{
			name: "upstream without servers",
			src:  "upstream app { }",
			want: `phalanx.conf:1:1: upstream "app" has no servers; add at least one "server HOST:PORT;"`,
		},
		{
			name: "route prefixes",
			src: app + `http { server {
  route api { upstream app; }
  route /x { upstream app; }
  route /x { upstream app; }
} }`,
			want: `phalanx.conf:3:9: route prefix "api" must start with "/"; write route /api { ... }` + "\n" +
				`phalanx.conf:5:9: duplicate route "/x" in this server (first at phalanx.conf:4:9); merge the two blocks`,
		},
		{
			name: "tcp_upstream undefined",
			src:  "tcp_upstream db;\nupstream dbs { server 127.0.0.1:5432; }",
			want: `phalanx.conf:1:14: tcp_upstream "db" is not defined; did you mean "dbs"? (or write "tcp_bind off;" to turn the TCP proxy off)`,
		},
		{
			name: "empty root",
			src: `http { server {
  route / { root ""; }
} }`,
			want: `phalanx.conf:2:18: empty value for "root": give one, e.g. /var/www`,
		},
		{
			name: "include in LoadBytes",
			src:  "include conf.d/*.conf;",
			want: `phalanx.conf:1:1: "include" is expanded only when reading a file with Load or ParseFile; LoadBytes and Parse read a single file`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := confparse.LoadBytes("phalanx.conf", []byte(tt.src))
			if err == nil {
				t.Fatalf("LoadBytes(%s) = %+v, nil, want error\n%s", tt.name, cfg, tt.want)
			}
			if cfg != nil {
				t.Errorf("LoadBytes(%s) returned a Config with its error", tt.name)
			}
			if got := err.Error(); got != tt.want {
				t.Fatalf("LoadBytes(%s) error =\n%s\nwant\n%s", tt.name, got, tt.want)
			}
		})
	}
}

// TestAllMistakesInOrder: a file with many mistakes reports every one of
// them, in position order, including those found only once the whole file
// is read (undefined upstreams, duplicate listens).
func TestAllMistakesInOrder(t *testing.T) {
	const src = `worker_threads eight;
http {
    server {
        listen 8080;
        waf_enabled maybe;
        route /api {
            upstream backend;
            add_header X-Proxy-By;
        }
        route static {
            root /var/www;
            upstream app;
        }
        ssl_certificate_key /etc/phalanx/key.pem;
    }
    server {
        listen 8080;
        client_max_body_size 10q;
        route / { upstrem app; }
    }
}
upstream app {
    server 10.0.0.1:80 weight=0;
    health_check interval=5x timeout=1s;
}
tcp_bind off;
`
	want := []string{
		`phalanx.conf:1:16: invalid number "eight" for "worker_threads": use a whole number of 1 or more, e.g. 8`,
		`phalanx.conf:5:21: invalid value "maybe" for "waf_enabled": use on, off, true or false`,
		`phalanx.conf:7:22: route "/api" uses undefined upstream "backend"; define it with "upstream backend { server HOST:PORT; }" at the top level or in http`,
		`phalanx.conf:8:13: "add_header" takes 2 arguments (add_header NAME VALUE;), got 1`,
		`phalanx.conf:10:15: route prefix "static" must start with "/"; write route /static { ... }`,
		`phalanx.conf:12:13: route "static" has two actions, "upstream" here and "root" at phalanx.conf:11:13; keep exactly one`,
		`phalanx.conf:14:9: "ssl_certificate_key" needs "ssl_certificate" in the same server; add ssl_certificate PATH;`,
		`phalanx.conf:17:16: duplicate listen "0.0.0.0:8080" with the same server_name as the server at phalanx.conf:3:5 (neither has one); give one of them a server_name or another listen address`,
		`phalanx.conf:18:30: invalid size "10q" for "client_max_body_size": use a number of bytes with an optional k, m or g suffix, e.g. 10m`,
		`phalanx.conf:19:19: unknown directive "upstrem" inside "route"; did you mean "upstream"?`,
		`phalanx.conf:23:24: invalid number "0" for "weight": use a whole number of 1 or more, e.g. weight=2`,
		`phalanx.conf:24:18: invalid duration "5x" for "interval": use a number with ms, s, m, h or d, e.g. 5s`,
	}
	_, err := confparse.LoadBytes("phalanx.conf", []byte(src))
	list, ok := err.(confparse.ErrorList)
	if !ok {
		t.Fatalf("LoadBytes(many mistakes) = %T %v, want an ErrorList", err, err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("LoadBytes(many mistakes) errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
