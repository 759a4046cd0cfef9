package fcgi

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Record framing, from the FastCGI specification, section 3.3
// (https://fastcgi-archives.github.io/FastCGI_Specification.html#S3.3).
const (
	version1   = 1
	headerLen  = 8     // every record starts with an 8-byte header
	maxContent = 65535 // contentLength is 16 bits
	maxPadding = 255   // paddingLength is 8 bits
	// maxRecord is the largest record on the wire.
	maxRecord = headerLen + maxContent + maxPadding
)

// recType is a record's type (specification, section 8).
type recType uint8

const (
	typeBeginRequest    recType = 1
	typeAbortRequest    recType = 2
	typeEndRequest      recType = 3
	typeParams          recType = 4
	typeStdin           recType = 5
	typeStdout          recType = 6
	typeStderr          recType = 7
	typeData            recType = 8
	typeGetValues       recType = 9
	typeGetValuesResult recType = 10
	typeUnknownType     recType = 11
)

func (t recType) String() string {
	switch t {
	case typeBeginRequest:
		return "BEGIN_REQUEST"
	case typeAbortRequest:
		return "ABORT_REQUEST"
	case typeEndRequest:
		return "END_REQUEST"
	case typeParams:
		return "PARAMS"
	case typeStdin:
		return "STDIN"
	case typeStdout:
		return "STDOUT"
	case typeStderr:
		return "STDERR"
	case typeData:
		return "DATA"
	case typeGetValues:
		return "GET_VALUES"
	case typeGetValuesResult:
		return "GET_VALUES_RESULT"
	case typeUnknownType:
		return "UNKNOWN_TYPE"
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// BEGIN_REQUEST body fields.
const (
	roleResponder = 1
	flagKeepConn  = 1
)

// END_REQUEST protocolStatus values.
const (
	statusRequestComplete = 0
	statusCantMultiplex   = 1
	statusOverloaded      = 2
	statusUnknownRole     = 3
)

// header is a record header.
type header struct {
	Version       uint8
	Type          recType
	ID            uint16
	ContentLength uint16
	PaddingLength uint8
}

// appendHeader appends a record header announcing contentLen bytes of
// content followed by padLen bytes of padding. The caller keeps
// contentLen within maxContent and padLen within maxPadding.
func appendHeader(b []byte, t recType, id uint16, contentLen, padLen int) []byte {
	return append(b, version1, byte(t), byte(id>>8), byte(id), byte(contentLen>>8), byte(contentLen), byte(padLen), 0)
}

// padding returns the padding that brings n bytes of content to a
// multiple of 8, as nginx and php-fpm do; the specification recommends
// it for alignment and allows any amount.
func padding(n int) int { return -n & 7 }

// zeros is padding.
var zeros [8]byte

// appendRecord appends a record of type t carrying content, which must be
// at most maxContent bytes, with its padding.
func appendRecord(b []byte, t recType, id uint16, content []byte) []byte {
	pad := padding(len(content))
	b = appendHeader(b, t, id, len(content), pad)
	b = append(b, content...)
	return append(b, zeros[:pad]...)
}

// appendStream appends content as a stream of records of type t, each
// carrying at most maxContent bytes, without the empty record that ends
// a stream.
func appendStream(b []byte, t recType, id uint16, content []byte) []byte {
	for len(content) > 0 {
		n := min(len(content), maxContent)
		b = appendRecord(b, t, id, content[:n])
		content = content[n:]
	}
	return b
}

// appendBeginRequest appends a BEGIN_REQUEST record for the responder
// role.
func appendBeginRequest(b []byte, id uint16, keepConn bool) []byte {
	var flags byte
	if keepConn {
		flags = flagKeepConn
	}
	b = appendHeader(b, typeBeginRequest, id, 8, 0)
	return append(b, 0, roleResponder, flags, 0, 0, 0, 0, 0)
}

// readRecord reads one record from r. It reads the header and then the
// content and padding into buf, and returns the content as a slice of
// buf, valid until the next call. A record that does not fit buf is an
// error, so a buf of maxRecord bytes or more reads any record; nothing
// else is allocated, whatever r sends.
//
// It returns io.EOF only when r ends cleanly between records, and
// io.ErrUnexpectedEOF when it ends inside one. A header with a version
// other than 1 is a protocol error.
func readRecord(r io.Reader, buf []byte) (header, []byte, error) {
	var h header
	if len(buf) < headerLen {
		return h, nil, fmt.Errorf("%w: record buffer of %d bytes", errProtocol, len(buf))
	}
	if _, err := io.ReadFull(r, buf[:headerLen]); err != nil {
		return h, nil, err
	}
	h = header{
		Version:       buf[0],
		Type:          recType(buf[1]),
		ID:            binary.BigEndian.Uint16(buf[2:4]),
		ContentLength: binary.BigEndian.Uint16(buf[4:6]),
		PaddingLength: buf[6],
	}
	if h.Version != version1 {
		return h, nil, fmt.Errorf("%w: record version %d, want 1", errProtocol, h.Version)
	}
	n := int(h.ContentLength) + int(h.PaddingLength)
	if n > len(buf) {
		return h, nil, fmt.Errorf("%w: record of %d bytes exceeds the buffer of %d", errProtocol, n, len(buf))
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, err
	}
	return h, buf[:h.ContentLength], nil
}

// endRequest is the body of an END_REQUEST record.
type endRequest struct {
	AppStatus      uint32
	ProtocolStatus uint8
}

func parseEndRequest(content []byte) (endRequest, error) {
	if len(content) < 8 {
		return endRequest{}, fmt.Errorf("%w: END_REQUEST body of %d bytes, want 8", errProtocol, len(content))
	}
	return endRequest{AppStatus: binary.BigEndian.Uint32(content), ProtocolStatus: content[4]}, nil
}
