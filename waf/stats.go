package waf

import "sync/atomic"

// Stats are an Engine's counters since it was made. A Prometheus
// collector reads them with Engine.Stats; the request path only adds to
// atomics. A Stats is a snapshot, the caller's to keep.
type Stats struct {
	Requests uint64 // requests inspected
	Blocked  uint64 // requests refused
	Detected uint64 // requests that would have been refused, in detect-only mode
	Banned   uint64 // requests from banned clients (also in Blocked or Detected)
	Bans     uint64 // bans made, automatic and by hand
	// ByFamily counts the blocked or detected requests by the family of
	// their most severe match (FamilyBan for banned clients).
	ByFamily map[Family]uint64
	// ByRule counts the blocked or detected requests each rule matched,
	// by rule id.
	ByRule map[int]uint64
	// ByBot counts the requests blocked or detected by the bot rules, by
	// User-Agent pattern ("sqlmap", "go-http-client"); "" is an empty
	// User-Agent.
	ByBot map[string]uint64
}

// counters are the atomics behind Stats.
type counters struct {
	requests, blocked, detected, banned, bans atomic.Uint64
	family                                    [numFamilies]atomic.Uint64
	rule                                      []atomic.Uint64 // by index in allRules
	bot                                       []atomic.Uint64 // by bot pattern; the last is the empty User-Agent
}

func (c *counters) init(bots int) {
	c.rule = make([]atomic.Uint64, len(allRules))
	c.bot = make([]atomic.Uint64, bots)
}

// count adds a blocked or detected request.
func (c *counters) count(v *Verdict, bot int) {
	if v.Cause == CauseBan {
		c.banned.Add(1)
	}
	c.family[v.Family()].Add(1)
	seen := uint64(0) // rule slots counted, for the first 64
	for _, m := range v.Matches {
		i := ruleSlot[m.Rule.ID]
		if i < 64 {
			if seen&(1<<i) != 0 {
				continue
			}
			seen |= 1 << i
		}
		c.rule[i].Add(1)
	}
	if bot >= 0 && bot < len(c.bot) {
		c.bot[bot].Add(1)
	}
}

// Stats returns a snapshot of the counters. The maps hold only non-zero
// counts.
func (e *Engine) Stats() Stats {
	c := &e.stats
	s := Stats{
		Requests: c.requests.Load(),
		Blocked:  c.blocked.Load(),
		Detected: c.detected.Load(),
		Banned:   c.banned.Load(),
		Bans:     c.bans.Load(),
		ByFamily: map[Family]uint64{},
		ByRule:   map[int]uint64{},
		ByBot:    map[string]uint64{},
	}
	for f := range c.family {
		if n := c.family[f].Load(); n > 0 {
			s.ByFamily[Family(f)] = n
		}
	}
	for i := range c.rule {
		if n := c.rule[i].Load(); n > 0 {
			s.ByRule[allRules[i].ID] = n
		}
	}
	for i := range c.bot {
		if n := c.bot[i].Load(); n > 0 {
			name := ""
			if i < len(e.bots.pats) {
				name = e.bots.pats[i].name
			}
			s.ByBot[name] = n
		}
	}
	return s
}
