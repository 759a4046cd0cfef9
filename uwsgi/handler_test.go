package uwsgi_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/uwsgi"
	"github.com/stretchr/testify/require"
)

// logBuf collects log output.
type logBuf struct {
	mu sync.Mutex
	sb strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.String()
}

func testLogger() (*slog.Logger, *logBuf) {
	b := &logBuf{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// serve runs req through h and returns the recorded response.
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRequestVars(t *testing.T) {
	f := startFake(t, bodyHasher)
	tests := []struct {
		name   string
		req    func() *http.Request
		params []uwsgi.Param
		want   map[string]string // vars that must have these values
		absent []string          // vars that must not be sent
	}{
		{
			name: "GET with query and headers",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "http://example.com:8080/a%20b/c?x=1&y=%zz", nil)
				r.RemoteAddr = "192.0.2.7:40123"
				r.Header.Set("X-Custom", "v1")
				r.Header.Add("X-Multi", "a")
				r.Header.Add("X-Multi", "b")
				r.Header.Add("Cookie", "a=1")
				r.Header.Add("Cookie", "b=2")
				r.Header.Set("Proxy", "http://evil:3128")
				r.Header.Set("X_Custom", "spoof")
				r.Header.Set("Connection", "X-Hop")
				r.Header.Set("X-Hop", "1")
				r.Header.Set("Keep-Alive", "300")
				return r
			},
			want: map[string]string{
				"REQUEST_METHOD":  "GET",
				"REQUEST_URI":     "/a%20b/c?x=1&y=%zz",
				"PATH_INFO":       "/a b/c",
				"QUERY_STRING":    "x=1&y=%zz",
				"CONTENT_TYPE":    "",
				"CONTENT_LENGTH":  "",
				"SERVER_NAME":     "example.com",
				"SERVER_PORT":     "8080",
				"SERVER_PROTOCOL": "HTTP/1.1",
				"REQUEST_SCHEME":  "http",
				"REMOTE_ADDR":     "192.0.2.7",
				"REMOTE_PORT":     "40123",
				"HTTP_HOST":       "example.com:8080",
				"HTTP_X_CUSTOM":   "v1",
				"HTTP_X_MULTI":    "a, b",
				"HTTP_COOKIE":     "a=1; b=2",
			},
			absent: []string{"HTTP_PROXY", "HTTP_CONNECTION", "HTTP_X_HOP", "HTTP_KEEP_ALIVE", "HTTPS", "UWSGI_SCHEME",
				"SCRIPT_NAME", "DOCUMENT_ROOT", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"},
		},
		{
			name: "POST over TLS from IPv6",
			req: func() *http.Request {
				r := httptest.NewRequest("POST", "https://shop.example/cart", strings.NewReader("a=1&b=2"))
				r.RemoteAddr = "[2001:db8::1]:5555"
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Content-Length", "7")
				return r
			},
			want: map[string]string{
				"REQUEST_METHOD":      "POST",
				"CONTENT_TYPE":        "application/x-www-form-urlencoded",
				"CONTENT_LENGTH":      "7",
				"HTTPS":               "on",
				"UWSGI_SCHEME":        "https",
				"REQUEST_SCHEME":      "https",
				"SERVER_NAME":         "shop.example",
				"SERVER_PORT":         "443",
				"REMOTE_ADDR":         "2001:db8::1",
				"REMOTE_PORT":         "5555",
				"X-FAKE-BODY-SHA-256": sha("a=1&b=2"),
			},
			absent: []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"},
		},
		{
			name: "params add and replace",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "http://example.com/app/x", nil)
				r.Header.Set("X-Forwarded-Proto", "http")
				return r
			},
			params: []uwsgi.Param{
				{Name: "SCRIPT_NAME", Value: "/app"},
				{Name: "DOCUMENT_ROOT", Value: "/srv/www"},
				{Name: "SERVER_NAME", Value: "configured.example"},
				{Name: "HTTP_X_FORWARDED_PROTO", Value: "https"},
				{Name: "UWSGI_SCHEME", Value: "https"},
			},
			want: map[string]string{
				"SCRIPT_NAME":            "/app",
				"DOCUMENT_ROOT":          "/srv/www",
				"SERVER_NAME":            "configured.example",
				"HTTP_X_FORWARDED_PROTO": "https",
				"UWSGI_SCHEME":           "https",
				"PATH_INFO":              "/app/x",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &uwsgi.Handler{Addr: f.addr, Params: tc.params, Logger: slog.New(slog.DiscardHandler)}
			rec := serve(h, tc.req())
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			got := <-f.reqs
			if got.mod1 != 0 || got.mod2 != 0 {
				t.Errorf("modifiers = %d, %d, want 0, 0", got.mod1, got.mod2)
			}
			seen := map[string]bool{}
			for _, k := range got.keys {
				if seen[k] {
					t.Errorf("var %s sent twice", k)
				}
				seen[k] = true
			}
			for k, want := range tc.want {
				if k == "X-FAKE-BODY-SHA-256" {
					continue
				}
				if v, ok := got.vars[k]; !ok || v != want {
					t.Errorf("var %s = %q (sent: %v), want %q", k, v, ok, want)
				}
			}
			for _, k := range tc.absent {
				if v, ok := got.vars[k]; ok {
					t.Errorf("var %s = %q, want it not sent", k, v)
				}
			}
			if want, ok := tc.want["X-FAKE-BODY-SHA-256"]; ok {
				if h := rec.Header().Get("X-Body-Sha256"); h != want {
					t.Errorf("body sha256 at the application = %s, want %s", h, want)
				}
			}
		})
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// bodyHasher answers with the sha256 of the request body in
// X-Body-Sha256.
func bodyHasher(c net.Conn, req *fakeReq) {
	hs := sha256.New()
	io.Copy(hs, req.body)
	io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Body-Sha256: "+hex.EncodeToString(hs.Sum(nil))+"\r\n\r\nok")
}

// TestServerVars checks the vars taken from a real server connection:
// SERVER_PORT is the local socket's port, whatever the Host header says.
func TestServerVars(t *testing.T) {
	f := startFake(t, reply("HTTP/1.1 204 No Content\r\n\r\n"))
	ts := httptest.NewServer(&uwsgi.Handler{Addr: f.addr})
	t.Cleanup(ts.Close)
	req, _ := http.NewRequest("GET", ts.URL+"/x", nil)
	req.Host = "app.example:9999"
	res, err := ts.Client().Do(req)
	require.NoError(t, err)
	res.Body.Close()
	got := <-f.reqs
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	for k, want := range map[string]string{"SERVER_PORT": port, "SERVER_NAME": "app.example", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "app.example:9999"} {
		if got.vars[k] != want {
			t.Errorf("var %s = %q, want %q", k, got.vars[k], want)
		}
	}
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		raw      string
		wantCode int
		wantHdr  map[string][]string // nil value: must be absent
		wantBody string
	}{
		{
			name:     "status, headers, body to EOF",
			raw:      "HTTP/1.1 418 I'm a teapot\r\nX-Teapot: short\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nConnection: close, X-Hop\r\nX-Hop: h\r\nKeep-Alive: timeout=5\r\n\r\nI'm a teapot",
			wantCode: 418,
			wantHdr:  map[string][]string{"X-Teapot": {"short"}, "Set-Cookie": {"a=1", "b=2"}, "X-Hop": nil, "Keep-Alive": nil, "Connection": nil},
			wantBody: "I'm a teapot",
		},
		{
			name:     "content-length ends the body",
			raw:      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and junk after",
			wantCode: 200,
			wantHdr:  map[string][]string{"Content-Length": {"5"}},
			wantBody: "hello",
		},
		{
			name:     "chunked body is decoded",
			raw:      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
			wantCode: 200,
			wantHdr:  map[string][]string{"Transfer-Encoding": nil, "Content-Length": nil},
			wantBody: "hello world",
		},
		{
			name:     "bare LF and HTTP/2.0 protocol",
			raw:      "HTTP/2.0 201 Created\nLocation: /x/1\n\ncreated",
			wantCode: 201,
			wantHdr:  map[string][]string{"Location": {"/x/1"}},
			wantBody: "created",
		},
		{
			name:     "interim 100 Continue is skipped",
			raw:      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Final: 1\r\n\r\nfinal",
			wantCode: 200,
			wantHdr:  map[string][]string{"X-Final": {"1"}},
			wantBody: "final",
		},
		{
			name:     "HEAD has no body",
			method:   "HEAD",
			raw:      "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
			wantCode: 200,
			wantHdr:  map[string][]string{"Content-Length": {"1234"}},
		},
		{
			name:     "no reason phrase",
			raw:      "HTTP/1.1 404\r\n\r\nmissing",
			wantCode: 404,
			wantBody: "missing",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, reply(tc.raw))
			method := tc.method
			if method == "" {
				method = "GET"
			}
			rec := serve(&uwsgi.Handler{Addr: f.addr}, httptest.NewRequest(method, "/", nil))
			if rec.Code != tc.wantCode {
				t.Errorf("status = %d, want %d (body %q)", rec.Code, tc.wantCode, rec.Body.String())
			}
			for k, want := range tc.wantHdr {
				got := rec.Header()[k]
				if strings.Join(got, "|") != strings.Join(want, "|") || (want == nil) != (got == nil) {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if got := rec.Body.String(); got != tc.wantBody {
				t.Errorf("body = %q, want %q", got, tc.wantBody)
			}
		})
	}
}

// TestStreamedResponse checks that the body reaches the client as the
// application writes it: its second piece is only written once the
// client has read the first through the handler.
func TestStreamedResponse(t *testing.T) {
	firstSeen := make(chan struct{})
	f := startFake(t, func(c net.Conn, req *fakeReq) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: one\n\n")
		select {
		case <-firstSeen:
			io.WriteString(c, "data: two\n\n")
		case <-time.After(5 * time.Second):
			io.WriteString(c, "data: timeout\n\n")
		}
	})
	ts := httptest.NewServer(&uwsgi.Handler{Addr: f.addr})
	t.Cleanup(ts.Close)
	res, err := ts.Client().Get(ts.URL + "/events")
	require.NoError(t, err)
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "data: one\n", line)
	close(firstSeen)
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	if want := "\ndata: two\n\n"; string(rest) != want {
		t.Errorf("rest of stream = %q, want %q", rest, want)
	}
}

// TestStreamedRequestBody checks that the request body reaches the
// application as the client sends it: the client sends its second half
// only once the application has received the first.
func TestStreamedRequestBody(t *testing.T) {
	const half = 256 << 10
	gotFirst := make(chan struct{})
	f := startFake(t, func(c net.Conn, req *fakeReq) {
		hs := sha256.New()
		n, _ := io.CopyN(hs, req.body, half)
		close(gotFirst)
		m, _ := io.Copy(hs, req.body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n"+strconv.FormatInt(n+m, 10)+" "+hex.EncodeToString(hs.Sum(nil)))
	})
	ts := httptest.NewServer(&uwsgi.Handler{Addr: f.addr})
	t.Cleanup(ts.Close)
	pr, pw := io.Pipe()
	chunk := strings.Repeat("x", half)
	go func() {
		pw.Write([]byte(chunk))
		select {
		case <-gotFirst:
			pw.Write([]byte(chunk))
			pw.Close()
		case <-time.After(5 * time.Second):
			pw.CloseWithError(errors.New("the application did not get the first half while the client held the second"))
		}
	}()
	req, _ := http.NewRequest("POST", ts.URL+"/upload", pr)
	req.ContentLength = 2 * half
	res, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if want := strconv.Itoa(2*half) + " " + sha(chunk+chunk); string(body) != want {
		t.Errorf("application saw %q, want %q", body, want)
	}
}

// TestPacketLimit checks the protocol's 64 KiB bound on the vars block:
// a packet of 65535 bytes goes through, one byte more gets 431, and
// nothing at all reaches the application.
func TestPacketLimit(t *testing.T) {
	f := startFake(t, reply("HTTP/1.1 200 OK\r\n\r\nok"))
	logger, logs := testLogger()
	h := &uwsgi.Handler{Addr: f.addr, Logger: logger}
	req := func(n int) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Big", strings.Repeat("b", n))
		return r
	}
	// Measure the packet with a 1-byte header value, then size the value
	// to hit the limit exactly.
	require.Equal(t, http.StatusOK, serve(h, req(1)).Code)
	base := (<-f.reqs).datasize
	exact := uwsgi.MaxDatasize - base + 1
	if rec := serve(h, req(exact)); rec.Code != http.StatusOK {
		t.Fatalf("vars block of exactly 65535 bytes: status %d, want 200", rec.Code)
	}
	if got := (<-f.reqs).datasize; got != uwsgi.MaxDatasize {
		t.Fatalf("datasize = %d, want %d", got, uwsgi.MaxDatasize)
	}
	conns := f.conns.Load()
	for _, n := range []int{exact + 1, 70 << 10} {
		rec := serve(h, req(n))
		if rec.Code != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("header of %d bytes: status %d, want 431", n, rec.Code)
		}
	}
	if got := f.conns.Load(); got != conns {
		t.Errorf("oversized requests opened %d connections to the application, want 0", got-conns)
	}
	want := "uwsgi packet of " + strconv.Itoa(uwsgi.MaxDatasize+1) + " bytes exceeds the protocol's 64 KiB limit"
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log = %q, want a line %q", logs.String(), want)
	}
}

func TestErrors(t *testing.T) {
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	tests := []struct {
		name     string
		respond  func(net.Conn, *fakeReq) // nil: no application
		handler  func(h *uwsgi.Handler)
		req      func() *http.Request
		wantCode int
		wantLog  string
	}{
		{name: "connection refused", wantCode: 502, wantLog: "uwsgi: connect failed",
			handler: func(h *uwsgi.Handler) { h.Addr = refused() }},
		{name: "connect timeout", wantCode: 504, wantLog: "uwsgi: connect failed",
			handler: func(h *uwsgi.Handler) {
				h.Timeouts.Dial = 50 * time.Millisecond
				h.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
					<-ctx.Done()
					return nil, ctx.Err()
				}
			}},
		{name: "closed before any byte", respond: reply(""), wantCode: 502,
			wantLog: "uwsgi: the application closed the connection before the response header"},
		{name: "closed mid-headers", respond: reply("HTTP/1.1 200 OK\r\nX-A: "), wantCode: 502,
			wantLog: "uwsgi: the application closed the connection before the response header"},
		{name: "malformed status line", respond: reply("HTTX/1.1 200 OK\r\n\r\n"), wantCode: 502,
			wantLog: "uwsgi: invalid response header"},
		{name: "malformed header", respond: reply("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n"), wantCode: 502,
			wantLog: "uwsgi: invalid response header"},
		{name: "header over 64 KiB", respond: reply("HTTP/1.1 200 OK\r\nX-A: " + strings.Repeat("a", 64<<10) + "\r\n\r\n"),
			wantCode: 502, wantLog: "uwsgi: invalid response header"},
		{name: "read timeout", wantCode: 504, wantLog: "uwsgi: timed out waiting for the response header",
			respond: func(c net.Conn, req *fakeReq) { <-req.done },
			handler: func(h *uwsgi.Handler) { h.Timeouts.Read = 50 * time.Millisecond }},
		{name: "request deadline", wantCode: 504, wantLog: "uwsgi: request timed out",
			respond: func(c net.Conn, req *fakeReq) { <-req.done },
			req: func() *http.Request {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				t.Cleanup(cancel)
				return httptest.NewRequestWithContext(ctx, "GET", "/", nil)
			}},
		{name: "body of unknown length", respond: reply("HTTP/1.1 200 OK\r\n\r\n"), wantCode: 411,
			wantLog: "uwsgi: request body without Content-Length",
			req: func() *http.Request {
				r := httptest.NewRequest("POST", "/", strings.NewReader("x"))
				r.ContentLength = -1
				return r
			}},
		{name: "request body too large", respond: func(c net.Conn, req *fakeReq) { io.Copy(io.Discard, req.body); <-req.done },
			wantCode: 413, wantLog: "uwsgi: request body too large",
			req: func() *http.Request {
				r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 100)))
				r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10)
				return r
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := testLogger()
			h := &uwsgi.Handler{Logger: logger}
			var f *fakeApp
			if tc.respond != nil {
				f = startFake(t, tc.respond)
				h.Addr = f.addr
			}
			if tc.handler != nil {
				tc.handler(h)
			}
			req := httptest.NewRequest("GET", "/", nil)
			if tc.req != nil {
				req = tc.req()
			}
			rec := serve(h, req)
			if rec.Code != tc.wantCode {
				t.Errorf("status = %d, want %d (body %q)", rec.Code, tc.wantCode, rec.Body.String())
			}
			if n := strings.Count(logs.String(), tc.wantLog); n != 1 {
				t.Errorf("log has %d lines %q, want 1; log:\n%s", n, tc.wantLog, logs.String())
			}
			if tc.wantCode == 411 && f.conns.Load() != 0 {
				t.Errorf("411 opened a connection to the application")
			}
		})
	}
}

// TestAbortAfterHeader checks that a failure once the response header is
// sent breaks the client's response instead of ending it cleanly.
func TestAbortAfterHeader(t *testing.T) {
	tests := []struct {
		name    string
		respond func(net.Conn, *fakeReq)
	}{
		{"short of Content-Length", reply("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")},
		{"connection reset", func(c net.Conn, req *fakeReq) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\npartial")
			time.Sleep(50 * time.Millisecond)
			c.(*net.TCPConn).SetLinger(0) // close with RST
		}},
		{"truncated chunked body", reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, tc.respond)
			logger, logs := testLogger()
			ts := httptest.NewServer(&uwsgi.Handler{Addr: f.addr, Logger: logger})
			t.Cleanup(ts.Close)
			res, err := ts.Client().Get(ts.URL)
			require.NoError(t, err)
			defer res.Body.Close()
			require.Equal(t, http.StatusOK, res.StatusCode)
			if b, err := io.ReadAll(res.Body); err == nil {
				t.Errorf("client read %q and a clean end, want an error", b)
			}
			if !strings.Contains(logs.String(), "uwsgi: response body aborted") {
				t.Errorf("log = %q, want an abort line", logs.String())
			}
		})
	}
}

// TestUnixSocket reaches the application on a unix socket given in
// nginx's "unix:" form.
func TestUnixSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "uw")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "app.sock")
	startFakeOn(t, "unix", path, reply("HTTP/1.1 200 OK\r\n\r\nover unix"))
	rec := serve(&uwsgi.Handler{Addr: "unix:" + path}, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || rec.Body.String() != "over unix" {
		t.Errorf("got %d %q, want 200 \"over unix\"", rec.Code, rec.Body.String())
	}
}

// TestEarlyResponse checks an application that answers without reading
// the request body while the client is still sending it: the response
// gets through, and the handler returns without waiting for the rest of
// the body.
func TestEarlyResponse(t *testing.T) {
	f := startFake(t, func(c net.Conn, req *fakeReq) {
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nearly")
	})
	returned := make(chan struct{}, 1)
	h := &uwsgi.Handler{Addr: f.addr}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		returned <- struct{}{}
	}))
	t.Cleanup(ts.Close)
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	go pw.Write([]byte("the start of a body that never ends"))
	req, _ := http.NewRequest("POST", ts.URL, pr)
	req.ContentLength = 1 << 20
	res, err := ts.Client().Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || string(body) != "early" {
		t.Errorf("got %d %q, want 403 \"early\"", res.StatusCode, body)
	}
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("ServeHTTP still running 5s after the response: stuck reading the client's body")
	}
}

// TestSlowUpload checks that the read timeout only starts once the body
// is sent: an upload slower than the timeout is not a slow application.
func TestSlowUpload(t *testing.T) {
	f := startFake(t, bodyHasher)
	ts := httptest.NewServer(&uwsgi.Handler{Addr: f.addr, Timeouts: uwsgi.Timeouts{Read: 100 * time.Millisecond}})
	t.Cleanup(ts.Close)
	pr, pw := io.Pipe()
	go func() {
		for _, s := range []string{"slow", " up", "load"} {
			pw.Write([]byte(s))
			time.Sleep(150 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", ts.URL, pr)
	req.ContentLength = int64(len("slow upload"))
	res, err := ts.Client().Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Body-Sha256") != sha("slow upload") {
		t.Errorf("got %d with body sha %s, want 200 with %s", res.StatusCode, res.Header.Get("X-Body-Sha256"), sha("slow upload"))
	}
}
