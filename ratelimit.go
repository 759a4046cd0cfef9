package phalanx

import (
	"net/netip"
	"time"

	"github.com/phalanx-lb/phalanx/limiter"
)

// buildLimiters returns the snapshot's connection and request limiters:
// the plugged-in ones, else keyed buckets from c.rateLimit. Keyed buckets
// of old are kept when the limits did not change, so a reload does not
// hand every client a fresh burst.
func buildLimiters(c *config, old *snapshot) (conns, requests limiter.Limiter, err error) {
	conns, requests = c.connLimiter, c.reqLimiter
	if c.rateLimit == (limiter.Config{}) {
		return conns, requests, nil
	}
	keep := old != nil && old.cfg.rateLimit == c.rateLimit
	if conns == nil {
		if keep && old.cfg.connLimiter == nil {
			conns = old.conns
		} else if conns, err = limiter.New(c.rateLimit); err != nil {
			return nil, nil, err
		}
	}
	if requests == nil {
		if keep && old.cfg.reqLimiter == nil {
			requests = old.requests
		} else {
			local, err := limiter.New(c.rateLimit)
			if err != nil {
				return nil, nil, err
			}
			requests = local
			if c.store != nil {
				// Fleet-wide, with local as the fallback.
				requests = c.store.NamedLimiter("request", c.rateLimit, local)
			}
		}
	}
	return conns, requests, nil
}

// allowConn is the connection gate: it asks the live snapshot's
// connection limiter, if any.
func (s *Server) allowConn(client netip.Addr, now time.Time) limiter.Decision {
	if l := s.state.Load().conns; l != nil {
		return l.Allow(client, now)
	}
	return limiter.Decision{Allowed: true}
}

// Refused returns how many connections the accept gate closed and how
// many requests got 429, since New.
func (s *Server) Refused() (connections, requests uint64) {
	c := s.refusedConns.Client.Load() + s.refusedConns.Global.Load()
	r := s.refusedRequests.Client.Load() + s.refusedRequests.Global.Load()
	return c, r
}
