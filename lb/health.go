package lb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime/debug"
	"time"
)

// HealthCheck configures a pool's active health checks: every Interval, a
// probe connects to each backend (and, with HTTPPath, sends a GET); Fall
// consecutive failed probes take a backend out, Rise consecutive passing
// probes bring it back. Backends start up; one that joins a running pool
// (SetBackends) gets its first probe at once.
//
// The zero value means a TCP connect check every 5s with a 2s timeout,
// down after 3 failures and up after 2 successes. A HealthCheck is a plain
// value and may be copied.
type HealthCheck struct {
	// Interval is the time between the starts of two probes of one
	// backend; each wait gets up to 10% random jitter so that backends are
	// not probed in lockstep. 0 means 5s; negative disables active checks.
	// Otherwise it must be at least 1ms.
	Interval time.Duration
	// Timeout bounds one probe: dialing, and for HTTP checks writing the
	// request and reading the status line. 0 means 2s, or Interval if
	// that is shorter. It must be at least 1ms and at most Interval, so
	// that probes keep to the Interval.
	Timeout time.Duration
	// Rise is how many consecutive passing probes bring a down backend
	// back up. 0 means 2.
	Rise int
	// Fall is how many consecutive failed probes take an up backend down.
	// 0 means 3.
	Fall int
	// HTTPPath, if not empty, makes each probe an HTTP/1.1 GET of this
	// path (with any query) after connecting, with Host set to the
	// backend's address and "Connection: close"; the probe passes if the
	// status matches HTTPStatus. It must start with "/" and contain no
	// spaces or control characters. Empty means the probe passes once the
	// TCP connection is established.
	HTTPPath string
	// HTTPStatus is the status an HTTP probe requires. 0 means any 2xx or
	// 3xx. It may only be set with HTTPPath.
	HTTPStatus int
	// Dial connects to a backend, with network "tcp" and the backend's
	// address; ctx carries the probe's deadline. It is called from one
	// goroutine per backend, so it must be safe for concurrent use, and it
	// must return soon after ctx is done. nil
	// means a zero net.Dialer's DialContext.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// withDefaults returns h with its zero fields replaced by their defaults,
// or an error if a field is invalid.
func (h HealthCheck) withDefaults() (HealthCheck, error) {
	const (
		defaultInterval = 5 * time.Second
		defaultTimeout  = 2 * time.Second
		defaultRise     = 2
		defaultFall     = 3
		minDuration     = time.Millisecond // catches Interval: 5 meant as 5s
	)
	if h.Interval == 0 {
		h.Interval = defaultInterval
	}
	if h.Timeout == 0 {
		h.Timeout = defaultTimeout
		if h.Interval > 0 {
			h.Timeout = min(h.Timeout, h.Interval)
		}
	}
	if h.Rise == 0 {
		h.Rise = defaultRise
	}
	if h.Fall == 0 {
		h.Fall = defaultFall
	}
	if h.Dial == nil {
		h.Dial = (&net.Dialer{}).DialContext
	}
	switch {
	case h.Interval > 0 && h.Interval < minDuration:
		return h, fmt.Errorf("health check: interval %v below %v", h.Interval, minDuration)
	case h.Timeout < minDuration:
		return h, fmt.Errorf("health check: timeout %v below %v", h.Timeout, minDuration)
	case h.Interval > 0 && h.Timeout > h.Interval:
		return h, fmt.Errorf("health check: timeout %v exceeds interval %v", h.Timeout, h.Interval)
	case h.Rise < 0:
		return h, fmt.Errorf("health check: negative rise %d", h.Rise)
	case h.Fall < 0:
		return h, fmt.Errorf("health check: negative fall %d", h.Fall)
	case h.HTTPStatus != 0 && (h.HTTPStatus < 100 || h.HTTPStatus > 599):
		return h, fmt.Errorf("health check: status %d outside 100-599", h.HTTPStatus)
	case h.HTTPStatus != 0 && h.HTTPPath == "":
		return h, fmt.Errorf("health check: status %d without a path", h.HTTPStatus)
	}
	if h.HTTPPath != "" {
		if h.HTTPPath[0] != '/' {
			return h, fmt.Errorf("health check: path %q does not start with /", h.HTTPPath)
		}
		for i := 0; i < len(h.HTTPPath); i++ {
			if c := h.HTTPPath[i]; c <= ' ' || c >= 0x7f {
				return h, fmt.Errorf("health check: path %q contains a space or control character", h.HTTPPath)
			}
		}
	}
	return h, nil
}

// jitter returns a random duration in [0, d/10].
func jitter(d time.Duration) time.Duration { return rand.N(d/10 + 1) }

// checkLoop probes b every p.health.Interval until ctx is done, one probe
// at a time, the first after first, and reports transitions through
// p.setActiveUp. startCheckerLocked runs one per backend and has already
// counted it in p.wg.
func (p *Pool) checkLoop(ctx context.Context, b *Backend, first time.Duration) {
	defer p.wg.Done()
	defer func() {
		if r := recover(); r != nil {
			p.logger.Error("health checker stopped by a panic", "pool", p.name, "backend", b.addr,
				"panic", r, "stack", string(debug.Stack()))
		}
	}()
	h := p.health
	c := checkCounter{rise: h.Rise, fall: h.Fall}
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		err := p.checkOnce(ctx, b)
		if ctx.Err() != nil {
			return // a probe cut short by Close or a leave proves nothing
		}
		p.checked(b, err)
		up := b.activeUp.Load() // only this loop changes it
		if flip, cause := c.record(up, err); flip {
			p.setActiveUp(b, !up, cause)
		}
		t.Reset(max(0, h.Interval+jitter(h.Interval)-time.Since(start)))
	}
}

// checkOnce runs one probe, turning a panic (say, in a custom Dial) into a
// failed probe so that the backend is not left up unchecked.
func (p *Pool) checkOnce(ctx context.Context, b *Backend) (err error) {
	defer func() {
		if r := recover(); r != nil {
			p.logger.Error("health check panic", "pool", p.name, "backend", b.addr,
				"panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return p.probe(ctx, b)
}

// checkCounter counts one backend's consecutive probe results against its
// Rise and Fall thresholds. It is owned by one checkLoop.
type checkCounter struct {
	rise, fall    int
	passes, fails int // consecutive, counted only while they can flip the state
}

// record folds one probe result (err == nil means passed) into the counts
// of a backend whose active state is up, and reports whether that state
// must flip and why.
func (c *checkCounter) record(up bool, err error) (flip bool, cause string) {
	if err == nil {
		c.fails = 0
		if up {
			return false, ""
		}
		c.passes++
		if c.passes < c.rise {
			return false, ""
		}
		n := c.passes
		c.passes = 0
		if n == 1 {
			return true, "1 passing check"
		}
		return true, fmt.Sprintf("%d consecutive passing checks", n)
	}
	c.passes = 0
	if !up {
		return false, ""
	}
	c.fails++
	if c.fails < c.fall {
		return false, ""
	}
	n := c.fails
	c.fails = 0
	if n == 1 {
		return true, "1 failed check: " + err.Error()
	}
	return true, fmt.Sprintf("%d consecutive failed checks: %v", n, err)
}

// probe checks b once, within p.health.Timeout, and returns why it failed
// or nil if it passed. Cancelling ctx interrupts it.
func (p *Pool) probe(ctx context.Context, b *Backend) error {
	h := p.health
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	conn, err := h.Dial(ctx, "tcp", b.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if h.HTTPPath == "" {
		return nil
	}
	// Every read and write below ends by the deadline, or as soon as ctx
	// is cancelled.
	if d, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(d); err != nil {
			return err
		}
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	err = checkHTTP(conn, b.addr, h.HTTPPath, h.HTTPStatus)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("no response within %v: %w", h.Timeout, err)
	}
	return err
}

// maxCheckResponse bounds how much of a response checkHTTP reads while
// looking for the final status line.
const maxCheckResponse = 64 << 10

// checkHTTP sends "GET path" for host over conn and checks the final
// response's status against want (0 means any 2xx or 3xx). It reads no
// further than the status line; the caller closes conn.
func checkHTTP(conn net.Conn, host, path string, want int) error {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUser-Agent: phalanx-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	br := bufio.NewReaderSize(io.LimitReader(conn, maxCheckResponse), 512)
	for {
		line, err := br.ReadSlice('\n')
		whole := err == nil
		if errors.Is(err, bufio.ErrBufferFull) && len(line) >= len("HTTP/1.1 200") {
			err = nil // a long reason phrase: the code is all we need
		}
		if err != nil {
			return fmt.Errorf("read status line: %w", err)
		}
		code, err := parseStatusLine(line)
		if err != nil {
			return err
		}
		// Skip interim responses such as 103 Early Hints, headers and all.
		if code >= 200 || code == 101 {
			return checkStatus(code, want)
		}
		if err := skipHeaders(br, !whole); err != nil {
			return fmt.Errorf("read %d response: %w", code, err)
		}
	}
}

// checkStatus reports whether code is the status wanted (0: 2xx or 3xx).
func checkStatus(code, want int) error {
	switch {
	case want == 0 && code >= 200 && code < 400:
		return nil
	case want == 0:
		return fmt.Errorf("status %d, want 2xx or 3xx", code)
	case code != want:
		return fmt.Errorf("status %d, want %d", code, want)
	}
	return nil
}

// parseStatusLine returns the status code of an HTTP/1.x status line
// ("HTTP/1.1 200 OK\r\n"), which may be cut after the code.
func parseStatusLine(line []byte) (int, error) {
	ok := len(line) >= len("HTTP/1.1 200") && bytes.HasPrefix(line, []byte("HTTP/1.")) &&
		line[7] >= '0' && line[7] <= '9' && line[8] == ' ' &&
		(len(line) == 12 || line[12] == ' ' || line[12] == '\r' || line[12] == '\n')
	code := 0
	for i := 9; ok && i < 12; i++ {
		c := line[i]
		ok = c >= '0' && c <= '9'
		code = code*10 + int(c-'0')
	}
	if !ok || code < 100 {
		return 0, fmt.Errorf("malformed status line %q", line[:min(len(line), 64)])
	}
	return code, nil
}

// skipHeaders reads header lines up to and including the blank line that
// ends them. midLine says that the status line before them is not yet
// read to its end.
func skipHeaders(br *bufio.Reader, midLine bool) error {
	blank := !midLine // at the start of a line, nothing read yet
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			blank = false
			continue
		case err != nil:
			return err
		}
		if blank && (len(line) == 1 || len(line) == 2 && line[0] == '\r') {
			return nil
		}
		blank = true
	}
}
