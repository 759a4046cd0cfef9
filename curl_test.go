package phalanx_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"go/build"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/stretchr/testify/require"
)

// needTool returns the path of the command-line tool name, looked up in
// PATH and then where go install puts binaries. A missing tool skips the
// test, or fails it when PHALANX_REQUIRE_TOOLS is set: scripts/test sets
// it, so that CI cannot pass by skipping.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	if gopath := filepath.SplitList(build.Default.GOPATH); len(gopath) > 0 {
		dirs = append(dirs, filepath.Join(gopath[0], "bin"))
	}
	for _, d := range dirs {
		if p, err := exec.LookPath(filepath.Join(d, name)); err == nil {
			return p
		}
	}
	missingTool(t, fmt.Sprintf("%s not found (%v); ./scripts/test installs it", name, err))
	return ""
}

// missingTool skips the test for want of a tool, or fails it when
// PHALANX_REQUIRE_TOOLS is set.
func missingTool(t *testing.T, msg string) {
	t.Helper()
	if v := os.Getenv("PHALANX_REQUIRE_TOOLS"); v != "" && v != "0" {
		t.Fatalf("%s (PHALANX_REQUIRE_TOOLS=%s)", msg, v)
	}
	t.Skip(msg)
}

// needCurl returns the path of a curl that speaks HTTP/2.
func needCurl(t *testing.T) string {
	t.Helper()
	curl := needTool(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "--version").Output()
	require.NoError(t, err, "curl --version")
	if !strings.Contains(string(out), "HTTP2") {
		missingTool(t, "curl without HTTP/2 support: "+strings.SplitN(string(out), "\n", 2)[0])
	}
	return curl
}

// writePEM writes the CA certificate to dir as PEM, for tools that take a
// CA file, and returns its path.
func (ca *testCA) writePEM(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o644))
	return path
}

// newMethodBackend answers "app METHOD N", N the body bytes it read.
func newMethodBackend(t *testing.T) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "app %s %d", r.Method, n)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// TestCurl drives the one port of a Server with curl: HTTP/1.1, h2c with
// prior knowledge, and TLS with HTTP/2 or HTTP/1.1 by ALPN and the
// certificate chosen by SNI, as a client other than Go's sees them.
func TestCurl(t *testing.T) {
	checkNoLeaks(t)
	curl := needCurl(t)
	be := newMethodBackend(t)
	ca := newTestCA(t)
	dir := t.TempDir()
	caFile := ca.writePEM(t, dir)
	aCert, aKey := ca.issue(t, dir, "a", "a.example", "127.0.0.1")
	bCert, bKey := ca.issue(t, dir, "b", "b.example")
	url, _ := startProxy(t, phalanx.WithLogger(discard()),
		phalanx.WithCertificate(aCert, aKey),
		phalanx.WithCertificate(bCert, bKey),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	port := url[strings.LastIndexByte(url, ':')+1:]
	body := filepath.Join(dir, "body")
	require.NoError(t, os.WriteFile(body, []byte(strings.Repeat("x", 64<<10)), 0o644))
	resolve := func(host string) []string {
		return []string{"--cacert", caFile, "--resolve", host + ":" + port + ":127.0.0.1"}
	}
	tlsURL := func(host string) string { return "https://" + host + ":" + port + "/x" }

	tests := []struct {
		name     string
		args     []string
		url      string
		want     string // stdout: the body, a newline, then "HTTP_VERSION STATUS"
		wantExit int    // curl's exit status; 0 unless the request must fail
	}{
		{"http/1.1", nil, url + "/x", "app GET 0\n1.1 200", 0},
		{"h2c prior knowledge", []string{"--http2-prior-knowledge"}, url + "/x", "app GET 0\n2 200", 0},
		// net/http does not upgrade to h2c: the answer comes in HTTP/1.1.
		{"h2c upgrade stays on HTTP/1.1", []string{"--http2"}, url + "/x", "app GET 0\n1.1 200", 0},
		{"custom method PURGE over HTTP/1.1", []string{"-X", "PURGE"}, url + "/x", "app PURGE 0\n1.1 200", 0},
		{"custom method PURGE over h2c", []string{"--http2-prior-knowledge", "-X", "PURGE"}, url + "/x", "app PURGE 0\n2 200", 0},
		{"tls h2, SNI a.example", append(resolve("a.example"), "--http2"), tlsURL("a.example"), "app GET 0\n2 200", 0},
		{"tls h2, SNI b.example picks b's certificate", append(resolve("b.example"), "--http2"), tlsURL("b.example"), "app GET 0\n2 200", 0},
		{"tls h2 by IP, no SNI: the first certificate", []string{"--cacert", caFile, "--http2"}, tlsURL("127.0.0.1"), "app GET 0\n2 200", 0},
		{"tls http/1.1, SNI b.example", append(resolve("b.example"), "--http1.1"), tlsURL("b.example"), "app GET 0\n1.1 200", 0},
		{"tls h2 POST of 64 KiB", append(resolve("a.example"), "--http2", "--data-binary", "@"+body), tlsURL("a.example"), "app POST 65536\n2 200", 0},
		// Unknown SNI gets the first certificate, a.example's, which
		// does not verify for c.example: curl's "peer certificate
		// cannot be authenticated" (60).
		{"tls, unknown SNI gets a.example's certificate", append(resolve("c.example"), "--http2"), tlsURL("c.example"), "", 60},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// -q first: ignore any ~/.curlrc. --noproxy: never send
			// loopback traffic through a proxy from the environment.
			args := append([]string{"-q", "-sS", "--noproxy", "*", "--max-time", "10",
				"-w", `\n%{http_version} %{http_code}`}, tc.args...)
			args = append(args, tc.url)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, curl, args...)
			cmd.WaitDelay = time.Second
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			exit := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				exit = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("curl %s: %v", strings.Join(args, " "), err)
			}
			if exit != tc.wantExit {
				t.Fatalf("curl %s: exit status %d, want %d; stdout %q, stderr %q",
					strings.Join(args, " "), exit, tc.wantExit, out, stderr.String())
			}
			if tc.wantExit == 0 && string(out) != tc.want {
				t.Errorf("curl %s = %q, want %q (stderr %q)", strings.Join(args, " "), out, tc.want, stderr.String())
			}
		})
	}
}
