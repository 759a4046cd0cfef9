package sniff

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// Config tunes a Mux. Its zero value is ready to use.
type Config struct {
	// Timeout bounds each connection's time in the sniffing stage: the
	// client must send enough to classify it within Timeout of being
	// accepted, and a classified connection waits at most another Timeout
	// for its listener to accept it, after which it is closed and logged.
	// Zero or negative means 5s.
	Timeout time.Duration

	// MaxPending is the most connections in the sniffing stage at once
	// (accepted but not yet handed over); beyond that, Serve waits before
	// accepting more, leaving them in the kernel's backlog. Zero or
	// negative means 1024.
	MaxPending int

	// Unmatched, if not nil, receives each connection whose protocol has
	// no open listener: one never requested with Mux.Listener, or closed.
	// That includes Unknown, and connections that sent too little before
	// Timeout (with Unknown; a protocol whose server speaks first, such as
	// SMTP or MySQL, arrives this way, after Timeout). Connections the
	// client closed before a verdict are just closed. Unmatched is called
	// in its own goroutine and owns c, which replays the bytes sniffed; a
	// panic in it is logged and c closed. If Unmatched is nil, such
	// connections are closed.
	Unmatched func(p Protocol, c net.Conn)

	// ErrorLog receives accept errors, connections closed because nobody
	// accepted them in time, and panics in Unmatched, and at debug level
	// connections dropped before a verdict. nil means slog.Default().
	ErrorLog *slog.Logger
}

const (
	defaultTimeout    = 5 * time.Second // Config.Timeout
	defaultMaxPending = 1024            // Config.MaxPending
	// queueLen is how many sniffed connections each listener holds for its
	// Accept before the sniffing goroutines wait.
	queueLen = 8
	// Backoff between failed temporary accepts, as net/http does.
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
)

// Mux splits one listener into per-protocol listeners. Serve accepts from
// the listener it was made with, sniffs each connection in its own
// goroutine (so a slow client does not hold up the others), and hands it,
// replaying the sniffed bytes, to the listener for its protocol; see
// Config for the rest.
//
// A Mux is safe for concurrent use and must not be copied. Make one with
// NewMux; the zero value is not usable.
type Mux struct {
	l         net.Listener
	timeout   time.Duration
	unmatched func(Protocol, net.Conn)
	errorLog  *slog.Logger

	sem  chan struct{} // a token per connection in the sniffing stage
	done chan struct{} // closed by Close
	wg   sync.WaitGroup

	mu        sync.Mutex // protects the fields below
	listeners [numProtocols]*listener
	sniffing  map[net.Conn]struct{} // conns being sniffed, for Close to close
	closed    bool
	closeErr  error // from l.Close
}

// NewMux returns a Mux that accepts from l once Serve is called. The Mux
// owns l: Close closes it.
func NewMux(l net.Listener, c Config) *Mux {
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.MaxPending <= 0 {
		c.MaxPending = defaultMaxPending
	}
	return &Mux{
		l:         l,
		timeout:   c.Timeout,
		unmatched: c.Unmatched,
		errorLog:  c.ErrorLog,
		sem:       make(chan struct{}, c.MaxPending),
		done:      make(chan struct{}),
		sniffing:  make(map[net.Conn]struct{}),
	}
}

func (m *Mux) logger() *slog.Logger {
	if m.errorLog != nil {
		return m.errorLog
	}
	return slog.Default()
}

// Listener returns the listener that receives the connections of protocol
// p, which must be one of the Protocol constants (Unknown included); it
// panics otherwise.
// Call it before Serve for every protocol you want: until then, p's
// connections count as unmatched. Calling it again for p returns the same
// listener; after Close, it returns a closed one.
//
// The listener's Addr is that of the Mux's listener. Its Accept returns a
// *Conn, or net.ErrClosed once the listener or the Mux is closed. Closing
// it (as http.Server.Shutdown does) leaves the other listeners and the
// Mux working; p's connections are then unmatched, and any it had queued
// are closed. Its Close always returns nil, so that closing it twice,
// once by its server and once by Mux.Close, is no error.
func (m *Mux) Listener(p Protocol) net.Listener {
	if p >= numProtocols {
		panic(fmt.Sprintf("sniff: Listener called with invalid %v", p))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.listeners[p]
	if l == nil {
		l = &listener{m: m, ch: make(chan net.Conn, queueLen), done: make(chan struct{})}
		m.listeners[p] = l
		if m.closed {
			l.Close()
		}
	}
	return l
}

// Serve accepts connections until the Mux's listener fails or Close is
// called; it returns nil after Close, and the listener's error otherwise,
// after which the caller should Close the Mux. Temporary accept errors
// (such as running out of file descriptors) are logged and retried after
// a pause growing from 5ms to 1s, as net/http does.
func (m *Mux) Serve() error {
	var delay time.Duration
	for {
		select {
		case m.sem <- struct{}{}:
		case <-m.done:
			return nil
		}
		c, err := m.l.Accept()
		if err != nil {
			<-m.sem
			if m.isClosed() {
				return nil
			}
			var te interface{ Temporary() bool }
			if !errors.As(err, &te) || !te.Temporary() {
				return err
			}
			delay = min(max(2*delay, minAcceptDelay), maxAcceptDelay)
			m.logger().Error("sniff: accept failed; retrying", "err", err, "delay", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-m.done:
				t.Stop()
				return nil
			}
			continue
		}
		delay = 0
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			c.Close()
			<-m.sem
			return nil
		}
		m.sniffing[c] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go m.handle(c)
	}
}

func (m *Mux) isClosed() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// handle sniffs c and hands it over. It runs in its own goroutine, holding
// a token of m.sem and counted in m.wg until the hand-over.
func (m *Mux) handle(c net.Conn) {
	finished := false
	finish := func() {
		if !finished {
			finished = true
			<-m.sem
			m.wg.Done()
		}
	}
	defer finish()

	p, sc, err := Sniff(c, m.timeout)
	m.mu.Lock()
	delete(m.sniffing, c)
	m.mu.Unlock()
	if m.isClosed() {
		sc.Close()
		return
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		m.logger().Debug("sniff: connection dropped before a verdict", "remote", c.RemoteAddr(), "err", err)
		sc.Close()
		return
	}

	if l := m.listener(p); l != nil {
		switch l.deliver(sc, m.timeout) {
		case delivered:
			return
		case muxClosed:
			sc.Close()
			return
		case timedOut:
			m.logger().Warn("sniff: connection closed: its listener did not accept it in time",
				"protocol", p, "remote", c.RemoteAddr(), "timeout", m.timeout)
			sc.Close()
			return
		case listenerClosed:
			// unmatched, below
		}
	}
	if m.unmatched == nil {
		if err != nil {
			m.logger().Debug("sniff: connection timed out before a verdict", "remote", c.RemoteAddr(), "err", err)
		}
		sc.Close()
		return
	}
	finish() // Close does not wait for Unmatched
	m.runUnmatched(p, sc)
}

// listener returns p's listener if it was requested and is open.
func (m *Mux) listener(p Protocol) *listener {
	m.mu.Lock()
	l := m.listeners[p]
	m.mu.Unlock()
	if l == nil || l.isClosed() {
		return nil
	}
	return l
}

func (m *Mux) runUnmatched(p Protocol, c net.Conn) {
	defer func() {
		if r := recover(); r != nil {
			m.logger().Error("sniff: panic in Unmatched", "protocol", p, "remote", c.RemoteAddr(),
				"panic", r, "stack", string(debug.Stack()))
			c.Close()
		}
	}()
	m.unmatched(p, c)
}

// Close closes the Mux's listener, every per-protocol listener (and the
// connections queued on them), and the connections being sniffed, and
// waits for the sniffing goroutines to end, which they do promptly. It
// does not wait for Unmatched calls, nor touch connections already
// accepted. It returns the error of closing the Mux's listener; calling
// it again returns the same.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.wg.Wait()
		return m.closeErr
	}
	m.closed = true
	close(m.done)
	conns := make([]net.Conn, 0, len(m.sniffing))
	for c := range m.sniffing {
		conns = append(conns, c)
	}
	listeners := m.listeners
	m.closeErr = m.l.Close()
	err := m.closeErr
	m.mu.Unlock()

	for _, c := range conns {
		c.Close()
	}
	for _, l := range listeners {
		if l != nil {
			l.Close()
		}
	}
	m.wg.Wait()
	return err
}

// listener is one protocol's net.Listener.
type listener struct {
	m    *Mux
	ch   chan net.Conn // sniffed conns, waiting for Accept
	done chan struct{} // closed by Close
	once sync.Once
}

// delivery is what became of a conn handed to a listener.
type delivery int

const (
	delivered      delivery = iota // queued for Accept (or closed, if the listener closed just then)
	listenerClosed                 // the listener was closed; the conn is the caller's
	muxClosed                      // the Mux was closed; the conn is the caller's
	timedOut                       // nobody accepted it in time; the conn is the caller's
)

// deliver queues c for Accept, waiting up to timeout while the queue is
// full.
func (l *listener) deliver(c net.Conn, timeout time.Duration) delivery {
	select {
	case l.ch <- c:
	default:
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case l.ch <- c:
		case <-l.done:
			return listenerClosed
		case <-l.m.done:
			return muxClosed
		case <-t.C:
			return timedOut
		}
	}
	// If the listener closed meanwhile, c may be stranded in ch, which
	// Close has already drained.
	if l.isClosed() {
		l.drain()
	}
	return delivered
}

// Accept waits for the next connection of the listener's protocol. It
// returns net.ErrClosed once the listener or its Mux is closed.
func (l *listener) Accept() (net.Conn, error) {
	if l.isClosed() {
		return nil, net.ErrClosed
	}
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the listener, closing the connections queued on it. It
// always returns nil.
func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	l.drain()
	return nil
}

// Addr returns the address of the Mux's listener.
func (l *listener) Addr() net.Addr { return l.m.l.Addr() }

func (l *listener) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// drain closes the connections queued on l.
func (l *listener) drain() {
	for {
		select {
		case c := <-l.ch:
			c.Close()
		default:
			return
		}
	}
}

var _ net.Listener = (*listener)(nil)
