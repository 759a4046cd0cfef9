package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// syncBuffer collects a process's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// buildDaemon compiles phalanxd once per test binary run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func daemon(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "phalanxd-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "phalanxd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func named(t *testing.T, name string) string {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(500 * time.Millisecond)
		}
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name)
	}))
	t.Cleanup(ts.Close)
	return strings.TrimPrefix(ts.URL, "http://")
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start runs phalanxd with args and stops it (SIGTERM, then SIGKILL) when
// the test ends.
func start(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(daemon(t), args...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("phalanxd did not stop within 10s of SIGTERM; logs:\n%s", logs)
		}
	})
	return cmd, logs
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const confTemplate = `
worker_threads 2;
admin_bind off;
tcp_bind off;
shutdown_timeout 5s;
upstream default {
%s
    health_check interval=200ms timeout=100ms;
}
http {
    waf_enabled off;   # these clients are Go's: the bot rules would refuse them
    server {
        listen %s;
        rate_limit_per_ip 0;   # the load below comes from one address
        route / {
            upstream default;
            add_header X-Version %s;
        }
%s
    }
}
`

func TestReloadUnderLoad(t *testing.T) {
	a, b, c := named(t, "a"), named(t, "b"), named(t, "c")
	addr := freePort(t)
	conf := filepath.Join(t.TempDir(), "phalanx.conf")
	writeFile(t, conf, fmt.Sprintf(confTemplate, "    server "+a+";\n    server "+b+";", addr, "v1", ""))
	cmd, logs := start(t, "-c", conf)

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	url := "http://" + addr
	waitFor(t, "phalanxd to serve", 10*time.Second, func() bool {
		res, err := client.Get(url + "/")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == 200
	})

	// The load: 4 workers for at least 2s and 2,000 requests in all.
	const minRequests, minDuration = 2000, 2 * time.Second
	var sent, failed atomic.Int64
	var failures syncBuffer
	stop := make(chan struct{})
	var wg sync.WaitGroup
	began := time.Now()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				res, err := client.Get(url + "/")
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					fmt.Fprintf(&failures, "%v\n", err)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					failed.Add(1)
					fmt.Fprintf(&failures, "status %d\n", res.StatusCode)
				}
			}
		}()
	}

	// A slow request in flight across the reload finishes on the old pool.
	slowDone := make(chan string, 1)
	go func() {
		res, err := client.Get(url + "/slow")
		if err != nil {
			slowDone <- err.Error()
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		slowDone <- fmt.Sprint(res.StatusCode, " ", res.Header.Get("X-Backend"))
	}()
	time.Sleep(100 * time.Millisecond)

	// Reload: new backend set, new header value, a new route.
	writeFile(t, conf, fmt.Sprintf(confTemplate, "    server "+c+";", addr, "v2",
		"        route /new {\n            upstream default;\n            add_response_header X-New yes;\n        }"))
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", 10*time.Second, func() bool { return strings.Contains(logs.String(), "configuration reloaded") })
	if got := <-slowDone; got != "200 a" && got != "200 b" {
		t.Errorf("request in flight across the reload = %q, want 200 from an old backend", got)
	}
	for i := 0; i < 100; i++ {
		res, err := client.Get(url + "/new")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("X-Backend") != "c" || res.Header.Get("X-New") != "yes" {
			t.Fatalf("after reload, GET /new #%d = %d from %q (X-New %q), want 200 from c with X-New: yes",
				i, res.StatusCode, res.Header.Get("X-Backend"), res.Header.Get("X-New"))
		}
	}

	// A broken file is refused, says why, and changes nothing.
	writeFile(t, conf, "upstrem default {\n    server "+a+";\n}\n")
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the failed reload", 10*time.Second, func() bool { return strings.Contains(logs.String(), "reload failed") })
	failLine := ""
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "reload failed") {
			failLine = l
		}
	}
	if !strings.Contains(failLine, conf+":1:1") || !strings.Contains(failLine, "upstream") {
		t.Errorf("failed reload log = %q, want the position %s:1:1 and a suggestion of \"upstream\"", failLine, conf)
	}
	for i := 0; i < 50; i++ {
		res, err := client.Get(url + "/new")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("X-Backend") != "c" {
			t.Fatalf("after a failed reload, GET /new = %d from %q, want 200 from c", res.StatusCode, res.Header.Get("X-Backend"))
		}
	}

	waitFor(t, "the load to reach its size", 30*time.Second, func() bool {
		return sent.Load() >= minRequests && time.Since(began) >= minDuration
	})
	close(stop)
	wg.Wait()
	t.Logf("%d requests in %v across two reloads, %d failed", sent.Load(), time.Since(began).Round(time.Millisecond), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed across the reloads:\n%s", failed.Load(), sent.Load(), failures.String())
	}
}

func TestCheckFlag(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	writeFile(t, good, fmt.Sprintf(confTemplate, "    server 127.0.0.1:9;", "127.0.0.1:0", "v1", ""))
	bad := filepath.Join(dir, "bad.conf")
	writeFile(t, bad, "worker_threads 2;\nupstream default {\n    server 127.0.0.1:9 wieght=2;\n}\nhttp {\n    server {\n        route /x { upstream nowhere; }\n    }\n}\n")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, daemon(t), "-t", "-c", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "test is successful") {
		t.Errorf("phalanxd -t good.conf = %v:\n%s\nwant exit 0 and \"test is successful\"", err, out)
	}
	out, err = exec.CommandContext(ctx, daemon(t), "-t", "-c", bad).CombinedOutput()
	if err == nil {
		t.Errorf("phalanxd -t bad.conf exited 0, want 1:\n%s", out)
	}
	for _, want := range []string{bad + ":3:", bad + ":7:", "test failed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("phalanxd -t bad.conf output lacks %q:\n%s", want, out)
		}
	}
}

// TestAdminAPIReload reloads phalanxd through POST /api/reload on its
// admin listener, and checks the metrics and status it serves there.
func TestAdminAPIReload(t *testing.T) {
	a := named(t, "a")
	addr, adminAddr := freePort(t), freePort(t)
	conf := filepath.Join(t.TempDir(), "phalanx.conf")
	withAdmin := func(version string) string {
		text := fmt.Sprintf(confTemplate, "    server "+a+";\n    algorithm aipredictive;", addr, version, "")
		text = strings.Replace(text, "add_header X-Version", "add_response_header X-Version", 1)
		return strings.Replace(text, "admin_bind off;", "admin_bind "+adminAddr+";\naccess_log stderr json;", 1)
	}
	writeFile(t, conf, withAdmin("v1"))
	_, logs := start(t, "-c", conf)
	client := &http.Client{Timeout: 5 * time.Second}
	version := func() string {
		res, err := client.Get("http://" + addr + "/")
		if err != nil {
			return ""
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.Header.Get("X-Version")
	}
	waitFor(t, "phalanxd to serve", 10*time.Second, func() bool { return version() == "v1" })

	writeFile(t, conf, withAdmin("v2"))
	res, err := client.Post("http://"+adminAddr+"/api/reload", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/reload = %d %s, want 200", res.StatusCode, body)
	}
	if v := version(); v != "v2" {
		t.Errorf("after POST /api/reload, X-Version = %q, want v2", v)
	}

	writeFile(t, conf, "upstrem default {}\n")
	res, err = client.Post("http://"+adminAddr+"/api/reload", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), conf+":1:1") {
		t.Errorf("POST /api/reload of a broken file = %d %s, want 422 with the position", res.StatusCode, body)
	}
	if v := version(); v != "v2" {
		t.Errorf("after a refused reload, X-Version = %q, want v2", v)
	}

	res, err = client.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`phalanx_config_reloads_total{result="ok"} 1`, `phalanx_config_reloads_total{result="failed"} 1`,
		`phalanx_routing_score{backend="` + a + `",policy="adaptive",upstream="default"}`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("GET /metrics lacks %s", want)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"request","method":"GET","host":"`+addr+`","path":"/","proto":"HTTP/1.1","status":200`) {
		t.Errorf("logs lack a JSON access log line for GET /:\n%s", logs)
	}
}
