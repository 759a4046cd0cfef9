package phalanx_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/stretchr/testify/require"
)

// TestBackendKeepAlive checks that backend connections are reused, that
// the idle pool per backend is bounded by Keepalive, and that the dialer
// hook is used for every backend connection.
func TestBackendKeepAlive(t *testing.T) {
	checkNoLeaks(t)
	var open atomic.Int32 // backend connections currently open
	gate := make(chan struct{})
	var waiting atomic.Int32
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			waiting.Add(1)
			select {
			case <-gate:
			case <-time.After(5 * time.Second):
			}
		}
		io.WriteString(w, "ok")
	}))
	be.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	be.Start()
	t.Cleanup(be.Close)

	var dials atomic.Int32
	dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	const keepalive = 2
	url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithDialer(dialer),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Keepalive: keepalive,
			Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	c := client(t)

	for i := 0; i < 50; i++ {
		code, _ := get(t, c, url+"/")
		require.Equal(t, 200, code)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("50 sequential requests dialed the backend %d times, want 1 (keep-alive)", n)
	}

	const concurrent = 8
	var wg sync.WaitGroup
	for i := 0; i < concurrent; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := c.Get(url + "/hold"); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	eventually(t, 5*time.Second, "all held requests at the backend", func() bool { return waiting.Load() == concurrent })
	if n := open.Load(); n != concurrent {
		t.Errorf("backend connections while %d requests are held = %d, want %d", concurrent, n, concurrent)
	}
	close(gate)
	wg.Wait()
	eventually(t, 5*time.Second, "idle backend connections trimmed to the keepalive bound", func() bool {
		return open.Load() <= keepalive
	})
}
