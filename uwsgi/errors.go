package uwsgi

import "errors"

var (
	// ErrPacketTooLarge means a request's vars block would not fit the
	// protocol's 16-bit datasize (65535 bytes). The Handler answers 431
	// Request Header Fields Too Large without dialing the application.
	ErrPacketTooLarge = errors.New("uwsgi: packet exceeds the protocol's 64 KiB limit")

	// ErrShortPacket means a packet ended before its header or vars block
	// did.
	ErrShortPacket = errors.New("uwsgi: short packet")

	// ErrMalformedPacket means a vars block whose key and value lengths do
	// not add up to its datasize.
	ErrMalformedPacket = errors.New("uwsgi: malformed vars block")

	// ErrHeaderTooLarge means a response's status line and header exceed
	// the parser's limit. The Handler answers 502 Bad Gateway.
	ErrHeaderTooLarge = errors.New("uwsgi: response header too large")

	// ErrMalformedResponse means a response whose status line or header
	// is not HTTP/1.x syntax; errors wrapping it say what was wrong. The
	// Handler answers 502 Bad Gateway.
	ErrMalformedResponse = errors.New("uwsgi: malformed response")
)
