package fcgi

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	stdfcgi "net/http/fcgi"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParams(t *testing.T) {
	seen := make(chan *request, 1)
	ln := rawBackend(t, answering(seen, ok))
	tests := []struct {
		name   string
		h      *Handler
		setup  func(r *http.Request)
		method string
		target string
		body   string
		want   map[string]string // "" means absent
	}{
		{
			name: "script and path info", target: "http://example.com/blog/index.php/posts/7?a=1&b=2",
			want: map[string]string{
				"SCRIPT_FILENAME": "/var/www/blog/index.php", "SCRIPT_NAME": "/blog/index.php",
				"PATH_INFO": "/posts/7", "DOCUMENT_URI": "/blog/index.php/posts/7",
				"REQUEST_URI": "/blog/index.php/posts/7?a=1&b=2", "QUERY_STRING": "a=1&b=2",
				"DOCUMENT_ROOT": "/var/www", "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1",
				"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "phalanx", "REDIRECT_STATUS": "200",
				"REMOTE_ADDR": "192.0.2.1", "REMOTE_PORT": "1234", "SERVER_ADDR": "198.51.100.7",
				"SERVER_PORT": "8080", "SERVER_NAME": "example.com", "HTTP_HOST": "example.com",
				"REQUEST_SCHEME": "http", "HTTPS": "", "CONTENT_LENGTH": "", "CONTENT_TYPE": "",
			},
		},
		{
			name: "index", target: "/dir/",
			want: map[string]string{"SCRIPT_NAME": "/dir/index.php", "SCRIPT_FILENAME": "/var/www/dir/index.php", "PATH_INFO": "", "DOCUMENT_URI": "/dir/"},
		},
		{
			name: "fastcgi_index", h: &Handler{Index: "app.php"}, target: "/",
			want: map[string]string{"SCRIPT_NAME": "/app.php"},
		},
		{
			name: "no script extension", target: "/dir/page",
			want: map[string]string{"SCRIPT_NAME": "/dir/page", "PATH_INFO": ""},
		},
		{
			name: "split needs a slash after", target: "/a.phpx/b.php/c",
			want: map[string]string{"SCRIPT_NAME": "/a.phpx/b.php", "PATH_INFO": "/c"},
		},
		{
			name: "split path", h: &Handler{SplitPath: ".cgi"}, target: "/x.cgi/y.php",
			want: map[string]string{"SCRIPT_NAME": "/x.cgi", "PATH_INFO": "/y.php"},
		},
		{
			name: "cleaned path", target: "/a/../b/./c.php",
			want: map[string]string{"SCRIPT_NAME": "/b/c.php", "SCRIPT_FILENAME": "/var/www/b/c.php", "REQUEST_URI": "/a/../b/./c.php"},
		},
		{
			name: "no escape above the root", target: "/x.php",
			setup: func(r *http.Request) { r.URL.Path = "/../../etc/x.php" },
			want:  map[string]string{"SCRIPT_FILENAME": "/var/www/etc/x.php"},
		},
		{
			name: "double slashes", target: "/x.php",
			setup: func(r *http.Request) { r.URL.Path = "//dir//x.php" },
			want:  map[string]string{"SCRIPT_NAME": "/dir/x.php"},
		},
		{
			name: "headers", target: "http://example.com:8443/x.php",
			setup: func(r *http.Request) {
				r.Header.Add("X-Multi", "a")
				r.Header.Add("X-Multi", "b")
				r.Header.Add("Cookie", "a=1")
				r.Header.Add("Cookie", "b=2")
				r.Header.Set("X-Forwarded-For", "203.0.113.9")
				r.Header.Set("Proxy", "http://evil.example")
				r.Header["X_Under"] = []string{"spoof"}
				r.Header["Host"] = []string{"other.example"}
			},
			want: map[string]string{
				"HTTP_X_MULTI": "a, b", "HTTP_COOKIE": "a=1; b=2", "HTTP_X_FORWARDED_FOR": "203.0.113.9",
				"HTTP_PROXY": "", "HTTP_X_UNDER": "", "HTTP_HOST": "example.com:8443",
				"SERVER_NAME": "example.com", "SERVER_PORT": "8080",
			},
		},
		{
			name: "server port from host", target: "http://example.com:8443/x.php",
			setup: func(r *http.Request) {
				*r = *r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, nil))
			},
			want: map[string]string{"SERVER_PORT": "8443", "SERVER_ADDR": ""},
		},
		{
			name: "tls", target: "https://example.com/x.php",
			setup: func(r *http.Request) { r.TLS = &tls.ConnectionState{} },
			want:  map[string]string{"HTTPS": "on", "REQUEST_SCHEME": "https"},
		},
		{
			name: "ipv6 client", target: "/x.php",
			setup: func(r *http.Request) { r.RemoteAddr = "[2001:db8::1]:443" },
			want:  map[string]string{"REMOTE_ADDR": "2001:db8::1", "REMOTE_PORT": "443"},
		},
		{
			name: "body", method: "POST", target: "/form.php", body: "a=1&b=2",
			setup: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") },
			want: map[string]string{
				"CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": "7",
				"HTTP_CONTENT_TYPE": "", "HTTP_CONTENT_LENGTH": "",
			},
		},
		{
			name: "empty body with content-length", method: "POST", target: "/form.php",
			setup: func(r *http.Request) { r.Header.Set("Content-Length", "0") },
			want:  map[string]string{"CONTENT_LENGTH": "0"},
		},
		{
			name: "params", target: "/x.php",
			h: &Handler{Params: []Param{
				{"SCRIPT_FILENAME", "/app/public/index.php"}, {"APP_ENV", "prod"},
				{"HTTP_X_SECRET", "from-config"}, {"SERVER_NAME", "www.example.com"},
				{"HTTP_PROXY", ""},
			}},
			setup: func(r *http.Request) { r.Header.Set("X-Secret", "from-client") },
			want: map[string]string{
				"SCRIPT_FILENAME": "/app/public/index.php", "APP_ENV": "prod",
				"HTTP_X_SECRET": "from-config", "SERVER_NAME": "www.example.com", "SCRIPT_NAME": "/x.php",
			},
		},
		{
			name: "variables", target: "/a.php/b?q=1",
			h: &Handler{Params: []Param{
				{"SCRIPT_FILENAME", "$document_root$fastcgi_script_name"},
				{"PATH_TRANSLATED", "${document_root}$fastcgi_path_info"},
				{"X_URI", "$uri|$args|$request_method|$scheme|$host|$remote_addr"},
				{"X_UNKNOWN", "$nope ${nope} $ pa$$word $"},
			}},
			want: map[string]string{
				"SCRIPT_FILENAME": "/var/www/a.php", "PATH_TRANSLATED": "/var/www/b",
				"X_URI": "/a.php/b|q=1|GET|http||192.0.2.1", "X_UNKNOWN": "$nope ${nope} $ pa$$word $",
			},
		},
		{
			name: "document root param", target: "/x.php",
			h:    &Handler{Root: "-", Params: []Param{{"DOCUMENT_ROOT", "/srv/app/"}}},
			want: map[string]string{"SCRIPT_FILENAME": "/srv/app/x.php", "DOCUMENT_ROOT": "/srv/app/"},
		},
		{
			name: "root with trailing slash", h: &Handler{Root: "/srv/"}, target: "/x.php",
			want: map[string]string{"SCRIPT_FILENAME": "/srv/x.php", "DOCUMENT_ROOT": "/srv"},
		},
		{
			name: "root /", h: &Handler{Root: "/"}, target: "/x.php",
			want: map[string]string{"SCRIPT_FILENAME": "/x.php", "DOCUMENT_ROOT": "/"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			if h == nil {
				h = &Handler{}
			}
			if h.Root == "-" {
				h.Root = ""
			} else if h.Root == "" {
				h.Root = "/var/www"
			}
			h.Addr = ln.Addr().String()
			defer h.Close()
			method := cmpOrString(tc.method, "GET")
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := newRequest(t, method, tc.target, body)
			if tc.setup != nil {
				tc.setup(r)
			}
			rec, _ := serve(h, r)
			if rec.Code() != http.StatusOK {
				t.Fatalf("ServeHTTP(%s %s) = %d %q, want 200", method, tc.target, rec.Code(), rec.Body())
			}
			req := <-seen
			for name, want := range tc.want {
				got, present := req.params[name]
				if want == "" && present && got != "" {
					t.Errorf("%s %s: %s = %q, want it absent or empty", method, tc.target, name, got)
				} else if want != "" && got != want {
					t.Errorf("%s %s: %s = %q, want %q", method, tc.target, name, got, want)
				}
			}
			if string(req.stdin) != tc.body {
				t.Errorf("%s %s: stdin = %q, want %q", method, tc.target, req.stdin, tc.body)
			}
		})
	}
}

func cmpOrString(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// TestStdlibBackend checks the variables as net/http/fcgi's server sees
// them, headers both ways, and status codes.
func TestStdlibBackend(t *testing.T) {
	type seenReq struct {
		r   *http.Request
		env map[string]string
	}
	seen := make(chan seenReq, 1)
	ln := fakeBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- seenReq{r, stdfcgi.ProcessEnv(r)}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Reply", "yes")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		if code != 0 {
			w.WriteHeader(code)
		}
		fmt.Fprintf(w, "%s %s %q", r.Method, r.URL.Query().Get("name"), body)
	}))
	h := handler(t, ln, nil)
	for _, tc := range []struct {
		name, method, target, body string
		code                       int
		want                       string
	}{
		{"get", "GET", "/app/hello.php/extra?name=gopher", "", 200, `GET gopher ""`},
		{"teapot", "GET", "/x.php?code=418", "", 418, `GET  ""`},
		{"not found", "GET", "/x.php?code=404&name=n", "", 404, `GET n ""`},
		{"post", "POST", "/form.php?name=p", "hello=world", 200, `POST p "hello=world"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := newRequest(t, tc.method, "http://example.com"+tc.target, body)
			r.Header.Set("X-Test", "both ways")
			rec, _ := serve(h, r)
			if rec.Code() != tc.code || rec.Body() != tc.want {
				t.Errorf("ServeHTTP(%s %s) = %d %q, want %d %q", tc.method, tc.target, rec.Code(), rec.Body(), tc.code, tc.want)
			}
			if got := rec.Header().Get("X-Reply"); got != "yes" {
				t.Errorf("X-Reply = %q, want yes", got)
			}
			if got := rec.Header().Values("Set-Cookie"); len(got) != 2 {
				t.Errorf("Set-Cookie = %q, want two", got)
			}
			s := <-seen
			if got := s.r.Header.Get("X-Test"); got != "both ways" {
				t.Errorf("backend saw X-Test = %q, want %q", got, "both ways")
			}
			if s.r.Method != tc.method || s.r.Host != "example.com" || s.r.RemoteAddr != "192.0.2.1:1234" {
				t.Errorf("backend saw %s %s from %s, want %s example.com from 192.0.2.1:1234", s.r.Method, s.r.Host, s.r.RemoteAddr, tc.method)
			}
			if got := s.r.URL.RequestURI(); got != tc.target {
				t.Errorf("backend saw request URI %q, want %q", got, tc.target)
			}
			script, _ := splitPath(strings.SplitN(tc.target, "?", 2)[0], ".php")
			if got, want := s.env["SCRIPT_FILENAME"], "/var/www"+script; got != want {
				t.Errorf("backend saw SCRIPT_FILENAME = %q, want %q", got, want)
			}
			if got := s.env["SERVER_SOFTWARE"]; got != "phalanx" {
				t.Errorf("backend saw SERVER_SOFTWARE = %q, want phalanx", got)
			}
		})
	}
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(id uint16) []byte
		code    int
		body    string
		header  map[string]string // "" means absent
		aborted bool
	}{
		{name: "status", answer: body("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope"), code: 404, body: "nope"},
		{name: "status code only", answer: body("Status: 201\r\n\r\n"), code: 201},
		{name: "location", answer: body("Location: /next\r\n\r\n"), code: 302, header: map[string]string{"Location": "/next"}},
		{name: "location with status", answer: body("Status: 301\r\nLocation: /next\r\n\r\n"), code: 301},
		{name: "bare newlines", answer: body("Content-Type: text/html\n\nhi\n"), code: 200, body: "hi\n"},
		{name: "no header fields", answer: body("\r\nbody"), code: 200, body: "body"},
		{
			name: "hop-by-hop dropped", answer: body("Connection: close\r\nTransfer-Encoding: chunked\r\nKeep-Alive: 1\r\nX-A:  1 \r\n\r\n"),
			code: 200, header: map[string]string{"Connection": "", "Transfer-Encoding": "", "Keep-Alive": "", "X-A": "1"},
		},
		{name: "header over records", answer: split("Status: 202\r\nX-Long: "+strings.Repeat("v", 100)+"\r\n\r\nbody", 7), code: 202, body: "body"},
		{name: "body over records", answer: split("\r\n"+strings.Repeat("0123456789", 1000), 1000), code: 200, body: strings.Repeat("0123456789", 1000)},
		{name: "no body allowed", answer: body("Status: 304\r\n\r\nignored"), code: 304},
		{name: "stderr", answer: withStderr("PHP message: boom\n", "\r\nok"), code: 200, body: "ok"},
		{name: "management record", answer: func(id uint16) []byte {
			return append(appendRecord(nil, typeUnknownType, 0, make([]byte, 8)), ok(id)...)
		}, code: 200, body: "ok"},
		{name: "bad status", answer: body("Status: abc\r\n\r\n"), code: 502},
		{name: "1xx status", answer: body("Status: 100 Continue\r\n\r\n"), code: 502},
		{name: "line without colon", answer: body("garbage\r\n\r\n"), code: 502},
		{name: "continuation line", answer: body("X-A: 1\r\n 2\r\n\r\n"), code: 502},
		{name: "bad name", answer: body("X A: 1\r\n\r\n"), code: 502},
		{name: "control character", answer: body("X-A: 1\x00\r\n\r\n"), code: 502},
		{name: "two content lengths", answer: body("Content-Length: 1\r\nContent-Length: 2\r\n\r\n"), code: 502},
		{name: "header too large", answer: split("X-A: "+strings.Repeat("a", maxHeaderBytes), 30000), code: 502},
		{name: "no header", answer: body("partial"), code: 502},
		{name: "no stdout", answer: func(id uint16) []byte { return endRecord(id, 0, statusRequestComplete) }, code: 502},
		{name: "overloaded", answer: func(id uint16) []byte { return endRecord(id, 0, statusOverloaded) }, code: 503},
		{name: "cannot multiplex", answer: func(id uint16) []byte { return endRecord(id, 0, statusCantMultiplex) }, code: 503},
		{name: "unknown role", answer: func(id uint16) []byte { return endRecord(id, 0, statusUnknownRole) }, code: 502},
		{name: "other request id", answer: func(id uint16) []byte { return ok(id + 1) }, code: 502},
		{name: "bad version", answer: func(id uint16) []byte { b := ok(id); b[0] = 2; return b }, code: 502},
		{name: "short end request", answer: func(id uint16) []byte {
			return append(stdout(id, "\r\n", 0), appendRecord(nil, typeEndRequest, id, []byte{0})...)
		}, code: 200, aborted: true},
		{name: "unexpected type", answer: func(id uint16) []byte { return appendRecord(nil, typeStdin, id, []byte("x")) }, code: 502},
		{name: "closed in header", answer: func(id uint16) []byte { return stdout(id, "Content-Type: te", 0) }, code: 502},
		{name: "closed in body", answer: func(id uint16) []byte { return stdout(id, "\r\nhalf a bo", 0) }, code: 200, body: "half a bo", aborted: true},
		{name: "closed in record", answer: func(id uint16) []byte { return stdout(id, "\r\nhalf a body", 0)[:12] }, code: 502},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
				req, err := readRequest(br)
				if err != nil {
					return
				}
				c.Write(tc.answer(req.id))
				// Then the connection closes.
			})
			logger, logs := newLogger()
			h := handler(t, ln, &Handler{Logger: logger})
			rec, aborted := serve(h, newRequest(t, "GET", "/x.php", nil))
			if rec.Code() != tc.code || aborted != tc.aborted || tc.code < 500 && rec.Body() != tc.body {
				t.Errorf("ServeHTTP = %d %q, aborted %v, want %d %q, aborted %v", rec.Code(), rec.Body(), aborted, tc.code, tc.body, tc.aborted)
			}
			for name, want := range tc.header {
				if got := rec.Header().Get(name); got != want {
					t.Errorf("header %s = %q, want %q", name, got, want)
				}
			}
			if (tc.code >= 500 || tc.aborted) && !strings.Contains(logs.String(), "fcgi: request failed") {
				t.Errorf("log = %q, want a request failed line", logs.String())
			}
			if tc.name == "stderr" && !strings.Contains(logs.String(), `line="PHP message: boom"`) {
				t.Errorf("log = %q, want the stderr line", logs.String())
			}
			if tc.code >= 500 && rec.Header().Get("X-A") != "" {
				t.Errorf("a failed response carries the backend's X-A header")
			}
		})
	}
}

func body(s string) func(uint16) []byte {
	return func(id uint16) []byte { return append(stdout(id, s, 0), endRecord(id, 0, statusRequestComplete)...) }
}

func split(s string, n int) func(uint16) []byte {
	return func(id uint16) []byte { return append(stdout(id, s, n), endRecord(id, 0, statusRequestComplete)...) }
}

func withStderr(e, s string) func(uint16) []byte {
	return func(id uint16) []byte {
		b := appendRecord(nil, typeStderr, id, []byte(e))
		b = append(b, stdout(id, s, 0)...)
		return append(b, endRecord(id, 0, statusRequestComplete)...)
	}
}

// lazyBody produces n bytes of a fixed pattern without holding them,
// and calls pause once after the first half.
type lazyBody struct {
	n, off int64
	pause  func()
}

func (b *lazyBody) Read(p []byte) (int, error) {
	if b.off >= b.n {
		return 0, io.EOF
	}
	if b.pause != nil && b.off >= b.n/2 {
		b.pause()
		b.pause = nil
	}
	n := int(min(int64(len(p)), b.n-b.off))
	for i := range n {
		p[i] = byte((b.off + int64(i)) % 251)
	}
	b.off += int64(n)
	return n, nil
}

func lazyMD5(n int64) string {
	m := md5.New()
	io.Copy(m, &lazyBody{n: n})
	return hex.EncodeToString(m.Sum(nil))
}

// TestLargeBodyStreamed sends 10 MB and checks both directions stream:
// the backend answers its header after reading 64 KiB, and the body
// source waits, halfway, until the client has that header. A Handler
// that buffered the body before the response would never get there.
func TestLargeBodyStreamed(t *testing.T) {
	const size = 10 << 20
	ln := fakeBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := md5.New()
		n, _ := io.CopyN(m, r.Body, 64<<10)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "started\n") // net/http/fcgi sends no header before a write
		w.(http.Flusher).Flush()
		k, err := io.Copy(m, r.Body)
		fmt.Fprintf(w, "%d %x %v", n+k, m.Sum(nil), err)
	}))
	h := handler(t, ln, nil)
	rec := newRecorder()
	body := &lazyBody{n: size, pause: func() {
		select {
		case <-rec.wrote:
		case <-time.After(5 * time.Second):
			t.Errorf("no response header while the body was half sent: the body is not streamed")
		}
	}}
	r := newRequest(t, "POST", "/upload.php", body)
	r.ContentLength = size
	h.ServeHTTP(rec, r)
	want := fmt.Sprintf("started\n%d %s <nil>", size, lazyMD5(size))
	if rec.Code() != 200 || rec.Body() != want {
		t.Errorf("ServeHTTP(POST 10 MB) = %d %q, want 200 %q", rec.Code(), rec.Body(), want)
	}
}

// TestSpooledBody sends bodies of unknown length, which are stored to
// learn CONTENT_LENGTH.
func TestSpooledBody(t *testing.T) {
	seen := make(chan *request, 1)
	ln := rawBackend(t, answering(seen, ok))
	h := handler(t, ln, nil)
	for _, n := range []int64{1, spoolMem - 1, spoolMem, spoolMem + 1, 300 << 10} {
		t.Run(strconv.FormatInt(n, 10), func(t *testing.T) {
			r := newRequest(t, "POST", "/x.php", io.NopCloser(&lazyBody{n: n}))
			r.ContentLength = -1
			rec, _ := serve(h, r)
			if rec.Code() != 200 {
				t.Fatalf("ServeHTTP(chunked POST of %d bytes) = %d, want 200", n, rec.Code())
			}
			req := <-seen
			if got := req.params["CONTENT_LENGTH"]; got != strconv.FormatInt(n, 10) {
				t.Errorf("CONTENT_LENGTH = %q, want %d", got, n)
			}
			m := md5.Sum(req.stdin)
			if got := hex.EncodeToString(m[:]); got != lazyMD5(n) {
				t.Errorf("stdin of %d bytes differs from the %d sent", len(req.stdin), n)
			}
		})
	}
}

func TestKeepConn(t *testing.T) {
	for _, tc := range []struct {
		name      string
		keepalive int
		want      int64
	}{
		{"kept", 0, 1},
		{"off", -1, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := fakeBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				fmt.Fprintf(w, "%d", len(b))
			}))
			h := handler(t, ln, &Handler{Keepalive: tc.keepalive})
			for i := range 6 {
				var body io.Reader
				if i%2 == 1 {
					body = strings.NewReader(strings.Repeat("x", i*1000))
				}
				rec, _ := serve(h, newRequest(t, "POST", "/x.php", body))
				if want := strconv.Itoa(i % 2 * i * 1000); rec.Code() != 200 || rec.Body() != want {
					t.Fatalf("request %d = %d %q, want 200 %q", i, rec.Code(), rec.Body(), want)
				}
			}
			if got := ln.accepted.Load(); got != tc.want {
				t.Errorf("6 requests with Keepalive %d opened %d connections, want %d", tc.keepalive, got, tc.want)
			}
		})
	}
}

// TestRequestIDs checks that each request on a kept connection gets the
// next id, so a stale record cannot pass for a later request's.
func TestRequestIDs(t *testing.T) {
	seen := make(chan *request, 3)
	ln := rawBackend(t, answering(seen, ok))
	h := handler(t, ln, nil)
	for i := range 3 {
		serve(h, newRequest(t, "GET", "/x.php", nil))
		req := <-seen
		if want := uint16(i + 1); req.id != want || !req.keepConn {
			t.Errorf("request %d: id %d, keep-conn %v, want id %d with keep-conn", i, req.id, req.keepConn, want)
		}
	}
}

// TestClosedIdleConn: a kept connection that the backend closed (php-fpm
// recycling a worker) is not used again.
func TestClosedIdleConn(t *testing.T) {
	ln := fakeBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	h := handler(t, ln, nil)
	for i := range 3 {
		rec, _ := serve(h, newRequest(t, "POST", "/x.php", strings.NewReader("body")))
		if rec.Code() != 200 {
			t.Fatalf("request %d = %d %q, want 200", i, rec.Code(), rec.Body())
		}
		ln.closeConns()
		eventually(t, func() bool { return h.state().pool.idleCount() == 1 })
		time.Sleep(10 * time.Millisecond) // for the FIN to arrive
	}
	if got := ln.accepted.Load(); got != 3 {
		t.Errorf("accepted %d connections, want 3", got)
	}
}

// hiddenConn hides the socket, so alive cannot check it.
type hiddenConn struct{ net.Conn }

// TestRetry: a GET that fails on a kept connection before any response
// is sent again on a new one; a POST is not.
func TestRetry(t *testing.T) {
	ln := fakeBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	h := handler(t, ln, &Handler{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return hiddenConn{c}, err
	}})
	for _, tc := range []struct {
		method string
		body   io.Reader
		code   int
	}{
		{"GET", nil, 200},
		{"POST", strings.NewReader("x"), 502},
	} {
		rec, _ := serve(h, newRequest(t, "GET", "/x.php", nil))
		if rec.Code() != 200 {
			t.Fatalf("first request = %d, want 200", rec.Code())
		}
		ln.closeConns()
		time.Sleep(10 * time.Millisecond)
		rec, _ = serve(h, newRequest(t, tc.method, "/x.php", tc.body))
		if rec.Code() != tc.code {
			t.Errorf("%s on a closed kept connection = %d %q, want %d", tc.method, rec.Code(), rec.Body(), tc.code)
		}
	}
}

func TestErrors(t *testing.T) {
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused.Close()
	// Backends that answer nothing, or a header and a little body, then
	// wait until the connection closes.
	hang := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		io.Copy(io.Discard, br)
	})
	slowBody := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		req, err := readRequest(br)
		if err != nil {
			return
		}
		c.Write(stdout(req.id, "\r\nfirst", 0))
		io.Copy(io.Discard, br)
	})
	tests := []struct {
		name    string
		h       *Handler
		addr    string
		req     func(t *testing.T) *http.Request
		code    int
		aborted bool
		cause   string
	}{
		{name: "connection refused", addr: refused.Addr().String(), code: 502, cause: "connection refused"},
		{name: "no such socket", addr: "unix:/nonexistent/php.sock", code: 502, cause: "no such file"},
		{
			name: "dial timeout", code: 504, cause: "dial",
			h: &Handler{Timeouts: Timeouts{Dial: 50 * time.Millisecond}, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}},
		},
		{name: "read timeout", addr: hang.Addr().String(), h: &Handler{Timeouts: Timeouts{Read: 50 * time.Millisecond}}, code: 504, cause: "timeout"},
		{name: "read timeout in body", addr: slowBody.Addr().String(), h: &Handler{Timeouts: Timeouts{Read: 50 * time.Millisecond}}, code: 200, aborted: true, cause: "timeout"},
		{
			name: "request deadline", addr: hang.Addr().String(), code: 504, cause: "aborted",
			req: func(t *testing.T) *http.Request {
				r := newRequest(t, "GET", "/x.php", nil)
				ctx, cancel := context.WithTimeout(r.Context(), 50*time.Millisecond)
				t.Cleanup(cancel)
				return r.WithContext(ctx)
			},
		},
		{
			name: "client gone", addr: hang.Addr().String(), code: 0, cause: "aborted",
			req: func(t *testing.T) *http.Request {
				r := newRequest(t, "GET", "/x.php", nil)
				ctx, cancel := context.WithCancel(r.Context())
				time.AfterFunc(50*time.Millisecond, cancel)
				return r.WithContext(ctx)
			},
		},
		{
			name: "bad path", code: 400, cause: "invalid request path",
			req: func(t *testing.T) *http.Request {
				r := newRequest(t, "GET", "/x.php", nil)
				r.URL.Path = "/x\x00.php"
				return r
			},
		},
		{
			name: "body too large", addr: hang.Addr().String(), code: 413, cause: "too large",
			req: func(t *testing.T) *http.Request {
				r := newRequest(t, "POST", "/x.php", strings.NewReader(strings.Repeat("x", 100<<10)))
				r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10<<10)
				r.ContentLength = -1
				return r
			},
		},
		{
			name: "body cut short", addr: hang.Addr().String(), code: 400, cause: "unexpected EOF",
			req: func(t *testing.T) *http.Request {
				r := newRequest(t, "POST", "/x.php", strings.NewReader("short"))
				r.ContentLength = 100
				return r
			},
		},
		{name: "no root", h: &Handler{Root: "-"}, code: 500, cause: "no document root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := newLogger()
			h := tc.h
			if h == nil {
				h = &Handler{}
			}
			h.Logger = logger
			switch h.Root {
			case "-":
				h.Root = ""
			case "":
				h.Root = "/var/www"
			}
			h.Addr = cmpOrString(tc.addr, "127.0.0.1:1")
			defer h.Close()
			var r *http.Request
			if tc.req != nil {
				r = tc.req(t)
			} else {
				r = newRequest(t, "GET", "/x.php", nil)
			}
			start := time.Now()
			rec, aborted := serve(h, r)
			if rec.Code() != tc.code || aborted != tc.aborted {
				t.Errorf("ServeHTTP = %d %q, aborted %v, want %d, aborted %v", rec.Code(), rec.Body(), aborted, tc.code, tc.aborted)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("ServeHTTP took %v", d)
			}
			if !strings.Contains(logs.String(), "fcgi: request failed") || !strings.Contains(logs.String(), tc.cause) {
				t.Errorf("log = %q, want a request failed line with %q", logs.String(), tc.cause)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    *Handler
		want error
	}{
		{"ok", &Handler{Addr: "127.0.0.1:9000", Root: "/var/www"}, nil},
		{"script filename", &Handler{Addr: "127.0.0.1:9000", Params: []Param{{"SCRIPT_FILENAME", "/app/index.php"}}}, nil},
		{"document root", &Handler{Addr: "127.0.0.1:9000", Params: []Param{{"DOCUMENT_ROOT", "/app"}}}, nil},
		{"no addr", &Handler{Root: "/var/www"}, errNoAddr},
		{"no root", &Handler{Addr: "127.0.0.1:9000"}, errNoRoot},
		{"document root with variables", &Handler{Addr: "127.0.0.1:9000", Params: []Param{{"DOCUMENT_ROOT", "$host"}}}, errNoRoot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.h.Validate(); !errors.Is(err, tc.want) {
				t.Errorf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNetwork(t *testing.T) {
	for _, tc := range []struct {
		network, addr            string
		wantNetwork, wantAddress string
	}{
		{"", "127.0.0.1:9000", "tcp", "127.0.0.1:9000"},
		{"", "unix:/run/php/php-fpm.sock", "unix", "/run/php/php-fpm.sock"},
		{"", "/run/php/php-fpm.sock", "unix", "/run/php/php-fpm.sock"},
		{"unix", "unix:/run/php.sock", "unix", "/run/php.sock"},
		{"tcp6", "[::1]:9000", "tcp6", "[::1]:9000"},
	} {
		h := &Handler{Network: tc.network, Addr: tc.addr, Root: "/"}
		s := h.state()
		if s.network != tc.wantNetwork || s.addr != tc.wantAddress {
			t.Errorf("Handler{Network: %q, Addr: %q} dials %s %s, want %s %s", tc.network, tc.addr, s.network, s.addr, tc.wantNetwork, tc.wantAddress)
		}
	}
}

func TestUnixSocket(t *testing.T) {
	sock := t.TempDir() + "/fpm.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go stdfcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "over unix") }))
	defer ln.Close()
	h := &Handler{Addr: "unix:" + sock, Root: "/"}
	defer h.Close()
	rec, _ := serve(h, newRequest(t, "GET", "/x.php", nil))
	if rec.Code() != 200 || rec.Body() != "over unix" {
		t.Errorf("ServeHTTP over a unix socket = %d %q, want 200 %q", rec.Code(), rec.Body(), "over unix")
	}
}

// TestMaxConns: requests beyond MaxConns wait for a connection, then get
// 503.
func TestMaxConns(t *testing.T) {
	release := make(chan struct{})
	ln := fakeBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold.php" {
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
		io.WriteString(w, "ok")
	}))
	h := handler(t, ln, &Handler{MaxConns: 1, Timeouts: Timeouts{Dial: 100 * time.Millisecond}})
	held := make(chan int)
	go func() {
		rec, _ := serve(h, newRequest(t, "GET", "/hold.php", nil))
		held <- rec.Code()
	}()
	eventually(t, func() bool { return ln.accepted.Load() == 1 })
	if rec, _ := serve(h, newRequest(t, "GET", "/x.php", nil)); rec.Code() != 503 {
		t.Errorf("request beyond MaxConns = %d, want 503", rec.Code())
	}
	close(release)
	if code := <-held; code != 200 {
		t.Errorf("held request = %d, want 200", code)
	}
	if rec, _ := serve(h, newRequest(t, "GET", "/x.php", nil)); rec.Code() != 200 {
		t.Errorf("request after the release = %d, want 200", rec.Code())
	}
}

// TestConcurrent runs many requests at once through a few connections.
func TestConcurrent(t *testing.T) {
	ln := fakeBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s:%d", r.URL.Query().Get("i"), len(b))
	}))
	h := handler(t, ln, &Handler{MaxConns: 4})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			var body io.Reader
			if i%3 == 0 {
				body = strings.NewReader(strings.Repeat("y", i*100))
			}
			rec, _ := serve(h, newRequest(t, "POST", "/x.php?i="+strconv.Itoa(i), body))
			want := fmt.Sprintf("%d:%d", i, (1-min(i%3, 1))*i*100)
			if rec.Code() != 200 || rec.Body() != want {
				t.Errorf("request %d = %d %q, want 200 %q", i, rec.Code(), rec.Body(), want)
			}
		})
	}
	wg.Wait()
	if got := ln.accepted.Load(); got > 4 {
		t.Errorf("MaxConns 4 opened %d connections, want them kept and reused", got)
	}
}

// TestStreaming: the body reaches the client as the backend flushes it.
func TestStreaming(t *testing.T) {
	next := make(chan struct{})
	ln := fakeBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-next:
			io.WriteString(w, "second\n")
		case <-time.After(5 * time.Second):
			io.WriteString(w, "timed out\n")
		}
	}))
	h := handler(t, ln, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/stream.php")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if line != "first\n" || err != nil {
		t.Fatalf("first line = %q, %v, want %q", line, err, "first\n")
	}
	close(next)
	rest, err := io.ReadAll(br)
	if string(rest) != "second\n" || err != nil {
		t.Errorf("rest = %q, %v, want %q", rest, err, "second\n")
	}
}

// TestAbortedResponse: over a real HTTP connection, a backend dying in
// the body leaves the client with an error, not a short success.
func TestAbortedResponse(t *testing.T) {
	ln := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		req, err := readRequest(br)
		if err != nil {
			return
		}
		c.Write(stdout(req.id, "Content-Type: text/plain\r\n\r\nhalf", 0))
	})
	h := handler(t, ln, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/x.php")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil {
		t.Errorf("reading a response the backend cut = %q, nil error, want an error", b)
	}
}

// TestStarvation: a new connection without response for starveAfter
// gets a backend worker freed: an idle connection is closed, or else the
// next one to come back.
func TestStarvation(t *testing.T) {
	p := newPool(nil, Timeouts{Idle: time.Minute}, 0, 8)
	defer p.close()
	pipe := func() (*conn, net.Conn) {
		c1, c2 := net.Pipe()
		t.Cleanup(func() { c2.Close() })
		return newConn(c1, Timeouts{}), c1
	}
	closed := func(nc net.Conn) bool {
		nc.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
		_, err := nc.Write([]byte("x"))
		return errors.Is(err, io.ErrClosedPipe)
	}
	idle, idleNC := pipe()
	p.put(idle, true)
	if d := p.starving(); d != nil || p.idleCount() != 0 || !closed(idleNC) {
		t.Errorf("starving() with one idle = %v, leaving %d idle, want nil and the idle one closed", d, p.idleCount())
	}
	d1, d2 := p.starving(), p.starving()
	if d1 == nil || d2 == nil {
		t.Fatalf("starving() with none idle = nil, want a debt")
	}
	back, backNC := pipe()
	p.put(back, true)
	if n := p.idleCount(); n != 0 || !closed(backNC) || !d1.settled || d2.settled {
		t.Errorf("put after starving kept %d idle, settled %v %v, want the connection closed, the first debt settled", n, d1.settled, d2.settled)
	}
	// d2's connection got its response after all, and d1's too, later.
	p.forgive([]*debt{d2})
	p.forgive([]*debt{d1})
	next, nextNC := pipe()
	p.put(next, true)
	if n := p.idleCount(); n != 1 || closed(nextNC) {
		t.Errorf("put with nothing owed kept %d idle, want 1", n)
	}
}

// TestWatch: a watch frees workers after starveAfter, then backs off, and
// forgives its debts when stopped.
func TestWatch(t *testing.T) {
	p := newPool(nil, Timeouts{Idle: time.Minute}, 0, 8)
	defer p.close()
	w := p.watch()
	time.Sleep(starveAfter + starveAfter/2)
	p.mu.Lock()
	n := len(p.debts)
	p.mu.Unlock()
	if n != 1 {
		t.Errorf("debts after 1.5 starveAfter = %d, want 1", n)
	}
	w.stop()
	w.stop()
	p.mu.Lock()
	n = len(p.debts)
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("debts after stop = %d, want 0", n)
	}
}

// TestIdleTimeout: idle connections are closed after Timeouts.Idle.
func TestIdleTimeout(t *testing.T) {
	ln := fakeBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	h := handler(t, ln, &Handler{Timeouts: Timeouts{Idle: 50 * time.Millisecond}})
	serve(h, newRequest(t, "GET", "/x.php", nil))
	if n := h.state().pool.idleCount(); n != 1 {
		t.Fatalf("idle connections after a request = %d, want 1", n)
	}
	eventually(t, func() bool { return h.state().pool.idleCount() == 0 })
}

func TestStderrLog(t *testing.T) {
	logger, logs := newLogger()
	l := stderrLog{logger: logger, ctx: context.Background()}
	l.write([]byte("one\r\ntw"))
	l.write([]byte("o\n\nthree\n"))
	l.write([]byte(strings.Repeat("x", 2*maxStderrLine) + "\n"))
	for range maxStderrBytes / 100 {
		l.write([]byte(strings.Repeat("y", 100) + "\n"))
	}
	l.flush()
	l.logged = 0
	l.write([]byte("four"))
	l.flush()
	out := logs.String()
	for _, want := range []string{"line=one\n", "line=two\n", "line=three\n", "line=four\n", "truncated=true", "stderr dropped"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(out, strings.Repeat("x", maxStderrLine+1)) {
		t.Errorf("a line longer than %d bytes was logged", maxStderrLine)
	}
	if n := strings.Count(out, "\n"); n > maxStderrBytes/100+5 {
		t.Errorf("%d log lines, want the stderr bounded", n)
	}
}

func TestMapPath(t *testing.T) {
	for _, tc := range []struct {
		in                  string
		clean, script, info string
		err                 bool
	}{
		{"/", "/", "/index.php", "", false},
		{"", "/", "/index.php", "", false},
		{"/a.php", "/a.php", "/a.php", "", false},
		{"/a.php/", "/a.php/", "/a.php", "/", false},
		{"/a.php/b/c", "/a.php/b/c", "/a.php", "/b/c", false},
		{"/a.php.bak", "/a.php.bak", "/a.php.bak", "", false},
		{"/x/../../a.php", "/a.php", "/a.php", "", false},
		{"/x/./", "/x/", "/x/index.php", "", false},
		{"/.well-known/x", "/.well-known/x", "/.well-known/x", "", false},
		{"/uploads/a.jpg/b.php", "/uploads/a.jpg/b.php", "/uploads/a.jpg/b.php", "", false},
		{"*", "", "", "", true},
		{"/a\n.php", "", "", "", true},
		{"/a.php/\x7f", "", "", "", true},
	} {
		clean, script, info, err := mapPath(tc.in, ".php", "index.php")
		if clean != tc.clean || script != tc.script || info != tc.info || (err != nil) != tc.err {
			t.Errorf("mapPath(%q) = %q, %q, %q, %v, want %q, %q, %q, error %v", tc.in, clean, script, info, err, tc.clean, tc.script, tc.info, tc.err)
		}
	}
}

// TestLargeParams: params beyond one record are split over several.
func TestLargeParams(t *testing.T) {
	seen := make(chan *request, 1)
	ln := rawBackend(t, answering(seen, ok))
	h := handler(t, ln, nil)
	r := newRequest(t, "GET", "/x.php", nil)
	big := strings.Repeat("z", 100<<10)
	r.Header.Set("X-Big", big)
	if rec, _ := serve(h, r); rec.Code() != 200 {
		t.Fatalf("ServeHTTP with a 100 KiB header = %d, want 200", rec.Code())
	}
	if got := (<-seen).params["HTTP_X_BIG"]; got != big {
		t.Errorf("HTTP_X_BIG has %d bytes, want %d", len(got), len(big))
	}
}

// TestCloseKeepsNothing: after Close, connections are not kept.
func TestCloseKeepsNothing(t *testing.T) {
	ln := fakeBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	h := handler(t, ln, nil)
	serve(h, newRequest(t, "GET", "/x.php", nil))
	h.Close()
	if rec, _ := serve(h, newRequest(t, "GET", "/x.php", nil)); rec.Code() != 200 {
		t.Errorf("request after Close = %d, want 200", rec.Code())
	}
	if n := h.state().pool.idleCount(); n != 0 {
		t.Errorf("%d idle connections after Close, want 0", n)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
