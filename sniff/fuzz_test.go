package sniff

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

func FuzzDetect(f *testing.F) {
	for _, s := range []string{
		"", "G", "GET / HTTP/1.1\r\n", "PROPFIND /dav HTTP/1.1\r\n", "get /",
		"PRI", "PRI ", h2Preface, h2Preface + "\x00\x00\x00\x04", "PRI / HTTP/1.1\r\n",
		"\x16", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "\x16\x03\x05", "\x16\x03\x01\x00\x00",
		"SSH-2.0-OpenSSH_9.6\r\n", "\r\nGET /", "\x00\x01\x02", "AAAAAAAAAAAAAAAAAAAAA /",
	} {
		f.Add([]byte(s))
	}
	suffixes := [][]byte{{}, {0}, {' '}, []byte("GET / HTTP/1.1\r\n"), []byte(h2Preface), {0x16, 0x03, 0x01, 0x02, 0x00, 0x01}}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, more := Detect(b)
		if more && (p != Unknown || len(b) >= MaxPeek) {
			t.Fatalf("Detect(%q) = %v, more, want Unknown with more only below MaxPeek bytes", b, p)
		}
		if p >= numProtocols {
			t.Fatalf("Detect(%q) = %v, want a Protocol constant", b, p)
		}
		// A final verdict holds whatever follows.
		if !more {
			for _, s := range suffixes {
				ext := append(b[:len(b):len(b)], s...)
				if p2, more2 := Detect(ext); p2 != p || more2 {
					t.Fatalf("Detect(%q) = %v, final, but Detect(%q) = %v, %v", b, p, ext, p2, more2)
				}
			}
		}
		// And so does a final verdict on any prefix.
		for i := range min(len(b), MaxPeek) {
			if pi, morei := Detect(b[:i]); !morei && (pi != p || more) {
				t.Fatalf("Detect(%q) = %v, final, but Detect(%q) = %v, %v", b[:i], pi, b, p, more)
			}
		}
	})
}

func FuzzReadProxyHeader(f *testing.F) {
	for _, s := range []string{
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n",
		"PROXY TCP6 2001:db8::1 2001:db8::2 1234 80\r\n",
		"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN 1.1.1.1 2.2.2.2 1 2\r\n",
		"PROXY TCP4 1.1.1.1 2.2.2.2 65536 2\r\n",
		v2(0x21, 0x11, ipv4Body("192.0.2.1", "198.51.100.2", 56324, 443)),
		v2(0x21, 0x21, ipv6Body("2001:db8::1", "2001:db8::2", 1234, 80), tlvs()),
		v2(0x20, 0x00),
		v2(0x21, 0x31, make([]byte, proxyUnixLen)),
		v2Len(0x21, 0x11, 40, ipv4Body("10.0.0.1", "10.0.0.2", 1, 2)),
		"GET / HTTP/1.1\r\n", proxyV2Sig, "PROX", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		h, err := ReadProxyHeader(r)
		rest, _ := io.ReadAll(r)
		switch {
		case errors.Is(err, ErrNoProxyHeader), err == io.EOF:
			if !bytes.Equal(rest, data) {
				t.Fatalf("ReadProxyHeader(%q) = %v, having consumed %d bytes, want none", data, err, len(data)-len(rest))
			}
			return
		case err != nil:
			if !errors.Is(err, ErrBadProxyHeader) {
				t.Fatalf("ReadProxyHeader(%q) = %v, want an error wrapping ErrBadProxyHeader", data, err)
			}
			return
		}
		if h.Version != 1 && h.Version != 2 || h.Local == (h.Source.IsValid() || h.Destination.IsValid()) {
			t.Fatalf("ReadProxyHeader(%q) = %+v, want version 1 or 2, and addresses unless Local", data, h)
		}
		// The header is self-delimiting: it parses alone, the same way.
		n := len(data) - len(rest)
		if h2, err := ReadProxyHeader(bufio.NewReader(bytes.NewReader(data[:n]))); err != nil || h2 != h {
			t.Fatalf("ReadProxyHeader(%q) = %+v, nil, but its first %d bytes alone = %+v, %v", data, h, n, h2, err)
		}
		enc, err := AppendProxyHeader(nil, h)
		if err != nil {
			t.Fatalf("AppendProxyHeader(%+v) = %v, want it to encode what ReadProxyHeader read", h, err)
		}
		back, err := ReadProxyHeader(bufio.NewReader(bytes.NewReader(enc)))
		if err != nil || back != h {
			t.Fatalf("ReadProxyHeader(AppendProxyHeader(%+v)) = %+v, %v, want the same header", h, back, err)
		}
	})
}
