package sniff

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestDetect(t *testing.T) {
	type verdict struct {
		p    Protocol
		more bool
	}
	var (
		final = func(p Protocol) verdict { return verdict{p, false} }
		more  = verdict{Unknown, true}
	)
	tests := []struct {
		name string
		in   string
		want verdict
	}{
		{"empty", "", more},

		// HTTP/1.x: every kind of method token.
		{"GET", "GET / HTTP/1.1\r\n", final(HTTP1)},
		{"GET space only", "GET ", final(HTTP1)},
		{"HEAD", "HEAD /", final(HTTP1)},
		{"POST", "POST /form HTTP/1.0\r\n", final(HTTP1)},
		{"PUT", "PUT /x HTTP/1.1\r\n", final(HTTP1)},
		{"DELETE", "DELETE /x HTTP/1.1\r\n", final(HTTP1)},
		{"OPTIONS star", "OPTIONS * HTTP/1.1\r\n", final(HTTP1)},
		{"CONNECT authority", "CONNECT example.com:443 HTTP/1.1\r\n", final(HTTP1)},
		{"TRACE", "TRACE / HTTP/1.1\r\n", final(HTTP1)},
		{"PATCH", "PATCH /x HTTP/1.1\r\n", final(HTTP1)},
		{"PURGE", "PURGE /cache HTTP/1.1\r\n", final(HTTP1)},
		{"PROPFIND", "PROPFIND /dav HTTP/1.1\r\n", final(HTTP1)},
		{"M-SEARCH", "M-SEARCH * HTTP/1.1\r\n", final(HTTP1)},
		{"UPDATEREDIRECTREF", "UPDATEREDIRECTREF / HTTP/1.1\r\n", final(HTTP1)},
		{"lowercase method is a token", "get / HTTP/1.1\r\n", final(HTTP1)},
		{"mixed case", "Get /", final(HTTP1)},
		{"one-byte method", "X /", final(HTTP1)},
		{"digits", "123 /", final(HTTP1)},
		{"every tchar symbol", "!#$%&'*+-.^_`|~ /", final(HTTP1)},
		{"20-byte method", strings.Repeat("A", 20) + " /", final(HTTP1)},
		{"21-byte method", strings.Repeat("A", 21) + " /", final(Unknown)},
		{"20 tchars then more", strings.Repeat("A", 20), more},
		{"absolute-form", "GET http://example.com/ HTTP/1.1\r\n", final(HTTP1)},
		{"HTTP/0.9-style", "GET /\r\n", final(HTTP1)},

		// HTTP/1.x prefixes.
		{"G", "G", more},
		{"GE", "GE", more},
		{"GET", "GET", more},
		{"PROPFIN", "PROPFIN", more},

		// h2c preface.
		{"preface", h2Preface, final(HTTP2)},
		{"preface and SETTINGS", h2Preface + "\x00\x00\x00\x04\x00\x00\x00\x00\x00", final(HTTP2)},
		{"P", "P", more},
		{"PR", "PR", more},
		{"PRI", "PRI", more},
		{"PRI space", "PRI ", more},
		{"PRI *", "PRI * ", more},
		{"preface less one byte", h2Preface[:len(h2Preface)-1], more},
		{"PRI as a method", "PRI / HTTP/1.1\r\n", final(HTTP1)},
		{"PRI * HTTP/1.1", "PRI * HTTP/1.1\r\n\r\n", final(HTTP1)},
		{"preface with a wrong last byte", h2Preface[:len(h2Preface)-1] + "X", final(HTTP1)},
		{"PRIX", "PRIX / HTTP/1.1\r\n", final(HTTP1)},
		{"PRI then CR", "PRI\r\n", final(Unknown)},
		{"PUT shares P with PRI", "PUT /", final(HTTP1)},

		// TLS: record versions 0x0300..0x0304.
		{"SSL 3.0", "\x16\x03\x00\x00\x2f\x01", final(TLS)},
		{"TLS 1.0", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", final(TLS)},
		{"TLS 1.1", "\x16\x03\x02\x00\x80\x01", final(TLS)},
		{"TLS 1.2", "\x16\x03\x03\x00\x80\x01", final(TLS)},
		{"TLS 1.3 ceiling", "\x16\x03\x04\x00\x80\x01", final(TLS)},
		{"record of 2^14", "\x16\x03\x01\x40\x00\x01", final(TLS)},
		{"record of one byte", "\x16\x03\x01\x00\x01\x01", final(TLS)},
		{"TLS 0x16", "\x16", more},
		{"TLS 0x1603", "\x16\x03", more},
		{"TLS 0x160301", "\x16\x03\x01", more},
		{"TLS record header only", "\x16\x03\x01\x02\x00", more},
		{"TLS version 0x0305", "\x16\x03\x05", final(Unknown)},
		{"TLS major 2", "\x16\x02", final(Unknown)},
		{"TLS major 0xfe (DTLS)", "\x16\xfe\xfd", final(Unknown)},
		{"zero-length record", "\x16\x03\x01\x00\x00", final(Unknown)},
		{"record over 2^14", "\x16\x03\x01\x40\x01", final(Unknown)},
		{"ServerHello", "\x16\x03\x03\x00\x50\x02", final(Unknown)},
		{"application data record", "\x17\x03\x03\x00\x20", final(Unknown)},
		{"SSLv2 hello", "\x80\x2e\x01\x00\x02", final(Unknown)},

		// Garbage.
		{"NUL", "\x00", final(Unknown)},
		{"leading CRLF", "\r\nGET / HTTP/1.1\r\n", final(Unknown)},
		{"leading space", " GET /", final(Unknown)},
		{"token ended by CR", "PING\r\n", final(Unknown)},
		{"SSH banner", "SSH-2.0-OpenSSH_9.6\r\n", final(Unknown)},
		{"tab after method", "GET\t/", final(Unknown)},
		{"non-ASCII", "GÉT /", final(Unknown)},
		{"JSON", `{"a":1}`, final(Unknown)},
		{"PROXY v2 signature", "\r\n\r\n\x00\r\nQUIT\n", final(Unknown)},
		{"PROXY v1 line", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", final(HTTP1)}, // read it with ProxyConn first
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, more := Detect([]byte(tt.in))
			if got := (verdict{p, more}); got != tt.want {
				t.Errorf("Detect(%q) = %v, %v, want %v, %v", tt.in, p, more, tt.want.p, tt.want.more)
			}
		})
	}
}

// TestDetectMaxPeek checks that Detect ignores bytes past MaxPeek and is
// final at MaxPeek bytes, whatever they are.
func TestDetectMaxPeek(t *testing.T) {
	for _, in := range []string{
		h2Preface + "junk",
		strings.Repeat("A", MaxPeek+10),
		strings.Repeat("A", 20) + " " + strings.Repeat("B", 10),
		"\x16\x03\x01\x02\x00\x01" + strings.Repeat("\xff", 40),
	} {
		p, more := Detect([]byte(in))
		if more {
			t.Errorf("Detect(%q) = %v, more, want a final verdict", in, p)
		}
		if p2, more2 := Detect([]byte(in[:MaxPeek])); p2 != p || more2 {
			t.Errorf("Detect(%q) = %v, %v, want %v, false as for the whole input", in[:MaxPeek], p2, more2, p)
		}
	}
}

func TestMaxPeek(t *testing.T) {
	if MaxPeek != len(h2Preface) || MaxPeek < maxMethod+1 || MaxPeek < tlsHeaderAndType {
		t.Errorf("MaxPeek = %d, want len(h2Preface) = %d, at least maxMethod+1 = %d and %d", MaxPeek, len(h2Preface), maxMethod+1, tlsHeaderAndType)
	}
}

func TestProtocolString(t *testing.T) {
	for p, want := range map[Protocol]string{
		Unknown: "unknown", HTTP1: "http1", HTTP2: "http2", TLS: "tls", 9: "Protocol(9)",
	} {
		if got := p.String(); got != want {
			t.Errorf("Protocol(%d).String() = %q, want %q", uint8(p), got, want)
		}
	}
}

// sniffSample is a connection's whole stream and its verdict.
type sniffSample struct {
	name string
	data []byte
	want Protocol
}

func sniffSamples(t testing.TB) []sniffSample {
	return []sniffSample{
		{"http1", []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"), HTTP1},
		{"http1 long method", []byte("UPDATEREDIRECTREF /x HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP1},
		{"h2c", []byte(h2Preface + "\x00\x00\x00\x04\x00\x00\x00\x00\x00"), HTTP2},
		{"tls", clientHello(t), TLS},
		{"ssh", []byte("SSH-2.0-OpenSSH_9.6\r\nmore bytes after the banner"), Unknown},
		{"binary", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30}, Unknown},
	}
}

// clientHello returns the first TLS record of a real crypto/tls client.
func clientHello(t testing.TB) []byte {
	t.Helper()
	c, s := net.Pipe()
	defer s.Close()
	go func() {
		defer c.Close()
		tc := tls.Client(c, &tls.Config{ServerName: "example.com"})
		_ = tc.Handshake() // fails when s closes
	}()
	if err := s.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(s, hdr); err != nil {
		t.Fatalf("reading the ClientHello record header: %v", err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(s, body); err != nil {
		t.Fatalf("reading the ClientHello: %v", err)
	}
	return append(hdr, body...)
}

// transports gives the two ends of a connection: over net.Pipe and over
// loopback TCP.
var transports = []struct {
	name string
	dial func(t *testing.T) (client, server net.Conn)
}{
	{"pipe", func(t *testing.T) (net.Conn, net.Conn) {
		c, s := net.Pipe()
		t.Cleanup(func() { c.Close(); s.Close() })
		return c, s
	}},
	{"tcp", tcpPair},
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	client, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return within 5s")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { client.Close(); r.c.Close() })
	return client, r.c
}

// closeWrite ends c's writing side: CloseWrite for TCP, Close otherwise.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}

// writeSlowly writes data one byte at a time with a pause between the
// first MaxPeek+2 bytes, then the rest at once, then closes the writing
// side. It reports the first error on errc.
func writeSlowly(c net.Conn, data []byte, pause time.Duration, errc chan<- error) {
	for i := range data {
		if i > MaxPeek+2 {
			_, err := c.Write(data[i:])
			if err == nil {
				err = closeWrite(c)
			}
			errc <- err
			return
		}
		if _, err := c.Write(data[i : i+1]); err != nil {
			errc <- err
			return
		}
		time.Sleep(pause)
	}
	errc <- closeWrite(c)
}

// TestSniffByteByByte feeds each sample one byte at a time and checks the
// verdict and that the conn replays the stream exactly.
func TestSniffByteByByte(t *testing.T) {
	for _, tr := range transports {
		for _, s := range sniffSamples(t) {
			t.Run(tr.name+"/"+s.name, func(t *testing.T) {
				client, server := tr.dial(t)
				errc := make(chan error, 1)
				go writeSlowly(client, s.data, time.Millisecond, errc)

				p, c, err := Sniff(server, 5*time.Second)
				if err != nil || p != s.want {
					t.Fatalf("Sniff = %v, %v, want %v, nil", p, err, s.want)
				}
				if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(c)
				if err != nil {
					t.Fatalf("reading the sniffed conn: %v", err)
				}
				if !bytes.Equal(got, s.data) {
					t.Errorf("sniffed conn replayed %q, want %q", got, s.data)
				}
				if err := <-errc; err != nil {
					t.Errorf("writer: %v", err)
				}
			})
		}
	}
}

// TestSniffStall checks that a client that sends one byte and stalls gets
// Unknown and a timeout error after the timeout, and that the conn then
// replays the byte and reads on without a deadline.
func TestSniffStall(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			client, server := tr.dial(t)
			go client.Write([]byte("G")) // net.Pipe blocks until read

			const timeout = 200 * time.Millisecond
			start := time.Now()
			p, c, err := Sniff(server, timeout)
			elapsed := time.Since(start)
			var ne net.Error
			if p != Unknown || !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Sniff = %v, %v, want Unknown and a timeout", p, err)
			}
			if elapsed < timeout-20*time.Millisecond || elapsed > timeout+2*time.Second {
				t.Errorf("Sniff took %v, want about %v", elapsed, timeout)
			}

			// The deadline is gone: a read that waits longer than it works.
			go func() {
				time.Sleep(timeout + 50*time.Millisecond)
				client.Write([]byte("ET"))
			}()
			got := make([]byte, 3)
			done := make(chan error, 1)
			go func() {
				_, err := io.ReadFull(c, got)
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil || string(got) != "GET" {
					t.Errorf("reading after a stall = %q, %v, want \"GET\", nil", got, err)
				}
			case <-time.After(5 * time.Second):
				c.Close()
				t.Fatal("reading after a stall did not return within 5s")
			}
		})
	}
}

func TestSniffEOF(t *testing.T) {
	tests := []struct {
		name string
		sent string
		want error
	}{
		{"nothing", "", io.EOF},
		{"part of a method", "GE", io.ErrUnexpectedEOF},
		{"part of the preface", "PRI * HTTP/2", io.ErrUnexpectedEOF},
		{"part of a TLS header", "\x16\x03", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := tcpPair(t)
			if _, err := client.Write([]byte(tt.sent)); err != nil {
				t.Fatal(err)
			}
			client.Close()
			p, c, err := Sniff(server, 5*time.Second)
			if p != Unknown || err != tt.want {
				t.Fatalf("Sniff = %v, %v, want Unknown, %v", p, err, tt.want)
			}
			got, _ := io.ReadAll(c)
			if string(got) != tt.sent {
				t.Errorf("sniffed conn replayed %q, want %q", got, tt.sent)
			}
		})
	}
}

// TestSniffNested checks that sniffing a *Conn keeps the socket at
// NetConn and replays the bytes of both.
func TestSniffNested(t *testing.T) {
	client, server := tcpPair(t)
	const rest = " / HTTP/1.1\r\n\r\n"
	if _, err := client.Write([]byte(rest)); err != nil {
		t.Fatal(err)
	}
	closeWrite(client)
	inner := NewConn(server, []byte("GET"))
	p, c, err := Sniff(inner, 5*time.Second)
	if p != HTTP1 || err != nil {
		t.Fatalf("Sniff(NewConn(c, \"GET\")) = %v, %v, want http1, nil", p, err)
	}
	if nc := c.(*Conn).NetConn(); nc != server {
		t.Errorf("NetConn() = %T, want the *net.TCPConn", nc)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "GET"+rest {
		t.Errorf("sniffed conn replayed %q, %v, want %q", got, err, "GET"+rest)
	}
}

// TestConnCopy checks that io.Copy through a Conn both ways carries every
// byte, the replayed ones first, and that CloseWrite reaches the socket.
func TestConnCopy(t *testing.T) {
	client, server := tcpPair(t)
	backendClient, backendServer := tcpPair(t)
	payload := bytes.Repeat([]byte("0123456789"), 10000)
	go func() {
		client.Write(payload)
		closeWrite(client)
	}()
	p, c, err := Sniff(server, 5*time.Second)
	if err != nil || p != Unknown {
		t.Fatalf("Sniff = %v, %v, want unknown, nil", p, err)
	}
	// client -> backend through c.WriteTo.
	go func() {
		io.Copy(backendClient, c)
		closeWrite(backendClient)
	}()
	backendServer.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(backendServer)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("backend got %d bytes, %v, want the %d sent", len(got), err, len(payload))
	}
	// backend -> client through c.ReadFrom.
	go func() {
		backendServer.Write(payload)
		closeWrite(backendServer)
	}()
	go func() {
		io.Copy(c, backendClient)
		c.(*Conn).CloseWrite()
	}()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err = io.ReadAll(client)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("client got %d bytes, %v, want the %d sent", len(got), err, len(payload))
	}
}

func TestConnCloseWriteUnsupported(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	if err := NewConn(s, nil).CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("CloseWrite() on a pipe = %v, want errors.ErrUnsupported", err)
	}
}

// TestConnBuffered: Buffered counts the bytes left to replay, down to 0
// once they are read.
func TestConnBuffered(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := NewConn(a, []byte("abc"))
	if n := c.Buffered(); n != 3 {
		t.Fatalf("Buffered() = %d, want 3", n)
	}
	p := make([]byte, 2)
	if n, err := c.Read(p); n != 2 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if n := c.Buffered(); n != 1 {
		t.Errorf("Buffered() after 2 bytes = %d, want 1", n)
	}
	c.Read(p)
	if n := c.Buffered(); n != 0 {
		t.Errorf("Buffered() after all = %d, want 0", n)
	}
}
