// Package resolve finds a load balancer's backends in DNS and follows
// them as the records change: service discovery in the manner of nginx's
// "server NAME resolve" and "resolver ADDR valid=D". It knows nothing of
// the config file or of the Server; the caller turns each set of targets
// it reports into backends.
//
// # Lookups
//
// LookupHost asks for a name's A and AAAA records at once and returns one
// Target ("ip:port", IPv6 in brackets) per address, with the port the
// caller gives. LookupSRV asks for SRV records (RFC 2782) and returns every
// address of every record's target, with the record's port and weight.
// Both follow CNAMEs, sort the targets, drop duplicates and return the
// smallest TTL of the records they used.
//
// The servers are asked directly, over UDP with an EDNS0 buffer of 4096
// bytes, and again over TCP when the answer comes back truncated. Each
// query has a random ID and a timeout (Config.Timeout, 2s); an answer
// whose ID or question is not the query's is ignored. A server that times
// out or answers SERVFAIL (or REFUSED, ...) is followed by the next one;
// an NXDOMAIN is final. Names are absolute: resolv.conf's search list and
// ndots are not applied, and /etc/hosts is not read (as with nginx's
// resolver).
//
// Go's net.Resolver is not used because it does not expose TTLs, and the
// TTL is what tells Watch when to look again. github.com/miekg/dns builds
// the queries and parses the answers.
//
// # Watching
//
// Watch looks a Query up, then again when the TTL runs out, and calls
// update with the first set and with each set that differs from the last
// one (a refresh that finds the same targets calls nothing). The TTL is
// clamped to [MinTTL, MaxTTL], 1s to 1h, so a TTL of 0 means a lookup a
// second and a week-long TTL one an hour. Config.Valid, when set,
// replaces the TTL (nginx's valid=).
//
// A failed lookup keeps the last good set: a timeout, a SERVFAIL, an
// NXDOMAIN or an empty answer does not empty the upstream, it only leaves
// it as it was. update is not called, the first failure of a streak is
// logged at Warn and the recovery at Info, and the lookup is retried after
// 1s, 2s, 4s and so on up to 30s, but never later than the next normal
// refresh. With a TTL of 5s and a server down for a minute, the lookups
// come at 5s (fails), 6s, 8s, 12s, 17s, 22s, ... (every 5s, the TTL
// capping the backoff), and the first one after the server is back
// reports any change. A name that does not exist yet when Watch starts
// gives no update until it does. WatchLookups also reports each lookup's
// outcome, answered or failed, for a caller that shows which names fail.
//
// # SRV priorities and weights
//
// The records with the lowest priority in an answer are the primaries;
// those of any higher priority become Backup targets, to use only when no
// primary is up (nginx resolves them as backup servers; it does not rank
// backups among themselves, and neither does this package). A weight of 0
// becomes 1, since to a load balancer it means "rarely" rather than
// "never". For "_http._tcp.app.internal" with
//
//	_http._tcp.app.internal. 60 IN SRV 10 60 8080 a.app.internal.
//	_http._tcp.app.internal. 60 IN SRV 10 0  8080 b.app.internal.
//	_http._tcp.app.internal. 60 IN SRV 20 5  9090 c.app.internal.
//
// and one address each, the targets are a:8080 with weight 60, b:8080 with
// weight 1 and c:9090, a backup with weight 5. A target's addresses come
// from the answer's additional section when the server put them there,
// and from a lookup of their own otherwise (eight at a time). A target
// whose name does not exist is skipped; a target that cannot be looked up
// (a timeout, a SERVFAIL) fails the whole lookup, so that a passing fault
// keeps the last set rather than shrinking it. A record whose target is
// "." says there is no such service.
//
// # Bounds
//
// A lookup keeps at most MaxTargets (64) targets per name, after sorting
// primaries first and then by address, so the same ones are kept each
// time; the rest are dropped with a warning in the log (LookupHost and
// LookupSRV log each time, Watch only when the set changes). An SRV answer
// has at most 64 records used, so at most 64 targets are looked up. A
// CNAME chain longer than MaxCNAME (8) fails, which also ends loops.
// Answers are at most 4096 bytes over UDP and 64 KiB over TCP. Every
// network wait has Config.Timeout as its deadline and ends as soon as the
// caller's context does.
//
// # Concurrency
//
// A Resolver is safe for concurrent use; it holds no lock, only its
// configuration and two atomic counters, which Stats reads for metrics.
// Each Watch is one goroutine, the caller's: run one per upstream server
// entry, and cancel its context to stop it. A lookup starts a goroutine
// for its AAAA question (and some for SRV targets) and waits for them
// before it returns. The zero Config asks the nameservers of
// /etc/resolv.conf. The zero Resolver has no server: its lookups fail
// with ErrInvalidConfig.
//
// # Configuration
//
// In phalanx.conf, resolver in the main block gives Config.Servers and
// Config.Valid and Config.Timeout; without it the nameservers of
// /etc/resolv.conf are used. In an upstream block, a server with the flag
// resolve is watched with Query{Host, Port}, and a service with
// Query{Host, SRV: true}:
//
//	resolver 10.0.0.2 10.0.0.3:5353 valid=30s timeout=2s;
//
//	upstream app {
//	    server app.internal:8000 resolve;         # A and AAAA, port 8000
//	    service _http._tcp.app.internal resolve;  # SRV: ports, weights, backups
//	}
//
// valid= is off by default (the TTL decides) and timeout= is 2s.
package resolve
