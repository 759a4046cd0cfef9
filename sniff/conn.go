package sniff

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Sniff reads the first bytes of c, at most MaxPeek, until Detect gives a
// verdict, and returns the protocol and a *Conn that replays those bytes
// before reading on from c. It reads under a read deadline of timeout
// from now (none if timeout <= 0), and clears the deadline afterwards,
// even one the caller had set.
//
// When the client sends too little before the deadline, Sniff returns
// Unknown and the read's timeout error (a net.Error whose Timeout is
// true, wrapping os.ErrDeadlineExceeded). When it closes first, Sniff
// returns Unknown and io.EOF if it sent nothing, io.ErrUnexpectedEOF if
// it sent part of something. Any other read error is returned as it is,
// and a failure to set the deadline wrapped, with Unknown. In every case the returned conn is non-nil, replays what
// was read, and must be closed by the caller (closing it closes c); after
// a timeout it can still be handed to a protocol whose server speaks
// first.
//
// If c is itself a *Conn (from ProxyConn, say), the result wraps the conn
// under it and replays the bytes both have read, so that NetConn still
// gives the socket.
func Sniff(c net.Conn, timeout time.Duration) (Protocol, net.Conn, error) {
	sc := &Conn{}
	if timeout > 0 {
		if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			sc.init(c, nil)
			return Unknown, sc, fmt.Errorf("sniff: setting read deadline: %w", err)
		}
	}
	var (
		n, zeros int
		p        = Unknown
		more     = true
		err      error
	)
	for more && n < MaxPeek {
		var k int
		k, err = c.Read(sc.arr[n:])
		n += k
		p, more = Detect(sc.arr[:n])
		if err != nil {
			break
		}
		if k == 0 {
			if zeros++; zeros >= maxZeroReads {
				err = io.ErrNoProgress
				break
			}
		}
	}
	if timeout > 0 {
		// A deadline that cannot be cleared fails the next read, which
		// reports it better than we could.
		_ = c.SetReadDeadline(time.Time{})
	}
	sc.init(c, sc.arr[:n])
	if !more {
		// A verdict reached along with an error: the error (EOF, a reset)
		// will be seen again by the reader; a timeout no longer applies.
		return p, sc, nil
	}
	if err == io.EOF && n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return Unknown, sc, err
}

// maxZeroReads bounds the reads that return neither bytes nor an error,
// as bufio does.
const maxZeroReads = 100

// Conn is a net.Conn that replays bytes already read from the connection
// under it, then reads on from that connection. Sniff and ProxyConn
// return one; NewConn makes one.
//
// Besides the net.Conn methods, a Conn has NetConn, which returns the
// connection under it (a *net.TCPConn for accepted TCP connections), and
// forwards CloseWrite, WriteTo and ReadFrom, so that a TCP proxy that
// copies with io.Copy still splices on Linux after the replayed bytes:
// io.Copy(backend, conn) writes them, then copies from the socket with
// its own WriteTo or backend's ReadFrom; io.Copy(conn, backend) uses the
// socket's ReadFrom.
//
// A Conn is safe for concurrent use, as net.Conn requires. It must not be
// copied; its zero value is not usable.
type Conn struct {
	c net.Conn

	// drained is set once buf is empty, so that Read can skip mu.
	drained atomic.Bool

	mu  sync.Mutex // protects buf
	buf []byte     // read from c but not yet replayed

	// arr holds buf for Sniff, saving an allocation.
	arr [MaxPeek]byte
}

// NewConn returns a Conn that replays peeked, then reads from c. The Conn
// keeps peeked; the caller must not modify it afterwards.
func NewConn(c net.Conn, peeked []byte) *Conn {
	sc := &Conn{}
	sc.init(c, peeked)
	return sc
}

// init sets the conn and the bytes to replay. If c is a *Conn, sc wraps
// the conn under it and replays peeked followed by what c had left.
func (sc *Conn) init(c net.Conn, peeked []byte) {
	if inner, ok := c.(*Conn); ok {
		if rest := inner.take(); len(rest) > 0 {
			peeked = append(peeked[:len(peeked):len(peeked)], rest...)
		}
		c = inner.c
	}
	sc.c = c
	sc.buf = peeked
	sc.drained.Store(len(peeked) == 0)
}

// take returns the bytes not yet replayed and forgets them.
func (sc *Conn) take() []byte {
	if sc.drained.Load() {
		return nil
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	b := sc.buf
	sc.buf = nil
	sc.drained.Store(true)
	return b
}

// Read replays the bytes read before, if any are left, and then reads
// from the connection under sc.
func (sc *Conn) Read(p []byte) (int, error) {
	if !sc.drained.Load() && len(p) > 0 {
		sc.mu.Lock()
		if len(sc.buf) > 0 {
			n := copy(p, sc.buf)
			sc.buf = sc.buf[n:]
			if len(sc.buf) == 0 {
				sc.buf = nil
				sc.drained.Store(true)
			}
			sc.mu.Unlock()
			return n, nil
		}
		sc.mu.Unlock()
	}
	return sc.c.Read(p)
}

// WriteTo writes the bytes left to replay to w, then copies the rest of
// the stream with io.Copy, which lets the socket splice.
func (sc *Conn) WriteTo(w io.Writer) (int64, error) {
	var n int64
	if b := sc.take(); len(b) > 0 {
		k, err := w.Write(b)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	k, err := io.Copy(w, sc.c)
	return n + k, err
}

// ReadFrom copies r to the connection, with its ReadFrom if it has one.
func (sc *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := sc.c.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{sc.c}, r)
}

// writerOnly hides all methods but Write, so that io.Copy does not call
// ReadFrom again.
type writerOnly struct{ io.Writer }

// ErrUnsupported-wrapping error for CloseWrite on a conn without it.
var errNoCloseWrite = fmt.Errorf("sniff: connection has no CloseWrite: %w", errors.ErrUnsupported)

// CloseWrite shuts down the writing side of the connection, as
// net.TCPConn.CloseWrite does; it fails with an error wrapping
// errors.ErrUnsupported if the connection under sc has no CloseWrite.
func (sc *Conn) CloseWrite() error {
	if cw, ok := sc.c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoCloseWrite
}

// Buffered returns how many bytes sc has left to replay before it reads
// from the connection under it.
func (sc *Conn) Buffered() int {
	if sc.drained.Load() {
		return 0
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.buf)
}

// NetConn returns the connection under sc. Reading from it directly skips
// the bytes sc has left to replay.
func (sc *Conn) NetConn() net.Conn { return sc.c }

// Write writes to the connection under sc.
func (sc *Conn) Write(p []byte) (int, error) { return sc.c.Write(p) }

// Close closes the connection under sc.
func (sc *Conn) Close() error { return sc.c.Close() }

// LocalAddr returns the local address of the connection under sc.
func (sc *Conn) LocalAddr() net.Addr { return sc.c.LocalAddr() }

// RemoteAddr returns the remote address of the connection under sc.
func (sc *Conn) RemoteAddr() net.Addr { return sc.c.RemoteAddr() }

// SetDeadline sets the deadlines of the connection under sc. Replayed
// bytes are returned regardless of the read deadline.
func (sc *Conn) SetDeadline(t time.Time) error { return sc.c.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the connection under sc.
func (sc *Conn) SetReadDeadline(t time.Time) error { return sc.c.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the connection under sc.
func (sc *Conn) SetWriteDeadline(t time.Time) error { return sc.c.SetWriteDeadline(t) }

var (
	_ net.Conn      = (*Conn)(nil)
	_ io.WriterTo   = (*Conn)(nil)
	_ io.ReaderFrom = (*Conn)(nil)
)
