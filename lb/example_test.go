package lb_test

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/phalanx-lb/phalanx/lb"
)

// Smooth weighted round robin spreads the heavy backend's picks out: with
// weights 5, 1, 1 the cycle is a a b a c a a.
func ExampleWeightedRoundRobin() {
	var backends []*lb.Backend
	for i, w := range []int{5, 1, 1} {
		b, err := lb.NewBackend(fmt.Sprintf("127.0.0.1:%d", 8001+i), lb.BackendConfig{Weight: w})
		if err != nil {
			panic(err)
		}
		backends = append(backends, b)
	}
	// A Rand that returns 0 starts at the beginning of the cycle; the
	// zero WeightedRoundRobin starts at a random point.
	p := lb.WeightedRoundRobin{Rand: func() uint64 { return 0 }}.Build(backends)
	for range 7 {
		res, _ := p.Pick(lb.Request{})
		fmt.Println(res.Backend.Addr())
	}
	// Output:
	// 127.0.0.1:8001
	// 127.0.0.1:8001
	// 127.0.0.1:8002
	// 127.0.0.1:8001
	// 127.0.0.1:8003
	// 127.0.0.1:8001
	// 127.0.0.1:8001
}

// A client keeps its backend as long as that backend is up.
func ExampleIPHash() {
	var backends []*lb.Backend
	for i := range 5 {
		b, _ := lb.NewBackend(fmt.Sprintf("127.0.0.1:%d", 8001+i), lb.BackendConfig{})
		backends = append(backends, b)
	}
	p := lb.IPHash{}.Build(backends)
	client := lb.Request{ClientIP: "192.0.2.7"}
	first, _ := p.Pick(client)
	again, _ := p.Pick(client)
	fmt.Println("same backend:", first.Backend == again.Backend)

	// Rebuild without some other backend, as the Pool does when one goes
	// down: the client stays where it was.
	var rest []*lb.Backend
	for _, b := range backends {
		if b != first.Backend && len(rest) < 3 {
			rest = append(rest, b)
		}
	}
	rest = append(rest, first.Backend)
	after, _ := lb.IPHash{}.Build(rest).Pick(client)
	fmt.Println("same backend after a removal:", after.Backend == first.Backend)
	// Output:
	// same backend: true
	// same backend after a removal: true
}

// A Pool rebuilds its Picker when a backend fails, and falls back to its
// backups when no primary is left.
func ExampleNewPool() {
	a, _ := lb.NewBackend("127.0.0.1:8001", lb.BackendConfig{})
	b, _ := lb.NewBackend("127.0.0.1:8002", lb.BackendConfig{})
	spare, _ := lb.NewBackend("127.0.0.1:8003", lb.BackendConfig{Backup: true})
	pool, err := lb.NewPool("app", []*lb.Backend{a, b, spare}, lb.PoolConfig{
		Builder: lb.RoundRobin{Rand: func() uint64 { return 0 }},
		Health:  lb.HealthCheck{Interval: -1}, // passive checks only
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer pool.Close()

	pick := func() {
		res, err := pool.Pick(lb.Request{ClientIP: "192.0.2.7"})
		if errors.Is(err, lb.ErrNoBackend) {
			fmt.Println("503:", err)
			return
		}
		// The proxy sends the request here, then reports the outcome.
		res.Backend.Start()
		res.Backend.Finish(lb.Outcome{ConnFailed: true}) // one failure: down for 10s
		fmt.Println(res.Backend.Addr(), "failed")
	}
	for range 4 {
		pick()
	}
	// Output:
	// 127.0.0.1:8001 failed
	// 127.0.0.1:8002 failed
	// 127.0.0.1:8003 failed
	// 503: lb: no backend available in pool app
}

// Lookup finds an algorithm by the name used in phalanx.conf.
func ExampleLookup() {
	builder, err := lb.Lookup("leastconnections")
	if err != nil {
		panic(err)
	}
	a, _ := lb.NewBackend("127.0.0.1:8001", lb.BackendConfig{})
	b, _ := lb.NewBackend("127.0.0.1:8002", lb.BackendConfig{})
	a.Start() // a request in flight on a
	res, _ := builder.Build([]*lb.Backend{a, b}).Pick(lb.Request{})
	fmt.Println(res.Backend.Addr())

	_, err = lb.Lookup("fastest")
	fmt.Println(errors.Is(err, lb.ErrUnknownAlgorithm))
	// Output:
	// 127.0.0.1:8002
	// true
}

// Service discovery hands a pool the backends it finds now; SetBackends
// keeps those still there (with their state), adds the new ones and takes
// out the others.
func ExamplePool_SetBackends() {
	discovered := func(addrs ...string) []*lb.Backend {
		var bs []*lb.Backend
		for _, a := range addrs {
			b, err := lb.NewBackend(a, lb.BackendConfig{})
			if err != nil {
				panic(err)
			}
			bs = append(bs, b)
		}
		return bs
	}
	pool, err := lb.NewPool("app", discovered("10.0.0.1:80", "10.0.0.2:80"), lb.PoolConfig{
		Builder: lb.RoundRobin{Rand: func() uint64 { return 0 }},
		Health:  lb.HealthCheck{Interval: -1},
		OnEvent: func(e lb.Event) { fmt.Println("event:", e.Kind, e.Backend.Addr()) },
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	kept := pool.Backends()[1]
	kept.Start() // a request in flight on 10.0.0.2

	// The DNS answer changed: 10.0.0.1 is gone, 10.0.0.3 is new.
	joined, left, err := pool.SetBackends(discovered("10.0.0.3:80", "10.0.0.2:80"))
	if err != nil {
		panic(err)
	}
	fmt.Println("joined:", joined[0].Addr(), "left:", left[0].Addr())
	fmt.Println("10.0.0.2 kept with its request in flight:", pool.Backends()[0] == kept, kept.InFlight())
	for range 2 {
		res, _ := pool.Pick(lb.Request{})
		fmt.Println("pick:", res.Backend.Addr())
	}

	// An empty answer empties the pool: a discovery client keeps its last
	// good answer instead of passing that on.
	if _, _, err := pool.SetBackends(nil); err != nil {
		panic(err)
	}
	_, err = pool.Pick(lb.Request{})
	fmt.Println(err)
	// Output:
	// event: left 10.0.0.1:80
	// event: joined 10.0.0.3:80
	// joined: 10.0.0.3:80 left: 10.0.0.1:80
	// 10.0.0.2 kept with its request in flight: true 1
	// pick: 10.0.0.2:80
	// pick: 10.0.0.3:80
	// event: left 10.0.0.2:80
	// event: left 10.0.0.3:80
	// lb: no backend available in pool app
}
