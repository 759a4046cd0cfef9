package phalanx_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/limiter"
	"github.com/stretchr/testify/require"
)

// clientFrom returns an HTTP client whose connections come from the
// loopback address local, with at most one connection (keep-alive).
func clientFrom(t *testing.T, local string) (*http.Client, *int) {
	dials := new(int)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	tr := &http.Transport{
		MaxConnsPerHost: 1,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			*dials++
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, dials
}

// statuses sends n GETs one after another and returns their statuses.
func statuses(t *testing.T, c *http.Client, url string, n int) []int {
	t.Helper()
	var out []int
	for i := 0; i < n; i++ {
		res, err := c.Get(url)
		require.NoError(t, err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		out = append(out, res.StatusCode)
		if res.StatusCode == http.StatusTooManyRequests {
			if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("429 with Retry-After %q, want a whole number of seconds >= 1", res.Header.Get("Retry-After"))
			}
		}
	}
	return out
}

func count(codes []int, code int) int {
	n := 0
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}

func TestRequestRateLimitPerClientAndGlobal(t *testing.T) {
	checkNoLeaks(t)
	be := namedBackend(t, "app")
	up := phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}})

	t.Run("per client, one keep-alive connection", func(t *testing.T) {
		url, srv := startProxy(t, phalanx.WithLogger(discard()), up,
			phalanx.WithRateLimit(limiter.Config{Rate: 0.5, Burst: 5}))
		a, dialsA := clientFrom(t, "127.0.0.1")
		got := statuses(t, a, url+"/", 12)
		if count(got, 200) != 5 || count(got, 429) != 7 {
			t.Errorf("client 127.0.0.1, 12 requests at burst 5 = %v, want 5 x 200 then 429s", got)
		}
		if *dialsA != 1 {
			t.Errorf("client 127.0.0.1 used %d connections, want 1 (one keep-alive connection)", *dialsA)
		}
		b, _ := clientFrom(t, "127.0.0.2")
		if got := statuses(t, b, url+"/", 3); count(got, 200) != 3 {
			t.Errorf("client 127.0.0.2 while 127.0.0.1 is limited = %v, want 200s", got)
		}
		if _, req := srv.Refused(); req != 7 {
			t.Errorf("Refused() requests = %d, want 7", req)
		}
	})

	t.Run("global cap across clients", func(t *testing.T) {
		url, _ := startProxy(t, phalanx.WithLogger(discard()), up,
			phalanx.WithRateLimit(limiter.Config{Rate: 100, Burst: 100, GlobalRate: 0.5, GlobalBurst: 6}))
		a, _ := clientFrom(t, "127.0.0.1")
		b, _ := clientFrom(t, "127.0.0.2")
		ga := statuses(t, a, url+"/", 4)
		gb := statuses(t, b, url+"/", 4)
		if ok := count(ga, 200) + count(gb, 200); ok != 6 {
			t.Errorf("8 requests from two clients under a global burst of 6 = %v and %v, want 6 served", ga, gb)
		}
		if count(gb, 429) != 2 {
			t.Errorf("second client = %v, want its last 2 refused by the global limit", gb)
		}
	})
}

func TestConnectionGate(t *testing.T) {
	checkNoLeaks(t)
	be := namedBackend(t, "app")
	url, srv := startProxy(t, phalanx.WithLogger(discard()),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}),
		phalanx.WithRateLimit(limiter.Config{Rate: 0.1, Burst: 2}))
	addr := strings.TrimPrefix(url, "http://")
	// Two connections from 127.0.0.3 are served; the third is closed
	// before a byte is read or written.
	for i := 0; i < 3; i++ {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if i == 2 && errors.Is(err, syscall.ECONNRESET) {
			continue // reset so fast that connect itself saw it: refused, no byte read
		}
		require.NoError(t, err)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		b, err := io.ReadAll(c)
		c.Close()
		served := strings.HasPrefix(string(b), "HTTP/1.1 200")
		if want := i < 2; served != want {
			t.Errorf("connection %d: served = %v (read %q, err %v), want %v", i+1, served, b, err, want)
		}
		if i == 2 && len(b) != 0 {
			t.Errorf("refused connection got %d bytes, want none", len(b))
		}
	}
	if conns, _ := srv.Refused(); conns != 1 {
		t.Errorf("Refused() connections = %d, want 1", conns)
	}
}
