package phalanx

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// observed is one request seen by the pipeline: what metrics and the
// access log report when it ends.
type observed struct {
	rec   recorder
	body  countingBody
	start time.Time
}

// recorder is the ResponseWriter the pipeline writes through: it notes the
// status and counts the body bytes. Unwrap lets http.ResponseController
// (which ReverseProxy uses to flush and to hijack for WebSockets) reach
// the writer beneath.
type recorder struct {
	http.ResponseWriter
	status int   // the final status sent, 0 until then
	bytes  int64 // body bytes written
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps sendfile for static files.
func (w *recorder) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	w.bytes += n
	return n, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush and Hijack serve callers that assert the interfaces directly
// (as fcgi and uwsgi handlers and older middleware do).
func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// countingBody counts the request body bytes read.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64 // read by the transport's goroutine, summed at the end
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// begin starts observing r: it returns the writer and request the pipeline
// goes on with.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, o *observed) (http.ResponseWriter, *http.Request) {
	o.start = time.Now()
	o.rec.ResponseWriter = w
	if r.TLS == nil {
		// A connection the HTTP/1.1 engine handed over after its TLS
		// handshake.
		if cs, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
			r.TLS = cs
		}
	}
	if r.Body != nil && r.Body != http.NoBody {
		o.body.ReadCloser = r.Body
		r.Body = &o.body
	}
	s.metrics.inflight.Inc()
	return &o.rec, r
}

// end reports a request that begin started, to the metrics and the access
// log. st is the request's state (route, backend), never nil.
func (s *Server) end(r *http.Request, o *observed, st *reqState) {
	s.metrics.inflight.Dec()
	status := o.rec.status
	if status == 0 {
		// Nothing was written: the handler returned without a response
		// (net/http sends 200), or a panic aborted the connection.
		status = http.StatusOK
		if r.Context().Err() != nil {
			status = statusClientClosed
		}
	}
	s.report(st, status, o.body.n.Load(), o.rec.bytes, time.Since(o.start), func() requestLine {
		return requestLine{method: r.Method, host: r.Host, path: r.URL.Path, proto: r.Proto}
	})
}

// requestLine is what the access log says of a request beyond its state.
type requestLine struct {
	method, host, path, proto string
}

// report counts a finished request in the metrics and writes its access
// log line; line is called only if there is one to write.
func (s *Server) report(st *reqState, status int, in, out int64, elapsed time.Duration, line func() requestLine) {
	m := s.metrics
	routeName, upName, backend := "", "", ""
	if st.route != nil {
		routeName = st.route.name
		if st.route.up != nil {
			upName = st.route.up.name
		}
	}
	if b := st.backend.Load(); b != nil {
		backend = b.Addr()
	}
	m.requests.WithLabelValues(routeName, upName, backend, statusClass(status)).Inc()
	m.duration.WithLabelValues(routeName).Observe(elapsed.Seconds())
	if in > 0 {
		m.bytesIn.WithLabelValues(routeName).Add(float64(in))
	}
	if out > 0 {
		m.bytesOut.WithLabelValues(routeName).Add(float64(out))
	}
	al := st.cfg.accessLog
	if al == nil || !al.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	l := line()
	attrs := [...]slog.Attr{
		slog.String("method", l.method),
		slog.String("host", l.host),
		slog.String("path", l.path),
		slog.String("proto", l.proto),
		slog.Int("status", status),
		slog.Int64("bytes_in", in),
		slog.Int64("bytes_out", out),
		slog.Duration("duration", elapsed),
		slog.Duration("upstream_duration", time.Duration(st.upstreamNanos.Load())),
		slog.String("route", routeName),
		slog.String("upstream", upName),
		slog.String("backend", backend),
		slog.String("client", st.clientIP),
		slog.String("request_id", st.id),
	}
	al.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs[:]...)
}
