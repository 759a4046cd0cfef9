package phalanx

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/phalanx-lb/phalanx/internal/h1"
	"github.com/phalanx-lb/phalanx/sniff"
)

// h1engine.go: phalanx's own HTTP/1.1 engine (EnginePhalanx), the
// connection side. A connection is served by one goroutine that reads a
// request head in place into its reusable h1.Request, runs the pipeline
// stages and proxies the request over a pooled backend connection
// (h1proxy.go), then reads the next request. Requests the engine does not
// proxy itself are handed, with their connection and the bytes already
// read, to the net/http server, which serves that connection from then on.

// clientReadBuffer is the read buffer of a client connection, held while
// it is idle; a longer head moves to one of maxHeaderBytes for that request.
const clientReadBuffer = 4 << 10

// h1Engine serves the HTTP/1.x connections of a Server's listeners.
type h1Engine struct {
	s *Server

	mu      sync.Mutex
	conns   map[*h1Conn]struct{}
	closing bool          // Shutdown or Close began: no new connections
	idle    chan struct{} // closed when conns empties while closing
	// closed mirrors closing for the request path, which reads it
	// several times per request and must not take mu to do so.
	closed atomic.Bool

	handoffs atomic.Int64 // connections handed to net/http
}

// Connection states: idle between requests, active while one is served.
const (
	connIdle = iota
	connActive
	connClosed // closed by Shutdown while idle
)

// serve accepts connections from l until it fails. tlsConf, if not nil,
// makes it a TLS listener: the engine does the handshake, and hands
// connections that negotiate h2 to net/http.
func (e *h1Engine) serve(l net.Listener, tlsConf *tls.Config, handoff *handoffListener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go e.serveConn(c, tlsConf, handoff)
	}
}

func (e *h1Engine) serveConn(c net.Conn, tlsConf *tls.Config, handoff *handoffListener) {
	s := e.s
	m := s.metrics
	proto := m.connHTTP1
	if tlsConf != nil {
		proto = m.connTLS
	}
	proto.total.Inc()
	proto.active.Inc()
	var state *tls.ConnectionState
	if tlsConf != nil {
		if c, state = e.handshake(c, tlsConf, handoff, proto); c == nil {
			return
		}
	}
	hc := &h1Conn{e: e, s: s, c: c, tls: state, peer: peerAddr(c.RemoteAddr().String())}
	hc.peerStr = hc.peer.String()
	if !hc.peer.IsValid() {
		hc.peerStr = "unknown"
	}
	if !e.add(hc) {
		proto.active.Dec()
		c.Close()
		return
	}
	hc.br = clientReaders.get(c)
	handed := hc.serve()
	e.remove(hc)
	if handed != nil {
		m.handed.Store(handed, struct{}{})
		e.handoffs.Add(1)
		handoff.hand(handed)
		return
	}
	clientReaders.put(hc.br)
	proto.active.Dec()
	c.Close()
}

// handshake runs the TLS handshake on c. It returns the TLS connection
// and its state for the engine to serve, or nil when it is done with c:
// the handshake failed, or the client chose h2 and c went to net/http.
// It is a function of its own so that its locals (a ConnectionState is
// large) stay out of the frame that every idle connection keeps on its
// stack.
func (e *h1Engine) handshake(c net.Conn, tlsConf *tls.Config, handoff *handoffListener, proto connSeries) (net.Conn, *tls.ConnectionState) {
	m := e.s.metrics
	tc := tls.Server(c, tlsConf)
	ctx, cancel := context.WithTimeout(context.Background(), e.s.cfg.timeouts.ClientHeader)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		m.tlsHandshakes.WithLabelValues("failed").Inc()
		proto.active.Dec()
		tc.Close()
		return nil, nil
	}
	m.tlsHandshakes.WithLabelValues("ok").Inc()
	cs := tc.ConnectionState()
	if cs.NegotiatedProtocol == "h2" {
		m.tlsActive.Store(tc, struct{}{}) // its handshake is counted
		m.handed.Store(tc, struct{}{})
		e.handoffs.Add(1)
		handoff.hand(tc)
		return nil, nil
	}
	return tc, &cs
}

// add registers hc, unless the engine is closing.
func (e *h1Engine) add(hc *h1Conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return false
	}
	if e.conns == nil {
		e.conns = make(map[*h1Conn]struct{})
	}
	e.conns[hc] = struct{}{}
	return true
}

func (e *h1Engine) remove(hc *h1Conn) {
	e.mu.Lock()
	delete(e.conns, hc)
	if e.closing && len(e.conns) == 0 && e.idle != nil {
		close(e.idle)
		e.idle = nil
	}
	e.mu.Unlock()
}

// shutdown refuses new connections, closes idle ones, and waits for the
// others to finish their request (they close after it) or for ctx to end,
// when it closes them.
func (e *h1Engine) shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.closing = true
	e.closed.Store(true)
	var wait chan struct{}
	if len(e.conns) > 0 {
		if e.idle == nil {
			e.idle = make(chan struct{})
		}
		wait = e.idle
	}
	for hc := range e.conns {
		if hc.state.CompareAndSwap(connIdle, connClosed) {
			hc.c.Close()
		}
	}
	e.mu.Unlock()
	if wait == nil {
		return nil
	}
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		e.closeAll()
		return ctx.Err()
	}
}

// closeAll closes every connection at once.
func (e *h1Engine) closeAll() {
	e.mu.Lock()
	e.closing = true
	e.closed.Store(true)
	for hc := range e.conns {
		hc.c.Close()
	}
	e.mu.Unlock()
}

func (e *h1Engine) isClosing() bool { return e.closed.Load() }

// readerPool recycles the read buffers of client connections.
type readerPool struct {
	p    sync.Pool
	size int
}

var clientReaders = &readerPool{size: clientReadBuffer}

func (rp *readerPool) get(r io.Reader) *bufio.Reader {
	if br, ok := rp.p.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, rp.size)
}

func (rp *readerPool) put(br *bufio.Reader) {
	if br.Size() == rp.size {
		br.Reset(nil)
		rp.p.Put(br)
	}
}

// handoffListener passes connections the engine does not serve to the
// net/http server.
type handoffListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// hand gives c to net/http, or closes it if the listener is closed.
func (l *handoffListener) hand(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

// replayConn is a connection handed to net/http with the bytes the engine
// had already read from it, which net/http reads first.
type replayConn struct {
	net.Conn
	pending []byte
	tls     *tls.ConnectionState // the handshake the engine did, or nil
	proto   string               // as counted in the metrics
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

type tlsStateKey struct{}

// connContext gives requests on a replayConn over TLS their TLS state,
// which net/http sets only for a *tls.Conn.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if rc, ok := c.(*replayConn); ok && rc.tls != nil {
		return context.WithValue(ctx, tlsStateKey{}, rc.tls)
	}
	return ctx
}

// h1Conn is one client connection served by the engine.
type h1Conn struct {
	e       *h1Engine
	s       *Server
	c       net.Conn
	tls     *tls.ConnectionState // nil: clear text
	peer    netip.Addr
	peerStr string
	br      *bufio.Reader
	big     bool            // br is a one-off reader of maxHeaderBytes
	raw     syscall.RawConn // c's descriptor access, once rawConn needed it
	req     h1.Request
	state   atomic.Int32
	served  int // requests served on this connection

	// rd and wd are the read and write deadlines last set on c.
	rd, wd lazyDeadline
	// scratch holds a copy of a head whose body the firewall reads.
	scratch []byte
	// x and st are the request being served, reused.
	x  exchange
	st reqState
	cr h1.ChunkedReader
}

// errQuiet ends a connection without a response: the client closed it or
// let it idle out.
var errQuiet = errors.New("connection closed")

// serve runs the request loop. It returns a connection to hand to
// net/http, or nil when the connection is done.
func (hc *h1Conn) serve() net.Conn {
	for {
		hc.state.Store(connIdle)
		if hc.e.isClosing() {
			return nil
		}
		n, err := hc.readHead()
		if !hc.state.CompareAndSwap(connIdle, connActive) {
			return nil // Shutdown closed it while idle
		}
		if err != nil {
			if err != errQuiet {
				hc.badRequest(err)
			}
			return nil
		}
		hc.served++
		keep, handoff := hc.handle(n)
		if handoff {
			return hc.handoff()
		}
		if !keep {
			if hc.x.unread {
				hc.lingerClose()
			}
			return nil
		}
		hc.shrink()
	}
}

// idleRelease is how long a connection waiting for a request keeps its
// read buffer, in nanoseconds; see waitIdle. Tests shorten it.
var idleRelease atomic.Int64

func init() { idleRelease.Store(int64(time.Second)) }

// waitIdle waits until the client sends a byte, up to end. The first
// idleRelease of the wait keeps the read buffer, so a busy keep-alive
// connection reads its next request as usual. A connection idle for
// longer gives its buffer back to the pool and waits without one (on a
// plain TCP connection, where waitReadable can), taking a buffer again
// when bytes arrive: an idle keep-alive connection then costs no buffer,
// only its goroutine and its state. It reports whether bytes arrived.
func (hc *h1Conn) waitIdle(end time.Time) bool {
	hc.setReadDeadline(capDeadline(time.Now().Add(time.Duration(idleRelease.Load())), end))
	_, err := hc.br.Peek(1)
	if err == nil {
		return true
	}
	if !isTimeout(err) || !time.Now().Before(end) {
		return false
	}
	hc.setReadDeadline(end)
	if rc := hc.rawConn(); rc != nil && !hc.big {
		// The last request's head and body reader point into the buffer.
		hc.req.Forget()
		hc.cr.Reset(nil)
		clientReaders.put(hc.br)
		hc.br = nil
		ok := waitReadable(rc)
		hc.br = clientReaders.get(hc.c)
		if !ok {
			return false
		}
	}
	_, err = hc.br.Peek(1)
	return err == nil
}

// rawConn returns the connection's descriptor access for waitReadable, or
// nil where waiting without a buffer is not possible: a TLS connection
// (it may hold bytes it read already) or another platform.
func (hc *h1Conn) rawConn() syscall.RawConn {
	if !canWaitUnbuffered || hc.tls != nil {
		return nil
	}
	if hc.raw == nil {
		c := hc.c
		if sn, ok := c.(*sniff.Conn); ok {
			if sn.Buffered() > 0 {
				return nil // bytes to replay: not idle
			}
			c = sn.NetConn()
		}
		sc, ok := c.(syscall.Conn)
		if !ok {
			return nil
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return nil
		}
		hc.raw = rc
	}
	return hc.raw
}

// Lingering close, as nginx's lingering_close: how long a connection
// closing with a request body unread may keep reading and dropping it,
// in all (lingerTime) and without receiving anything (lingerTimeout).
const (
	lingerTime    = 30 * time.Second
	lingerTimeout = 5 * time.Second
)

// lingerClose prepares the close of a connection whose client may still
// be sending a request body the response did not wait for (a 413, a
// refusal, a backend's early answer). Closed at once with unread bytes,
// the connection would be reset: a client that writes its whole body
// before reading, as many do, would see its write fail and never read
// the answer, and on some systems a reset discards an answer received
// but not yet read. So it ends the response side first, then reads and
// drops what the client sends until the client closes, nothing comes
// for lingerTimeout, or lingerTime has passed. Shutdown may close the
// connection meanwhile, as an idle one.
func (hc *h1Conn) lingerClose() {
	if cw, ok := hc.c.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() != nil {
			return
		}
	}
	hc.state.Store(connIdle)
	if hc.e.isClosing() {
		return
	}
	end := time.Now().Add(lingerTime)
	for now := time.Now(); now.Before(end); now = time.Now() {
		hc.c.SetReadDeadline(capDeadline(now.Add(lingerTimeout), end))
		n, err := hc.br.WriteTo(io.Discard)
		if err == nil || n == 0 || !isTimeout(err) {
			return
		}
	}
}

// readHead reads until br holds a whole request head and parses it into
// hc.req, returning the head's length. The wait for its first byte is
// bounded by the idle timeout (the header timeout on a new connection),
// the rest by the header timeout.
func (hc *h1Conn) readHead() (int, error) {
	t := hc.s.cfg.timeouts
	lim := h1.Limits{MaxHeaderBytes: hc.maxHead()}
	if hc.br.Buffered() == 0 {
		wait := t.ClientIdle
		if hc.served == 0 {
			wait = t.ClientHeader
		}
		if !hc.waitIdle(time.Now().Add(wait)) {
			return 0, errQuiet
		}
	}
	partial := false
	for {
		buf, _ := hc.br.Peek(hc.br.Buffered())
		n, err := h1.Parse(buf, &hc.req, lim)
		if err != h1.ErrIncomplete {
			return n, err
		}
		if !partial {
			partial = true
			hc.setReadDeadline(time.Now().Add(t.ClientHeader))
		}
		if hc.br.Buffered() == hc.br.Size() {
			hc.grow()
		}
		if _, err := hc.br.Peek(hc.br.Buffered() + 1); err != nil {
			return 0, errQuiet // closed, or the header timeout passed
		}
	}
}

// setReadDeadline sets c's read deadline to d (see lazyDeadline).
func (hc *h1Conn) setReadDeadline(d time.Time) {
	if hc.rd.due(d) {
		hc.c.SetReadDeadline(d)
	}
}

// lazyDeadline is the deadline last set on one direction of a
// connection. A new one close enough to it is not set: a busy connection
// then changes its timer now and then, not at every request. Close
// enough is within an eighth of the time left until the new deadline, and
// at most a second, so that a deadline is never much later or earlier
// than asked.
type lazyDeadline struct{ at time.Time }

// due reports whether d must be set, and records it if so.
func (l *lazyDeadline) due(d time.Time) bool {
	slack := min(time.Until(d)/8, time.Second)
	if diff := d.Sub(l.at); diff < slack && diff > -slack {
		return false
	}
	l.at = d
	return true
}

// headSlack is how far past the header limit a head is still read, so
// that the pipeline can answer it 431 with a request id and a log line
// naming the route, as it does on net/http (which reads 4 KiB past it).
const headSlack = 4 << 10

// maxHead is the most bytes of a head the engine reads.
func (hc *h1Conn) maxHead() int { return hc.s.cfg.maxHeaderBytes + headSlack }

// grow moves the buffered bytes to a reader of maxHead bytes, for a head
// longer than the usual buffer.
func (hc *h1Conn) grow() {
	size := hc.maxHead()
	if hc.br.Size() >= size {
		return
	}
	buf, _ := hc.br.Peek(hc.br.Buffered())
	pending := bytes.Clone(buf)
	clientReaders.put(hc.br)
	hc.br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(pending), hc.c), size)
	hc.big = true
}

// shrink goes back to a pooled reader after a long head, once nothing is
// buffered in the big one.
func (hc *h1Conn) shrink() {
	if hc.big && hc.br.Buffered() == 0 {
		hc.br = clientReaders.get(hc.c)
		hc.big = false
	}
}

// handoff returns the connection for net/http, with the bytes read but
// not served (the current request's head onwards).
func (hc *h1Conn) handoff() net.Conn {
	buf, _ := hc.br.Peek(hc.br.Buffered())
	rc := &replayConn{Conn: hc.c, pending: bytes.Clone(buf), tls: hc.tls, proto: "http1"}
	if hc.tls != nil {
		rc.proto = "tls"
	}
	if !hc.big {
		clientReaders.put(hc.br)
	}
	hc.br = nil
	return rc
}

// badRequest answers a head that failed to parse, and logs it at debug
// level (a flood of garbage would otherwise flood the log).
func (hc *h1Conn) badRequest(err error) {
	status := h1.Status(err)
	if status == 0 {
		status = http.StatusBadRequest
	}
	hc.s.logger.LogAttrs(context.Background(), slog.LevelDebug, "bad request head",
		slog.Int("status", status), slog.String("cause", err.Error()), slog.String("client", hc.peerStr))
	hc.s.metrics.requests.WithLabelValues("", "", "", statusClass(status)).Inc()
	msg := http.StatusText(status) + ": " + err.Error() + "\n"
	hc.writeClosing(status, msg)
}
