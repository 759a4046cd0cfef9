package phalanx_test

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/lb"
	"github.com/stretchr/testify/require"
)

// slowBackend answers after d, with its name.
func slowBackend(t *testing.T, name string, d time.Duration) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// TestAIPredictiveLearns runs concurrent traffic through a learning pool
// of a fast and a slow backend, and checks that the fast one gets most of
// it, that the policy's estimates show on the admin API, and that every
// request ends its in-flight count.
func TestAIPredictiveLearns(t *testing.T) {
	checkNoLeaks(t)
	for _, policy := range []string{"", "epsilon_greedy", "ucb1", "softmax", "thompson_sampling", "peak_ewma"} {
		t.Run("policy="+policy, func(t *testing.T) {
			fast, slow := slowBackend(t, "fast", time.Millisecond), slowBackend(t, "slow", 40*time.Millisecond)
			url, srv := startProxy(t,
				phalanx.WithLogger(discard()),
				phalanx.WithUpstream(phalanx.Upstream{Name: "web", Algorithm: lb.AIPredictiveName,
					AI:      phalanx.AI{Algorithm: policy},
					Servers: []phalanx.UpstreamServer{{Addr: hostOf(fast)}, {Addr: hostOf(slow)}}}),
				phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "web"}),
			)
			admin := startAdmin(t, srv)
			c := client(t)
			got := map[string]int{}
			results := make(chan string, 8)
			const workers, each = 4, 50
			for w := 0; w < workers; w++ {
				go func() {
					for i := 0; i < each; i++ {
						res, err := c.Get(url + "/")
						if err != nil {
							results <- "error: " + err.Error()
							continue
						}
						b, _ := io.ReadAll(res.Body)
						res.Body.Close()
						results <- string(b)
					}
				}()
			}
			for i := 0; i < workers*each; i++ {
				got[<-results]++
			}
			if got["fast"]+got["slow"] != workers*each {
				t.Fatalf("answers = %v, want %d from the backends", got, workers*each)
			}
			if got["fast"] < 3*got["slow"] {
				t.Errorf("answers = %v, want the fast backend to get most (at least 3x the slow one)", got)
			}
			st := getStatus(t, c, admin)
			want := policy
			if want == "" {
				want = "adaptive"
			}
			if u := st.Upstreams[0]; u.Policy != want || u.Algorithm != lb.AIPredictiveName {
				t.Errorf("status = %s / %s, want %s / %s", u.Algorithm, u.Policy, lb.AIPredictiveName, want)
			}
			fb, _ := backendStatus(st, "web", hostOf(fast))
			sb, _ := backendStatus(st, "web", hostOf(slow))
			if fb.Score == nil || sb.Score == nil || *fb.Score >= *sb.Score {
				t.Errorf("scores fast %v, slow %v: want the fast backend's lower", fb.Score, sb.Score)
			}
			if fb.EstimateMS == nil || sb.EstimateMS == nil || *fb.EstimateMS >= *sb.EstimateMS {
				t.Errorf("latency estimates fast %v, slow %v: want the fast backend's lower", fb.EstimateMS, sb.EstimateMS)
			}
			if fb.InFlight != 0 || sb.InFlight != 0 {
				t.Errorf("in flight after the load = %d, %d; want 0", fb.InFlight, sb.InFlight)
			}
		})
	}
}

// TestAIPredictiveFailover sends requests to a learning pool with a
// backend that refuses connections: the retries reach the other, and the
// picks the retry discarded end their in-flight counts.
func TestAIPredictiveFailover(t *testing.T) {
	checkNoLeaks(t)
	up := namedBackend(t, "up")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	l.Close()
	url, srv := startProxy(t,
		phalanx.WithLogger(discard()),
		phalanx.WithUpstream(phalanx.Upstream{Name: "web", Algorithm: lb.AIPredictiveName, Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: dead, MaxFails: -1}, {Addr: hostOf(up)}}}),
		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "web"}),
	)
	admin := startAdmin(t, srv)
	c := client(t)
	for i := 0; i < 30; i++ {
		code, body := get(t, c, url+"/")
		require.Equal(t, http.StatusOK, code, "request %d", i)
		require.Equal(t, "up", body)
	}
	st := getStatus(t, c, admin)
	for _, addr := range []string{dead, hostOf(up)} {
		bs, _ := backendStatus(st, "web", addr)
		if bs.InFlight != 0 {
			t.Errorf("backend %s in flight = %d, want 0", addr, bs.InFlight)
		}
	}
	db, _ := backendStatus(st, "web", dead)
	if db.Requests > 10 {
		t.Errorf("the dead backend was tried %d times in 30 requests, want the policy to learn to avoid it", db.Requests)
	}
	t.Logf("dead backend: %d tries, success estimate %s", db.Requests, ptr(db.Success))
}

// TestAIPredictiveReloadKeepsLearning reloads a learning pool with one
// backend added: the backends that stay keep their counts in the policy.
func TestAIPredictiveReloadKeepsLearning(t *testing.T) {
	checkNoLeaks(t)
	a, b, c3 := namedBackend(t, "a"), namedBackend(t, "b"), namedBackend(t, "c")
	opts := func(servers ...*httptest.Server) []phalanx.Option {
		var ss []phalanx.UpstreamServer
		for _, s := range servers {
			ss = append(ss, phalanx.UpstreamServer{Addr: hostOf(s)})
		}
		return []phalanx.Option{
			phalanx.WithLogger(discard()),
			phalanx.WithUpstream(phalanx.Upstream{Name: "web", Algorithm: lb.AIPredictiveName, Servers: ss,
				Health: noActiveChecks, AI: phalanx.AI{Algorithm: "ucb1"}}),
			phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "web"}),
		}
	}
	url, srv := startProxy(t, opts(a, b)...)
	admin := startAdmin(t, srv)
	hc := client(t)
	for i := 0; i < 20; i++ {
		get(t, hc, url+"/")
	}
	before := getStatus(t, hc, admin)
	require.NoError(t, srv.Reload(opts(a, b, c3)...))
	after := getStatus(t, hc, admin)
	for _, s := range []*httptest.Server{a, b} {
		x, _ := backendStatus(before, "web", hostOf(s))
		y, _ := backendStatus(after, "web", hostOf(s))
		// The estimate decays with time, a little, between the two reads.
		if x.EstimateMS == nil || y.EstimateMS == nil || *x.EstimateMS == 0 || math.Abs(*y.EstimateMS / *x.EstimateMS - 1) > 0.05 {
			t.Errorf("estimate of %s: %v before the reload, %v after; want it kept", hostOf(s), ptr(x.EstimateMS), ptr(y.EstimateMS))
		}
	}
	// Another policy starts afresh.
	o := opts(a, b)
	o[1] = phalanx.WithUpstream(phalanx.Upstream{Name: "web", Algorithm: lb.AIPredictiveName, Health: noActiveChecks,
		Servers: []phalanx.UpstreamServer{{Addr: hostOf(a)}, {Addr: hostOf(b)}}, AI: phalanx.AI{Algorithm: "softmax"}})
	require.NoError(t, srv.Reload(o...))
	fresh := getStatus(t, hc, admin)
	if p := fresh.Upstreams[0].Policy; p != "softmax" {
		t.Errorf("policy after reload = %s, want softmax", p)
	}
	if x, _ := backendStatus(fresh, "web", hostOf(a)); x.EstimateMS != nil && *x.EstimateMS != 0 {
		t.Errorf("estimate of %s under a new policy = %v, want none", hostOf(a), *x.EstimateMS)
	}
}

func ptr(p *float64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

// TestAIPredictiveTCP sends TCP connections through a learning pool: each
// connection is in flight while open, and done when closed.
func TestAIPredictiveTCP(t *testing.T) {
	checkNoLeaks(t)
	echo1, echo2 := rawEchoBackend(t), rawEchoBackend(t)
	tcpAddr := freeAddr(t)
	srv, err := phalanx.New(
		phalanx.WithLogger(discard()),
		phalanx.WithListen(freeAddr(t)),
		phalanx.WithTCPProxy(phalanx.TCPProxy{Listen: tcpAddr, Upstream: "echo"}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "echo", Algorithm: lb.AIPredictiveName, Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: echo1}, {Addr: echo2}}}),
	)
	require.NoError(t, err)
	runServer(t, srv, tcpAddr)
	admin := startAdmin(t, srv)
	hc := client(t)
	for i := 0; i < 6; i++ {
		got := echoRoundTrip(t, dialTCP(t, tcpAddr), []byte("ping"))
		require.Equal(t, "ping", string(got))
	}
	// The sessions end just after the client sees the echo's EOF.
	var st phalanx.Status
	eventually(t, 5*time.Second, "the sessions to end", func() bool {
		st = getStatus(t, hc, admin)
		for _, addr := range []string{echo1, echo2} {
			if bs, _ := backendStatus(st, "echo", addr); bs.InFlight != 0 {
				return false
			}
		}
		return true
	})
	var total uint64
	for _, addr := range []string{echo1, echo2} {
		bs, _ := backendStatus(st, "echo", addr)
		total += bs.Requests
		if bs.EstimateMS == nil {
			t.Errorf("backend %s has no latency estimate", addr)
		}
	}
	if total < 6 { // runServer's own check that the port accepts may add one
		t.Errorf("sessions sent = %d, want at least 6", total)
	}
}
