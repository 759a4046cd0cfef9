package bandit_test

import (
	"container/heap"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
)

// epoch is the fake clock's origin.
var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// backend is a simulated backend: Servers requests at a time (0: no
// limit) served first come first served, each taking Service.
type backend struct {
	Service func(r *rand.Rand) time.Duration
	Fail    bool // every answer is an error (after Service)
	Servers int
}

func fixed(d time.Duration) func(*rand.Rand) time.Duration {
	return func(*rand.Rand) time.Duration { return d }
}

// expo draws exponential service times of mean m.
func expo(m time.Duration) func(*rand.Rand) time.Duration {
	return func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(m)) }
}

// simResult is what a simulation saw.
type simResult struct {
	Picks     []int           // requests per arm
	Failed    int             // requests answered with an error
	Latencies []time.Duration // of every request, sorted
	End       time.Time       // the fake clock at the end
}

func (s simResult) share(arm int) float64 {
	total := 0
	for _, n := range s.Picks {
		total += n
	}
	return float64(s.Picks[arm]) / float64(total)
}

// quantile returns the q-quantile of the latencies.
func (s simResult) quantile(q float64) time.Duration {
	return s.Latencies[int(q*float64(len(s.Latencies)-1))]
}

// event is an answer due at a time, or (arm < 0) a client's next send.
type event struct {
	at     time.Time
	client int
	arm    int
	lat    time.Duration
	failed bool
}

type events []event

func (e events) Len() int           { return len(e) }
func (e events) Less(i, j int) bool { return e[i].at.Before(e[j].at) }
func (e events) Swap(i, j int)      { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)        { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

// simulate runs a closed loop: clients each keep one request in flight,
// choosing among all backends with b, until requests have been answered;
// think is a client's pause between an answer and its next request.
// Backend i is arm i.
func simulate(b bandit.Bandit, backends []backend, clients, requests int, think time.Duration, seed uint64) simResult {
	return simulateIDs(b, backends, clients, requests, think, seed, 1, epoch)
}

// simulateIDs is simulate with backend i as arm i×stride, starting at
// start.
func simulateIDs(b bandit.Bandit, backends []backend, clients, requests int, think time.Duration, seed uint64, stride int, start time.Time) simResult {
	r := rand.New(rand.NewPCG(seed, 99))
	ids := make([]int, len(backends))
	for i := range ids {
		ids[i] = i * stride
	}
	free := make([][]time.Time, len(backends)) // per backend, when each server is free
	for i, be := range backends {
		free[i] = make([]time.Time, be.Servers)
	}
	res := simResult{Picks: make([]int, len(backends))}
	var q events
	send := func(now time.Time, client int) {
		arm := b.Choose(ids, now) / stride
		res.Picks[arm]++
		be := backends[arm]
		service := be.Service(r)
		done := now.Add(service)
		if be.Servers > 0 {
			s := 0 // the earliest free server takes it
			for i, t := range free[arm] {
				if t.Before(free[arm][s]) {
					s = i
				}
			}
			if free[arm][s].After(now) {
				done = free[arm][s].Add(service)
			}
			free[arm][s] = done
		}
		heap.Push(&q, event{at: done, client: client, arm: arm, lat: done.Sub(now), failed: be.Fail})
	}
	for c := range clients {
		send(start.Add(time.Duration(c)*time.Microsecond), c)
	}
	answered := 0
	for q.Len() > 0 {
		ev := heap.Pop(&q).(event)
		res.End = ev.at
		if ev.arm < 0 {
			send(ev.at, ev.client)
			continue
		}
		b.Observe(ev.arm*stride, bandit.Outcome{Latency: ev.lat, Failed: ev.failed}, ev.at)
		if answered >= requests {
			continue // draining: in-flight counts end at 0
		}
		answered++
		res.Latencies = append(res.Latencies, ev.lat)
		if ev.failed {
			res.Failed++
		}
		if think > 0 {
			heap.Push(&q, event{at: ev.at.Add(think), client: ev.client, arm: -1})
		} else {
			send(ev.at, ev.client)
		}
	}
	slices.Sort(res.Latencies)
	return res
}

// simulateOpen sends requests at Poisson arrival times of mean rate per
// second, choosing among all backends with b. change, if not nil, is
// called before each arrival with the arrival's index and may alter
// backends.
func simulateOpen(b bandit.Bandit, backends []backend, rate float64, requests int, seed uint64, change func(i int, backends []backend)) simResult {
	r := rand.New(rand.NewPCG(seed, 98))
	ids := make([]int, len(backends))
	for i := range ids {
		ids[i] = i
	}
	free := make([][]time.Time, len(backends))
	for i, be := range backends {
		free[i] = make([]time.Time, be.Servers)
	}
	res := simResult{Picks: make([]int, len(backends))}
	var q events
	answer := func(ev event) {
		b.Observe(ev.arm, bandit.Outcome{Latency: ev.lat, Failed: ev.failed}, ev.at)
		res.Latencies = append(res.Latencies, ev.lat)
		if ev.failed {
			res.Failed++
		}
	}
	now := epoch
	for i := range requests {
		now = now.Add(time.Duration(r.ExpFloat64() / rate * 1e9))
		for q.Len() > 0 && !q[0].at.After(now) {
			answer(heap.Pop(&q).(event))
		}
		if change != nil {
			change(i, backends)
		}
		arm := b.Choose(ids, now)
		res.Picks[arm]++
		be := backends[arm]
		service := be.Service(r)
		done := now.Add(service)
		if be.Servers > 0 {
			s := 0
			for i, t := range free[arm] {
				if t.Before(free[arm][s]) {
					s = i
				}
			}
			if free[arm][s].After(now) {
				done = free[arm][s].Add(service)
			}
			free[arm][s] = done
		}
		heap.Push(&q, event{at: done, arm: arm, lat: done.Sub(now), failed: be.Fail})
	}
	for q.Len() > 0 {
		ev := heap.Pop(&q).(event)
		now = ev.at
		answer(ev)
	}
	res.End = now
	slices.Sort(res.Latencies)
	return res
}
