package phalanx_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/lb"
	"github.com/phalanx-lb/phalanx/limiter"
	"github.com/phalanx-lb/phalanx/waf"
	"github.com/stretchr/testify/require"
)

// startAdmin serves srv's admin API on a loopback port and returns its
// base URL. It stops when srv shuts down.
func startAdmin(t *testing.T, srv *phalanx.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.ServeAdmin(l) }()
	t.Cleanup(func() {
		// This runs before startProxy's cleanup: shut down here.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeAdmin = %v, want nil after Shutdown", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("ServeAdmin did not return after Shutdown")
		}
	})
	return "http://" + l.Addr().String()
}

// fastHealth checks a pool every 50ms and takes a backend out after one
// failed probe.
var fastHealth = lb.HealthCheck{Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond, Rise: 1, Fall: 1}

func getStatus(t *testing.T, c *http.Client, admin string) phalanx.Status {
	t.Helper()
	code, body := get(t, c, admin+"/api/status")
	require.Equal(t, http.StatusOK, code, body)
	var st phalanx.Status
	require.NoError(t, json.Unmarshal([]byte(body), &st), body)
	return st
}

func backendStatus(st phalanx.Status, upstream, addr string) (phalanx.BackendStatus, bool) {
	for _, u := range st.Upstreams {
		if u.Name != upstream {
			continue
		}
		for _, b := range u.Backends {
			if b.Addr == addr {
				return b, true
			}
		}
	}
	return phalanx.BackendStatus{}, false
}

func TestAdminEndpoints(t *testing.T) {
	checkNoLeaks(t)
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	lone := namedBackend(t, "lone")
	reloads := 0
	var reloadErr error
	logger, _ := newLogger()
	url, srv := startProxy(t,
		phalanx.WithLogger(logger),
		phalanx.WithUpstream(phalanx.Upstream{Name: "web", Servers: []phalanx.UpstreamServer{{Addr: hostOf(a)}, {Addr: hostOf(b)}},
			Health: fastHealth}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "lone", Servers: []phalanx.UpstreamServer{{Addr: hostOf(lone)}},
			Algorithm: lb.AIPredictiveName, Health: fastHealth}),
		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "web"}),
		phalanx.WithRoute(phalanx.Route{Path: "/lone/", Upstream: "lone"}),
		phalanx.WithAdmin(phalanx.Admin{Reload: func() error { reloads++; return reloadErr }}),
	)
	admin := startAdmin(t, srv)
	c := client(t)

	for i := 0; i < 20; i++ {
		code, _ := get(t, c, url+"/x")
		require.Equal(t, http.StatusOK, code)
	}
	code, body := get(t, c, url+"/lone/")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "lone", body)

	t.Run("health", func(t *testing.T) {
		code, body := get(t, c, admin+"/health")
		if code != http.StatusOK || strings.TrimSpace(body) != "ok" {
			t.Errorf("GET /health = %d %q, want 200 ok", code, body)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		code, body := get(t, c, admin+"/metrics")
		require.Equal(t, http.StatusOK, code)
		for _, want := range []string{
			`phalanx_http_requests_total{backend="` + hostOf(a) + `",code="2xx",route="/",upstream="web"} 10`,
			`phalanx_http_requests_total{backend="` + hostOf(lone) + `",code="2xx",route="/lone/",upstream="lone"} 1`,
			`phalanx_backend_up{backend="` + hostOf(b) + `",upstream="web"} 1`,
			`phalanx_backend_picks_total{backend="` + hostOf(b) + `",upstream="web"} 10`,
			`phalanx_http_request_duration_seconds_count{route="/"} 20`,
			`phalanx_upstream_response_duration_seconds_count{backend="` + hostOf(a) + `",upstream="web"} 10`,
			`phalanx_routing_success_estimate_ratio{backend="` + hostOf(lone) + `",policy="adaptive",upstream="lone"}`,
			`phalanx_connections_total{protocol="http1"}`,
			`phalanx_config_reloads_total{result="ok"} 0`,
			`phalanx_build_info{`,
			`go_goroutines `,
			`process_open_fds `,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("GET /metrics lacks %s", want)
			}
		}
	})
	t.Run("status", func(t *testing.T) {
		st := getStatus(t, c, admin)
		if len(st.Upstreams) != 2 || st.Upstreams[0].Name != "lone" || st.Upstreams[1].Name != "web" {
			t.Fatalf("status upstreams = %+v, want lone and web", st.Upstreams)
		}
		bs, ok := backendStatus(st, "web", hostOf(a))
		if !ok || !bs.Healthy || bs.Requests != 10 {
			t.Errorf("status of web %s = %+v, %v; want healthy with 10 requests", hostOf(a), bs, ok)
		}
		ls, _ := backendStatus(st, "lone", hostOf(lone))
		if st.Upstreams[0].Policy != "adaptive" || ls.Score == nil || ls.Success == nil {
			t.Errorf("status of lone = %+v %+v, want the adaptive policy's estimates", st.Upstreams[0], ls)
		}
	})
	t.Run("reload", func(t *testing.T) {
		post := func() (int, string) {
			res, err := c.Post(admin+"/api/reload", "application/json", nil)
			require.NoError(t, err)
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		if code, body := post(); code != http.StatusOK || reloads != 1 {
			t.Errorf("POST /api/reload = %d %s (reloads %d), want 200 and one reload", code, body, reloads)
		}
		reloadErr = errors.New("phalanx.conf:3:1: unknown directive")
		if code, body := post(); code != http.StatusUnprocessableEntity || !strings.Contains(body, "unknown directive") {
			t.Errorf("POST /api/reload with a bad file = %d %s, want 422 with the reason", code, body)
		}
		if code, _ := get(t, c, admin+"/api/reload"); code != http.StatusMethodNotAllowed {
			t.Errorf("GET /api/reload = %d, want 405", code)
		}
	})
	t.Run("not on the traffic port", func(t *testing.T) {
		for _, p := range []string{"/metrics", "/api/status", "/health", "/ready"} {
			code, body := get(t, c, url+p)
			if code != http.StatusOK || (body != "a" && body != "b") {
				t.Errorf("GET %s on the traffic port = %d %q, want the backend's answer", p, code, body)
			}
		}
		res, err := c.Post(url+"/api/reload", "text/plain", nil)
		require.NoError(t, err)
		res.Body.Close()
		if reloads != 2 {
			t.Errorf("POST /api/reload on the traffic port ran a reload")
		}
	})
	t.Run("ready", func(t *testing.T) {
		code, body := get(t, c, admin+"/ready")
		require.Equal(t, http.StatusOK, code, body)
		lone.Close()
		eventually(t, 5*time.Second, "lone to be down", func() bool {
			code, body = get(t, c, admin+"/ready")
			return code == http.StatusServiceUnavailable
		})
		if !strings.Contains(body, "upstream lone has no healthy backend") {
			t.Errorf("GET /ready = %q, want the reason", body)
		}
		_, metrics := get(t, c, admin+"/metrics")
		for _, want := range []string{
			`phalanx_backend_up{backend="` + hostOf(lone) + `",upstream="lone"} 0`,
			`phalanx_backend_transitions_total{backend="` + hostOf(lone) + `",check="active",state="down",upstream="lone"} 1`,
			`phalanx_health_checks_total{backend="` + hostOf(lone) + `",result="fail",upstream="lone"}`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("GET /metrics after lone went down lacks %s", want)
			}
		}
	})
}

func TestAdminReloadCounted(t *testing.T) {
	checkNoLeaks(t)
	a := namedBackend(t, "a")
	opts := []phalanx.Option{
		phalanx.WithLogger(discard()),
		phalanx.WithUpstream(phalanx.Upstream{Name: "web", Servers: []phalanx.UpstreamServer{{Addr: hostOf(a)}}}),
		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "web"}),
	}
	_, srv := startProxy(t, opts...)
	admin := startAdmin(t, srv)
	require.NoError(t, srv.Reload(opts...))
	require.Error(t, srv.Reload(append(opts, phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "missing"}))...))
	_, body := get(t, client(t), admin+"/metrics")
	for _, want := range []string{`phalanx_config_reloads_total{result="ok"} 1`, `phalanx_config_reloads_total{result="failed"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %s", want)
		}
	}
}

func TestAccessLog(t *testing.T) {
	checkNoLeaks(t)
	a := namedBackend(t, "a")
	al, sink := newLogger()
	url, _ := startProxy(t,
		phalanx.WithLogger(discard()),
		phalanx.WithAccessLog(al),
		phalanx.WithUpstream(phalanx.Upstream{Name: "web", Servers: []phalanx.UpstreamServer{{Addr: hostOf(a)}}}),
		phalanx.WithRoute(phalanx.Route{Path: "/app/", Upstream: "web"}),
	)
	c := client(t)
	req, _ := http.NewRequest(http.MethodPost, url+"/app/x", strings.NewReader("hello"))
	req.Header.Set("X-Request-Id", "req-1")
	res, err := c.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	code, _ := get(t, c, url+"/nowhere")
	require.Equal(t, http.StatusNotFound, code)

	lines := sink.lines("msg=request")
	if len(lines) != 2 {
		t.Fatalf("access log = %q, want 2 lines", sink.String())
	}
	for _, want := range []string{"method=POST", "path=/app/x", "status=200", "bytes_in=5", "bytes_out=1",
		"route=/app/", "upstream=web", "backend=" + hostOf(a), "client=127.0.0.1", "request_id=req-1",
		"duration=", "upstream_duration="} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("access log line %q lacks %s", lines[0], want)
		}
	}
	if !strings.Contains(lines[1], "status=404") || !strings.Contains(lines[1], "route=\"\"") {
		t.Errorf("access log line %q, want status=404 and no route", lines[1])
	}
}

func TestPromtoolCheckMetrics(t *testing.T) {
	checkNoLeaks(t)
	promtool := needTool(t, "promtool")
	a := namedBackend(t, "a")
	url, srv := startProxy(t,
		phalanx.WithLogger(discard()),
		phalanx.WithUpstream(phalanx.Upstream{Name: "web", Servers: []phalanx.UpstreamServer{{Addr: hostOf(a)}},
			Algorithm: lb.AIPredictiveName}),
		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "web"}),
		phalanx.WithRateLimit(limiter.Config{Rate: 1000, Burst: 1000}),
		phalanx.WithWAF(waf.Config{}),
	)
	admin := startAdmin(t, srv)
	c := client(t)
	for i := 0; i < 5; i++ {
		send(t, c, http.MethodGet, url+"/", "", "")
	}
	// Series with labels: a blocked attack and a blocked bot.
	send(t, c, http.MethodGet, url+"/?q=%3Cscript%3Ealert(1)%3C/script%3E", "", "")
	get(t, c, url+"/")
	_, body := get(t, c, admin+"/metrics")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
	if s := strings.TrimSpace(out.String()); s != "" {
		t.Errorf("promtool check metrics found problems:\n%s", s)
	}
}

// TestStatusPage loads the admin status page in headless Chromium: it
// lists the backends, then shows one going down. It saves screenshots
// under .screenshots/ (git-ignored).
func TestStatusPage(t *testing.T) {
	checkNoLeaks(t)
	chromium := needTool(t, "chromium")
	a, b, c3 := namedBackend(t, "a"), namedBackend(t, "b"), namedBackend(t, "c")
	url, srv := startProxy(t,
		phalanx.WithLogger(discard()),
		phalanx.WithUpstream(phalanx.Upstream{Name: "web", Algorithm: lb.AIPredictiveName, Health: fastHealth,
			Servers: []phalanx.UpstreamServer{{Addr: hostOf(a)}, {Addr: hostOf(b)}, {Addr: hostOf(c3)}}}),
		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "web"}),
	)
	admin := startAdmin(t, srv)
	hc := client(t)
	for i := 0; i < 30; i++ {
		get(t, hc, url+"/")
	}
	// Traffic while the page is up, so that rates and shares show: at
	// most 4,000 requests, until the test ends.
	stop := make(chan struct{})
	trafficDone := make(chan struct{})
	go func() {
		defer close(trafficDone)
		tc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
		defer tc.Transport.(*http.Transport).CloseIdleConnections()
		for i := 0; i < 4000; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if res, err := tc.Get(url + "/"); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}
	}()
	defer func() {
		close(stop)
		<-trafficDone
	}()
	shots, err := filepath.Abs(".screenshots")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(shots, 0o755))

	dom := headless(t, chromium, admin+"/", "--dump-dom")
	for _, want := range []string{hostOf(a), hostOf(b), hostOf(c3), ">UP<", "aipredictive / adaptive"} {
		if !strings.Contains(dom, want) {
			t.Errorf("status page lacks %q:\n%s", want, dom)
		}
	}
	if strings.Contains(dom, ">DOWN<") {
		t.Errorf("status page shows a backend down before any is")
	}
	headless(t, chromium, admin+"/", "--screenshot="+filepath.Join(shots, "status-up.png"), "--window-size=1280,400")

	b.Close()
	eventually(t, 5*time.Second, "b to be marked down", func() bool {
		bs, _ := backendStatus(getStatus(t, hc, admin), "web", hostOf(b))
		return !bs.Healthy
	})
	dom = headless(t, chromium, admin+"/", "--dump-dom")
	row := rowOf(dom, hostOf(b))
	if !strings.Contains(row, ">DOWN<") {
		t.Errorf("status page row of the stopped backend = %q, want DOWN", row)
	}
	if !strings.Contains(rowOf(dom, hostOf(a)), ">UP<") {
		t.Errorf("status page row of a = %q, want UP", rowOf(dom, hostOf(a)))
	}
	headless(t, chromium, admin+"/", "--screenshot="+filepath.Join(shots, "status-down.png"), "--window-size=1280,400")
	for _, f := range []string{"status-up.png", "status-down.png"} {
		if fi, err := os.Stat(filepath.Join(shots, f)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s: %v, %v", f, fi, err)
		}
	}
}

// headless runs Chromium on url with args and returns its output, having
// let the page's scripts run for 2.5 s of virtual time.
func headless(t *testing.T, chromium, url string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=2500", "--hide-scrollbars"}, args...)
	cmd := exec.CommandContext(ctx, chromium, append(all, url)...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// rowOf returns the table row of dom that names addr.
func rowOf(dom, addr string) string {
	i := strings.Index(dom, `data-backend="`+addr+`"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(dom[i:], "</tr>")
	if j < 0 {
		return dom[i:]
	}
	return dom[i : i+j]
}

// TestConnectionMetrics counts connections by protocol and TLS
// handshakes, good and failed.
func TestConnectionMetrics(t *testing.T) {
	checkNoLeaks(t)
	be := namedBackend(t, "app")
	ca := newTestCA(t)
	cert, key := ca.issue(t, t.TempDir(), "a", "127.0.0.1")
	url, srv := startProxy(t, phalanx.WithLogger(discard()),
		phalanx.WithCertificate(cert, key),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	admin := startAdmin(t, srv)
	addr := strings.TrimPrefix(url, "http://")

	h1 := client(t)
	get(t, h1, url+"/")
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}
	t.Cleanup(tr.CloseIdleConnections)
	get(t, &http.Client{Transport: tr, Timeout: 10 * time.Second}, "https://"+addr+"/")
	// A TLS client that gives up: its ClientHello starts the handshake,
	// then it closes.
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	tc := tls.Client(c, &tls.Config{ServerName: "127.0.0.1", RootCAs: x509.NewCertPool()}) // trusts nothing
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err == nil {
		t.Fatal("a handshake with an untrusted certificate succeeded")
	}
	tc.Close()

	eventually(t, 5*time.Second, "the failed handshake to be counted", func() bool {
		_, body := get(t, h1, admin+"/metrics")
		return strings.Contains(body, `phalanx_tls_handshakes_total{result="failed"} 1`)
	})
	_, body := get(t, h1, admin+"/metrics")
	for _, want := range []string{
		`phalanx_tls_handshakes_total{result="ok"} 1`,
		`phalanx_connections_total{protocol="http1"} `,
		`phalanx_connections_total{protocol="tls"} 2`,
		`phalanx_connections_active{protocol="http1"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %s:\n%s", want, grepLines(body, "phalanx_tls", "phalanx_conn"))
		}
	}
}

// grepLines returns the lines of text that start with one of prefixes.
func grepLines(text string, prefixes ...string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
