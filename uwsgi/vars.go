package uwsgi

import (
	"encoding/binary"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// appendRequest appends the packet for r to dst: the request vars nginx's
// uwsgi_params file sets, the configured params (which replace a request
// var of the same name), then the request's header fields as HTTP_* vars.
// contentLength is the body's length, or -1 to send CONTENT_LENGTH empty
// as nginx does for a request without a body. On ErrPacketTooLarge dst
// comes back as it was.
//
// REQUEST_URI is the request target as the client sent it, or, for an
// absolute-form target ("GET http://host/x"), its path and query.
func appendRequest(dst []byte, r *http.Request, params []Param, contentLength int64) ([]byte, error) {
	start := len(dst)
	b := varsBuilder{b: append(dst, 0, 0, 0, 0), params: params}

	b.add("QUERY_STRING", r.URL.RawQuery)
	b.add("REQUEST_METHOD", r.Method)
	b.add("CONTENT_TYPE", first(r.Header["Content-Type"]))
	if contentLength >= 0 {
		b.addInt("CONTENT_LENGTH", contentLength)
	} else {
		b.add("CONTENT_LENGTH", "")
	}
	if strings.HasPrefix(r.RequestURI, "/") {
		b.add("REQUEST_URI", r.RequestURI)
	} else {
		b.add("REQUEST_URI", r.URL.RequestURI())
	}
	b.add("PATH_INFO", r.URL.Path)
	proto := r.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	b.add("SERVER_PROTOCOL", proto)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
		b.add("HTTPS", "on")
		b.add("UWSGI_SCHEME", scheme)
	}
	b.add("REQUEST_SCHEME", scheme)
	host, port := splitHostPort(r.RemoteAddr)
	b.add("REMOTE_ADDR", host)
	b.add("REMOTE_PORT", port)
	b.serverVars(r, scheme)
	b.add("HTTP_HOST", r.Host)

	for _, p := range params {
		b.b = appendVar(b.b, p.Name, p.Value)
	}
	conn := r.Header["Connection"]
	for k, vs := range r.Header {
		if skipHeader(k) || (len(conn) > 0 && listed(conn, k)) || b.headerOverridden(k) {
			continue
		}
		b.addHeader(k, vs)
	}
	return finishPacket(b.b, start)
}

// varsBuilder appends vars, leaving out those that params set.
type varsBuilder struct {
	b      []byte
	params []Param
}

func (b *varsBuilder) overridden(k string) bool {
	for _, p := range b.params {
		if p.Name == k {
			return true
		}
	}
	return false
}

func (b *varsBuilder) add(k, v string) {
	if !b.overridden(k) {
		b.b = appendVar(b.b, k, v)
	}
}

func (b *varsBuilder) addInt(k string, n int64) {
	if b.overridden(k) {
		return
	}
	b.b = binary.LittleEndian.AppendUint16(b.b, uint16(len(k)))
	b.b = append(b.b, k...)
	at := len(b.b)
	b.b = append(b.b, 0, 0)
	b.b = strconv.AppendInt(b.b, n, 10)
	binary.LittleEndian.PutUint16(b.b[at:], uint16(len(b.b)-at-2))
}

// serverVars adds SERVER_NAME, the request's host without its port, and
// SERVER_PORT, the port of the local socket the request came in on (the
// port of the Host header, or the scheme's, when that is not known).
func (b *varsBuilder) serverVars(r *http.Request, scheme string) {
	name, hostPort := splitHostPort(r.Host)
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if name == "" && local != nil {
		name, _ = splitHostPort(local.String())
	}
	b.add("SERVER_NAME", name)
	switch a := local.(type) {
	case *net.TCPAddr:
		b.addInt("SERVER_PORT", int64(a.Port))
	default:
		switch {
		case hostPort != "":
		case scheme == "https":
			hostPort = "443"
		default:
			hostPort = "80"
		}
		b.add("SERVER_PORT", hostPort)
	}
}

// headerOverridden reports whether a param sets the HTTP_* var of header
// k, which then is not sent (as nginx does).
func (b *varsBuilder) headerOverridden(k string) bool {
	for _, p := range b.params {
		if len(p.Name) == len("HTTP_")+len(k) && strings.HasPrefix(p.Name, "HTTP_") {
			v := p.Name[len("HTTP_"):]
			same := true
			for i := 0; i < len(k) && same; i++ {
				same = varChar(k[i]) == v[i]
			}
			if same {
				return true
			}
		}
	}
	return false
}

// addHeader adds header k as HTTP_K, upper case with '-' as '_', its
// values joined by ", " ("; " for Cookie, which HTTP/2 splits).
func (b *varsBuilder) addHeader(k string, vs []string) {
	sep := ", "
	if k == "Cookie" {
		sep = "; "
	}
	b.b = binary.LittleEndian.AppendUint16(b.b, uint16(len("HTTP_")+len(k)))
	b.b = append(b.b, "HTTP_"...)
	for i := 0; i < len(k); i++ {
		b.b = append(b.b, varChar(k[i]))
	}
	n := 0
	for i, v := range vs {
		if i > 0 {
			n += len(sep)
		}
		n += len(v)
	}
	b.b = binary.LittleEndian.AppendUint16(b.b, uint16(n))
	for i, v := range vs {
		if i > 0 {
			b.b = append(b.b, sep...)
		}
		b.b = append(b.b, v...)
	}
}

// varChar maps a header name byte to its CGI var byte.
func varChar(c byte) byte {
	switch {
	case c == '-':
		return '_'
	case 'a' <= c && c <= 'z':
		return c - 'a' + 'A'
	}
	return c
}

// skipHeader reports whether header k stays out of the HTTP_* vars:
// Content-Type and Content-Length (sent as CONTENT_*), Host (sent as
// HTTP_HOST from r.Host), Proxy (httpoxy, CVE-2016-5385), the hop-by-hop
// fields, and names with an underscore or any other non-token byte, which
// nginx also drops by default, since "X_Foo" would otherwise pass for
// "X-Foo" (both are HTTP_X_FOO).
func skipHeader(k string) bool {
	switch k {
	case "Content-Type", "Content-Length", "Proxy", "Host",
		"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	if k == "" {
		return true
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c == '_' || !isTokenChar(c) {
			return true
		}
	}
	return false
}

// listed reports whether the Connection header values name k.
func listed(conn []string, k string) bool {
	for _, v := range conn {
		for v != "" {
			var f string
			f, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(f), k) {
				return true
			}
		}
	}
	return false
}

// splitHostPort splits "host:port", "[v6]:port", "host" or "[v6]"
// without allocating.
func splitHostPort(s string) (host, port string) {
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i > 0 {
			host, rest := s[1:i], s[i+1:]
			return host, strings.TrimPrefix(rest, ":")
		}
		return s, ""
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.IndexByte(s, ':') == i {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
