package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/bandit"
	"github.com/phalanx-lb/phalanx/bench/routing/sim"
	"github.com/phalanx-lb/phalanx/lb"
)

// algorithms maps the classic policies to the lb algorithms that
// implement them in the proxy.
var algorithms = map[string]string{
	sim.RoundRobinName: "roundrobin",
	sim.LeastConnName:  "leastconnections",
	sim.P2CName:        "p2c",
}

// simPolicy returns the simulator's version of a policy.
func simPolicy(name string) sim.Policy {
	switch name {
	case sim.RoundRobinName:
		return sim.RoundRobin()
	case sim.LeastConnName:
		return sim.LeastConn()
	case sim.P2CName:
		return sim.P2C()
	}
	return sim.BanditPolicy(name, func(r *rand.Rand) (bandit.Bandit, error) {
		return bandit.New(name, bandit.Params{}, r)
	})
}

// upstream returns the proxy's pool for policy name over addrs.
func upstream(name string, addrs []string, seed uint64) (phalanx.Upstream, error) {
	u := phalanx.Upstream{
		Name:      "default",
		Keepalive: 1024,
		// Only the policy steers: no active checks, and no passive
		// ejection after failures.
		Health: lb.HealthCheck{Interval: -1},
	}
	for _, a := range addrs {
		u.Servers = append(u.Servers, phalanx.UpstreamServer{Addr: a, MaxFails: -1})
	}
	if alg, ok := algorithms[name]; ok {
		u.Algorithm = alg
		return u, nil
	}
	p, err := bandit.New(name, bandit.Params{}, rand.New(rand.NewPCG(seed, 0x6c62)))
	if err != nil {
		return u, err
	}
	u.Builder = lb.NewBandit(p)
	return u, nil
}

// outcome is what the generator saw of one request.
type outcome struct {
	latency time.Duration // from the scheduled send time
	late    time.Duration // how late the request left
	failed  bool          // a status other than 200, or no response
}

// replay sends w's requests through a phalanx proxy running policy name in
// front of fresh backends, and returns each request's outcome. Every
// goroutine it starts has ended when it returns.
func replay(ctx context.Context, w *sim.Workload, name string, seed uint64) ([]outcome, error) {
	s := &w.Scenario
	// Virtual time 0, far enough ahead for the setup to be done.
	start := time.Now().Add(300 * time.Millisecond)
	var backends []*backend
	defer func() {
		for _, b := range backends {
			b.close()
		}
	}()
	var addrs []string
	for i := range s.Means {
		b, err := startBackend(i, w, start)
		if err != nil {
			return nil, err
		}
		backends = append(backends, b)
		addrs = append(addrs, b.Addr())
	}
	u, err := upstream(name, addrs, seed)
	if err != nil {
		return nil, err
	}
	srv, err := phalanx.New(
		phalanx.WithListen("127.0.0.1:0"),
		phalanx.WithUpstream(u),
		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: u.Name}),
		phalanx.WithTimeouts(phalanx.Timeouts{UpstreamHeader: s.Timeout}),
		phalanx.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
		<-served
	}()

	tr := &http.Transport{
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	// The proxy answers 504 at the timeout; the client waits a little
	// longer so that it sees that answer.
	client := &http.Client{Transport: tr, Timeout: s.Timeout + time.Second}
	url := "http://" + ln.Addr().String() + "/"

	out := make([]outcome, w.Len())
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range w.Len() {
		at, size, _ := w.Request(i)
		sched := start.Add(at)
		if d := time.Until(sched); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = send(client, url, size, sched)
		}()
	}
	return out, nil
}

// send makes one request and measures it from sched.
func send(c *http.Client, url string, size float64, sched time.Time) outcome {
	o := outcome{late: time.Since(sched), failed: true}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err == nil {
		req.Header.Set(sizeHeader, strconv.FormatFloat(size, 'g', -1, 64))
		var resp *http.Response
		if resp, err = c.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			o.failed = resp.StatusCode != http.StatusOK
		}
	}
	o.latency = time.Since(sched)
	return o
}

// liveResult is a live run's figures.
type liveResult struct {
	sim.Result
	// LateP99 is the 99th percentile of how late requests left: above a
	// few milliseconds, the machine could not keep up with the schedule
	// and the run measures the machine more than the policy.
	LateP99 time.Duration
}

// stats sums up outcomes as the simulator does: requests that arrived
// after the warm-up, failures counted as the timeout.
func stats(w *sim.Workload, out []outcome) liveResult {
	s := &w.Scenario
	var lat, late []time.Duration
	var res liveResult
	for i, o := range out {
		if at, _, _ := w.Request(i); at < s.Warmup {
			continue
		}
		late = append(late, o.late)
		l := o.latency
		if o.failed || l > s.Timeout {
			res.Errors++
			l = s.Timeout
		}
		lat = append(lat, l)
	}
	res.Requests = len(lat)
	if len(lat) == 0 {
		return res
	}
	slices.Sort(lat)
	slices.Sort(late)
	res.LateP99 = sim.Percentile(late, 0.99)
	res.P50 = sim.Percentile(lat, 0.5)
	res.P99 = sim.Percentile(lat, 0.99)
	res.P999 = sim.Percentile(lat, 0.999)
	return res
}

// errNoTraffic reports an empty workload.
var errNoTraffic = errors.New("live: the workload has no requests")

// liveRun replays w with one policy and sums it up.
func liveRun(ctx context.Context, w *sim.Workload, name string, seed uint64) (liveResult, error) {
	if w.Len() == 0 {
		return liveResult{}, errNoTraffic
	}
	out, err := replay(ctx, w, name, seed)
	if err != nil {
		return liveResult{}, fmt.Errorf("%s: %w", name, err)
	}
	res := stats(w, out)
	res.Policy = name
	return res, nil
}
