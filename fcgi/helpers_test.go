package fcgi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts accepted connections and remembers them.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// closeConns closes the accepted connections, as a backend restarting.
func (l *countingListener) closeConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

// fakeBackend serves h over FastCGI with the standard library's server
// on a loopback port, until the test ends.
func fakeBackend(t testing.TB, h http.Handler) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		stdfcgi.Serve(cl, h)
	}()
	t.Cleanup(func() {
		ln.Close()
		cl.closeConns()
		<-done
	})
	return cl
}

// request is what a raw backend read: one request's records.
type request struct {
	id       uint16
	keepConn bool
	params   map[string]string
	stdin    []byte
}

// readRequest reads one request from a FastCGI client: BEGIN_REQUEST,
// PARAMS and STDIN up to their empty records.
func readRequest(r io.Reader) (*request, error) {
	buf := make([]byte, maxRecord)
	req := &request{params: map[string]string{}}
	var params []byte
	paramsDone := false
	for {
		h, content, err := readRecord(r, buf)
		if err != nil {
			return nil, err
		}
		switch h.Type {
		case typeBeginRequest:
			req.id = h.ID
			req.keepConn = content[2]&flagKeepConn != 0
		case typeParams:
			if len(content) > 0 {
				params = append(params, content...)
				continue
			}
			paramsDone = true
			if err := parsePairs(params, func(n, v []byte) { req.params[string(n)] = string(v) }); err != nil {
				return nil, err
			}
		case typeStdin:
			if !paramsDone {
				return nil, errors.New("STDIN before the end of PARAMS")
			}
			if len(content) == 0 {
				return req, nil
			}
			req.stdin = append(req.stdin, content...)
		default:
			return nil, errors.New("unexpected " + h.Type.String())
		}
	}
}

// stdout returns s as STDOUT records, split every n bytes (0: 65535).
func stdout(id uint16, s string, n int) []byte {
	if n == 0 {
		n = maxContent
	}
	var b []byte
	for len(s) > 0 {
		k := min(n, len(s))
		b = appendRecord(b, typeStdout, id, []byte(s[:k]))
		s = s[k:]
	}
	return b
}

func endRecord(id uint16, app uint32, proto uint8) []byte {
	return appendRecord(nil, typeEndRequest, id, []byte{byte(app >> 24), byte(app >> 16), byte(app >> 8), byte(app), proto, 0, 0, 0})
}

// rawBackend accepts connections and runs serve on each, for requests
// that need a misbehaving backend.
func rawBackend(t testing.TB, serve func(c net.Conn, br *bufio.Reader)) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := cl.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		cl.closeConns()
		wg.Wait()
	})
	return cl
}

// answering is a raw backend serve func that reads each request on a
// connection, hands it to seen (if not nil) and writes answer(id).
func answering(seen chan<- *request, answer func(id uint16) []byte) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := readRequest(br)
			if err != nil {
				return
			}
			if seen != nil {
				seen <- req
			}
			if _, err := c.Write(answer(req.id)); err != nil || !req.keepConn {
				return
			}
		}
	}
}

// ok is a complete, well-formed answer.
func ok(id uint16) []byte {
	return append(stdout(id, "Content-Type: text/plain\r\n\r\nok", 0), endRecord(id, 0, statusRequestComplete)...)
}

// logBuffer collects log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// serve runs one request through h and returns the recorder. A panic
// with http.ErrAbortHandler is reported as aborted.
func serve(h http.Handler, r *http.Request) (rec *recorder, aborted bool) {
	rec = newRecorder()
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			aborted = true
		}
	}()
	h.ServeHTTP(rec, r)
	return rec, false
}

// recorder is an httptest.ResponseRecorder that also signals its
// WriteHeader and counts flushes.
type recorder struct {
	mu      sync.Mutex
	code    int
	header  http.Header
	body    bytes.Buffer
	wrote   chan struct{}
	flushes int
}

func newRecorder() *recorder {
	return &recorder{header: http.Header{}, wrote: make(chan struct{})}
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.code == 0 {
		r.code = code
		close(r.wrote)
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body.Write(b)
}

func (r *recorder) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushes++
}

func (r *recorder) Code() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.code
}

func (r *recorder) Body() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body.String()
}

// newRequest is httptest.NewRequest with a remote address, a local
// address in the context, and a test deadline.
func newRequest(t testing.TB, method, target string, body io.Reader) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	r.RequestURI = r.URL.RequestURI()
	if strings.HasPrefix(target, "http") {
		r.Host = r.URL.Host
	}
	r.RemoteAddr = "192.0.2.1:1234"
	r.Proto = "HTTP/1.1"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 8080})
	return r.WithContext(ctx)
}

// handler returns a Handler for the backend at ln, closed at cleanup.
func handler(t testing.TB, ln net.Listener, h *Handler) *Handler {
	if h == nil {
		h = &Handler{}
	}
	h.Addr = ln.Addr().String()
	if h.Root == "" {
		h.Root = "/var/www"
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	t.Cleanup(func() { h.Close() })
	return h
}
