package resolve

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Bounds on what one lookup keeps and follows.
const (
	// MaxTargets is the most targets a lookup returns for one name. The
	// rest are dropped, after sorting (so primaries are kept before
	// backups, and the same addresses are kept every time) and with a
	// warning in the log.
	MaxTargets = 64

	// MaxCNAME is the longest CNAME chain a lookup follows; a longer one,
	// or a loop, fails with ErrCNAMEChain.
	MaxCNAME = 8

	// MinTTL and MaxTTL bound the interval at which Watch looks a name up
	// again: a record's TTL (0 included) is clamped to [MinTTL, MaxTTL].
	MinTTL = time.Second
	MaxTTL = time.Hour
)

// Defaults for the zero fields of Config, and Watch's retry backoff.
const (
	defaultPort    = 53              // a server given without a port
	defaultTimeout = 2 * time.Second // Config.Timeout: per query, as in resolv.conf(5)
	ednsSize       = 4096            // EDNS0 UDP payload size offered to servers
	backoffMin     = time.Second     // Watch's first retry after a failure
	backoffMax     = 30 * time.Second
	hostLookups    = 8 // SRV targets looked up at once
)

// resolvConf is read when Config.Servers is empty; tests point it
// elsewhere.
var resolvConf = "/etc/resolv.conf"

// Config tunes a Resolver. The zero Config uses the nameservers of
// /etc/resolv.conf, the records' TTLs and a 2s timeout.
type Config struct {
	// Servers are the DNS servers to ask, as "ip:port" or "ip" (port 53);
	// an IPv6 address with a port is written "[ip]:port". They are tried
	// in order: a server that does not answer within Timeout, or answers
	// with an error other than NXDOMAIN, is followed by the next. Empty
	// means the nameservers of /etc/resolv.conf.
	Servers []string

	// Valid, if positive, is the interval at which Watch looks a name up
	// again, whatever the records' TTL (nginx's valid=). Zero means the
	// TTL, clamped to [MinTTL, MaxTTL].
	Valid time.Duration

	// Timeout bounds one query to one server: the UDP exchange, and then
	// the TCP one if the UDP answer was truncated. Zero means 2s.
	Timeout time.Duration

	// Logger receives Watch's warnings (a failure streak, a truncated
	// set). Nil means slog.Default().
	Logger *slog.Logger
}

// Target is one address to send traffic to.
type Target struct {
	// Addr is "ip:port", with an IPv6 address in brackets: "[2001:db8::1]:80".
	Addr string
	// Weight is the SRV record's weight, with 0 made 1 so that every
	// target can be picked; it is 1 for A and AAAA records.
	Weight int
	// Backup marks a target from an SRV record whose priority is above the
	// lowest one in the answer: use it only when no primary is up (nginx
	// marks these backup).
	Backup bool
}

// Query names what Watch follows: a host and port (A and AAAA records),
// or an SRV name.
type Query struct {
	// Host is the name to look up, absolute whether or not it ends in a
	// dot; an IP address stands for itself. With SRV set it is the SRV
	// name, such as "_http._tcp.example.com".
	Host string
	// Port is the port of every target of a host lookup; SRV records
	// carry their own, and Port is then ignored.
	Port int
	// SRV asks for SRV records instead of A and AAAA.
	SRV bool
}

// Stats counts lookups, for metrics.
type Stats struct {
	// Lookups counts LookupHost and LookupSRV calls, Watch's included.
	Lookups uint64
	// Failures counts the lookups that returned an error.
	Failures uint64
}

// Resolver looks names up by asking DNS servers directly, so that it
// knows the records' TTLs. Create one with New; the zero Resolver has no
// server, and its lookups fail with ErrInvalidConfig.
//
// A Resolver is safe for concurrent use: its configuration does not
// change after New and its counters are atomic. It must not be copied.
type Resolver struct {
	servers []string // "ip:port", tried in order
	valid   time.Duration
	timeout time.Duration
	log     *slog.Logger

	lookups  atomic.Uint64
	failures atomic.Uint64
}

// New returns a Resolver for c, or an error wrapping ErrInvalidConfig.
// With c.Servers empty it reads /etc/resolv.conf once, now; its search
// and ndots options are ignored, as nginx's resolver ignores them.
func New(c Config) (*Resolver, error) {
	if c.Valid < 0 {
		return nil, fmt.Errorf("%w: Valid %v is negative", ErrInvalidConfig, c.Valid)
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("%w: Timeout %v is negative", ErrInvalidConfig, c.Timeout)
	}
	r := &Resolver{valid: c.Valid, timeout: c.Timeout, log: c.Logger}
	if r.timeout == 0 {
		r.timeout = defaultTimeout
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	servers := c.Servers
	if len(servers) == 0 {
		cc, err := dns.ClientConfigFromFile(resolvConf)
		if err != nil {
			return nil, fmt.Errorf("%w: Servers is empty and %s cannot be read: %v", ErrInvalidConfig, resolvConf, err)
		}
		for _, s := range cc.Servers {
			servers = append(servers, joinHostPort(s, cc.Port))
		}
		if len(servers) == 0 {
			return nil, fmt.Errorf("%w: Servers is empty and %s has no nameserver", ErrInvalidConfig, resolvConf)
		}
	}
	for _, s := range servers {
		addr, err := parseServer(s)
		if err != nil {
			return nil, fmt.Errorf("%w: Servers: %v", ErrInvalidConfig, err)
		}
		r.servers = append(r.servers, addr)
	}
	return r, nil
}

// logger returns the Logger of the Config, or slog.Default() for the zero
// Resolver.
func (r *Resolver) logger() *slog.Logger {
	if r.log == nil {
		return slog.Default()
	}
	return r.log
}

// Stats returns the counts so far. It only loads two atomics.
func (r *Resolver) Stats() Stats {
	return Stats{Lookups: r.lookups.Load(), Failures: r.failures.Load()}
}

// parseServer turns "ip", "ip:port" or "[ip]:port" into "ip:port".
func parseServer(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return "", fmt.Errorf("%q has port 0", s)
		}
		return ap.String(), nil
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return "", fmt.Errorf("%q is not an IP address with an optional port", s)
	}
	return netip.AddrPortFrom(a, defaultPort).String(), nil
}

// joinHostPort joins a resolv.conf nameserver and port for parseServer.
func joinHostPort(host, port string) string {
	if port == "" {
		return host
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// clampTTL bounds a refresh interval to [MinTTL, MaxTTL].
func clampTTL(d time.Duration) time.Duration {
	return min(max(d, MinTTL), MaxTTL)
}
