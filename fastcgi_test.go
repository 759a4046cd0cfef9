package phalanx_test

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/fcgi"
	"github.com/stretchr/testify/require"
)

// End-to-end tests of fastcgi_pass routes against a real php-fpm, started
// per test with its own config, port and document root.

// fpmScripts are the PHP scripts of the test document root.
var fpmScripts = map[string]string{
	// env.php reports what PHP sees of the request, as JSON.
	"env.php": `<?php
header('X-Reply: from php');
header('Content-Type: application/json');
$keys = ['SCRIPT_FILENAME', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'REQUEST_METHOD',
  'REQUEST_URI', 'DOCUMENT_URI', 'DOCUMENT_ROOT', 'SERVER_PROTOCOL', 'SERVER_SOFTWARE',
  'GATEWAY_INTERFACE', 'REMOTE_ADDR', 'SERVER_NAME', 'SERVER_PORT', 'HTTP_HOST', 'HTTP_X_TEST',
  'HTTP_PROXY', 'APP_ENV', 'CONTENT_TYPE', 'CONTENT_LENGTH', 'HTTPS', 'REDIRECT_STATUS'];
$server = [];
foreach ($keys as $k) { $server[$k] = isset($_SERVER[$k]) ? $_SERVER[$k] : null; }
echo json_encode(['get' => (object)$_GET, 'post' => (object)$_POST, 'server' => $server]);
`,
	"dir/index.php": `<?php echo "index of ", $_SERVER['SCRIPT_NAME'];`,
	// upload.php reads the body in chunks, as it comes.
	"upload.php": `<?php
$in = fopen('php://input', 'rb');
$h = hash_init('md5');
$n = 0;
while (!feof($in)) {
  $b = fread($in, 65536);
  if ($b === false) { break; }
  $n += strlen($b);
  hash_update($h, $b);
}
echo $n, ' ', hash_final($h);
`,
	"status.php": `<?php
http_response_code(418);
header('X-Custom: teapot');
setcookie('a', '1');
setcookie('b', '2');
echo 'short and stout';
`,
	"redirect.php": `<?php header('Location: /elsewhere'); echo 'moved';`,
	// stream.php sends a first line, then waits (boundedly) for the test
	// to create the marker file, which it does only once that line has
	// arrived.
	"stream.php": `<?php
echo "first\n";
flush();
$marker = $_GET['marker'];
for ($i = 0; $i < 500 && !file_exists($marker); $i++) { usleep(10000); clearstatcache(); }
echo file_exists($marker) ? "second\n" : "timed out\n";
`,
	// sleep.php marks that it started, then sleeps.
	"sleep.php": `<?php
touch($_GET['marker']);
usleep((int)$_GET['ms'] * 1000);
echo 'slept';
`,
	"stderr.php": `<?php error_log('marker-from-php'); echo 'logged';`,
}

// fpm is a php-fpm started for one test.
type fpm struct {
	addr string // 127.0.0.1:port, or unix:/path
	root string // the document root
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process exits
	out  logSink       // its stdout and stderr
}

// needPHPFPM returns the path of php-fpm: on PATH, or Debian's
// /usr/sbin/php-fpmX.Y. Without one, the test skips, or fails when
// PHALANX_REQUIRE_TOOLS is set.
func needPHPFPM(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("php-fpm"); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/sbin/php-fpm*")
	if len(matches) == 0 {
		missingTool(t, "php-fpm not found (neither on PATH nor /usr/sbin/php-fpm*); ./scripts/test installs it")
	}
	slices.Sort(matches)
	return matches[len(matches)-1]
}

// startFPM starts php-fpm with a static pool of children workers,
// listening on a loopback port (or a unix socket), serving fpmScripts.
// It is killed, with its workers, when the test ends.
func startFPM(t *testing.T, children int, unix bool) *fpm {
	t.Helper()
	bin := needPHPFPM(t)
	f := &fpm{dir: t.TempDir(), done: make(chan struct{})}
	f.root = filepath.Join(f.dir, "www")
	for name, src := range fpmScripts {
		p := filepath.Join(f.root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	}
	listen, dialNet, dialAddr := "", "tcp", ""
	if unix {
		listen = filepath.Join(f.dir, "fpm.sock")
		f.addr, dialNet, dialAddr = "unix:"+listen, "unix", listen
	} else {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		listen = l.Addr().String()
		l.Close()
		f.addr, dialAddr = listen, listen
	}
	conf := fmt.Sprintf(`[global]
error_log = %[1]s/fpm.log
pid = %[1]s/fpm.pid
daemonize = no

[test]
listen = %[2]s
pm = static
pm.max_children = %[3]d
clear_env = no
catch_workers_output = yes
php_admin_value[post_max_size] = 32M
php_admin_value[output_buffering] = 0
php_admin_value[max_execution_time] = 30
php_admin_flag[log_errors] = on
`, f.dir, listen, children)
	confPath := filepath.Join(f.dir, "php-fpm.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o644))
	args := []string{"-n", "-F", "-O", "-y", confPath}
	if os.Geteuid() == 0 {
		args = append(args, "-R") // php-fpm refuses root otherwise
	}
	f.cmd = exec.Command(bin, args...)
	f.cmd.Stdout, f.cmd.Stderr = &f.out, &f.out
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, f.cmd.Start())
	go func() {
		f.cmd.Wait()
		close(f.done)
	}()
	t.Cleanup(func() {
		f.kill()
		select {
		case <-f.done:
		case <-time.After(5 * time.Second):
			t.Errorf("php-fpm did not exit after SIGKILL")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout(dialNet, dialAddr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-f.done:
			t.Fatalf("php-fpm exited: %s\n%s", f.cmd.ProcessState, f.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("php-fpm did not listen on %s within 10s: %v\n%s", f.addr, err, f.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return f
}

// kill kills php-fpm's master and workers.
func (f *fpm) kill() {
	syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
}

func (f *fpm) output() string {
	log, _ := os.ReadFile(filepath.Join(f.dir, "fpm.log"))
	return f.out.String() + string(log)
}

// fpmProxy starts a Server whose every route is a fcgi.Handler for f,
// without a body limit.
func fpmProxy(t *testing.T, f *fpm, h *fcgi.Handler) string {
	t.Helper()
	h.Addr, h.Root = f.addr, f.root
	t.Cleanup(func() { h.Close() })
	url, _ := startProxy(t, phalanx.WithLogger(discard()),
		phalanx.WithRoute(phalanx.Route{Path: "/", Handler: h, MaxBodyBytes: -1}))
	return url
}

func TestFastCGIPHP(t *testing.T) {
	checkNoLeaks(t)
	f := startFPM(t, 4, false)
	logger, logs := newLogger()
	url := fpmProxy(t, f, &fcgi.Handler{Logger: logger, Params: []fcgi.Param{{Name: "APP_ENV", Value: "test"}}})
	c := client(t)

	type env struct {
		Get    map[string]any     `json:"get"`
		Post   map[string]any     `json:"post"`
		Server map[string]*string `json:"server"`
	}
	str := func(s *string) string {
		if s == nil {
			return "<unset>"
		}
		return *s
	}

	t.Run("get", func(t *testing.T) {
		req, _ := http.NewRequest("GET", url+"/env.php/extra/path?name=gopher&n=2", nil)
		req.Header.Set("X-Test", "to php")
		req.Header.Set("Proxy", "http://evil.example")
		res, err := c.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var e env
		require.NoError(t, json.NewDecoder(res.Body).Decode(&e))
		if res.StatusCode != 200 || res.Header.Get("X-Reply") != "from php" {
			t.Errorf("GET /env.php = %d, X-Reply %q, want 200, %q", res.StatusCode, res.Header.Get("X-Reply"), "from php")
		}
		if e.Get["name"] != "gopher" || e.Get["n"] != "2" {
			t.Errorf("$_GET = %v, want name=gopher, n=2", e.Get)
		}
		host := strings.TrimPrefix(url, "http://")
		_, port, _ := net.SplitHostPort(host)
		for k, want := range map[string]string{
			"SCRIPT_FILENAME": filepath.Join(f.root, "env.php"), "SCRIPT_NAME": "/env.php",
			"PATH_INFO": "/extra/path", "QUERY_STRING": "name=gopher&n=2", "REQUEST_METHOD": "GET",
			"REQUEST_URI": "/env.php/extra/path?name=gopher&n=2", "DOCUMENT_URI": "/env.php/extra/path",
			"DOCUMENT_ROOT": f.root, "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "phalanx",
			"GATEWAY_INTERFACE": "CGI/1.1", "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "127.0.0.1",
			"SERVER_PORT": port, "HTTP_HOST": host, "HTTP_X_TEST": "to php", "HTTP_PROXY": "<unset>",
			"APP_ENV": "test", "HTTPS": "<unset>", "REDIRECT_STATUS": "200",
		} {
			if got := str(e.Server[k]); got != want {
				t.Errorf("$_SERVER[%s] = %q, want %q", k, got, want)
			}
		}
	})

	t.Run("post form", func(t *testing.T) {
		res, err := c.Post(url+"/env.php", "application/x-www-form-urlencoded", strings.NewReader("a=1&b=two"))
		require.NoError(t, err)
		defer res.Body.Close()
		var e env
		require.NoError(t, json.NewDecoder(res.Body).Decode(&e))
		if e.Post["a"] != "1" || e.Post["b"] != "two" || str(e.Server["CONTENT_LENGTH"]) != "9" {
			t.Errorf("POST /env.php: $_POST = %v, CONTENT_LENGTH %q, want a=1, b=two, 9", e.Post, str(e.Server["CONTENT_LENGTH"]))
		}
	})

	t.Run("index", func(t *testing.T) {
		if code, body := get(t, c, url+"/dir/"); code != 200 || body != "index of /dir/index.php" {
			t.Errorf("GET /dir/ = %d %q, want 200 %q", code, body, "index of /dir/index.php")
		}
	})

	t.Run("missing script", func(t *testing.T) {
		if code, _ := get(t, c, url+"/nope.php"); code != 404 {
			t.Errorf("GET /nope.php = %d, want php-fpm's 404", code)
		}
	})

	t.Run("status and headers", func(t *testing.T) {
		res, err := c.Get(url + "/status.php")
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 418 || string(b) != "short and stout" || res.Header.Get("X-Custom") != "teapot" {
			t.Errorf("GET /status.php = %d %q, X-Custom %q, want 418 %q, teapot", res.StatusCode, b, res.Header.Get("X-Custom"), "short and stout")
		}
		if cookies := res.Header.Values("Set-Cookie"); len(cookies) != 2 {
			t.Errorf("Set-Cookie = %q, want two", cookies)
		}
	})

	t.Run("redirect", func(t *testing.T) {
		nc := client(t)
		nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		res, err := nc.Get(url + "/redirect.php")
		require.NoError(t, err)
		res.Body.Close()
		if res.StatusCode != 302 || res.Header.Get("Location") != "/elsewhere" {
			t.Errorf("GET /redirect.php = %d, Location %q, want 302 /elsewhere", res.StatusCode, res.Header.Get("Location"))
		}
	})

	t.Run("stderr", func(t *testing.T) {
		if code, body := get(t, c, url+"/stderr.php"); code != 200 || body != "logged" {
			t.Errorf("GET /stderr.php = %d %q, want 200 logged", code, body)
		}
		eventually(t, 2*time.Second, "the stderr line in the log", func() bool {
			return len(logs.lines("fcgi: backend stderr", "marker-from-php")) == 1
		})
	})

	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("post 10 MB chunked=%v", chunked), func(t *testing.T) {
			fpmUpload(t, c, url, chunked)
		})
	}

	t.Run("streaming", func(t *testing.T) {
		marker := filepath.Join(f.dir, "stream-marker")
		res, err := c.Get(url + "/stream.php?marker=" + marker)
		require.NoError(t, err)
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		line, err := br.ReadString('\n')
		if line != "first\n" || err != nil {
			t.Fatalf("first line = %q, %v, want %q", line, err, "first\n")
		}
		// Only now may the script go on: had the proxy held the first
		// line back, the script would have timed out.
		require.NoError(t, os.WriteFile(marker, nil, 0o644))
		rest, err := io.ReadAll(br)
		if string(rest) != "second\n" || err != nil {
			t.Errorf("rest = %q, %v, want %q", rest, err, "second\n")
		}
	})

	if t.Failed() {
		t.Logf("php-fpm output:\n%s", f.output())
	}
}

// fpmUpload POSTs 10 MB, produced as it is sent, to upload.php, and checks
// what PHP read. It samples the heap every 5ms meanwhile: the test
// process holds the client, the proxy and the fcgi.Handler, so if any of
// them held the body, the peak would grow by 10 MB.
func fpmUpload(t *testing.T, c *http.Client, url string, chunked bool) {
	const size = 10 << 20
	req, err := http.NewRequest("POST", url+"/upload.php", &fpmBody{n: size})
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.ContentLength = size
	if chunked {
		req.ContentLength = -1
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	res, err := c.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	close(stop)
	<-sampled
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	require.NoError(t, err)

	m := md5.New()
	io.Copy(m, &fpmBody{n: size})
	if want := fmt.Sprintf("%d %s", size, hex.EncodeToString(m.Sum(nil))); res.StatusCode != 200 || string(body) != want {
		t.Errorf("POST of 10 MB = %d %q, want 200 %q", res.StatusCode, body, want)
	}
	growth := int64(peak.Load()) - int64(before.HeapAlloc)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("10 MB POST (chunked=%v): peak heap growth %.2f MiB, allocated %.2f MiB", chunked, float64(growth)/(1<<20), float64(allocated)/(1<<20))
	if growth > 4<<20 {
		t.Errorf("peak heap grew by %d bytes during a 10 MB POST, want under 4 MiB: the body is buffered", growth)
	}
}

// fpmBody produces n bytes of a fixed pattern as they are read.
type fpmBody struct{ n, off int64 }

func (b *fpmBody) Read(p []byte) (int, error) {
	if b.off >= b.n {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), b.n-b.off))
	for i := range n {
		p[i] = byte((b.off + int64(i)) % 251)
	}
	b.off += int64(n)
	return n, nil
}

// TestFastCGIKilled: php-fpm dying mid-request gives the client 502, with
// a log line saying why.
func TestFastCGIKilled(t *testing.T) {
	checkNoLeaks(t)
	f := startFPM(t, 2, false)
	logger, logs := newLogger()
	url := fpmProxy(t, f, &fcgi.Handler{Logger: logger})
	marker := filepath.Join(f.dir, "sleep-marker")
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		res, err := client(t).Get(url + "/sleep.php?ms=20000&marker=" + marker)
		if err != nil {
			done <- result{0, err}
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		done <- result{res.StatusCode, nil}
	}()
	eventually(t, 5*time.Second, "sleep.php to start", func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
	f.kill()
	select {
	case r := <-done:
		if r.err != nil || r.code != 502 {
			t.Errorf("request while php-fpm was killed = %d, %v, want 502", r.code, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no response 5s after php-fpm was killed")
	}
	if lines := logs.lines("fcgi: request failed", "status=502", "backend closed the connection"); len(lines) != 1 {
		t.Errorf("log = %q, want one request failed line saying the backend closed the connection", logs.String())
	}
}

// TestFastCGIWorkers: with FCGI_KEEP_CONN, each kept connection holds a
// php-fpm worker; more concurrent requests than workers must still all
// be served, promptly, rather than the extra ones waiting in php-fpm's
// listen queue behind idle kept connections until the read timeout.
func TestFastCGIWorkers(t *testing.T) {
	checkNoLeaks(t)
	f := startFPM(t, 2, false)
	url := fpmProxy(t, f, &fcgi.Handler{Logger: discard(), Timeouts: fcgi.Timeouts{Read: 20 * time.Second}})
	c := client(t)
	for round := range 2 {
		start := time.Now()
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				marker := filepath.Join(f.dir, fmt.Sprintf("w-%d-%d", round, i))
				res, err := c.Get(url + "/sleep.php?ms=100&marker=" + marker)
				if err != nil {
					t.Errorf("round %d, request %d: %v", round, i, err)
					return
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || string(body) != "slept" || err != nil {
					t.Errorf("round %d, request %d = %d %q, %v, want 200 slept", round, i, res.StatusCode, body, err)
				}
			})
		}
		wg.Wait()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("round %d: 5 requests of 100ms on 2 workers took %v", round, d)
		}
	}
}

// TestFastCGIUnixSocket passes requests over a unix socket, written as in
// fastcgi_pass unix:/path.
func TestFastCGIUnixSocket(t *testing.T) {
	checkNoLeaks(t)
	f := startFPM(t, 2, true)
	url := fpmProxy(t, f, &fcgi.Handler{Logger: discard()})
	c := client(t)
	for i := range 3 {
		if code, body := get(t, c, url+"/dir/"); code != 200 || body != "index of /dir/index.php" {
			t.Errorf("request %d over %s = %d %q, want 200", i, f.addr, code, body)
		}
	}
	if code, _ := get(t, c, url+"/status.php?x="+strconv.Itoa(1)); code != 418 {
		t.Errorf("GET /status.php = %d, want 418", code)
	}
}
