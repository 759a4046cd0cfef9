package sniff

//go:generate go run gen_table.go

import "strconv"

// Protocol is what the first bytes of a connection look like.
type Protocol uint8

const (
	// Unknown is none of the protocols below. Sniff also returns it when
	// the client closed the connection or timed out before a verdict.
	Unknown Protocol = iota
	// HTTP1 is an HTTP/1.x request line: a method token (a run of 1 to 20
	// RFC 9110 tchars, so PURGE and PROPFIND count too) followed by one
	// space.
	HTTP1
	// HTTP2 is the h2c prior-knowledge connection preface,
	// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113, section 3.4).
	HTTP2
	// TLS is a TLS handshake record carrying the start of a ClientHello:
	// 0x16, version 0x03 0x00 to 0x03 0x04, a length from 1 to 2^14 and
	// handshake type 0x01.
	TLS

	numProtocols = iota
)

// String returns "unknown", "http1", "http2" or "tls", and "Protocol(N)"
// for other values.
func (p Protocol) String() string {
	switch p {
	case Unknown:
		return "unknown"
	case HTTP1:
		return "http1"
	case HTTP2:
		return "http2"
	case TLS:
		return "tls"
	}
	return "Protocol(" + strconv.Itoa(int(p)) + ")"
}

const (
	// MaxPeek is the most bytes Detect looks at, and so the most Sniff
	// reads: the 24 bytes of the h2c preface. A method token of up to 20
	// bytes takes 21 with its space; a TLS record header and handshake
	// type take 6.
	MaxPeek = 24

	// h2Preface is the client connection preface of HTTP/2 with prior
	// knowledge.
	h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

	// maxMethod is the longest method token taken for HTTP/1.x. The
	// longest registered method, UPDATEREDIRECTREF, has 17 bytes.
	maxMethod = 20

	// TLS record framing (RFC 8446, section 5.1).
	tlsHandshake       = 0x16    // ContentType handshake
	tlsClientHello     = 0x01    // HandshakeType client_hello
	tlsMaxRecord       = 1 << 14 // the longest TLSPlaintext fragment
	tlsHeaderAndType   = 5 + 1   // record header, then the handshake type
	tlsMaxMinorVersion = 0x04    // 0x0304 is TLS 1.3's legacy_record_version ceiling
)

// Detect classifies the first bytes of a connection. more reports that b
// is a prefix of something that could still become a known protocol, so
// that more bytes are needed; p is then Unknown. When more is false, p is
// final: no bytes appended to b can change it. Detect looks at no more
// than MaxPeek bytes of b, so more is always false when len(b) >= MaxPeek.
// It allocates nothing.
//
// The rules, in order:
//
//   - b[0] == 0x16 is TLS if the record header and handshake type fit a
//     ClientHello (see TLS); 16 03 01 02 00 01 is TLS.
//   - b a prefix of the h2c preface needs more bytes; the full preface is
//     HTTP2. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" is HTTP2, but "PRI / HTTP/1.1"
//     is HTTP1 (method PRI), as is anything that leaves the preface past
//     its fourth byte, the space.
//   - 1 to 20 tchars and a space is HTTP1: "GET ", "PROPFIND ", "M-SEARCH "
//     and "get " (methods are case-sensitive, but any token is one) all
//     are. A leading space, a control byte, CR or LF, or 21 tchars in a
//     row is Unknown: "\r\nGET /" and "SSH-2.0-OpenSSH_9.6\r\n" are.
func Detect(b []byte) (p Protocol, more bool) {
	if len(b) > MaxPeek {
		b = b[:MaxPeek]
	}
	if len(b) == 0 {
		return Unknown, true
	}
	if b[0] == tlsHandshake {
		return detectTLS(b)
	}
	if n := min(len(b), len(h2Preface)); string(b[:n]) == h2Preface[:n] {
		if n == len(h2Preface) {
			return HTTP2, false
		}
		return Unknown, true
	}
	for i, c := range b {
		if c == ' ' {
			if i == 0 {
				return Unknown, false
			}
			return HTTP1, false
		}
		if i == maxMethod || !tcharTable[c] {
			return Unknown, false
		}
	}
	return Unknown, true
}

// detectTLS classifies b, which starts with 0x16.
func detectTLS(b []byte) (Protocol, bool) {
	if len(b) >= 2 && b[1] != 0x03 ||
		len(b) >= 3 && b[2] > tlsMaxMinorVersion {
		return Unknown, false
	}
	if len(b) >= 5 {
		if n := int(b[3])<<8 | int(b[4]); n == 0 || n > tlsMaxRecord {
			return Unknown, false
		}
	}
	if len(b) < tlsHeaderAndType {
		return Unknown, true
	}
	if b[5] != tlsClientHello {
		return Unknown, false
	}
	return TLS, false
}
