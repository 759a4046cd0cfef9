package limiter

import (
	"net/netip"
	"sync/atomic"
	"time"
)

// Decision is the outcome of one check.
type Decision struct {
	// Allowed reports whether the event may proceed.
	Allowed bool
	// RetryAfter is, when Allowed is false, how long until the limit that
	// refused would allow one event, if nothing else takes the token first.
	// It is not rounded; see RetryAfterSeconds.
	RetryAfter time.Duration
	// Global reports that the global limit refused the event; the client's
	// own bucket was not charged.
	Global bool
}

// RetryAfterSeconds returns d.RetryAfter in whole seconds, rounded up and
// at least 1: the value of an HTTP Retry-After header.
func (d Decision) RetryAfterSeconds() int64 {
	s := int64(d.RetryAfter / time.Second)
	if d.RetryAfter%time.Second > 0 {
		s++
	}
	return max(s, 1)
}

// Limiter decides whether one more event (a connection or a request) from
// client may proceed at time now. It is the check the connection gate and
// the request path make; Keyed is the implementation of this package.
//
// client is the client's address as the caller resolved it (the socket
// peer, or the right-most untrusted X-Forwarded-For hop); it may be the
// zero Addr when the caller could not tell. now is the caller's clock,
// normally time.Now(); tests pass a fake one.
//
// Allow must be safe for concurrent use, must not block (no network round
// trip: a fleet-wide store should sync in the background) and should not
// allocate for a client it has seen before.
type Limiter interface {
	Allow(client netip.Addr, now time.Time) Decision
}

// Func adapts a function to a Limiter.
type Func func(client netip.Addr, now time.Time) Decision

// Allow calls f(client, now).
func (f Func) Allow(client netip.Addr, now time.Time) Decision { return f(client, now) }

// Refusals counts the events a Limiter refused at one enforcement point,
// for metrics. The caller owns it, so the counts outlive a Limiter that a
// reload replaces; keep one for the connection gate and one for requests.
// Middleware and Gate add to it; a custom accept loop calls Add.
//
// The zero value is ready to use. Refusals is safe for concurrent use and
// must not be copied after first use.
type Refusals struct {
	// Client counts refusals by the per-client limit.
	Client atomic.Uint64
	// Global counts refusals by the global limit.
	Global atomic.Uint64
}

// Add counts d if it is a refusal. It does nothing when r is nil or d
// allowed the event, so the allowed path touches no shared counter.
func (r *Refusals) Add(d Decision) {
	if r == nil || d.Allowed {
		return
	}
	if d.Global {
		r.Global.Add(1)
	} else {
		r.Client.Add(1)
	}
}

var _ Limiter = Func(nil)
