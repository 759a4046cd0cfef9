package phalanx_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
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

// secret is the content of the files placed next to the served
// directory, which no request may read.
const secret = "TOP-SECRET outside the root"

// staticMtime is the modification time of every served file, so that
// conditional requests can name it.
var staticMtime = time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)

// staticTree builds base/www (the served root) with files for the tests,
// and secret files outside it: base/secret.txt and base/www-secret.txt
// (the sibling nginx's "alias" without a trailing slash would reach).
// It returns the root.
func staticTree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "www")
	write := func(name, content string) {
		p := filepath.Join(base, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		require.NoError(t, os.Chtimes(p, staticMtime, staticMtime))
	}
	write("secret.txt", secret)
	write("www-secret.txt", secret)
	write("www/index.html", "<!doctype html><title>root index</title>")
	write("www/a.txt", "0123456789abcdefghijklmnopqrstuvwxyz")
	write("www/empty.txt", "")
	write("www/page.html", "<p>page</p>")
	write("www/style.css", "body{}")
	write("www/data.json", `{"a":1}`)
	write("www/img.png", "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	write("www/pic.svg", `<svg xmlns="http://www.w3.org/2000/svg"/>`)
	write("www/sniff-html", "<!DOCTYPE html><html><body>x</body></html>")
	write("www/sniff-text", "just some plain text")
	write("www/sniff-binary", "\x00\x01\x02\x03\xfe\xff")
	write("www/dir/index.html", "<p>dir index</p>")
	write("www/noindex/x.txt", "x")
	write("www/noindex/<b>&\"q'.txt", "odd name")
	write("www/noindex/sub/y.txt", "y")
	require.NoError(t, os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(root, "link-out")))
	require.NoError(t, os.Symlink(base, filepath.Join(root, "link-dir-out")))
	require.NoError(t, os.Symlink("../secret.txt", filepath.Join(root, "link-rel-out")))
	require.NoError(t, os.Symlink("a.txt", filepath.Join(root, "link-in")))
	return root
}

// startStatic serves root through a phalanx Server on /static/ (Prefix
// "/static/"), on /alias (Prefix "/alias", no trailing slash) and, with
// listings, on /list/. It returns the Server's base URL.
func startStatic(t *testing.T, root string) string {
	t.Helper()
	mk := func(prefix string, listing bool) *phalanx.StaticHandler {
		h, err := phalanx.StaticFiles(root, phalanx.StaticConfig{Prefix: prefix, Listing: listing})
		require.NoError(t, err)
		t.Cleanup(func() { h.Close() })
		return h
	}
	url, _ := startProxy(t, phalanx.WithLogger(discard()),
		phalanx.WithRoute(phalanx.Route{Path: "/static/", Handler: mk("/static/", false)}),
		phalanx.WithRoute(phalanx.Route{Path: "/alias", Handler: mk("/alias", false)}),
		phalanx.WithRoute(phalanx.Route{Path: "/list/", Handler: mk("/list/", true)}))
	return url
}

// rawGet sends target exactly as given, so that neither the client nor
// its URL parser cleans or re-encodes it.
func rawGet(t *testing.T, base, target string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", target)
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func noRedirects(t *testing.T) *http.Client {
	c := client(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func TestStaticTraversal(t *testing.T) {
	checkNoLeaks(t)
	root := staticTree(t)
	base := filepath.Dir(root)
	url := startStatic(t, root)
	abs := filepath.ToSlash(filepath.Join(base, "secret.txt")) // "/tmp/.../secret.txt"
	tests := []struct{ name, target string }{
		{"dot-dot", "/static/../secret.txt"},
		{"dot-dot twice", "/static/../../secret.txt"},
		{"dot-dot after dot", "/static/./../secret.txt"},
		{"dot-dot deep", "/static/dir/../../secret.txt"},
		{"encoded dots", "/static/%2e%2e/secret.txt"},
		{"encoded dots upper", "/static/%2E%2E/secret.txt"},
		{"encoded slash", "/static/..%2fsecret.txt"},
		{"encoded dots and slash", "/static/%2e%2e%2fsecret.txt"},
		{"encoded backslash", "/static/..%5csecret.txt"},
		{"raw backslash", `/static/..\secret.txt`},
		{"double-encoded dots", "/static/%252e%252e/secret.txt"},
		{"double-encoded slash", "/static/%252e%252e%252fsecret.txt"},
		{"overlong utf-8 dots", "/static/%c0%ae%c0%ae/secret.txt"},
		{"semicolon", "/static/..;/secret.txt"},
		{"absolute", "/static/" + abs},
		{"absolute doubled slash", "/static//" + abs},
		{"absolute encoded slash", "/static/%2f" + strings.TrimPrefix(abs, "/")},
		{"etc passwd", "/static//etc/passwd"},
		{"etc passwd alias", "/alias//etc/passwd"},
		{"symlink out", "/static/link-out"},
		{"relative symlink out", "/static/link-rel-out"},
		{"symlink dir out", "/static/link-dir-out/secret.txt"},
		{"symlink dir out listing", "/list/link-dir-out/"},
		{"nul", "/static/a.txt%00.html"},
		{"nul alone", "/static/%00"},
		{"alias off-by-slash dot-dot", "/alias../secret.txt"},
		{"alias off-by-slash sibling", "/alias-secret.txt"},
		{"alias dot-dot", "/alias/../secret.txt"},
		{"absolute-form target", "http://test/static/../secret.txt"},
		{"list dot-dot", "/list/../"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := rawGet(t, url, tc.target)
			if status == http.StatusOK || strings.Contains(body, "TOP-SECRET") || strings.Contains(body, "root:") {
				t.Fatalf("GET %s = %d %q, want 400, 403 or 404 without the secret", tc.target, status, body)
			}
			if status != http.StatusNotFound && status != http.StatusBadRequest && status != http.StatusForbidden {
				t.Errorf("GET %s = %d, want 400, 403 or 404", tc.target, status)
			}
		})
	}
	// Symlinks that stay inside the root are followed.
	if status, body := rawGet(t, url, "/static/link-in"); status != 200 || body != "0123456789abcdefghijklmnopqrstuvwxyz" {
		t.Errorf("GET /static/link-in = %d %q, want 200 with a.txt", status, body)
	}
}

// TestStaticLikeFileServer runs the same requests against phalanx and
// against net/http's FileServer on the same directory, and compares the
// answers. The reference sets the ETag phalanx sets (FileServer sets
// none), so that both evaluate If-None-Match and If-Range alike.
func TestStaticLikeFileServer(t *testing.T) {
	checkNoLeaks(t)
	root := staticTree(t)
	url := startStatic(t, root)
	fileServer := http.FileServer(http.Dir(root))
	ref := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(r.URL.Path))); err == nil && !fi.IsDir() {
			w.Header().Set("Etag", fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size()))
		}
		fileServer.ServeHTTP(w, r)
	}))
	t.Cleanup(ref.Close)

	fi, err := os.Stat(filepath.Join(root, "a.txt"))
	require.NoError(t, err)
	etag := fmt.Sprintf(`"%x-%x"`, fi.ModTime().UnixNano(), fi.Size())
	lastMod := staticMtime.Format(http.TimeFormat)
	older := staticMtime.Add(-time.Hour).Format(http.TimeFormat)
	newer := staticMtime.Add(time.Hour).Format(http.TimeFormat)
	tests := []struct {
		name, method, file string
		header             map[string]string
		status             int
	}{
		{"plain", "GET", "a.txt", nil, 200},
		{"range first ten", "GET", "a.txt", map[string]string{"Range": "bytes=0-9"}, 206},
		{"range suffix", "GET", "a.txt", map[string]string{"Range": "bytes=-5"}, 206},
		{"range open end", "GET", "a.txt", map[string]string{"Range": "bytes=5-"}, 206},
		{"range past end", "GET", "a.txt", map[string]string{"Range": "bytes=30-100"}, 206},
		{"two ranges", "GET", "a.txt", map[string]string{"Range": "bytes=0-4,10-14"}, 206},
		{"three ranges", "GET", "a.txt", map[string]string{"Range": "bytes=0-1,10-14,-3"}, 206},
		{"unsatisfiable", "GET", "a.txt", map[string]string{"Range": "bytes=100-200"}, 416},
		{"malformed range", "GET", "a.txt", map[string]string{"Range": "bytes=x-y"}, 416},
		{"range of empty file", "GET", "empty.txt", map[string]string{"Range": "bytes=0-9"}, 200},
		{"if-modified-since equal", "GET", "a.txt", map[string]string{"If-Modified-Since": lastMod}, 304},
		{"if-modified-since older", "GET", "a.txt", map[string]string{"If-Modified-Since": older}, 200},
		{"if-modified-since newer", "GET", "a.txt", map[string]string{"If-Modified-Since": newer}, 304},
		{"if-none-match etag", "GET", "a.txt", map[string]string{"If-None-Match": etag}, 304},
		{"if-none-match weak", "GET", "a.txt", map[string]string{"If-None-Match": "W/" + etag}, 304},
		{"if-none-match list", "GET", "a.txt", map[string]string{"If-None-Match": `"x", ` + etag}, 304},
		{"if-none-match star", "GET", "a.txt", map[string]string{"If-None-Match": "*"}, 304},
		{"if-none-match other", "GET", "a.txt", map[string]string{"If-None-Match": `"other"`}, 200},
		{"if-none-match beats if-modified-since", "GET", "a.txt", map[string]string{"If-None-Match": `"other"`, "If-Modified-Since": lastMod}, 200},
		{"if-none-match with range", "GET", "a.txt", map[string]string{"If-None-Match": etag, "Range": "bytes=0-9"}, 304},
		{"if-range etag", "GET", "a.txt", map[string]string{"If-Range": etag, "Range": "bytes=0-9"}, 206},
		{"if-range weak etag", "GET", "a.txt", map[string]string{"If-Range": "W/" + etag, "Range": "bytes=0-9"}, 200},
		{"if-range other etag", "GET", "a.txt", map[string]string{"If-Range": `"other"`, "Range": "bytes=0-9"}, 200},
		{"if-range date", "GET", "a.txt", map[string]string{"If-Range": lastMod, "Range": "bytes=0-9"}, 206},
		{"if-range older date", "GET", "a.txt", map[string]string{"If-Range": older, "Range": "bytes=0-9"}, 200},
		{"if-match etag", "GET", "a.txt", map[string]string{"If-Match": etag}, 200},
		{"if-match other", "GET", "a.txt", map[string]string{"If-Match": `"other"`}, 412},
		{"if-unmodified-since older", "GET", "a.txt", map[string]string{"If-Unmodified-Since": older}, 412},
		{"if-unmodified-since equal", "GET", "a.txt", map[string]string{"If-Unmodified-Since": lastMod}, 200},
		{"head", "HEAD", "a.txt", nil, 200},
		{"head range", "HEAD", "a.txt", map[string]string{"Range": "bytes=0-9"}, 206},
		{"head if-none-match", "HEAD", "a.txt", map[string]string{"If-None-Match": etag}, 304},
		{"html", "GET", "page.html", nil, 200},
		{"sniffed", "GET", "sniff-html", nil, 200},
		{"sniffed range", "GET", "sniff-text", map[string]string{"Range": "bytes=5-8"}, 206},
		{"missing", "GET", "nope.txt", nil, 404},
	}
	c := client(t)
	do := func(base, method string, header map[string]string) (*http.Response, []byte) {
		req, err := http.NewRequest(method, base, nil)
		require.NoError(t, err)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, b
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, gotBody := do(url+"/static/"+tc.file, tc.method, tc.header)
			want, wantBody := do(ref.URL+"/"+tc.file, tc.method, tc.header)
			if want.StatusCode != tc.status {
				t.Fatalf("FileServer: %s /%s %v = %d, want %d (the table is wrong)", tc.method, tc.file, tc.header, want.StatusCode, tc.status)
			}
			if got.StatusCode != want.StatusCode {
				t.Fatalf("%s /static/%s %v = %d, want %d as FileServer", tc.method, tc.file, tc.header, got.StatusCode, want.StatusCode)
			}
			// Error pages other than ServeContent's 412 and 416 differ in
			// wording ("404 page not found" and "Not Found").
			ownError := got.StatusCode >= 400 && got.StatusCode != 412 && got.StatusCode != 416
			for _, h := range []string{"Content-Range", "Content-Length", "Etag", "Last-Modified", "Accept-Ranges"} {
				if ownError && h == "Content-Length" {
					continue
				}
				if g, w := got.Header.Get(h), want.Header.Get(h); g != w {
					t.Errorf("%s /static/%s %v: %s = %q, want %q as FileServer", tc.method, tc.file, tc.header, h, g, w)
				}
			}
			gotType, gotParams, _ := mime.ParseMediaType(got.Header.Get("Content-Type"))
			wantType, wantParams, _ := mime.ParseMediaType(want.Header.Get("Content-Type"))
			if gotType != wantType {
				t.Errorf("%s /static/%s %v: Content-Type = %q, want %q as FileServer", tc.method, tc.file, tc.header,
					got.Header.Get("Content-Type"), want.Header.Get("Content-Type"))
			}
			if gotType != "multipart/byteranges" {
				if got.Header.Get("Content-Type") != want.Header.Get("Content-Type") {
					t.Errorf("%s /static/%s %v: Content-Type = %q, want %q as FileServer", tc.method, tc.file, tc.header,
						got.Header.Get("Content-Type"), want.Header.Get("Content-Type"))
				}
				if !bytes.Equal(gotBody, wantBody) && !ownError {
					t.Errorf("%s /static/%s %v: body = %q, want %q as FileServer", tc.method, tc.file, tc.header, gotBody, wantBody)
				}
				return
			}
			gotParts := readParts(t, gotBody, gotParams["boundary"])
			wantParts := readParts(t, wantBody, wantParams["boundary"])
			if fmt.Sprint(gotParts) != fmt.Sprint(wantParts) {
				t.Errorf("%s /static/%s %v: parts = %q, want %q as FileServer", tc.method, tc.file, tc.header, gotParts, wantParts)
			}
			if len(gotParts) < 2 {
				t.Errorf("%s /static/%s %v: %d parts, want 2 or more", tc.method, tc.file, tc.header, len(gotParts))
			}
		})
	}
}

// readParts returns each part of a multipart/byteranges body as
// "Content-Range|Content-Type|body".
func readParts(t *testing.T, body []byte, boundary string) []string {
	t.Helper()
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts
		}
		require.NoError(t, err)
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		parts = append(parts, p.Header.Get("Content-Range")+"|"+p.Header.Get("Content-Type")+"|"+string(b))
	}
}

func TestStaticContentType(t *testing.T) {
	checkNoLeaks(t)
	url := startStatic(t, staticTree(t))
	c := client(t)
	tests := []struct{ file, want string }{
		{"page.html", "text/html; charset=utf-8"},
		{"style.css", "text/css; charset=utf-8"},
		{"img.png", "image/png"},
		{"pic.svg", "image/svg+xml"},
		{"data.json", "application/json"},
		{"sniff-html", "text/html; charset=utf-8"},
		{"sniff-text", "text/plain; charset=utf-8"},
		{"sniff-binary", "application/octet-stream"},
	}
	for _, tc := range tests {
		res, err := c.Get(url + "/static/" + tc.file)
		require.NoError(t, err)
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if got := res.Header.Get("Content-Type"); got != tc.want {
			t.Errorf("GET /static/%s: Content-Type = %q, want %q", tc.file, got, tc.want)
		}
	}
}

func TestStaticHead(t *testing.T) {
	checkNoLeaks(t)
	url := startStatic(t, staticTree(t))
	res, err := client(t).Head(url + "/static/a.txt")
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || len(b) != 0 || res.Header.Get("Content-Length") != "36" ||
		res.Header.Get("Etag") == "" || res.Header.Get("Last-Modified") != staticMtime.Format(http.TimeFormat) {
		t.Errorf("HEAD /static/a.txt = %d, %d body bytes, headers %v; want 200, no body, Content-Length 36, Etag, Last-Modified",
			res.StatusCode, len(b), res.Header)
	}
}

func TestStaticDirectories(t *testing.T) {
	checkNoLeaks(t)
	url := startStatic(t, staticTree(t))
	c := noRedirects(t)
	tests := []struct {
		name, path string
		status     int
		location   string // for redirects
		body       string // a substring, for 200
	}{
		{"root index", "/static/", 200, "", "root index"},
		{"dir index", "/static/dir/", 200, "", "dir index"},
		{"index by name", "/static/dir/index.html", 200, "", "dir index"},
		{"dir without slash", "/static/dir", 301, "/static/dir/", ""},
		{"dir without slash, query kept", "/static/dir?a=1&b=2", 301, "/static/dir/?a=1&b=2", ""},
		{"dir with doubled slash", "/static//dir", 301, "/static/dir/", ""},
		{"prefix without slash", "/alias", 301, "/alias/", ""},
		{"alias dir", "/alias/dir", 301, "/alias/dir/", ""},
		{"alias dir index", "/alias/dir/", 200, "", "dir index"},
		{"alias file", "/alias/a.txt", 200, "", "0123456789"},
		{"no index, no listing", "/static/noindex/", 403, "", ""},
		{"no index, listing", "/list/noindex/", 200, "", `<a href="./%3Cb%3E&amp;%22q%27.txt">&lt;b&gt;&amp;&#34;q&#39;.txt</a>`},
		{"listing subdir", "/list/noindex/", 200, "", `<a href="./sub/">sub/</a>`},
		{"listing index still wins", "/list/dir/", 200, "", "dir index"},
		{"file with trailing slash", "/static/a.txt/", 404, "", ""},
		{"missing", "/static/nope/", 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.Get(url + tc.path)
			require.NoError(t, err)
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("GET %s = %d %q, want %d", tc.path, res.StatusCode, b, tc.status)
			}
			if got := res.Header.Get("Location"); got != tc.location {
				t.Errorf("GET %s: Location = %q, want %q", tc.path, got, tc.location)
			}
			if !strings.Contains(string(b), tc.body) {
				t.Errorf("GET %s: body = %q, want it to contain %q", tc.path, b, tc.body)
			}
		})
	}
}

func TestStaticMethods(t *testing.T) {
	checkNoLeaks(t)
	url := startStatic(t, staticTree(t))
	res, err := client(t).Post(url+"/static/a.txt", "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /static/a.txt = %d, Allow %q; want 405, Allow \"GET, HEAD\"", res.StatusCode, res.Header.Get("Allow"))
	}
}

func TestStaticLargeFile(t *testing.T) {
	checkNoLeaks(t)
	root := staticTree(t)
	data := make([]byte, 8<<20)
	rand.Read(data)
	require.NoError(t, os.WriteFile(filepath.Join(root, "big.bin"), data, 0o644))
	url := startStatic(t, root)
	res, err := client(t).Get(url + "/static/big.bin")
	require.NoError(t, err)
	defer res.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, res.Body)
	require.NoError(t, err)
	if sum := sha256.Sum256(data); res.StatusCode != 200 || n != int64(len(data)) || !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Errorf("GET /static/big.bin = %d, %d bytes, sha256 %x; want 200, %d bytes, sha256 %x",
			res.StatusCode, n, h.Sum(nil), len(data), sha256.Sum256(data))
	}
	if got := res.Header.Get("Content-Length"); got != fmt.Sprint(len(data)) {
		t.Errorf("GET /static/big.bin: Content-Length = %q, want %d", got, len(data))
	}
}

// TestStaticFIFO checks that a named pipe in the root is refused at once
// rather than blocking the request until a writer appears.
func TestStaticFIFO(t *testing.T) {
	checkNoLeaks(t)
	root := staticTree(t)
	if err := exec.Command("mkfifo", filepath.Join(root, "pipe")).Run(); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	url := startStatic(t, root)
	if status, _ := rawGet(t, url, "/static/pipe"); status != http.StatusNotFound {
		t.Errorf("GET /static/pipe = %d, want 404", status)
	}
}

func TestStaticPermissionDenied(t *testing.T) {
	checkNoLeaks(t)
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	root := staticTree(t)
	require.NoError(t, os.Chmod(filepath.Join(root, "a.txt"), 0))
	url := startStatic(t, root)
	if status, _ := rawGet(t, url, "/static/a.txt"); status != http.StatusForbidden {
		t.Errorf("GET /static/a.txt (mode 000) = %d, want 403", status)
	}
}

func TestStaticClose(t *testing.T) {
	checkNoLeaks(t)
	root := staticTree(t)
	h, err := phalanx.StaticFiles(root, phalanx.StaticConfig{Prefix: "/static/"})
	require.NoError(t, err)
	url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithRoute(phalanx.Route{Path: "/static/", Handler: h}))
	if status, _ := rawGet(t, url, "/static/a.txt"); status != 200 {
		t.Fatalf("GET /static/a.txt before Close = %d, want 200", status)
	}
	require.NoError(t, h.Close())
	require.NoError(t, h.Close())
	if status, _ := rawGet(t, url, "/static/a.txt"); status != http.StatusServiceUnavailable {
		t.Errorf("GET /static/a.txt after Close = %d, want 503", status)
	}
}

func TestStaticFilesErrors(t *testing.T) {
	root := staticTree(t)
	tests := []struct {
		name string
		dir  string
		c    phalanx.StaticConfig
	}{
		{"missing dir", filepath.Join(root, "nope"), phalanx.StaticConfig{}},
		{"file, not dir", filepath.Join(root, "a.txt"), phalanx.StaticConfig{}},
		{"relative prefix", root, phalanx.StaticConfig{Prefix: "static"}},
		{"absolute index", root, phalanx.StaticConfig{Index: []string{"/etc/passwd"}}},
		{"dot-dot index", root, phalanx.StaticConfig{Index: []string{"../secret.txt"}}},
		{"empty index", root, phalanx.StaticConfig{Index: []string{""}}},
	}
	for _, tc := range tests {
		if h, err := phalanx.StaticFiles(tc.dir, tc.c); err == nil {
			h.Close()
			t.Errorf("%s: StaticFiles(%q, %+v) = nil error, want one", tc.name, tc.dir, tc.c)
		}
	}
}

// TestStaticConfigRoot checks "route PREFIX { root DIR; index ...; }" from a
// config file, and that a missing directory fails at load with the
// route's position.
func TestStaticConfigRoot(t *testing.T) {
	checkNoLeaks(t)
	root := staticTree(t)
	conf := fmt.Sprintf(`
tcp_bind off;
http {
    waf_enabled off;   # these clients are Go's: the bot rules would refuse them
    server {
        listen 127.0.0.1:0;
        route /static { root %q; }
        route /d/ { root %q; index nope.html page.html; add_response_header X-Static yes; }
    }
}
`, root, root)
	path := filepath.Join(t.TempDir(), "phalanx.conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o644))
	opts, _, err := phalanx.LoadConfig(path, discard())
	require.NoError(t, err)
	url, _ := startProxy(t, append(opts, phalanx.WithLogger(discard()))...)
	c := noRedirects(t)
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/static/a.txt", 200, "0123456789abcdefghijklmnopqrstuvwxyz"},
		{"/static/", 200, "<!doctype html><title>root index</title>"},
		{"/static", 301, ""},
		{"/staticx", 404, "Not Found\n"},
		{"/static-secret.txt", 404, "Not Found\n"},
		{"/static/../secret.txt", 404, "Not Found\n"},
		{"/d/", 200, "<p>page</p>"},     // the second index name
		{"/d/dir/", 403, "Forbidden\n"}, // has index.html only, not an index here
		{"/d/dir/index.html", 200, "<p>dir index</p>"},
	} {
		res, err := c.Get(url + tc.path)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status || tc.status != 301 && string(b) != tc.body {
			t.Errorf("GET %s = %d %q, want %d %q", tc.path, res.StatusCode, b, tc.status, tc.body)
		}
		if got := res.Header.Get("X-Static"); strings.HasPrefix(tc.path, "/d/") != (got == "yes") {
			t.Errorf("GET %s: X-Static = %q, want \"yes\" on /d/ only", tc.path, got)
		}
	}

	bad := strings.Replace(conf, root, filepath.Join(root, "missing"), 1)
	require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
	_, _, err = phalanx.LoadConfig(path, discard())
	if err == nil || !strings.Contains(err.Error(), path+":7:") || !strings.Contains(err.Error(), "route /static") {
		t.Errorf("LoadConfig with a missing root = %v, want an error at %s:7 naming route /static", err, path)
	}
}

// ExampleStaticFiles serves a directory on /static/ from a Server mounted
// in another HTTP server.
func ExampleStaticFiles() {
	dir, err := os.MkdirTemp("", "www")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, world\n"), 0o644); err != nil {
		log.Fatal(err)
	}

	files, err := phalanx.StaticFiles(dir, phalanx.StaticConfig{Prefix: "/static/"})
	if err != nil {
		log.Fatal(err)
	}
	defer files.Close()
	srv, err := phalanx.New(phalanx.WithLogger(slog.New(slog.DiscardHandler)),
		phalanx.WithRoute(phalanx.Route{Path: "/static/", Handler: files}))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	res, err := http.Get(ts.URL + "/static/hello.txt")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.Status, res.Header.Get("Content-Type"))
	fmt.Print(string(body))
	// Output:
	// 200 OK text/plain; charset=utf-8
	// hello, world
}
