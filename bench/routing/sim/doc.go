// Package sim is a deterministic discrete-event simulator of a load
// balancer in front of a cluster of queueing servers. It drives real
// routing policies (any bandit.Bandit, plus the oracles and classic
// balancers defined here) in virtual time, so that one policy can be
// compared with another on exactly the same traffic.
//
// # Model
//
// A Scenario has N servers, each with c workers serving one first-come,
// first-served queue. A request that arrives at a server takes the worker
// that frees up first; its service time is its size (a unit-mean random
// draw: exponential, lognormal or bimodal, see ServiceDist) times the
// server's mean service time at the moment the request starts. Requests
// arrive as a Poisson process or a two-state Markov-modulated Poisson
// process (MMPP, see Arrivals) and are split uniformly at random among K
// balancer instances; each instance has a Router of its own and sees only
// its own requests and their outcomes, as K independent proxies would.
//
// The client gives up at the scenario's timeout: the Router then observes
// bandit.Outcome{Latency: timeout, Failed: true, TimedOut: true}, while the
// server still does the work (its queue does not shrink). A black-hole
// server answers every request with a 5xx after a fixed short delay,
// without queueing; the Router observes Failed with that latency.
//
// Scenarios may also change server speeds over time: a Degrade slows one
// server for a while, an Antagonist slows a few servers chosen at random,
// redrawn every period.
//
// # Common random numbers
//
// NewWorkload draws everything random about the traffic up front, from
// the seed alone: the arrival times, the instance each request goes to,
// each request's size, and the antagonist's choices. Every policy run on
// the same Workload therefore meets the same requests; only the routing
// differs. A policy's own randomness comes from a separate stream.
//
// # Time
//
// Virtual time is a time.Duration since the start of the run. Policies
// that take a time.Time get Epoch plus the virtual time. Nothing reads the
// wall clock, and a run is a pure function of its Workload, its Policy and
// the policy seed.
//
// # Concurrency
//
// A Workload is read-only once built and may be shared by concurrent
// runs. Everything else belongs to one run and is not safe for concurrent
// use.
package sim
