package sharedstore

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/phalanx-lb/phalanx/limiter"
	"github.com/redis/go-redis/v9"
)

// gcra is one check: GCRA, the generic cell rate algorithm
// (https://en.wikipedia.org/wiki/Generic_cell_rate_algorithm), on the
// client's key and then the global one, in one atomic step. A key holds a
// bucket's theoretical arrival time (TAT) in microseconds of Redis's
// clock: the time at which the bucket will be full again. With emission
// interval T = 1/rate and size burst, an event at now is allowed if the
// bucket has a token, max(TAT, now) + T - now <= burst*T, and then moves
// TAT there; otherwise it must wait the excess. An event refused by
// either limit is charged to neither, as limiter.Keyed does. A key
// expires when its bucket is full, where a missing key means the same.
//
// KEYS[1] is the client's key, KEYS[2] the global one. ARGV[1] and
// ARGV[2] are the client's T (in microseconds; 0 turns the limit off) and
// burst, ARGV[3] and ARGV[4] the global limit's. It returns {allowed (1 or
// 0), microseconds until the refusing limit has a token, refused by the
// global limit (1 or 0)}.
var gcra = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function check(key, T, burst)
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new = tat + T
  return new, new - now - burst * T
end

local cT, cB, gT, gB = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local cNew, gNew, over
if cT > 0 then
  cNew, over = check(KEYS[1], cT, cB)
  if over >= 1 then return {0, math.ceil(over), 0} end
end
if gT > 0 then
  gNew, over = check(KEYS[2], gT, gB)
  if over >= 1 then return {0, math.ceil(over), 1} end
end
if cNew then
  redis.call('SET', KEYS[1], string.format('%.0f', cNew), 'PX', math.ceil((cNew - now) / 1000) + 1)
end
if gNew then
  redis.call('SET', KEYS[2], string.format('%.0f', gNew), 'PX', math.ceil((gNew - now) / 1000) + 1)
end
return {1, 0, 0}
`)

// shared is a Limiter whose buckets are in Redis.
type shared struct {
	s      *Store
	local  limiter.Limiter // nil: allow while Redis is down
	keys   string          // the prefix of the clients' keys
	global string          // the global key
	args   []any           // the script's ARGV; read only
	client bool            // the per-client limit is on
	v6bits int             // the prefix length that keys an IPv6 client
}

// Limiter returns a Limiter that enforces lc across every instance using
// the same Redis server and Prefix: a client gets Rate events a second
// and bursts of Burst from the whole fleet, not from each instance, and
// all clients together get GlobalRate and GlobalBurst. It is
// NamedLimiter with the name "".
func (s *Store) Limiter(lc limiter.Config, local limiter.Limiter) limiter.Limiter {
	return s.NamedLimiter("", lc, local)
}

// NamedLimiter returns a Limiter that enforces lc across every instance
// using the same Redis server and Prefix, with buckets in Redis that
// Limiters of the same name and limits share, here and at other
// instances; Limiters of another name or with other limits have buckets
// of their own. (So the connection gate and the request limiter, with
// the same limits, need two names.)
//
// Clients are keyed as limiter.Keyed keys them: an IPv4 address, an IPv6
// /64 (lc.IPv6Prefix), and one bucket for all invalid addresses.
// lc.MaxKeys and lc.Shards do not apply: Redis forgets a bucket once it
// is full again. Each check is one call of a Lua script that runs GCRA on
// the client's bucket and the global one together, with Redis's clock
// (the now passed to Allow is used only by local); like limiter.Keyed, it
// charges a refused event to neither bucket, checks the client's limit
// first, and sets Decision.RetryAfter (to the microsecond) and
// Decision.Global.
//
// While Redis is unreachable, Allow returns local's decision (or, for a
// nil local, allows the event), or, with Config.FailClosed, refuses with
// Global set and a RetryAfter of one second. local is the instance's own
// limiter, normally limiter.New(lc); it is asked only then, so its
// buckets are full when it takes over.
//
// NamedLimiter panics if lc is invalid (limiter.New returns an error for
// it): a programming error, made at start-up.
func (s *Store) NamedLimiter(name string, lc limiter.Config, local limiter.Limiter) limiter.Limiter {
	if _, err := limiter.New(limiter.Config{Rate: lc.Rate, Burst: lc.Burst, GlobalRate: lc.GlobalRate,
		GlobalBurst: lc.GlobalBurst, IPv6Prefix: lc.IPv6Prefix, MaxKeys: 1}); err != nil {
		panic(fmt.Sprintf("sharedstore: NamedLimiter(%q): %v", name, err))
	}
	if lc.Rate == 0 && lc.GlobalRate == 0 {
		return limiter.Func(func(netip.Addr, time.Time) limiter.Decision { return limiter.Decision{Allowed: true} })
	}
	// The key names the limits, so that limiters with other limits do
	// not read each other's arrival times.
	ns := fmt.Sprintf("%s rl %g %d %g %d %d", name, lc.Rate, lc.Burst, lc.GlobalRate, lc.GlobalBurst, lc.IPv6Prefix)
	base := fmt.Sprintf("%srl:%s:%016x:", s.prefix, name, xxhash.Sum64String(ns))
	l := &shared{
		s:      s,
		local:  local,
		keys:   base + "c:",
		global: base + "g",
		client: lc.Rate > 0,
		v6bits: cmp.Or(lc.IPv6Prefix, 64),
	}
	l.args = append(interval(lc.Rate, lc.Burst), interval(lc.GlobalRate, lc.GlobalBurst)...)
	return l
}

// interval returns the script's arguments for a limit: the emission
// interval in microseconds (0 for no limit) and the burst.
func interval(rate float64, burst int) []any {
	if rate == 0 {
		return []any{"0", "0"}
	}
	if burst == 0 {
		burst = int(max(1, min(math.Ceil(rate), math.MaxInt32)))
	}
	return []any{strconv.FormatFloat(1e6/rate, 'g', -1, 64), strconv.Itoa(burst)}
}

// key returns the key of client's bucket.
func (l *shared) key(client netip.Addr) string {
	if !client.IsValid() {
		return l.keys + "-"
	}
	a := client.Unmap().WithZone("")
	if a.Is4() {
		return l.keys + a.String()
	}
	p, _ := a.Prefix(l.v6bits)
	return l.keys + p.String()
}

// Allow checks one event of client against the buckets in Redis, in one
// round trip bounded by Config.Timeout; now is passed to the local
// limiter when Redis is unreachable, and not used otherwise.
func (l *shared) Allow(client netip.Addr, now time.Time) limiter.Decision {
	s := l.s
	s.stats.checks.Add(1)
	if s.ctx.Err() != nil { // closed
		return l.fallback(client, now)
	}
	ok, probe := s.try(time.Now().UnixNano())
	if !ok {
		return l.fallback(client, now)
	}
	k := l.global
	if l.client {
		k = l.key(client)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	res, err := gcra.Run(ctx, s.rdb, []string{k, l.global}, l.args...).Int64Slice()
	cancel()
	if err == nil && len(res) != 3 {
		err = fmt.Errorf("sharedstore: rate limit script returned %v, want 3 integers", res)
	}
	s.record(probe, err, true)
	if err != nil {
		return l.fallback(client, now)
	}
	if res[0] == 1 {
		return limiter.Decision{Allowed: true}
	}
	return limiter.Decision{RetryAfter: time.Duration(res[1]) * time.Microsecond, Global: res[2] == 1}
}

// fallback decides a check without Redis.
func (l *shared) fallback(client netip.Addr, now time.Time) limiter.Decision {
	l.s.stats.fallbacks.Add(1)
	switch {
	case l.s.failClosed:
		return limiter.Decision{RetryAfter: probeEvery, Global: true}
	case l.local == nil:
		return limiter.Decision{Allowed: true}
	}
	return l.local.Allow(client, now)
}

var _ limiter.Limiter = (*shared)(nil)
