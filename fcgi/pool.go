package fcgi

import (
	"bufio"
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// errAborted is what reads and writes on a conn return once abort was
// called: the client went away, the request's context ended, or the other
// direction failed.
var errAborted = errors.New("fcgi: request aborted")

// conn is one connection to the backend. It carries one request at a
// time: php-fpm does not multiplex, and neither does this client.
type conn struct {
	nc      net.Conn
	br      *bufio.Reader // reads through conn.Read
	alive   func() bool   // whether the backend has not closed it
	rto     time.Duration // Timeouts.Read
	wto     time.Duration // Timeouts.Write
	aborted atomic.Bool
	id      uint16    // the last request id used
	reused  bool      // it has served a request before
	idleAt  time.Time // when it went idle
}

func newConn(nc net.Conn, t Timeouts) *conn {
	c := &conn{nc: nc, rto: t.Read, wto: t.Write, alive: aliveCheck(nc)}
	c.br = bufio.NewReaderSize(c, 8<<10)
	return c
}

// Read reads from the backend, allowing Timeouts.Read for the first byte.
// The deadline is set before aborted is checked, and abort stores aborted
// before moving the deadline to the past, so an abort is never undone.
func (c *conn) Read(p []byte) (int, error) {
	c.nc.SetReadDeadline(time.Now().Add(c.rto))
	if c.aborted.Load() {
		return 0, errAborted
	}
	n, err := c.nc.Read(p)
	if err != nil && c.aborted.Load() {
		err = errAborted // not the deadline abort set
	}
	return n, err
}

// write writes b to the backend, allowing Timeouts.Write for any progress
// (net.Conn writes all of b or fail).
func (c *conn) write(b []byte) error {
	for len(b) > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.wto))
		if c.aborted.Load() {
			return errAborted
		}
		n, err := c.nc.Write(b[:min(len(b), 64<<10)])
		if err != nil {
			if c.aborted.Load() {
				return errAborted
			}
			return err
		}
		b = b[n:]
	}
	return nil
}

// abort makes pending and later reads and writes fail. It may be called
// from any goroutine, any number of times.
func (c *conn) abort() {
	c.aborted.Store(true)
	c.nc.SetDeadline(time.Unix(1, 0))
}

// nextID returns the id of the conn's next request: 1, 2, ... 65535, 1.
// Records left over from an earlier request then never pass for the
// current one's.
func (c *conn) nextID() uint16 {
	c.id++
	if c.id == 0 {
		c.id = 1
	}
	return c.id
}

// pool holds the connections to one backend.
//
// Slots bound the connections in use. A request takes a slot, then an idle
// connection or, with none, a new one, so connections in use plus idle
// ones never exceed MaxConns: idle ones only come from requests that held
// a slot.
//
// php-fpm gives each connection a worker until the connection closes, and
// with FCGI_KEEP_CONN a worker keeps waiting on an idle connection. A new
// connection beyond pm.max_children then waits in php-fpm's listen queue
// until some connection closes, and keeping the others idle would starve
// it until its read timeout. So a new connection that has had no byte of
// its response for starveAfter is watched as starving (see watch): the
// pool closes an idle connection, or, with none idle, owes one, and
// closes the next connection that comes back instead of keeping it.
// Either way a worker goes back to accepting. A slow script on a new
// connection looks the same, and costs a few reconnects.
type pool struct {
	dial        func(context.Context) (net.Conn, error)
	timeouts    Timeouts
	maxIdle     int           // negative: no FCGI_KEEP_CONN
	slots       chan struct{} // nil: no limit
	dialTimeout time.Duration

	mu     sync.Mutex // protects idle, debts, timer and closed
	idle   []*conn    // most recently used last
	debts  []*debt    // connections owed to starving ones, oldest first
	timer  *time.Timer
	closed bool
}

// debt is a connection the pool owes a starving one.
type debt struct {
	settled bool // requires pool.mu held
}

func newPool(dial func(context.Context) (net.Conn, error), t Timeouts, maxConns, maxIdle int) *pool {
	p := &pool{dial: dial, timeouts: t, maxIdle: maxIdle, dialTimeout: t.Dial}
	if maxConns > 0 {
		p.slots = make(chan struct{}, maxConns)
	}
	return p
}

// acquire takes a slot, waiting up to Timeouts.Dial for one.
func (p *pool) acquire(ctx context.Context) error {
	if p.slots == nil {
		return nil
	}
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(p.dialTimeout)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-t.C:
		return errBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives back a slot taken by acquire.
func (p *pool) release() {
	if p.slots != nil {
		<-p.slots
	}
}

// get returns an idle connection that is still open, or nil.
func (p *pool) get() *conn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if time.Since(c.idleAt) < p.timeouts.Idle && c.alive() {
			return c
		}
		c.nc.Close()
	}
}

// open dials a new connection.
func (p *pool) open(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.dialTimeout)
	defer cancel()
	nc, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	return newConn(nc, p.timeouts), nil
}

// put takes back a connection after a request; reusable says the request
// ended cleanly, every record of it sent and read.
func (p *pool) put(c *conn, reusable bool) {
	c.reused = true
	c.idleAt = time.Now()
	p.mu.Lock()
	if len(p.debts) > 0 {
		// Any connection closed frees a worker: settle the oldest debt.
		p.debts[0].settled = true
		p.debts[0] = nil
		p.debts = p.debts[1:]
		reusable = false
	}
	if !reusable || p.maxIdle < 0 || p.closed || len(p.idle) >= p.maxIdle {
		p.mu.Unlock()
		c.nc.Close()
		return
	}
	p.idle = append(p.idle, c)
	if p.timer == nil {
		p.timer = time.AfterFunc(p.timeouts.Idle, p.reap)
	}
	p.mu.Unlock()
}

// starveAfter is how long a new connection may wait for the first byte
// of its response before the pool suspects php-fpm has no worker for it.
const starveAfter = 200 * time.Millisecond

// starving frees a backend worker for a starving connection: it closes
// the longest idle connection and returns nil, or, with none idle,
// returns a debt, settled when some connection comes back and is closed.
func (p *pool) starving() *debt {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[0]
		copy(p.idle, p.idle[1:])
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		c.nc.Close()
		return nil
	}
	d := &debt{}
	p.debts = append(p.debts, d)
	p.mu.Unlock()
	return d
}

// forgive drops the debts not yet settled, of a connection that got its
// response after all.
func (p *pool) forgive(ds []*debt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.debts = slices.DeleteFunc(p.debts, func(d *debt) bool { return slices.Contains(ds, d) })
}

// starveWatch watches a new connection for starvation: after
// starveAfter without a response, and again after twice as long, and so
// on, it frees a worker (pool.starving).
type starveWatch struct {
	p     *pool
	mu    sync.Mutex // protects the fields below
	t     *time.Timer
	wait  time.Duration
	debts []*debt
	done  bool
}

// watch starts a starveWatch; stop it at the first byte of the response,
// or at the end.
func (p *pool) watch() *starveWatch {
	w := &starveWatch{p: p, wait: starveAfter}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t = time.AfterFunc(w.wait, w.fire)
	return w
}

func (w *starveWatch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	if d := w.p.starving(); d != nil {
		w.debts = append(w.debts, d)
	}
	w.wait *= 2
	w.t.Reset(w.wait)
}

// stop ends the watch and forgives its debts not yet settled. It may be
// called more than once.
func (w *starveWatch) stop() {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	w.done = true
	w.t.Stop()
	debts := w.debts
	w.mu.Unlock()
	if len(debts) > 0 {
		w.p.forgive(debts)
	}
}

// reap closes the connections idle for Timeouts.Idle, and comes back
// while any remain.
func (p *pool) reap() {
	var old []*conn
	p.mu.Lock()
	now := time.Now()
	i := 0
	for i < len(p.idle) && now.Sub(p.idle[i].idleAt) >= p.timeouts.Idle {
		i++
	}
	old = append(old, p.idle[:i]...)
	p.idle = append(p.idle[:0], p.idle[i:]...)
	clear(p.idle[len(p.idle):cap(p.idle)])
	p.timer = nil
	if len(p.idle) > 0 && !p.closed {
		p.timer = time.AfterFunc(p.timeouts.Idle-now.Sub(p.idle[0].idleAt), p.reap)
	}
	p.mu.Unlock()
	for _, c := range old {
		c.nc.Close()
	}
}

// close closes the idle connections; connections in use are closed when
// their requests end.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// idleCount returns the number of idle connections.
func (p *pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
