package phalanx_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/bandit"
	"github.com/phalanx-lb/phalanx/internal/redistest"
	"github.com/phalanx-lb/phalanx/sniff"
	"github.com/stretchr/testify/require"
)

// TestReferenceConfig checks that the shipped examples/phalanx.conf loads
// and builds a Server.
func TestReferenceConfig(t *testing.T) {
	checkNoLeaks(t)
	opts, c, err := phalanx.LoadConfig("examples/phalanx.conf", discard())
	require.NoError(t, err)
	if c.WorkerThreads != 8 {
		t.Errorf("worker_threads = %d, want 8", c.WorkerThreads)
	}
	srv, err := phalanx.New(opts...)
	require.NoError(t, err)
	srv.Close()
}

func TestConfigRoutesByHostAndPrefix(t *testing.T) {
	checkNoLeaks(t)
	var seen = make(chan http.Header, 1)
	api := namedBackend(t, "api")
	shop := namedBackend(t, "shop")
	web := newHeaderBackend(t, "web", seen)
	conf := fmt.Sprintf(`
tcp_bind off;
upstream api { server %s; health_check interval=1h; }
upstream web { server %s; health_check interval=1h; }
http {
    waf_enabled off;   # these clients are Go's: the bot rules would refuse them
    upstream shop { server %s; keepalive 0; health_check interval=1h; }
    server {
        listen 127.0.0.1:0;
        route / {
            upstream web;
            add_header X-Proxy-By "Phalanx";
            add_response_header Cache-Control "no-cache";
        }
        route /api { upstream api; }
    }
    server {
        listen 127.0.0.1:0;
        server_name shop.example *.shop.example;
        route / { upstream shop; client_max_body_size 10; }
    }
}
`, hostOf(api), hostOf(web), hostOf(shop))
	opts := loadConf(t, conf)
	url, _ := startProxy(t, opts...)
	c := client(t)
	tests := []struct {
		host, path, body string
		want             string
		status           int
	}{
		{"", "/", "", "web", 200},
		{"", "/api/users", "", "api", 200},
		{"shop.example", "/api/users", "", "shop", 200},
		{"eu.shop.example", "/", "", "shop", 200},
		{"shop.example", "/", "more than ten bytes", "", 413},
		{"other.example", "/", "more than ten bytes", "web", 200},
	}
	for _, tc := range tests {
		method := "GET"
		var body io.Reader
		if tc.body != "" {
			method, body = "POST", strings.NewReader(tc.body)
		}
		req, _ := http.NewRequest(method, url+tc.path, body)
		if tc.host != "" {
			req.Host = tc.host
		}
		res, err := c.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status || (tc.status == 200 && string(b) != tc.want) {
			t.Errorf("%s %s%s = %d %q, want %d %q", method, tc.host, tc.path, res.StatusCode, b, tc.status, tc.want)
		}
		if tc.want == "web" {
			if h := nextHeader(t, seen); h.Get("X-Proxy-By") != "Phalanx" {
				t.Errorf("add_header: upstream saw X-Proxy-By = %q, want Phalanx", h.Get("X-Proxy-By"))
			}
			if got := res.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("add_response_header: Cache-Control = %q, want no-cache", got)
			}
		}
	}
}

func TestConfigRateLimit(t *testing.T) {
	checkNoLeaks(t)
	be := namedBackend(t, "app")
	conf := fmt.Sprintf(`
tcp_bind off;
upstream app { server %s; health_check interval=1h; }
http {
    waf_enabled off;   # these clients are Go's: the bot rules would refuse them
    server {
        listen 127.0.0.1:0;
        rate_limit_per_ip 0.5;
        rate_limit_burst 2;
        route / { upstream app; }
    }
}
`, hostOf(be))
	opts := loadConf(t, conf)
	url, _ := startProxy(t, opts...)
	c, _ := clientFrom(t, "127.0.0.4")
	if got := statuses(t, c, url+"/", 4); count(got, 200) != 2 || count(got, 429) != 2 {
		t.Errorf("4 requests at rate_limit_burst 2 = %v, want 2 x 200 then 2 x 429", got)
	}
}

func TestConfigUwsgiRoute(t *testing.T) {
	conf := `
tcp_bind off;
http {
    waf_enabled off;   # these clients are Go's: the bot rules would refuse them
    server {
        listen 127.0.0.1:0;
        route /app { uwsgi_pass unix:/run/app.sock; uwsgi_param UWSGI_SCHEME https; }
    }
}
`
	opts := loadConf(t, conf)
	srv, err := phalanx.New(opts...)
	require.NoError(t, err)
	// The socket does not exist: the route is served by the uwsgi handler,
	// which answers 502.
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/app/x", nil))
	if rec.Code != http.StatusBadGateway {
		t.Errorf("GET /app/x to a missing uwsgi socket = %d, want 502", rec.Code)
	}
	srv.Close()
}

func TestConfigFastCGIRoute(t *testing.T) {
	docroot := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(docroot, "php"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(docroot, "php", "index.php"), []byte("<?php echo 1;"), 0o644))
	conf := fmt.Sprintf(`
tcp_bind off;
http {
    waf_enabled off;   # these clients are Go's: the bot rules would refuse them
    server {
        listen 127.0.0.1:0;
        route /php { fastcgi_pass unix:/run/missing-fpm.sock; root %s; fastcgi_param APP_ENV prod; }
    }
}
`, docroot)
	opts := loadConf(t, conf)
	srv, err := phalanx.New(opts...)
	require.NoError(t, err)
	// The socket does not exist: the route is served by the FastCGI
	// handler, which answers 502.
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/php/index.php", nil))
	if rec.Code != http.StatusBadGateway {
		t.Errorf("GET /php/index.php to a missing FastCGI socket = %d %q, want 502", rec.Code, rec.Body.String())
	}
	srv.Close()
}

// TestConfigTCPProxyProtocol runs the TCP port from a config file with
// tcp_proxy_protocol v1: the backend reads the client's address from the
// PROXY header.
func TestConfigTCPProxyProtocol(t *testing.T) {
	checkNoLeaks(t)
	be, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer be.Close()
	go func() {
		c, err := be.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		h, err := sniff.ReadProxyHeader(bufio.NewReader(c))
		if err != nil {
			fmt.Fprintf(c, "error: %v", err)
			return
		}
		fmt.Fprintf(c, "v%d from %s", h.Version, h.Source.Addr())
	}()
	tcpAddr := freeAddr(t)
	conf := fmt.Sprintf(`
admin_bind off;
tcp_bind %s;
tcp_upstream db;
tcp_proxy_protocol v1;
upstream db { server %s; health_check interval=1h; }
http { waf_enabled off; server { listen %s; route / { upstream db; } } }
`, tcpAddr, be.Addr(), freeAddr(t))
	opts := loadConf(t, conf)
	srv, err := phalanx.New(opts...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe(ctx) }()
	defer func() {
		cancel()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			t.Error("ListenAndServe did not return")
		}
	}()
	var c net.Conn
	eventually(t, 5*time.Second, "the TCP port", func() bool {
		c, err = net.DialTimeout("tcp", tcpAddr, time.Second)
		return err == nil
	})
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if string(got) != "v1 from 127.0.0.1" {
		t.Errorf("backend saw %q, want \"v1 from 127.0.0.1\"", got)
	}
}

// loadConf writes conf to a file and loads it as LoadConfig does for
// phalanxd, with logs discarded.
func loadConf(t *testing.T, conf string) []phalanx.Option {
	t.Helper()
	path := filepath.Join(t.TempDir(), "phalanx.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o644))
	opts, _, err := phalanx.LoadConfig(path, discard())
	require.NoError(t, err)
	return append(opts, phalanx.WithLogger(discard()))
}

func TestConfigAIPredictive(t *testing.T) {
	checkNoLeaks(t)
	conf := `
tcp_bind off;
admin_bind off;
upstream a { server 127.0.0.1:1; algorithm aipredictive; health_check interval=1h; }
upstream b { server 127.0.0.1:2; algorithm aipredictive; ai_algorithm thompson_sampling; health_check interval=1h; }
upstream c { server 127.0.0.1:3; algorithm aipredictive; health_check interval=1h; }
http {
    waf_enabled off;   # these clients are Go's: the bot rules would refuse them
    server {
        listen 127.0.0.1:0;
        ai_algorithm ucb1;
        ai_ucb_constant 1.5;
        route /a { upstream a; }
        route /b { upstream b; }
    }
}
`
	srv, err := phalanx.New(loadConf(t, conf)...)
	require.NoError(t, err)
	defer srv.Close()
	rec := httptest.NewRecorder()
	srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/status", nil))
	var st phalanx.Status
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &st))
	got := map[string]string{}
	for _, u := range st.Upstreams {
		got[u.Name] = u.Algorithm + "/" + u.Policy
	}
	// a inherits the server's ucb1; b names its own; c is used by no
	// route and takes the default.
	want := map[string]string{"a": "aipredictive/ucb1", "b": "aipredictive/thompson_sampling", "c": "aipredictive/adaptive"}
	require.Equal(t, want, got, "policies by upstream = got, want")
}

// TestConfigKnowsEveryPolicy checks that ai_algorithm accepts every policy
// of package bandit, which confparse, a leaf package, lists on its own.
func TestConfigKnowsEveryPolicy(t *testing.T) {
	for _, name := range bandit.Names() {
		conf := "tcp_bind off;\nadmin_bind off;\nupstream a { server 127.0.0.1:1; algorithm aipredictive; ai_algorithm " +
			name + "; health_check interval=1h; }\n"
		srv, err := phalanx.New(loadConf(t, conf)...)
		if err != nil {
			t.Errorf("ai_algorithm %s: %v", name, err)
			continue
		}
		srv.Close()
	}
}

func TestConfigWAF(t *testing.T) {
	checkNoLeaks(t)
	be := namedBackend(t, "app")
	conf := fmt.Sprintf(`
tcp_bind off;
admin_bind off;
upstream app { server %s; health_check interval=1h; }
http {
    server {
        listen 127.0.0.1:0;
        waf_bot_allow Go-http-client;   # the test's own client
        route / { upstream app; }
        route /forum { upstream app; waf_exclude sqli; }
    }
    server {
        listen 127.0.0.1:0;
        server_name internal.example;
        waf_enabled off;
        route / { upstream app; }
    }
}
`, hostOf(be))
	url, _ := startProxy(t, loadConf(t, conf)...)
	c := client(t)
	attack := "?q=1'%20UNION%20SELECT%20password%20FROM%20users--"
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"", "/home", 200},
		{"", "/home" + attack, 403},
		{"", "/forum" + attack, 200},
		{"", "/forum?q=%3Cscript%3Ealert(1)%3C/script%3E", 403},
		{"internal.example", "/home" + attack, 200},
	} {
		req, _ := http.NewRequest(http.MethodGet, url+tc.path, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		res, err := c.Do(req)
		require.NoError(t, err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("GET %s%s = %d, want %d", tc.host, tc.path, res.StatusCode, tc.want)
		}
	}

	path := filepath.Join(t.TempDir(), "phalanx.conf")
	require.NoError(t, os.WriteFile(path, []byte("tcp_bind off;\nupstream app { server 127.0.0.1:1; }\nhttp { server { route / { upstream app; waf_exclude 424242; } } }\n"), 0o644))
	_, _, err := phalanx.LoadConfig(path, discard())
	if err == nil || !strings.Contains(err.Error(), path+":3:") || !strings.Contains(err.Error(), "424242") {
		t.Errorf("LoadConfig with an unknown rule id = %v, want an error at %s:3 naming it", err, path)
	}
}

// TestConfigDiscoveryAndSharedStore runs a config file whose pool comes
// from SRV records and whose limits are kept in Redis, with two Servers
// built from it.
func TestConfigDiscoveryAndSharedStore(t *testing.T) {
	checkNoLeaks(t)
	be := namedBackend(t, "found")
	d := newTestDNS(t)
	d.set(func(d *testDNS) { d.srvs = []srvRecord{{portOf(be), 1, 1}} })
	r := redistest.Start(t)
	conf := fmt.Sprintf(`
tcp_bind off;
admin_bind off;
resolver %s valid=1s;
shared_store %s;
shared_store_fail open;
upstream app { service _http._tcp.app.test resolve; health_check interval=1h; }
http {
    waf_enabled off;   # these clients are Go's: the bot rules would refuse them
    server {
        listen 127.0.0.1:0;
        rate_limit_per_ip 0.1;
        rate_limit_burst 3;
        route / { upstream app; }
    }
}
`, d.addr, r.URL(0))
	a, _ := startProxy(t, loadConf(t, conf)...)
	b, _ := startProxy(t, loadConf(t, conf)...)
	c, _ := clientFrom(t, "127.0.0.5")
	got := append(statuses(t, c, a+"/", 2), statuses(t, c, b+"/", 2)...)
	if count(got, 200) != 3 || count(got, 429) != 1 {
		t.Errorf("2 requests at each of two Servers sharing a burst of 3 = %v, want 3 x 200 then 429", got)
	}
	other, _ := clientFrom(t, "127.0.0.6")
	code, body := get(t, other, b+"/")
	require.Equal(t, 200, code)
	require.Equal(t, "found", body, "the backend comes from the SRV record")
}
