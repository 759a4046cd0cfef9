package phalanx_test

import (
	"bufio"
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

// TestEngineRefusalReachesUploader: a request refused before its body is
// read gets its answer, though the client goes on sending the body; the
// connection closes only once the client has had time to read it.
func TestEngineRefusalReachesUploader(t *testing.T) {
	checkNoLeaks(t)
	be := namedBackend(t, "app")
	url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithHTTP1Engine(phalanx.EnginePhalanx),
		phalanx.WithMaxBodyBytes(1<<10),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	for i := range 5 {
		status, body, err := upload(t, strings.TrimPrefix(url, "http://"), 8<<20)
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
	url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithHTTP1Engine(phalanx.EnginePhalanx), phalanx.WithMaxBodyBytes(-1),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	addr := strings.TrimPrefix(url, "http://")
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
	url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithHTTP1Engine(phalanx.EnginePhalanx),
		phalanx.WithMaxBodyBytes(1<<10),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	for range 3 {
		conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
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
	url, _ := startProxy(t, phalanx.WithLogger(logger), phalanx.WithHTTP1Engine(phalanx.EnginePhalanx),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	io.WriteString(conn, "GET /poll HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	conn.Close()
	select {
	case d := <-canceled:
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
	url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithHTTP1Engine(phalanx.EnginePhalanx),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
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
	url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithHTTP1Engine(phalanx.EnginePhalanx),
		phalanx.WithTimeouts(phalanx.Timeouts{ClientIdle: 300 * time.Millisecond}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
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
