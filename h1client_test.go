package phalanx_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/phalanx-lb/phalanx"
)

// upload sends a POST of size bytes to addr while reading the response,
// as curl does: the body goes on being written, until the connection
// refuses it, whatever the response says. It returns the response's
// status and body.
func upload(t *testing.T, addr string, size int) (int, string, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", size)
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := make([]byte, 64<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := conn.Write(chunk[:min(len(chunk), size-sent)]); err != nil {
				return
			}
		}
	}()
	defer func() { <-done }()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		return 0, "", err
	}
	b, err := io.ReadAll(res.Body)
	conn.Close()
	return res.StatusCode, string(b), err
}

// engineProxy starts a Server on phalanx's engine in front of backend,
// logging nowhere unless opts say otherwise, and returns its address.
func engineProxy(t *testing.T, backend string, opts ...phalanx.Option) string {
	t.Helper()
	opts = append([]phalanx.Option{phalanx.WithLogger(discard()), phalanx.WithHTTP1Engine(phalanx.EnginePhalanx),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: backend}}})},
		opts...)
	url, _ := startProxy(t, opts...)
	return strings.TrimPrefix(url, "http://")
}

// TestEngineRefusalReachesUploader: a request refused before its body is
// read gets its answer, though the client goes on sending the body; the
// connection closes only once the client has had time to read it.
func TestEngineRefusalReachesUploader(t *testing.T) {
	checkNoLeaks(t)
	be := namedBackend(t, "app")
	addr := engineProxy(t, hostOf(be), phalanx.WithMaxBodyBytes(1<<10))
	for i := range 5 {
		status, body, err := upload(t, addr, 8<<20)
		require.NoError(t, err, "try %d", i)
		require.Equal(t, http.StatusRequestEntityTooLarge, status, "try %d: %s", i, body)
	}
}

// TestEngineRelaysEarlyAnswer: a backend that answers before it has read
// the whole body, and then closes, has its answer relayed, where it would
// otherwise be a 502.
func TestEngineRelaysEarlyAnswer(t *testing.T) {
	checkNoLeaks(t)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 1<<20 {
			http.Error(w, "too big for me", http.StatusRequestEntityTooLarge)
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	}))
	t.Cleanup(be.Close)
	addr := engineProxy(t, hostOf(be), phalanx.WithMaxBodyBytes(-1))
	for i := range 5 {
		status, body, err := upload(t, addr, 8<<20)
		require.NoError(t, err, "try %d", i)
		require.Equal(t, http.StatusRequestEntityTooLarge, status, "try %d: %s", i, body)
		require.Equal(t, "too big for me\n", body)
	}
	status, body, err := upload(t, addr, 100<<10)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "102400", body)
}

// TestEngineRefusalReachesWriteFirstClient: a client that writes its whole
// body before it reads, as many do, is not reset while it writes: the
// engine reads and drops the body it refused, and the client then reads
// its 413.
func TestEngineRefusalReachesWriteFirstClient(t *testing.T) {
	checkNoLeaks(t)
	be := namedBackend(t, "app")
	addr := engineProxy(t, hostOf(be), phalanx.WithMaxBodyBytes(1<<10))
	for range 3 {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		const size = 4 << 20
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", size)
		chunk := make([]byte, 64<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			_, err := conn.Write(chunk)
			require.NoError(t, err, "after %d bytes", sent)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
		require.True(t, res.Close, "Connection: close")
		conn.Close()
	}
}

// TestEngineClientAbortCancelsBackend: a client that leaves while the
// backend has not answered (a long poll) ends the backend's request
// within about clientCheckEvery, as nginx does, and is logged as 499.
func TestEngineClientAbortCancelsBackend(t *testing.T) {
	checkNoLeaks(t)
	canceled := make(chan time.Duration, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		select {
		case <-r.Context().Done():
			canceled <- time.Since(start)
		case <-time.After(5 * time.Second):
			fmt.Fprint(w, "late")
		}
	}))
	t.Cleanup(be.Close)
	logger, sink := newLogger()
	addr := engineProxy(t, hostOf(be), phalanx.WithLogger(logger))
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	io.WriteString(conn, "GET /poll HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	conn.Close()
	select {
	case d := <-canceled:
		t.Logf("the backend's request ended %v after it began (the client left after 100ms)", d)
		require.Less(t, d, 3*time.Second)
	case <-time.After(4 * time.Second):
		t.Fatal("the backend's request went on after the client left")
	}
	eventually(t, 2*time.Second, "a 499 log line", func() bool {
		return len(sink.lines("status=499", "/poll")) == 1
	})
}

// TestEngineLongPollPipelined: the check that the client is still there
// keeps a pipelined request it reads, which is answered next.
func TestEngineLongPollPipelined(t *testing.T) {
	checkNoLeaks(t)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/poll" {
			time.Sleep(1500 * time.Millisecond)
		}
		fmt.Fprint(w, r.URL.Path)
	}))
	t.Cleanup(be.Close)
	addr := engineProxy(t, hostOf(be))
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /poll HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(1200 * time.Millisecond) // past the first check
	io.WriteString(conn, "GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(conn)
	for _, want := range []string{"/poll", "/next"} {
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, want, string(b))
	}
}

// TestEngineStalledBody: a request body that stops arriving gets 408 once
// the client idle timeout passes, as nginx's client_body_timeout does;
// the backend never sees a partial request.
func TestEngineStalledBody(t *testing.T) {
	checkNoLeaks(t)
	var reached atomic.Int32
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	t.Cleanup(be.Close)
	addr := engineProxy(t, hostOf(be), phalanx.WithTimeouts(phalanx.Timeouts{ClientIdle: 300 * time.Millisecond}))
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusRequestTimeout, res.StatusCode)
	require.Zero(t, reached.Load())
}

// TestEngineIdleRelease: a keep-alive connection idle past the time after
// which it gives its read buffer back (shortened to 200ms here) goes on
// serving, in clear text and over TLS, with pipelined requests; and the
// idle timeout and Shutdown still end it.
func TestEngineIdleRelease(t *testing.T) {
	checkNoLeaks(t)
	t.Cleanup(phalanx.SetIdleRelease(200 * time.Millisecond))
	be := namedBackend(t, "ok")
	ca := newTestCA(t)
	cert, key := ca.issue(t, t.TempDir(), "a", "127.0.0.1")
	srv, err := phalanx.New(phalanx.WithLogger(discard()), phalanx.WithHTTP1Engine(phalanx.EnginePhalanx),
		phalanx.WithCertificate(cert, key),
		phalanx.WithTimeouts(phalanx.Timeouts{ClientIdle: time.Second}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}()
	dial := func(useTLS bool) net.Conn {
		c, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		if useTLS {
			tc := tls.Client(c, &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
			require.NoError(t, tc.Handshake())
			c = tc
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	for _, useTLS := range []bool{false, true} {
		c := dial(useTLS)
		br := bufio.NewReader(c)
		for i := range 3 {
			if i > 0 {
				time.Sleep(300 * time.Millisecond) // past idleRelease
			}
			// Two pipelined requests in one write.
			io.WriteString(c, "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n")
			for range 2 {
				res, err := http.ReadResponse(br, nil)
				require.NoError(t, err, "tls %v, round %d", useTLS, i)
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				require.Equal(t, "ok", string(b))
			}
		}
		// The idle timeout (1s) ends the connection, past idleRelease.
		start := time.Now()
		_, err := br.ReadByte()
		require.Error(t, err, "tls %v", useTLS)
		require.Less(t, time.Since(start), 3*time.Second)
		require.Greater(t, time.Since(start), 700*time.Millisecond)
		c.Close()
	}
	// Shutdown closes a connection waiting without its buffer at once.
	c := dial(false)
	defer c.Close()
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	require.Less(t, time.Since(start), time.Second)
	_, err = br.ReadByte()
	require.Error(t, err)
}

// TestEngineClientAbortQuietStream: a client that leaves a response
// stream while the backend is quiet (events far apart) ends the backend's
// request within about clientCheckEvery, whether the body is chunked or
// has a length.
func TestEngineClientAbortQuietStream(t *testing.T) {
	checkNoLeaks(t)
	canceled := make(chan time.Duration, 2)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", "100")
		}
		io.WriteString(w, "event 1\n")
		w.(http.Flusher).Flush()
		start := time.Now()
		select {
		case <-r.Context().Done():
			canceled <- time.Since(start)
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(be.Close)
	addr := engineProxy(t, hostOf(be))
	for _, path := range []string{"/chunked", "/length"} {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		line, err := bufio.NewReader(res.Body).ReadString('\n')
		require.NoError(t, err, path)
		require.Equal(t, "event 1\n", line)
		conn.Close()
		select {
		case d := <-canceled:
			t.Logf("%s: the backend's request ended %v after its first event", path, d)
			require.Less(t, d, 3*time.Second)
		case <-time.After(4 * time.Second):
			t.Fatalf("%s: the backend's stream went on after the client left", path)
		}
	}
}

// TestEngineRelaysEarlyAnswerBackendStillOpen: a backend that answers
// before taking the body and then neither reads nor closes has its
// answer relayed within about clientCheckEvery, not after the upstream
// timeout.
func TestEngineRelaysEarlyAnswerBackendStillOpen(t *testing.T) {
	checkNoLeaks(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	be := serveTCP(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n")
		<-release // neither reads the body nor closes
	})
	addr := engineProxy(t, be, phalanx.WithMaxBodyBytes(-1))
	start := time.Now()
	status, body, err := upload(t, addr, 32<<20)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	require.Equal(t, "too big\n", body)
	t.Logf("answered in %v", time.Since(start))
	require.Less(t, time.Since(start), 4*time.Second)
}
