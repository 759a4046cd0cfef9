package phalanx_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/stretchr/testify/require"
)

// freeAddr returns a loopback address that was free a moment ago, for
// options that take an address rather than a listener.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// rawEchoBackend is a raw TCP backend that sends every byte back and
// half-closes once the client has. It stops when the test ends.
func rawEchoBackend(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l.Addr().String()
}

// runServer runs srv.ListenAndServe until the returned stop is called,
// having waited (up to 5s) for every one of addrs to accept. stop cancels
// the context and returns what ListenAndServe returned, failing the test
// if it takes over 5s. It is also called, if not already, when the test
// ends.
func runServer(t *testing.T, srv *phalanx.Server, addrs ...string) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(5 * time.Second):
				result = errors.New("ListenAndServe did not return within 5s of its context ending")
				t.Error(result)
			}
		})
		return result
	}
	t.Cleanup(func() { stop() })
	deadline := time.Now().Add(5 * time.Second)
	for _, addr := range addrs {
		for {
			select {
			case err := <-done:
				t.Fatalf("ListenAndServe returned %v before %s accepted", err, addr)
			default:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not accept after 5s: %v", addr, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return stop
}

// dialTCP connects to addr; the connection is closed when the test ends
// and all its I/O must be done within 10s.
func dialTCP(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

// echoRoundTrip writes msg on c, half-closes it and reads until EOF; it
// returns what came back. The write runs alongside the read, so that the
// echo never waits on a full socket buffer.
func echoRoundTrip(t *testing.T, c *net.TCPConn, msg []byte) []byte {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.NoError(t, <-werr)
	return got
}

func TestTCPPortListenAndServe(t *testing.T) {
	checkNoLeaks(t)
	echo := rawEchoBackend(t)
	web := namedBackend(t, "web")
	httpAddr, tcpAddr := freeAddr(t), freeAddr(t)
	srv, err := phalanx.New(
		phalanx.WithLogger(discard()),
		phalanx.WithListen(httpAddr),
		phalanx.WithTCPProxy(phalanx.TCPProxy{Listen: tcpAddr, Upstream: "echo"}),
		phalanx.WithUnknownProtocols("echo"),
		phalanx.WithUpstream(phalanx.Upstream{Name: "echo", Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: echo}}}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "web", Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: hostOf(web)}}}),
		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "web"}),
	)
	require.NoError(t, err)
	stop := runServer(t, srv, httpAddr, tcpAddr)

	t.Run("tcp echo", func(t *testing.T) {
		c := dialTCP(t, tcpAddr)
		for _, msg := range []string{"hello", "over", "tcp"} {
			_, err := c.Write([]byte(msg))
			require.NoError(t, err)
			got := make([]byte, len(msg))
			_, err = io.ReadFull(c, got)
			require.NoError(t, err)
			if string(got) != msg {
				t.Errorf("echo of %q = %q", msg, got)
			}
		}
	})

	t.Run("tcp half-close", func(t *testing.T) {
		msg := make([]byte, 100<<10)
		r := rand.New(rand.NewPCG(3, 4))
		for i := range msg {
			msg[i] = byte(r.Uint32())
		}
		got := echoRoundTrip(t, dialTCP(t, tcpAddr), msg)
		if !bytes.Equal(got, msg) {
			t.Errorf("echo after half-close: %d bytes, want the %d sent, intact", len(got), len(msg))
		}
	})

	t.Run("http port", func(t *testing.T) {
		code, body := get(t, client(t), "http://"+httpAddr+"/")
		if code != http.StatusOK || body != "web" {
			t.Errorf("GET on the HTTP port = %d %q, want 200 \"web\"", code, body)
		}
	})

	t.Run("unknown protocol on the http port", func(t *testing.T) {
		msg := []byte("\x00\x01hello, not HTTP\r\n\r\n")
		got := echoRoundTrip(t, dialTCP(t, httpAddr), msg)
		if !bytes.Equal(got, msg) {
			t.Errorf("echo of an unknown protocol = %q, want %q (the sniffed bytes included)", got, msg)
		}
	})

	start := time.Now()
	if err := stop(); err != nil {
		t.Errorf("ListenAndServe after its context ended = %v, want nil", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("ListenAndServe took %v to return after its context ended, want within 3s", d)
	}
	for _, addr := range []string{httpAddr, tcpAddr} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts after ListenAndServe returned", addr)
		}
	}
}

// TestTCPPortUnknownProtocolClosed checks that without WithUnknownProtocols
// a connection that is neither HTTP nor TLS is closed unanswered.
func TestTCPPortUnknownProtocolClosed(t *testing.T) {
	checkNoLeaks(t)
	web := namedBackend(t, "web")
	httpAddr := freeAddr(t)
	srv, err := phalanx.New(phalanx.WithLogger(discard()), phalanx.WithListen(httpAddr),
		phalanx.WithUpstream(phalanx.Upstream{Name: "web", Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: hostOf(web)}}}))
	require.NoError(t, err)
	stop := runServer(t, srv, httpAddr)

	c := dialTCP(t, httpAddr)
	_, err = c.Write([]byte("\x00\x01hello"))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 64))
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read after sending an unknown protocol = %d bytes, %v; want the connection closed", n, err)
	}
	code, body := get(t, client(t), "http://"+httpAddr+"/")
	if code != http.StatusOK || body != "web" {
		t.Errorf("GET on the same port = %d %q, want 200 \"web\"", code, body)
	}
	require.NoError(t, stop())
}

// TestTCPPortShutdown checks how ListenAndServe ends with a TCP session
// open: it waits for the session, and cuts it when Timeouts.Shutdown runs
// out.
func TestTCPPortShutdown(t *testing.T) {
	checkNoLeaks(t)
	echo := rawEchoBackend(t)
	setup := func(t *testing.T) (string, func() error) {
		httpAddr, tcpAddr := freeAddr(t), freeAddr(t)
		srv, err := phalanx.New(phalanx.WithLogger(discard()), phalanx.WithListen(httpAddr),
			phalanx.WithTimeouts(phalanx.Timeouts{Shutdown: time.Second}),
			phalanx.WithTCPProxy(phalanx.TCPProxy{Listen: tcpAddr, Upstream: "echo"}),
			phalanx.WithUpstream(phalanx.Upstream{Name: "echo", Health: noActiveChecks,
				Servers: []phalanx.UpstreamServer{{Addr: echo}}}))
		require.NoError(t, err)
		return tcpAddr, runServer(t, srv, httpAddr, tcpAddr)
	}
	// ping sends msg on c and checks that it comes back.
	ping := func(t *testing.T, c net.Conn, msg string) {
		t.Helper()
		_, err := c.Write([]byte(msg))
		require.NoError(t, err)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(c, got)
		require.NoError(t, err)
		require.Equal(t, msg, string(got))
	}

	t.Run("session ends in time", func(t *testing.T) {
		tcpAddr, stop := setup(t)
		c := dialTCP(t, tcpAddr)
		ping(t, c, "before")
		stopped := make(chan error, 1)
		go func() { stopped <- stop() }()
		select {
		case err := <-stopped:
			t.Fatalf("ListenAndServe returned %v with a session open, want it to wait", err)
		case <-time.After(200 * time.Millisecond):
		}
		ping(t, c, "during shutdown")
		got := echoRoundTrip(t, c, []byte("last"))
		require.Equal(t, "last", string(got))
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("ListenAndServe after the session ended = %v, want nil", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("ListenAndServe did not return within 3s of the last session ending")
		}
	})

	t.Run("session cut", func(t *testing.T) {
		tcpAddr, stop := setup(t)
		c := dialTCP(t, tcpAddr)
		ping(t, c, "before")
		start := time.Now()
		if err := stop(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ListenAndServe with a session open past Timeouts.Shutdown = %v, want %v", err, context.DeadlineExceeded)
		}
		if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
			t.Errorf("ListenAndServe returned %v after its context ended, want after the 1s shutdown timeout and within 3s", d)
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if n, err := c.Read(make([]byte, 16)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Read on a cut session = %d bytes, %v; want the connection closed", n, err)
		}
	})
}
