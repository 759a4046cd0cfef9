package phalanx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phalanx-lb/phalanx/lb"
	"github.com/phalanx-lb/phalanx/sniff"
)

const (
	// defaultTCPConnectTimeout bounds one backend dial when
	// tcpConfig.connectTimeout is 0, as Timeouts.UpstreamConnect does for
	// HTTP.
	defaultTCPConnectTimeout = 5 * time.Second
	// defaultTCPIdleTimeout closes a session that moved no byte in either
	// direction for this long, when tcpConfig.idleTimeout is 0. It is
	// nginx stream's proxy_timeout: long enough for database and SSH
	// sessions that sit quietly, short enough that dead peers are reaped.
	defaultTCPIdleTimeout = 10 * time.Minute
	// tcpMaxAttempts bounds the backends tried for one connection (nginx's
	// proxy_next_upstream_tries is unbounded; three dial timeouts are as
	// long as a client should wait).
	tcpMaxAttempts = 3
	// tcpIdleSlices divides the idle timeout into the read-deadline slices
	// the copy loops wake up at to report progress; see tcpSession.pipe.
	tcpIdleSlices = 16
	// tcpMinIdleSlice keeps tiny idle timeouts from spinning.
	tcpMinIdleSlice = time.Millisecond
	// tcpMaxAcceptDelay caps the back-off after temporary accept errors
	// (net/http's value).
	tcpMaxAcceptDelay = time.Second
)

// errTCPClosing is returned for connections handed to a closing proxy.
var errTCPClosing = errors.New("phalanx: tcp proxy is closing")

// tcpConfig configures a tcpProxy.
type tcpConfig struct {
	// pool is the upstream whose backends get the connections. It may be
	// shared with the HTTP upstream of the same name, whose health checks
	// then serve both. Required; setPool replaces it after a reload.
	pool *lb.Pool
	// connectTimeout bounds each backend dial (and the PROXY header write
	// that follows it), and reading a PROXY header from a trusted peer.
	// 0 means 5s.
	connectTimeout time.Duration
	// idleTimeout closes a session after no byte moved in either direction
	// for this long. 0 means 10 minutes; negative disables it.
	idleTimeout time.Duration
	// dial connects to a backend; nil means a zero net.Dialer. It is
	// bounded by connectTimeout.
	dial DialFunc
	// trusted are the peers allowed to send a PROXY protocol header (v1 or
	// v2), whose source address then stands for the client. Everyone
	// else's bytes are payload, headers included. The header is optional,
	// but a trusted peer must send something within connectTimeout, or its
	// connection is dropped: list no peer that relays server-speaks-first
	// protocols (SMTP, MySQL) without a header.
	trusted trustedSet
	// sendProxy, if 1 or 2, makes the proxy send a PROXY protocol header
	// of that version to the backend, with the client's address. 0 sends
	// none.
	sendProxy int
	// logger receives one line per failed connection (Warn) and one per
	// session (Debug). nil means slog.Default().
	logger *slog.Logger
}

// tcpProxy relays raw TCP connections to the backends of one lb.Pool:
// it picks a backend per connection (failing over to another when a dial
// fails), optionally exchanges PROXY protocol headers, then copies bytes
// both ways until both directions are done, passing half-closes on. When
// both ends are *net.TCPConn the copies use splice(2) and never enter
// user space.
//
// In-flight counts of the backends (Backend.Start/Finish) cover whole
// sessions, so leastconnections balances open connections; the Outcome's
// Latency is the time to connect.
//
// A tcpProxy is safe for concurrent use and must not be copied.
type tcpProxy struct {
	cfg   tcpConfig
	pool  atomic.Pointer[lb.Pool]
	slice time.Duration // read-deadline slice of the copy loops; 0 without idle timeout
	epoch time.Time     // origin of mono

	ctx    context.Context // cancelled by kill: aborts dials
	cancel context.CancelFunc

	// mu protects listeners, sessions, closing, killed and the backend
	// field of every session, and orders wg.Add before wg.Wait: Add is
	// only called with mu held and closing false.
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*tcpSession]struct{}
	closing   bool          // close has begun: no new listener or session
	killed    bool          // close's context ended: sessions are being cut
	done      chan struct{} // closed when closing is set; ends accept back-off
	wg        sync.WaitGroup

	nActive   atomic.Int64
	nAccepted atomic.Uint64
	nFailed   atomic.Uint64
	nIn       atomic.Uint64 // bytes from clients to backends
	nOut      atomic.Uint64 // bytes from backends to clients
}

// newTCPProxy returns a proxy for c, or an error if c is invalid.
func newTCPProxy(c tcpConfig) (*tcpProxy, error) {
	if c.pool == nil {
		return nil, errors.New("tcp proxy without a pool")
	}
	if c.sendProxy < 0 || c.sendProxy > 2 {
		return nil, fmt.Errorf("tcp proxy: PROXY protocol version %d, want 0 (off), 1 or 2", c.sendProxy)
	}
	if c.connectTimeout == 0 {
		c.connectTimeout = defaultTCPConnectTimeout
	}
	if c.connectTimeout < 0 {
		return nil, errors.New("tcp proxy: negative connect timeout")
	}
	if c.idleTimeout == 0 {
		c.idleTimeout = defaultTCPIdleTimeout
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.dial == nil {
		var d net.Dialer
		c.dial = d.DialContext
	}
	p := &tcpProxy{
		cfg:       c,
		epoch:     time.Now(),
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[*tcpSession]struct{}),
		done:      make(chan struct{}),
	}
	if c.idleTimeout > 0 {
		p.slice = max(c.idleTimeout/tcpIdleSlices, tcpMinIdleSlice)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.pool.Store(c.pool)
	return p, nil
}

// setPool makes new connections use pool, after a reload replaced the
// upstream. Sessions keep the backend they have.
func (p *tcpProxy) setPool(pool *lb.Pool) { p.pool.Store(pool) }

// active returns the number of client connections being served.
func (p *tcpProxy) active() int64 { return p.nActive.Load() }

// accepted returns the number of client connections ever taken in.
func (p *tcpProxy) accepted() uint64 { return p.nAccepted.Load() }

// failed returns the number of client connections closed without reaching
// a backend: no backend usable or reachable, or a bad PROXY header.
func (p *tcpProxy) failed() uint64 { return p.nFailed.Load() }

// bytesIn returns the bytes relayed from clients to backends.
func (p *tcpProxy) bytesIn() uint64 { return p.nIn.Load() }

// bytesOut returns the bytes relayed from backends to clients.
func (p *tcpProxy) bytesOut() uint64 { return p.nOut.Load() }

// mono returns the time since p was made, on the monotonic clock.
func (p *tcpProxy) mono() int64 { return int64(time.Since(p.epoch)) }

// serve accepts connections on l and relays each, until close. Temporary
// accept errors (out of file descriptors, say) are retried with a back-off
// of 5ms doubling to 1s. It returns nil after close, else the listener's
// error. l is closed when serve returns.
func (p *tcpProxy) serve(l net.Listener) error {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		l.Close()
		return nil
	}
	p.listeners[l] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.listeners, l)
		p.mu.Unlock()
		l.Close()
		p.wg.Done()
	}()
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if p.isClosing() {
				return nil
			}
			if te, ok := err.(interface{ Temporary() bool }); !ok || !te.Temporary() {
				return err
			}
			delay = min(max(2*delay, 5*time.Millisecond), tcpMaxAcceptDelay)
			p.cfg.logger.Warn("tcp accept failed; retrying", "addr", l.Addr().String(), "cause", err.Error(), "delay", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-p.done:
				t.Stop()
				return nil
			}
			continue
		}
		delay = 0
		s, err := p.register(c)
		if err != nil {
			c.Close()
			return nil
		}
		go p.run(s)
	}
}

func (p *tcpProxy) isClosing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closing
}

// handle relays one client connection, already accepted, and returns when
// the session is over; c is closed by then. c need not be a
// *net.TCPConn: the HTTP port hands over connections whose first bytes it
// sniffed, wrapped to replay them.
func (p *tcpProxy) handle(c net.Conn) {
	s, err := p.register(c)
	if err != nil {
		c.Close()
		return
	}
	p.run(s)
}

// close stops accepting (closing the listeners given to serve), then waits
// for the sessions to end, or ctx to end and then cuts them. No goroutine
// of the proxy is left when it returns. It returns ctx's error if sessions
// were cut, else nil. Connections handed to handle after close began are
// closed at once.
func (p *tcpProxy) close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closing {
		p.closing = true
		close(p.done)
		for l := range p.listeners {
			l.Close()
		}
	}
	p.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		p.cancel()
		return nil
	case <-ctx.Done():
	}
	p.kill()
	<-idle
	return ctx.Err()
}

// kill aborts dials and closes every session's connections.
func (p *tcpProxy) kill() {
	p.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killed = true
	for s := range p.sessions {
		s.conn.Close()
		if s.backend != nil {
			s.backend.Close()
		}
	}
}

// tcpSession is one client connection and, once connected, its backend
// connection.
type tcpSession struct {
	p     *tcpProxy
	conn  net.Conn // as accepted; closing it ends the session
	start time.Time

	backend net.Conn // set once connected; protected by p.mu

	last atomic.Int64 // p.mono() when a copy last reported progress

	// idleMu protects idleTimer and ended, so that no idle check runs on
	// past the session's end.
	idleMu    sync.Mutex
	idleTimer *time.Timer
	ended     bool
	idled     atomic.Bool // the idle timeout ended the session
}

// register admits c as a session unless the proxy is closing.
func (p *tcpProxy) register(c net.Conn) (*tcpSession, error) {
	s := &tcpSession{p: p, conn: c, start: time.Now()}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return nil, errTCPClosing
	}
	p.sessions[s] = struct{}{}
	p.wg.Add(1)
	p.nActive.Add(1)
	p.nAccepted.Add(1)
	return s, nil
}

// release ends s: it stops its idle checks and closes both connections.
func (p *tcpProxy) release(s *tcpSession) {
	s.stopIdle()
	p.mu.Lock()
	delete(p.sessions, s)
	bc := s.backend
	p.mu.Unlock()
	s.conn.Close()
	if bc != nil {
		bc.Close()
	}
	p.nActive.Add(-1)
	p.wg.Done()
}

// setBackend records bc as s's backend connection, unless the proxy is
// cutting sessions.
func (p *tcpProxy) setBackend(s *tcpSession, bc net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killed {
		return false
	}
	s.backend = bc
	return true
}

// abort closes both connections of s, which ends both copies.
func (s *tcpSession) abort() {
	s.conn.Close()
	s.p.mu.Lock()
	bc := s.backend
	s.p.mu.Unlock()
	if bc != nil {
		bc.Close()
	}
}

// run serves one registered session to its end.
func (p *tcpProxy) run(s *tcpSession) {
	defer p.release(s)
	defer func() {
		if v := recover(); v != nil {
			p.cfg.logger.Error("panic in tcp proxy", "panic", v, "client", s.conn.RemoteAddr().String())
		}
	}()
	c := s.conn
	peer := addrPortOf(c.RemoteAddr())
	client, local := peer, addrPortOf(c.LocalAddr())
	pool := p.pool.Load()
	if peer.IsValid() && p.cfg.trusted.contains(peer.Addr()) {
		pc, h, err := sniff.ProxyConn(c, p.cfg.connectTimeout)
		if err != nil {
			if p.ctx.Err() != nil {
				return // cut by close
			}
			p.nFailed.Add(1)
			p.cfg.logger.Warn("tcp connection rejected", "client", peer.String(), "pool", pool.Name(),
				"cause", "reading PROXY header: "+err.Error())
			return
		}
		c = pc
		if h.Version != 0 && !h.Local && h.Source.IsValid() {
			client, local = unmapAddrPort(h.Source), unmapAddrPort(h.Destination)
		}
	}
	var hdr []byte
	if p.cfg.sendProxy != 0 {
		var err error
		if hdr, err = proxyHeaderFor(p.cfg.sendProxy, client, local); err != nil {
			p.nFailed.Add(1)
			p.cfg.logger.Warn("tcp connection failed", "client", client.String(), "pool", pool.Name(),
				"cause", "encoding PROXY header: "+err.Error())
			return
		}
	}
	clientIP := ""
	if client.IsValid() {
		clientIP = client.Addr().String()
	}
	var tried tcpTried
	bc, b, done, latency, err := p.connect(s, pool, lb.Request{ClientIP: clientIP}, hdr, &tried)
	if err != nil {
		if p.ctx.Err() != nil {
			return // cut by close: not the backends' fault, nor worth a warning
		}
		p.nFailed.Add(1)
		p.cfg.logger.Warn("tcp connection failed", "client", client.String(), "pool", pool.Name(),
			"tried", tried.String(), "cause", err.Error())
		return
	}
	// Deferred, so that a panic cannot leak the in-flight count. A
	// learning policy learns from the connect time; the connection counts
	// as in flight on b, the load it adds, for as long as it lasts.
	defer finish(b, done, lb.Outcome{Latency: latency})
	in, out, cause := s.relay(c, bc)
	if p.cfg.logger.Enabled(context.Background(), slog.LevelDebug) {
		p.cfg.logger.Debug("tcp session ended", "client", client.String(), "pool", pool.Name(),
			"backend", b.Addr(), "duration", time.Since(s.start), "connect", latency,
			"bytes_in", in, "bytes_out", out, "cause", cause)
	}
}

// tcpTried is the backends tried for one connection.
type tcpTried struct {
	b [tcpMaxAttempts]*lb.Backend
	n int
}

func (t *tcpTried) String() string {
	addrs := make([]string, t.n)
	for i, b := range t.b[:t.n] {
		addrs[i] = b.Addr()
	}
	return "[" + strings.Join(addrs, " ") + "]"
}

// connect picks a backend and dials it, failing over to other backends
// after a failed dial, up to tcpMaxAttempts or the pool's size. Each
// failed dial is reported to its backend as a connection failure (so
// passive health checks take a dead backend out at once). hdr, if not
// empty, is written to the backend first. On success the backend has been
// Started and the caller must Finish it; latency is the time to connect.
func (p *tcpProxy) connect(s *tcpSession, pool *lb.Pool, req lb.Request, hdr []byte, tried *tcpTried) (
	bc net.Conn, b *lb.Backend, done func(*lb.Backend, lb.Outcome), latency time.Duration, err error) {
	attempts := min(tcpMaxAttempts, len(pool.Backends()))
	var lastErr error
	for tried.n < attempts {
		b, done, err = pickAvoiding(pool, req, tried.b[:tried.n])
		if err != nil {
			if lastErr != nil {
				return nil, nil, nil, 0, lastErr // the real failure, not "nothing left to try"
			}
			return nil, nil, nil, 0, err
		}
		tried.b[tried.n] = b
		tried.n++
		b.Start()
		start := time.Now()
		bc, err = p.dialBackend(b.Addr(), hdr)
		latency = time.Since(start)
		if err == nil {
			if !p.setBackend(s, bc) {
				bc.Close()
				err = errTCPClosing
			} else {
				return bc, b, done, latency, nil
			}
		}
		// A dial cut short by close says nothing about the backend.
		closing := p.ctx.Err() != nil
		finish(b, done, lb.Outcome{Latency: latency, ConnFailed: !closing,
			TimedOut: !closing && isTimeout(err), Canceled: closing})
		if p.ctx.Err() != nil {
			return nil, nil, nil, 0, errTCPClosing
		}
		lastErr = err
	}
	return nil, nil, nil, 0, lastErr
}

// dialBackend connects to addr within the connect timeout and writes hdr.
func (p *tcpProxy) dialBackend(addr string, hdr []byte) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.connectTimeout)
	defer cancel()
	bc, err := p.cfg.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	if len(hdr) > 0 {
		bc.SetWriteDeadline(time.Now().Add(p.cfg.connectTimeout))
		_, err = bc.Write(hdr)
		bc.SetWriteDeadline(time.Time{})
		if err != nil {
			bc.Close()
			return nil, fmt.Errorf("write PROXY header to %s: %w", addr, err)
		}
	}
	return bc, nil
}

// relay copies c to bc and bc to c until both directions are done, and
// returns the bytes moved each way and why the session ended.
//
// c may be a *sniff.Conn (from ProxyConn, or from the HTTP port's sniffer)
// that replays bytes it read ahead. It needs no unwrapping: its WriteTo
// writes those bytes and then io.Copy's from the socket beneath, and its
// ReadFrom hands over to the socket's, so both directions still splice.
func (s *tcpSession) relay(c, bc net.Conn) (in, out int64, cause string) {
	s.last.Store(s.p.mono())
	s.startIdle()
	var downN int64
	downErr := make(chan error, 1)
	go func() {
		var err error
		downN, err = s.pipe(c, bc, &s.p.nOut)
		downErr <- err
	}()
	in, upErr := s.pipe(bc, c, &s.p.nIn)
	derr := <-downErr
	out = downN
	switch {
	case s.idled.Load():
		cause = "idle timeout"
	case upErr != nil:
		cause = "client: " + upErr.Error()
	case derr != nil:
		cause = "backend: " + derr.Error()
	default:
		cause = "closed"
	}
	return in, out, cause
}

// closeWriter is a connection that can be half-closed.
type closeWriter interface {
	CloseWrite() error
}

// pipe copies src to dst until src ends, then half-closes dst (or, if dst
// cannot be half-closed, closes the session: its peer would otherwise
// wait forever). Any error closes the session. It returns the bytes
// copied and the error that ended the copy, nil at EOF.
//
// The idle timeout is kept without a syscall or a wrapper per read, so
// that io.Copy between two *net.TCPConn still splices: src's read deadline
// is set a slice (idle/16) ahead, io.Copy returns when it passes (the
// splice loop checks the deadline before each read, so no byte is lost in
// between), the progress is recorded, and the copy resumes. Setting a
// deadline only resets a runtime timer. A timer per session (checkIdle)
// closes the session when neither direction reported progress for the idle
// timeout plus one slice.
func (s *tcpSession) pipe(dst, src net.Conn, total *atomic.Uint64) (int64, error) {
	slice := s.p.slice
	var copied int64
	for {
		if slice > 0 {
			if err := src.SetReadDeadline(time.Now().Add(slice)); err != nil {
				s.abort()
				return copied, err
			}
		}
		n, err := io.Copy(dst, src)
		if n > 0 {
			copied += n
			total.Add(uint64(n))
			s.last.Store(s.p.mono())
		}
		switch {
		case err == nil:
			if cw, ok := dst.(closeWriter); !ok || cw.CloseWrite() != nil {
				s.abort()
			}
			return copied, nil
		case slice > 0 && errors.Is(err, os.ErrDeadlineExceeded):
			continue
		default:
			s.abort()
			return copied, err
		}
	}
}

// startIdle starts the session's idle checks, if there is an idle timeout.
func (s *tcpSession) startIdle() {
	if s.p.slice == 0 {
		return
	}
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	if !s.ended {
		s.idleTimer = time.AfterFunc(s.p.slice, s.checkIdle)
	}
}

// checkIdle closes the session if no copy reported progress for the idle
// timeout plus a slice, else checks again a slice later. The extra slice
// covers progress a copy has made but not yet reported: a session is never
// cut before it was silent for the whole idle timeout, and is cut at most
// about three slices after.
func (s *tcpSession) checkIdle() {
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	if s.ended {
		return
	}
	if s.p.mono()-s.last.Load() >= int64(s.p.cfg.idleTimeout+s.p.slice) {
		s.idled.Store(true)
		s.abort()
		return
	}
	s.idleTimer.Reset(s.p.slice)
}

// stopIdle stops the idle checks for good.
func (s *tcpSession) stopIdle() {
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	s.ended = true
	if s.idleTimer != nil {
		s.idleTimer.Stop()
	}
}

// addrPortOf returns the IP address and port of a, with IPv4-mapped IPv6
// addresses unmapped; the zero AddrPort if a is not an IP address.
func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case nil:
		return netip.AddrPort{}
	case *net.TCPAddr:
		return unmapAddrPort(a.AddrPort())
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return unmapAddrPort(ap)
}

func unmapAddrPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// proxyHeaderFor encodes a PROXY header of version for a connection from
// src to dst. Unknown addresses make a LOCAL (v2) or UNKNOWN (v1) header;
// an IPv4 and an IPv6 address are both sent as IPv6, the IPv4 one mapped,
// as HAProxy does.
func proxyHeaderFor(version int, src, dst netip.AddrPort) ([]byte, error) {
	h := sniff.ProxyHeader{Version: version, Source: src, Destination: dst}
	switch {
	case !src.IsValid() || !dst.IsValid():
		h = sniff.ProxyHeader{Version: version, Local: true}
	case src.Addr().Is4() != dst.Addr().Is4():
		h.Source = netip.AddrPortFrom(netip.AddrFrom16(src.Addr().As16()), src.Port())
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16(dst.Addr().As16()), dst.Port())
	}
	return sniff.AppendProxyHeader(nil, h)
}
