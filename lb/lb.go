package lb

import (
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Request is what a Picker may look at to choose a backend. It is passed by
// value so that picking never forces an allocation in the caller.
type Request struct {
	// ClientIP is the client's address as text (no port), as the proxy
	// resolved it. It is the hash key of iphash when HashKey is empty.
	ClientIP string
	// HashKey, if not empty, replaces ClientIP as the affinity key.
	HashKey string
}

// Key returns the affinity key of r: HashKey if set, else ClientIP.
func (r Request) Key() string {
	if r.HashKey != "" {
		return r.HashKey
	}
	return r.ClientIP
}

// Outcome is what happened to one request sent to a backend.
type Outcome struct {
	// Latency is the time from sending the request to receiving the
	// response headers (or to the failure).
	Latency time.Duration
	// Status is the HTTP status received, 0 if none was.
	Status int
	// ConnFailed reports that no response came back because the connection
	// to the backend failed (refused, reset, timed out).
	ConnFailed bool
	// TimedOut reports that the backend did not answer in time (ConnFailed
	// is then set too); Latency is the time waited.
	TimedOut bool
	// Canceled reports that the request ended without telling anything
	// about the backend: it was never sent, or the client went away or
	// broke its body off first. It only ends the in-flight count.
	Canceled bool
}

// Failed reports whether o counts against the backend's health: a
// connection failure or a 5xx status, unless the request was canceled.
func (o Outcome) Failed() bool { return !o.Canceled && (o.ConnFailed || o.Status >= 500) }

// Result is a Picker's choice.
type Result struct {
	// Backend is the chosen backend. The caller calls Backend.Start before
	// sending and Backend.Finish when the request ends.
	Backend *Backend
	// Done, if not nil, is called once with the outcome after
	// Backend.Finish. Pickers that learn from outcomes set it; it must not
	// be a fresh closure per pick (that would allocate).
	Done func(*Backend, Outcome)
}

// Picker chooses a backend for one request. A Picker is an immutable
// snapshot built from the backends that were usable when it was built; the
// Pool replaces it when membership or health changes.
//
// Pick never blocks, takes no lock and allocates nothing. It returns
// ErrNoBackend when it has nothing to offer; callers answer 503.
// Pick is safe for concurrent use.
type Picker interface {
	Pick(r Request) (Result, error)
}

// Builder turns a snapshot of usable backends into a Picker. backends is
// never empty and must not be modified or retained beyond the Picker's
// lifetime (the Picker may keep it).
type Builder interface {
	Build(backends []*Backend) Picker
}

// Forgetter is implemented by Builders that keep state per backend
// address beyond the Pickers they build, as BanditBuilder does: the Pool
// calls Forget with each address that leaves it (Pool.SetBackends), so
// that backends coming and going, as discovery finds them, do not grow
// that state without bound. A backend replaced at the same address, a
// backend marked down and a reload forget nothing.
type Forgetter interface {
	Forget(addr string)
}

// BuilderFunc adapts a function to a Builder.
type BuilderFunc func(backends []*Backend) Picker

// Build calls f(backends).
func (f BuilderFunc) Build(backends []*Backend) Picker { return f(backends) }

// errPicker always fails; it stands for "no backend" (as grpc's
// base.NewErrPicker).
type errPicker struct{ err error }

func (p errPicker) Pick(Request) (Result, error) { return Result{}, p.err }

// NewErrPicker returns a Picker whose Pick always returns err.
func NewErrPicker(err error) Picker { return errPicker{err: err} }

var (
	registryMu sync.RWMutex
	registry   = map[string]Builder{}
)

// Register makes a Builder available under name, for the config file's
// "algorithm NAME;" directive. It panics if name is empty or taken: that
// is a programming error found at init.
func Register(name string, b Builder) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if name == "" || b == nil {
		panic("lb: Register with empty name or nil builder")
	}
	if _, dup := registry[name]; dup {
		panic("lb: Register called twice for " + name)
	}
	registry[name] = b
}

// Lookup returns the Builder registered under name.
func Lookup(name string) (Builder, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	b, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownAlgorithm, name, namesLocked())
	}
	return b, nil
}

// Names returns the registered algorithm names, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return namesLocked()
}

// namesLocked requires registryMu held.
func namesLocked() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Backend is one upstream server. Its counters are atomics, so it is safe
// for concurrent use; it must not be copied after first use. A Backend
// belongs to one Pool at most, from NewPool or SetBackends until
// SetBackends takes it out; it may then join a pool again, with the state
// it had.
type Backend struct {
	addr   string
	weight int
	backup bool
	hash   uint64 // xxhash of addr, for rendezvous hashing

	// maxFails consecutive failures take the backend out for failTimeout
	// (passive health, as nginx's max_fails/fail_timeout). 0 disables.
	maxFails    int32
	failTimeout time.Duration

	inflight  atomic.Int64
	requests  atomic.Uint64
	failures  atomic.Uint64
	consec    atomic.Int32 // consecutive failures (passive)
	activeUp  atomic.Bool  // active health state
	downUntil atomic.Int64 // monoNanos at which the passive cool-down ends

	// pool is the Pool b belongs to, nil if none; it is notified of
	// passive health changes. Set by NewPool and SetBackends.
	pool atomic.Pointer[Pool]
}

// BackendConfig is the optional part of a backend's definition.
type BackendConfig struct {
	// Weight is the relative share of traffic; 0 means 1.
	Weight int
	// Backup backends get traffic only when no primary is usable.
	Backup bool
	// MaxFails consecutive failed requests (connection failure or 5xx) mark
	// the backend down for FailTimeout. 0 means 1; negative disables
	// passive marking.
	MaxFails int
	// FailTimeout is the passive cool-down; 0 means 10s.
	FailTimeout time.Duration
}

// NewBackend returns a Backend for addr ("host:port"), initially up.
func NewBackend(addr string, c BackendConfig) (*Backend, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("lb: backend address %q: %w", addr, err)
	}
	if c.Weight < 0 {
		return nil, fmt.Errorf("lb: backend %s: negative weight %d", addr, c.Weight)
	}
	if c.Weight == 0 {
		c.Weight = 1
	}
	if c.MaxFails == 0 {
		c.MaxFails = 1
	}
	if c.MaxFails < 0 {
		c.MaxFails = 0
	}
	if c.FailTimeout <= 0 {
		c.FailTimeout = 10 * time.Second
	}
	b := &Backend{
		addr:        addr,
		weight:      c.Weight,
		backup:      c.Backup,
		hash:        xxhash.Sum64String(addr),
		maxFails:    int32(c.MaxFails),
		failTimeout: c.FailTimeout,
	}
	b.activeUp.Store(true)
	return b, nil
}

// sameConfig reports whether b and o were made with the same
// BackendConfig (after defaults).
func (b *Backend) sameConfig(o *Backend) bool {
	return b.weight == o.weight && b.backup == o.backup && b.maxFails == o.maxFails && b.failTimeout == o.failTimeout
}

// Addr returns the backend's "host:port".
func (b *Backend) Addr() string { return b.addr }

// Weight returns the backend's weight (at least 1).
func (b *Backend) Weight() int { return b.weight }

// Backup reports whether b is a backup server.
func (b *Backend) Backup() bool { return b.backup }

// Hash returns the xxhash of the backend's address.
func (b *Backend) Hash() uint64 { return b.hash }

// InFlight returns the number of requests sent to b and not yet finished.
func (b *Backend) InFlight() int64 { return b.inflight.Load() }

// Requests returns the number of requests ever started on b.
func (b *Backend) Requests() uint64 { return b.requests.Load() }

// Failures returns the number of requests on b that failed.
func (b *Backend) Failures() uint64 { return b.failures.Load() }

// Healthy reports whether b may get traffic now: up by its active checks
// and not in a passive cool-down.
func (b *Backend) Healthy() bool { return b.healthyAt(time.Now()) }

func (b *Backend) healthyAt(now time.Time) bool {
	return b.activeUp.Load() && monoNanos(now) >= b.downUntil.Load()
}

// epoch anchors monoNanos.
var epoch = time.Now()

// monoNanos reads t on the monotonic clock, so cool-downs agree with the
// timers that end them even if the wall clock jumps.
func monoNanos(t time.Time) int64 { return int64(t.Sub(epoch)) }

// Inherit copies old's health (active verdict, passive cool-down,
// consecutive failures) and totals into b, for a backend that survives a
// configuration reload as a new Backend. Call it before b joins a Pool.
// In-flight requests stay counted on old, where they will finish.
func (b *Backend) Inherit(old *Backend) {
	b.activeUp.Store(old.activeUp.Load())
	b.downUntil.Store(old.downUntil.Load())
	b.consec.Store(old.consec.Load())
	b.requests.Store(old.requests.Load())
	b.failures.Store(old.failures.Load())
}

// Start records that a request is being sent to b.
func (b *Backend) Start() {
	b.inflight.Add(1)
	b.requests.Add(1)
}

// Finish records the end of a request started with Start and applies
// passive health marking.
func (b *Backend) Finish(o Outcome) {
	b.inflight.Add(-1)
	if o.Canceled {
		return
	}
	if !o.Failed() {
		b.consec.Store(0)
		return
	}
	b.failures.Add(1)
	n := b.consec.Add(1)
	if b.maxFails > 0 && n >= b.maxFails {
		b.consec.Store(0)
		b.markPassiveDown(time.Now())
	}
}

// markPassiveDown starts a cool-down unless one is already running.
func (b *Backend) markPassiveDown(now time.Time) {
	until := monoNanos(now.Add(b.failTimeout))
	old := b.downUntil.Load()
	if old > monoNanos(now) || !b.downUntil.CompareAndSwap(old, until) {
		return // already cooling down, or someone else just did it
	}
	if p := b.pool.Load(); p != nil {
		p.passiveDown(b, b.failTimeout)
	}
}
