package phalanx

import (
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// StaticConfig tunes a StaticHandler. The zero value serves the whole
// request path under the directory, with index.html as the index file and
// no directory listings.
type StaticConfig struct {
	// Prefix is removed from the request path before it is mapped to a
	// file: it is the route's Path. With Prefix "/static", "/static/a.css"
	// is the file a.css of the directory, "/static" redirects to
	// "/static/", and "/staticx" is 404 (the rest of the path must start
	// with "/", unless Prefix ends with "/"). A request whose path does not
	// start with Prefix is 404. Empty means "/": nothing is removed.
	Prefix string
	// Index lists the files tried, in order, for a request that names a
	// directory (nginx's "index"). nil means ["index.html"]; an empty,
	// non-nil slice means none. Each name is relative to the directory.
	Index []string
	// Listing, if true, answers a directory that has no index file with
	// an HTML list of its entries; if false (the default) such a request
	// gets 403 Forbidden, as nginx does without autoindex.
	Listing bool
}

// StaticHandler serves the files under one directory (the config file's
// "root DIR;"), for GET and HEAD. Create one with StaticFiles and Close it
// when no route uses it any more.
//
// Every file is opened through an os.Root, so no request path can name a
// file outside the directory: not with "..", encoded or not, nor an
// absolute path, nor a symbolic link that points outside (links that
// stay inside are followed). Request paths with a ".." segment or a NUL
// byte are refused before any lookup, with 404 and 400. A missing file is
// 404, one the process may not read 403; an escaping path looks missing.
//
// A file is answered with http.ServeContent, which handles Range (one
// range or several, as multipart/byteranges), If-Modified-Since,
// If-None-Match, If-Range and HEAD, and takes its Content-Type from the
// extension, else from the first 512 bytes. The handler adds a strong
// ETag made of the modification time (in nanoseconds) and the size. The
// file is never read into memory: it is copied to the connection, with
// sendfile(2) where the connection is a plain TCP socket (whole files and
// single ranges; several ranges go through a pipe to the multipart
// writer).
//
// A path naming a directory without a trailing "/" is redirected (301) to
// the same path with one, query kept; the redirect is built from the
// request's path, so mount the handler with Prefix set rather than behind
// http.StripPrefix. A directory is answered with its first index file,
// else with a listing or 403 (see StaticConfig). Dot files are served
// like any other, as nginx does: keep .git and the like out of the
// directory. Methods other than GET and HEAD get 405.
//
// A StaticHandler is safe for concurrent use and must not be copied.
type StaticHandler struct {
	root    *os.Root
	prefix  string
	index   []string
	listing bool
}

// StaticFiles returns a handler serving the files under dir, which is
// opened once, now. The handler keeps the directory open, even if it is
// renamed; files added or changed under it are served as they are at
// each request.
//
// Unlike nginx's "root", which appends the whole request path to dir,
// the route's prefix is removed first, as with nginx's "alias": with
// Prefix "/static" and dir /var/www/html, "/static/a.css" is
// /var/www/html/a.css, not /var/www/html/static/a.css. A route then
// serves a directory whatever its prefix, and the prefix is not a
// directory the files must sit in.
func StaticFiles(dir string, c StaticConfig) (*StaticHandler, error) {
	if c.Prefix == "" {
		c.Prefix = "/"
	}
	if !strings.HasPrefix(c.Prefix, "/") {
		return nil, fmt.Errorf("phalanx: static files: prefix %q does not start with /", c.Prefix)
	}
	index := c.Index
	if index == nil {
		index = []string{"index.html"}
	}
	for _, name := range index {
		if name == "" || strings.HasPrefix(name, "/") || strings.IndexByte(name, 0) >= 0 || hasDotDot(name) {
			return nil, fmt.Errorf("phalanx: static files: index %q is not a relative file name", name)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("phalanx: static files: %w", err)
	}
	return &StaticHandler{
		root:    root,
		prefix:  c.Prefix,
		index:   slices.Clone(index),
		listing: c.Listing,
	}, nil
}

// Close closes the directory. Requests being served finish normally (the
// files they opened stay open); requests that reach the handler after
// Close get 503 Service Unavailable. Close always returns nil, and may be
// called more than once.
func (h *StaticHandler) Close() error {
	return h.root.Close()
}

// errNotServable is the error for a file that is neither regular nor a
// directory (a FIFO, a socket, a device).
var errNotServable = errors.New("phalanx: static files: not a regular file or directory")

// maxListing bounds the entries of a directory listing.
const maxListing = 10000

// openFlags opens files without blocking on a FIFO that has no writer
// (nginx does the same); a non-regular file is then refused. O_NONBLOCK
// changes nothing for reads of regular files.
const openFlags = os.O_RDONLY | openNonblock

// ServeHTTP serves the file or directory the request path names.
func (h *StaticHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		staticError(w, http.StatusMethodNotAllowed)
		return
	}
	name, wantDir, status := h.resolve(r.URL.Path)
	if status != 0 {
		staticError(w, status)
		return
	}
	f, fi, err := h.open(name)
	if err != nil {
		staticError(w, statusOf(err))
		return
	}
	defer f.Close()
	if !fi.IsDir() {
		if wantDir {
			// "/a.css/": a file is not a directory (as nginx answers).
			staticError(w, http.StatusNotFound)
			return
		}
		h.serveFile(w, r, f, fi)
		return
	}
	if !wantDir {
		// The path to a directory ends in "/", so that relative links in
		// its index resolve inside it. The cleaned path keeps the prefix
		// and cannot start with "//", which a browser would take for
		// another host.
		loc := (&url.URL{Path: path.Clean(r.URL.Path) + "/"}).EscapedPath()
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, loc, http.StatusMovedPermanently)
		return
	}
	for _, idx := range h.index {
		xf, xfi, err := h.open(path.Join(name, idx))
		switch {
		case err == nil && !xfi.IsDir():
			defer xf.Close()
			h.serveFile(w, r, xf, xfi)
			return
		case err == nil:
			xf.Close() // a directory named like an index file
		case statusOf(err) != http.StatusNotFound:
			staticError(w, statusOf(err))
			return
		}
	}
	if !h.listing {
		staticError(w, http.StatusForbidden)
		return
	}
	h.list(w, r, f)
}

// resolve maps a request path to a name under the root ("." for the root
// itself), and reports whether the path ends in "/". A non-zero status
// refuses the path.
func (h *StaticHandler) resolve(p string) (name string, wantDir bool, status int) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", false, http.StatusBadRequest
	}
	if !strings.HasPrefix(p, h.prefix) {
		return "", false, http.StatusNotFound
	}
	rest := p[len(h.prefix):]
	switch {
	case strings.HasSuffix(h.prefix, "/"):
		rest = "/" + rest
	case rest == "":
		// The prefix itself names the root directory; the redirect to
		// prefix + "/" follows.
		return ".", false, 0
	case rest[0] != '/':
		// "/staticx" under prefix "/static": not this directory's file
		// (nginx's "alias" would look up /var/www/htmlx).
		return "", false, http.StatusNotFound
	}
	if hasDotDot(rest) {
		return "", false, http.StatusNotFound
	}
	if runtime.GOOS == "windows" && strings.IndexByte(rest, '\\') >= 0 {
		// A separator there; on Unix an ordinary character of a name.
		return "", false, http.StatusNotFound
	}
	wantDir = strings.HasSuffix(rest, "/")
	name = strings.TrimPrefix(path.Clean(rest), "/")
	if name == "" {
		name = "."
	}
	return name, wantDir, 0
}

// hasDotDot reports whether a "/"-separated path has a ".." segment.
func hasDotDot(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

// open opens name under the root and stats it; only regular files and
// directories are returned.
func (h *StaticHandler) open(name string) (*os.File, os.FileInfo, error) {
	f, err := h.root.OpenFile(name, openFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		err = errNotServable
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// serveFile answers with the content of f. The *os.File itself goes to
// ServeContent, so that copying it to a TCP connection uses sendfile(2).
func (h *StaticHandler) serveFile(w http.ResponseWriter, r *http.Request, f *os.File, fi os.FileInfo) {
	w.Header().Set("Etag", etag(fi))
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// etag is a strong entity tag from the modification time and the size:
// a write that keeps the size changes the nanosecond mtime.
func etag(fi os.FileInfo) string {
	b := make([]byte, 0, 36)
	b = append(b, '"')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.Size(), 16)
	b = append(b, '"')
	return string(b)
}

// list writes a minimal HTML listing of the directory d, sorted by name,
// of at most maxListing entries.
func (h *StaticHandler) list(w http.ResponseWriter, r *http.Request, d *os.File) {
	entries, err := d.ReadDir(maxListing + 1)
	if err != nil && err != io.EOF {
		staticError(w, statusOf(err))
		return
	}
	more := len(entries) > maxListing
	if more {
		entries = entries[:maxListing]
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	title := html.EscapeString(r.URL.Path)
	var b strings.Builder
	b.WriteString("<!doctype html>\n<meta charset=\"utf-8\">\n<title>Index of ")
	b.WriteString(title)
	b.WriteString("</title>\n<h1>Index of ")
	b.WriteString(title)
	b.WriteString("</h1>\n<ul>\n")
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		// "./" keeps a name such as "a:b" from reading as a URL scheme.
		b.WriteString(`<li><a href="./`)
		b.WriteString(html.EscapeString((&url.URL{Path: n}).EscapedPath()))
		b.WriteString(`">`)
		b.WriteString(html.EscapeString(n))
		b.WriteString("</a></li>\n")
	}
	b.WriteString("</ul>\n")
	if more {
		fmt.Fprintf(&b, "<p>Only the first %d entries are listed.</p>\n", maxListing)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		io.WriteString(w, b.String())
	}
}

// statusOf maps an error from opening or reading a file to a status.
// Paths that leave the root (os.Root's error for them is no errno), a
// file where a directory was expected, symlink loops and the like all
// look like missing files, so as not to tell what lies outside; running
// out of descriptors or memory and I/O errors are 500.
func statusOf(err error) int {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden
	case errors.Is(err, fs.ErrClosed):
		return http.StatusServiceUnavailable
	case serverFault(err):
		return http.StatusInternalServerError
	}
	return http.StatusNotFound
}

// staticError answers with status and its text only: the cause may name
// paths on the server.
func staticError(w http.ResponseWriter, status int) {
	http.Error(w, http.StatusText(status), status)
}

var (
	_ http.Handler = (*StaticHandler)(nil)
	_ io.Closer    = (*StaticHandler)(nil)
)
