// Package bandit chooses a backend for each request by learning from the
// outcomes of earlier ones: latency, errors and timeouts. A Bandit knows
// nothing of HTTP or sockets; arms are backend ids, Choose picks one of
// the candidates allowed now, and Observe reports what happened to the
// request. The lb package adapts it to its pools.
//
// # Why not the textbook bandits
//
// The four classic bandit policies, epsilon-greedy, UCB1, softmax and
// Thompson sampling, assume that pulling an arm does not change it. A
// backend is not like that: sending it a request makes it slower for the
// next one. Taken literally, as an argmax over a moving average of
// latency, with a 5xx counted as a 10-second penalty and decay per
// update, they fail in three ways:
//
//   - They herd. Every request goes to the arm that looks fastest, which
//     then slows down under the load, and the herd moves on to the next.
//     The moving average lags the load, so the herd overshoots.
//   - A backend that fails fast looks fast. A black hole answering 503 in
//     a millisecond has the best latency in the fleet, and a fixed penalty
//     for errors is either too small to outweigh that or large enough to
//     shun a backend for one unlucky error.
//   - Decay per update freezes what they know of the arms they stopped
//     using: a backend shunned after a bad minute gets no updates, so it
//     is shunned for ever, even once it has recovered.
//
// # What the policies here do instead
//
// They keep the classic names and knobs, but rank arms by the same cost,
// an expected completion time:
//
//	cost = L × (in-flight + 1) / p
//
// L is the arm's latency estimate, in-flight the number of requests the
// policy sent there that have not been observed yet (a request joining
// that queue waits for about L each), and p the arm's success rate, so
// that 1/p is the expected number of tries. Errors lower p and leave L
// alone; a timeout counts in both, with the time waited as its latency,
// so that a backend that stops answering looks slow. Canceled outcomes
// (the request was never sent, or the client went away) only end the
// request's in-flight count.
//
// Estimates decay with elapsed time, not with updates. A sample weighs 1
// when it arrives and exp(−age/τ) later: with τ = 2s, a sample 2s old
// weighs 0.37, one 10s old 0.007. L is the weighted mean of the samples
// (or, with Adaptive.PeakLatency, their peak-EWMA), so it moves only when
// samples arrive; but the weight behind it shrinks while the arm is idle,
// so that the next sample counts for more, and L is read as
//
//	(L × n + fleet × 0.25) / (n + 0.25)
//
// where n is the decayed count of samples (about rate × τ for an arm in
// steady use) and fleet the mean latency over all arms: an arm idle for
// long reads as typical and gets tried again. For example, an arm that
// answered 200 requests a second in 30ms (n ≈ 200 × 2s = 400), in a fleet
// averaging 10ms, reads as 30ms; left idle for 10s (n falls to 400 × e⁻⁵ ≈
// 2.7), it reads as (30 × 2.7 + 10 × 0.25) / 2.95 ≈ 28ms; after 20s
// (n ≈ 0.018), as 11ms. p is 1 − f/(n + 2), with n and f the decayed
// counts of outcomes and failures and 2 assumed successes, so it relaxes
// back to 1 while the arm is idle, however bad it was.
//
// Each choice looks at up to 10 candidates drawn at random (Candidates),
// which with up to 10 backends is all of them, and with more bounds the
// cost of a choice: the power of d choices (Mitzenmacher,
// https://www.eecs.harvard.edu/~michaelm/postscripts/tpds2001.pdf). Two
// or three draws spread load well when the balancer sees every request
// in flight; but when several balancers share the backends, each counts
// only its own requests in flight, and a wide look is what finds an arm
// that is both idle here and fast there. In the routing benchmark
// (bench/routing), going from 3 candidates to 10 lowered Adaptive's p99
// by 2 to 5% with backends of mixed speeds and one balancer, by up to 9%
// with eight balancers, and by 15 to 18% with eight balancers and a
// moving set of slow backends; with eight balancers at load 0.9, it took
// the classic policies' median latency from about 1.6 times the
// join-the-shortest-queue oracle's to 1.21 to 1.26 times (a full scan of
// the in-flight counts alone, least connections, gets 1.29). In-flight
// counts keep a full look from herding: an arm that draws requests grows
// costly at once. An arm seen for the first time starts at the fleet's
// worst L: at 0 it would look fastest and draw a stampede before its
// first answer.
//
// # Failing backends
//
// The success rate p reacts slowly to a backend that starts failing after
// a good run: with hundreds of recent successes behind it, it takes
// hundreds of failures to fall, and a backend that fails fast has no
// requests in flight, so it looks idle and draws traffic meanwhile. So
// each arm also has a breaker, much like Linkerd's failure accrual: it
// opens after 3 failures in a row (Adaptive.BreakAfter) if the arm's
// failure rate before them makes such a run unlikely (odds under 1 in
// 1000), so that an arm failing one request in five needs 5 in a row,
// and one transient error among successes never opens it. While the
// breaker is open the arm is passed over, as long as another candidate
// is available; after a backoff of 1s a single request probes it: a
// success closes the breaker, a failure opens it again for twice as
// long, up to 10s. A success counts only if its request was sent after
// the run began, so that answers to requests sent before a backend broke
// do not hide that it did. In the
// routing benchmark, where a backend turns into a black hole after a
// second of good service, this took the default's error rate from about
// 0.4% to 0.02% with one balancer, and from 0.5% to about 0.1% with
// eight (each learns on its own, and probes), and the classic policies'
// from 1 to 4.5% to the same figures. Every policy here but PeakEWMA has
// a breaker; Adaptive's is tunable, the others take its defaults.
//
// # Policies
//
//   - "adaptive", Adaptive, the default: the lowest cost among 10
//     candidates, skipping those with p below 0.5 or an open breaker
//     unless all are. L is a time-decayed mean with τ = 1s: a backend
//     that slows down is left as its requests pile up in flight and its
//     answers come in late, and one that recovers is trusted again within
//     a few seconds. (It was a peak-EWMA, as in Finagle, where a sample
//     above L replaces it at once; with a noisy service time the peaks
//     make arms look slow at random. In the routing benchmark the mean's
//     p99 was lower or equal in 34 of 36 cells, by up to 13% with
//     backends of mixed speeds, and at most 2% higher in the other two.
//     PeakLatency brings the peak back.)
//   - "epsilon_greedy", EpsilonGreedy: among 10 candidates, with
//     probability ε (ai_epsilon, 0.10) one drawn uniformly, else the
//     lowest cost.
//   - "ucb1", UCB1: the lowest cost − C × typical × sqrt(ln N / n) among
//     10, with n the arm's decayed count of outcomes and requests in
//     flight, N the sum over arms, and typical the cost of a typical arm,
//     so that C (ai_ucb_constant, 2.0) is unitless.
//   - "softmax", Softmax: one of 10 candidates drawn with probability
//     ∝ exp(−cost / (T × spread)), T being ai_temperature (1.0) and
//     spread the candidates' mean excess cost over the cheapest divided by
//     their number, so that T = 1 concentrates on the cheapest few
//     whatever the load. (Measured in a typical arm's cost, as it was, a
//     temperature of 1 left the choice close to uniform at high load: in
//     the routing benchmark, even with 10 candidates, its median latency
//     at load 0.9 was 1.5 to 1.75 times the oracle's, against 1.0 to 1.25
//     now, and its p99 up to 2.5 times.)
//   - "thompson_sampling", ThompsonSampling: a Beta belief per arm about
//     the probability of a good answer, one that did not fail and took at
//     most max(ai_thompson_threshold_ms, 4 × the fleet's mean latency);
//     among 10 candidates, the lowest L × (in-flight + 1) / p with p
//     drawn from each belief.
//   - "peak_ewma", PeakEWMA: Finagle's and Linkerd's power of two choices
//     with peak-EWMA, exactly, with τ = 10s and failures feeding latency.
//     It is the reference the others are measured against, and fine in
//     production where backends fail slowly or health checks catch them.
//
// The classic four use a plain time-decayed mean for L, τ = 2s for L and
// 10s for p; each type documents its tuning fields. In this package's
// simulations (see TestAdaptiveBeatsPeakEWMA and TestBlackHoleAfterGoodRun),
// Adaptive has a lower p99 latency than PeakEWMA with backends of mixed
// speeds and with backends that stall now and then, and sends under 1% of
// requests to a black hole that draws a fifth or more of PeakEWMA's; the
// routing benchmark (bench/routing) compares them over a grid of
// scenarios, loads and numbers of balancers.
//
// # Time, randomness and zero values
//
// Policies never read the clock: Choose, Observe and Report take the time,
// so the same code runs in production and in a simulator's virtual time.
// Time going backwards between calls (concurrent callers passing slightly
// different clocks) decays nothing. Each policy draws from a
// *math/rand/v2.Rand given to its constructor, or from a randomly seeded
// one if that is nil; a seeded generator and a fake clock make its choices
// reproducible. The zero value of every policy type is ready to use, with
// a randomly seeded generator. Tuning fields are read on first use and
// must be set before it; zero means the documented default.
//
// Arm ids need not be dense: ids below 65536 index a slice, others a map.
// A policy allocates when it first sees an arm and never otherwise in
// Choose or Observe. Forget (the Forgetter interface, which every policy
// implements) drops an arm's record once its requests in flight are
// observed, so that a policy whose arms come and go keeps records only
// for the arms it still has; lb's BanditBuilder calls it when a backend
// leaves its pool. With no candidates, which the Bandit contract rules
// out, Choose returns -1 and counts nothing.
//
// # Concurrency
//
// Every policy is safe for concurrent use: one mutex guards its estimates
// and its generator, held for about a microsecond at most per Choose or
// Observe (with the default 10 candidates), and the generator must not
// be shared with anything else. A policy must not be copied after first
// use.
//
// # Configuration
//
// In phalanx.conf, an upstream chooses its backends with a policy of this
// package when its algorithm is aipredictive; ai_algorithm names the
// policy (as New does) and the other ai_* directives set Params:
//
//	upstream NAME {
//	    algorithm aipredictive;
//	    ai_algorithm adaptive|epsilon_greedy|ucb1|softmax|thompson_sampling|peak_ewma;
//	    ai_epsilon 0.10;
//	    ai_ucb_constant 2.0;
//	    ai_temperature 1.0;
//	    ai_thompson_threshold_ms 100;
//	}
//
// The values shown are the defaults, and ai_algorithm defaults to
// adaptive. Each ai_* knob is read only by its own policy; adaptive and
// peak_ewma take none, their tuning fields being for programs that build
// them directly.
package bandit
