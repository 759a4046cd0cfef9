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
	b.activeUp.Store(up)
	switch {
	case up && !b.healthyAt(time.Now()):
		p.logger.Info("backend passes active checks but is still cooling down", "pool", p.name, "backend", b.addr, "cause", cause)
	case up:
		p.logger.Info("backend up", "pool", p.name, "backend", b.addr, "check", "active", "cause", cause)
	default:
		p.logger.Warn("backend down", "pool", p.name, "backend", b.addr, "check", "active", "cause", cause)
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
		}
		p.rebuildLocked()
	})
	p.timers[b] = t
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
