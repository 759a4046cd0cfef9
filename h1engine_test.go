package phalanx_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
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
	"github.com/phalanx-lb/phalanx/waf"
)

// scriptedBackend answers each request with the raw response its path
// names, then closes the connection if the response asks for it (or has
// no length).
func scriptedBackend(t *testing.T, responses map[string]string) string {
	return serveTCP(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			raw, ok := responses[req.URL.Path]
			if !ok {
				raw = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
			}
			for i, part := range strings.Split(raw, "|") { // "|" marks a pause
				if i > 0 {
					time.Sleep(50 * time.Millisecond)
				}
				if _, err := io.WriteString(c, part); err != nil {
					return
				}
			}
			if strings.Contains(raw, "Connection: close") || !strings.Contains(raw, "Content-Length") && !strings.Contains(raw, "chunked") {
				return
			}
		}
	})
}

// TestEngineResponseFraming relays responses of every framing a backend
// may use, to HTTP/1.1 and HTTP/1.0 clients.
func TestEngineResponseFraming(t *testing.T) {
	checkNoLeaks(t)
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	be := scriptedBackend(t, map[string]string{
		"/chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n|3\r\ntwo\r\n|5\r\nthree\r\n0\r\n\r\n",
		"/close":   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil|close",
		"/head":    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		"/204":     "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
		"/304":     "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
		"/big":     "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n" + big,
		"/early":   "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/hop":     "HTTP/1.1 200 OK\r\nConnection: X-Secret, keep-alive\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok",
	})
	addr := engineProxy(t, be)
	url := "http://" + addr
	c := client(t)
	for _, tc := range []struct{ path, method, body string }{
		{"/chunked", "GET", "onetwothree"},
		{"/close", "GET", "untilclose"},
		{"/head", "HEAD", ""},
		{"/204", "GET", ""},
		{"/304", "GET", ""},
		{"/big", "GET", big},
		{"/early", "GET", "ok"},
		{"/hop", "GET", "ok"},
	} {
		req, _ := http.NewRequest(tc.method, url+tc.path, nil)
		res, err := c.Do(req)
		require.NoError(t, err, tc.path)
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err, tc.path)
		require.Equal(t, sha256.Sum256([]byte(tc.body)), sha256.Sum256(b), "%s body (%d bytes, want %d)", tc.path, len(b), len(tc.body))
		switch tc.path {
		case "/head":
			require.Equal(t, int64(5), res.ContentLength, "HEAD keeps the length")
		case "/chunked", "/close":
			require.Equal(t, []string{"chunked"}, res.TransferEncoding, tc.path)
		case "/hop":
			require.Empty(t, res.Header.Get("X-Secret"), "a field named by Connection is dropped")
			require.Empty(t, res.Header.Get("Keep-Alive"))
			require.Equal(t, "yes", res.Header.Get("X-Kept"))
		}
	}

	// An HTTP/1.0 client gets bodies without chunked framing, ended by
	// the connection closing.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /chunked HTTP/1.0\r\nHost: a\r\n\r\n")
	all, err := io.ReadAll(conn)
	require.NoError(t, err)
	require.True(t, bytes.HasSuffix(all, []byte("\r\n\r\nonetwothree")), "HTTP/1.0 response: %q", all)
	require.NotContains(t, string(all), "chunked")
}

// TestEngineStreams sends each chunk of a streamed response on as it
// comes, without waiting for the next one.
func TestEngineStreams(t *testing.T) {
	checkNoLeaks(t)
	next := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, ev := range []string{"one", "two"} {
			fmt.Fprintf(w, "data: %s\n\n", ev)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				return
			}
		}
	}))
	t.Cleanup(be.Close)
	url := "http://" + engineProxy(t, hostOf(be))
	res, err := client(t).Get(url + "/")
	require.NoError(t, err)
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	for _, want := range []string{"data: one\n", "\n", "data: two\n"} {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, want, line)
		if want == "\n" {
			next <- struct{}{}
		}
	}
	close(next)
}

// TestEngineStaleConnection: a backend that closes its keep-alive
// connections after each response, without saying so, costs the client
// nothing: a pooled connection found closed is replaced by a new one.
func TestEngineStaleConnection(t *testing.T) {
	checkNoLeaks(t)
	var conns atomic.Int32
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	be.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			conns.Add(1)
		case http.StateIdle:
			go func() { time.Sleep(10 * time.Millisecond); c.Close() }()
		}
	}
	be.Start()
	t.Cleanup(be.Close)
	logger, logs := newLogger()
	url := "http://" + engineProxy(t, hostOf(be), phalanx.WithLogger(logger))
	c := client(t)
	for i := range 5 {
		code, body := get(t, c, url+"/")
		require.Equal(t, 200, code, "request %d", i+1)
		require.Equal(t, "ok", body)
		time.Sleep(30 * time.Millisecond) // the backend closes the idle connection
	}
	require.Empty(t, logs.lines("request failed"))
	require.GreaterOrEqual(t, conns.Load(), int32(5), "each request needed a new backend connection")
}

// TestEngineHandsOver serves, on one client connection, a proxied
// request, one for a route with a Handler (which net/http serves from
// then on), and a proxied one again.
func TestEngineHandsOver(t *testing.T) {
	checkNoLeaks(t)
	be := namedBackend(t, "proxied")
	url, srv := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithHTTP1Engine(phalanx.EnginePhalanx),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}),
		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "app"}),
		phalanx.WithRoute(phalanx.Route{Path: "/local", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "local "+r.Header.Get("X-Request-Id"))
		})}))
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	for i, tc := range []struct{ path, want string }{{"/a", "proxied"}, {"/local", "local "}, {"/b", "proxied"}} {
		res, body, err := rawResponse(conn, br, "GET "+tc.path+" HTTP/1.1\r\nHost: a\r\nX-Request-Id: id-"+tc.path[1:]+"\r\n\r\n", "GET")
		require.NoError(t, err, "request %d", i+1)
		require.Equal(t, 200, res.StatusCode)
		require.True(t, strings.HasPrefix(body, tc.want), "request %d: %q, want %q", i+1, body, tc.want)
		require.Equal(t, "id-"+tc.path[1:], res.Header.Get("X-Request-Id"))
	}
	require.Equal(t, int64(1), phalanx.Handoffs(srv))
}

// TestEngineExpectContinue answers 100 Continue before reading a body the
// client holds back, small or large.
func TestEngineExpectContinue(t *testing.T) {
	checkNoLeaks(t)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d %s", n, r.Header.Get("Expect"))
	}))
	t.Cleanup(be.Close)
	addr := engineProxy(t, hostOf(be))
	for _, size := range []int{10, 100 << 10} {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(conn)
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", size)
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "HTTP/1.1 100 Continue\r\n", line, "size %d", size)
		br.ReadString('\n')
		io.WriteString(conn, strings.Repeat("x", size))
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		require.Equal(t, fmt.Sprintf("%d ", size), string(b), "the backend got the body, and no Expect")
		conn.Close()
	}
}

// TestEngineExpectContinueWAF: the firewall, which reads a body to
// inspect it, answers 100 Continue first too.
func TestEngineExpectContinueWAF(t *testing.T) {
	checkNoLeaks(t)
	be := bodyEcho(t)
	conn, err := net.Dial("tcp", engineProxy(t, hostOf(be), phalanx.WithWAF(waf.Config{})))
	require.NoError(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: a\r\nUser-Agent: %s\r\nContent-Type: application/json\r\n"+
		"Expect: 100-continue\r\nContent-Length: 13\r\n\r\n", browserUA)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 100 Continue\r\n", line)
	br.ReadString('\n')
	io.WriteString(conn, `{"name":"ok"}`)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, `{"name":"ok"}`, string(b))
}

// TestEngineShutdownClosesIdle: Shutdown closes idle keep-alive
// connections at once, and lets a request in flight finish with
// Connection: close.
func TestEngineShutdownClosesIdle(t *testing.T) {
	checkNoLeaks(t)
	release := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(be.Close)
	srv, err := phalanx.New(phalanx.WithLogger(discard()), phalanx.WithHTTP1Engine(phalanx.EnginePhalanx),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()

	idle, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer idle.Close()
	idle.SetDeadline(time.Now().Add(5 * time.Second))
	ibr := bufio.NewReader(idle)
	_, body, err := rawResponse(idle, ibr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
	require.NoError(t, err)
	require.Equal(t, "ok", body)

	busy, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer busy.Close()
	busy.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // the request reaches the backend

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// The idle connection is closed without waiting for anything.
	_, err = ibr.ReadByte()
	require.Error(t, err)
	close(release)
	res, err := http.ReadResponse(bufio.NewReader(busy), nil)
	require.NoError(t, err)
	require.True(t, res.Close, "the last response says Connection: close")
	require.NoError(t, <-shut)
	require.ErrorIs(t, <-done, phalanx.ErrServerClosed)
}

// TestEngineRelaysTrailers: the trailer of a chunked response reaches an
// HTTP/1.1 client on both engines, announced as the backend announced it.
// Phalanx's engine also drops the fields a trailer must not carry, which
// net/http's ReverseProxy forwards.
func TestEngineRelaysTrailers(t *testing.T) {
	checkNoLeaks(t)
	be := scriptedBackend(t, map[string]string{
		"/sum": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n" +
			"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nContent-Length: 99\r\n\r\n",
	})
	for _, engine := range []phalanx.HTTP1Engine{phalanx.EnginePhalanx, phalanx.EngineNetHTTP} {
		t.Run(string(engine), func(t *testing.T) {
			url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithHTTP1Engine(engine),
				phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: be}}}))
			res, err := client(t).Get(url + "/sum")
			require.NoError(t, err)
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			require.NoError(t, err)
			require.Equal(t, "hello", string(b))
			require.Equal(t, "abc", res.Trailer.Get("X-Checksum"))
			if engine == phalanx.EnginePhalanx {
				require.Empty(t, res.Trailer.Values("Content-Length"))
			}
		})
	}
}

// TestEngineForwardsRequestTrailers: the trailer of a chunked request body
// reaches the backend, for a body read whole before a backend is chosen
// and for one streamed, less the fields a trailer must not carry. (The
// net/http engine forwards none: its ReverseProxy request has no
// Trailer.)
func TestEngineForwardsRequestTrailers(t *testing.T) {
	checkNoLeaks(t)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d %s %q", n, r.Trailer.Get("X-Sum"), r.Trailer.Get("Authorization"))
	}))
	t.Cleanup(be.Close)
	addr := engineProxy(t, hostOf(be))
	for _, size := range []int{0, 10, 100 << 10} {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		var req bytes.Buffer
		req.WriteString("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n")
		if size > 0 {
			fmt.Fprintf(&req, "%x\r\n%s\r\n", size, strings.Repeat("x", size))
		}
		req.WriteString("0\r\nX-Sum: s1\r\nAuthorization: secret\r\n\r\n")
		_, err = conn.Write(req.Bytes())
		require.NoError(t, err)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		conn.Close()
		require.Equal(t, fmt.Sprintf("%d s1 %q", size, ""), string(b), "size %d", size)
	}
}
