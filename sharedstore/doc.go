// Package sharedstore keeps the state that the instances of a phalanx
// fleet must agree on in one Redis server: the rate limits, enforced
// across the fleet, and the WAF's strikes and bans. Routing estimates
// (latencies, bandit rewards) stay local. Without a store nothing is
// shared and nothing changes.
//
// # Use
//
// Open a Store on the server, wrap each limiter, and share the WAF
// engine:
//
//	st, err := sharedstore.Open(sharedstore.Config{URL: "redis://10.0.0.5:6379/0"})
//	if err != nil {
//		return err // a bad URL; a server that is down is not an error
//	}
//	defer st.Close()
//	lc := limiter.Config{Rate: 50, Burst: 100, GlobalRate: 5000}
//	local, err := limiter.New(lc)
//	if err != nil {
//		return err
//	}
//	requests := st.Limiter(lc, local)          // instead of local
//	conns := st.NamedLimiter("conn", lc, nil)  // buckets apart from requests'
//	st.ShareWAF(ctx, engine)                   // until ctx ends
//	d := requests.Allow(client, time.Now())    // one round trip to Redis
//
// # Rate limits
//
// Limiter and NamedLimiter return a limiter.Limiter whose buckets are in
// Redis, so that a client gets Rate events a second (and bursts of Burst)
// from the whole fleet rather than from each instance. Each check runs
// one Lua script that applies GCRA, the generic cell rate algorithm
// (https://en.wikipedia.org/wiki/Generic_cell_rate_algorithm), to the
// client's bucket and to the global one atomically. GCRA keeps, per
// bucket, one number: the theoretical arrival time (TAT), when the bucket
// will be full again. With T = 1/Rate and B = Burst, an event at now is
// allowed if max(TAT, now) + T - now <= B·T, and moves TAT there;
// otherwise it waits for the excess. That is a token bucket of B tokens
// that gains one every T, the limiter package's, in one stored number.
//
// For example, with Rate 5 and Burst 5 (T = 200ms, B·T = 1s): an idle
// client (TAT ≤ now) sends 5 events at once at t=0; after them TAT =
// 1s, and a sixth at t=0 would need 1.2s - 0 ≤ 1s, so it is refused with
// RetryAfter 200ms; at t=200ms it passes, and so on, 5 a second, however
// many instances the events reach.
//
// As in limiter.Keyed, the client's limit is checked first, a refused
// event is charged to neither bucket, and Decision.Global tells which
// limit refused. Clients are keyed as there (IPv4 address, IPv6 /64).
// The times are Redis's (the script calls TIME), so instances whose
// clocks disagree still agree on the limits; the now passed to Allow is
// only given to the local limiter.
//
// limiter.Limiter says that Allow must not block. A shared Limiter makes
// one round trip to Redis per check, bounded by Config.Timeout (50ms):
// that is the latency a check may add to a request, and on a local
// network it is well under a millisecond (see BenchmarkSharedAllow).
//
// # When Redis is unreachable
//
// A Redis call that fails or times out makes the store take Redis for
// down: checks then go to the local limiter (fail open), or are refused
// with Config.FailClosed, without trying Redis. One check a second
// probes it, without making the others wait, and the first that succeeds
// brings every check back to Redis. One Warn line is logged when Redis
// goes away and one Info line when it is back, and Stats counts the
// fallbacks and errors. Buckets in Redis carry on where they were; those
// of a Redis that restarted empty start full. (go-redis's own log lines,
// one per failed connection attempt, go to slog.Default at debug level:
// Open sets go-redis's logger, which is process-wide.)
//
// # WAF
//
// ShareWAF shares a waf.Engine's strikes and bans, through the hooks of
// the engine (waf.Hooks) and a Redis stream that every instance reads,
// blocking: a ban at one instance holds at the others within
// milliseconds, and strikes add up across instances. Bans are also
// stored, with their end, in a sorted set that a starting instance
// applies, and expire at each instance on their own. An instance cut off
// from Redis keeps its changes and sends them when Redis is back, and
// catches up on the others' from the stream; if Redis lost its data, the
// instances store their bans again. Each instance numbers its events, and
// the others skip one they applied already: a batch that Redis executed
// but whose reply was lost is sent again, and its strikes count once.
//
// # Keys
//
// Every key starts with Config.Prefix ("phalanx:"): rl:NAME:HASH:c:CLIENT
// and rl:NAME:HASH:g for the buckets (HASH is of the limits, so Limiters
// with other limits never share buckets), which expire once full;
// waf:bans, waf:reasons, waf:events and waf:epoch for the WAF. A check
// uses two keys in one script, so the store needs a single Redis server
// (or a primary with replicas), not a cluster.
//
// # Concurrency
//
// A Store and its Limiters are safe for concurrent use and must not be
// copied. Close ends the WAF sharing and waits for its goroutines.
//
// # Configuration
//
// In phalanx.conf, in the http block:
//
//	shared_store redis://10.0.0.5:6379/0;   # Config.URL; absent: nothing is shared
//
// The other Config fields keep their defaults there: Prefix "phalanx:",
// Timeout 50ms, and fail open.
package sharedstore
