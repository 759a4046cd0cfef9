// Command custombandit plugs a routing policy of its own into phalanx: each
// request goes to the backend with the fewest requests in flight, ties
// going to the lowest smoothed latency.
//
//	go run ./examples/custombandit -listen 127.0.0.1:8080 -backends 127.0.0.1:9001,127.0.0.1:9002
package main

import (
	"context"
	"flag"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/bandit"
	"github.com/phalanx-lb/phalanx/lb"
)

// fewestInFlight is the policy: a bandit.Bandit, safe for concurrent use.
type fewestInFlight struct {
	mu       sync.Mutex
	inflight map[int]int           // by arm
	latency  map[int]time.Duration // smoothed, by arm
}

func (p *fewestInFlight) Choose(arms []int, now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	best := arms[0]
	for _, a := range arms[1:] {
		if n, m := p.inflight[a], p.inflight[best]; n < m || n == m && p.latency[a] < p.latency[best] {
			best = a
		}
	}
	p.inflight[best]++
	return best
}

func (p *fewestInFlight) Observe(arm int, o bandit.Outcome, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight[arm]--
	if !o.Failed && !o.Canceled {
		p.latency[arm] = (7*p.latency[arm] + o.Latency) / 8
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	backends := flag.String("backends", "127.0.0.1:9001,127.0.0.1:9002", "comma-separated backend addresses")
	flag.Parse()
	srv, err := newServer(*listen, strings.Split(*backends, ","))
	if err != nil {
		panic(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := srv.ListenAndServe(ctx); err != nil {
		panic(err)
	}
}

// newServer proxies listen to backends with the policy.
func newServer(listen string, backends []string) (*phalanx.Server, error) {
	var servers []phalanx.UpstreamServer
	for _, a := range backends {
		servers = append(servers, phalanx.UpstreamServer{Addr: a})
	}
	policy := &fewestInFlight{inflight: map[int]int{}, latency: map[int]time.Duration{}}
	return phalanx.New(phalanx.WithListen(listen),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Servers: servers, Builder: lb.NewBandit(policy)}),
		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "app"}))
}
