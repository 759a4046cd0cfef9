// Package limiter rate-limits clients with token buckets: one per client,
// and optionally one for all clients together, in bounded memory. It knows
// nothing of the config file. The Server uses it twice: at accept, where
// Gate closes a connection over the limit before any protocol work, and
// per request, where Middleware answers 429 Too Many Requests with a
// Retry-After header.
//
// A Limiter answers one question, Allow(client, now), with a Decision.
// Keyed is this package's Limiter; another (a fleet-wide store, say) can
// take its place behind Gate and Middleware.
//
// # Algorithm
//
// Each client has a token bucket (https://en.wikipedia.org/wiki/Token_bucket)
// that holds at most Burst tokens and gains Rate tokens per second. An event
// takes one token; with none left it is refused, and Decision.RetryAfter
// says how long until one arrives. The arithmetic is that of
// golang.org/x/time/rate (https://pkg.go.dev/golang.org/x/time/rate#Limiter),
// and a test runs both side by side; but Keyed keeps each bucket as two
// plain fields under its shard's lock (16 bytes, not an 80-byte
// rate.Limiter with a mutex of its own). The global limit is a
// rate.Limiter.
//
// With rate_limit_per_ip 50 and rate_limit_burst 100, a client that has
// been idle for 2 seconds or more (100 tokens at 50 a second) may send 100
// requests at once. If it sends 130 at once, 100 pass and 30 get 429 with
// Retry-After: 1 (the next token is 20ms away, rounded up to a whole
// second); from then on it may send one every 20ms, 50 a second.
//
// The per-client limit is checked first, then the global one, and a
// refused event is charged to neither: a client over its own limit does
// not drain the global bucket, and a client refused by the global limit
// keeps its token. (nginx's limit_req with several zones does the same: it
// charges the zones only once all of them have let the request through.)
// Decision.Global tells which limit refused.
//
// # Clients
//
// An IPv4 client is its address; an IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) is the IPv4 address. An IPv6 client is its /64
// (Config.IPv6Prefix), since a single host can use every address of the
// /64 it is given: 2001:db8::1 and 2001:db8::ffff share a bucket,
// 2001:db8:0:1::1 has another. Zones are ignored. The zero Addr (and any
// invalid one) is one more client, with a bucket kept outside the table: it
// stands for every caller that could not tell who the client was, such as
// a peer on a Unix socket, so those share one budget. Pass a client func
// to Middleware if that is wrong for you.
//
// # Memory
//
// Keyed tracks at most Config.MaxKeys clients. Each costs a 40-byte entry
// (key, bucket, LRU links) and two 4-byte cells of a hash table that is at
// most half full; no entry holds a pointer, so the GC never scans them. With
// the default MaxKeys of 65536 spread over 64 shards, each shard holds 1024
// entries (41000 bytes, which take 48 KiB of pages) and a table of 2048
// cells (8 KiB):
//
//	64 shards × (48 KiB + 8 KiB) = 3.5 MiB, about 56 bytes per client
//
// TestMemoryBound measures it after a million distinct clients, IPv4 or
// IPv6. A MaxKeys of 1<<20 (about a million) takes 48.5 MiB. Memory grows with
// the clients actually tracked, not with MaxKeys up front.
//
// # Eviction
//
// A client whose bucket has refilled is the same as a new one, so
// forgetting it changes nothing. Every Allow drops up to two least recently
// used clients of its shard whose buckets are full, and a shard whose
// clients fill a quarter or less of the room it has allocated moves them
// into less, so memory shrinks after a spike as traffic continues, without
// a background goroutine.
//
// The hard cap is per shard: a client new to a full shard evicts the
// shard's least recently used client even if its bucket has not refilled.
// An attacker who sprays source addresses can thus evict a real client,
// whose next event finds a full bucket: at worst the attack gives that
// client a fresh burst, never a refusal it did not earn. Set MaxKeys above
// the number of clients active at once, which here means within the time a
// bucket takes to refill (Burst/Rate seconds, 2s at the defaults). The
// hash that picks a client's shard has a random seed, so an attacker cannot
// pick addresses that land in one shard.
//
// # Connections and requests
//
// Use one Keyed for the connection gate and another for requests: one
// shared would charge a client's new connection against its request
// budget. Keep a Refusals for each, for metrics; it outlives a Keyed that a
// reload replaces. An HTTP engine other than net/http calls Allow itself
// and answers 429 with Decision.RetryAfterSeconds.
//
// # Concurrency
//
// Keyed is safe for concurrent use. Its table is split into shards, each
// with its own mutex; Allow locks one shard and, when the global limit is
// on, the global rate.Limiter's mutex inside it. For a client it already
// tracks Allow allocates nothing, and once a shard's memory has grown it
// allocates nothing for a new client either.
//
// Allow takes the time from its caller: time.Now() in production, a fake
// clock in tests and simulations. A time earlier than a bucket's last one
// counts as no time passing.
//
// # Zero values
//
// The zero Config limits nothing: a zero Rate or GlobalRate turns that
// limit off, and every other zero field means the default written beside
// it. The zero Keyed allows everything, like New(Config{}). The zero
// Refusals is ready to count.
//
// # Configuration
//
// In phalanx.conf, in an http or server block:
//
//	rate_limit_per_ip 50;     # Config.Rate: requests per second per client; 0 turns it off
//	rate_limit_burst 100;     # Config.Burst
//	global_rate_limit 10000;  # Config.GlobalRate; 0 (the default) turns it off
//
// The values shown for rate_limit_per_ip and rate_limit_burst are their
// defaults. There is no directive for GlobalBurst, which is then one
// second's worth (10000 here), nor for MaxKeys, IPv6Prefix and Shards,
// which keep their defaults: 65536 clients, /64, 64 shards.
package limiter
