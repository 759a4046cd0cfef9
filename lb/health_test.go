package lb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Waits poll every 5ms for up to 10s: generous for -race on a loaded
// machine, yet bounded in count and time.
const (
	pollEvery = 5 * time.Millisecond
	pollFor   = 10 * time.Second
)

// checkEvery is the Interval, and so the Timeout, of the end-to-end checks
// that must not fail by accident: shorter timeouts flaked under -race on a
// loaded 2-core machine (a loopback write timing out after 50ms).
const checkEvery = 200 * time.Millisecond

// waitFor polls cond until it holds, and fails the test if it never does.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pollFor)
	for i := 0; i < int(pollFor/pollEvery) && time.Now().Before(deadline); i++ {
		if cond() {
			return
		}
		time.Sleep(pollEvery)
	}
	if !cond() {
		t.Fatalf("gave up after %v waiting until %s", pollFor, what)
	}
}

// logRecord is one record kept by recorder.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// recorder is a slog.Handler that keeps every record. It is safe for
// concurrent use.
type recorder struct {
	mu   sync.Mutex
	recs []logRecord
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	attrs := make(map[string]string)
	rec.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, logRecord{level: rec.Level, msg: rec.Message, attrs: attrs})
	return nil
}

// The pool adds no attrs or groups of its own; records keep what Handle sees.
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// records returns the records whose message is one of msgs.
func (r *recorder) records(msgs ...string) []logRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []logRecord
	for _, rec := range r.recs {
		for _, m := range msgs {
			if rec.msg == m {
				out = append(out, rec)
			}
		}
	}
	return out
}

// checkTransitions fails t unless the pool logged exactly the transitions
// in want ("backend down" or "backend up") for addr, in that order, with
// causes containing the matching entry of causes.
func checkTransitions(t *testing.T, log *recorder, addr string, want, causes []string) {
	t.Helper()
	got := log.records("backend down", "backend up")
	var msgs []string
	for _, r := range got {
		msgs = append(msgs, r.msg)
	}
	if fmt.Sprint(msgs) != fmt.Sprint(want) {
		t.Fatalf("logged transitions = %q, want %q", msgs, want)
	}
	for i, r := range got {
		if r.attrs["pool"] != "web" || r.attrs["backend"] != addr || r.attrs["check"] != "active" {
			t.Errorf("%q record attrs = %v, want pool=web backend=%s check=active", r.msg, r.attrs, addr)
		}
		if !strings.Contains(r.attrs["cause"], causes[i]) {
			t.Errorf("%q record cause = %q, want it to contain %q", r.msg, r.attrs["cause"], causes[i])
		}
	}
}

// newCheckedPool returns a pool named "web" over one backend per address,
// logging into the returned recorder, and closes it when t ends.
func newCheckedPool(t *testing.T, h HealthCheck, addrs ...string) (*Pool, *recorder) {
	t.Helper()
	var bs []*Backend
	for _, a := range addrs {
		b, err := NewBackend(a, BackendConfig{})
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	log := &recorder{}
	p, err := NewPool("web", bs, PoolConfig{Health: h, Logger: slog.New(log)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, log
}

// serveTCP accepts and closes connections on ln until ln is closed.
func serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// listenTCP binds addr ("127.0.0.1:0" for a fresh port), retrying for a
// while when the port is still busy, serves it with serveTCP, and closes
// it when t ends.
func listenTCP(t *testing.T, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveTCP(ln)
	return ln
}

// countingDial is a net.Dialer's DialContext that counts its failures and
// successes.
func countingDial(fails, passes *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			fails.Add(1)
		} else {
			passes.Add(1)
		}
		return c, err
	}
}

// pipeDial connects to nothing: each call returns one end of a net.Pipe
// whose other end is closed, so TCP checks pass.
func pipeDial(context.Context, string, string) (net.Conn, error) {
	c1, c2 := net.Pipe()
	c2.Close()
	return c1, nil
}

// goroutines returns how many goroutines have a stack trace for which
// match is true.
func goroutines(match func(trace string) bool) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	n := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if match(g) {
			n++
		}
	}
	return n
}

// checkers returns how many goroutines run checkLoop, counting those that
// startCheckerLocked created and that have not yet started to run (their
// trace shows only a wrapper in startCheckerLocked).
func checkers() int {
	return goroutines(func(g string) bool {
		return strings.Contains(g, "lb.(*Pool).checkLoop(") || strings.Contains(g, "lb.(*Pool).startCheckerLocked in goroutine")
	})
}

func TestHealthCheckWithDefaults(t *testing.T) {
	tests := []struct {
		name    string
		in      HealthCheck
		want    HealthCheck // Dial is checked for nil apart
		wantErr string      // "" for none
	}{
		{
			name: "zero",
			want: HealthCheck{Interval: 5 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3},
		},
		{
			name: "short interval caps default timeout",
			in:   HealthCheck{Interval: 500 * time.Millisecond},
			want: HealthCheck{Interval: 500 * time.Millisecond, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 3},
		},
		{
			name: "all set",
			in: HealthCheck{Interval: time.Minute, Timeout: 3 * time.Second, Rise: 1, Fall: 7,
				HTTPPath: "/healthz?full=1", HTTPStatus: 204},
			want: HealthCheck{Interval: time.Minute, Timeout: 3 * time.Second, Rise: 1, Fall: 7,
				HTTPPath: "/healthz?full=1", HTTPStatus: 204},
		},
		{
			name: "timeout equal to interval",
			in:   HealthCheck{Interval: time.Second, Timeout: time.Second},
			want: HealthCheck{Interval: time.Second, Timeout: time.Second, Rise: 2, Fall: 3},
		},
		{
			name: "disabled",
			in:   HealthCheck{Interval: -1},
			want: HealthCheck{Interval: -1, Timeout: 2 * time.Second, Rise: 2, Fall: 3},
		},
		{
			name: "disabled with long timeout",
			in:   HealthCheck{Interval: -1, Timeout: time.Hour},
			want: HealthCheck{Interval: -1, Timeout: time.Hour, Rise: 2, Fall: 3},
		},
		{name: "interval in nanoseconds", in: HealthCheck{Interval: 5}, wantErr: "health check: interval 5ns below 1ms"},
		{name: "negative timeout", in: HealthCheck{Timeout: -time.Second}, wantErr: "health check: timeout -1s below 1ms"},
		{name: "tiny timeout", in: HealthCheck{Timeout: time.Microsecond}, wantErr: "timeout 1µs below 1ms"},
		{
			name:    "timeout over interval",
			in:      HealthCheck{Interval: time.Second, Timeout: 2 * time.Second},
			wantErr: "health check: timeout 2s exceeds interval 1s",
		},
		{name: "negative rise", in: HealthCheck{Rise: -1}, wantErr: "health check: negative rise -1"},
		{name: "negative fall", in: HealthCheck{Fall: -2}, wantErr: "health check: negative fall -2"},
		{name: "status too low", in: HealthCheck{HTTPPath: "/", HTTPStatus: 99}, wantErr: "health check: status 99 outside 100-599"},
		{name: "status too high", in: HealthCheck{HTTPPath: "/", HTTPStatus: 600}, wantErr: "status 600 outside 100-599"},
		{name: "status without path", in: HealthCheck{HTTPStatus: 200}, wantErr: "health check: status 200 without a path"},
		{name: "relative path", in: HealthCheck{HTTPPath: "healthz"}, wantErr: `health check: path "healthz" does not start with /`},
		{name: "path with space", in: HealthCheck{HTTPPath: "/a b"}, wantErr: `path "/a b" contains a space or control character`},
		{name: "header injection", in: HealthCheck{HTTPPath: "/\r\nX-Evil: 1"}, wantErr: "contains a space or control character"},
		{name: "non-ascii path", in: HealthCheck{HTTPPath: "/é"}, wantErr: "contains a space or control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.withDefaults()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("withDefaults(%+v) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("withDefaults(%+v) error = %v, want nil", tt.in, err)
			}
			if got.Dial == nil {
				t.Errorf("withDefaults(%+v).Dial = nil, want a dialer", tt.in)
			}
			got.Dial = nil // HealthCheck holds a func, so compare printed forms
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("withDefaults(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}

	t.Run("keeps custom dial", func(t *testing.T) {
		got, err := HealthCheck{Dial: pipeDial}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		c, err := got.Dial(context.Background(), "tcp", "ignored:1")
		if err != nil {
			t.Fatalf("withDefaults({Dial: pipeDial}).Dial() error = %v, want pipeDial's conn", err)
		}
		if c.LocalAddr().Network() != "pipe" {
			t.Errorf("withDefaults({Dial: pipeDial}).Dial() = conn on %v, want a pipe", c.LocalAddr())
		}
		c.Close()
	})

	t.Run("NewPool rejects", func(t *testing.T) {
		_, err := NewPool("web", nil, PoolConfig{Health: HealthCheck{Rise: -1}})
		if err == nil || !strings.Contains(err.Error(), "pool web") || !strings.Contains(err.Error(), "negative rise -1") {
			t.Errorf("NewPool(Rise: -1) error = %v, want one naming pool web and the negative rise", err)
		}
	})
}

func TestHealthCheckCounter(t *testing.T) {
	// Each step is a probe result, "+" passed or "-" failed; want lists the
	// active state after every step, "U" up or "D" down. The backend starts up.
	tests := []struct {
		name       string
		rise, fall int
		steps      string
		want       string
	}{
		{name: "fall 1", rise: 1, fall: 1, steps: "+-+-", want: "UDUD"},
		{name: "fall 3", rise: 2, fall: 3, steps: "--+---+", want: "UUUUUDD"},
		{name: "rise 2 reset by a failure", rise: 2, fall: 3, steps: "----+-++", want: "UUDDDDDU"},
		{name: "up stays up", rise: 2, fall: 3, steps: "++++--+--+", want: "UUUUUUUUUU"},
		{name: "down again after rising", rise: 2, fall: 2, steps: "--++--", want: "UDDUUD"},
		{name: "rise 3", rise: 3, fall: 1, steps: "-++-+++", want: "DDDDDDU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := checkCounter{rise: tt.rise, fall: tt.fall}
			up := true
			var got strings.Builder
			for _, s := range tt.steps {
				var err error
				if s == '-' {
					err = errors.New("connection refused")
				}
				if flip, _ := c.record(up, err); flip {
					up = !up
				}
				got.WriteString(map[bool]string{true: "U", false: "D"}[up])
			}
			if got.String() != tt.want {
				t.Errorf("record over %q (rise %d, fall %d) = %s, want %s", tt.steps, tt.rise, tt.fall, got.String(), tt.want)
			}
		})
	}

	t.Run("causes", func(t *testing.T) {
		tests := []struct {
			rise, fall int
			up         bool
			err        error
			want       string
		}{
			{rise: 1, fall: 1, up: true, err: errors.New("boom"), want: "1 failed check: boom"},
			{rise: 1, fall: 1, up: false, want: "1 passing check"},
		}
		for _, tt := range tests {
			c := checkCounter{rise: tt.rise, fall: tt.fall}
			if flip, cause := c.record(tt.up, tt.err); !flip || cause != tt.want {
				t.Errorf("record(%v, %v) = %v, %q, want true, %q", tt.up, tt.err, flip, cause, tt.want)
			}
		}
		c := checkCounter{rise: 2, fall: 3}
		c.record(true, errors.New("a"))
		c.record(true, errors.New("b"))
		if flip, cause := c.record(true, errors.New("refused")); !flip || cause != "3 consecutive failed checks: refused" {
			t.Errorf("third record(true, refused) = %v, %q, want true, %q", flip, cause, "3 consecutive failed checks: refused")
		}
		c.record(false, nil)
		if flip, cause := c.record(false, nil); !flip || cause != "2 consecutive passing checks" {
			t.Errorf("second record(false, nil) = %v, %q, want true, %q", flip, cause, "2 consecutive passing checks")
		}
	})
}

func TestHealthCheckTCP(t *testing.T) {
	for _, tt := range []struct{ rise, fall int }{{rise: 1, fall: 1}, {rise: 2, fall: 3}} {
		t.Run(fmt.Sprintf("rise %d fall %d", tt.rise, tt.fall), func(t *testing.T) {
			ln := listenTCP(t, "127.0.0.1:0")
			addr := ln.Addr().String()
			var fails, passes atomic.Int64
			p, log := newCheckedPool(t, HealthCheck{
				Interval: checkEvery,
				Rise:     tt.rise,
				Fall:     tt.fall,
				Dial:     countingDial(&fails, &passes),
			}, addr)
			b := p.Backends()[0]
			p.Start(t.Context())

			waitFor(t, "a check passes", func() bool { return passes.Load() > 0 })
			if !b.Healthy() {
				t.Fatalf("backend healthy = false after a passing check, want true")
			}

			failsBefore := fails.Load()
			ln.Close()
			// Healthy turns false just before the pool publishes its new
			// Picker, under the pool's lock: wait for both.
			waitFor(t, "the backend goes down", func() bool { return !b.Healthy() && p.Usable() == 0 })
			if n := fails.Load() - failsBefore; n < int64(tt.fall) {
				t.Errorf("backend went down after %d failed checks, want %d", n, tt.fall)
			}
			if _, err := p.Pick(Request{}); !errors.Is(err, ErrNoBackend) {
				t.Errorf("Pick() with the only backend down: error = %v, want ErrNoBackend", err)
			}
			if n := p.Usable(); n != 0 {
				t.Errorf("Usable() = %d, want 0", n)
			}

			passesBefore := passes.Load()
			listenTCP(t, addr)
			waitFor(t, "the backend comes back", func() bool { return b.Healthy() && p.Usable() == 1 })
			if n := passes.Load() - passesBefore; n < int64(tt.rise) {
				t.Errorf("backend came back after %d passing checks, want %d", n, tt.rise)
			}
			res, err := p.Pick(Request{})
			if err != nil || res.Backend != b {
				t.Errorf("Pick() = %v, %v, want backend %s", res.Backend, err, addr)
			}

			failCause := "consecutive failed checks: dial tcp " + addr
			passCause := fmt.Sprintf("%d consecutive passing checks", tt.rise)
			if tt.fall == 1 {
				failCause = "1 failed check: dial tcp " + addr
			}
			if tt.rise == 1 {
				passCause = "1 passing check"
			}
			checkTransitions(t, log, addr, []string{"backend down", "backend up"},
				[]string{failCause, passCause})
			// A dial racing with the listener's close may be reset rather than refused.
			if c := log.records("backend down")[0].attrs["cause"]; !strings.Contains(c, "connection refused") &&
				!strings.Contains(c, "connection reset") {
				t.Errorf("down cause = %q, want it to say the connection was refused", c)
			}
		})
	}
}

func TestHealthCheckHTTP(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	var requests atomic.Int64
	var bad atomic.Value // string: what was wrong with a probe request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		// The backend's address is the server's local address.
		local := r.Context().Value(http.LocalAddrContextKey).(net.Addr).String()
		got := fmt.Sprintf("%s %s %s Host=%s close=%v", r.Method, r.RequestURI, r.Proto, r.Host, r.Close)
		if want := "GET /healthz?deep=1 HTTP/1.1 Host=" + local + " close=true"; got != want {
			bad.Store(fmt.Sprintf("probe request %q, want %q", got, want))
		}
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	p, log := newCheckedPool(t, HealthCheck{
		Interval: checkEvery,
		Rise:     2,
		Fall:     2,
		HTTPPath: "/healthz?deep=1",
	}, addr)
	b := p.Backends()[0]
	p.Start(t.Context())

	waitFor(t, "a probe arrives", func() bool { return requests.Load() > 0 })
	if !b.Healthy() {
		t.Fatalf("backend answering 200: healthy = false, want true")
	}
	status.Store(http.StatusInternalServerError)
	waitFor(t, "the backend answering 500 goes down", func() bool { return !b.Healthy() && p.Usable() == 0 })
	if _, err := p.Pick(Request{}); !errors.Is(err, ErrNoBackend) {
		t.Errorf("Pick() with the only backend down: error = %v, want ErrNoBackend", err)
	}
	status.Store(http.StatusOK)
	waitFor(t, "the backend answering 200 again comes back", func() bool { return b.Healthy() && p.Usable() == 1 })
	if _, err := p.Pick(Request{}); err != nil {
		t.Errorf("Pick() with the backend back: error = %v, want nil", err)
	}
	checkTransitions(t, log, addr, []string{"backend down", "backend up"},
		[]string{"2 consecutive failed checks: status 500, want 2xx or 3xx", "2 consecutive passing checks"})
	if s, _ := bad.Load().(string); s != "" {
		t.Error(s)
	}
}

// rawServer answers every connection on a fresh loopback port with
// response once it has read the request head, then closes it. It returns
// the address and the request heads it read.
func rawServer(t *testing.T, response string) (addr string, heads <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 16)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(pollFor))
				var head strings.Builder
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					head.WriteString(line)
					if err != nil || line == "\r\n" {
						break
					}
				}
				select {
				case ch <- head.String():
				default:
				}
				c.Write([]byte(response))
			})
		}
	})
	return ln.Addr().String(), ch
}

func TestHealthCheckProbeHTTP(t *testing.T) {
	longReason := "HTTP/1.1 200 " + strings.Repeat("O", 2000) + "\r\n\r\n"
	tests := []struct {
		name     string
		response string
		status   int    // HealthCheck.HTTPStatus
		wantErr  string // "" for none
	}{
		{name: "200", response: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{name: "204", response: "HTTP/1.1 204 No Content\r\n\r\n"},
		{name: "301", response: "HTTP/1.1 301 Moved Permanently\r\nLocation: /x\r\n\r\n"},
		{name: "HTTP/1.0", response: "HTTP/1.0 200 OK\r\n\r\n"},
		{name: "no reason", response: "HTTP/1.1 200\r\n\r\n"},
		{name: "bare LF", response: "HTTP/1.1 200 OK\n\n"},
		{name: "long reason", response: longReason},
		{name: "404", response: "HTTP/1.1 404 Not Found\r\n\r\n", wantErr: "status 404, want 2xx or 3xx"},
		{name: "500", response: "HTTP/1.1 500 Internal Server Error\r\n\r\n", wantErr: "status 500, want 2xx or 3xx"},
		{name: "want 204 got 204", response: "HTTP/1.1 204 No Content\r\n\r\n", status: 204},
		{name: "want 503 got 503", response: "HTTP/1.1 503 Busy\r\n\r\n", status: 503},
		{name: "want 204 got 200", response: "HTTP/1.1 200 OK\r\n\r\n", status: 204, wantErr: "status 200, want 204"},
		{name: "early hints then 200", response: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"},
		{name: "early hints then 500", response: "HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 500 Oops\r\n\r\n", wantErr: "status 500"},
		{
			name:     "interim with long reason and header",
			response: "HTTP/1.1 100 " + strings.Repeat("C", 600) + "\r\nX: " + strings.Repeat("x", 1000) + "\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		},
		{name: "101 is final", response: "HTTP/1.1 101 Switching Protocols\r\n\r\n", wantErr: "status 101"},
		{name: "HTTP/2 status line", response: "HTTP/2 200\r\n\r\n", wantErr: "malformed status line"},
		{name: "garbage", response: "SSH-2.0-OpenSSH_9.6\r\n", wantErr: `malformed status line "SSH-2.0-OpenSSH_9.6\r\n"`},
		{name: "letters in code", response: "HTTP/1.1 2OO OK\r\n\r\n", wantErr: "malformed status line"},
		{name: "four-digit code", response: "HTTP/1.1 2000 OK\r\n\r\n", wantErr: "malformed status line"},
		{name: "code below 100", response: "HTTP/1.1 099 Eh\r\n\r\n", wantErr: "malformed status line"},
		{name: "closed without answer", response: "", wantErr: "read status line: EOF"},
		{name: "cut in status line", response: "HTTP/1.1 2", wantErr: "read status line: EOF"},
		{name: "cut in interim headers", response: "HTTP/1.1 100 Continue\r\nX: y", wantErr: "read 100 response: EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, heads := rawServer(t, tt.response)
			p, _ := newCheckedPool(t, HealthCheck{HTTPPath: "/healthz", HTTPStatus: tt.status}, addr)
			err := p.probe(t.Context(), p.Backends()[0])
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("probe(%q) = %v, want nil", tt.response, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("probe(%q) = %v, want error containing %q", tt.response, err, tt.wantErr)
			}
			wantHead := "GET /healthz HTTP/1.1\r\nHost: " + addr +
				"\r\nUser-Agent: phalanx-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
			select {
			case head := <-heads:
				if head != wantHead {
					t.Errorf("probe sent %q, want %q", head, wantHead)
				}
			case <-time.After(pollFor):
				t.Errorf("probe sent nothing, want %q", wantHead)
			}
		})
	}
}

// silentServer accepts connections on a fresh loopback port, reads
// whatever comes and never answers; it closes them when t ends. accepted
// counts connections.
func silentServer(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			accepted.Add(1)
			wg.Go(func() { c.Read(make([]byte, 4096)) })
		}
	})
	return ln.Addr().String(), accepted
}

func TestHealthCheckHTTPTimeout(t *testing.T) {
	addr, _ := silentServer(t)

	t.Run("probe", func(t *testing.T) {
		const timeout = 200 * time.Millisecond
		p, _ := newCheckedPool(t, HealthCheck{Interval: time.Second, Timeout: timeout, HTTPPath: "/"}, addr)
		start := time.Now()
		err := p.probe(t.Context(), p.Backends()[0])
		elapsed := time.Since(start)
		if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "no response within 200ms") {
			t.Errorf("probe(silent backend) = %v, want a deadline error saying no response within 200ms", err)
		}
		if elapsed < timeout || elapsed > timeout+pollFor/2 {
			t.Errorf("probe(silent backend) took %v, want about %v", elapsed, timeout)
		}
	})

	t.Run("goes down", func(t *testing.T) {
		p, log := newCheckedPool(t, HealthCheck{Interval: checkEvery, Fall: 1, HTTPPath: "/"}, addr)
		b := p.Backends()[0]
		p.Start(t.Context())
		waitFor(t, "the silent backend goes down", func() bool { return !b.Healthy() })
		checkTransitions(t, log, addr, []string{"backend down"}, []string{"1 failed check: no response within 200ms"})
	})
}

// waitNoCheckers waits until no goroutine runs checkLoop. Close and a done
// context end the loops, but a goroutine may linger for a moment after
// its wg.Done.
func waitNoCheckers(t *testing.T, when string) {
	t.Helper()
	waitFor(t, "no goroutine runs checkLoop "+when, func() bool { return checkers() == 0 })
}

func TestHealthCheckCloseStopsCheckers(t *testing.T) {
	waitNoCheckers(t, "before the test")
	silent, accepted := silentServer(t)
	refused := listenTCP(t, "127.0.0.1:0")
	refusedAddr := refused.Addr().String()
	refused.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)

	// A long Timeout: Close must cut the probe stuck on the silent backend
	// short rather than wait for it.
	const timeout = 10 * time.Second
	p, _ := newCheckedPool(t, HealthCheck{Interval: timeout, Timeout: timeout, Fall: 1, HTTPPath: "/"},
		silent, refusedAddr, srv.Listener.Addr().String())
	p.Start(t.Context())
	p.Start(t.Context()) // a second Start does nothing
	if n := checkers(); n != 3 {
		t.Errorf("after Start, %d goroutines in checkLoop, want 3 (one per backend)", n)
	}
	waitFor(t, "a probe hangs on the silent backend", func() bool { return accepted.Load() > 0 })

	start := time.Now()
	p.Close()
	if d := time.Since(start); d > timeout/2 {
		t.Errorf("Close took %v with a probe in flight, want it cut short (timeout %v)", d, timeout)
	}
	waitNoCheckers(t, "after Close")
	waitFor(t, "no probe goroutine remains", func() bool {
		return goroutines(func(g string) bool { return strings.Contains(g, "lb.(*Pool).probe") }) == 0
	})
	p.Start(t.Context()) // Start after Close does nothing
	if n := checkers(); n != 0 {
		t.Errorf("Start after Close: %d goroutines in checkLoop, want 0", n)
	}
}

func TestHealthCheckContextStopsCheckers(t *testing.T) {
	waitNoCheckers(t, "before the test")
	silent, accepted := silentServer(t)
	const timeout = 30 * time.Second
	p, log := newCheckedPool(t, HealthCheck{Interval: timeout, Timeout: timeout, Fall: 1, HTTPPath: "/"}, silent)
	ctx, cancel := context.WithCancel(t.Context())
	p.Start(ctx)
	waitFor(t, "a probe hangs on the silent backend", func() bool { return accepted.Load() > 0 })
	cancel()
	waitNoCheckers(t, "after the context is done")
	if !p.Backends()[0].Healthy() || len(log.records("backend down")) > 0 {
		t.Errorf("a probe cut short by the context counted as a failed check, want it ignored")
	}
}

func TestHealthCheckDisabled(t *testing.T) {
	waitNoCheckers(t, "before the test")
	p, _ := newCheckedPool(t, HealthCheck{Interval: -1}, "127.0.0.1:1")
	p.Start(t.Context())
	if n := checkers(); n != 0 {
		t.Errorf("Start with Interval -1: %d goroutines in checkLoop, want 0", n)
	}
	if !p.Backends()[0].Healthy() {
		t.Errorf("unchecked backend healthy = false, want true")
	}
}

func TestHealthCheckPanics(t *testing.T) {
	t.Run("in Dial", func(t *testing.T) {
		var calls atomic.Int64
		dial := func(context.Context, string, string) (net.Conn, error) {
			calls.Add(1)
			panic("boom")
		}
		p, log := newCheckedPool(t, HealthCheck{Interval: 20 * time.Millisecond, Fall: 1, Dial: dial}, "127.0.0.1:1")
		b := p.Backends()[0]
		p.Start(t.Context())
		waitFor(t, "the checker keeps probing after a panic", func() bool { return calls.Load() >= 3 })
		if b.Healthy() {
			t.Errorf("backend whose check panics: healthy = true, want false")
		}
		checkTransitions(t, log, "127.0.0.1:1", []string{"backend down"}, []string{"1 failed check: panic: boom"})
		if recs := log.records("health check panic"); len(recs) < 2 || recs[0].attrs["panic"] != "boom" || recs[0].level != slog.LevelError {
			t.Errorf("logged panics = %v, want several at level ERROR with panic=boom", recs)
		}
	})

	t.Run("in Build", func(t *testing.T) {
		// Build panics when one backend is left: that happens in
		// setActiveUp, outside the probe, and ends the checker.
		builder := BuilderFunc(func(bs []*Backend) Picker {
			if len(bs) == 1 {
				panic("bad builder")
			}
			return RoundRobin{}.Build(bs)
		})
		dial := func(_ context.Context, _, addr string) (net.Conn, error) {
			if addr == "127.0.0.1:1" {
				return nil, errors.New("refused")
			}
			return pipeDial(context.Background(), "", "")
		}
		b1, _ := NewBackend("127.0.0.1:1", BackendConfig{})
		b2, _ := NewBackend("127.0.0.1:2", BackendConfig{})
		log := &recorder{}
		p, err := NewPool("web", []*Backend{b1, b2}, PoolConfig{
			Builder: builder,
			Health:  HealthCheck{Interval: 20 * time.Millisecond, Fall: 1, Dial: dial},
			Logger:  slog.New(log),
		})
		if err != nil {
			t.Fatal(err)
		}
		waitNoCheckers(t, "before the test")
		p.Start(t.Context())
		waitFor(t, "the panic is logged", func() bool { return len(log.records("health checker stopped by a panic")) > 0 })
		if r := log.records("health checker stopped by a panic")[0]; r.attrs["backend"] != "127.0.0.1:1" || r.attrs["panic"] != "bad builder" {
			t.Errorf("panic record attrs = %v, want backend=127.0.0.1:1 panic=bad builder", r.attrs)
		}
		closed := make(chan struct{})
		go func() {
			p.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(pollFor):
			t.Fatalf("Close did not return within %v after a checker panicked", pollFor)
		}
		waitNoCheckers(t, "after Close")
	})
}
