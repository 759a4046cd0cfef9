package phalanx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/lb"
	"github.com/phalanx-lb/phalanx/sniff"
	"github.com/stretchr/testify/require"
)

// tcpWait bounds every wait of the TCP tests.
const tcpWait = 10 * time.Second

// tcpTestServer is a loopback TCP server that runs handle on each
// connection, then closes it. Cleanup closes the listener and the open
// connections and waits for its goroutines.
type tcpTestServer struct {
	l        net.Listener
	accepted atomic.Int64
	open     atomic.Int64
	mu       sync.Mutex // protects conns
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

func startTCPServer(t testing.TB, handle func(net.Conn)) *tcpTestServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &tcpTestServer{l: l, conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.accepted.Add(1)
			s.open.Add(1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer s.open.Add(-1)
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		tcpWaitGroup(t, &s.wg, "test server goroutines")
	})
	return s
}

func (s *tcpTestServer) addr() string { return s.l.Addr().String() }

func tcpWaitGroup(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(tcpWait):
		t.Errorf("timed out waiting for %s", what)
	}
}

// tcpEcho copies the connection back to itself, then half-closes it.
func tcpEcho(c net.Conn) {
	io.Copy(c, c)
	c.(*net.TCPConn).CloseWrite()
}

// tcpReplyAfterEOF reads the whole request, then answers "<addr>|" and the
// request back, then closes.
func tcpReplyAfterEOF(c net.Conn) {
	data, err := io.ReadAll(c)
	if err != nil {
		return
	}
	io.WriteString(c, c.LocalAddr().String()+"|")
	c.Write(data)
}

// tcpHold reads until the client is done, sending nothing.
func tcpHold(c net.Conn) { io.Copy(io.Discard, c) }

// tcpReadProxyHeader parses a PROXY header, reads the rest to EOF, and
// answers "v<version> <source> <destination>|<rest>".
func tcpReadProxyHeader(c net.Conn) {
	br := bufio.NewReader(c)
	h, err := sniff.ReadProxyHeader(br)
	if err != nil {
		fmt.Fprintf(c, "error %v", err)
		return
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		return
	}
	fmt.Fprintf(c, "v%d %s %s|%s", h.Version, h.Source, h.Destination, rest)
}

// tcpDeadAddr returns a loopback address nobody listens on.
func tcpDeadAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	return addr
}

// tcpPool builds a pool without active health checks over addrs.
func tcpPool(t testing.TB, algorithm string, addrs ...string) (*lb.Pool, []*lb.Backend) {
	t.Helper()
	builder, err := lb.Lookup(algorithm)
	require.NoError(t, err)
	var bs []*lb.Backend
	for _, a := range addrs {
		b, err := lb.NewBackend(a, lb.BackendConfig{})
		require.NoError(t, err)
		bs = append(bs, b)
	}
	pool, err := lb.NewPool("tcp-test", bs, lb.PoolConfig{
		Builder: builder,
		Health:  lb.HealthCheck{Interval: -1},
		Logger:  slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool, bs
}

// tcpLog collects log output.
type tcpLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *tcpLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *tcpLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startTCPProxy serves c on a loopback port. Cleanup closes the proxy,
// checks that serve returned nil, and that no goroutine of the proxy is
// left.
func startTCPProxy(t testing.TB, c tcpConfig) (*tcpProxy, string, *tcpLog) {
	t.Helper()
	checkNoTCPLeaks(t)
	log := &tcpLog{}
	if c.logger == nil {
		c.logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	p, err := newTCPProxy(c)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- p.serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), tcpWait)
		defer cancel()
		if err := p.close(ctx); err != nil {
			t.Errorf("close() = %v, want nil", err)
		}
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("serve() = %v, want nil after close", err)
			}
		case <-time.After(tcpWait):
			t.Errorf("serve did not return after close")
		}
	})
	return p, l.Addr().String(), log
}

// tcpLeakChecked holds the tests whose leak check is registered.
var tcpLeakChecked sync.Map

// checkNoTCPLeaks fails the test if a goroutine of a tcpProxy is still
// running shortly after the test's other cleanups. Call it before anything
// that starts a proxy; calls after the first do nothing, since the first
// one's cleanup runs last.
func checkNoTCPLeaks(t testing.TB) {
	if _, dup := tcpLeakChecked.LoadOrStore(t, true); dup {
		return
	}
	t.Cleanup(func() {
		defer tcpLeakChecked.Delete(t)
		deadline := time.Now().Add(tcpWait)
		for {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			var leaked []string
			for _, g := range strings.Split(stacks, "\n\n") {
				if strings.Contains(g, "phalanx.(*tcpProxy)") || strings.Contains(g, "phalanx.(*tcpSession)") {
					leaked = append(leaked, g)
				}
			}
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("tcp proxy goroutines leaked:\n%s", strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func tcpDial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, tcpWait)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(tcpWait)))
	return c.(*net.TCPConn)
}

// tcpExchange sends prefix and payload on a new connection to addr,
// half-closes it, and returns everything read back until EOF.
func tcpExchange(t testing.TB, addr string, prefix, payload []byte) []byte {
	t.Helper()
	c := tcpDial(t, addr)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(append(append([]byte(nil), prefix...), payload...))
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

func tcpRandom(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestTCPEcho(t *testing.T) {
	backend := startTCPServer(t, tcpEcho)
	pool, bs := tcpPool(t, lb.RoundRobinName, backend.addr())
	p, addr, _ := startTCPProxy(t, tcpConfig{pool: pool})
	var total uint64
	for _, size := range []int{0, 1, 4099, 256 << 10, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := tcpRandom(size, uint64(size))
			got := tcpExchange(t, addr, nil, data)
			if !bytes.Equal(got, data) {
				t.Errorf("echo of %d bytes = %d bytes, not the same", size, len(got))
			}
		})
		total += uint64(size)
	}
	tcpEventually(t, "sessions to end", func() bool { return p.active() == 0 && bs[0].InFlight() == 0 })
	if p.bytesIn() != total || p.bytesOut() != total {
		t.Errorf("bytesIn, bytesOut = %d, %d, want %d each", p.bytesIn(), p.bytesOut(), total)
	}
	if p.accepted() != 5 || p.failed() != 0 {
		t.Errorf("accepted, failed = %d, %d, want 5, 0", p.accepted(), p.failed())
	}
}

func tcpEventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(tcpWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", tcpWait, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The client half-closes; the backend only answers after EOF, and the
// answer must still reach the client in full.
func TestTCPHalfClose(t *testing.T) {
	backend := startTCPServer(t, tcpReplyAfterEOF)
	pool, _ := tcpPool(t, lb.RoundRobinName, backend.addr())
	_, addr, _ := startTCPProxy(t, tcpConfig{pool: pool})
	data := tcpRandom(300<<10, 7)
	got := tcpExchange(t, addr, nil, data)
	want := append([]byte(backend.addr()+"|"), data...)
	if !bytes.Equal(got, want) {
		t.Errorf("reply after half-close = %d bytes, want %d (the request echoed after the backend's address)", len(got), len(want))
	}
}

func TestTCPFailover(t *testing.T) {
	live := startTCPServer(t, tcpEcho)
	dead := tcpDeadAddr(t)
	pool, bs := tcpPool(t, lb.RoundRobinName, dead, live.addr())
	p, addr, log := startTCPProxy(t, tcpConfig{pool: pool})
	for i := range 10 {
		msg := []byte(fmt.Sprintf("hello %d", i))
		if got := tcpExchange(t, addr, nil, msg); !bytes.Equal(got, msg) {
			t.Fatalf("connection %d: echo = %q, want %q", i, got, msg)
		}
	}
	if bs[0].Healthy() {
		t.Errorf("dead backend %s is still healthy after a failed dial", dead)
	}
	if bs[0].Failures() == 0 {
		t.Errorf("dead backend Failures() = 0, want > 0")
	}
	if got := pool.Usable(); got != 1 {
		t.Errorf("pool.Usable() = %d, want 1", got)
	}
	if p.failed() != 0 {
		t.Errorf("failed() = %d, want 0: every connection should have failed over; log:\n%s", p.failed(), log)
	}
	if got := live.accepted.Load(); got != 10 {
		t.Errorf("live backend accepted %d connections, want 10", got)
	}
}

func TestTCPNoBackend(t *testing.T) {
	dead := tcpDeadAddr(t)
	pool, _ := tcpPool(t, lb.RoundRobinName, dead)
	p, addr, log := startTCPProxy(t, tcpConfig{pool: pool})
	// The first connection finds the backend dead; the second finds no
	// backend at all, since the first took it out.
	for i := range 2 {
		c := tcpDial(t, addr)
		start := time.Now()
		c.Write([]byte("hello"))
		got, _ := io.ReadAll(c) // EOF or a reset: either way, closed
		if len(got) != 0 {
			t.Errorf("connection %d: read %q, want nothing", i, got)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("connection %d: closed after %v, want promptly", i, d)
		}
	}
	tcpEventually(t, "failed() to reach 2", func() bool { return p.failed() == 2 })
	lines := strings.Count(log.String(), "tcp connection failed")
	if lines != 2 {
		t.Errorf("log has %d \"tcp connection failed\" lines, want 2:\n%s", lines, log)
	}
	if !strings.Contains(log.String(), "tried=["+dead+"]") {
		t.Errorf("log does not name the backend tried (%s):\n%s", dead, log)
	}
	if !strings.Contains(log.String(), "no backend available") {
		t.Errorf("log does not say no backend is available:\n%s", log)
	}
}

func TestTCPLeastConnections(t *testing.T) {
	const perBackend = 4
	var servers []*tcpTestServer
	var addrs []string
	for range 3 {
		s := startTCPServer(t, tcpHold)
		servers = append(servers, s)
		addrs = append(addrs, s.addr())
	}
	pool, bs := tcpPool(t, lb.LeastConnectionsName, addrs...)
	_, addr, _ := startTCPProxy(t, tcpConfig{pool: pool})
	var conns []*net.TCPConn
	for i := range perBackend * len(servers) {
		conns = append(conns, tcpDial(t, addr))
		// Wait until the backend has it, so that the next pick sees it.
		tcpEventually(t, "the backend to accept", func() bool {
			n := int64(0)
			for _, s := range servers {
				n += s.accepted.Load()
			}
			return n == int64(i+1)
		})
	}
	for i, s := range servers {
		if got := s.open.Load(); got != perBackend {
			t.Errorf("backend %d has %d open connections, want %d", i, got, perBackend)
		}
		if got := bs[i].InFlight(); got != perBackend {
			t.Errorf("backend %d InFlight() = %d, want %d", i, got, perBackend)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	tcpEventually(t, "in-flight counts to drop to 0", func() bool {
		return bs[0].InFlight()+bs[1].InFlight()+bs[2].InFlight() == 0
	})
}

func tcpProxyV1(src string, port int) []byte {
	return []byte(fmt.Sprintf("PROXY TCP4 %s 192.0.2.1 %d 443\r\n", src, port))
}

// A trusted peer's PROXY header names the client, and iphash keys on it.
func TestTCPIPHashProxyHeader(t *testing.T) {
	var addrs []string
	for range 3 {
		addrs = append(addrs, startTCPServer(t, tcpReplyAfterEOF).addr())
	}
	pool, _ := tcpPool(t, lb.IPHashName, addrs...)
	_, addr, _ := startTCPProxy(t, tcpConfig{pool: pool, trusted: trustedSet{netip.MustParsePrefix("127.0.0.0/8")}})
	used := map[string]bool{}
	for i := range 24 {
		src := fmt.Sprintf("198.51.100.%d", i+1)
		res, err := pool.Pick(lb.Request{ClientIP: src})
		require.NoError(t, err)
		want := res.Backend.Addr() + "|hello"
		used[res.Backend.Addr()] = true
		for round, version := range []int{1, 2} {
			var hdr []byte
			if version == 1 {
				hdr = tcpProxyV1(src, 40000+round)
			} else {
				hdr, err = sniff.AppendProxyHeader(nil, sniff.ProxyHeader{
					Version:     2,
					Source:      netip.MustParseAddrPort(src + ":40000"),
					Destination: netip.MustParseAddrPort("192.0.2.1:443"),
				})
				require.NoError(t, err)
			}
			if got := string(tcpExchange(t, addr, hdr, []byte("hello"))); got != want {
				t.Errorf("client %s, PROXY v%d: reply %q, want %q", src, version, got, want)
			}
		}
	}
	if len(used) < 2 {
		t.Errorf("24 clients all hashed to %v, want a spread", used)
	}
}

// Bytes from an untrusted peer are payload, even if they look like a
// PROXY header.
func TestTCPUntrustedProxyHeader(t *testing.T) {
	backend := startTCPServer(t, tcpReplyAfterEOF)
	pool, _ := tcpPool(t, lb.RoundRobinName, backend.addr())
	_, addr, _ := startTCPProxy(t, tcpConfig{pool: pool, trusted: trustedSet{netip.MustParsePrefix("10.0.0.0/8")}})
	hdr := tcpProxyV1("198.51.100.1", 40000)
	got := string(tcpExchange(t, addr, hdr, []byte("hello")))
	if want := backend.addr() + "|" + string(hdr) + "hello"; got != want {
		t.Errorf("reply = %q, want %q (the header passed through)", got, want)
	}
}

func TestTCPSendProxy(t *testing.T) {
	backend := startTCPServer(t, tcpReadProxyHeader)
	for _, tc := range []struct {
		name    string
		version int
		viaPeer bool // the client connects through a trusted peer sending PROXY v1
	}{
		{"v1", 1, false},
		{"v2", 2, false},
		{"v1 from trusted peer", 1, true},
		{"v2 from trusted peer", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool, _ := tcpPool(t, lb.RoundRobinName, backend.addr())
			c := tcpConfig{pool: pool, sendProxy: tc.version}
			if tc.viaPeer {
				c.trusted = trustedSet{netip.MustParsePrefix("127.0.0.1/32")}
			}
			_, addr, _ := startTCPProxy(t, c)
			conn := tcpDial(t, addr)
			src, dst := conn.LocalAddr().String(), addr
			var prefix []byte
			if tc.viaPeer {
				prefix = tcpProxyV1("203.0.113.9", 1234)
				src, dst = "203.0.113.9:1234", "192.0.2.1:443"
			}
			_, err := conn.Write(append(prefix, "payload"...))
			require.NoError(t, err)
			require.NoError(t, conn.CloseWrite())
			got, err := io.ReadAll(conn)
			require.NoError(t, err)
			want := fmt.Sprintf("v%d %s %s|payload", tc.version, src, dst)
			if string(got) != want {
				t.Errorf("backend saw %q, want %q", got, want)
			}
		})
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	t.Run("silent session is closed", func(t *testing.T) {
		backend := startTCPServer(t, tcpHold)
		pool, _ := tcpPool(t, lb.RoundRobinName, backend.addr())
		p, addr, log := startTCPProxy(t, tcpConfig{pool: pool, idleTimeout: idle})
		c := tcpDial(t, addr)
		_, err := c.Write([]byte("x"))
		require.NoError(t, err)
		start := time.Now()
		n, err := c.Read(make([]byte, 1))
		d := time.Since(start)
		if n != 0 || err == nil || tcpIsTimeout(err) {
			t.Fatalf("Read on a silent session = %d, %v, want the proxy to close it", n, err)
		}
		if d < idle-20*time.Millisecond || d > 5*idle {
			t.Errorf("silent session closed after %v, want about %v", d, idle)
		}
		tcpEventually(t, "the session to end", func() bool { return p.active() == 0 })
		tcpEventually(t, "the session's log line", func() bool { return strings.Contains(log.String(), "cause=\"idle timeout\"") })
	})
	t.Run("busy session is kept", func(t *testing.T) {
		backend := startTCPServer(t, tcpEcho)
		pool, _ := tcpPool(t, lb.RoundRobinName, backend.addr())
		_, addr, _ := startTCPProxy(t, tcpConfig{pool: pool, idleTimeout: idle})
		c := tcpDial(t, addr)
		buf := make([]byte, 1)
		// Six idle timeouts, with a byte each way every 40ms.
		for end := time.Now().Add(6 * idle); time.Now().Before(end); time.Sleep(40 * time.Millisecond) {
			_, err := c.Write([]byte("y"))
			require.NoError(t, err)
			_, err = io.ReadFull(c, buf)
			require.NoError(t, err, "busy session was cut")
		}
	})
	t.Run("one direction busy", func(t *testing.T) {
		// Only the client sends; the backend never answers. The session
		// moves bytes, so it must stay open.
		backend := startTCPServer(t, tcpHold)
		pool, _ := tcpPool(t, lb.RoundRobinName, backend.addr())
		p, addr, _ := startTCPProxy(t, tcpConfig{pool: pool, idleTimeout: idle})
		c := tcpDial(t, addr)
		for end := time.Now().Add(6 * idle); time.Now().Before(end); time.Sleep(40 * time.Millisecond) {
			_, err := c.Write([]byte("z"))
			require.NoError(t, err, "session with traffic one way was cut")
		}
		if p.active() != 1 {
			t.Errorf("active() = %d, want 1", p.active())
		}
	})
}

func tcpIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestTCPClose(t *testing.T) {
	setup := func(t *testing.T) (*tcpProxy, string, chan error, *net.TCPConn) {
		checkNoTCPLeaks(t)
		backend := startTCPServer(t, tcpEcho)
		pool, _ := tcpPool(t, lb.RoundRobinName, backend.addr())
		p, err := newTCPProxy(tcpConfig{pool: pool, logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		served := make(chan error, 1)
		go func() { served <- p.serve(l) }()
		c := tcpDial(t, l.Addr().String())
		tcpEchoOnce(t, c, "a")
		return p, l.Addr().String(), served, c
	}
	t.Run("waits for sessions", func(t *testing.T) {
		p, addr, served, c := setup(t)
		closed := make(chan error, 1)
		go func() { closed <- p.close(context.Background()) }()
		select {
		case err := <-served:
			require.NoError(t, err, "serve after close")
		case <-time.After(tcpWait):
			t.Fatal("serve did not return after close")
		}
		if nc, err := net.DialTimeout("tcp", addr, tcpWait); err == nil {
			nc.SetDeadline(time.Now().Add(tcpWait))
			n, _ := nc.Read(make([]byte, 1))
			nc.Close()
			if n != 0 {
				t.Errorf("a new connection after close got data")
			}
		}
		tcpEchoOnce(t, c, "b") // the session goes on
		select {
		case err := <-closed:
			t.Fatalf("close returned %v with a session open", err)
		default:
		}
		require.NoError(t, c.CloseWrite())
		rest, err := io.ReadAll(c)
		require.NoError(t, err)
		require.Empty(t, rest)
		select {
		case err := <-closed:
			if err != nil {
				t.Errorf("close() = %v, want nil once the session ended", err)
			}
		case <-time.After(tcpWait):
			t.Fatal("close did not return after the session ended")
		}
	})
	t.Run("cuts sessions at the deadline", func(t *testing.T) {
		p, _, served, c := setup(t)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		closed := make(chan error, 1)
		go func() { closed <- p.close(ctx) }()
		time.Sleep(100 * time.Millisecond)
		tcpEchoOnce(t, c, "b") // still open before the deadline
		_, err := c.Read(make([]byte, 1))
		if err == nil || tcpIsTimeout(err) {
			t.Errorf("Read after the deadline = %v, want the connection closed", err)
		}
		select {
		case err := <-closed:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("close() = %v, want context.DeadlineExceeded", err)
			}
		case <-time.After(tcpWait):
			t.Fatal("close did not return after its deadline")
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("close returned after %v, before its deadline", d)
		}
		require.NoError(t, <-served)
		if p.active() != 0 {
			t.Errorf("active() = %d after close, want 0", p.active())
		}
	})
	t.Run("handle after close", func(t *testing.T) {
		p, _, _, c := setup(t)
		c.Close()
		require.NoError(t, p.close(context.Background()))
		a, b := net.Pipe()
		defer a.Close()
		done := make(chan struct{})
		go func() {
			p.handle(b)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(tcpWait):
			t.Fatal("handle after close did not return")
		}
		a.SetDeadline(time.Now().Add(tcpWait))
		if _, err := a.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("Read from a connection handled after close = %v, want it closed", err)
		}
	})
}

// tcpEchoOnce sends msg and reads it back.
func tcpEchoOnce(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	_, err := io.WriteString(c, msg)
	require.NoError(t, err)
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, msg, string(buf))
}

// handle takes connections whose first bytes someone else read, as the
// HTTP port does for unknown protocols.
func TestTCPHandleReplayConn(t *testing.T) {
	backend := startTCPServer(t, tcpEcho)
	pool, _ := tcpPool(t, lb.RoundRobinName, backend.addr())
	p, _, _ := startTCPProxy(t, tcpConfig{pool: pool})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	data := tcpRandom(200<<10, 3)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_, sc, _ := sniff.Sniff(c, tcpWait)
		p.handle(sc)
	}()
	if got := tcpExchange(t, l.Addr().String(), nil, data); !bytes.Equal(got, data) {
		t.Errorf("echo through handle = %d bytes, want the %d sent", len(got), len(data))
	}
}

// setPool sends new connections to the pool of a reloaded upstream.
func TestTCPSetPool(t *testing.T) {
	a := startTCPServer(t, tcpReplyAfterEOF)
	b := startTCPServer(t, tcpReplyAfterEOF)
	poolA, _ := tcpPool(t, lb.RoundRobinName, a.addr())
	poolB, _ := tcpPool(t, lb.RoundRobinName, b.addr())
	p, addr, _ := startTCPProxy(t, tcpConfig{pool: poolA})
	if got, want := string(tcpExchange(t, addr, nil, []byte("x"))), a.addr()+"|x"; got != want {
		t.Errorf("before setPool: reply %q, want %q", got, want)
	}
	p.setPool(poolB)
	if got, want := string(tcpExchange(t, addr, nil, []byte("x"))), b.addr()+"|x"; got != want {
		t.Errorf("after setPool: reply %q, want %q", got, want)
	}
}

// tcpFaultyListener fails its first Accept with err.
type tcpFaultyListener struct {
	net.Listener
	err    error
	failed atomic.Bool
}

func (l *tcpFaultyListener) Accept() (net.Conn, error) {
	if !l.failed.Swap(true) {
		return nil, l.err
	}
	return l.Listener.Accept()
}

func TestTCPServeAcceptErrors(t *testing.T) {
	backend := startTCPServer(t, tcpEcho)
	t.Run("temporary error is retried", func(t *testing.T) {
		checkNoTCPLeaks(t)
		pool, _ := tcpPool(t, lb.RoundRobinName, backend.addr())
		log := &tcpLog{}
		p, err := newTCPProxy(tcpConfig{pool: pool, logger: slog.New(slog.NewTextHandler(log, nil))})
		require.NoError(t, err)
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		l := &tcpFaultyListener{Listener: inner, err: &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}}
		served := make(chan error, 1)
		go func() { served <- p.serve(l) }()
		if got := tcpExchange(t, inner.Addr().String(), nil, []byte("hi")); string(got) != "hi" {
			t.Errorf("echo after a temporary accept error = %q, want \"hi\"", got)
		}
		if !strings.Contains(log.String(), "tcp accept failed; retrying") {
			t.Errorf("log does not report the accept error:\n%s", log)
		}
		require.NoError(t, p.close(context.Background()))
		require.NoError(t, <-served)
	})
	t.Run("other error ends serve", func(t *testing.T) {
		checkNoTCPLeaks(t)
		pool, _ := tcpPool(t, lb.RoundRobinName, backend.addr())
		p, err := newTCPProxy(tcpConfig{pool: pool, logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		boom := errors.New("boom")
		if err := p.serve(&tcpFaultyListener{Listener: inner, err: boom}); !errors.Is(err, boom) {
			t.Errorf("serve() = %v, want %v", err, boom)
		}
		if _, err := inner.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("listener not closed when serve returned: Accept() = %v", err)
		}
		require.NoError(t, p.close(context.Background()))
	})
}

func TestNewTCPProxyErrors(t *testing.T) {
	pool, _ := tcpPool(t, lb.RoundRobinName, "127.0.0.1:1")
	for _, tc := range []struct {
		name string
		c    tcpConfig
	}{
		{"no pool", tcpConfig{}},
		{"PROXY version 3", tcpConfig{pool: pool, sendProxy: 3}},
		{"negative connect timeout", tcpConfig{pool: pool, connectTimeout: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newTCPProxy(tc.c); err == nil {
				t.Errorf("newTCPProxy(%+v) = nil error, want one", tc.c)
			}
		})
	}
}
