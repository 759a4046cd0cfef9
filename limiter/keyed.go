package limiter

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults for the zero fields of Config.
const (
	defaultMaxKeys    = 1 << 16 // about 5 MiB of buckets; see "Memory" in the package doc
	defaultIPv6Prefix = 64      // one bucket per IPv6 /64, the smallest subnet a site gets
	defaultShards     = 64      // enough that a lock is rarely contended on a large machine
)

// Config sets up a Keyed. Every field's zero value has a meaning, written
// beside it; the zero Config limits nothing.
type Config struct {
	// Rate is the per-client limit in events per second, the rate at which
	// a client's bucket refills. 0 turns the per-client limit off: no
	// client is tracked.
	Rate float64
	// Burst is the size of a client's bucket: how many events a client
	// that has been idle may make at once. 0 means one second's worth,
	// max(1, ceil(Rate)).
	Burst int

	// GlobalRate is the limit in events per second for all clients
	// together. 0 turns the global limit off.
	GlobalRate float64
	// GlobalBurst is the size of the global bucket. 0 means one second's
	// worth, max(1, ceil(GlobalRate)).
	GlobalBurst int

	// MaxKeys is the most clients tracked at once; beyond it the least
	// recently used is forgotten. Each costs about 80 bytes (see "Memory"
	// in the package doc), so the default, 0, meaning 65536, costs about
	// 5 MiB. It should exceed the number of clients active within a few
	// refill periods (Burst/Rate seconds).
	MaxKeys int
	// IPv6Prefix is the length of the prefix that keys an IPv6 client,
	// from 1 to 128. 0 means 64: a client's whole /64 shares one bucket,
	// since one host can use every address in it. 128 keys each address.
	// IPv4 clients are always keyed by their full address.
	IPv6Prefix int
	// Shards is the number of independently locked parts of the key table,
	// a power of two no greater than MaxKeys. 0 means 64, or the largest
	// power of two not above MaxKeys if that is smaller.
	Shards int
}

// validate returns the problems of c, each wrapping ErrInvalidConfig.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if !(c.Rate >= 0) || math.IsInf(c.Rate, 0) {
		bad("Rate is %v, want a finite number, 0 or more", c.Rate)
	}
	if c.Burst < 0 {
		bad("Burst is %d, want 0 or more", c.Burst)
	}
	if !(c.GlobalRate >= 0) || math.IsInf(c.GlobalRate, 0) {
		bad("GlobalRate is %v, want a finite number, 0 or more", c.GlobalRate)
	}
	if c.GlobalBurst < 0 {
		bad("GlobalBurst is %d, want 0 or more", c.GlobalBurst)
	}
	if c.MaxKeys < 0 || c.MaxKeys > math.MaxInt32 {
		bad("MaxKeys is %d, want 0 to %d", c.MaxKeys, math.MaxInt32)
	}
	if c.IPv6Prefix < 0 || c.IPv6Prefix > 128 {
		bad("IPv6Prefix is %d, want 0 to 128", c.IPv6Prefix)
	}
	switch maxKeys := cmp.Or(c.MaxKeys, defaultMaxKeys); {
	case c.Shards < 0 || c.Shards&(c.Shards-1) != 0:
		bad("Shards is %d, want 0 or a power of two", c.Shards)
	case c.Shards > maxKeys && c.MaxKeys >= 0:
		bad("Shards is %d, more than MaxKeys (%d)", c.Shards, maxKeys)
	}
	return errors.Join(errs...)
}

// burstOr returns b, or one second's worth of r if b is 0.
func burstOr(b int, r float64) int {
	if b > 0 {
		return b
	}
	return int(max(1, min(math.Ceil(r), math.MaxInt32)))
}

// Keyed is a Limiter with a token bucket per client and an optional global
// one. A client is the masked address described in the package doc.
//
// Keyed is safe for concurrent use and must not be copied. The zero Keyed
// allows everything, as New(Config{}) does.
type Keyed struct {
	// Set by New, then read only.
	shards []shard       // nil when the per-client limit is off
	mask   uint64        // len(shards)-1
	seed   [2]uint64     // random: a client cannot choose addresses that collide
	limit  rate.Limit    // per-client refill rate
	burst  float64       // per-client bucket size
	v6hi   uint64        // the IPv6 prefix mask, high 64 bits
	v6lo   uint64        // and low 64 bits
	global *rate.Limiter // nil when the global limit is off

	unknown solo // the bucket shared by clients with an invalid address
}

// New returns a Keyed set up by c, or an error wrapping ErrInvalidConfig.
func New(c Config) (*Keyed, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	k := &Keyed{seed: [2]uint64{rand.Uint64(), rand.Uint64()}}
	if c.GlobalRate > 0 {
		k.global = rate.NewLimiter(rate.Limit(c.GlobalRate), burstOr(c.GlobalBurst, c.GlobalRate))
	}
	if c.Rate == 0 {
		return k, nil
	}
	k.limit = rate.Limit(c.Rate)
	k.burst = float64(burstOr(c.Burst, c.Rate))
	k.v6hi, k.v6lo = prefixMask(cmp.Or(c.IPv6Prefix, defaultIPv6Prefix))
	maxKeys := cmp.Or(c.MaxKeys, defaultMaxKeys)
	n := c.Shards
	if n == 0 {
		n = defaultShards
		for n > maxKeys {
			n /= 2
		}
	}
	k.shards = make([]shard, n)
	k.mask = uint64(n - 1)
	for i := range k.shards {
		// Spread maxKeys exactly, so that Len never exceeds it.
		k.shards[i].max = int32(maxKeys / n)
		if i < maxKeys%n {
			k.shards[i].max++
		}
	}
	return k, nil
}

// prefixMask returns the high and low halves of an IPv6 mask of bits ones.
func prefixMask(bits int) (hi, lo uint64) {
	if bits <= 64 {
		return ^uint64(0) << (64 - bits), 0
	}
	return ^uint64(0), ^uint64(0) << (128 - bits)
}

// key is a client: an IPv4 address in its IPv4-mapped IPv6 form, or a
// masked IPv6 address. The two kinds never collide: an unmapped IPv6
// address is never in ::ffff:0:0/96, a mask of 96 bits or more keeps it
// out, and a shorter one clears bit 95, which every address in that /96
// has set. A key holds no pointer, so the GC never scans the tables.
type key struct{ hi, lo uint64 }

// key returns the key of the valid address a.
func (k *Keyed) key(a netip.Addr) key {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return key{lo: 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return key{
		hi: binary.BigEndian.Uint64(b[:8]) & k.v6hi,
		lo: binary.BigEndian.Uint64(b[8:]) & k.v6lo,
	}
}

// Allow charges one token to client's bucket, then one to the global
// bucket, and reports whether both had one. A refused event is charged to
// neither: a client refused by the global limit keeps its token, and a
// client over its own limit does not drain the global bucket. The
// zero Addr (and any invalid one) is one client, shared by all callers
// that could not tell who the client was.
//
// Allow allocates nothing for a client it tracks already.
func (k *Keyed) Allow(client netip.Addr, now time.Time) Decision {
	if k.shards == nil {
		return k.allowGlobal(now)
	}
	if !client.IsValid() {
		return k.unknown.allow(k, now)
	}
	kk := k.key(client)
	h := k.hash(kk)
	return k.shards[h&k.mask].allow(k, kk, h, now)
}

// hash returns a seeded hash of kk: the low bits choose the shard, the high
// bits the cell in its table. It is wyhash's mixing step
// (https://github.com/wangyi-fudan/wyhash), a 64×64-bit multiply folded.
func (k *Keyed) hash(kk key) uint64 {
	hi, lo := bits.Mul64(kk.hi^k.seed[0], kk.lo^k.seed[1])
	return hi ^ lo
}

// Len returns the number of clients tracked, not counting the bucket
// shared by invalid addresses. It is at most Config.MaxKeys.
func (k *Keyed) Len() int {
	n := 0
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		n += int(s.n)
		s.mu.Unlock()
	}
	return n
}

// allowGlobal checks the global limit alone.
func (k *Keyed) allowGlobal(now time.Time) Decision {
	if k.global == nil || k.global.AllowN(now, 1) {
		return Decision{Allowed: true}
	}
	return k.globalRefusal(now)
}

// globalRefusal returns the Decision for an event the global limit refused.
func (k *Keyed) globalRefusal(now time.Time) Decision {
	return Decision{RetryAfter: wait(k.global.Limit(), 1-k.global.TokensAt(now)), Global: true}
}

// bucket is a token bucket: it held tokens at time last. It is
// rate.Limiter's state without its mutex (the shard's lock guards it) and
// with the time as an offset, which makes it 16 bytes instead of 80; the
// arithmetic is rate.Limiter's, so both decide alike (see the tests).
type bucket struct {
	tokens float64
	last   int64 // nanoseconds since the clock's epoch
}

// tokensAt returns the tokens b holds at t, as rate.Limiter.TokensAt does.
// A time before b.last counts as b.last.
func (k *Keyed) tokensAt(b *bucket, t int64) float64 {
	tokens := b.tokens
	if t > b.last {
		tokens += time.Duration(t-b.last).Seconds() * float64(k.limit)
	}
	return min(tokens, k.burst)
}

// take charges one token to b (then to the global bucket) if there is one
// in each. Like rate.Limiter, it allows an event when the missing fraction
// of a token would arrive in less than a nanosecond, which may leave b
// slightly negative. The caller holds the lock that guards b; the global
// limiter is always locked after it, never before.
func (k *Keyed) take(b *bucket, now time.Time, t int64) Decision {
	tokens := k.tokensAt(b, t) - 1
	if tokens < 0 && -tokens/float64(k.limit)*float64(time.Second) >= 1 { // the wait truncates to 1ns or more
		return Decision{RetryAfter: wait(k.limit, -tokens)}
	}
	if k.global != nil && !k.global.AllowN(now, 1) {
		return k.globalRefusal(now)
	}
	b.tokens = tokens
	b.last = max(b.last, t)
	return Decision{Allowed: true}
}

// wait returns how long limit takes to add tokens. It rounds up to the
// nanosecond where rate's durationFromTokens truncates, so that waiting
// that long is enough.
func wait(limit rate.Limit, tokens float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	d := math.Ceil(tokens / float64(limit) * float64(time.Second))
	if d >= math.MaxInt64 {
		return rate.InfDuration
	}
	return time.Duration(d)
}

// clock turns times into int64 offsets from an epoch: the first time it
// was given, so that any clock, real or fake, works.
type clock struct {
	epoch time.Time
	set   bool
}

// since returns now as nanoseconds since c's epoch. It requires the lock
// that guards c held.
func (c *clock) since(now time.Time) int64 {
	if !c.set {
		c.epoch, c.set = now, true
	}
	return int64(now.Sub(c.epoch))
}

// solo is one bucket with its own lock: the client of invalid addresses.
type solo struct {
	mu   sync.Mutex // protects the fields below
	clk  clock
	b    bucket
	used bool // b has been filled
}

func (u *solo) allow(k *Keyed, now time.Time) Decision {
	u.mu.Lock()
	defer u.mu.Unlock()
	t := u.clk.since(now)
	if !u.used {
		u.b, u.used = bucket{tokens: k.burst, last: t}, true
	}
	return k.take(&u.b, now, t)
}

var _ Limiter = (*Keyed)(nil)
