package fcgi

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Name-value pairs (specification, section 3.4): each length is one byte
// when below 128, else four bytes with the top bit set.

// maxPairLen is the largest length a pair can announce.
const maxPairLen = math.MaxInt32

// appendLen appends a name-value pair length.
func appendLen(b []byte, n int) []byte {
	if n < 128 {
		return append(b, byte(n))
	}
	return append(b, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
}

// appendPair appends one name-value pair.
func appendPair(b []byte, name, value string) []byte {
	b = appendLen(b, len(name))
	b = appendLen(b, len(value))
	b = append(b, name...)
	return append(b, value...)
}

// parsePairs calls fn for each name-value pair in b, which holds whole
// pairs (the content of a PARAMS stream, joined). It returns an error
// if a pair is cut short. The slices passed to fn alias b.
func parsePairs(b []byte, fn func(name, value []byte)) error {
	for len(b) > 0 {
		nl, n := readLen(b)
		if n == 0 {
			return fmt.Errorf("%w: truncated pair length", errProtocol)
		}
		b = b[n:]
		vl, n := readLen(b)
		if n == 0 {
			return fmt.Errorf("%w: truncated pair length", errProtocol)
		}
		b = b[n:]
		if uint64(nl)+uint64(vl) > uint64(len(b)) {
			return fmt.Errorf("%w: pair of %d+%d bytes exceeds the %d left", errProtocol, nl, vl, len(b))
		}
		fn(b[:nl], b[nl:nl+vl])
		b = b[nl+vl:]
	}
	return nil
}

// readLen decodes a pair length at the start of b and reports how many
// bytes it took; 0 means b is too short.
func readLen(b []byte) (int, int) {
	if len(b) == 0 {
		return 0, 0
	}
	if b[0] < 128 {
		return int(b[0]), 1
	}
	if len(b) < 4 {
		return 0, 0
	}
	return int(b[0]&0x7f)<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3]), 4
}

// varID names a per-request value: one of the CGI variables the Handler
// sends, also available to Params as an nginx-style variable.
type varID uint8

const (
	vNone varID = iota
	vScriptFilename
	vQueryString
	vRequestMethod
	vContentType
	vContentLength
	vScriptName
	vPathInfo
	vRequestURI
	vDocumentURI
	vDocumentRoot
	vServerProtocol
	vScheme
	vHTTPS
	vGateway
	vSoftware
	vRemoteAddr
	vRemotePort
	vServerAddr
	vServerPort
	vServerName
	vRedirectStatus
	vHost
	numVars
)

// cgiVars holds one request's values, indexed by varID.
type cgiVars [numVars]string

// defaultParams are the CGI variables sent with every request, in order
// (nginx's fastcgi_params file, plus SCRIPT_FILENAME and PATH_INFO). An
// empty HTTPS is left out, as nginx's "if_not_empty" does; any other
// empty value is sent empty.
var defaultParams = [...]struct {
	name string
	v    varID
}{
	{"SCRIPT_FILENAME", vScriptFilename},
	{"QUERY_STRING", vQueryString},
	{"REQUEST_METHOD", vRequestMethod},
	{"CONTENT_TYPE", vContentType},
	{"CONTENT_LENGTH", vContentLength},
	{"SCRIPT_NAME", vScriptName},
	{"PATH_INFO", vPathInfo},
	{"REQUEST_URI", vRequestURI},
	{"DOCUMENT_URI", vDocumentURI},
	{"DOCUMENT_ROOT", vDocumentRoot},
	{"SERVER_PROTOCOL", vServerProtocol},
	{"REQUEST_SCHEME", vScheme},
	{"HTTPS", vHTTPS},
	{"GATEWAY_INTERFACE", vGateway},
	{"SERVER_SOFTWARE", vSoftware},
	{"REMOTE_ADDR", vRemoteAddr},
	{"REMOTE_PORT", vRemotePort},
	{"SERVER_ADDR", vServerAddr},
	{"SERVER_PORT", vServerPort},
	{"SERVER_NAME", vServerName},
	{"REDIRECT_STATUS", vRedirectStatus},
	{"HTTP_HOST", vHost},
}

// varNames are the nginx variables a Param value may use, with what they
// stand for. Unknown names stay as written.
var varNames = map[string]varID{
	"document_root":       vDocumentRoot,
	"fastcgi_script_name": vScriptName,
	"fastcgi_path_info":   vPathInfo,
	"request_filename":    vScriptFilename,
	"request_uri":         vRequestURI,
	"document_uri":        vDocumentURI,
	"uri":                 vDocumentURI,
	"query_string":        vQueryString,
	"args":                vQueryString,
	"request_method":      vRequestMethod,
	"content_type":        vContentType,
	"content_length":      vContentLength,
	"server_name":         vServerName,
	"server_port":         vServerPort,
	"server_addr":         vServerAddr,
	"server_protocol":     vServerProtocol,
	"remote_addr":         vRemoteAddr,
	"remote_port":         vRemotePort,
	"scheme":              vScheme,
	"request_scheme":      vScheme,
	"https":               vHTTPS,
	"host":                vHost,
}

// segment is a piece of a Param value: a literal, or a variable.
type segment struct {
	lit string
	v   varID // vNone for a literal
}

// template is a Param value split at its variables; a value without
// any is one literal segment.
type template []segment

// parseTemplate splits s at "$name" and "${name}" references to the
// variables of varNames.
func parseTemplate(s string) template {
	var t template
	lit := 0 // start of the pending literal
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		name, end := s[i+1:], i+1
		if strings.HasPrefix(name, "{") {
			j := strings.IndexByte(name, '}')
			if j < 0 {
				continue
			}
			name, end = name[1:j], end+j+1
		} else {
			j := 0
			for j < len(name) && isVarByte(name[j]) {
				j++
			}
			name, end = name[:j], end+j
		}
		v, ok := varNames[name]
		if !ok {
			continue
		}
		if lit < i {
			t = append(t, segment{lit: s[lit:i]})
		}
		t = append(t, segment{v: v})
		lit = end
		i = end - 1
	}
	if lit < len(s) || len(t) == 0 {
		t = append(t, segment{lit: s[lit:]})
	}
	return t
}

func isVarByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// literal returns the value of a template without variables.
func (t template) literal() (string, bool) {
	if len(t) == 1 && t[0].v == vNone {
		return t[0].lit, true
	}
	return "", false
}

// appendValue appends a pair with the template expanded.
func (t template) appendPair(b []byte, name string, vars *cgiVars) []byte {
	if s, ok := t.literal(); ok {
		return appendPair(b, name, s)
	}
	n := 0
	for _, s := range t {
		if s.v == vNone {
			n += len(s.lit)
		} else {
			n += len(vars[s.v])
		}
	}
	b = appendLen(b, len(name))
	b = appendLen(b, n)
	b = append(b, name...)
	for _, s := range t {
		if s.v == vNone {
			b = append(b, s.lit...)
		} else {
			b = append(b, vars[s.v]...)
		}
	}
	return b
}

// setVars fills vars for r. path is the cleaned request path, split into
// script and pathInfo; contentLength is the body length sent, or -1 for
// no body.
func (s *state) setVars(vars *cgiVars, r *http.Request, path, script, pathInfo string, contentLength int64) {
	vars[vScriptName] = script
	vars[vPathInfo] = pathInfo
	vars[vDocumentURI] = path
	vars[vDocumentRoot] = s.docRoot
	vars[vScriptFilename] = s.root + script
	vars[vQueryString] = r.URL.RawQuery
	vars[vRequestMethod] = r.Method
	if ct := r.Header["Content-Type"]; len(ct) > 0 {
		vars[vContentType] = ct[0]
	}
	if contentLength >= 0 {
		vars[vContentLength] = strconv.FormatInt(contentLength, 10)
	}
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") { // absolute-form, or a request made in Go
		uri = r.URL.RequestURI()
	}
	vars[vRequestURI] = uri
	vars[vServerProtocol] = r.Proto
	if r.Proto == "" {
		vars[vServerProtocol] = "HTTP/1.1"
	}
	vars[vScheme] = "http"
	if r.TLS != nil {
		vars[vScheme] = "https"
		vars[vHTTPS] = "on"
	}
	vars[vGateway] = "CGI/1.1"
	vars[vSoftware] = "phalanx"
	vars[vRedirectStatus] = "200"
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		vars[vRemoteAddr], vars[vRemotePort] = host, port
	} else {
		vars[vRemoteAddr] = r.RemoteAddr
	}
	vars[vHost] = r.Host
	hostName, hostPort := r.Host, ""
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		hostName, hostPort = h, p
	}
	vars[vServerName] = hostName
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if h, p, err := net.SplitHostPort(a.String()); err == nil {
			vars[vServerAddr], vars[vServerPort] = h, p
		}
	}
	if vars[vServerPort] == "" {
		switch {
		case hostPort != "":
			vars[vServerPort] = hostPort
		case r.TLS != nil:
			vars[vServerPort] = "443"
		default:
			vars[vServerPort] = "80"
		}
	}
}

// appendParams appends the name-value pairs of a request: the defaults
// not overridden, a HTTP_* pair per request header, then Params.
func (s *state) appendParams(b []byte, vars *cgiVars, h http.Header) []byte {
	for i, p := range defaultParams {
		if s.overridden[i] || (p.v == vHTTPS && vars[vHTTPS] == "") {
			continue
		}
		b = appendPair(b, p.name, vars[p.v])
	}
	b = s.appendHeaders(b, h)
	for _, p := range s.params {
		b = p.value.appendPair(b, p.name, vars)
	}
	return b
}

// appendHeaders appends a pair per request header: "X-Forwarded-For: a"
// becomes HTTP_X_FORWARDED_FOR=a. Repeated fields are joined with ", "
// (Cookie with "; "). Skipped: Content-Type and Content-Length, which have
// their own variables; Host, sent from r.Host; Proxy, so that a client
// cannot set HTTP_PROXY for the application's HTTP client (httpoxy,
// https://httpoxy.org); names with bytes other than letters, digits and
// '-', since "X_Real_IP" would become HTTP_X_REAL_IP as "X-Real-IP" does
// (nginx drops them too); and the HTTP_* names that Params set.
func (s *state) appendHeaders(b []byte, h http.Header) []byte {
	for k, vs := range h {
		switch k {
		case "Content-Type", "Content-Length", "Host", "Proxy":
			continue
		}
		if len(vs) == 0 || !plainHeaderName(k) {
			continue
		}
		sep := ", "
		if k == "Cookie" {
			sep = "; "
		}
		n := len(sep) * (len(vs) - 1)
		for _, v := range vs {
			n += len(v)
		}
		if n > maxPairLen-len("HTTP_")-len(k) {
			continue
		}
		mark := len(b)
		b = appendLen(b, len("HTTP_")+len(k))
		b = appendLen(b, n)
		name := len(b)
		b = append(b, "HTTP_"...)
		for i := 0; i < len(k); i++ {
			c := k[i]
			switch {
			case c == '-':
				c = '_'
			case 'a' <= c && c <= 'z':
				c -= 'a' - 'A'
			}
			b = append(b, c)
		}
		if s.httpOverrides != nil && s.httpOverrides[string(b[name:])] {
			b = b[:mark]
			continue
		}
		for i, v := range vs {
			if i > 0 {
				b = append(b, sep...)
			}
			b = append(b, v...)
		}
	}
	return b
}

// plainHeaderName reports whether k is non-empty and made of ASCII
// letters, digits and '-'.
func plainHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
