package resolve

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Watch looks q up now, and again each time the answer's TTL (clamped to
// [MinTTL, MaxTTL]) or, if set, Config.Valid runs out. It calls update
// with the first set a lookup returns and then with each set that
// differs from the last one it passed (same targets in the same order,
// with the same weights and backup flags, is no change). The slice is the
// callee's to keep. update runs on Watch's goroutine, so the next lookup
// waits for it to return.
//
// A failed lookup (a timeout, SERVFAIL, NXDOMAIN, an empty answer) keeps
// the last good set: update is not called. The first failure of a streak
// is logged at Warn, and the end of the streak at Info. A failed lookup
// is retried after 1s, then 2s, doubling up to 30s, but never later than
// the next normal lookup would have been (Valid, or the last good
// answer's TTL). So a name that does not exist when Watch starts gives no
// update until it does.
//
// Watch returns when ctx ends, abandoning a query in flight. It returns
// at once, after logging at Error, if q can never be looked up: a name
// that is not a domain name, or a port outside 1..65535. A panic in a
// lookup is logged and counted as a failure; one in update is not
// recovered.
func (r *Resolver) Watch(ctx context.Context, q Query, update func([]Target)) {
	r.WatchLookups(ctx, q, update, nil)
}

// WatchLookups is Watch, and also calls looked, if not nil, after every
// lookup with its error: nil for an answer (whether it changed the set or
// not), else why the lookup failed. It runs on Watch's goroutine, before
// update.
func (r *Resolver) WatchLookups(ctx context.Context, q Query, update func([]Target), looked func(error)) {
	var (
		last    []Target      // the set last passed to update
		passed  bool          // whether update was called
		refresh time.Duration // the interval after the last good lookup
		streak  int           // failed lookups in a row
	)
	for {
		ts, ttl, found, err := r.lookup(ctx, q)
		if ctx.Err() != nil {
			return
		}
		if looked != nil {
			looked(err)
		}
		var wait time.Duration
		switch {
		case errors.Is(err, ErrInvalidName):
			r.logger().Error("resolve: cannot watch", "name", q.Host, "srv", q.SRV, "port", q.Port, "err", err)
			return
		case err != nil:
			streak++
			if streak == 1 {
				r.logger().Warn("resolve: lookup failed, keeping the last set", "name", q.Host, "srv", q.SRV, "targets", len(last), "err", err)
			}
			wait = backoff(streak)
			if r.valid > 0 {
				wait = min(wait, r.valid)
			} else if passed {
				wait = min(wait, refresh)
			}
		default:
			if streak > 0 {
				r.logger().Info("resolve: lookup recovered", "name", q.Host, "srv", q.SRV, "failures", streak)
				streak = 0
			}
			refresh = r.valid
			if refresh == 0 {
				refresh = clampTTL(ttl)
			}
			wait = refresh
			if !passed || !slices.Equal(ts, last) {
				r.logTruncated(q, found)
				last, passed = ts, true
				update(slices.Clone(ts))
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff returns the wait after the n-th failure in a row: 1s doubling
// to 30s.
func backoff(n int) time.Duration {
	if n > 6 {
		return backoffMax
	}
	return min(backoffMin<<(n-1), backoffMax)
}
