package phalanx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/lb"
	"github.com/stretchr/testify/require"
)

func TestReloadKeepsHealthAndRejectsBadConfig(t *testing.T) {
	checkNoLeaks(t)
	logger, logs := newLogger()
	dead := deadAddr(t)
	live := namedBackend(t, "live")
	other := namedBackend(t, "other")
	health := lb.HealthCheck{Interval: 30 * time.Millisecond, Timeout: 20 * time.Millisecond, Fall: 1, Rise: 50}
	v1 := []phalanx.Option{
		phalanx.WithLogger(logger),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: health,
			Servers: []phalanx.UpstreamServer{{Addr: dead}, {Addr: hostOf(live)}}}),
	}
	url, srv := startProxy(t, v1...)
	eventually(t, 5*time.Second, "the dead backend marked down", func() bool { return len(logs.lines("backend down", dead)) > 0 })

	// v2 keeps the same pool (the dead backend must stay down: Rise is 50
	// checks, so only inherited state can keep it out) and adds a route.
	v2 := append(v1[:len(v1):len(v1)],
		phalanx.WithUpstream(phalanx.Upstream{Name: "other", Health: health, Servers: []phalanx.UpstreamServer{{Addr: hostOf(other)}}}),
		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "app"}),
		phalanx.WithRoute(phalanx.Route{Path: "/other", Upstream: "other"}),
	)
	require.NoError(t, srv.Reload(v2...))
	c := client(t)
	for i := 0; i < 40; i++ {
		code, body := get(t, c, url+"/")
		if code != 200 || body != "live" {
			t.Fatalf("after reload, GET / #%d = %d %q, want 200 \"live\" (the dead backend stays out)", i, code, body)
		}
	}
	if code, body := get(t, c, url+"/other"); code != 200 || body != "other" {
		t.Errorf("after reload, GET /other = %d %q, want 200 \"other\"", code, body)
	}

	bad := append(v2[:len(v2):len(v2)], phalanx.WithRoute(phalanx.Route{Path: "/x", Upstream: "nowhere"}))
	err := srv.Reload(bad...)
	if err == nil || !strings.Contains(err.Error(), `unknown upstream "nowhere"`) {
		t.Fatalf("Reload(route to nowhere) = %v, want an unknown upstream error", err)
	}
	if code, body := get(t, c, url+"/other"); code != 200 || body != "other" {
		t.Errorf("after a failed reload, GET /other = %d %q, want the running config's 200 \"other\"", code, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	if err := srv.Reload(v2...); err == nil {
		t.Error("Reload after Shutdown = nil, want an error")
	}
}
