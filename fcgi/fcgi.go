package fcgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Param is one CGI variable sent with every request, as nginx's
// "fastcgi_param NAME VALUE;".
type Param struct {
	Name, Value string
}

// Timeouts bound the waits on the backend. A zero field keeps its
// default.
type Timeouts struct {
	// Dial bounds connecting to the backend, and the wait for a free
	// connection when MaxConns are busy; 5s (nginx's
	// fastcgi_connect_timeout is 60s, too long for a local php-fpm).
	Dial time.Duration
	// Read bounds each wait for bytes from the backend, the response
	// header included: a script may run this long without output; 60s
	// (nginx's fastcgi_read_timeout).
	Read time.Duration
	// Write bounds each wait for the backend to take request bytes; 60s
	// (nginx's fastcgi_send_timeout).
	Write time.Duration
	// Idle is how long a kept connection may stay unused before it is
	// closed; 60s.
	Idle time.Duration
}

// Defaults of the Handler's zero fields.
const (
	defaultIndex     = "index.php"      // nginx's usual fastcgi_index
	defaultSplitPath = ".php"           // fastcgi_split_path_info ^(.+\.php)(/.+)$
	defaultMaxConns  = 64               // well above php-fpm's usual pm.max_children
	defaultKeepalive = 8                // idle connections, each holding a php-fpm worker
	defaultDial      = 5 * time.Second  // a local php-fpm accepts in microseconds
	defaultRead      = 60 * time.Second // nginx fastcgi_read_timeout
	defaultWrite     = 60 * time.Second // nginx fastcgi_send_timeout
	defaultIdle      = 60 * time.Second // matches the proxy's idle upstream connections
)

// Handler serves HTTP requests by passing them to a FastCGI responder
// such as php-fpm. Build one as a struct literal; only Addr and the
// document root (Root, or a DOCUMENT_ROOT or SCRIPT_FILENAME param) are
// required:
//
//	h := &fcgi.Handler{Addr: "unix:/run/php/php-fpm.sock", Root: "/var/www"}
//
// A Handler is safe for concurrent use. Its fields must not change, nor
// the Handler be copied, once it has served a request or Validate or
// Close was called.
type Handler struct {
	// Network is "tcp" or "unix". Empty means "unix" when Addr starts
	// with "unix:" or "/", else "tcp".
	Network string
	// Addr is the backend: "host:port" for TCP, or a socket path, which
	// may be written "unix:/run/php/php-fpm.sock" as in nginx's
	// fastcgi_pass.
	Addr string
	// Root is the document root on the backend's file system:
	// SCRIPT_FILENAME is Root followed by the script's path, and
	// DOCUMENT_ROOT is Root. The full request path is used, as nginx's
	// root does, route prefix included: with Root "/var/www", a request
	// for /app/index.php runs /var/www/app/index.php. Wrap the Handler in
	// http.StripPrefix to map a prefix elsewhere, as nginx's alias does.
	// Empty means the value of a DOCUMENT_ROOT param without variables,
	// if Params has one; else Params must set SCRIPT_FILENAME.
	Root string
	// Index is appended to a script path that ends in "/" (nginx's
	// fastcgi_index). Empty means "index.php".
	Index string
	// SplitPath splits the request path into SCRIPT_NAME and PATH_INFO
	// after its first occurrence that ends the path or is followed by
	// "/": "/app.php/users/1" runs /app.php with PATH_INFO "/users/1"
	// (nginx's fastcgi_split_path_info ^(.+?\.php)(/.*)$). The match is
	// case-sensitive. A path without it is the script name as a whole.
	// Empty means ".php".
	SplitPath string
	// Params are extra CGI variables, sent after the default ones; a
	// Param named like a default replaces it, and one named HTTP_* hides
	// the request header it would come from. Values may use the nginx
	// variables $document_root, $fastcgi_script_name, $fastcgi_path_info,
	// $request_filename, $request_uri, $document_uri, $uri,
	// $query_string, $args, $request_method, $content_type,
	// $content_length, $server_name, $server_port, $server_addr,
	// $server_protocol, $remote_addr, $remote_port, $scheme,
	// $request_scheme, $https and $host, also as ${name}; any other "$"
	// is kept as written.
	Params []Param
	// Timeouts bound the waits on the backend; see Timeouts for the
	// defaults.
	Timeouts Timeouts
	// MaxConns bounds the connections open to the backend. A request
	// finding all of them busy waits up to Timeouts.Dial for one, then
	// gets 503. 0 means 64; negative means no limit.
	MaxConns int
	// Keepalive is how many idle connections are kept for reuse
	// (FCGI_KEEP_CONN). php-fpm ties a worker to each open connection,
	// so keep it below the pool's pm.max_children when other clients
	// share it. 0 means 8; negative turns FCGI_KEEP_CONN off, so that
	// the backend closes each connection after its request.
	Keepalive int
	// Logger receives a line for each failed request and each line a
	// backend writes to FCGI_STDERR (bounded per request). nil means
	// slog.Default().
	Logger *slog.Logger
	// Dial, if not nil, connects to the backend instead of a
	// net.Dialer. ctx carries Timeouts.Dial.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	once sync.Once
	st   *state
}

// compiledParam is a Param with its value parsed.
type compiledParam struct {
	name  string
	value template
}

// state is a Handler's configuration with defaults applied, and its
// connections.
type state struct {
	network, addr string
	root          string // Root without a trailing "/": SCRIPT_FILENAME's prefix
	docRoot       string // DOCUMENT_ROOT: root, or "/" for Root "/"
	index         string
	split         string
	params        []compiledParam
	overridden    [len(defaultParams)]bool // defaults replaced by params
	httpOverrides map[string]bool          // HTTP_* names set by params
	keepConn      bool
	logger        *slog.Logger
	pool          *pool
	err           error // a configuration error: every request gets 500
}

// state returns the Handler's state, built at the first call.
func (h *Handler) state() *state {
	h.once.Do(func() { h.st = h.build() })
	return h.st
}

func (h *Handler) build() *state {
	s := &state{
		network: h.Network, addr: h.Addr, root: h.Root, index: h.Index, split: h.SplitPath,
		keepConn: h.Keepalive >= 0, logger: h.Logger,
	}
	if s.index == "" {
		s.index = defaultIndex
	}
	if s.split == "" {
		s.split = defaultSplitPath
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if rest, ok := strings.CutPrefix(s.addr, "unix:"); ok && (s.network == "" || s.network == "unix") {
		s.network, s.addr = "unix", rest
	}
	if s.network == "" {
		s.network = "tcp"
		if strings.HasPrefix(s.addr, "/") {
			s.network = "unix"
		}
	}
	t := h.Timeouts
	t.Dial = cmpOr(t.Dial, defaultDial)
	t.Read = cmpOr(t.Read, defaultRead)
	t.Write = cmpOr(t.Write, defaultWrite)
	t.Idle = cmpOr(t.Idle, defaultIdle)
	maxConns := h.MaxConns
	if maxConns == 0 {
		maxConns = defaultMaxConns
	}
	keepalive := h.Keepalive
	if keepalive == 0 {
		keepalive = defaultKeepalive
	}

	scriptFilename := false
	for _, p := range h.Params {
		cp := compiledParam{name: p.Name, value: parseTemplate(p.Value)}
		s.params = append(s.params, cp)
		for i, d := range defaultParams {
			if d.name == p.Name {
				s.overridden[i] = true
			}
		}
		if strings.HasPrefix(p.Name, "HTTP_") {
			if s.httpOverrides == nil {
				s.httpOverrides = make(map[string]bool)
			}
			s.httpOverrides[p.Name] = true
		}
		switch p.Name {
		case "SCRIPT_FILENAME":
			scriptFilename = true
		case "DOCUMENT_ROOT":
			if v, ok := cp.value.literal(); ok && s.root == "" {
				s.root = v
			}
		}
	}
	s.docRoot = s.root
	if s.root != "/" {
		s.docRoot = strings.TrimSuffix(s.root, "/")
	}
	hasRoot := s.root != ""
	s.root = strings.TrimSuffix(s.root, "/")
	switch {
	case s.addr == "":
		s.err = errNoAddr
	case !hasRoot && !scriptFilename:
		s.err = errNoRoot
	}

	dial := h.Dial
	if dial == nil {
		d := &net.Dialer{}
		dial = d.DialContext
	}
	network, addr := s.network, s.addr
	s.pool = newPool(func(ctx context.Context) (net.Conn, error) { return dial(ctx, network, addr) }, t, maxConns, keepalive)
	if !s.keepConn {
		s.pool.maxIdle = -1
	}
	return s
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Validate reports whether the Handler can serve requests: it needs an
// Addr, and Root or a DOCUMENT_ROOT or SCRIPT_FILENAME param. A Handler
// that cannot answers 500 to every request. Validate fixes the
// configuration, as the first request does.
func (h *Handler) Validate() error {
	if err := h.state().err; err != nil {
		return err
	}
	return nil
}

// Close closes the idle connections to the backend and keeps no more:
// connections still in use are closed when their requests end. Requests
// may still be served, each on a new connection. It returns nil.
func (h *Handler) Close() error {
	h.state().pool.close()
	return nil
}

// statusClientClosed is logged (never sent) when the client went away, as
// nginx's 499.
const statusClientClosed = 499

// ServeHTTP passes r to the backend and relays the response as it comes.
// Failures before the response header get a status, with one log line:
// 502 when the backend cannot be reached, closes the connection or breaks
// the protocol, 503 when it is overloaded or MaxConns connections stay
// busy, 504 when it times out, 400 for a malformed path or a failed
// upload, 413 past an http.MaxBytesReader's limit. After the response
// header, a failure aborts the response (http.ErrAbortHandler), so the
// client sees a broken response rather than a short one.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.state()
	if s.err != nil {
		s.fail(w, r, http.StatusInternalServerError, s.err)
		return
	}
	p, script, info, err := mapPath(r.URL.Path, s.split, s.index)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}

	rbuf := recordBufs.Get().(*[]byte)
	defer recordBufs.Put(rbuf)
	var body io.Reader
	n := int64(-1) // CONTENT_LENGTH; -1: none
	switch {
	case r.ContentLength > 0:
		body, n = r.Body, r.ContentLength
	case r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody:
		sbuf := recordBufs.Get().(*[]byte)
		defer recordBufs.Put(sbuf)
		var cleanup func()
		body, n, cleanup, err = spool(r.Body, *sbuf)
		if err != nil {
			s.fail(w, r, s.status(r, err), err)
			return
		}
		defer cleanup()
	case r.Header.Get("Content-Length") == "0":
		n = 0
	}

	var vars cgiVars
	s.setVars(&vars, r, p, script, info, n)
	pbuf := paramBufs.Get().(*[]byte)
	defer func() {
		if cap(*pbuf) <= maxPooledParams {
			paramBufs.Put(pbuf)
		}
	}()
	*pbuf = appendHead((*pbuf)[:0], 0, s.keepConn, n <= 0, func(b []byte) []byte {
		return s.appendParams(b, &vars, r.Header)
	})

	rt := roundTrip{s: s, w: w, r: r, head: *pbuf, body: body, n: n, buf: *rbuf}
	err = rt.do(false)
	if err != nil && rt.retryable && !rt.wroteHeader {
		// A kept connection the backend had closed: once more, on a new
		// one.
		rt.retryable = false
		err = rt.do(true)
	}
	if err == nil {
		return
	}
	status := s.status(r, err)
	if !rt.wroteHeader {
		s.fail(w, r, status, err)
		return
	}
	s.log(r, status, err)
	if status != statusClientClosed {
		panic(http.ErrAbortHandler)
	}
}

// roundTrip is one request's exchange with the backend.
type roundTrip struct {
	s    *state
	w    http.ResponseWriter
	r    *http.Request
	head []byte // BEGIN_REQUEST and PARAMS, with request id 0
	body io.Reader
	n    int64 // body length; > 0 when there is one to send
	buf  []byte

	wroteHeader bool
	retryable   bool // failed on a kept connection before any response
}

// do runs the exchange on a kept connection, or a new one if none is
// idle or fresh is set.
func (rt *roundTrip) do(fresh bool) (err error) {
	s, ctx := rt.s, rt.r.Context()
	if err := s.pool.acquire(ctx); err != nil {
		return err
	}
	defer s.pool.release()
	var c *conn
	if !fresh {
		c = s.pool.get()
	}
	firstByte := func() {}
	if c == nil {
		if c, err = s.pool.open(ctx); err != nil {
			return fmt.Errorf("fcgi: dial %s %s: %w", s.network, s.addr, err)
		}
		if s.keepConn {
			firstByte = s.pool.watch().stop
		}
	}
	reusable := false
	defer func() {
		firstByte()
		s.pool.put(c, reusable)
	}()
	stop := context.AfterFunc(ctx, c.abort)

	id := c.nextID()
	head := rt.head
	for i := 0; i+headerLen <= len(head); i += headerLen + int(head[i+4])<<8 + int(head[i+5]) + int(head[i+6]) {
		head[i+2], head[i+3] = byte(id>>8), byte(id)
	}
	if err := c.write(head); err != nil {
		stop()
		rt.retryable = c.reused && rt.n <= 0 && idempotent(rt.r.Method) && isClosed(err)
		return err
	}
	rc := http.NewResponseController(rt.w)
	var sw *stdinWriter
	if rt.n > 0 {
		rc.EnableFullDuplex()
		wbuf := recordBufs.Get().(*[]byte)
		defer recordBufs.Put(wbuf)
		sw = startStdin(c, id, rt.body, rt.n, *wbuf)
	}
	rs := &response{s: s, w: rt.w, rc: rc, c: c, id: id, buf: rt.buf, onFirst: firstByte}
	rs.stderr = stderrLog{logger: s.logger, ctx: ctx,
		attrs: []slog.Attr{slog.String("backend", s.addr), slog.String("path", rt.r.URL.Path)}}
	err = rs.run()
	rs.stderr.flush()
	rt.wroteHeader = rs.wroteHeader
	if sw != nil {
		if err != nil || !sw.last.Load() {
			// The response ended (or failed) before the body was sent:
			// stop the writer, which may be waiting for the client.
			c.abort()
			rc.SetReadDeadline(time.Unix(1, 0))
		}
		<-sw.done
		if sw.err != nil && errors.Is(err, errAborted) && ctx.Err() == nil {
			err = sw.err // the writer failed first: its error is the cause
		}
	}
	if !stop() {
		return err // the context ended: c was aborted
	}
	rt.retryable = err != nil && c.reused && !rs.gotRecord && rt.n <= 0 && idempotent(rt.r.Method) && isClosed(err)
	reusable = err == nil && !c.aborted.Load() && (sw == nil || sw.err == nil)
	return err
}

// idempotent reports whether a request with method may be sent twice
// (RFC 9110, section 9.2.2).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// status maps an error to the status the client gets.
func (s *state) status(r *http.Request, err error) int {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch ctxErr := r.Context().Err(); {
	case errors.Is(err, errAborted) && ctxErr == context.Canceled, errors.Is(err, errClientGone):
		return statusClientClosed
	case errors.Is(err, errAborted) && ctxErr == context.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errClientBody):
		if ctxErr != nil {
			return statusClientClosed
		}
		return http.StatusBadRequest
	case errors.Is(err, errBadPath):
		return http.StatusBadRequest
	case errors.Is(err, errNoAddr), errors.Is(err, errNoRoot), errors.Is(err, errSpool):
		return http.StatusInternalServerError
	case errors.Is(err, errBusy), errors.Is(err, errOverloaded):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return statusClientClosed
	}
	return http.StatusBadGateway
}

// fail answers a request that got no response from the backend, with one
// log line.
func (s *state) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	s.log(r, status, err)
	if status == statusClientClosed {
		return
	}
	if status == http.StatusRequestEntityTooLarge || status == http.StatusBadRequest && errors.Is(err, errClientBody) {
		w.Header().Set("Connection", "close") // the rest of the body is not read
	}
	http.Error(w, http.StatusText(status), status)
}

func (s *state) log(r *http.Request, status int, err error) {
	level := slog.LevelWarn
	if status == statusClientClosed {
		level = slog.LevelDebug
	}
	s.logger.LogAttrs(r.Context(), level, "fcgi: request failed",
		slog.Int("status", status),
		slog.String("backend", s.addr),
		slog.String("cause", err.Error()),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("client", r.RemoteAddr),
	)
}

// mapPath cleans a request path and splits it into the script name and
// PATH_INFO, appending index to a script name ending in "/". Paths that
// are not absolute or hold control characters are refused: a NUL or
// newline in SCRIPT_FILENAME or PATH_INFO has been the way into
// php-fpm bugs (CVE-2019-11043).
func mapPath(p, split, index string) (clean, script, info string, err error) {
	if p == "" {
		p = "/"
	}
	if p[0] != '/' {
		return "", "", "", errBadPath
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < ' ' || c == 0x7f {
			return "", "", "", errBadPath
		}
	}
	if strings.Contains(p, "//") || strings.Contains(p, "/.") {
		c := path.Clean(p) // no ".." above the root, no "." or "//"
		if strings.HasSuffix(p, "/") && c != "/" {
			c += "/"
		}
		p = c
	}
	script, info = splitPath(p, split)
	if info == "" && strings.HasSuffix(script, "/") {
		script += index
	}
	return p, script, info, nil
}

// splitPath splits p after the first occurrence of split that ends p or
// is followed by "/".
func splitPath(p, split string) (script, info string) {
	for i := 0; ; {
		j := strings.Index(p[i:], split)
		if j < 0 {
			return p, ""
		}
		end := i + j + len(split)
		if end == len(p) || p[end] == '/' {
			return p[:end], p[end:]
		}
		i += j + 1
	}
}

var _ http.Handler = (*Handler)(nil)
