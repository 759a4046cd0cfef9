package phalanx_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/lb"
	"github.com/stretchr/testify/require"
)

// deadAddr returns a loopback address nobody listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	return addr
}

// rudeBackend accepts connections, reads the request head and closes
// without answering. It counts the connections it got.
func rudeBackend(t *testing.T) (string, *atomic.Int32) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var n atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 4096)
			c.Read(buf)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().String(), &n
}

func TestErrorStatuses(t *testing.T) {
	checkNoLeaks(t)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Got", strings.Repeat("x", int(n%7)))
	}))
	t.Cleanup(echo.Close)
	rude, _ := rudeBackend(t)

	logger, logs := newLogger()
	url, _ := startProxy(t,
		phalanx.WithLogger(logger),
		phalanx.WithMaxBodyBytes(1000),
		phalanx.WithMaxHeaderBytes(2048),
		phalanx.WithTimeouts(phalanx.Timeouts{UpstreamHeader: 200 * time.Millisecond}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "echo", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(echo)}}}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "slow", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(slow), MaxFails: -1}}}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "rude", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: rude, MaxFails: -1}}}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "refused", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: deadAddr(t), MaxFails: -1}}}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "down", Health: lb.HealthCheck{Interval: 20 * time.Millisecond, Timeout: 10 * time.Millisecond, Fall: 1},
			Servers: []phalanx.UpstreamServer{{Addr: deadAddr(t)}}}),
		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "echo"}),
		phalanx.WithRoute(phalanx.Route{Path: "/slow", Upstream: "slow"}),
		phalanx.WithRoute(phalanx.Route{Path: "/rude", Upstream: "rude"}),
		phalanx.WithRoute(phalanx.Route{Path: "/refused", Upstream: "refused"}),
		phalanx.WithRoute(phalanx.Route{Path: "/down", Upstream: "down"}),
	)
	// Let the "down" pool's checker notice its dead backend.
	eventually(t, 5*time.Second, "pool down marked", func() bool { return len(logs.lines("backend down", "pool=down")) > 0 })

	c := client(t)
	tests := []struct {
		name   string
		method string
		path   string
		body   io.Reader
		header map[string]string
		want   int
		cause  string // words of the log line's cause, one of them |-separated
	}{
		{"body over limit by Content-Length", "POST", "/", strings.NewReader(strings.Repeat("a", 1001)), nil, 413, "exceeds the limit"},
		{"chunked body over limit", "POST", "/", io.MultiReader(strings.NewReader(strings.Repeat("a", 600)), strings.NewReader(strings.Repeat("a", 600))), nil, 413, "too large"},
		{"body at limit", "POST", "/", strings.NewReader(strings.Repeat("a", 1000)), nil, 200, ""},
		{"headers over limit", "GET", "/", nil, map[string]string{"X-Big": strings.Repeat("b", 3000)}, 431, "exceed the limit"},
		{"backend refuses", "GET", "/refused", nil, nil, 502, "connection refused"},
		{"backend closes before answering", "POST", "/rude", strings.NewReader("x"), nil, 502, "EOF|closed network connection|connection reset"},
		{"backend too slow", "GET", "/slow", nil, nil, 504, "timeout"},
		{"no healthy backend", "GET", "/down", nil, nil, 503, "no backend available"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, url+tc.path, tc.body)
			require.NoError(t, err)
			if _, ok := tc.body.(*strings.Reader); !ok && tc.body != nil {
				req.ContentLength = -1 // force chunked
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			start := time.Now()
			res, err := c.Do(req)
			require.NoError(t, err)
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("%s %s = %d, want %d", tc.method, tc.path, res.StatusCode, tc.want)
			}
			if tc.want == 503 && time.Since(start) > 2*time.Second {
				t.Errorf("503 took %v; a pool with no backend must fail fast", time.Since(start))
			}
			if tc.cause == "" {
				return
			}
			id := res.Header.Get("X-Request-Id")
			lines := logs.lines("request_id="+id, "status=")
			if len(lines) != 1 {
				t.Fatalf("log lines for request %s = %d, want 1:\n%s", id, len(lines), logs)
			}
			hasCause := false
			for _, c := range strings.Split(tc.cause, "|") {
				hasCause = hasCause || strings.Contains(lines[0], c)
			}
			if !hasCause || !strings.Contains(lines[0], "route=") {
				t.Errorf("log line = %s, want route and a cause with %q", lines[0], tc.cause)
			}
			if tc.want >= 502 && !strings.Contains(lines[0], "backend=") {
				t.Errorf("log line = %s, want the backend", lines[0])
			}
		})
	}
}

func TestRetryOnOtherBackend(t *testing.T) {
	checkNoLeaks(t)
	good := namedBackend(t, "good")
	t.Run("connection refused, any method", func(t *testing.T) {
		url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithUpstream(phalanx.Upstream{
			Name: "app", Health: noActiveChecks, Algorithm: lb.RoundRobinName,
			Servers: []phalanx.UpstreamServer{{Addr: deadAddr(t), MaxFails: -1}, {Addr: hostOf(good)}},
		}))
		c := client(t)
		for i := 0; i < 10; i++ {
			res, err := c.Post(url+"/", "text/plain", strings.NewReader("payload"))
			require.NoError(t, err)
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(b) != "good" {
				t.Fatalf("POST %d = %d %q, want 200 \"good\" (retried on the live backend)", i, res.StatusCode, b)
			}
		}
	})
	t.Run("reset before headers", func(t *testing.T) {
		rude, hits := rudeBackend(t)
		url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithUpstream(phalanx.Upstream{
			Name: "app", Health: noActiveChecks, Algorithm: lb.RoundRobinName,
			Servers: []phalanx.UpstreamServer{{Addr: rude, MaxFails: -1}, {Addr: hostOf(good)}},
		}))
		c := client(t)
		gets, posts := 0, 0
		for i := 0; i < 10; i++ {
			code, _ := get(t, c, url+"/")
			if code != 200 {
				t.Errorf("GET %d = %d, want 200 (idempotent: retried on the live backend)", i, code)
			}
			gets++
		}
		before := hits.Load()
		var failed int
		for i := 0; i < 10; i++ {
			res, err := c.Post(url+"/", "text/plain", strings.NewReader("payload"))
			require.NoError(t, err)
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 502 {
				failed++
			}
			posts++
		}
		// Round robin alternates: the POSTs that landed on the rude backend
		// must fail rather than be replayed on the good one.
		if reached := int(hits.Load() - before); reached == 0 || failed != reached {
			t.Errorf("POSTs that reached the rude backend = %d, POSTs answered 502 = %d; want equal and non-zero (never replayed)", reached, failed)
		}
		_ = gets + posts
	})
}

func TestShutdownWaitsForInFlight(t *testing.T) {
	checkNoLeaks(t)
	started := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "finished")
	}))
	t.Cleanup(be.Close)
	url, srv := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithUpstream(phalanx.Upstream{
		Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	c := client(t)
	type result struct {
		code int
		body string
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		res, err := c.Get(url + "/")
		if err != nil {
			resc <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		resc <- result{res.StatusCode, string(b), err}
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("request never reached the backend")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shutdownStart := time.Now()
	require.NoError(t, srv.Shutdown(ctx))
	took := time.Since(shutdownStart)
	select {
	case r := <-resc:
		if r.err != nil || r.code != 200 || r.body != "finished" {
			t.Fatalf("in-flight request = %d %q %v, want 200 \"finished\"", r.code, r.body, r.err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the in-flight request did not finish")
	}
	if took < 100*time.Millisecond {
		t.Errorf("Shutdown took %v, want it to wait for the slow request", took)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), time.Second); err == nil {
		t.Error("listener still accepts after Shutdown")
	}
}

func TestShutdownDeadlineCutsSlowRequest(t *testing.T) {
	checkNoLeaks(t)
	started := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(be.Close)
	url, srv := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithUpstream(phalanx.Upstream{
		Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	errc := make(chan error, 1)
	go func() {
		res, err := client(t).Get(url + "/")
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); err == nil {
		t.Error("Shutdown with a slow request past the deadline = nil, want the context's error")
	}
	select {
	case <-errc:
	case <-time.After(5 * time.Second):
		t.Error("the cut request did not end")
	}
}
