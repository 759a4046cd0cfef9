package lb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// PoolConfig is the optional part of a pool's definition.
type PoolConfig struct {
	// Builder makes the pool's Picker; nil means round robin.
	Builder Builder
	// Health configures active checks; its zero value means TCP connect
	// checks every 5s (see HealthCheck).
	Health HealthCheck
	// Logger receives health transitions; nil means slog.Default().
	Logger *slog.Logger
	// OnEvent, if not nil, is told of every health check, every
	// transition and every backend that joins or leaves, for metrics. It
	// is called synchronously from the health checkers, from requests
	// that trip passive marking and from SetBackends, with the pool's
	// lock held: it must be quick and must not call back into the Pool.
	// No event about a backend follows its Left event (until it joins
	// again).
	OnEvent func(Event)
}

// Event is something that happened to a backend: a health check, a
// health transition, or a change of membership.
type Event struct {
	Kind    EventKind
	Backend *Backend
	// Check is "active" or "passive": what saw the change (for Checked,
	// always "active"). It is empty for Joined and Left.
	Check string
	// Err is the probe's failure, nil if it passed (Checked only).
	Err error
}

// EventKind tells Events apart.
type EventKind int

const (
	// Checked: an active health probe ran.
	Checked EventKind = iota
	// WentDown: the backend stopped getting traffic.
	WentDown
	// CameUp: the backend gets traffic again.
	CameUp
	// Joined: SetBackends added the backend to the pool.
	Joined
	// Left: SetBackends took the backend out of the pool.
	Left
)

// String returns "checked", "down", "up", "joined" or "left".
func (k EventKind) String() string {
	switch k {
	case Checked:
		return "checked"
	case WentDown:
		return "down"
	case CameUp:
		return "up"
	case Joined:
		return "joined"
	case Left:
		return "left"
	}
	return "unknown"
}

// Pool is a named set of backends with a Picker over the usable ones. The
// Picker is rebuilt whenever a backend goes down or comes back, or
// SetBackends changes the membership, so Pick reads one immutable
// snapshot through an atomic pointer.
//
// A Pool is safe for concurrent use and must not be copied.
type Pool struct {
	name    string
	builder Builder
	health  HealthCheck
	logger  *slog.Logger
	onEvent func(Event)
	picker  atomic.Pointer[pickerBox]
	// backends holds the members. The slice is never modified: SetBackends
	// stores a new one, with mu held, and Backends hands it out as is.
	backends atomic.Pointer[[]*Backend]

	// mu protects timers, checkers, closed, ctx and cancel, and
	// serialises rebuilds and membership changes. A backend's pool field
	// changes only with the mu of the pool it joins or leaves held (or in
	// NewPool, before anyone else sees the pool).
	mu       sync.Mutex
	timers   map[*Backend]*time.Timer        // passive cool-downs
	checkers map[*Backend]context.CancelFunc // stops a backend's checkLoop
	closed   bool
	ctx      context.Context // Start's, the parent of every checker's; nil before Start
	cancel   context.CancelFunc
	wg       sync.WaitGroup // health-check goroutines, members or not
}

type pickerBox struct {
	Picker
	usable int // backends the Picker chooses among
}

// NewPool returns a pool over backends. Each backend may belong to one
// pool only. Active health checks start with Start.
func NewPool(name string, backends []*Backend, c PoolConfig) (*Pool, error) {
	if name == "" {
		return nil, errors.New("lb: pool without a name")
	}
	if c.Builder == nil {
		c.Builder = RoundRobin{}
	}
	if f, ok := c.Builder.(Factory); ok {
		c.Builder = f.NewBuilder()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	h, err := c.Health.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("lb: pool %s: %w", name, err)
	}
	p := &Pool{
		name:     name,
		builder:  c.Builder,
		health:   h,
		logger:   c.Logger,
		onEvent:  c.OnEvent,
		timers:   make(map[*Backend]*time.Timer),
		checkers: make(map[*Backend]context.CancelFunc),
	}
	if err := p.checkNew(backends); err != nil {
		return nil, err
	}
	members := append([]*Backend(nil), backends...)
	if err := p.attach(members); err != nil {
		return nil, err
	}
	p.backends.Store(&members)
	p.mu.Lock()
	p.rebuildLocked()
	now := time.Now()
	for _, b := range members {
		p.resumeCoolDownLocked(b, now)
	}
	p.mu.Unlock()
	return p, nil
}

// checkNew checks backends offered to p: none nil, no address twice, none
// in another pool.
func (p *Pool) checkNew(backends []*Backend) error {
	seen := make(map[string]bool, len(backends))
	for i, b := range backends {
		if b == nil {
			return fmt.Errorf("lb: pool %s: backend %d is nil", p.name, i)
		}
		if q := b.pool.Load(); q != nil && q != p {
			return fmt.Errorf("lb: pool %s: backend %s already belongs to pool %s", p.name, b.addr, q.name)
		}
		if seen[b.addr] {
			return fmt.Errorf("lb: pool %s: backend %s listed twice", p.name, b.addr)
		}
		seen[b.addr] = true
	}
	return nil
}

// attach makes p the pool of every backend of bs, which must belong to
// none, or of none of them if one was taken meanwhile by another pool.
func (p *Pool) attach(bs []*Backend) error {
	for i, b := range bs {
		if !b.pool.CompareAndSwap(nil, p) {
			for _, a := range bs[:i] {
				a.pool.Store(nil)
			}
			name := "another"
			if q := b.pool.Load(); q != nil {
				name = q.name
			}
			return fmt.Errorf("lb: pool %s: backend %s already belongs to pool %s", p.name, b.addr, name)
		}
	}
	return nil
}

// resumeCoolDownLocked brings b, a backend joining p, back on time if it
// comes in a passive cool-down (inherited, or from an earlier pool).
// Requires p.mu held.
func (p *Pool) resumeCoolDownLocked(b *Backend, now time.Time) {
	if left := b.downUntil.Load() - monoNanos(now); left > 0 {
		p.endCoolDownLocked(b, time.Duration(left))
	}
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Builder returns the Builder the pool makes its Pickers with (for a
// Factory, the Builder its NewBuilder returned).
func (p *Pool) Builder() Builder { return p.builder }

// Backends returns every backend of the pool, usable or not. The slice is
// a snapshot, safe to read while SetBackends runs: it never changes, and
// it must not be modified. Call Backends again to see a later membership.
func (p *Pool) Backends() []*Backend { return *p.backends.Load() }

// Pick chooses a backend with the current Picker.
func (p *Pool) Pick(r Request) (Result, error) { return p.picker.Load().Pick(r) }

// Usable returns how many backends the current Picker chooses among:
// the healthy primaries, or the healthy backups when no primary is.
func (p *Pool) Usable() int { return p.picker.Load().usable }

// SetBackends makes bs the pool's backends, for membership that changes
// at run time (service discovery); it returns the backends that joined
// and those that left, in the order of bs and of Backends.
//
// A backend of bs whose address is already in the pool with the same
// configuration (weight, backup, max_fails and fail_timeout) is ignored:
// the existing one stays, with its health, counters, in-flight requests
// and what a learning picker learned. One whose configuration changed
// replaces the old one, in its place, and inherits its state
// (Backend.Inherit); requests in flight stay counted on the old one, which
// is in left as the new one is in joined. Other backends of bs join, at
// the end, in the order of bs; backends that stay keep their order, so
// that answers merely reordered (as DNS rotates them) change nothing.
//
// A joining backend keeps its own state: one fresh from NewBackend is
// healthy and gets traffic at once, as nginx and Envoy put a newly
// discovered host in rotation; one in a passive cool-down comes back when
// it ends. If the pool's active checks are running (Start was called, its
// context is not done, and the pool is not closed), its checks start at
// once and its first probe runs immediately.
//
// Backends that leave stop at once: Pick no longer returns them, their
// health checks (a probe in flight is cut short) and cool-down timers
// stop, and no Event about them follows their Left event. Requests in
// flight on them finish normally; failures then reported through Finish
// no longer affect the pool. A backend that left belongs to no pool and
// may join one again.
//
// After a change the Picker is rebuilt, OnEvent is told Left for each
// backend that left and then Joined for each that joined, and one line is
// logged per address: "backend left", "backend joined" or "backend
// changed". SetBackends with the same set changes nothing.
//
// bs may be empty: the pool then has no backend and Pick returns
// ErrNoBackend. Service discovery should therefore keep the last good set
// itself when a lookup fails or comes back empty, rather than pass it on.
// A nil backend, an address listed twice, or a backend that belongs to
// another pool is an error, as is a closed pool (ErrClosed); the pool is
// then unchanged. bs itself is neither kept nor modified.
func (p *Pool) SetBackends(bs []*Backend) (joined, left []*Backend, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil, fmt.Errorf("%w: %s", ErrClosed, p.name)
	}
	if err := p.checkNew(bs); err != nil {
		return nil, nil, err
	}
	cur := p.Backends()
	byAddr := make(map[string]*Backend, len(cur))
	for _, b := range cur {
		byAddr[b.addr] = b
	}
	next := make(map[string]*Backend, len(bs)) // the member at each address of bs
	for _, b := range bs {
		old := byAddr[b.addr]
		if old == b || old != nil && old.sameConfig(b) {
			next[b.addr] = old
			continue
		}
		next[b.addr] = b
		joined = append(joined, b)
	}
	members := make([]*Backend, 0, len(bs))
	for _, old := range cur {
		switch b := next[old.addr]; b {
		case old:
			members = append(members, old)
		case nil:
			left = append(left, old)
		default: // replaced
			left = append(left, old)
			members = append(members, b)
		}
	}
	if len(joined) == 0 && len(left) == 0 {
		return nil, nil, nil
	}
	if err := p.attach(joined); err != nil {
		return nil, nil, err
	}
	for _, b := range joined {
		if old := byAddr[b.addr]; old != nil {
			b.Inherit(old)
		} else {
			members = append(members, b)
		}
	}

	for _, old := range left {
		p.stopCheckerLocked(old)
		p.stopTimerLocked(old)
		old.pool.Store(nil)
	}
	now := time.Now()
	for _, b := range joined {
		p.resumeCoolDownLocked(b, now)
	}
	p.backends.Store(&members)
	p.rebuildLocked()

	f, _ := p.builder.(Forgetter)
	for _, old := range left {
		p.event(Event{Kind: Left, Backend: old})
		if next[old.addr] == nil {
			p.logger.Info("backend left", "pool", p.name, "backend", old.addr, "in_flight", old.InFlight())
			if f != nil {
				f.Forget(old.addr)
			}
		}
	}
	for _, b := range joined {
		p.event(Event{Kind: Joined, Backend: b})
		if old := byAddr[b.addr]; old != nil {
			p.logger.Info("backend changed", "pool", p.name, "backend", b.addr, "weight", b.weight,
				"backup", b.backup, "max_fails", b.maxFails, "fail_timeout", b.failTimeout)
		} else {
			p.logger.Info("backend joined", "pool", p.name, "backend", b.addr, "weight", b.weight, "backup", b.backup)
		}
		p.startCheckerLocked(b, 0)
	}
	return joined, left, nil
}

// rebuildLocked builds a Picker over the healthy primaries, or over the
// healthy backups when no primary is usable. Requires p.mu held.
func (p *Pool) rebuildLocked() {
	now := time.Now()
	var primary, backup []*Backend
	for _, b := range p.Backends() {
		if !b.healthyAt(now) {
			continue
		}
		if b.backup {
			backup = append(backup, b)
		} else {
			primary = append(primary, b)
		}
	}
	usable := primary
	if len(usable) == 0 {
		usable = backup
	}
	var pk Picker
	if len(usable) == 0 {
		pk = NewErrPicker(fmt.Errorf("%w in pool %s", ErrNoBackend, p.name))
	} else {
		pk = p.builder.Build(usable)
	}
	p.picker.Store(&pickerBox{Picker: pk, usable: len(usable)})
}

// setActiveUp records an active health-check verdict and rebuilds the
// Picker on a transition.
func (p *Pool) setActiveUp(b *Backend, up bool, cause string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || b.pool.Load() != p || b.activeUp.Load() == up {
		return // closed, b left (a probe ending as it did), or no change
	}
	wasHealthy := b.healthyAt(time.Now())
	b.activeUp.Store(up)
	p.rebuildLocked() // before the log line and the event: Pick agrees at once
	switch {
	case up && !b.healthyAt(time.Now()):
		p.logger.Info("backend passes active checks but is still cooling down", "pool", p.name, "backend", b.addr, "cause", cause)
	case up:
		p.logger.Info("backend up", "pool", p.name, "backend", b.addr, "check", "active", "cause", cause)
		p.event(Event{Kind: CameUp, Backend: b, Check: "active"})
	default:
		p.logger.Warn("backend down", "pool", p.name, "backend", b.addr, "check", "active", "cause", cause)
		if wasHealthy {
			p.event(Event{Kind: WentDown, Backend: b, Check: "active"})
		}
	}
}

// passiveDown takes b out for d after too many failed requests, and puts
// it back when the cool-down ends.
func (p *Pool) passiveDown(b *Backend, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || b.pool.Load() != p {
		return // closed, or b left the pool (a request finishing after)
	}
	if b.activeUp.Load() { // else active checks already took it out
		p.logger.Warn("backend down", "pool", p.name, "backend", b.addr, "check", "passive",
			"cause", fmt.Sprintf("%d consecutive failed requests", b.maxFails), "cooldown", d)
		p.event(Event{Kind: WentDown, Backend: b, Check: "passive"})
	}
	p.rebuildLocked()
	p.endCoolDownLocked(b, d)
}

// endCoolDownLocked puts b back into the Picker after d, replacing any
// earlier timer for it. Requires p.mu held.
func (p *Pool) endCoolDownLocked(b *Backend, d time.Duration) {
	if t := p.timers[b]; t != nil {
		t.Stop()
	}
	var t *time.Timer
	// The callback takes p.mu, so it cannot run before t is assigned.
	t = time.AfterFunc(d, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed || p.timers[b] != t {
			return // closed, or a newer cool-down replaced this one
		}
		delete(p.timers, b)
		if b.activeUp.Load() {
			p.logger.Info("backend up", "pool", p.name, "backend", b.addr, "check", "passive", "cause", "cool-down over")
			p.event(Event{Kind: CameUp, Backend: b, Check: "passive"})
		}
		p.rebuildLocked()
	})
	p.timers[b] = t
}

// event reports e to the OnEvent hook, if any. Every caller holds p.mu.
func (p *Pool) event(e Event) {
	if p.onEvent != nil {
		p.onEvent(e)
	}
}

// checked reports an active probe of b, unless b has left the pool.
func (p *Pool) checked(b *Backend, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed && b.pool.Load() == p {
		p.event(Event{Kind: Checked, Backend: b, Check: "active", Err: err})
	}
}

// Start begins active health checks, one goroutine per backend with at
// most one probe in flight each; the first probes come within a tenth of
// the Interval. They stop when ctx is done or on Close, and a backend's
// when it leaves the pool; backends that join later are checked under
// the same ctx. Start does nothing if checks are disabled or were already
// started, or after Close.
func (p *Pool) Start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.cancel != nil || p.health.Interval < 0 {
		return
	}
	p.ctx, p.cancel = context.WithCancel(ctx)
	for _, b := range p.Backends() {
		p.startCheckerLocked(b, jitter(p.health.Interval))
	}
}

// startCheckerLocked starts b's checkLoop, its first probe after first,
// if checks are running and b has none. Requires p.mu held.
func (p *Pool) startCheckerLocked(b *Backend, first time.Duration) {
	if p.closed || p.ctx == nil || p.ctx.Err() != nil || p.checkers[b] != nil {
		return
	}
	ctx, cancel := context.WithCancel(p.ctx)
	p.checkers[b] = cancel
	p.wg.Add(1)
	go p.checkLoop(ctx, b, first)
}

// stopCheckerLocked stops b's checkLoop, if any, without waiting for it.
// Requires p.mu held.
func (p *Pool) stopCheckerLocked(b *Backend) {
	if cancel := p.checkers[b]; cancel != nil {
		cancel()
		delete(p.checkers, b)
	}
}

// stopTimerLocked stops b's cool-down timer, if any. Requires p.mu held.
func (p *Pool) stopTimerLocked(b *Backend) {
	if t := p.timers[b]; t != nil {
		t.Stop()
		delete(p.timers, b)
	}
}

// Close stops health checks and cool-down timers and waits for the
// checkers to return, those of backends that left included. The pool
// still answers Pick afterwards, from its last snapshot; SetBackends
// fails with ErrClosed.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	if p.cancel != nil {
		p.cancel()
	}
	for b := range p.checkers {
		p.stopCheckerLocked(b)
	}
	for b := range p.timers {
		p.stopTimerLocked(b)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
