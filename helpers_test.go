package phalanx_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/stretchr/testify/require"
)

// logSink records slog output for assertions.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines returns the logged lines that contain every one of subs.
func (l *logSink) lines(subs ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

func newLogger() (*slog.Logger, *logSink) {
	sink := &logSink{}
	return slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug})), sink
}

// startProxy starts a Server on a loopback port and returns its base URL.
// The Server is shut down, and goroutine leaks checked, when the test ends.
func startProxy(t *testing.T, opts ...phalanx.Option) (string, *phalanx.Server) {
	t.Helper()
	srv, err := phalanx.New(opts...)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after Shutdown")
		}
	})
	return "http://" + l.Addr().String(), srv
}

// namedBackend starts a loopback backend that answers with its name.
func namedBackend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, name)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func hostOf(ts *httptest.Server) string { return strings.TrimPrefix(ts.URL, "http://") }

// client returns an HTTP client with its own transport, closed at cleanup,
// and a bounded timeout.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	res, err := c.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// eventually polls cond every 5ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leakMarkers are frames that only phalanx's own goroutines, or backend
// connections it left open, would be running.
var leakMarkers = []string{
	"phalanx-lb/phalanx/lb.(*Pool).checkLoop",
	"phalanx-lb/phalanx.(*Server)",
	"net/http.(*persistConn).readLoop",
	"net/http.(*persistConn).writeLoop",
}

// checkNoLeaks fails the test if goroutines of phalanx (health checkers,
// backend connections) are still running shortly after the test ends.
// Register it first so that it runs after every other cleanup.
func checkNoLeaks(t *testing.T) {
	t.Cleanup(func() {
		var stacks string
		deadline := time.Now().Add(5 * time.Second)
		for {
			buf := make([]byte, 1<<20)
			stacks = string(buf[:runtime.Stack(buf, true)])
			leaked := false
			for _, g := range strings.Split(stacks, "\n\n") {
				if strings.Contains(g, "checkNoLeaks") {
					continue
				}
				for _, m := range leakMarkers {
					if strings.Contains(g, m) {
						leaked = true
					}
				}
			}
			if !leaked {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutines leaked:\n%s", stacks)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// newHeaderBackend is a backend answering name that hands each request's
// headers to seen.
func newHeaderBackend(t *testing.T, name string, seen chan<- http.Header) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		seen <- r.Header.Clone()
		io.WriteString(w, name)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// nextHeader returns the next request header a newHeaderBackend saw,
// failing the test if none comes within 5s (the request never reached
// the backend).
func nextHeader(t *testing.T, seen <-chan http.Header) http.Header {
	t.Helper()
	select {
	case h := <-seen:
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("the backend saw no request within 5s")
		return nil
	}
}

// newHeaderEcho is a backend answering prefix+the value of header.
func newHeaderEcho(t *testing.T, header, prefix string) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, prefix+r.Header.Get(header))
	}))
	t.Cleanup(ts.Close)
	return ts
}

// serveTCP accepts connections on a new loopback listener until the test
// ends, serving each with serve in a goroutine (which should close it);
// it returns the listener's address.
func serveTCP(tb testing.TB, serve func(c net.Conn)) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return l.Addr().String()
}
