package waf

import (
	"hash/maphash"
	"math"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// autoBanReason is the Reason of an automatic ban.
const autoBanReason = "auto-ban"

// Ban is a banned client, as Engine.Bans lists them: a plain value.
type Ban struct {
	Client netip.Prefix // an IPv4 address (/32) or an IPv6 /64
	Until  time.Time
	Reason string
}

// clientRec is what the reputation table keeps per client: 40 bytes and
// a string header.
type clientRec struct {
	strikes float64 // as of at
	at      int64   // unix nanoseconds of the last strike
	until   int64   // end of the ban, unix nanoseconds; 0 if not banned
	reason  string
}

// repShard is one part of the reputation table.
type repShard struct {
	mu sync.Mutex // protects m
	m  map[netip.Addr]clientRec
}

// reputation counts strikes per client and keeps the bans, in bounded
// memory. Safe for concurrent use.
type reputation struct {
	threshold float64 // ban above this many strikes; 0 turns auto-bans off
	duration  time.Duration
	halfLife  time.Duration
	perShard  int
	seed      maphash.Seed
	// active counts the records with a ban set, expired or not; while it
	// is 0, banned needs no lock.
	active atomic.Int64
	shards []repShard
}

func newReputation(threshold int, duration, halfLife time.Duration, maxClients int) *reputation {
	n := min(16, maxClients)
	r := &reputation{
		threshold: float64(threshold),
		duration:  duration,
		halfLife:  halfLife,
		perShard:  maxClients / n,
		seed:      maphash.MakeSeed(),
		shards:    make([]repShard, n),
	}
	for i := range r.shards {
		r.shards[i].m = make(map[netip.Addr]clientRec)
	}
	return r
}

// clientKey returns the key of a client: its IPv4 address, or the /64 of
// its IPv6 address (a host is given a whole /64). ok is false for an
// invalid address, which is never tracked.
func clientKey(a netip.Addr) (netip.Addr, bool) {
	if !a.IsValid() {
		return netip.Addr{}, false
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr(), true
	}
	return a, true
}

func keyPrefix(k netip.Addr) netip.Prefix {
	if k.Is6() {
		return netip.PrefixFrom(k, 64)
	}
	return netip.PrefixFrom(k, 32)
}

func (r *reputation) shard(k netip.Addr) *repShard {
	b := k.As16()
	h := maphash.Bytes(r.seed, b[:])
	return &r.shards[h%uint64(len(r.shards))]
}

// decayed returns the strikes of c at now: they halve every halfLife.
func (r *reputation) decayed(c *clientRec, now int64) float64 {
	if c.strikes == 0 || now <= c.at {
		return c.strikes
	}
	return c.strikes * math.Exp2(-float64(now-c.at)/float64(r.halfLife))
}

// expire clears the ban of c if it has ended; its strikes go with it.
// Requires the shard's mu held.
func (r *reputation) expire(c *clientRec, now int64) {
	if c.until != 0 && now >= c.until {
		*c = clientRec{}
		r.active.Add(-1)
	}
}

// banned reports whether the client is banned at now.
func (r *reputation) banned(a netip.Addr, now time.Time) bool {
	if r.active.Load() == 0 {
		return false
	}
	k, ok := clientKey(a)
	if !ok {
		return false
	}
	sh := r.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c, ok := sh.m[k]
	if !ok || c.until == 0 {
		return false
	}
	t := now.UnixNano()
	if t < c.until {
		return true
	}
	r.expire(&c, t)
	delete(sh.m, k)
	return false
}

// strike adds n strikes to the client and bans it if it then has more
// than the threshold. It reports whether it banned it.
func (r *reputation) strike(a netip.Addr, n int, now time.Time) bool {
	k, ok := clientKey(a)
	if !ok || r.threshold <= 0 {
		return false
	}
	t := now.UnixNano()
	sh := r.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := r.get(sh, k, t)
	r.expire(&c, t)
	if c.until != 0 {
		return false // banned already
	}
	c.strikes = r.decayed(&c, t) + float64(n)
	c.at = t
	banned := false
	if c.strikes > r.threshold {
		c.until = t + int64(r.duration)
		c.reason = autoBanReason
		r.active.Add(1)
		banned = true
	}
	sh.m[k] = c
	return banned
}

// get returns the record of k, making room for it if it is new. Requires
// sh.mu held.
func (r *reputation) get(sh *repShard, k netip.Addr, now int64) clientRec {
	if c, ok := sh.m[k]; ok {
		return c
	}
	if len(sh.m) >= r.perShard {
		r.evict(sh, now)
	}
	return clientRec{}
}

// evict drops one client of a full shard: of a few taken at random (Go's
// map iteration starts at a random place), the one with the fewest
// strikes that is not banned, or else the ban that ends first. Requires
// sh.mu held.
func (r *reputation) evict(sh *repShard, now int64) {
	const sample = 8
	var victim netip.Addr
	best, bestBanned, n := math.Inf(1), true, 0
	for k, c := range sh.m {
		isBanned := c.until != 0 && c.until > now
		var score float64
		if isBanned {
			score = float64(c.until)
		} else {
			score = r.decayed(&c, now)
		}
		if n == 0 || bestBanned && !isBanned || bestBanned == isBanned && score < best {
			victim, best, bestBanned = k, score, isBanned
		}
		if n++; n == sample {
			break
		}
	}
	if c, ok := sh.m[victim]; ok {
		if c.until != 0 {
			r.active.Add(-1)
		}
		delete(sh.m, victim)
	}
}

// ban bans the client until now+d.
func (r *reputation) ban(a netip.Addr, d time.Duration, reason string, now time.Time) bool {
	return r.banUntil(a, now.UnixNano()+int64(d), reason, now)
}

// banUntil bans the client until the unix nanosecond until, replacing
// any ban it has.
func (r *reputation) banUntil(a netip.Addr, until int64, reason string, now time.Time) bool {
	k, ok := clientKey(a)
	if !ok {
		return false
	}
	t := now.UnixNano()
	sh := r.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := r.get(sh, k, t)
	if c.until == 0 {
		r.active.Add(1)
	}
	c.until = until
	c.reason = reason
	sh.m[k] = c
	return true
}

// unban lifts the client's ban and forgets its strikes. It reports
// whether the client was banned.
func (r *reputation) unban(a netip.Addr, now time.Time) bool {
	k, ok := clientKey(a)
	if !ok {
		return false
	}
	sh := r.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c, ok := sh.m[k]
	if !ok {
		return false
	}
	delete(sh.m, k)
	if c.until == 0 {
		return false
	}
	r.active.Add(-1)
	return c.until > now.UnixNano()
}

// strikes returns the client's strikes at now.
func (r *reputation) strikes(a netip.Addr, now time.Time) float64 {
	k, ok := clientKey(a)
	if !ok {
		return 0
	}
	sh := r.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c, ok := sh.m[k]
	if !ok {
		return 0
	}
	return r.decayed(&c, now.UnixNano())
}

// bans lists the bans in force at now, by client, and clears the
// expired ones.
func (r *reputation) bans(now time.Time) []Ban {
	t := now.UnixNano()
	var out []Ban
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for k, c := range sh.m {
			if c.until == 0 {
				continue
			}
			if t >= c.until {
				r.expire(&c, t)
				delete(sh.m, k)
				continue
			}
			out = append(out, Ban{Client: keyPrefix(k), Until: time.Unix(0, c.until), Reason: c.reason})
		}
		sh.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Client.Addr().Less(out[j].Client.Addr()) })
	return out
}

// len returns the number of clients tracked.
func (r *reputation) len() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
