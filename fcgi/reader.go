package fcgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"syscall"
)

// errClientGone wraps errors writing the response to the client.
var errClientGone = errors.New("fcgi: writing the response")

// response relays the records of one request's response to the client:
// the CGI header block, then the body as it comes, flushed whenever no
// more is waiting; STDERR lines to the log; and the END_REQUEST.
type response struct {
	s   *state
	w   http.ResponseWriter
	rc  *http.ResponseController
	c   *conn
	id  uint16
	buf []byte // maxRecord bytes

	// onFirst, if not nil, is called at the first record.
	onFirst func()

	head        []byte // a header block split over records, so far
	wroteHeader bool
	discard     bool // the status allows no body
	gotRecord   bool
	end         endRequest
	stderr      stderrLog
}

// run reads records until END_REQUEST. A nil error means the backend
// completed the request and the whole response went to the client.
func (rs *response) run() error {
	for {
		h, content, err := readRecord(rs.c.br, rs.buf)
		if err != nil {
			if isClosed(err) {
				return fmt.Errorf("%w: %w", errClosed, err)
			}
			return err
		}
		if !rs.gotRecord {
			rs.gotRecord = true
			if rs.onFirst != nil {
				rs.onFirst()
			}
		}
		if h.ID != rs.id {
			if h.ID == 0 {
				continue // a management record; none was asked for
			}
			return fmt.Errorf("%w: %s record for request %d, want %d", errProtocol, h.Type, h.ID, rs.id)
		}
		switch h.Type {
		case typeStdout:
			if err := rs.stdout(content); err != nil {
				return err
			}
		case typeStderr:
			rs.stderr.write(content)
		case typeEndRequest:
			e, err := parseEndRequest(content)
			if err != nil {
				return err
			}
			rs.end = e
			switch e.ProtocolStatus {
			case statusRequestComplete:
			case statusOverloaded, statusCantMultiplex:
				return errOverloaded
			case statusUnknownRole:
				return errUnknownRole
			default:
				return fmt.Errorf("%w: END_REQUEST protocol status %d", errProtocol, e.ProtocolStatus)
			}
			if !rs.wroteHeader {
				return errNoHeader
			}
			return nil
		default:
			return fmt.Errorf("%w: unexpected %s record", errProtocol, h.Type)
		}
	}
}

// stdout handles the content of a STDOUT record.
func (rs *response) stdout(content []byte) error {
	if rs.wroteHeader {
		return rs.body(content)
	}
	if len(content) == 0 {
		return nil // the end of STDOUT; END_REQUEST reports the missing header
	}
	block := content
	if rs.head != nil {
		rs.head = append(rs.head, content...)
		block = rs.head
	}
	end := headerEnd(block)
	if end < 0 || end > maxHeaderBytes {
		if end > maxHeaderBytes || len(block) > maxHeaderBytes {
			return fmt.Errorf("%w: more than %d bytes", errHeaderTooLarge, maxHeaderBytes)
		}
		if rs.head == nil {
			rs.head = append(make([]byte, 0, 2*len(content)), content...)
		}
		return nil
	}
	status, err := parseHeader(block[:end], nil)
	if err != nil {
		return err
	}
	hdr := rs.w.Header()
	parseHeader(block[:end], func(name, value []byte) { hdr.Add(string(name), string(value)) })
	rs.wroteHeader = true
	rs.discard = !bodyAllowed(status)
	rs.w.WriteHeader(status)
	return rs.body(block[end:])
}

// body writes response body bytes, flushing when no more is waiting
// from the backend, so that a script's output reaches the client as the
// script produces it.
func (rs *response) body(b []byte) error {
	if len(b) > 0 && !rs.discard {
		if _, err := rs.w.Write(b); err != nil {
			return fmt.Errorf("%w: %w", errClientGone, err)
		}
	}
	if rs.c.br.Buffered() == 0 {
		rs.rc.Flush()
	}
	return nil
}

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// isClosed reports whether err says the backend closed the connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Bounds on what STDERR may put in the log per request.
const (
	maxStderrLine  = 1 << 10  // longer lines are cut
	maxStderrBytes = 16 << 10 // then lines are counted, not logged
)

// stderrLog turns a request's STDERR stream into log lines, one per line
// of text ("PHP message: ..." from php-fpm), within the bounds above.
type stderrLog struct {
	logger  *slog.Logger
	ctx     context.Context
	attrs   []slog.Attr // backend and path
	line    []byte      // the pending partial line, up to maxStderrLine
	cut     bool        // the pending line was cut
	logged  int
	dropped int
}

func (l *stderrLog) write(b []byte) {
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if room := maxStderrLine - len(l.line); i > room {
			l.line = append(l.line, b[:room]...)
			l.cut = true
		} else {
			l.line = append(l.line, b[:i]...)
		}
		if i == len(b) {
			return
		}
		l.emit()
		b = b[i+1:]
	}
}

// emit logs the pending line.
func (l *stderrLog) emit() {
	line := l.line
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > 0 || l.cut {
		if l.logged+len(line) > maxStderrBytes {
			l.dropped += len(line)
		} else {
			l.logged += len(line)
			attrs := append(l.attrs[:len(l.attrs):len(l.attrs)], slog.String("line", string(line)))
			if l.cut {
				attrs = append(attrs, slog.Bool("truncated", true))
			}
			l.logger.LogAttrs(l.ctx, slog.LevelWarn, "fcgi: backend stderr", attrs...)
		}
	}
	l.line, l.cut = l.line[:0], false
}

// flush logs a last line without a newline, and what was dropped.
func (l *stderrLog) flush() {
	l.emit()
	if l.dropped > 0 {
		l.logger.LogAttrs(l.ctx, slog.LevelWarn, "fcgi: backend stderr dropped",
			append(l.attrs[:len(l.attrs):len(l.attrs)], slog.Int("bytes", l.dropped))...)
		l.dropped = 0
	}
}
