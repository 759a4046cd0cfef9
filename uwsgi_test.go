package phalanx_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/uwsgi"
	"github.com/stretchr/testify/require"
)

// uwsgiPython3Plugin is where Debian's uwsgi-plugin-python3 puts the
// plugin that "--plugin python3" loads.
const uwsgiPython3Plugin = "/usr/lib/uwsgi/plugins/python3_plugin.so"

// uwsgiAppPy is the WSGI application the tests run under uWSGI.
const uwsgiAppPy = `
import hashlib, json, os, time, urllib.parse

def application(environ, start_response):
    path = environ['PATH_INFO']
    q = urllib.parse.parse_qs(environ.get('QUERY_STRING', ''))
    if path == '/ping':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'pong']
    if path.endswith('/echo'):
        env = {k: v for k, v in environ.items() if isinstance(v, str)}
        env['wsgi.url_scheme'] = environ['wsgi.url_scheme']
        body = json.dumps(env, sort_keys=True).encode()
        start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
        return [body]
    if path == '/upload':
        # Read in chunks: the body streams in from the socket.
        inp, h, n = environ['wsgi.input'], hashlib.sha256(), 0
        while True:
            chunk = inp.read(65536)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
        body = json.dumps({'size': n, 'sha256': h.hexdigest(), 'content_length': environ.get('CONTENT_LENGTH')}).encode()
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [body]
    if path == '/teapot':
        start_response("418 I'm a teapot", [('X-Teapot', 'short and stout'), ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')])
        return [b'no coffee here\n']
    if path.startswith('/status/'):
        code = int(path[len('/status/'):])
        start_response('%d Custom' % code, [('Content-Type', 'text/plain'), ('X-Status', str(code))])
        return [b'status %d\n' % code]
    if path == '/stream':
        marker = q['marker'][0]
        def gen():
            yield b'first\n'
            deadline = time.time() + 10
            while not os.path.exists(marker):
                if time.time() > deadline:
                    yield b'timeout\n'
                    return
                time.sleep(0.01)
            yield b'second\n'
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return gen()
    if path == '/slow':
        open(q['started'][0], 'w').close()
        time.sleep(30)
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'too late\n']
    start_response('404 Not Found', [('Content-Type', 'text/plain')])
    return [b'not found\n']
`

// uwsgiServer is a uWSGI process group serving uwsgiAppPy.
type uwsgiServer struct {
	addr   string // host:port, or "unix:" and a socket path
	dir    string // holds app.py; markers go here too
	cmd    *exec.Cmd
	out    *logSink
	exited chan struct{}
}

// needUWSGI returns the uwsgi binary, having checked for its python3
// plugin: missing, the test skips, or fails under PHALANX_REQUIRE_TOOLS.
func needUWSGI(t *testing.T) string {
	t.Helper()
	bin := needTool(t, "uwsgi")
	if _, err := os.Stat(uwsgiPython3Plugin); err != nil {
		missingTool(t, fmt.Sprintf("uwsgi's python3 plugin is missing (%v); ./scripts/test installs it (uwsgi-plugin-python3)", err))
	}
	return bin
}

// startUWSGI runs uWSGI with two worker processes on a loopback port, or
// on a unix socket, until the test ends, and waits until it answers.
func startUWSGI(t *testing.T, unix bool) *uwsgiServer {
	t.Helper()
	bin := needUWSGI(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app.py"), []byte(uwsgiAppPy), 0o644))
	for attempt := 0; ; attempt++ {
		var socket, addr string
		if unix {
			// A short path: t.TempDir's may pass the 108-byte limit.
			sdir, err := os.MkdirTemp("", "uw")
			require.NoError(t, err)
			t.Cleanup(func() { os.RemoveAll(sdir) })
			socket = filepath.Join(sdir, "app.sock")
			addr = "unix:" + socket
		} else {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			socket = l.Addr().String()
			l.Close()
			addr = socket
		}
		s := &uwsgiServer{addr: addr, dir: dir, out: &logSink{}, exited: make(chan struct{})}
		s.cmd = exec.Command(bin,
			"--plugin", "python3",
			"--uwsgi-socket", socket,
			"--wsgi-file", filepath.Join(dir, "app.py"),
			"--chdir", dir,
			"--master", "--processes", "2",
			"--die-on-term", "--need-app", "--no-orphans",
			"--disable-logging",
			// The largest packet uWSGI takes; 4096 by default.
			"--buffer-size", "65535")
		s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
		// A process group of its own, so that the master and its workers
		// die together.
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		require.NoError(t, s.cmd.Start())
		go func() {
			s.cmd.Wait()
			close(s.exited)
		}()
		t.Cleanup(s.kill)
		err := s.waitReady(10 * time.Second)
		if err == nil {
			return s
		}
		s.kill()
		if attempt < 2 && strings.Contains(s.out.String(), "Address already in use") {
			continue // lost the port between Close and uwsgi's bind
		}
		t.Fatalf("uwsgi on %s: %v; its output:\n%s", addr, err, s.out.String())
	}
}

// kill ends the whole process group and waits for the master.
func (s *uwsgiServer) kill() {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
}

// waitReady sends /ping until uWSGI answers it.
func (s *uwsgiServer) waitReady(d time.Duration) error {
	h := &uwsgi.Handler{Addr: s.addr, Logger: discard(), Timeouts: uwsgi.Timeouts{Dial: time.Second, Read: 5 * time.Second}}
	deadline := time.Now().Add(d)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("exited early (%v)", s.cmd.ProcessState)
		default:
		}
		rec := &uwsgiRecorder{h: http.Header{}}
		req, _ := http.NewRequest("GET", "http://ping.test/ping", nil)
		h.ServeHTTP(rec, req)
		if rec.code == http.StatusOK && rec.body.String() == "pong" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering after %v (last status %d)", d, rec.code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// uwsgiRecorder is a minimal http.ResponseWriter.
type uwsgiRecorder struct {
	h    http.Header
	code int
	body strings.Builder
}

func (r *uwsgiRecorder) Header() http.Header { return r.h }
func (r *uwsgiRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *uwsgiRecorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

// uwsgiProxy starts a Server whose routes go to s through uwsgi.Handler;
// /mounted/ also sets uwsgi_params. The body limit is off, so that large
// uploads pass, and the header limit high, so that the 64 KiB packet
// limit is the one met.
func uwsgiProxy(t *testing.T, s *uwsgiServer, opts ...phalanx.Option) string {
	t.Helper()
	url, _ := startProxy(t, append([]phalanx.Option{
		phalanx.WithMaxHeaderBytes(256 << 10),
		phalanx.WithRoute(phalanx.Route{Path: "/", MaxBodyBytes: -1, Handler: &uwsgi.Handler{Addr: s.addr, Logger: discard()}}),
		phalanx.WithRoute(phalanx.Route{Path: "/mounted/", Handler: &uwsgi.Handler{Addr: s.addr, Logger: discard(),
			Params: []uwsgi.Param{{Name: "SCRIPT_NAME", Value: "/mounted"}, {Name: "UWSGI_SCHEME", Value: "https"}}}}),
	}, opts...)...)
	return url
}

// uwsgiEcho GETs target from /echo-style routes and decodes the environ.
func uwsgiEcho(t *testing.T, c *http.Client, target string, hdr map[string]string) map[string]string {
	t.Helper()
	req, err := http.NewRequest("GET", target, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "GET %s: %s", target, body)
	env := map[string]string{}
	require.NoError(t, json.Unmarshal(body, &env), "GET %s: %s", target, body)
	return env
}

// TestUWSGI runs requests through phalanx to a real uWSGI running a
// Python WSGI application.
func TestUWSGI(t *testing.T) {
	checkNoLeaks(t)
	s := startUWSGI(t, false)
	base := uwsgiProxy(t, s)
	c := client(t)

	t.Run("GET with query string", func(t *testing.T) {
		env := uwsgiEcho(t, c, base+"/echo?a=1&b=%zz&c=x+y", nil)
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
		for k, want := range map[string]string{
			"REQUEST_METHOD":  "GET",
			"QUERY_STRING":    "a=1&b=%zz&c=x+y",
			"REQUEST_URI":     "/echo?a=1&b=%zz&c=x+y",
			"PATH_INFO":       "/echo",
			"SERVER_PROTOCOL": "HTTP/1.1",
			"SERVER_PORT":     port,
			"SERVER_NAME":     "127.0.0.1",
			"REMOTE_ADDR":     "127.0.0.1",
			"REQUEST_SCHEME":  "http",
			"wsgi.url_scheme": "http",
		} {
			if env[k] != want {
				t.Errorf("environ[%s] = %q, want %q", k, env[k], want)
			}
		}
	})

	t.Run("request headers", func(t *testing.T) {
		env := uwsgiEcho(t, c, base+"/echo", map[string]string{
			"X-Custom": "v1", "Cookie": "a=1; b=2", "User-Agent": "phalanx-test",
			"Proxy": "http://evil.example:3128", "X_Custom": "spoofed",
		})
		for k, want := range map[string]string{"HTTP_X_CUSTOM": "v1", "HTTP_COOKIE": "a=1; b=2", "HTTP_USER_AGENT": "phalanx-test"} {
			if env[k] != want {
				t.Errorf("environ[%s] = %q, want %q", k, env[k], want)
			}
		}
		if v, ok := env["HTTP_PROXY"]; ok {
			t.Errorf("environ[HTTP_PROXY] = %q, want it absent (httpoxy)", v)
		}
		if !strings.HasPrefix(env["HTTP_HOST"], "127.0.0.1:") {
			t.Errorf("environ[HTTP_HOST] = %q, want the proxy's host:port", env["HTTP_HOST"])
		}
	})

	t.Run("uwsgi_param", func(t *testing.T) {
		env := uwsgiEcho(t, c, base+"/mounted/echo", nil)
		for k, want := range map[string]string{"SCRIPT_NAME": "/mounted", "wsgi.url_scheme": "https", "PATH_INFO": "/mounted/echo"} {
			if env[k] != want {
				t.Errorf("environ[%s] = %q, want %q", k, env[k], want)
			}
		}
	})

	t.Run("status and response headers", func(t *testing.T) {
		res, err := c.Get(base + "/teapot")
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusTeapot || string(body) != "no coffee here\n" {
			t.Errorf("GET /teapot = %d %q, want 418 \"no coffee here\\n\"", res.StatusCode, body)
		}
		if got := res.Header.Get("X-Teapot"); got != "short and stout" {
			t.Errorf("X-Teapot = %q, want %q", got, "short and stout")
		}
		if got := res.Header.Values("Set-Cookie"); strings.Join(got, "|") != "a=1|b=2" {
			t.Errorf("Set-Cookie = %q, want [a=1 b=2]", got)
		}
		for _, code := range []int{201, 302, 404, 503} {
			res, err := c.Get(base + "/status/" + strconv.Itoa(code))
			require.NoError(t, err)
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != code || res.Header.Get("X-Status") != strconv.Itoa(code) {
				t.Errorf("GET /status/%d = %d, X-Status %q", code, res.StatusCode, res.Header.Get("X-Status"))
			}
		}
	})

	t.Run("streamed response", func(t *testing.T) {
		marker := filepath.Join(s.dir, "stream-marker")
		res, err := c.Get(base + "/stream?marker=" + url.QueryEscape(marker))
		require.NoError(t, err)
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		first, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "first\n", first)
		// The application waits for this file before its second chunk:
		// the first arrived on its own.
		require.NoError(t, os.WriteFile(marker, nil, 0o644))
		rest, err := io.ReadAll(br)
		require.NoError(t, err)
		if string(rest) != "second\n" {
			t.Errorf("rest of the stream = %q, want %q", rest, "second\n")
		}
	})

	t.Run("10 MB POST is streamed", func(t *testing.T) {
		uwsgiUpload(t, c, base)
	})

	t.Run("vars over 64 KiB get 431", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/echo", nil)
		req.Header.Set("X-Big", strings.Repeat("b", 70<<10))
		res, err := c.Do(req)
		require.NoError(t, err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status = %d, want 431", res.StatusCode)
		}
	})
}

// uwsgiBody is a deterministic request body of n bytes made on the fly,
// so that the test itself holds none of it in memory.
type uwsgiBody struct{ n, off int64 }

func (b *uwsgiBody) Read(p []byte) (int, error) {
	if b.off >= b.n {
		return 0, io.EOF
	}
	if rest := b.n - b.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	for i := range p {
		x := b.off + int64(i)
		p[i] = byte(x*7 + x>>11)
	}
	b.off += int64(len(p))
	return len(p), nil
}

// uwsgiUpload POSTs 10 MB through the proxy and checks that the
// application read it all, and that the test process's heap did not grow
// by anything like the body's size.
//
// The heap is measured from inside: a goroutine samples
// runtime.MemStats.HeapAlloc every 5ms while the request runs, and the
// peak is compared with the heap right after a GC before it. Client,
// proxy and Handler all run in this process, so a copy of the body held
// anywhere among them would show as 10 MB of growth. The GC percent is
// lowered to 10 for the duration, so that garbage waiting for a
// collection (the heap goal is 4 MB at the default 100) is not mistaken
// for a buffered body.
func uwsgiUpload(t *testing.T, c *http.Client, base string) {
	const size = 10 << 20
	hs := sha256.New()
	io.Copy(hs, &uwsgiBody{n: size})
	wantSum := hex.EncodeToString(hs.Sum(nil))

	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapAlloc
	stop := make(chan struct{})
	peakc := make(chan uint64)
	go func() {
		peak := baseline
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				peakc <- peak
				return
			case <-tick.C:
			}
		}
	}()
	req, _ := http.NewRequest("POST", base+"/upload", &uwsgiBody{n: size})
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	start := time.Now()
	res, err := c.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	close(stop)
	peak := <-peakc
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	var got struct {
		Size          int64  `json:"size"`
		Sha256        string `json:"sha256"`
		ContentLength string `json:"content_length"`
	}
	require.NoError(t, json.Unmarshal(body, &got), "%s", body)
	if got.Size != size || got.Sha256 != wantSum || got.ContentLength != strconv.Itoa(size) {
		t.Errorf("application read %d bytes (CONTENT_LENGTH %s) with sha256 %s, want %d with %s", got.Size, got.ContentLength, got.Sha256, size, wantSum)
	}
	growth := int64(peak) - int64(baseline)
	t.Logf("10 MB upload in %v: heap %d KiB before, peak %d KiB during, growth %d KiB",
		time.Since(start).Round(time.Millisecond), baseline>>10, peak>>10, growth>>10)
	if growth > 4<<20 {
		t.Errorf("heap grew by %d KiB during a 10 MB upload, want under 4 MiB: the body is being buffered", growth>>10)
	}
}

// TestUWSGIUnixSocket reaches uWSGI on a unix socket, given in nginx's
// "unix:/path" form.
func TestUWSGIUnixSocket(t *testing.T) {
	checkNoLeaks(t)
	s := startUWSGI(t, true)
	base := uwsgiProxy(t, s)
	env := uwsgiEcho(t, client(t), base+"/echo?over=unix", nil)
	if env["QUERY_STRING"] != "over=unix" {
		t.Errorf("environ[QUERY_STRING] = %q, want %q", env["QUERY_STRING"], "over=unix")
	}
}

// TestUWSGIKilledMidRequest kills uWSGI while its application is in the
// middle of a request: the client gets 502 and the log says why.
func TestUWSGIKilledMidRequest(t *testing.T) {
	checkNoLeaks(t)
	s := startUWSGI(t, false)
	logger, logs := newLogger()
	base, _ := startProxy(t, phalanx.WithLogger(logger),
		phalanx.WithRoute(phalanx.Route{Path: "/", Handler: &uwsgi.Handler{Addr: s.addr, Logger: logger}}))
	started := filepath.Join(s.dir, "slow-started")
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/slow?started="+url.QueryEscape(started), nil)
		res, err := client(t).Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		done <- result{code: res.StatusCode}
	}()
	eventually(t, 10*time.Second, "the application to start the slow request", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	s.kill()
	select {
	case r := <-done:
		require.NoError(t, r.err)
		if r.code != http.StatusBadGateway {
			t.Errorf("status = %d, want 502", r.code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no response 10s after uwsgi was killed")
	}
	if lines := logs.lines("uwsgi: the application closed the connection before the response header"); len(lines) != 1 {
		t.Errorf("want one log line about the closed connection, got %d; log:\n%s", len(lines), logs.String())
	}
	// With uWSGI gone, the next request cannot connect.
	code, _ := get(t, client(t), base+"/echo")
	if code != http.StatusBadGateway {
		t.Errorf("after the kill: status %d, want 502", code)
	}
	if lines := logs.lines("uwsgi: connect failed"); len(lines) != 1 {
		t.Errorf("want one log line about the failed connect, got %d; log:\n%s", len(lines), logs.String())
	}
}
