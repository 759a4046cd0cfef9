package sim

import (
	"math/rand/v2"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
)

// Epoch is the wall-clock time that virtual time 0 stands for, when a
// policy takes a time.Time.
var Epoch = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// Request is what a Router is told about the request it routes.
type Request struct {
	// ID is the request's index in the Workload.
	ID int
	// Size is the request's size: its service time over the mean service
	// time of the server that serves it. Only oracles may look at it.
	Size float64
}

// Router routes the requests of one balancer instance. Every Choose is
// followed by exactly one Observe for the server it returned, at the
// virtual time the instance learns the outcome.
type Router interface {
	// Choose returns the server (0 to N-1) for req, at virtual time now.
	Choose(req Request, now time.Duration) int
	// Observe reports the outcome of a request sent to server.
	Observe(server int, o bandit.Outcome, now time.Duration)
}

// Policy makes Routers: one per balancer instance of a run.
type Policy struct {
	// Name identifies the policy in reports.
	Name string
	// Oracle marks policies that see the whole cluster (the benchmark's
	// reference points, not deployable balancers).
	Oracle bool
	// New returns the Router of one balancer instance of a run on c,
	// drawing its randomness from r.
	New func(c *Cluster, r *rand.Rand) (Router, error)
}

// BanditPolicy returns a Policy whose Routers are bandits made by newBandit,
// choosing among all servers of the cluster.
func BanditPolicy(name string, newBandit func(r *rand.Rand) (bandit.Bandit, error)) Policy {
	return Policy{Name: name, New: func(c *Cluster, r *rand.Rand) (Router, error) {
		b, err := newBandit(r)
		if err != nil {
			return nil, err
		}
		cands := make([]int, c.Servers())
		for i := range cands {
			cands[i] = i
		}
		return &banditRouter{b: b, cands: cands}, nil
	}}
}

// banditRouter adapts a bandit.Bandit to a Router.
type banditRouter struct {
	b     bandit.Bandit
	cands []int
}

func (r *banditRouter) Choose(_ Request, now time.Duration) int {
	return r.b.Choose(r.cands, Epoch.Add(now))
}

func (r *banditRouter) Observe(server int, o bandit.Outcome, now time.Duration) {
	r.b.Observe(server, o, Epoch.Add(now))
}

// Cluster is the true state of the servers during a run, which oracles may
// read. It is only valid inside the run that made it.
type Cluster struct {
	w       *Workload
	servers []server
}

// server is one FCFS queue with c workers.
type server struct {
	free     []time.Duration // when each worker is next free
	inSystem int             // requests queued or in service
}

func newCluster(w *Workload) *Cluster {
	c := &Cluster{w: w, servers: make([]server, len(w.Scenario.Means))}
	for i := range c.servers {
		c.servers[i].free = make([]time.Duration, w.Scenario.Workers)
	}
	return c
}

// Servers returns the number of servers.
func (c *Cluster) Servers() int { return len(c.servers) }

// Workers returns the number of workers per server.
func (c *Cluster) Workers() int { return c.w.Scenario.Workers }

// InSystem returns the number of requests queued at or in service on
// server i, from all balancer instances, including requests whose client
// has given up.
func (c *Cluster) InSystem(i int) int { return c.servers[i].inSystem }

// Failing reports whether server i answers every request with a 5xx at
// virtual time now.
func (c *Cluster) Failing(i int, now time.Duration) bool { return c.w.failing(i, now) }

// Finish returns when a request of the given size sent to server i at now
// would finish: it starts when the first worker frees up and takes size
// times the server's mean service time at that start.
func (c *Cluster) Finish(i int, size float64, now time.Duration) time.Duration {
	_, start := c.servers[i].firstFree(now)
	return start + time.Duration(size*float64(c.w.meanAt(i, start)))
}

// firstFree returns the worker that frees up first and when it can start a
// request arriving at now.
func (s *server) firstFree(now time.Duration) (worker int, start time.Duration) {
	for j, f := range s.free {
		if f < s.free[worker] {
			worker = j
		}
	}
	return worker, max(now, s.free[worker])
}

// dispatch queues a request of the given size at server i at now and
// returns when it starts and finishes.
func (c *Cluster) dispatch(i int, size float64, now time.Duration) (start, finish time.Duration) {
	s := &c.servers[i]
	w, start := s.firstFree(now)
	finish = start + time.Duration(size*float64(c.w.meanAt(i, start)))
	s.free[w] = finish
	s.inSystem++
	return start, finish
}
