package bandit

import (
	"time"
)

// Outcome is what happened to one request sent to an arm.
type Outcome struct {
	// Latency is the time from sending the request to its answer (the
	// response headers), or to its failure.
	Latency time.Duration
	// Failed reports that the arm did not serve the request: a 5xx, a
	// connection failure, or a timeout. A failed outcome lowers the arm's
	// success estimate; its Latency does not feed the latency estimate
	// unless TimedOut is set. (PeakEWMA, kept as Finagle has it, feeds
	// every latency and has no success estimate.)
	Failed bool
	// TimedOut reports a failure by timeout (Failed is then set too).
	// Latency is the time waited, and counts in the latency estimate as
	// such: a backend that stops answering must look slow, not fast.
	TimedOut bool
	// Canceled reports that the request ended without telling anything
	// about the arm: it was never sent, or the client went away before
	// the answer. It only ends the request's in-flight count.
	Canceled bool
}

// Bandit chooses among arms and learns from the outcomes. Arms are stable
// non-negative ids (the lb adapter gives each backend one); they need not
// be dense, but a policy may size its tables by the largest id seen.
//
// Every Choose is followed by exactly one Observe for the arm it returned,
// so the arm counts as in flight in between: policies use that count as
// the queue they would add to. Time is passed in, never read, so the same
// policy runs in production and in the routing simulator's virtual time.
//
// Implementations are safe for concurrent use and, once they have seen
// every arm, allocate nothing in Choose or Observe.
type Bandit interface {
	// Choose returns one of candidates, which is not empty, holds distinct
	// ids, and must not be modified or retained.
	Choose(candidates []int, now time.Time) int
	// Observe reports the outcome of a request sent to arm after Choose
	// returned it.
	Observe(arm int, o Outcome, now time.Time)
}

// Forgetter is implemented by bandits that can drop what they know of an
// arm, so that their memory stays bounded when arms come and go (backends
// found through DNS, say, each new address getting a new id). Forget
// takes effect once the arm's requests in flight are observed; until
// then their outcomes only end them, and choosing the arm again cancels
// it. Once forgotten, an arm chosen again starts afresh. Every policy of
// this package implements it.
type Forgetter interface {
	Forget(arm int)
}

// Reporter is implemented by bandits that can show their current
// estimates, for the status page and metrics.
type Reporter interface {
	// Report appends one ArmReport per arm the policy knows to dst, in
	// increasing arm order, and returns it.
	Report(now time.Time, dst []ArmReport) []ArmReport
}

// ArmReport is a policy's view of one arm at a moment.
type ArmReport struct {
	Arm      int
	InFlight int
	// Latency is the current latency estimate, 0 if the arm has none.
	Latency time.Duration
	// Success is the estimated probability that a request succeeds.
	Success float64
	// Score is the cost the policy ranks the arm by, lower is better: for
	// most policies an expected completion time in seconds.
	Score float64
	// Chosen counts how many times Choose returned the arm.
	Chosen uint64
}
