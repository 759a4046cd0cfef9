package sniff

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ProxyHeader is what a PROXY protocol header says about the original
// connection.
//
// It is a plain value: it may be copied, and its zero value (Version 0)
// means that there was no header.
type ProxyHeader struct {
	Version int // 1 or 2; 0 in the zero value, meaning no header
	// Local is set for a v2 LOCAL command, a v1 "UNKNOWN" line, and v2
	// PROXY headers without IP addresses (family AF_UNSPEC or AF_UNIX): the
	// header gives no addresses, so use the socket's. Source and
	// Destination are then zero.
	Local               bool
	Source, Destination netip.AddrPort
}

const (
	proxyV1Sig = "PROXY "
	proxyV2Sig = "\r\n\r\n\x00\r\nQUIT\n"

	// proxyV1Max is the longest v1 line, CRLF included:
	// "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n".
	proxyV1Max = 107
	// proxyV2Fixed is the v2 header before the addresses: the signature,
	// version and command, family and transport, and length.
	proxyV2Fixed = 16

	proxyV2Version = 0x2
	proxyV2Local   = 0x0
	proxyV2Proxy   = 0x1
	proxyAFUnspec  = 0x0
	proxyAFInet    = 0x1
	proxyAFInet6   = 0x2
	proxyAFUnix    = 0x3
	proxyStream    = 0x1
	proxyMaxTP     = 0x2 // DGRAM
	proxyInetLen   = 4 + 4 + 2 + 2
	proxyInet6Len  = 16 + 16 + 2 + 2
	proxyUnixLen   = 108 + 108

	// proxyBufSize is ProxyConn's read buffer: a v2 header with IPv6 or
	// Unix addresses and no TLVs fits.
	proxyBufSize = 256
)

// ReadProxyHeader reads a PROXY protocol header, version 1 (text) or 2
// (binary), from the start of r, as HAProxy's specification describes
// (https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt). It
// consumes the header and no byte beyond it.
//
// A stream that does not start with a signature ("PROXY " for v1, the 12
// bytes "\r\n\r\n\x00\r\nQUIT\n" for v2) returns ErrNoProxyHeader, having
// consumed nothing; so does one that ends inside a signature. It peeks
// only as far as the bytes match a signature, so a client that sends "GET"
// and waits is answered at once. An empty stream returns io.EOF.
//
// A malformed or truncated header returns an error wrapping
// ErrBadProxyHeader that says what is wrong: a v1 line longer than 107
// bytes or not ending in CRLF, a protocol other than TCP4, TCP6 or
// UNKNOWN, an address of the wrong family or with a zone, a port out of
// range or with leading zeros, a v2 version other than 2, an unknown
// command, family or transport, or a length too short for the family.
// Past a v1 UNKNOWN, the line is ignored; past v2 addresses, the TLVs are
// skipped unread (at most 65535 bytes, the field's limit). Other read
// errors, such as timeouts, are wrapped as they are.
func ReadProxyHeader(r *bufio.Reader) (ProxyHeader, error) {
	version, err := peekProxySignature(r)
	if err != nil {
		return ProxyHeader{}, err
	}
	if version == 1 {
		return readProxyV1(r)
	}
	return readProxyV2(r)
}

// peekProxySignature returns the version of the signature at the start of
// r, peeking one byte more at a time while the bytes match one.
func peekProxySignature(r *bufio.Reader) (int, error) {
	want := 1
	for {
		b, err := r.Peek(want)
		if len(b) > 0 {
			sig, version := proxyV1Sig, 1
			if b[0] == proxyV2Sig[0] {
				sig, version = proxyV2Sig, 2
			}
			n := min(len(b), len(sig))
			if string(b[:n]) != sig[:n] {
				return 0, ErrNoProxyHeader
			}
			if n == len(sig) {
				return version, nil
			}
			want = min(max(r.Buffered(), n+1), len(sig))
		}
		if err != nil {
			switch {
			case err == io.EOF && len(b) == 0:
				return 0, io.EOF
			case err == io.EOF:
				return 0, ErrNoProxyHeader
			}
			return 0, fmt.Errorf("sniff: reading PROXY protocol header: %w", err)
		}
	}
}

// readProxyV1 reads a v1 line; r starts with its signature.
func readProxyV1(r *bufio.Reader) (ProxyHeader, error) {
	var buf [proxyV1Max]byte
	n := 0
	for {
		c, err := r.ReadByte()
		if err != nil {
			return ProxyHeader{}, truncated("v1", err)
		}
		buf[n] = c
		n++
		if c == '\n' {
			break
		}
		if n == len(buf) {
			return ProxyHeader{}, fmt.Errorf("%w: v1 line longer than %d bytes", ErrBadProxyHeader, proxyV1Max)
		}
	}
	if n < 2 || buf[n-2] != '\r' {
		return ProxyHeader{}, fmt.Errorf("%w: v1 line %q does not end in CRLF", ErrBadProxyHeader, buf[:n])
	}
	line := string(buf[len(proxyV1Sig) : n-2])
	h, err := parseProxyV1(line)
	if err != nil {
		return ProxyHeader{}, fmt.Errorf("%w: v1 line %q: %s", ErrBadProxyHeader, buf[:n], err)
	}
	return h, nil
}

// parseProxyV1 parses a v1 line without its "PROXY " and CRLF.
func parseProxyV1(line string) (ProxyHeader, error) {
	proto, rest, _ := strings.Cut(line, " ")
	var want4 bool
	switch proto {
	case "UNKNOWN":
		return ProxyHeader{Version: 1, Local: true}, nil
	case "TCP4":
		want4 = true
	case "TCP6":
	default:
		return ProxyHeader{}, fmt.Errorf("protocol %q is not TCP4, TCP6 or UNKNOWN", proto)
	}
	var f [4]string
	for i := range f {
		var ok bool
		if f[i], rest, ok = strings.Cut(rest, " "); ok != (i < len(f)-1) {
			return ProxyHeader{}, errors.New("want 4 fields after the protocol, separated by single spaces")
		}
	}
	src, err := parseProxyV1Addr(f[0], want4)
	if err != nil {
		return ProxyHeader{}, fmt.Errorf("source address: %s", err)
	}
	dst, err := parseProxyV1Addr(f[1], want4)
	if err != nil {
		return ProxyHeader{}, fmt.Errorf("destination address: %s", err)
	}
	sport, err := parseProxyV1Port(f[2])
	if err != nil {
		return ProxyHeader{}, fmt.Errorf("source port: %s", err)
	}
	dport, err := parseProxyV1Port(f[3])
	if err != nil {
		return ProxyHeader{}, fmt.Errorf("destination port: %s", err)
	}
	return ProxyHeader{
		Version:     1,
		Source:      netip.AddrPortFrom(src, sport),
		Destination: netip.AddrPortFrom(dst, dport),
	}, nil
}

func parseProxyV1Addr(s string, want4 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, err
	case a.Zone() != "":
		return netip.Addr{}, fmt.Errorf("%q has a zone", s)
	case want4 && !a.Is4():
		return netip.Addr{}, fmt.Errorf("%q is not IPv4", s)
	case !want4 && !a.Is6():
		return netip.Addr{}, fmt.Errorf("%q is not IPv6", s)
	}
	return a, nil
}

func parseProxyV1Port(s string) (uint16, error) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q is empty or has a leading zero", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not in 0..65535", s)
	}
	return uint16(p), nil
}

// readProxyV2 reads a v2 header; r starts with its signature.
func readProxyV2(r *bufio.Reader) (ProxyHeader, error) {
	var buf [proxyV2Fixed + proxyInet6Len]byte
	hdr := buf[:proxyV2Fixed]
	if _, err := io.ReadFull(r, hdr); err != nil {
		return ProxyHeader{}, truncated("v2", err)
	}
	verCmd, fam := hdr[12], hdr[13]
	size := int(binary.BigEndian.Uint16(hdr[14:16]))
	if v := verCmd >> 4; v != proxyV2Version {
		return ProxyHeader{}, fmt.Errorf("%w: v2 header with version %d", ErrBadProxyHeader, v)
	}
	h := ProxyHeader{Version: 2, Local: true}
	addrLen := 0
	switch cmd := verCmd & 0xf; cmd {
	case proxyV2Local:
		// The family is ignored.
	case proxyV2Proxy:
		af, tp := fam>>4, fam&0xf
		if tp > proxyMaxTP {
			return ProxyHeader{}, fmt.Errorf("%w: v2 header with transport %d", ErrBadProxyHeader, tp)
		}
		switch af {
		case proxyAFUnspec:
		case proxyAFInet:
			addrLen = proxyInetLen
		case proxyAFInet6:
			addrLen = proxyInet6Len
		case proxyAFUnix:
			if size < proxyUnixLen {
				return ProxyHeader{}, fmt.Errorf("%w: v2 header with length %d, too short for AF_UNIX", ErrBadProxyHeader, size)
			}
		default:
			return ProxyHeader{}, fmt.Errorf("%w: v2 header with family %d", ErrBadProxyHeader, af)
		}
		if size < addrLen {
			return ProxyHeader{}, fmt.Errorf("%w: v2 header with length %d, too short for its %d address bytes", ErrBadProxyHeader, size, addrLen)
		}
	default:
		return ProxyHeader{}, fmt.Errorf("%w: v2 header with command %d", ErrBadProxyHeader, cmd)
	}
	a := buf[proxyV2Fixed : proxyV2Fixed+addrLen]
	if _, err := io.ReadFull(r, a); err != nil {
		return ProxyHeader{}, truncated("v2", err)
	}
	switch addrLen {
	case proxyInetLen:
		h.Local = false
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), binary.BigEndian.Uint16(a[8:10]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), binary.BigEndian.Uint16(a[10:12]))
	case proxyInet6Len:
		h.Local = false
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])), binary.BigEndian.Uint16(a[32:34]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])), binary.BigEndian.Uint16(a[34:36]))
	}
	if rest := size - addrLen; rest > 0 {
		if _, err := r.Discard(rest); err != nil {
			return ProxyHeader{}, truncated("v2", err)
		}
	}
	return h, nil
}

// truncated describes a read error inside a header.
func truncated(version string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s header truncated: %w", ErrBadProxyHeader, version, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("sniff: reading PROXY protocol %s header: %w", version, err)
}

// AppendProxyHeader appends h encoded as version h.Version (1 or 2) to b.
// A Local header becomes "PROXY UNKNOWN\r\n" in v1 and a LOCAL command in
// v2. Otherwise Source and Destination must be valid, without zones, and
// both IPv4 (TCP4, AF_INET) or both IPv6 (TCP6, AF_INET6; an IPv4-mapped
// IPv6 address counts as IPv6). v2 headers carry no TLVs.
func AppendProxyHeader(b []byte, h ProxyHeader) ([]byte, error) {
	if h.Version != 1 && h.Version != 2 {
		return b, fmt.Errorf("sniff: cannot encode PROXY protocol version %d", h.Version)
	}
	var is4 bool
	if !h.Local {
		src, dst := h.Source.Addr(), h.Destination.Addr()
		switch {
		case !h.Source.IsValid() || !h.Destination.IsValid():
			return b, fmt.Errorf("sniff: cannot encode PROXY header with invalid addresses %v and %v", h.Source, h.Destination)
		case src.Zone() != "" || dst.Zone() != "":
			return b, fmt.Errorf("sniff: cannot encode PROXY header with zoned addresses %v and %v", h.Source, h.Destination)
		case src.Is4() != dst.Is4():
			return b, fmt.Errorf("sniff: cannot encode PROXY header with mixed address families %v and %v", h.Source, h.Destination)
		}
		is4 = src.Is4()
	}
	if h.Version == 1 {
		if h.Local {
			return append(b, proxyV1Sig+"UNKNOWN\r\n"...), nil
		}
		b = append(b, proxyV1Sig...)
		if is4 {
			b = append(b, "TCP4 "...)
		} else {
			b = append(b, "TCP6 "...)
		}
		b = h.Source.Addr().AppendTo(b)
		b = append(b, ' ')
		b = h.Destination.Addr().AppendTo(b)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(h.Source.Port()), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(h.Destination.Port()), 10)
		return append(b, "\r\n"...), nil
	}
	b = append(b, proxyV2Sig...)
	switch {
	case h.Local:
		return append(b, proxyV2Version<<4|proxyV2Local, proxyAFUnspec<<4|proxyAFUnspec, 0, 0), nil
	case is4:
		b = append(b, proxyV2Version<<4|proxyV2Proxy, proxyAFInet<<4|proxyStream, 0, proxyInetLen)
		s, d := h.Source.Addr().As4(), h.Destination.Addr().As4()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	default:
		b = append(b, proxyV2Version<<4|proxyV2Proxy, proxyAFInet6<<4|proxyStream, 0, proxyInet6Len)
		s, d := h.Source.Addr().As16(), h.Destination.Addr().As16()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, h.Source.Port())
	return binary.BigEndian.AppendUint16(b, h.Destination.Port()), nil
}

// ProxyConn reads an optional PROXY protocol header from c, under a read
// deadline of timeout from now (none if timeout <= 0; the deadline is
// cleared afterwards), and returns a conn that replays the bytes read
// past the header, with the header. When c carries no header, or closes
// before sending anything, ProxyConn returns the zero ProxyHeader
// (Version 0) and a nil error, and the conn replays everything read.
//
// The conn is a *Conn, or c itself when nothing was read past the header.
// On an error (a malformed header, wrapping ErrBadProxyHeader; a timeout;
// a reset) it is c; the caller closes it in every case.
//
// ProxyConn does not change the conn's RemoteAddr: the caller decides
// whether to trust the header (only from known proxies) and uses
// h.Source. Trusting a header from anyone lets clients forge addresses.
func ProxyConn(c net.Conn, timeout time.Duration) (net.Conn, ProxyHeader, error) {
	if timeout > 0 {
		if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return c, ProxyHeader{}, fmt.Errorf("sniff: setting read deadline: %w", err)
		}
	}
	br := bufio.NewReaderSize(c, proxyBufSize)
	h, err := ReadProxyHeader(br)
	if timeout > 0 {
		_ = c.SetReadDeadline(time.Time{})
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrNoProxyHeader), err == io.EOF:
		h = ProxyHeader{}
	default:
		return c, ProxyHeader{}, err
	}
	n := br.Buffered()
	if n == 0 {
		return c, h, nil
	}
	b, _ := br.Peek(n)
	return NewConn(c, b), h, nil
}
