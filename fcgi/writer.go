package fcgi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// Buffers, one pool per kind.
var (
	// recordBufs hold maxRecord bytes: one reads a request's response
	// records, one frames its body into STDIN records.
	recordBufs = sync.Pool{New: func() any { b := make([]byte, maxRecord); return &b }}
	// paramBufs hold the BEGIN_REQUEST and PARAMS records of a request.
	paramBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
)

// maxPooledParams bounds the param buffers kept for reuse, so one request
// with huge headers does not pin its buffer.
const maxPooledParams = 64 << 10

// stdinChunk is the most body one STDIN record carries: the largest
// multiple of 8 within maxContent, so full records need no padding.
const stdinChunk = maxContent &^ 7

// errClientBody wraps errors reading the client's request body.
var errClientBody = errors.New("fcgi: reading the request body")

// appendHead appends what starts a request: BEGIN_REQUEST, the params as
// PARAMS records and the empty one that ends them, and, when the request
// has no body, the empty STDIN record that ends it. params appends the
// name-value pairs.
func appendHead(b []byte, id uint16, keepConn, endStdin bool, params func([]byte) []byte) []byte {
	b = appendBeginRequest(b, id, keepConn)
	at := len(b)
	// The pairs nearly always fit one record: build them in place behind
	// a header written once their length is known.
	b = appendHeader(b, typeParams, id, 0, 0)
	start := len(b)
	b = params(b)
	switch n := len(b) - start; {
	case n == 0:
		b = b[:at]
	case n <= maxContent:
		pad := padding(n)
		b[at+4], b[at+5], b[at+6] = byte(n>>8), byte(n), byte(pad)
		b = append(b, zeros[:pad]...)
	default:
		pairs := bytes.Clone(b[start:])
		b = appendStream(b[:at], typeParams, id, pairs)
	}
	b = appendHeader(b, typeParams, id, 0, 0)
	if endStdin {
		b = appendHeader(b, typeStdin, id, 0, 0)
	}
	return b
}

// stdinWriter streams a request body to the backend as STDIN records, in
// its own goroutine, while the response is read: a script may answer
// before it reads its input, and neither side must wait for the other.
type stdinWriter struct {
	c    *conn
	id   uint16
	body io.Reader
	n    int64  // body bytes to send
	buf  []byte // maxRecord bytes
	// last is set just before the write that ends the STDIN stream. Once
	// the backend has answered, that write either is done or completes
	// at once.
	last atomic.Bool
	err  error // set before done is closed
	done chan struct{}
}

func startStdin(c *conn, id uint16, body io.Reader, n int64, buf []byte) *stdinWriter {
	sw := &stdinWriter{c: c, id: id, body: body, n: n, buf: buf, done: make(chan struct{})}
	go sw.run()
	return sw
}

func (sw *stdinWriter) run() {
	defer close(sw.done)
	if err := sw.copy(); err != nil {
		sw.err = err
		sw.c.abort()
	}
}

// copy sends n bytes of body, the last record followed by the empty one
// that ends the stream, in the same write. Each record carries what one
// Read returned, so a slow upload goes on as it comes.
func (sw *stdinWriter) copy() error {
	left := sw.n
	for left > 0 {
		n, err := sw.body.Read(sw.buf[headerLen : headerLen+int(min(left, stdinChunk))])
		if n > 0 {
			left -= int64(n)
			pad := padding(n)
			rec := appendHeader(sw.buf[:0], typeStdin, sw.id, n, pad)[:headerLen+n]
			rec = append(rec, zeros[:pad]...)
			if left == 0 {
				rec = appendHeader(rec, typeStdin, sw.id, 0, 0)
				sw.last.Store(true)
			}
			if err := sw.c.write(rec); err != nil {
				return err
			}
		}
		switch {
		case left == 0:
			return nil
		case err == io.EOF:
			return fmt.Errorf("%w: %w after %d of %d bytes", errClientBody, io.ErrUnexpectedEOF, sw.n-left, sw.n)
		case err != nil:
			return fmt.Errorf("%w: %w", errClientBody, err)
		}
	}
	return nil
}

// spoolMem is how much of a body of unknown length is held in memory;
// more goes to a temporary file.
const spoolMem = 64 << 10

// spool reads a body of unknown length (chunked, or HTTP/2 without
// content-length) to learn its length, since CGI needs CONTENT_LENGTH
// before the body and PHP reads no more than that. Up to spoolMem bytes
// stay in buf; a longer body goes to a temporary file, removed by the
// returned cleanup, as nginx's client_body_temp_path. Errors reading body
// wrap errClientBody.
func spool(body io.Reader, buf []byte) (io.Reader, int64, func(), error) {
	mem := buf[:spoolMem]
	n, err := io.ReadFull(body, mem)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return bytes.NewReader(mem[:n]), int64(n), func() {}, nil
	case err != nil:
		return nil, 0, nil, fmt.Errorf("%w: %w", errClientBody, err)
	}
	f, err := os.CreateTemp("", "phalanx-fcgi-body-")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%w: %w", errSpool, err)
	}
	cleanup := func() {
		f.Close()
		os.Remove(f.Name())
	}
	if _, err := f.Write(mem); err != nil {
		cleanup()
		return nil, 0, nil, fmt.Errorf("%w: %w", errSpool, err)
	}
	size, err := io.Copy(f, readerOnly{body})
	if err != nil {
		cleanup()
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, 0, nil, fmt.Errorf("%w: %w", errSpool, err)
		}
		return nil, 0, nil, fmt.Errorf("%w: %w", errClientBody, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, 0, nil, fmt.Errorf("%w: %w", errSpool, err)
	}
	return f, int64(spoolMem) + size, cleanup, nil
}

// readerOnly hides any WriterTo of a body, so that io.Copy reports the
// file's errors as *os.PathError.
type readerOnly struct{ io.Reader }
