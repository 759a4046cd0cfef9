package confparse

import "time"

// AIFor returns the AI settings u uses for the routes of server s: u's own
// ai_* values, then s's, then the defaults. s may be nil (the TCP proxy,
// which belongs to no server), meaning the defaults alone.
func (u *Upstream) AIFor(s *Server) AI {
	if s == nil {
		return u.AI.Or(defaultAI())
	}
	// Build fills in every field of s.AI; a zero there was written.
	return u.AI.Or(s.AI)
}

// Or returns a with each zero field replaced by parent's.
func (a AI) Or(parent AI) AI {
	if a.Algorithm == "" {
		a.Algorithm = parent.Algorithm
	}
	orFloat(&a.Epsilon, parent.Epsilon)
	orFloat(&a.Temperature, parent.Temperature)
	orFloat(&a.UCBConstant, parent.UCBConstant)
	orFloat(&a.ThompsonThresholdMS, parent.ThompsonThresholdMS)
	return a
}

// Or returns t with each zero field replaced by parent's: a route's
// timeouts are route.Timeouts.Or(server.Timeouts).
func (t Timeouts) Or(parent Timeouts) Timeouts {
	for _, f := range []struct{ dst, src *time.Duration }{
		{&t.ClientHeader, &parent.ClientHeader},
		{&t.ClientIdle, &parent.ClientIdle},
		{&t.UpstreamConnect, &parent.UpstreamConnect},
		{&t.UpstreamHeader, &parent.UpstreamHeader},
		{&t.Request, &parent.Request},
	} {
		if *f.dst == 0 {
			*f.dst = *f.src
		}
	}
	return t
}

func orFloat(dst *float64, parent float64) {
	if *dst == 0 {
		*dst = parent
	}
}
