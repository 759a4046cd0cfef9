package phalanx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/phalanx-lb/phalanx/internal/h1"
	"github.com/phalanx-lb/phalanx/lb"
)

// h1upstream.go: the engine's backend side: pooled HTTP/1.1 connections
// per backend, and relaying a request and its response over one of them
// in the connection's own goroutine.

// maxBufferedBody is the most request body bytes that are copied out of
// the read buffer, so that a request whose body arrived with its head can
// be sent again on another connection.
const maxBufferedBody = 16 << 10

// backendReadBuffer is the read buffer of a backend connection.
const backendReadBuffer = 4 << 10

// h1Pool keeps idle HTTP/1.1 connections to one backend.
type h1Pool struct {
	addr    string
	dial    DialFunc
	max     int           // idle connections kept; 0: none
	timeout time.Duration // how long one may stay idle
	mu      sync.Mutex
	idle    []*upConn // most recently used last
	closed  bool
}

// upConn is a connection to a backend.
type upConn struct {
	c       net.Conn
	br      *bufio.Reader
	resp    h1.Response
	headLen int
	cr      h1.ChunkedReader
	pool    *h1Pool
	timer   *time.Timer // closes it when idle too long
	reused  bool
	early   bool         // it answered before the request body's end
	rd, wd  lazyDeadline // the deadlines last set on c
}

// setReadDeadline and setWriteDeadline set c's deadlines (see
// lazyDeadline).
func (uc *upConn) setReadDeadline(d time.Time) {
	if uc.rd.due(d) {
		uc.c.SetReadDeadline(d)
	}
}

func (uc *upConn) setWriteDeadline(d time.Time) {
	if uc.wd.due(d) {
		uc.c.SetWriteDeadline(d)
	}
}

// get returns an idle connection, or nil.
func (p *h1Pool) get() *upConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		uc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if uc.timer.Stop() {
			uc.reused = true
			return uc
		}
		// Its timer fired: expire is closing it.
	}
	return nil
}

// put keeps uc for another request, or closes it.
func (p *h1Pool) put(uc *upConn) {
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.max {
		p.mu.Unlock()
		uc.c.Close()
		return
	}
	p.idle = append(p.idle, uc)
	if uc.timer == nil {
		uc.timer = time.AfterFunc(p.timeout, func() { p.expire(uc) })
	} else {
		uc.timer.Reset(p.timeout)
	}
	p.mu.Unlock()
}

// expire closes uc, idle for too long.
func (p *h1Pool) expire(uc *upConn) {
	p.mu.Lock()
	for i, c := range p.idle {
		if c == uc {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	uc.c.Close()
}

// close closes the idle connections and those put back from now on.
func (p *h1Pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, uc := range idle {
		uc.timer.Stop()
		uc.c.Close()
	}
}

// connect dials a new connection, within deadline if it is set.
func (p *h1Pool) connect(deadline time.Time) (*upConn, error) {
	ctx := context.Background()
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	c, err := p.dial(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	return &upConn{c: c, br: bufio.NewReaderSize(c, backendReadBuffer), pool: p}, nil
}

// Errors of the engine's proxy stage.
var (
	errBodyTooLarge = errors.New("request body too large")
	errBackendHead  = errors.New("backend response head too large")
)

// clientError is a failure to read the client's request body: it says
// nothing about the backend.
type clientError struct{ err error }

func (e *clientError) Error() string {
	if e.err == errClientGone {
		return e.err.Error()
	}
	return "reading the request body: " + e.err.Error()
}
func (e *clientError) Unwrap() error { return e.err }

// body is the request body still to send: prefix (already read), then
// the rest from the client.
type body struct {
	prefix  []byte
	rest    int64 // Content-Length bytes still unread; -1 for chunked
	chunked bool
	limit   int64 // the body limit (negative: none), for chunked bodies
	touched bool  // bytes beyond prefix were read: no second attempt
	reading bool  // the chunked reader has started on the body
	// declared: the client sent Content-Length (0 included)
	declared bool
	done     bool // all of it was read from the client
	// trailer: the trailer fields of a chunked body read whole, sent
	// after its one chunk
	trailer []byte
}

// proxy sends the request to a backend of rt's upstream and relays the
// response; n is the head's length still in br (0 if consumed). It
// reports whether the connection stays open.
func (hc *h1Conn) proxy(x *exchange, rt *route, n int, prefix []byte, limit int64) bool {
	s := hc.s
	st := x.st
	up := rt.up
	req := &hc.req
	head := heads.Get()
	defer heads.Put(head)
	head.B = hc.appendUpstreamHead(head.B, x, rt)
	retryable := idempotentHead(req)
	hostless := len(req.Host) == 0
	bd := body{prefix: prefix, rest: max(req.ContentLength, 0), chunked: req.Chunked, limit: limit,
		declared: req.ContentLength >= 0}
	if prefix != nil {
		bd.rest -= int64(len(prefix))
	}
	x.bytesIn = int64(len(bd.prefix))
	if n > 0 {
		hc.br.Discard(n)
	}
	buf, err := hc.readPrefix(x, &bd, req.Expect100)
	if buf != nil {
		defer copyBuffers.Put(buf)
	}
	if err != nil {
		hc.proxyError(x, err)
		return false
	}
	head.B = bd.appendFraming(head.B, up.keepalive, hostless)

	var tried [1]*lb.Backend
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		b, done, err := pickAvoiding(up.pool, lb.Request{ClientIP: st.clientIP}, tried[:attempt])
		if err != nil {
			if lastErr == nil {
				lastErr = err
			}
			break
		}
		st.backend.Store(b)
		pool := up.h1Pool(b)
		b.Start()
		start := time.Now()
		hb := head.B
		if hostless { // HTTP/1.0 without Host: name the backend
			hb = append(bytes.Clone(hb), "Host: "+b.Addr()+"\r\n\r\n"...)
		}
		uc, err := hc.send(x, pool, hb, &bd)
		latency := time.Since(start)
		st.upstreamNanos.Store(int64(latency))
		s.metrics.upstreamDuration.WithLabelValues(up.name, b.Addr()).Observe(latency.Seconds())
		if err == nil {
			keep := hc.relay(x, uc, rt, b, done, lb.Outcome{Latency: latency, Status: uc.resp.Status})
			x.unread = !bd.done
			return keep && bd.done
		}
		var ce *clientError
		clientFault := errors.As(err, &ce) || errors.Is(err, errBodyTooLarge)
		timedOut := isTimeout(err) && !clientFault
		finish(b, done, lb.Outcome{Latency: latency, ConnFailed: !clientFault, TimedOut: timedOut, Canceled: clientFault})
		lastErr = err
		if clientFault || bd.touched || isTimeout(err) {
			break
		}
		var de *dialError
		if !errors.As(err, &de) && !retryable {
			break
		}
		tried[0] = b
	}
	hc.proxyError(x, lastErr)
	x.unread = !bd.done
	return !x.close && bd.done
}

// readPrefix reads the start of the request body before a backend is
// chosen: a body of Content-Length up to maxBufferedBody, or the first
// chunks of a chunked one up to a copy buffer's size. A request whose body
// is malformed or cut short is then refused before any of it reaches a
// backend, and one read whole can be sent again to another backend; a
// chunked body read whole goes with a Content-Length. It returns the
// buffer to recycle, if it took one.
func (hc *h1Conn) readPrefix(x *exchange, bd *body, expect bool) ([]byte, error) {
	switch {
	case bd.prefix != nil || (!bd.chunked && bd.rest <= 0):
		bd.done = bd.rest <= 0
		return nil, nil
	case !bd.chunked && bd.rest > maxBufferedBody:
		if expect {
			hc.write(continue100)
		}
		return nil, nil // streamed
	}
	if expect && hc.br.Buffered() == 0 {
		hc.write(continue100)
	}
	buf := copyBuffers.Get()
	hc.setReadDeadline(capDeadline(time.Now().Add(hc.s.cfg.timeouts.ClientIdle), x.deadline))
	if !bd.chunked {
		k, err := io.ReadFull(hc.br, buf[:bd.rest])
		x.bytesIn += int64(k)
		if err != nil {
			x.close = true
			return buf, &clientError{err}
		}
		bd.prefix, bd.rest, bd.done = buf[:k], 0, true
		return buf, nil
	}
	hc.cr.Reset(hc.br)
	bd.reading = true
	k := 0
	for k < len(buf) {
		m, err := hc.cr.Read(buf[k:])
		k += m
		x.bytesIn += int64(m)
		if bd.limit >= 0 && x.bytesIn > bd.limit {
			x.close = true
			return buf, errBodyTooLarge
		}
		if err == io.EOF {
			// All of it: send it with a Content-Length, or chunked again
			// if it has a trailer to pass on.
			bd.prefix, bd.rest, bd.done = buf[:k], 0, true
			bd.trailer = hc.cr.Trailer()
			bd.chunked = len(bd.trailer) > 0
			return buf, nil
		}
		if err != nil {
			x.close = true
			return buf, &clientError{err}
		}
	}
	bd.prefix = buf[:k]
	return buf, nil
}

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// appendFraming ends a request head: the body's framing, and the blank
// line unless the Host field is still to come. A chunked body whose
// first chunks were read leads with them as one chunk.
func (bd *body) appendFraming(b []byte, keepalive, hostless bool) []byte {
	switch {
	case bd.chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case bd.rest > 0 || len(bd.prefix) > 0 || bd.declared:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, bd.rest+int64(len(bd.prefix)), 10)
		b = append(b, "\r\n"...)
	}
	if !keepalive {
		b = append(b, "Connection: close\r\n"...)
	}
	if hostless {
		return b
	}
	return append(b, "\r\n"...)
}

// idempotentHead reports whether the request may be sent twice (RFC 9110
// 9.2.2), as idempotent does for net/http.
func idempotentHead(r *h1.Request) bool {
	switch string(r.Method) {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	_, ok := r.Header("idempotency-key")
	return ok
}

// send sends the request on a pooled or new connection to pool's backend
// and reads the response head. A pooled connection that fails before the
// response begins (the backend closed it while idle) is replaced by a new
// one, once, if the body can still be sent.
func (hc *h1Conn) send(x *exchange, pool *h1Pool, head []byte, bd *body) (*upConn, error) {
	for try := 0; ; try++ {
		uc := pool.get()
		if uc == nil {
			var err error
			if uc, err = pool.connect(x.deadline); err != nil {
				return nil, err
			}
		}
		err := hc.roundTrip(x, uc, head, bd)
		if err == nil {
			return uc, nil
		}
		uc.c.Close()
		var ce *clientError
		if uc.reused && try == 0 && !bd.touched && !errors.As(err, &ce) && !isTimeout(err) && uc.br.Buffered() == 0 {
			continue
		}
		return nil, err
	}
}

// roundTrip writes the head and body to uc and reads the response head.
func (hc *h1Conn) roundTrip(x *exchange, uc *upConn, head []byte, bd *body) error {
	t := x.st.cfg.timeouts // the snapshot's: upstream timeouts follow a reload
	uc.setWriteDeadline(capDeadline(time.Now().Add(t.UpstreamHeader), x.deadline))
	var err error
	switch {
	case bd.chunked:
		bufs := net.Buffers{head}
		var size [18]byte
		if len(bd.prefix) > 0 {
			line := append(strconv.AppendInt(size[:0], int64(len(bd.prefix)), 16), '\r', '\n')
			bufs = append(bufs, line, bd.prefix, crlf)
		}
		if bd.done { // read whole, kept chunked for its trailer
			end := heads.Get()
			defer heads.Put(end)
			end.B = appendLastChunk(end.B, bd.trailer)
			bufs = append(bufs, end.B)
		}
		_, err = bufs.WriteTo(uc.c)
	case len(bd.prefix) > 0:
		bufs := net.Buffers{head, bd.prefix}
		_, err = bufs.WriteTo(uc.c)
	default:
		_, err = uc.c.Write(head)
	}
	if err != nil {
		return err
	}
	if !bd.done {
		if err := hc.sendBody(x, uc, bd); err != nil {
			var ce *clientError
			if errors.As(err, &ce) || errors.Is(err, errBodyTooLarge) || !hc.earlyAnswer(x, uc) {
				return err
			}
			return nil
		}
	}
	return hc.awaitHead(x, uc, capDeadline(time.Now().Add(t.UpstreamHeader), x.deadline))
}

// clientCheckEvery is how often a wait for a response head checks that
// the client is still connected.
const clientCheckEvery = time.Second

// errClientGone ends a request whose client closed its connection while
// the backend had not answered yet.
var errClientGone = errors.New("the client closed the connection before the backend answered")

// awaitHead reads the response head from uc by hard, the header
// deadline. A wait that lasts (a long poll, a slow backend) checks every
// clientCheckEvery that the client is still connected: if it closed its
// connection, the wait ends with errClientGone (a client error), and the
// backend's request with it, since its connection is then closed. nginx
// does the same unless proxy_ignore_client_abort is on.
func (hc *h1Conn) awaitHead(x *exchange, uc *upConn, hard time.Time) error {
	for {
		uc.setReadDeadline(capDeadline(time.Now().Add(clientCheckEvery), hard))
		err := uc.readHead(x.head)
		if err == nil || !isTimeout(err) || !time.Now().Before(hard) {
			return err
		}
		if hc.clientGone() {
			return &clientError{errClientGone}
		}
	}
}

// clientGone reports whether the client has closed its connection,
// waiting a millisecond at most. Bytes that arrive (a pipelined request)
// stay in the read buffer for later; while some are buffered, it cannot
// tell and reports false.
func (hc *h1Conn) clientGone() bool {
	err := pollByte(hc.br, hc.setReadDeadline)
	return err != nil && !isTimeout(err)
}

// pollByte waits a millisecond at most, through setReadDeadline, for br to
// hold a byte. It returns nil if one is buffered or arrives (and stays
// buffered), else Peek's error: a timeout if nothing came, another error
// if the connection was closed.
func pollByte(br *bufio.Reader, setReadDeadline func(time.Time)) error {
	if br.Buffered() > 0 {
		return nil
	}
	setReadDeadline(time.Now().Add(time.Millisecond))
	_, err := br.Peek(1)
	return err
}

// errAnswered ends the sending of a request body to a backend that has
// answered and stopped reading it.
var errAnswered = errors.New("the backend answered before taking the whole request body")

// writeBody writes p to the backend by hard, the write deadline. A write
// that waits, the backend not reading, looks every clientCheckEvery
// whether the backend has answered meanwhile (a 413, say): a backend that
// answers early and stops reading without closing the connection is then
// relayed at once (errAnswered), not after the whole deadline.
func (uc *upConn) writeBody(p []byte, hard time.Time) error {
	for {
		uc.setWriteDeadline(capDeadline(time.Now().Add(clientCheckEvery), hard))
		n, err := uc.c.Write(p)
		p = p[n:]
		if err == nil || !isTimeout(err) || !time.Now().Before(hard) {
			return err
		}
		if uc.answered() {
			return errAnswered
		}
	}
}

// answered reports whether the backend has sent bytes, waiting a
// millisecond at most; they stay buffered for readHead.
func (uc *upConn) answered() bool {
	return pollByte(uc.br, uc.setReadDeadline) == nil
}

// earlyAnswerWait bounds the wait for the answer of a backend that stopped
// taking a request body.
const earlyAnswerWait = time.Second

// earlyAnswer reads the response head of a backend that stopped taking
// the request body: one that answered before the body's end (a 413, say)
// and closed the connection or stopped reading. It reports whether it
// read one; that response is then relayed as any other, on a connection
// that is not reused, and the client's connection closes after it.
func (hc *h1Conn) earlyAnswer(x *exchange, uc *upConn) bool {
	uc.setReadDeadline(capDeadline(time.Now().Add(earlyAnswerWait), x.deadline))
	if uc.readHead(x.head) != nil {
		return false
	}
	uc.early, x.close = true, true
	return true
}

// sendBody streams the rest of the request body from the client to uc.
func (hc *h1Conn) sendBody(x *exchange, uc *upConn, bd *body) error {
	t := x.st.cfg.timeouts // the snapshot's: upstream timeouts follow a reload
	buf := copyBuffers.Get()
	defer copyBuffers.Put(buf)
	var src io.Reader = hc.br
	if bd.chunked {
		if !bd.reading {
			hc.cr.Reset(hc.br)
			bd.reading = true
		}
		src = &hc.cr
	}
	for {
		hc.setReadDeadline(capDeadline(time.Now().Add(t.ClientIdle), x.deadline))
		p := buf
		if bd.chunked {
			p = buf[:len(buf)-32] // room for the chunk's framing
		} else if int64(len(p)) > bd.rest {
			p = p[:bd.rest]
		}
		var k int
		var rerr error
		if bd.chunked {
			k, rerr = src.Read(p[16:])
		} else {
			k, rerr = src.Read(p)
		}
		if k > 0 {
			bd.touched = true
			x.bytesIn += int64(k)
			if bd.limit >= 0 && x.bytesIn > bd.limit {
				x.close = true
				return errBodyTooLarge
			}
			out := p[:k]
			if bd.chunked {
				out = chunkFrame(buf, k)
			} else {
				bd.rest -= int64(k)
			}
			if err := uc.writeBody(out, capDeadline(time.Now().Add(t.UpstreamHeader), x.deadline)); err != nil {
				x.close = true
				return err
			}
		}
		if !bd.chunked && bd.rest == 0 {
			bd.done = true
			return nil
		}
		if rerr == io.EOF && bd.chunked {
			bd.done = true
			_, err := uc.c.Write(appendLastChunk(buf[:0], hc.cr.Trailer()))
			return err
		}
		if rerr != nil {
			x.close = true
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			return &clientError{rerr}
		}
	}
}

// chunkFrame frames the k bytes at buf[16:] as one chunk, in place: the
// size line goes just before them, CRLF just after. It returns the frame.
func chunkFrame(buf []byte, k int) []byte {
	var size [16]byte
	line := strconv.AppendInt(size[:0], int64(k), 16)
	line = append(line, '\r', '\n')
	start := 16 - len(line)
	copy(buf[start:], line)
	end := 16 + k
	buf[end], buf[end+1] = '\r', '\n'
	return buf[start : end+2]
}

// readHead reads the response head into uc.resp, skipping interim (1xx)
// responses. head reports a HEAD request.
func (uc *upConn) readHead(head bool) error {
	for {
		buf, _ := uc.br.Peek(uc.br.Buffered())
		n, err := h1.ParseResponse(buf, &uc.resp, h1.Limits{}, head)
		switch {
		case err == nil && uc.resp.Status < 200:
			if uc.resp.Status == http.StatusSwitchingProtocols {
				return errors.New("backend switched protocols unasked")
			}
			uc.br.Discard(n) // 100 Continue, 103 Early Hints
			continue
		case err == nil:
			uc.headLen = n
			return nil
		case errors.Is(err, h1.ErrHeadTooLarge):
			return errBackendHead
		case err != h1.ErrIncomplete:
			return err
		}
		if uc.br.Buffered() == uc.br.Size() {
			if uc.br.Size() >= h1.DefaultMaxHeaderBytes {
				return errBackendHead
			}
			pending := bytes.Clone(buf)
			uc.br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(pending), uc.c), h1.DefaultMaxHeaderBytes)
		}
		if _, err := uc.br.Peek(uc.br.Buffered() + 1); err != nil {
			if err == io.EOF && uc.br.Buffered() > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// capDeadline returns d, or hard if that is set and earlier.
func capDeadline(d, hard time.Time) time.Time {
	if !hard.IsZero() && hard.Before(d) {
		return hard
	}
	return d
}

// relay sends the response head and body from uc to the client, puts uc
// back in its pool if it can serve another request, and reports outcome o
// for backend b once the backend's part is over, before the client gets
// the last bytes (so that a client never sees a request still counted in
// flight). It reports whether the client connection stays open.
func (hc *h1Conn) relay(x *exchange, uc *upConn, rt *route, b *lb.Backend, done func(*lb.Backend, lb.Outcome), o lb.Outcome) bool {
	r := &uc.resp
	noBody := x.head || r.Status == http.StatusNoContent || r.Status == http.StatusNotModified
	chunkOut := false
	switch {
	case noBody:
	case r.Chunked, r.UntilClose:
		if hc.req.ProtoMinor == 0 {
			x.close = true // HTTP/1.0: the body ends with the connection
		} else {
			chunkOut = true
		}
	}
	if hc.e.isClosing() {
		x.close = true
	}
	out := heads.Get()
	defer heads.Put(out)
	out.B = hc.appendResponseHead(out.B, x, r, rt, noBody, chunkOut)
	uc.br.Discard(uc.headLen)
	x.status = r.Status
	reuse := !r.Close && !r.UntilClose && !uc.early
	var err error
	var upErr bool // the error was the backend's
	switch {
	case noBody:
	case r.Chunked:
		uc.cr.Reset(uc.br)
		upErr, err = hc.copyBody(x, uc, &uc.cr, out, chunkOut, -1)
	case r.ContentLength >= 0:
		upErr, err = hc.copyBody(x, uc, uc.br, out, false, r.ContentLength)
	default: // until the backend closes
		upErr, err = hc.copyBody(x, uc, uc.br, out, chunkOut, -1)
		reuse = false
	}
	if err != nil {
		uc.c.Close()
		if upErr {
			hc.s.logger.LogAttrs(context.Background(), slog.LevelWarn, "backend broke off the response",
				slog.String("backend", uc.pool.addr), slog.String("cause", err.Error()),
				slog.String("request_id", x.st.id))
		}
		o.ConnFailed = upErr
		finish(b, done, o)
		return false
	}
	if reuse {
		uc.pool.put(uc)
	} else {
		uc.c.Close()
	}
	finish(b, done, o)
	if err := hc.finalWrite(x, out.B); err != nil {
		return false
	}
	return !x.close
}

// copyBody copies a response body from src (reading uc) to the client,
// after the head already in out: size bytes, or to the end if size is
// negative; chunk frames each piece. Bytes are gathered in out while more
// are buffered, and written before a read that would wait; the last ones
// are left in out. It returns the error that ended the copy, and whether
// it was the backend's.
func (hc *h1Conn) copyBody(x *exchange, uc *upConn, src io.Reader, out *bytebufferpool.ByteBuffer, chunk bool, size int64) (upErr bool, err error) {
	t := x.st.cfg.timeouts // the snapshot's: upstream timeouts follow a reload
	buf := copyBuffers.Get()
	defer copyBuffers.Put(buf)
	left := size
	for left != 0 {
		if len(out.B) > 0 && uc.mayBlock(src == &uc.cr) {
			if err := hc.write(out.B); err != nil {
				return false, err
			}
			out.B = out.B[:0]
		}
		p := buf[16 : len(buf)-2]
		if left > 0 && int64(len(p)) > left {
			p = p[:left]
		}
		k, gone, rerr := hc.readWatching(uc, src, p, capDeadline(time.Now().Add(t.UpstreamHeader), x.deadline))
		if gone {
			return false, &clientError{errClientGone}
		}
		if k > 0 {
			x.bytesOut += int64(k)
			if left > 0 {
				left -= int64(k)
			}
			data := p[:k]
			if chunk {
				data = chunkFrame(buf, k)
			}
			if len(out.B)+len(data) <= cap(buf) {
				out.B = append(out.B, data...)
			} else {
				if len(out.B) > 0 {
					if err := hc.write(out.B); err != nil {
						return false, err
					}
					out.B = out.B[:0]
				}
				if err := hc.write(data); err != nil {
					return false, err
				}
			}
		}
		if rerr == io.EOF && size < 0 {
			break
		}
		if rerr != nil {
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			return true, rerr
		}
	}
	if chunk {
		var trailer []byte
		if src == &uc.cr {
			trailer = uc.cr.Trailer()
		}
		out.B = appendLastChunk(out.B, trailer)
	}
	return false, nil // what is left in out is the caller's to write
}

// readWatching reads the response body from src (uc's reader, or its
// chunked reader) into p by hard, the read deadline. A read that waits
// checks every clientCheckEvery that the client is still connected, as
// awaitHead does, so that a quiet stream (events far apart) whose client
// left ends within a second; gone reports that. The chunked reader's
// errors are final, so it waits for more than the buffered part of a
// frame with a Peek, which a timeout leaves usable, and then reads by
// hard.
func (hc *h1Conn) readWatching(uc *upConn, src io.Reader, p []byte, hard time.Time) (k int, gone bool, err error) {
	chunked := src == &uc.cr
	for {
		uc.setReadDeadline(capDeadline(time.Now().Add(clientCheckEvery), hard))
		if chunked {
			err = nil
			if n := uc.br.Buffered(); !uc.cr.Ready() && n < uc.br.Size() {
				_, err = uc.br.Peek(n + 1) // more than the partial frame held
			}
			if err == nil || !isTimeout(err) || !time.Now().Before(hard) {
				uc.setReadDeadline(hard)
				k, err = src.Read(p)
				return k, false, err
			}
		} else {
			k, err = src.Read(p)
			if k > 0 || err == nil || !isTimeout(err) || !time.Now().Before(hard) {
				return k, false, err
			}
		}
		if hc.clientGone() {
			return 0, true, nil
		}
	}
}

// mayBlock reports whether the next read of the response body may wait
// for the backend: then what was gathered must go to the client first (a
// stream of events must not sit in a buffer). A chunked body needs the
// CRLF that ends the chunk, the next size line and the trailer section's
// end, when the current chunk is done.
func (uc *upConn) mayBlock(chunked bool) bool {
	n := uc.br.Buffered()
	if n == 0 {
		return true
	}
	if !chunked {
		return false
	}
	if _, left := uc.cr.Chunk(); left > 0 {
		return false
	}
	buf, _ := uc.br.Peek(n)
	return bytes.Count(buf, crlf) < 3
}

var crlf = []byte("\r\n")

// proxyError answers a request no backend answered, with one log line.
func (hc *h1Conn) proxyError(x *exchange, err error) {
	st := x.st
	var status int
	var ce *clientError
	switch {
	case errors.Is(err, lb.ErrNoBackend):
		status = http.StatusServiceUnavailable
	case errors.Is(err, errBodyTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.As(err, &ce):
		var he *h1.Error
		switch {
		case errors.As(ce.err, &he):
			status = h1.Status(ce.err) // malformed chunked framing
		case isTimeout(ce.err):
			status = http.StatusRequestTimeout // the body stalled
		default:
			status = statusClientClosed // cut short, or the client left
		}
	case isTimeout(err):
		status = http.StatusGatewayTimeout
	default:
		status = http.StatusBadGateway
	}
	hc.s.logFailed(context.Background(), st, status, err, x.methodString(), x.pathString())
	if status == statusClientClosed {
		x.close = true
		return
	}
	if status == http.StatusServiceUnavailable {
		hc.respond(x, status, http.StatusText(status)+"\n", "Retry-After", "1")
		return
	}
	hc.respond(x, status, http.StatusText(status)+"\n")
}
