package uwsgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Handler serves HTTP requests through a uwsgi application server: each
// request becomes one uwsgi packet followed by the request body, on a
// connection of its own (the protocol has no keep-alive: the application
// ends its response by closing the connection), and the application's
// raw HTTP/1.x response is streamed back.
//
// Set the fields before the first request and leave them alone after:
// a Handler is then safe for concurrent use. It holds no state of its
// own, so it may be copied. The zero value has no address; every request
// then fails with 502.
type Handler struct {
	// Network is "tcp" or "unix". Empty means "unix" when Addr starts
	// with "unix:" and "tcp" otherwise.
	Network string
	// Addr is the application's address: "127.0.0.1:3031", or a socket
	// path, "/run/uwsgi.sock" or "unix:/run/uwsgi.sock" (nginx's
	// uwsgi_pass syntax; the "unix:" prefix is dropped).
	Addr string
	// Params are vars sent with every request, as nginx's uwsgi_param.
	// One named like a request var (REQUEST_METHOD, PATH_INFO,
	// SCRIPT_NAME, DOCUMENT_ROOT, HTTP_HOST, ...) replaces it; one named
	// HTTP_X_FOO replaces the client's X-Foo header. Values are literal
	// strings (no $variables). Nil sends the request vars alone.
	Params []Param
	// Timeouts bound the waits on the application; a zero field keeps its
	// default.
	Timeouts Timeouts
	// Logger gets one line for each request that fails; nil means
	// slog.Default().
	Logger *slog.Logger
	// Dial, if not nil, connects to the application instead of a
	// net.Dialer (tests use it to inject faults). Its context carries the
	// Timeouts.Dial deadline.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Timeouts bound each wait of a Handler on its application. A zero field
// means its default.
type Timeouts struct {
	// Dial bounds connecting; 5s. A timeout answers 504, like nginx.
	Dial time.Duration
	// Read bounds each wait for bytes from the application once the
	// request body is sent, the response header included, so a slow
	// stream may run for as long as it keeps sending; 60s (nginx's
	// uwsgi_read_timeout). A timeout before the response header answers
	// 504; after it, the response is aborted.
	Read time.Duration
	// Write bounds each write of the request to the application; 60s
	// (nginx's uwsgi_send_timeout).
	Write time.Duration
}

// Defaults of Timeouts.
const (
	DefaultDialTimeout  = 5 * time.Second
	DefaultReadTimeout  = 60 * time.Second
	DefaultWriteTimeout = 60 * time.Second
)

// Param is one uwsgi var: a name and its value.
type Param struct {
	Name, Value string
}

// maxInterim bounds the 1xx responses skipped before the final one.
const maxInterim = 8

// Buffer pools, one per kind of buffer.
var (
	// packetPool holds buffers for request packets. Most fit in 4 KiB;
	// none sent is over 64 KiB.
	packetPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
	// copyPool holds buffers for copying bodies either way.
	copyPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	// readerPool holds the buffered readers of response headers.
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
)

// ServeHTTP sends r to the application and streams its response to w.
//
// A request with a body must have a Content-Length, since the protocol
// carries one in CONTENT_LENGTH: a body of unknown length (chunked
// HTTP/1.1, HTTP/2 without content-length) gets 411 Length Required
// rather than being buffered. The body is streamed to the application as
// it arrives, concurrently with reading the response.
//
// Failures answer with a status and one log line: 431 when the request
// vars exceed the protocol's 64 KiB (nothing is sent to the application);
// 502 when the application cannot be reached, closes the connection
// before its response header, or sends a malformed one (and, logged at
// debug level only, when the client goes away first); 504 when the
// connect or a read times out, or r's context deadline passes, before
// the response header; 413 when the request body exceeds an http.MaxBytesReader
// limit. Once the response header is sent, a failure aborts the response
// (panic(http.ErrAbortHandler)), so the client sees a truncated body
// rather than a complete-looking one.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	cl := int64(-1) // CONTENT_LENGTH empty, as nginx sends it for a bodiless request
	switch {
	case hasBody && r.ContentLength < 0:
		h.fail(w, r, http.StatusLengthRequired, "uwsgi: request body without Content-Length", nil)
		return
	case hasBody:
		cl = r.ContentLength
	case r.Header["Content-Length"] != nil:
		cl = 0
	}

	bp := packetPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 2*MaxDatasize {
			packetPool.Put(bp)
		}
	}()
	pkt, err := appendRequest((*bp)[:0], r, h.Params, cl)
	*bp = pkt
	if err != nil {
		var se *sizeError
		if errors.As(err, &se) {
			h.logger().LogAttrs(r.Context(), slog.LevelWarn, se.Error(), h.attrs(r, slog.Int("size", se.size))...)
		}
		http.Error(w, http.StatusText(http.StatusRequestHeaderFieldsTooLarge), http.StatusRequestHeaderFieldsTooLarge)
		return
	}

	ctx := r.Context()
	conn, err := h.dial(ctx)
	if err != nil {
		status := http.StatusBadGateway
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			status = http.StatusGatewayTimeout
		}
		h.failCtx(w, r, status, "uwsgi: connect failed", err)
		return
	}
	x := &exchange{h: h, conn: conn}
	defer x.close(w)
	// The request's end (client gone, route timeout) unblocks any read
	// or write on conn.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	conn.SetWriteDeadline(time.Now().Add(h.writeTimeout()))
	if _, err := conn.Write(pkt); err != nil {
		h.failCtx(w, r, http.StatusBadGateway, "uwsgi: sending the request failed", err)
		return
	}
	if hasBody {
		// The body goes up while the response comes down: without full
		// duplex, net/http's HTTP/1 server would wait for the rest of
		// the body before sending the response header (HTTP/2 always
		// is full duplex, and says ErrNotSupported).
		http.NewResponseController(w).EnableFullDuplex()
		x.send = &sender{done: make(chan struct{})}
		go x.send.run(conn, r.Body, cl, h.writeTimeout(), h.readTimeout())
	}

	x.tr = timeoutReader{c: conn, d: h.readTimeout(), send: x.send}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(&x.tr)
	defer func() {
		br.Reset(nil)
		readerPool.Put(br)
	}()
	res, err := readFinalHeader(br)
	if err != nil {
		x.headerFailed(w, r, err)
		return
	}
	for _, k := range hopByHop(res.Header) {
		delete(res.Header, k)
	}
	hdr := w.Header()
	for k, vs := range res.Header {
		hdr[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	if r.Method == http.MethodHead || res.StatusCode == http.StatusNoContent || res.StatusCode == http.StatusNotModified {
		return
	}
	x.copyBody(w, r, br, res)
}

// readFinalHeader reads response headers, skipping interim 1xx ones.
func readFinalHeader(br *bufio.Reader) (*ResponseHeader, error) {
	for range maxInterim {
		res, err := ReadResponseHeader(br, DefaultMaxHeaderBytes)
		switch {
		case err != nil:
			return nil, err
		case res.StatusCode == http.StatusSwitchingProtocols:
			return nil, fmt.Errorf("%w: 101 Switching Protocols is not supported", ErrMalformedResponse)
		case res.StatusCode >= 200:
			return res, nil
		}
	}
	return nil, fmt.Errorf("%w: more than %d interim responses", ErrMalformedResponse, maxInterim)
}

// exchange is the state of one request to the application.
type exchange struct {
	h    *Handler
	conn net.Conn
	tr   timeoutReader
	send *sender // nil without a request body
}

// close closes the connection and waits for the body sender. A sender
// still blocked reading the client's body (the application answered
// without reading all of it) is unblocked through the client
// connection's read deadline, so that no goroutine touches r.Body after
// ServeHTTP returns.
func (x *exchange) close(w http.ResponseWriter) {
	x.conn.Close()
	if x.send == nil {
		return
	}
	select {
	case <-x.send.done:
		return
	default:
	}
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case <-x.send.done:
	case <-t.C:
		http.NewResponseController(w).SetReadDeadline(time.Now())
		<-x.send.done
	}
}

// headerFailed answers a request whose response header could not be read.
func (x *exchange) headerFailed(w http.ResponseWriter, r *http.Request, err error) {
	h := x.h
	if r.Context().Err() != nil {
		h.failCtx(w, r, http.StatusBadGateway, "uwsgi: no response", err)
		return
	}
	if x.send != nil {
		if cerr := x.send.clientErr(); cerr != nil {
			var mbe *http.MaxBytesError
			if errors.As(cerr, &mbe) {
				h.fail(w, r, http.StatusRequestEntityTooLarge, "uwsgi: request body too large", cerr)
			} else {
				h.fail(w, r, http.StatusBadRequest, "uwsgi: reading the request body failed", cerr)
			}
			return
		}
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		h.fail(w, r, http.StatusGatewayTimeout, "uwsgi: timed out waiting for the response header", err)
	case errors.Is(err, ErrMalformedResponse) || errors.Is(err, ErrHeaderTooLarge):
		h.fail(w, r, http.StatusBadGateway, "uwsgi: invalid response header", err)
	default:
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: connection closed", err)
		}
		if x.send != nil && x.sendDone() && x.send.backendErr != nil {
			err = fmt.Errorf("%w (sending the body: %v)", err, x.send.backendErr)
		}
		h.fail(w, r, http.StatusBadGateway, "uwsgi: the application closed the connection before the response header", err)
	}
}

func (x *exchange) sendDone() bool {
	select {
	case <-x.send.done:
		return true
	default:
		return false
	}
}

// copyBody streams the response body to w, flushing after every read so
// that a slow stream reaches the client as it is produced.
func (x *exchange) copyBody(w http.ResponseWriter, r *http.Request, br *bufio.Reader, res *ResponseHeader) {
	var body io.Reader = br
	var lr *io.LimitedReader
	switch {
	case res.Chunked:
		body = httputil.NewChunkedReader(br)
	case res.ContentLength >= 0:
		lr = &io.LimitedReader{R: br, N: res.ContentLength}
		body = lr
	}
	rc := http.NewResponseController(w)
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				x.h.logger().LogAttrs(r.Context(), slog.LevelDebug, "uwsgi: writing the response failed", x.h.attrs(r, slog.Any("error", werr))...)
				panic(http.ErrAbortHandler)
			}
			// Skip the flush only when more of a plain body is already
			// buffered: the next read then cannot block.
			if res.Chunked || br.Buffered() == 0 {
				rc.Flush()
			}
		}
		if err == io.EOF && (lr == nil || lr.N == 0) {
			return
		}
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("%w: %d bytes short of Content-Length", io.ErrUnexpectedEOF, lr.N)
			}
			level := slog.LevelError
			if errors.Is(r.Context().Err(), context.Canceled) {
				level = slog.LevelDebug // the client went away
			}
			x.h.logger().LogAttrs(r.Context(), level, "uwsgi: response body aborted", x.h.attrs(r, slog.Any("error", err))...)
			panic(http.ErrAbortHandler)
		}
	}
}

// sender streams the request body to the application.
type sender struct {
	done       chan struct{} // closed when run returns
	cerr       atomic.Pointer[error]
	backendErr error // set before done is closed

	// mu orders the end of the upload with the response reads'
	// deadlines: the read timeout only runs once the body is sent, as
	// nginx's uwsgi_read_timeout does, so that a slow upload is not
	// taken for a slow application.
	mu       sync.Mutex
	finished bool // requires mu held
}

// clientErr returns the error reading the client's body, if any.
func (s *sender) clientErr() error {
	if p := s.cerr.Load(); p != nil {
		return *p
	}
	return nil
}

// run copies n bytes of body to conn. A failure to read the body closes
// conn, which stops the response read; a failure to write leaves conn
// open, since the application may have answered without reading the
// whole body.
func (s *sender) run(conn net.Conn, body io.Reader, n int64, timeout, readTimeout time.Duration) {
	defer close(s.done)
	defer func() {
		s.mu.Lock()
		s.finished = true
		conn.SetReadDeadline(time.Now().Add(readTimeout))
		s.mu.Unlock()
	}()
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	for n > 0 {
		p := buf
		if int64(len(p)) > n {
			p = p[:n]
		}
		m, err := body.Read(p)
		if m > 0 {
			conn.SetWriteDeadline(time.Now().Add(timeout))
			if _, werr := conn.Write(p[:m]); werr != nil {
				s.backendErr = werr
				return
			}
			n -= int64(m)
		}
		if err != nil && n > 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			s.cerr.Store(&err)
			conn.Close()
			return
		}
	}
}

// timeoutReader sets a read deadline before each read, once the request
// body, if any, is sent; until then it reads without one.
type timeoutReader struct {
	c    net.Conn
	d    time.Duration
	send *sender // nil without a request body
}

func (t *timeoutReader) Read(p []byte) (int, error) {
	if s := t.send; s != nil {
		s.mu.Lock()
		if !s.finished {
			t.c.SetReadDeadline(time.Time{}) // the sender sets it when done
			s.mu.Unlock()
			return t.c.Read(p)
		}
		s.mu.Unlock()
	}
	t.c.SetReadDeadline(time.Now().Add(t.d))
	return t.c.Read(p)
}

// hopByHop returns the hop-by-hop fields of a response header: those
// that describe the connection to the application, not the response
// (RFC 9110 7.6.1), and Content-Length when the body is chunked.
func hopByHop(h http.Header) []string {
	var ks []string
	for _, v := range h["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				ks = append(ks, http.CanonicalHeaderKey(f))
			}
		}
	}
	ks = append(ks, "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade")
	if _, ok := h["Transfer-Encoding"]; ok {
		ks = append(ks, "Content-Length")
	}
	return ks
}

// dial connects to the application within Timeouts.Dial.
func (h *Handler) dial(ctx context.Context) (net.Conn, error) {
	network, addr := h.Network, h.Addr
	if rest, ok := strings.CutPrefix(addr, "unix:"); ok && (network == "" || network == "unix") {
		network, addr = "unix", rest
	}
	if network == "" {
		network = "tcp"
	}
	d := h.Timeouts.Dial
	if d <= 0 {
		d = DefaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if h.Dial != nil {
		return h.Dial(ctx, network, addr)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (h *Handler) readTimeout() time.Duration {
	if h.Timeouts.Read > 0 {
		return h.Timeouts.Read
	}
	return DefaultReadTimeout
}

func (h *Handler) writeTimeout() time.Duration {
	if h.Timeouts.Write > 0 {
		return h.Timeouts.Write
	}
	return DefaultWriteTimeout
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// attrs are the attributes of every log line about r.
func (h *Handler) attrs(r *http.Request, more ...slog.Attr) []slog.Attr {
	return append([]slog.Attr{slog.String("addr", h.Addr), slog.String("method", r.Method),
		slog.String("uri", r.RequestURI)}, more...)
}

// fail answers status and logs msg: at error level for 5xx, warn below.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	attrs := h.attrs(r, slog.Int("status", status))
	if err != nil {
		attrs = append(attrs, slog.Any("error", err))
	}
	h.logger().LogAttrs(r.Context(), level, msg, attrs...)
	http.Error(w, http.StatusText(status), status)
}

// failCtx is fail, except when r's context has ended: a deadline answers
// 504, a client gone away 502 logged at debug level only.
func (h *Handler) failCtx(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	switch cerr := r.Context().Err(); {
	case errors.Is(cerr, context.DeadlineExceeded):
		h.fail(w, r, http.StatusGatewayTimeout, "uwsgi: request timed out", cerr)
	case cerr != nil:
		h.logger().LogAttrs(r.Context(), slog.LevelDebug, "uwsgi: client went away", h.attrs(r, slog.Any("error", err))...)
		http.Error(w, http.StatusText(http.StatusBadGateway), http.StatusBadGateway)
	default:
		h.fail(w, r, status, msg, err)
	}
}

var _ http.Handler = (*Handler)(nil)
