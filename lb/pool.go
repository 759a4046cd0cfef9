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
	// OnEvent, if not nil, is told of every health check and every
	// transition, for metrics. It is called synchronously from the health
	// checkers and from requests that trip passive marking, sometimes
	// with the pool's lock held: it must be quick and must not call back
	// into the Pool.
	OnEvent func(Event)
}

// Event is something that happened to a backend's health.
type Event struct {
	Kind    EventKind
	Backend *Backend
	// Check is "active" or "passive": what saw the change (for Checked,
	// always "active").
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
)

// String returns "checked", "down" or "up".
func (k EventKind) String() string {
	switch k {
	case Checked:
		return "checked"
	case WentDown:
		return "down"
	case CameUp:
		return "up"
	}
	return "unknown"
}

// Pool is a named set of backends with a Picker over the usable ones. The
// Picker is rebuilt whenever a backend goes down or comes back, so Pick
// reads one immutable snapshot through an atomic pointer.
//
// A Pool is safe for concurrent use and must not be copied.
type Pool struct {
	name     string
	backends []*Backend
	builder  Builder
	health   HealthCheck
	logger   *slog.Logger
	onEvent  func(Event)
	picker   atomic.Pointer[pickerBox]

	// mu protects timers, closed, cancel and serialises rebuilds.
	mu     sync.Mutex
	timers map[*Backend]*time.Timer
	closed bool
	cancel context.CancelFunc
	wg     sync.WaitGroup // health-check goroutines
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
	seen := make(map[string]bool, len(backends))
	for _, b := range backends {
		if b.pool != nil {
			return nil, fmt.Errorf("lb: pool %s: backend %s already belongs to pool %s", name, b.addr, b.pool.name)
		}
		if seen[b.addr] {
			return nil, fmt.Errorf("lb: pool %s: backend %s listed twice", name, b.addr)
		}
		seen[b.addr] = true
	}
	p := &Pool{
		name:     name,
		backends: append([]*Backend(nil), backends...),
		builder:  c.Builder,
		health:   h,
		logger:   c.Logger,
		onEvent:  c.OnEvent,
		timers:   make(map[*Backend]*time.Timer),
	}
	for _, b := range p.backends {
		b.pool = p
	}
	p.mu.Lock()
	p.rebuildLocked()
	now := time.Now()
	for _, b := range p.backends {
		// A backend inherited in a passive cool-down comes back on time.
		if left := b.downUntil.Load() - monoNanos(now); left > 0 {
			p.endCoolDownLocked(b, time.Duration(left))
		}
	}
	p.mu.Unlock()
	return p, nil
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Builder returns the Builder the pool makes its Pickers with (for a
// Factory, the Builder its NewBuilder returned).
func (p *Pool) Builder() Builder { return p.builder }

// Backends returns every backend of the pool, usable or not. The slice must
// not be modified.
func (p *Pool) Backends() []*Backend { return p.backends }

// Pick chooses a backend with the current Picker.
func (p *Pool) Pick(r Request) (Result, error) { return p.picker.Load().Pick(r) }

// Usable returns how many backends the current Picker chooses among:
// the healthy primaries, or the healthy backups when no primary is.
func (p *Pool) Usable() int { return p.picker.Load().usable }

// rebuildLocked builds a Picker over the healthy primaries, or over the
// healthy backups when no primary is usable. Requires p.mu held.
func (p *Pool) rebuildLocked() {
	now := time.Now()
	var primary, backup []*Backend
	for _, b := range p.backends {
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
	if p.closed || b.activeUp.Load() == up {
		return
	}
	wasHealthy := b.healthyAt(time.Now())
	b.activeUp.Store(up)
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
	p.rebuildLocked()
}

// passiveDown takes b out for d after too many failed requests, and puts
// it back when the cool-down ends.
func (p *Pool) passiveDown(b *Backend, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
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

// event reports e to the OnEvent hook, if any.
func (p *Pool) event(e Event) {
	if p.onEvent != nil {
		p.onEvent(e)
	}
}

// Start begins active health checks, one goroutine per backend with at
// most one probe in flight each. They stop when ctx is done or on Close.
// Start does nothing if checks are disabled or already running.
func (p *Pool) Start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.cancel != nil || p.health.Interval < 0 {
		return
	}
	ctx, p.cancel = context.WithCancel(ctx)
	for _, b := range p.backends {
		p.wg.Add(1)
		go p.checkLoop(ctx, b)
	}
}

// Close stops health checks and cool-down timers and waits for the
// checkers to return. The pool still answers Pick afterwards, from its
// last snapshot.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	if p.cancel != nil {
		p.cancel()
	}
	for b, t := range p.timers {
		t.Stop()
		delete(p.timers, b)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
