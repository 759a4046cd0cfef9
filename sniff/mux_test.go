package sniff

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// quietLog discards what the Mux logs.
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// testMux is a Mux serving on a loopback listener.
type testMux struct {
	*Mux
	addr  string
	serve chan error // Serve's result
}

// startMux starts a Mux on 127.0.0.1:0 with listeners for protos. Its
// cleanup closes the Mux, waits for Serve, and checks that no goroutine of
// the Mux is left.
func startMux(t *testing.T, cfg Config, protos ...Protocol) *testMux {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ErrorLog == nil {
		cfg.ErrorLog = quietLog
	}
	m := &testMux{Mux: NewMux(ln, cfg), addr: ln.Addr().String(), serve: make(chan error, 1)}
	for _, p := range protos {
		m.Listener(p)
	}
	go func() { m.serve <- m.Serve() }()
	t.Cleanup(func() {
		m.Close()
		select {
		case err := <-m.serve:
			if err != nil {
				t.Errorf("Serve() = %v, want nil after Close", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return within 5s of Close")
		}
		checkNoMuxGoroutines(t)
	})
	return m
}

// checkNoMuxGoroutines fails if a goroutine of a Mux or of a per-protocol
// listener is still running after up to 3s.
func checkNoMuxGoroutines(t *testing.T) {
	t.Helper()
	var left string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		left = ""
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "sniff.(*Mux).") || strings.Contains(g, "sniff.(*listener).") {
				left += g + "\n\n"
			}
		}
		if left == "" {
			return
		}
	}
	t.Errorf("goroutines left after Close:\n%s", left)
}

// dial connects to the Mux and sends data.
func (m *testMux) dial(t *testing.T, data string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", m.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if data != "" {
		if _, err := c.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// accept calls Accept on l, failing after d.
func accept(t *testing.T, l net.Listener, d time.Duration) (net.Conn, error) {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.c != nil {
			t.Cleanup(func() { r.c.Close() })
		}
		return r.c, r.err
	case <-time.After(d):
		t.Fatalf("Accept did not return within %v", d)
		return nil, nil
	}
}

// readN reads n bytes from c within 5s.
func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v (got %q)", n, err, b)
	}
	return string(b)
}

// expectClosed checks that the server side closes c within 5s.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	n, err := c.Read(b)
	var ne net.Error
	if n > 0 || err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("Read on a conn the Mux should close = %d, %v, want EOF or a reset", n, err)
	}
}

// TestMuxRoutes sends each protocol, and junk, to one Mux and checks that
// each lands on its listener with its bytes intact.
func TestMuxRoutes(t *testing.T) {
	unmatched := make(chan net.Conn, 4)
	m := startMux(t, Config{Unmatched: func(p Protocol, c net.Conn) {
		if p != Unknown {
			t.Errorf("Unmatched got %v, want unknown", p)
		}
		unmatched <- c
	}}, HTTP1, HTTP2, TLS)

	for _, s := range sniffSamples(t) {
		t.Run(s.name, func(t *testing.T) {
			m.dial(t, string(s.data))
			var c net.Conn
			if s.want == Unknown {
				select {
				case c = <-unmatched:
					t.Cleanup(func() { c.Close() })
				case <-time.After(5 * time.Second):
					t.Fatal("Unmatched not called within 5s")
				}
			} else {
				var err error
				if c, err = accept(t, m.Listener(s.want), 5*time.Second); err != nil {
					t.Fatalf("Listener(%v).Accept() = %v", s.want, err)
				}
			}
			if got := readN(t, c, len(s.data)); got != string(s.data) {
				t.Errorf("%v listener got %q, want %q", s.want, got, s.data)
			}
		})
	}
}

// TestMuxHTTPAndTLS serves real HTTP/1.1 and HTTPS from one port.
func TestMuxHTTPAndTLS(t *testing.T) {
	m := startMux(t, Config{}, HTTP1, TLS)
	cert, pool := selfSigned(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %v", r.Proto, r.TLS != nil)
	})
	plain := &http.Server{Handler: handler}
	secure := &http.Server{Handler: handler, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go plain.Serve(m.Listener(HTTP1))
	go secure.ServeTLS(m.Listener(TLS), "", "")
	t.Cleanup(func() { plain.Close(); secure.Close() })

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for _, tt := range []struct{ url, want string }{
		{"http://" + m.addr + "/", "HTTP/1.1 false"},
		{"https://" + m.addr + "/", "HTTP/2.0 true"}, // ALPN h2 over TLS
	} {
		resp, err := client.Get(tt.url)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.url, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != tt.want {
			t.Errorf("GET %s = %q, %v, want %q", tt.url, body, err, tt.want)
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sniff test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestMuxTLSEcho runs a raw TLS exchange through the TLS listener.
func TestMuxTLSEcho(t *testing.T) {
	m := startMux(t, Config{}, TLS)
	cert, pool := selfSigned(t)
	ln := tls.NewListener(m.Listener(TLS), &tls.Config{Certificates: []tls.Certificate{cert}})
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = io.Copy(c, io.LimitReader(c, 5))
		done <- err
	}()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", m.addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	if got := readN(t, c, 5); got != "hello" {
		t.Errorf("TLS echo = %q, want \"hello\"", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("TLS server did not finish within 5s")
	}
}

// TestMuxNoListener checks that without Unmatched, connections for a
// protocol with no listener, and junk, are closed.
func TestMuxNoListener(t *testing.T) {
	m := startMux(t, Config{}, HTTP2)
	expectClosed(t, m.dial(t, "GET / HTTP/1.1\r\n\r\n"))
	expectClosed(t, m.dial(t, "\x00junk"))
	m.dial(t, h2Preface)
	c, err := accept(t, m.Listener(HTTP2), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := readN(t, c, len(h2Preface)); got != h2Preface {
		t.Errorf("h2c listener got %q, want the preface", got)
	}
}

// TestMuxCloseOneListener closes the HTTP/1 listener, as
// http.Server.Shutdown would, and checks that h2c still works and HTTP/1
// connections are closed or go to Unmatched.
func TestMuxCloseOneListener(t *testing.T) {
	for _, withUnmatched := range []bool{false, true} {
		t.Run(fmt.Sprintf("unmatched=%v", withUnmatched), func(t *testing.T) {
			unmatched := make(chan Protocol, 1)
			cfg := Config{}
			if withUnmatched {
				cfg.Unmatched = func(p Protocol, c net.Conn) { c.Close(); unmatched <- p }
			}
			m := startMux(t, cfg, HTTP1, HTTP2)
			h1 := m.Listener(HTTP1)
			srv := &http.Server{Handler: http.NotFoundHandler()}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(h1) }()
			if err := srv.Close(); err != nil {
				t.Fatalf("http.Server.Close() = %v, want nil", err)
			}
			select {
			case <-served:
			case <-time.After(5 * time.Second):
				t.Fatal("http.Server.Serve did not return within 5s")
			}
			if c, err := accept(t, h1, time.Second); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Accept() on the closed listener = %v, %v, want net.ErrClosed", c, err)
			}

			c := m.dial(t, "GET / HTTP/1.1\r\n\r\n")
			if withUnmatched {
				select {
				case p := <-unmatched:
					if p != HTTP1 {
						t.Errorf("Unmatched got %v, want http1", p)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("Unmatched not called within 5s")
				}
			}
			expectClosed(t, c)

			m.dial(t, h2Preface)
			c2, err := accept(t, m.Listener(HTTP2), 5*time.Second)
			if err != nil {
				t.Fatalf("h2c Accept() = %v, want a conn", err)
			}
			if got := readN(t, c2, len(h2Preface)); got != h2Preface {
				t.Errorf("h2c listener got %q, want the preface", got)
			}
			if m.Listener(HTTP1) != h1 {
				t.Error("Listener(http1) after its Close returned a new listener, want the same")
			}
		})
	}
}

// TestMuxClose checks that Close unblocks Accept and Serve, closes
// connections still being sniffed, and returns promptly.
func TestMuxClose(t *testing.T) {
	m := startMux(t, Config{Timeout: time.Minute}, HTTP1, TLS)
	l1, l2 := m.Listener(HTTP1), m.Listener(TLS)
	if l1.Addr().String() != m.addr || l2.Addr().String() != m.addr {
		t.Errorf("Addr() = %v, %v, want %v", l1.Addr(), l2.Addr(), m.addr)
	}
	if m.Listener(HTTP1) != l1 {
		t.Error("Listener(http1) twice returned different listeners")
	}
	errs := make(chan error, 2)
	for _, l := range []net.Listener{l1, l2} {
		go func() {
			_, err := l.Accept()
			errs <- err
		}()
	}
	silent := m.dial(t, "GE") // stays in the sniffing stage
	waitSniffing(t, m.Mux, 1)

	start := time.Now()
	if err := m.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a client being sniffed, want it prompt", d)
	}
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("Accept() after Close = %v, want net.ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Accept did not return within 5s of Close")
		}
	}
	expectClosed(t, silent)
	select {
	case err := <-m.serve:
		m.serve <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5s of Close")
	}
	if _, err := net.DialTimeout("tcp", m.addr, time.Second); err == nil {
		t.Error("Dial after Close succeeded, want the listener closed")
	}
	if l := m.Listener(HTTP2); l == nil {
		t.Error("Listener(http2) after Close = nil")
	} else if _, err := accept(t, l, time.Second); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept() on a listener made after Close = %v, want net.ErrClosed", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}

// waitSniffing waits up to 5s for n connections to be in m's sniffing
// stage.
func waitSniffing(t *testing.T, m *Mux, n int) {
	t.Helper()
	got := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		m.mu.Lock()
		got = len(m.sniffing)
		m.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("%d connections being sniffed, want %d", got, n)
}

// TestMuxMaxPending checks that no more than MaxPending connections are
// sniffed at once, and that the next is accepted when one finishes.
func TestMuxMaxPending(t *testing.T) {
	m := startMux(t, Config{MaxPending: 2, Timeout: time.Minute}, HTTP1)
	slow1 := m.dial(t, "G")
	m.dial(t, "P")
	waitSniffing(t, m.Mux, 2)

	m.dial(t, "GET /third HTTP/1.1\r\n\r\n")
	type result struct {
		c   net.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := m.Listener(HTTP1).Accept()
		accepted <- result{c, err}
	}()
	select {
	case r := <-accepted:
		t.Fatalf("Accept() = %v, %v with MaxPending connections being sniffed, want it to wait", r.c, r.err)
	case <-time.After(300 * time.Millisecond):
	}
	waitSniffing(t, m.Mux, 2)

	slow1.Close() // EOF ends its sniff, freeing a slot
	select {
	case r := <-accepted:
		if r.err != nil {
			t.Fatalf("Accept() = %v", r.err)
		}
		defer r.c.Close()
		if got := readN(t, r.c, 10); got != "GET /third" {
			t.Errorf("accepted %q, want the third connection", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("third connection not accepted within 5s of a slot freeing")
	}
}

// TestMuxQueueBound checks that connections nobody accepts do not pile
// up: the listener holds queueLen, and the rest are closed after Timeout.
func TestMuxQueueBound(t *testing.T) {
	const timeout = 200 * time.Millisecond
	m := startMux(t, Config{Timeout: timeout}, HTTP1)
	const n = queueLen + 3
	clients := make([]net.Conn, n)
	for i := range clients {
		clients[i] = m.dial(t, fmt.Sprintf("GET /%02d HTTP/1.1\r\n\r\n", i))
	}
	// Wait for every connection to be queued or, after Timeout, closed:
	// the only token left in m.sem is Serve's, waiting in Accept.
	l := m.Listener(HTTP1).(*listener)
	for deadline, settled := time.Now().Add(5*time.Second), 0; settled < 3; time.Sleep(5 * time.Millisecond) {
		if len(m.sem) <= 1 && len(l.ch) == queueLen {
			settled++
		} else {
			settled = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5s, %d tokens taken and %d connections queued, want 1 and %d", len(m.sem), len(l.ch), queueLen)
		}
	}

	queued := map[string]bool{}
	for range queueLen {
		c, err := accept(t, m.Listener(HTTP1), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		queued[readN(t, c, 7)[5:]] = true
	}
	for i, c := range clients {
		if !queued[fmt.Sprintf("%02d", i)] {
			expectClosed(t, c)
		}
	}
	if len(queued) != queueLen {
		t.Errorf("accepted %d distinct queued connections, want %d", len(queued), queueLen)
	}
}

// TestMuxStallToUnmatched checks that a client that sends nothing goes to
// Unmatched as Unknown after Timeout (for server-first protocols).
func TestMuxStallToUnmatched(t *testing.T) {
	const timeout = 200 * time.Millisecond
	got := make(chan Protocol, 1)
	m := startMux(t, Config{Timeout: timeout, Unmatched: func(p Protocol, c net.Conn) {
		c.Write([]byte("220 hello\r\n"))
		c.Close()
		got <- p
	}}, HTTP1)
	start := time.Now()
	c := m.dial(t, "")
	if banner := readN(t, c, 11); banner != "220 hello\r\n" {
		t.Errorf("server-first banner = %q, want \"220 hello\\r\\n\"", banner)
	}
	select {
	case p := <-got:
		if p != Unknown {
			t.Errorf("Unmatched got %v, want unknown", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Unmatched not called within 5s")
	}
	if d := time.Since(start); d < timeout-20*time.Millisecond {
		t.Errorf("Unmatched called after %v, want after Timeout %v", d, timeout)
	}
}

// TestMuxUnmatchedPanic checks that a panic in Unmatched is recovered and
// the conn closed.
func TestMuxUnmatchedPanic(t *testing.T) {
	var logged bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, nil))
	m := startMux(t, Config{ErrorLog: log, Unmatched: func(Protocol, net.Conn) { panic("boom") }})
	expectClosed(t, m.dial(t, "\x00"))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		s := logged.String()
		mu.Unlock()
		if strings.Contains(s, "panic in Unmatched") && strings.Contains(s, "boom") {
			return
		}
	}
	t.Error("the panic in Unmatched was not logged")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// flakyListener fails its first n Accepts with a temporary error, then
// fails with err if set, else accepts from the Listener.
type flakyListener struct {
	net.Listener
	mu  sync.Mutex
	n   int
	err error
}

type tempError struct{}

func (tempError) Error() string   { return "accept: too many open files" }
func (tempError) Timeout() bool   { return false }
func (tempError) Temporary() bool { return true }

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		l.n--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: tempError{}}
	}
	if l.err != nil {
		return nil, l.err
	}
	return l.Listener.Accept()
}

// TestMuxServeAcceptErrors checks that Serve retries temporary accept
// errors and returns others.
func TestMuxServeAcceptErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("temporary", func(t *testing.T) {
		fl := &flakyListener{Listener: ln, n: 3}
		m := &testMux{Mux: NewMux(fl, Config{ErrorLog: quietLog}), addr: ln.Addr().String(), serve: make(chan error, 1)}
		m.Listener(HTTP1)
		go func() { m.serve <- m.Serve() }()
		defer func() {
			m.Close()
			<-m.serve
			checkNoMuxGoroutines(t)
		}()
		m.dial(t, "GET / HTTP/1.1\r\n\r\n")
		if _, err := accept(t, m.Listener(HTTP1), 5*time.Second); err != nil {
			t.Errorf("Accept() after temporary errors = %v, want a conn", err)
		}
	})
	t.Run("permanent", func(t *testing.T) {
		want := errors.New("accept: broken")
		m := NewMux(&flakyListener{Listener: ln, n: 1, err: want}, Config{ErrorLog: quietLog})
		defer m.Close()
		serve := make(chan error, 1)
		go func() { serve <- m.Serve() }()
		select {
		case err := <-serve:
			if err != want {
				t.Errorf("Serve() = %v, want %v", err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return within 5s of a permanent error")
		}
	})
}

// TestMuxManyClients runs many clients of every protocol at once.
func TestMuxManyClients(t *testing.T) {
	m := startMux(t, Config{MaxPending: 8}, HTTP1, HTTP2)
	const n = 50
	var wg sync.WaitGroup
	for _, p := range []Protocol{HTTP1, HTTP2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				c, err := m.Listener(p).Accept()
				if err != nil {
					t.Errorf("Accept() = %v", err)
					return
				}
				go func() {
					defer c.Close()
					c.SetDeadline(time.Now().Add(5 * time.Second))
					r := bufio.NewReader(c)
					line, _ := r.ReadString('\n')
					c.Write([]byte(line))
				}()
			}
		}()
	}
	var clients sync.WaitGroup
	for i := range 2 * n {
		clients.Add(1)
		go func() {
			defer clients.Done()
			msg := fmt.Sprintf("GET /%d HTTP/1.1\n", i)
			if i%2 == 1 {
				msg = h2Preface + fmt.Sprintf("%d\n", i)
			}
			c, err := net.DialTimeout("tcp", m.addr, 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte(msg))
			got, err := bufio.NewReader(c).ReadString('\n')
			want := msg[:strings.IndexByte(msg, '\n')+1] // the first line
			if err != nil || got != want {
				t.Errorf("echo = %q, %v, want %q", got, err, want)
			}
		}()
	}
	clients.Wait() // bounded by the clients' deadlines
	accepted := make(chan struct{})
	go func() { wg.Wait(); close(accepted) }()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		m.Close() // unblocks the Accepts
		t.Fatal("not every connection was accepted within 5s")
	}
}
