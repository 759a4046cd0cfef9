package phalanx

import (
	"testing"

	"github.com/phalanx-lb/phalanx/lb"
)

// TestH1PoolOfLeftBackend: a backend that discovery dropped after a
// request picked it still gets a pool (a closed one) from its upstream.
func TestH1PoolOfLeftBackend(t *testing.T) {
	s, err := New(WithUpstream(Upstream{Name: "app", Servers: []UpstreamServer{{Addr: "127.0.0.1:1"}},
		Health: lb.HealthCheck{Interval: -1}}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u := s.state.Load().upstreams["app"]
	if p := u.h1Pool(u.pool.Backends()[0]); p == nil || p.closed {
		t.Fatalf("pool of a member = %v, want an open one", p)
	}
	gone, err := lb.NewBackend("127.0.0.1:2", lb.BackendConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p := u.h1Pool(gone)
	if p == nil || !p.closed || p.addr != "127.0.0.1:2" {
		t.Fatalf("pool of a backend that left = %+v, want a closed one for its address", p)
	}
}
