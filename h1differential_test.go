package phalanx_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/internal/h1"
	"github.com/phalanx-lb/phalanx/internal/h1/h1test"
)

// rawBackend is a backend that reads what the proxy sends with phalanx's
// strict parser and records it: a forwarded request that does not parse
// strictly, or bytes left over after the requests, show that the proxy
// sent framing a backend could read differently.
type rawBackend struct {
	l    net.Listener
	mu   sync.Mutex
	got  []string // one entry per request: head and decoded body
	bad  []string // what did not parse strictly
	wg   sync.WaitGroup
	conn map[net.Conn]bool
}

func newRawBackend(t *testing.T) *rawBackend {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &rawBackend{l: l, conn: map[net.Conn]bool{}}
	b.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conn[c] = true
			b.mu.Unlock()
			b.wg.Go(func() { b.serve(c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		b.mu.Lock()
		for c := range b.conn {
			c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *rawBackend) addr() string { return b.l.Addr().String() }

func (b *rawBackend) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	var req h1.Request
	for {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var n int
		var err error
		for {
			buf, _ := br.Peek(br.Buffered())
			n, err = h1.Parse(buf, &req, h1.Limits{})
			if err != h1.ErrIncomplete {
				break
			}
			if _, perr := br.Peek(br.Buffered() + 1); perr != nil {
				if br.Buffered() > 0 {
					b.record("", "truncated head: "+string(buf))
				}
				return
			}
		}
		if err != nil {
			buf, _ := br.Peek(br.Buffered())
			b.record("", "head: "+err.Error()+": "+string(buf))
			return
		}
		head, _ := br.Peek(n)
		entry := string(head)
		br.Discard(n)
		var body []byte
		switch {
		case req.Chunked:
			body, err = io.ReadAll(h1.NewChunkedReader(br))
		case req.ContentLength > 0:
			body = make([]byte, req.ContentLength)
			_, err = io.ReadFull(br, body)
		}
		if err != nil {
			b.record("", "body: "+err.Error())
			return
		}
		b.record(entry+string(body), "")
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}

func (b *rawBackend) record(got, bad string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if got != "" {
		b.got = append(b.got, got)
	}
	if bad != "" {
		b.bad = append(b.bad, bad)
	}
}

// take returns and clears what the backend recorded.
func (b *rawBackend) take() (got, bad []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	got, bad = b.got, b.bad
	b.got, b.bad = nil, nil
	return got, bad
}

// exchangeRaw sends raw on a new connection and returns the status of the
// first final response, or 0 if none came in 300 ms (1.5 s for a request that
// expects 100 Continue: net/http waits a second for the backend's).
func exchangeRaw(t *testing.T, addr, raw string) int {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	wait := 300 * time.Millisecond
	if strings.Contains(raw, "100-continue") {
		wait = 1500 * time.Millisecond
	}
	c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, raw); err != nil {
		return 0
	}
	br := bufio.NewReader(c)
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0
		}
		res.Body.Close()
		if res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols {
			return res.StatusCode
		}
	}
}

// TestEngineDifferential sends every request of the h1test corpus to
// phalanx on each engine, in front of a backend that parses strictly. The
// phalanx engine must refuse every request the net/http engine refuses,
// and what it forwards must parse strictly as exactly the requests it
// answered, with nothing left over that a backend could read as another.
func TestEngineDifferential(t *testing.T) {
	checkNoLeaks(t)
	start := func(engine phalanx.HTTP1Engine, be *rawBackend) string {
		url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithHTTP1Engine(engine),
			phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks, Keepalive: -1,
				Servers: []phalanx.UpstreamServer{{Addr: be.addr(), MaxFails: -1}}}))
		return strings.TrimPrefix(url, "http://")
	}
	cases := append(append([]h1test.Case(nil), h1test.Valid...), h1test.Malformed...)
	var mu sync.Mutex
	var refusedBoth, refusedFastOnly, forwardedBoth int
	// Workers with a backend and two proxies each, one per engine, take
	// cases in turn: a case that makes a proxy wait for more bytes takes
	// 300 ms.
	next := make(chan h1test.Case)
	var wg sync.WaitGroup
	for range 8 {
		beFast, beStd := newRawBackend(t), newRawBackend(t)
		fast, std := start(phalanx.EnginePhalanx, beFast), start(phalanx.EngineNetHTTP, beStd)
		wg.Go(func() {
			for tc := range next {
				stdStatus := exchangeRaw(t, std, tc.Raw)
				stdGot, _ := settle(beStd, stdStatus)
				fastStatus := exchangeRaw(t, fast, tc.Raw)
				fastGot, fastBad := settle(beFast, fastStatus)
				stdRefused := len(stdGot) == 0
				fastRefused := len(fastGot) == 0 && len(fastBad) == 0
				switch {
				case len(fastBad) > 0:
					t.Errorf("%s: phalanx forwarded what a strict backend cannot read: %q", tc.Name, fastBad)
				case stdRefused && !fastRefused:
					t.Errorf("%s: net/http refused it (%d) but phalanx forwarded it (%d): %q", tc.Name, stdStatus, fastStatus, fastGot)
				case tc.Valid && fastRefused && !stdRefused:
					t.Errorf("%s: phalanx refused a valid request (%d)", tc.Name, fastStatus)
				case len(fastGot) > 1:
					t.Errorf("%s: one request became %d at the backend: %q", tc.Name, len(fastGot), fastGot)
				case fastRefused && (fastStatus == 200 || fastStatus >= 500 && fastStatus != 501 && fastStatus != 505):
					t.Errorf("%s: refused with status %d, want a 4xx (or no answer)", tc.Name, fastStatus)
				}
				mu.Lock()
				switch {
				case stdRefused && fastRefused:
					refusedBoth++
				case fastRefused:
					refusedFastOnly++
				default:
					forwardedBoth++
				}
				mu.Unlock()
			}
		})
	}
	for _, tc := range cases {
		next <- tc
	}
	close(next)
	wg.Wait()
	t.Logf("%d cases: %d refused by both engines, %d by phalanx only, %d forwarded by both",
		len(cases), refusedBoth, refusedFastOnly, forwardedBoth)
	if len(h1test.Malformed) < 60 {
		t.Errorf("corpus has %d malformed requests, want at least 60", len(h1test.Malformed))
	}
}

// settle waits for the backend to record what an exchange that ended in
// status sent it (it records a request once it has read all of it, and a
// failure when the proxy gives up on the connection), and takes it.
func settle(be *rawBackend, status int) (got, bad []string) {
	for deadline := time.Now().Add(500 * time.Millisecond); ; time.Sleep(5 * time.Millisecond) {
		g, b := be.take()
		got, bad = append(got, g...), append(bad, b...)
		if len(got) > 0 || len(bad) > 0 || (status != 200 && status != 0) || time.Now().After(deadline) {
			return got, bad
		}
	}
}

// TestEnginePipelining sends three requests in one write, one of them
// chunked, and wants three answers in order, the bodies forwarded whole.
func TestEnginePipelining(t *testing.T) {
	checkNoLeaks(t)
	be := newRawBackend(t)
	c, err := net.Dial("tcp", engineProxy(t, be.addr()))
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(c, "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"+
		"POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	for i := range 3 {
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err, "response %d", i+1)
		b, _ := io.ReadAll(res.Body)
		require.Equal(t, "200 ok", res.Status[:3]+" "+string(b), "response %d", i+1)
	}
	got, bad := be.take()
	require.Empty(t, bad)
	require.Len(t, got, 3)
	for i, want := range []string{"GET /one ", "POST /two ", "POST /three "} {
		require.True(t, strings.HasPrefix(got[i], want), "request %d = %q, want %q first", i+1, got[i], want)
	}
	require.True(t, strings.HasSuffix(got[1], "hello"), "second body: %q", got[1])
	// A chunked body read whole before the backend is chosen goes on
	// with its length.
	require.True(t, strings.HasSuffix(got[2], "Content-Length: 5\r\n\r\nabcde"), "third request: %q", got[2])
}

var errNoResponse = errors.New("no response")

// rawResponse sends raw on c and reads one response, returning its head
// and body.
func rawResponse(c net.Conn, br *bufio.Reader, raw string, method string) (*http.Response, string, error) {
	if _, err := io.WriteString(c, raw); err != nil {
		return nil, "", err
	}
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return nil, "", errors.Join(errNoResponse, err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b), err
}
