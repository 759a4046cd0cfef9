package sniff

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// v2 builds a v2 header from its version-command and family bytes and its
// body (addresses and TLVs); the length is len(body).
func v2(verCmd, fam byte, body ...[]byte) string {
	b := append([]byte(proxyV2Sig), verCmd, fam, 0, 0)
	for _, p := range body {
		b = append(b, p...)
	}
	binary.BigEndian.PutUint16(b[14:16], uint16(len(b)-proxyV2Fixed))
	return string(b)
}

// v2Len is v2 with a stated length that may differ from the body's.
func v2Len(verCmd, fam byte, n uint16, body []byte) string {
	b := append([]byte(proxyV2Sig), verCmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:16], n)
	return string(append(b, body...))
}

func ipv4Body(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, dport)
}

func ipv6Body(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, dport)
}

// tlvs returns a few TLVs: ALPN "h2", authority "example.com", a NOOP.
func tlvs() []byte {
	var b []byte
	for _, tlv := range []struct {
		typ byte
		v   string
	}{{0x01, "h2"}, {0x02, "example.com"}, {0x04, "\x00\x00\x00"}} {
		b = append(b, tlv.typ)
		b = binary.BigEndian.AppendUint16(b, uint16(len(tlv.v)))
		b = append(b, tlv.v...)
	}
	return b
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestReadProxyHeader(t *testing.T) {
	const after = "GET / HTTP/1.1\r\n\r\n"
	tests := []struct {
		name string
		in   string
		want ProxyHeader
	}{
		{"v1 TCP4", "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
			ProxyHeader{Version: 1, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.2:443")}},
		{"v1 TCP4 ports 0 and 65535", "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
			ProxyHeader{Version: 1, Source: ap("0.0.0.0:0"), Destination: ap("255.255.255.255:65535")}},
		{"v1 TCP6", "PROXY TCP6 2001:db8::1 2001:db8::2 1234 80\r\n",
			ProxyHeader{Version: 1, Source: ap("[2001:db8::1]:1234"), Destination: ap("[2001:db8::2]:80")}},
		{"v1 TCP6 IPv4-mapped", "PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n",
			ProxyHeader{Version: 1, Source: ap("[::ffff:192.0.2.1]:1"), Destination: ap("[::1]:2")}},
		{"v1 TCP6 longest line", "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
			ProxyHeader{Version: 1, Source: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), Destination: ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}},
		{"v1 UNKNOWN", "PROXY UNKNOWN\r\n", ProxyHeader{Version: 1, Local: true}},
		{"v1 UNKNOWN with addresses", "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
			ProxyHeader{Version: 1, Local: true}},

		{"v2 PROXY IPv4", v2(0x21, 0x11, ipv4Body("192.0.2.1", "198.51.100.2", 56324, 443)),
			ProxyHeader{Version: 2, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.2:443")}},
		{"v2 PROXY IPv6", v2(0x21, 0x21, ipv6Body("2001:db8::1", "2001:db8::2", 1234, 80)),
			ProxyHeader{Version: 2, Source: ap("[2001:db8::1]:1234"), Destination: ap("[2001:db8::2]:80")}},
		{"v2 PROXY IPv4 with TLVs", v2(0x21, 0x11, ipv4Body("10.0.0.1", "10.0.0.2", 1, 2), tlvs()),
			ProxyHeader{Version: 2, Source: ap("10.0.0.1:1"), Destination: ap("10.0.0.2:2")}},
		{"v2 PROXY IPv6 with TLVs", v2(0x21, 0x21, ipv6Body("::1", "::2", 1, 2), tlvs()),
			ProxyHeader{Version: 2, Source: ap("[::1]:1"), Destination: ap("[::2]:2")}},
		{"v2 PROXY IPv4 over UDP", v2(0x21, 0x12, ipv4Body("10.0.0.1", "10.0.0.2", 53, 53)),
			ProxyHeader{Version: 2, Source: ap("10.0.0.1:53"), Destination: ap("10.0.0.2:53")}},
		{"v2 LOCAL", v2(0x20, 0x00), ProxyHeader{Version: 2, Local: true}},
		{"v2 LOCAL with IPv4 block", v2(0x20, 0x11, ipv4Body("10.0.0.1", "10.0.0.2", 1, 2)), ProxyHeader{Version: 2, Local: true}},
		{"v2 LOCAL with IPv6 block and TLVs", v2(0x20, 0x21, ipv6Body("::1", "::2", 1, 2), tlvs()), ProxyHeader{Version: 2, Local: true}},
		{"v2 PROXY UNSPEC", v2(0x21, 0x00, tlvs()), ProxyHeader{Version: 2, Local: true}},
		{"v2 PROXY UNIX", v2(0x21, 0x31, make([]byte, proxyUnixLen)), ProxyHeader{Version: 2, Local: true}},
		{"v2 largest length", v2(0x21, 0x11, ipv4Body("10.0.0.1", "10.0.0.2", 1, 2), make([]byte, 65535-proxyInetLen)),
			ProxyHeader{Version: 2, Source: ap("10.0.0.1:1"), Destination: ap("10.0.0.2:2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tt.in + after))
			got, err := ReadProxyHeader(r)
			if err != nil || got != tt.want {
				t.Fatalf("ReadProxyHeader(%q) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
			}
			rest, _ := io.ReadAll(r)
			if string(rest) != after {
				t.Errorf("ReadProxyHeader(%q) left %q, want %q", tt.in, rest, after)
			}
		})
	}
}

func TestReadProxyHeaderNoHeader(t *testing.T) {
	for _, in := range []string{
		"GET / HTTP/1.1\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01",
		"PROX",                 // ends inside the v1 signature
		"PROXY\r\n",            // no space
		"proxy TCP4 ",          // lower case
		"\r\n\r\n\x00\r\nQUIT", // ends inside the v2 signature
		"\r\n\r\nGET",          // leaves the v2 signature
		"\r\nGET / HTTP/1.1\r\n",
	} {
		r := bufio.NewReader(strings.NewReader(in))
		if h, err := ReadProxyHeader(r); !errors.Is(err, ErrNoProxyHeader) {
			t.Errorf("ReadProxyHeader(%q) = %+v, %v, want ErrNoProxyHeader", in, h, err)
			continue
		}
		if rest, _ := io.ReadAll(r); string(rest) != in {
			t.Errorf("ReadProxyHeader(%q) consumed bytes: left %q", in, rest)
		}
	}
	if h, err := ReadProxyHeader(bufio.NewReader(strings.NewReader(""))); err != io.EOF {
		t.Errorf("ReadProxyHeader(\"\") = %+v, %v, want io.EOF", h, err)
	}
}

// TestReadProxyHeaderNoBlock checks that a stream that leaves the
// signatures early is answered without waiting for more bytes.
func TestReadProxyHeaderNoBlock(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go client.Write([]byte("GE"))
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ReadProxyHeader(bufio.NewReader(server)); !errors.Is(err, ErrNoProxyHeader) {
		t.Errorf("ReadProxyHeader(\"GE\" then nothing) = %v, want ErrNoProxyHeader at once", err)
	}
}

func TestReadProxyHeaderMalformed(t *testing.T) {
	v4 := ipv4Body("10.0.0.1", "10.0.0.2", 1, 2)
	tests := []struct {
		name string
		in   string
		want string // in the error
	}{
		{"v1 too long", "PROXY TCP4 1.1.1.1 2.2.2.2 1 2" + strings.Repeat(" ", 80) + "\r\n", "longer than 107"},
		{"v1 no newline", "PROXY " + strings.Repeat("A", 120), "longer than 107"},
		{"v1 108 bytes", "PROXY UNKNOWN " + strings.Repeat("A", 92) + "\r\n", "longer than 107"},
		{"v1 LF without CR", "PROXY TCP4 1.1.1.1 2.2.2.2 1 2\n", "CRLF"},
		{"v1 truncated", "PROXY TCP4 1.1.1.1 2.2.2.2 1", "truncated"},
		{"v1 protocol", "PROXY UDP4 1.1.1.1 2.2.2.2 1 2\r\n", "protocol"},
		{"v1 UNKNOWNX", "PROXY UNKNOWNX\r\n", "protocol"},
		{"v1 empty", "PROXY \r\n", "protocol"},
		{"v1 TCP4 with IPv6", "PROXY TCP4 ::1 ::2 1 2\r\n", "not IPv4"},
		{"v1 TCP6 with IPv4", "PROXY TCP6 1.1.1.1 2.2.2.2 1 2\r\n", "not IPv6"},
		{"v1 bad address", "PROXY TCP4 1.1.1 2.2.2.2 1 2\r\n", "source address"},
		{"v1 IPv4 leading zero", "PROXY TCP4 1.1.1.01 2.2.2.2 1 2\r\n", "source address"},
		{"v1 zone", "PROXY TCP6 fe80::1%eth0 ::2 1 2\r\n", "zone"},
		{"v1 port too big", "PROXY TCP4 1.1.1.1 2.2.2.2 65536 2\r\n", "source port"},
		{"v1 port negative", "PROXY TCP4 1.1.1.1 2.2.2.2 1 -2\r\n", "destination port"},
		{"v1 port plus", "PROXY TCP4 1.1.1.1 2.2.2.2 +1 2\r\n", "source port"},
		{"v1 port leading zero", "PROXY TCP4 1.1.1.1 2.2.2.2 01 2\r\n", "leading zero"},
		{"v1 port hex", "PROXY TCP4 1.1.1.1 2.2.2.2 0x1 2\r\n", "source port"},
		{"v1 port empty", "PROXY TCP4 1.1.1.1 2.2.2.2  2\r\n", "source port"},
		{"v1 double space", "PROXY TCP4  1.1.1.1 2.2.2.2 1 2\r\n", "fields"},
		{"v1 too few fields", "PROXY TCP4 1.1.1.1 2.2.2.2 1\r\n", "fields"},
		{"v1 too many fields", "PROXY TCP4 1.1.1.1 2.2.2.2 1 2 3\r\n", "fields"},
		{"v1 trailing space", "PROXY TCP4 1.1.1.1 2.2.2.2 1 2 \r\n", "fields"},
		{"v1 CR inside", "PROXY TCP4 1.1.1.1\r2.2.2.2 1 2\r\n", "fields"},

		{"v2 signature then EOF", proxyV2Sig, "truncated"},
		{"v2 fixed part truncated", proxyV2Sig + "\x21\x11\x00", "truncated"},
		{"v2 addresses truncated", v2Len(0x21, 0x11, 12, v4[:6]), "truncated"},
		{"v2 TLVs truncated", v2Len(0x21, 0x11, 40, v4), "truncated"},
		{"v2 LOCAL body truncated", v2Len(0x20, 0x00, 5, []byte{1, 2}), "truncated"},
		{"v2 version 1", v2(0x11, 0x11, v4), "version 1"},
		{"v2 version 3", v2(0x31, 0x11, v4), "version 3"},
		{"v2 command 2", v2(0x22, 0x11, v4), "command 2"},
		{"v2 family 4", v2(0x21, 0x41, v4), "family 4"},
		{"v2 transport 3", v2(0x21, 0x13, v4), "transport 3"},
		{"v2 IPv4 too short", v2(0x21, 0x11, v4[:11]), "too short"},
		{"v2 IPv6 too short", v2(0x21, 0x21, v4), "too short"},
		{"v2 UNIX too short", v2(0x21, 0x31, v4), "too short for AF_UNIX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ReadProxyHeader(bufio.NewReader(strings.NewReader(tt.in)))
			if !errors.Is(err, ErrBadProxyHeader) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadProxyHeader(%q) = %+v, %v, want ErrBadProxyHeader mentioning %q", tt.in, h, err, tt.want)
			}
			if h != (ProxyHeader{}) {
				t.Errorf("ReadProxyHeader(%q) = %+v with an error, want the zero ProxyHeader", tt.in, h)
			}
			if strings.Contains(tt.want, "truncated") && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("ReadProxyHeader(%q) = %v, want it to wrap io.ErrUnexpectedEOF", tt.in, err)
			}
		})
	}
}

// TestReadProxyHeaderSmallBuffer checks that v1 lines longer than the
// reader's buffer work.
func TestReadProxyHeaderSmallBuffer(t *testing.T) {
	const in = "PROXY TCP6 2001:db8::1 2001:db8::2 1234 80\r\nrest"
	r := bufio.NewReaderSize(strings.NewReader(in), 16)
	h, err := ReadProxyHeader(r)
	want := ProxyHeader{Version: 1, Source: ap("[2001:db8::1]:1234"), Destination: ap("[2001:db8::2]:80")}
	if err != nil || h != want {
		t.Errorf("ReadProxyHeader with a 16-byte buffer = %+v, %v, want %+v", h, err, want)
	}
}

func TestAppendProxyHeader(t *testing.T) {
	tests := []struct {
		name string
		h    ProxyHeader
		want string
	}{
		{"v1 TCP4", ProxyHeader{Version: 1, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.2:443")},
			"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"},
		{"v1 TCP6", ProxyHeader{Version: 1, Source: ap("[2001:db8::1]:1234"), Destination: ap("[2001:db8::2]:80")},
			"PROXY TCP6 2001:db8::1 2001:db8::2 1234 80\r\n"},
		{"v1 Local", ProxyHeader{Version: 1, Local: true, Source: ap("1.1.1.1:1")}, "PROXY UNKNOWN\r\n"},
		{"v2 IPv4", ProxyHeader{Version: 2, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.2:443")},
			v2(0x21, 0x11, ipv4Body("192.0.2.1", "198.51.100.2", 56324, 443))},
		{"v2 IPv6", ProxyHeader{Version: 2, Source: ap("[2001:db8::1]:1234"), Destination: ap("[2001:db8::2]:80")},
			v2(0x21, 0x21, ipv6Body("2001:db8::1", "2001:db8::2", 1234, 80))},
		{"v2 LOCAL", ProxyHeader{Version: 2, Local: true}, v2(0x20, 0x00)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendProxyHeader([]byte("x"), tt.h)
			if err != nil || string(got) != "x"+tt.want {
				t.Fatalf("AppendProxyHeader(%+v) = %q, %v, want %q", tt.h, got, err, "x"+tt.want)
			}
			back, err := ReadProxyHeader(bufio.NewReader(bytes.NewReader(got[1:])))
			want := tt.h
			if want.Local {
				want.Source, want.Destination = netip.AddrPort{}, netip.AddrPort{}
			}
			if err != nil || back != want {
				t.Errorf("ReadProxyHeader(AppendProxyHeader(%+v)) = %+v, %v, want it back", tt.h, back, err)
			}
		})
	}
	for _, h := range []ProxyHeader{
		{Version: 0, Local: true},
		{Version: 3, Local: true},
		{Version: 1},
		{Version: 2, Source: ap("1.1.1.1:1")},
		{Version: 1, Source: ap("1.1.1.1:1"), Destination: ap("[::1]:2")},
		{Version: 2, Source: ap("[fe80::1%eth0]:1"), Destination: ap("[::1]:2")},
	} {
		if got, err := AppendProxyHeader(nil, h); err == nil {
			t.Errorf("AppendProxyHeader(%+v) = %q, nil, want an error", h, got)
		}
	}
}

// TestProxyConn reads headers from real connections.
func TestProxyConn(t *testing.T) {
	const after = "GET / HTTP/1.1\r\n\r\n"
	tests := []struct {
		name string
		in   string
		want ProxyHeader
	}{
		{"v1", "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
			ProxyHeader{Version: 1, Source: ap("192.0.2.1:56324"), Destination: ap("198.51.100.2:443")}},
		{"v2", v2(0x21, 0x11, ipv4Body("10.0.0.1", "10.0.0.2", 1, 2), tlvs()),
			ProxyHeader{Version: 2, Source: ap("10.0.0.1:1"), Destination: ap("10.0.0.2:2")}},
		{"none", "", ProxyHeader{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := tcpPair(t)
			if _, err := client.Write([]byte(tt.in + after)); err != nil {
				t.Fatal(err)
			}
			closeWrite(client)
			c, h, err := ProxyConn(server, 5*time.Second)
			if err != nil || h != tt.want {
				t.Fatalf("ProxyConn = %+v, %v, want %+v, nil", h, err, tt.want)
			}
			// Sniff after ProxyConn still reaches the socket.
			p, c, err := Sniff(c, 5*time.Second)
			if p != HTTP1 || err != nil {
				t.Fatalf("Sniff after ProxyConn = %v, %v, want http1, nil", p, err)
			}
			if nc := c.(*Conn).NetConn(); nc != server {
				t.Errorf("NetConn() = %T, want the socket", nc)
			}
			rest, err := io.ReadAll(c)
			if err != nil || string(rest) != after {
				t.Errorf("conn after ProxyConn and Sniff replayed %q, %v, want %q", rest, err, after)
			}
		})
	}
}

func TestProxyConnErrors(t *testing.T) {
	t.Run("malformed", func(t *testing.T) {
		client, server := tcpPair(t)
		client.Write([]byte("PROXY TCP4 nonsense\r\n"))
		c, h, err := ProxyConn(server, 5*time.Second)
		if !errors.Is(err, ErrBadProxyHeader) || c != server || h != (ProxyHeader{}) {
			t.Errorf("ProxyConn = %v, %+v, %v, want the conn, a zero header and ErrBadProxyHeader", c, h, err)
		}
	})
	t.Run("stall", func(t *testing.T) {
		client, server := tcpPair(t)
		client.Write([]byte("PROXY TCP4"))
		start := time.Now()
		_, _, err := ProxyConn(server, 100*time.Millisecond)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("ProxyConn on a stalled header = %v, want a timeout", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("ProxyConn took %v, want about 100ms", d)
		}
	})
	t.Run("closed", func(t *testing.T) {
		client, server := tcpPair(t)
		client.Close()
		c, h, err := ProxyConn(server, 5*time.Second)
		if err != nil || h != (ProxyHeader{}) || c != server {
			t.Errorf("ProxyConn on a closed conn = %v, %+v, %v, want the conn, a zero header, nil", c, h, err)
		}
	})
}
