package h1

import (
	"bufio"
	"bytes"
	"io"
)

// Bounds on a chunked body's framing.
const (
	// MaxChunkLine bounds a chunk-size line, chunk extensions included
	// and CRLF excluded.
	MaxChunkLine = 1024
	// MaxTrailerBytes bounds the trailer section after the last chunk,
	// its final CRLF included.
	MaxTrailerBytes = 4096
	// maxExcess bounds how far chunk overhead may run ahead of chunk data
	// over a whole body; see ChunkedReader.
	maxExcess = 16 << 10
)

// ChunkedReader decodes a chunked request or response body (RFC 9112,
// section 7.1) from a bufio.Reader positioned just after the head, and
// leaves it positioned just after the body, so the next pipelined request,
// or the next response, can be read from it.
//
// It is strict: a chunk size is 1 to 15 hex digits, optionally followed by
// ";" and chunk extensions (which are checked for control bytes and
// otherwise ignored), then CRLF; whitespace outside the extensions is
// ErrChunkSize, a bare LF or CR is ErrLineEnding, and chunk data must be
// followed by CRLF. A
// sender may not pad a body with extensions: as in net/http, each chunk
// may spend 16 bytes plus twice its size on its size line and CRLF, and a
// body whose overhead runs more than 16 KiB past that allowance is
// ErrChunkExtension. Trailer fields are checked like header fields and
// bounded by MaxTrailerBytes; Trailer returns them.
//
// Read never returns bytes of two chunks in one call, so a relay that
// forwards the framing as it is can call Chunk after each Read. The zero
// ChunkedReader is not usable; use NewChunkedReader or Reset. A
// ChunkedReader is not safe for concurrent use and must not be copied.
type ChunkedReader struct {
	br     *bufio.Reader
	size   int64 // declared size of the current chunk
	left   int64 // bytes of the current chunk not yet returned
	inData bool  // a chunk's data has started; its CRLF is still to come
	excess int64 // overhead beyond the allowance, see maxExcess
	err    error // sticky: io.EOF after the trailer section, or the error
	// trailer holds the trailer fields read, each with its CRLF; its
	// array is kept across Resets, and allocated only for a trailer.
	trailer []byte
}

// NewChunkedReader returns a ChunkedReader reading from br.
func NewChunkedReader(br *bufio.Reader) *ChunkedReader {
	c := new(ChunkedReader)
	c.Reset(br)
	return c
}

// Reset makes c read a new body from br.
func (c *ChunkedReader) Reset(br *bufio.Reader) {
	*c = ChunkedReader{br: br, trailer: c.trailer[:0]}
}

// Trailer returns the fields of the trailer section, as they were sent,
// each ending in CRLF, once Read has returned io.EOF; empty if there were
// none. Each field passed the checks of a header field. The bytes are
// valid until the next Reset.
func (c *ChunkedReader) Trailer() []byte {
	if c.err != io.EOF {
		return nil
	}
	return c.trailer
}

// Chunk returns the declared size of the chunk the last Read returned
// bytes from, and how many of its bytes are still to come. After Read
// returns io.EOF both are 0.
func (c *ChunkedReader) Chunk() (size, left int64) {
	return c.size, c.left
}

// Ready reports whether Read can return without reading from the
// connection: it has an error to return, data of the current chunk is
// buffered, or the buffer holds the framing up to the next data byte (or
// to the end of the body). A relay that must not block in Read while it
// watches something else, and cannot interrupt Read (its errors are
// sticky), waits for more bytes with the bufio.Reader's Peek until Ready.
// Ready does not check the framing: for malformed framing it may report
// true, and Read then returns the error.
func (c *ChunkedReader) Ready() bool {
	if c.err != nil {
		return true
	}
	n := c.br.Buffered()
	if c.left > 0 {
		return n > 0
	}
	buf, _ := c.br.Peek(n)
	if c.inData { // the CRLF after the last chunk's data
		if len(buf) < 2 {
			return false
		}
		buf = buf[2:]
	}
	i := bytes.Index(buf, crlfBytes)
	if i < 0 {
		return false // the size line is not whole
	}
	line, rest := buf[:i], buf[i+2:]
	last := true // the size is 0: the last chunk
	for _, b := range line {
		if b == ';' || b == ' ' || b == '\t' {
			break
		}
		if b != '0' {
			last = false
			break
		}
	}
	if !last {
		return len(rest) > 0
	}
	// The trailer section ends with an empty line.
	return bytes.HasPrefix(rest, crlfBytes) || bytes.Contains(rest, crlfCRLF)
}

var (
	crlfBytes = []byte("\r\n")
	crlfCRLF  = []byte("\r\n\r\n")
)

// Read reads decoded body bytes. It returns io.EOF after the last chunk
// and the trailer section, io.ErrUnexpectedEOF if the stream ends first,
// and an *Error for malformed framing. Errors are sticky.
func (c *ChunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.left == 0 {
		if c.inData {
			if err := c.readCRLF(ErrChunkData); err != nil {
				return 0, c.fail(err)
			}
			c.inData = false
		}
		size, err := c.readSize()
		if err != nil {
			return 0, c.fail(err)
		}
		c.size, c.left = size, size
		if size == 0 {
			if err := c.readTrailer(); err != nil {
				return 0, c.fail(err)
			}
			c.err = io.EOF
			return 0, io.EOF
		}
		c.inData = true
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if err != nil {
		return n, c.fail(err)
	}
	return n, nil
}

// fail records err, turning an early io.EOF into io.ErrUnexpectedEOF.
func (c *ChunkedReader) fail(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	c.err = err
	return err
}

// readCRLF reads CR LF, or fails with bad.
func (c *ChunkedReader) readCRLF(bad error) error {
	for _, want := range [2]byte{'\r', '\n'} {
		b, err := c.br.ReadByte()
		if err != nil {
			return err
		}
		if b != want {
			return bad
		}
	}
	return nil
}

// readSize reads a chunk-size line:
//
//	chunk-size [ ";" chunk-ext ] CRLF
//
// with chunk-size 1 to 15 hex digits and chunk-ext any field-value bytes.
// RFC 9112 allows BWS before the ";", but net/http does not, and neither
// does phalanx.
func (c *ChunkedReader) readSize() (int64, error) {
	var (
		size   int64
		digits int
		n      int  // line length so far
		ext    bool // after the ";"
	)
	for {
		b, err := c.br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b == '\n' {
			return 0, ErrLineEnding
		}
		if b == '\r' {
			if b, err = c.br.ReadByte(); err != nil {
				return 0, err
			}
			if b != '\n' {
				return 0, ErrLineEnding
			}
			if digits == 0 {
				return 0, ErrChunkSize
			}
			break
		}
		if n++; n > MaxChunkLine {
			return 0, ErrChunkExtension
		}
		switch d := unhex(b); {
		case ext:
			if class[b]&cValue == 0 {
				return 0, ErrChunkSize
			}
		case d >= 0:
			if digits++; digits > 15 {
				return 0, ErrChunkTooLarge
			}
			size = size<<4 | int64(d)
		case b == ';' && digits > 0:
			ext = true
		default:
			return 0, ErrChunkSize
		}
	}
	c.excess += int64(n) + 2 - 16 - 2*size
	c.excess = max(c.excess, 0)
	if c.excess > maxExcess {
		return 0, ErrChunkExtension
	}
	return size, nil
}

// readTrailer reads the trailer section and the CRLF that ends the body
// (RFC 9112, section 7.1.2), checking each field like a header field.
func (c *ChunkedReader) readTrailer() error {
	var line [MaxTrailerBytes]byte
	total := 0
	for {
		n := 0
		for {
			b, err := c.br.ReadByte()
			if err != nil {
				return err
			}
			if total++; total > MaxTrailerBytes {
				return ErrTrailerTooLarge
			}
			if b == '\n' {
				if n == 0 || line[n-1] != '\r' {
					return ErrLineEnding
				}
				n--
				break
			}
			line[n] = b
			n++
		}
		if n == 0 {
			return nil
		}
		if _, _, err := parseField(line[:n]); err != nil {
			if err == ErrObsFold {
				return err
			}
			return ErrTrailer
		}
		c.trailer = append(append(c.trailer, line[:n]...), '\r', '\n')
	}
}
