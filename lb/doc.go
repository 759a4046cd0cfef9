// Package lb chooses the backend (upstream server) for each request: it
// keeps the backends of a named pool with their in-flight counts and
// health, and offers the load-balancing algorithms that pick among them.
// It knows nothing of HTTP routing or of the config file; the proxy calls
// Pool.Pick, then Backend.Start before sending and Backend.Finish with the
// Outcome when the request ends.
//
// A Backend is one "host:port" with a weight. A Pool holds the backends of
// one upstream, marks them down after failed requests (passive checks,
// like nginx's max_fails and fail_timeout) or failed probes (active
// checks, see HealthCheck), and falls back to its backup backends when no
// primary is usable. Whenever the usable set changes, the Pool asks its
// Builder for a new Picker over that set; a Picker is an immutable
// snapshot, and Pick only reads it and a few atomics.
//
// # Changing membership
//
// A Pool's backends come from NewPool, and may change at run time with
// Pool.SetBackends, as service discovery finds them (a DNS answer that
// changed, say); a config reload builds a new Pool instead, its backends
// inheriting the old ones' state (Backend.Inherit). SetBackends keeps a
// backend whose address and configuration stay, with its health, counters,
// in-flight requests and learned estimates; replaces, inheriting its
// state, one whose weight or other configuration changed; puts new ones in
// rotation at once (probed at once if health checks run); and takes out
// those not listed, whose requests in flight finish normally. It reports
// each through OnEvent (Joined, Left) and the log. An empty list empties
// the pool, so a discovery client keeps its last good answer when a
// lookup fails. Backends returns an immutable snapshot of the members.
//
// # Algorithms
//
// Each algorithm is a Builder registered under a name, for the config
// file's "algorithm" directive; Lookup finds it and Names lists them.
//
//   - "roundrobin", RoundRobin: the backends in turn, ignoring weights.
//     The default.
//   - "weightedroundrobin", WeightedRoundRobin: nginx's smooth weighted
//     round robin
//     (https://github.com/phusion/nginx/commit/27e94984486058d73157038f7950a0a36ecc6e35),
//     which gives weights 5, 1, 1 the cycle a a b a c a a.
//   - "leastconnections", LeastConnections: the fewest in-flight requests
//     relative to weight, as nginx's least_conn
//     (https://nginx.org/en/docs/http/ngx_http_upstream_module.html#least_conn);
//     ties broken at random.
//   - "iphash", IPHash: the same client (or Request.HashKey) always to the
//     same backend, by weighted rendezvous hashing
//     (https://en.wikipedia.org/wiki/Rendezvous_hashing), so that removing
//     a backend moves only its own clients.
//   - "random", Random: a random backend, chosen by weight.
//   - "p2c", P2C: the less loaded of two random backends, the power of two
//     choices (https://www.eecs.harvard.edu/~michaelm/postscripts/tpds2001.pdf).
//   - "aipredictive": a learning policy of package bandit chooses, and
//     learns from each request's outcome (latency, failure, timeout),
//     which Result.Done reports back. NewBandit(policy) plugs in any
//     bandit.Bandit, including one of your own; the registry's entry is a
//     Factory that gives each pool the default policy of its own.
//
// Other packages add policies with Register in an init function, as
// database/sql drivers do; a Builder can be any type, or a BuilderFunc.
//
// # Randomness
//
// Every Builder here has a field Rand func() uint64. RoundRobin and
// WeightedRoundRobin draw from it once per Build, for their starting
// point; the others draw at each Pick (IPHash only for requests without a
// key). nil means math/rand/v2's Uint64, which is safe for concurrent use
// and takes no lock. Tests and simulations pass a seeded source, such as
// rand.New(rand.NewPCG(1, 2)).Uint64, to get reproducible picks; such a
// source is not safe for concurrent use, so Pick (and Build) must then be
// called from one goroutine.
//
// # Zero values
//
// Every Builder's zero value is ready to use and may be passed to Register
// or to PoolConfig; a nil PoolConfig.Builder means RoundRobin{}. The zero
// BackendConfig gives weight 1, max_fails 1 and fail_timeout 10s; the zero
// HealthCheck gives TCP connect checks every 5s.
//
// # Concurrency
//
// Builders are plain values: they may be copied, and are safe for
// concurrent use if their Rand is. Pickers, Backends and Pools are safe
// for concurrent use (a Picker only if its Rand is); Backends and Pools
// must not be copied; SetBackends may run while other goroutines call
// Pick and Backends. Pick never blocks, takes no lock, allocates nothing
// and returns a Result whose Done is nil, for every algorithm of this
// package but aipredictive, whose Pick and Done take the policy's lock
// (the bandit policies allocate nothing either). The backends given to
// Build are the usable set, never empty; the Picker keeps the slice and
// must not modify it.
//
// # Configuration
//
// In phalanx.conf, an upstream block defines a Pool:
//
//	upstream NAME {
//	    server ADDR [weight=N] [max_fails=N] [fail_timeout=D] [backup];
//	    algorithm roundrobin|weightedroundrobin|leastconnections|iphash|random|p2c|aipredictive;
//	    ai_algorithm adaptive|epsilon_greedy|ucb1|softmax|thompson_sampling|peak_ewma;
//	    health_check interval=D timeout=D rise=N fall=N;
//	    health_check_http PATH [status=N];
//	    keepalive N;
//	}
//
// server may be repeated; its options map to BackendConfig (as in nginx,
// max_fails=0 disables passive checks, which is MaxFails: -1, since
// MaxFails: 0 means 1). algorithm
// names a registered Builder and defaults to roundrobin; with
// aipredictive, ai_algorithm and its knobs (see package bandit) choose
// the policy, which the proxy keeps across reloads while they stay the
// same. health_check and
// health_check_http map to HealthCheck; keepalive, the number of idle
// connections kept per backend, belongs to the proxy, not to this package.
// For example:
//
//	upstream app {
//	    server 127.0.0.1:8001 weight=5;
//	    server 127.0.0.1:8002;
//	    server 127.0.0.1:8003 backup;
//	    algorithm weightedroundrobin;
//	    health_check interval=5s timeout=2s rise=2 fall=3;
//	    health_check_http /healthz status=200;
//	}
package lb
