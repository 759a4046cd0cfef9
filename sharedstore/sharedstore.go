package sharedstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults of Config, and the timing of the store.
const (
	defaultPrefix  = "phalanx:"
	defaultTimeout = 50 * time.Millisecond  // a limit check must not stall a request
	probeEvery     = time.Second            // while Redis is down, one limit check this often tries it
	retryEvery     = 250 * time.Millisecond // while Redis is down, WAF sharing tries it this often
	callTimeout    = time.Second            // a background call's budget (WAF sharing, the first ping)
	dialTimeout    = time.Second            // a connection's, capped by the caller's deadline
)

// Config sets up a Store. Every field but URL may be left zero; its
// meaning is written beside it.
type Config struct {
	// URL is the Redis server: redis://[user:pass@]host[:port][/db], or
	// rediss:// for TLS. The port defaults to 6379 and the database to 0;
	// query parameters are not accepted.
	URL string
	// Prefix starts every key the store writes, so that several fleets
	// (or a fleet and other programs) can share a Redis database. ""
	// means "phalanx:". Instances share state only if they use the same
	// URL and Prefix.
	Prefix string
	// Timeout bounds each Redis call of a limit check: the latency a
	// request may pay for a fleet-wide limit. 0 means 50ms. A call that
	// takes longer counts as Redis being unreachable.
	Timeout time.Duration
	// FailClosed refuses every check (a 429) while Redis is unreachable,
	// instead of deciding it with the instance's local limiter.
	FailClosed bool
	// Logger gets one line when Redis becomes unreachable and one when it
	// answers again. nil means slog.Default().
	Logger *slog.Logger
}

// Store is a connection to the Redis server that instances of a fleet
// share. Its Limiters enforce rate limits across the fleet and ShareWAF
// shares a WAF engine's strikes and bans.
//
// A Store is safe for concurrent use and must not be copied.
type Store struct {
	rdb        *redis.Client
	prefix     string
	timeout    time.Duration
	failClosed bool
	log        *slog.Logger
	where      string // the server, without credentials, for the log

	// down is set while Redis is taken for unreachable; probeAt is then
	// when (unix nanoseconds) the next limit check may try it.
	down        atomic.Bool
	probeAt     atomic.Int64
	checkFailAt atomic.Int64 // when (unix nanoseconds) a limit check's call last failed
	stats       counters

	ctx       context.Context // canceled by Close; the background goroutines end with it
	cancel    context.CancelFunc
	wg        sync.WaitGroup // the background goroutines
	closeOnce sync.Once
}

// Stats are a Store's counters since Open, a snapshot the caller may keep.
type Stats struct {
	// Checks counts the events the store's Limiters were asked about.
	Checks uint64
	// Fallbacks counts the checks decided without Redis, because it was
	// unreachable: by the local limiter or, with Config.FailClosed,
	// refused.
	Fallbacks uint64
	// Errors counts the Redis calls that failed or timed out, of limit
	// checks and of WAF sharing.
	Errors uint64
	// Up reports whether the store takes Redis for reachable: true until
	// a call fails, then false until one succeeds again.
	Up bool
	// BansSent and the others count the WAF changes written to Redis and
	// those applied from other instances (or, for bans, from the stored
	// set when sharing starts or Redis returns). A strike is one
	// Hooks.Strike call, whatever its count.
	BansSent, BansReceived       uint64
	UnbansSent, UnbansReceived   uint64
	StrikesSent, StrikesReceived uint64
	// Dropped counts the WAF changes not sent because too many were
	// waiting for Redis to return (the oldest go first).
	Dropped uint64
}

// counters are the atomics behind Stats.
type counters struct {
	checks, fallbacks, errors             atomic.Uint64
	bansSent, bansReceived                atomic.Uint64
	unbansSent, unbansReceived            atomic.Uint64
	strikesSent, strikesReceived, dropped atomic.Uint64
}

// Open returns a Store for c. It connects lazily: it fails only for a bad
// Config (wrapping ErrURL or ErrConfig), not for a Redis server that is
// down, whose Limiters then fall back (and one line is logged).
func Open(c Config) (*Store, error) {
	opt, err := parseURL(c.URL)
	if err != nil {
		return nil, err
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("%w: Timeout is %v, want 0 or more", ErrConfig, c.Timeout)
	}
	timeout := cmp.Or(c.Timeout, defaultTimeout)
	// Every call has a deadline: a limit check's is Timeout, a background
	// call's callTimeout. go-redis then needs no timeouts or retries of
	// its own, which would only stretch the calls.
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout = dialTimeout
	opt.DialerRetries = 1
	opt.ReadTimeout = callTimeout
	opt.WriteTimeout = callTimeout
	opt.PoolTimeout = callTimeout
	opt.MaxRetries = -1
	opt.DisableIdentity = true // no CLIENT SETINFO: one round trip less per connection
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	s := &Store{
		rdb:        redis.NewClient(opt),
		prefix:     cmp.Or(c.Prefix, defaultPrefix),
		timeout:    timeout,
		failClosed: c.FailClosed,
		log:        c.Logger,
		where:      fmt.Sprintf("%s/%d", opt.Addr, opt.DB),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	quietRedis.Do(func() { redis.SetLogger(redisLog{}) })
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// One ping, so that a server down at start is logged at once rather
	// than at the first check.
	s.goSafe(func() {
		ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
		defer cancel()
		err := s.rdb.Ping(ctx).Err()
		if s.ctx.Err() == nil {
			s.done(false, err)
		}
	})
	return s, nil
}

// parseURL checks raw and returns its options, or an error naming what
// is wrong with it.
func parseURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the message without the URL, which may hold a password
		}
		return nil, fmt.Errorf("%w: %v", ErrURL, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrURL, u.Redacted(), fmt.Sprintf(format, args...))
	}
	switch {
	case raw == "":
		return nil, fmt.Errorf("%w: empty", ErrURL)
	case u.Scheme != "redis" && u.Scheme != "rediss":
		return nil, bad("scheme %q, want redis or rediss", u.Scheme)
	case u.Opaque != "" || u.Hostname() == "":
		return nil, bad("no host, want redis://host:port/db")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, bad("query parameters are not supported")
	case u.Fragment != "":
		return nil, bad("a fragment is not supported")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, bad("port %q, want 1 to 65535", p)
		}
	}
	if db := u.Path; db != "" && db != "/" {
		if n, err := strconv.Atoi(db[1:]); err != nil || n < 0 {
			return nil, bad("database %q, want a number, 0 or more", db[1:])
		}
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, bad("%v", err)
	}
	return opt, nil
}

// Close stops the sharing ShareWAF started and closes the connections.
// The Limiters then decide every check locally, as if Redis were down,
// without logging it. Close returns the error of closing the connections,
// and nil when called again.
func (s *Store) Close() error {
	err := error(nil)
	s.closeOnce.Do(func() {
		s.cancel()
		err = s.rdb.Close() // ends a read blocked in Redis at once
		s.wg.Wait()
	})
	return err
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	return Stats{
		Checks:          s.stats.checks.Load(),
		Fallbacks:       s.stats.fallbacks.Load(),
		Errors:          s.stats.errors.Load(),
		Up:              !s.down.Load(),
		BansSent:        s.stats.bansSent.Load(),
		BansReceived:    s.stats.bansReceived.Load(),
		UnbansSent:      s.stats.unbansSent.Load(),
		UnbansReceived:  s.stats.unbansReceived.Load(),
		StrikesSent:     s.stats.strikesSent.Load(),
		StrikesReceived: s.stats.strikesReceived.Load(),
		Dropped:         s.stats.dropped.Load(),
	}
}

// try reports whether a limit check may call Redis at now (unix
// nanoseconds): always while it is up; while it is down, one check per
// probeEvery, the probe, without making the others wait.
func (s *Store) try(now int64) (ok, probe bool) {
	if !s.down.Load() {
		return true, false
	}
	at := s.probeAt.Load()
	if now < at || !s.probeAt.CompareAndSwap(at, now+int64(probeEvery)) {
		return false, false
	}
	return true, true
}

// done records the outcome of a background Redis call (of WAF sharing)
// made while Redis was taken for down (wasDown) or up.
func (s *Store) done(wasDown bool, err error) { s.record(wasDown, err, false) }

// record records the outcome of a Redis call made while Redis was taken
// for down (wasDown) or up, by a limit check (check) or in the background.
// A failure of a call made while up marks Redis down, with one log line;
// a success of a call made while down marks it up again, with one line.
// Outcomes of calls that overlapped a change are ignored, so that a slow
// success cannot undo a failure seen since. A background call, whose
// budget is longer than a check's, does not mark Redis up while checks
// still fail: Redis may answer it and yet be too slow for checks, and
// the log would flap.
func (s *Store) record(wasDown bool, err error, check bool) {
	now := time.Now().UnixNano()
	if err == nil {
		if wasDown && (check || now-s.checkFailAt.Load() > int64(2*probeEvery)) && s.down.CompareAndSwap(true, false) {
			s.log.Info("sharedstore: redis answers again; limits and WAF state are shared again", "redis", s.where)
		}
		return
	}
	s.stats.errors.Add(1)
	if check {
		s.checkFailAt.Store(now)
	}
	if wasDown || s.down.Load() {
		return
	}
	s.probeAt.Store(now + int64(probeEvery))
	if s.down.CompareAndSwap(false, true) {
		fallback := "the local limiter"
		if s.failClosed {
			fallback = "refusal (fail closed)"
		}
		s.log.Warn("sharedstore: redis unreachable; limits fall back to "+fallback+" until it answers",
			"redis", s.where, "err", err)
	}
}

// quietRedis sets go-redis's logger, once per process.
var quietRedis sync.Once

// redisLog takes go-redis's own log lines (one per failed dial, for
// instance) to slog.Default at debug level: the store logs Redis's
// comings and goings itself, once each.
type redisLog struct{}

func (redisLog) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().Log(ctx, slog.LevelDebug, "sharedstore: go-redis: "+fmt.Sprintf(format, v...))
}

// goSafe runs f on a goroutine that Close waits for, and logs a panic in
// it instead of crashing the process.
func (s *Store) goSafe(f func()) {
	s.wg.Go(func() {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("sharedstore: panic in background goroutine", "panic", r)
			}
		}()
		f()
	})
}
