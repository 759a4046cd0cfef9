package phalanx_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/lb"
	"github.com/stretchr/testify/require"
)

var noActiveChecks = lb.HealthCheck{Interval: -1}

func TestAlgorithmsSpread(t *testing.T) {
	checkNoLeaks(t)
	const n = 1500
	seeded := func() func() uint64 { return rand.New(rand.NewPCG(7, 11)).Uint64 }
	tests := []struct {
		name    string
		builder lb.Builder
		weights []int
		// want is the expected share of each backend; tol the allowed
		// absolute deviation in requests.
		want []float64
		tol  float64
	}{
		{"roundrobin", lb.RoundRobin{Rand: seeded()}, []int{1, 1, 1}, []float64{1. / 3, 1. / 3, 1. / 3}, 1},
		{"weightedroundrobin", lb.WeightedRoundRobin{Rand: seeded()}, []int{3, 1, 1}, []float64{.6, .2, .2}, 1},
		{"leastconnections", lb.LeastConnections{Rand: seeded()}, []int{1, 1, 1}, []float64{1. / 3, 1. / 3, 1. / 3}, 100},
		{"random", lb.Random{Rand: seeded()}, []int{2, 1, 1}, []float64{.5, .25, .25}, 100},
		{"p2c", lb.P2C{Rand: seeded()}, []int{1, 1, 1}, []float64{1. / 3, 1. / 3, 1. / 3}, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var servers []phalanx.UpstreamServer
			for i, w := range tc.weights {
				ts := namedBackend(t, fmt.Sprint(i))
				servers = append(servers, phalanx.UpstreamServer{Addr: hostOf(ts), Weight: w})
			}
			url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithUpstream(phalanx.Upstream{
				Name: "app", Servers: servers, Builder: tc.builder, Health: noActiveChecks,
			}))
			c := client(t)
			counts := make([]int, len(servers))
			for i := 0; i < n; i++ {
				code, body := get(t, c, url+"/")
				require.Equal(t, http.StatusOK, code)
				var k int
				fmt.Sscan(body, &k)
				counts[k]++
			}
			for i, share := range tc.want {
				if d := float64(counts[i]) - share*n; d > tc.tol || d < -tc.tol {
					t.Errorf("%s: backend %d got %d of %d requests, want %.0f ± %.0f (counts %v)", tc.name, i, counts[i], n, share*n, tc.tol, counts)
				}
			}
		})
	}
}

// TestLeastConnectionsAvoidsBusy holds requests open on one backend and
// checks that new requests go to the idle ones.
func TestLeastConnectionsAvoidsBusy(t *testing.T) {
	checkNoLeaks(t)
	release := make(chan struct{})
	var slowHits atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slowHits.Add(1)
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "slow")
	}))
	var wg sync.WaitGroup
	t.Cleanup(slow.Close)
	fast := namedBackend(t, "fast")
	url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithUpstream(phalanx.Upstream{
		Name: "app", Algorithm: lb.LeastConnectionsName, Health: noActiveChecks,
		Servers: []phalanx.UpstreamServer{{Addr: hostOf(slow)}, {Addr: hostOf(fast)}},
	}))
	// Cleanups run last-in first-out: release the parked request, wait
	// for it, then shut the proxy down.
	t.Cleanup(wg.Wait)
	t.Cleanup(func() { close(release) })
	c := client(t)
	// Park a request on the slow backend: with both backends idle a
	// request may go either way, so keep sending until one is parked.
	for i := 0; i < 40 && slowHits.Load() < 1; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := c.Get(url + "/"); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, int32(1), slowHits.Load())
	before := slowHits.Load()
	for i := 0; i < 50; i++ {
		code, body := get(t, c, url+"/")
		if code != http.StatusOK || body != "fast" {
			t.Fatalf("request %d = %d %q, want 200 \"fast\" while the slow backend is busy", i, code, body)
		}
	}
	if got := slowHits.Load(); got != before {
		t.Errorf("slow backend got %d more requests while busy, want 0", got-before)
	}
}

func TestIPHashAffinity(t *testing.T) {
	checkNoLeaks(t)
	var servers []phalanx.UpstreamServer
	for i := 0; i < 3; i++ {
		servers = append(servers, phalanx.UpstreamServer{Addr: hostOf(namedBackend(t, fmt.Sprint(i)))})
	}
	url, _ := startProxy(t, phalanx.WithLogger(discard()),
		phalanx.WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8")),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Algorithm: lb.IPHashName, Health: noActiveChecks, Servers: servers}))
	c := client(t)
	seen := map[string]map[string]bool{}
	for i := 0; i < 600; i++ {
		ip := fmt.Sprintf("203.0.113.%d", i%60)
		req, _ := http.NewRequest("GET", url+"/", nil)
		req.Header.Set("X-Forwarded-For", ip)
		res, err := c.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if seen[ip] == nil {
			seen[ip] = map[string]bool{}
		}
		seen[ip][string(b)] = true
	}
	per := map[string]int{}
	for ip, bs := range seen {
		if len(bs) != 1 {
			t.Errorf("client %s reached backends %v, want exactly one", ip, bs)
		}
		for b := range bs {
			per[b]++
		}
	}
	if len(per) != 3 {
		t.Errorf("60 clients reached backends %v, want all 3", per)
	}
}

func TestHealthKilledBackendOutAndBack(t *testing.T) {
	checkNoLeaks(t)
	// The interval is long enough that "down within one interval" can be
	// told apart from "down after two" despite scheduling noise.
	const interval, timeout, slack = 500 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond
	logger, logs := newLogger()
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	// The victim runs on its own listener so it can be killed and revived
	// on the same port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	victimAddr := l.Addr().String()
	victim := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "victim") })}
	go victim.Serve(l)

	url, _ := startProxy(t, phalanx.WithLogger(logger), phalanx.WithUpstream(phalanx.Upstream{
		Name:    "app",
		Health:  lb.HealthCheck{Interval: interval, Timeout: timeout, Fall: 1, Rise: 2},
		Servers: []phalanx.UpstreamServer{{Addr: hostOf(a)}, {Addr: hostOf(b)}, {Addr: victimAddr, MaxFails: -1}},
	}))
	c := client(t)
	hits := func(n int) map[string]int {
		m := map[string]int{}
		for i := 0; i < n; i++ {
			code, body := get(t, c, url+"/")
			if code != http.StatusOK {
				t.Fatalf("request %d = %d %q, want 200", i, code, body)
			}
			m[body]++
		}
		return m
	}
	require.Positive(t, hits(30)["victim"])

	victim.Close()
	killed := time.Now()
	eventually(t, 5*time.Second, "the victim marked down", func() bool {
		return len(logs.lines("backend down", victimAddr)) > 0
	})
	// Within one interval of the kill, plus the checker's jitter (up to a
	// tenth of the interval), one probe timeout and scheduling slack.
	if d, limit := time.Since(killed), interval+interval/10+timeout+slack; d > limit {
		t.Errorf("victim marked down %v after the kill, want within %v (interval %v)", d, limit, interval)
	}
	if m := hits(60); m["victim"] != 0 {
		t.Errorf("after the victim was marked down it got %d requests, want 0", m["victim"])
	}

	var l2 net.Listener
	eventually(t, 5*time.Second, "rebinding the victim's port", func() bool {
		l2, err = net.Listen("tcp", victimAddr)
		return err == nil
	})
	victim2 := &http.Server{Handler: victim.Handler}
	go victim2.Serve(l2)
	t.Cleanup(func() { victim2.Close() })
	eventually(t, 5*time.Second, "the victim back up", func() bool {
		return len(logs.lines("backend up", victimAddr)) > 0
	})
	if m := hits(30); m["victim"] == 0 {
		t.Errorf("after the victim came back it got no requests: %v", m)
	}
	if n := len(logs.lines("backend down", victimAddr)); n != 1 {
		t.Errorf("logged %d down transitions for the victim, want 1", n)
	}
}

func TestHeaders(t *testing.T) {
	checkNoLeaks(t)
	var got atomic.Pointer[http.Request]
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Clone(context.Background()))
		w.Header().Set("Connection", "X-Backend-Hop")
		w.Header().Set("X-Backend-Hop", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-App", "1")
		io.WriteString(w, "ok")
	}))
	t.Cleanup(be.Close)
	proxyOpts := func(trusted ...netip.Prefix) []phalanx.Option {
		return []phalanx.Option{
			phalanx.WithLogger(discard()),
			phalanx.WithTrustedProxies(trusted...),
			phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}),
			phalanx.WithRoute(phalanx.Route{
				Path: "/", Upstream: "app",
				AddHeaders:         []phalanx.Header{{Name: "X-Via-Phalanx", Value: "yes"}},
				AddResponseHeaders: []phalanx.Header{{Name: "X-Served-By", Value: "phalanx"}},
			}),
		}
	}
	send := func(url string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest("GET", url+"/x?a=1&b=%zz", nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := client(t).Do(req)
		require.NoError(t, err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}

	t.Run("untrusted peer", func(t *testing.T) {
		url, _ := startProxy(t, proxyOpts()...)
		res := send(url, map[string]string{
			"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil", "X-Forwarded-Proto": "https",
			"Connection": "X-Client-Hop", "X-Client-Hop": "1", "X-Request-Id": "abc-123",
		})
		r := got.Load()
		for _, c := range []struct{ name, got, want string }{
			{"X-Forwarded-For", r.Header.Get("X-Forwarded-For"), "127.0.0.1"},
			{"X-Forwarded-Host", r.Header.Get("X-Forwarded-Host"), strings.TrimPrefix(url, "http://")},
			{"X-Forwarded-Proto", r.Header.Get("X-Forwarded-Proto"), "http"},
			{"X-Via-Phalanx", r.Header.Get("X-Via-Phalanx"), "yes"},
			{"X-Client-Hop upstream", r.Header.Get("X-Client-Hop"), ""},
			{"X-Request-Id upstream", r.Header.Get("X-Request-Id"), "abc-123"},
			{"raw query", r.URL.RawQuery, "a=1&b=%zz"},
			{"X-Backend-Hop downstream", res.Header.Get("X-Backend-Hop"), ""},
			{"Keep-Alive downstream", res.Header.Get("Keep-Alive"), ""},
			{"X-App downstream", res.Header.Get("X-App"), "1"},
			{"X-Served-By downstream", res.Header.Get("X-Served-By"), "phalanx"},
			{"X-Request-Id downstream", res.Header.Get("X-Request-Id"), "abc-123"},
		} {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		}
	})

	t.Run("trusted peer", func(t *testing.T) {
		url, _ := startProxy(t, proxyOpts(netip.MustParsePrefix("127.0.0.0/8"))...)
		send(url, map[string]string{"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example"})
		r := got.Load()
		for _, c := range []struct{ name, got, want string }{
			{"X-Forwarded-For", r.Header.Get("X-Forwarded-For"), "198.51.100.7, 127.0.0.1"},
			{"X-Forwarded-Host", r.Header.Get("X-Forwarded-Host"), "shop.example"},
			{"X-Forwarded-Proto", r.Header.Get("X-Forwarded-Proto"), "https"},
		} {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		}
		if id := r.Header.Get("X-Request-Id"); len(id) != 32 {
			t.Errorf("generated X-Request-Id = %q, want 32 hex digits", id)
		}
	})
}

// TestStreamedResponse checks that a chunked response reaches the client
// piece by piece: the backend only writes its second chunk after the
// client has read the first one through the proxy.
func TestStreamedResponse(t *testing.T) {
	checkNoLeaks(t)
	firstSeen := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-firstSeen:
		case <-time.After(5 * time.Second):
			io.WriteString(w, "data: timeout\n\n")
			return
		}
		io.WriteString(w, "data: two\n\n")
	}))
	t.Cleanup(be.Close)
	url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithUpstream(phalanx.Upstream{
		Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	res, err := client(t).Get(url + "/events")
	require.NoError(t, err)
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "data: one\n", line)
	close(firstSeen)
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	if want := "\ndata: two\n\n"; string(rest) != want {
		t.Errorf("rest of stream = %q, want %q", rest, want)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestUpgradeOnlyWebSocket checks that only WebSocket upgrades reach a
// backend: an h2c upgrade accepted by a backend would tunnel HTTP/2
// requests past routing and limits (h2c smuggling).
func TestUpgradeOnlyWebSocket(t *testing.T) {
	checkNoLeaks(t)
	seen := make(chan http.Header, 1)
	be := newHeaderBackend(t, "app", seen)
	url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithUpstream(phalanx.Upstream{
		Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	for _, tc := range []struct{ upgrade, want string }{{"h2c", ""}, {"websocket", "websocket"}} {
		req, _ := http.NewRequest("GET", url+"/", nil)
		req.Header.Set("Connection", "Upgrade, HTTP2-Settings")
		req.Header.Set("Upgrade", tc.upgrade)
		req.Header.Set("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")
		res, err := client(t).Do(req)
		require.NoError(t, err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		h := nextHeader(t, seen)
		if got := h.Get("Upgrade"); got != tc.want {
			t.Errorf("Upgrade: %s reached the backend as %q, want %q", tc.upgrade, got, tc.want)
		}
		if got := h.Get("Http2-Settings"); got != "" {
			t.Errorf("Upgrade: %s: HTTP2-Settings reached the backend as %q, want it removed", tc.upgrade, got)
		}
	}
}
