package waf

import (
	"math/bits"
	"net/http"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// scan is the state of one inspection: the buffers it reuses and what it
// found. Scans are pooled by the Engine.
type scan struct {
	e       *Engine
	x       *Exclusions
	enabled [2]uint64
	n       normalizer
	v       value
	buf     []byte // the normal form of the current value
	shell   []byte // its shell form (cmdi)
	lower   []byte // the lowercased User-Agent
	jbuf    []byte // a decoded JSON string
	matches []Match
	score   int
	values  int
	stop    bool // blocked: look no further
}

func (s *scan) reset(e *Engine, x *Exclusions) {
	s.e, s.x = e, x
	s.enabled = e.enabled
	if x != nil {
		for i, r := range rules {
			if x.excludes(&r.Rule) {
				s.enabled[i/64] &^= 1 << (i % 64)
			}
		}
	}
	s.score, s.values, s.stop = 0, 0, false
	s.matches = s.matches[:0]
}

// bytesString returns b as a string without copying; b must not change
// while the string is in use.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// request inspects every part of req.
func (s *scan) request(req *Request) {
	s.check(locPath, "", req.Path, false)
	s.pairs(req.RawQuery, locQueryName, locQueryValue)
	if req.Header != nil {
		s.headers(req.Header)
		for _, c := range req.Header.Values("Cookie") {
			s.cookies(c)
		}
	}
	if len(req.Body) > 0 && !s.stop {
		s.body(req.Header, bytesString(req.Body))
	}
}

// headers inspects the headers Config.Headers names, or all of them but
// the ignored ones.
func (s *scan) headers(h Header) {
	if s.e.headers != nil {
		for _, name := range s.e.headers {
			for _, v := range h.Values(name) {
				s.check(locHeader, name, v, name == "Referer")
			}
		}
		return
	}
	switch hh := h.(type) {
	case http.Header:
		for name, vs := range hh {
			if s.ignoredHeader(name) {
				continue
			}
			for _, v := range vs {
				s.check(locHeader, name, v, name == "Referer")
			}
		}
	case HeaderLister:
		hh.EachHeader(func(name, v string) {
			if !s.ignoredHeader(name) {
				s.check(locHeader, name, v, name == "Referer")
			}
		})
	default:
		for _, name := range DefaultHeaders {
			for _, v := range h.Values(name) {
				s.check(locHeader, name, v, name == "Referer")
			}
		}
	}
}

func (s *scan) ignoredHeader(name string) bool {
	return s.e.ignored[name] || len(name) > 4 && name[:4] == "Sec-"
}

// pairs inspects the names and values of a query or form body.
func (s *scan) pairs(q string, nameLoc, valueLoc location) {
	for q != "" && !s.stop {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		s.check(nameLoc, k, k, true)
		s.check(valueLoc, k, v, true)
	}
}

// cookies inspects the names and values of a Cookie header.
func (s *scan) cookies(h string) {
	for h != "" && !s.stop {
		var kv string
		kv, h, _ = strings.Cut(h, ";")
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		s.check(locCookieName, k, k, true)
		s.check(locCookieValue, k, v, true)
	}
}

// body inspects a body by its media type.
func (s *scan) body(h Header, b string) {
	var ct string
	if h != nil {
		if vals := h.Values("Content-Type"); len(vals) > 0 {
			ct = vals[0]
		}
	}
	mt, params, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	switch {
	case strings.EqualFold(mt, "application/x-www-form-urlencoded"):
		s.pairs(b, locFormName, locFormValue)
	case strings.EqualFold(mt, "multipart/form-data"):
		s.multipart(b, param(params, "boundary"))
	case strings.EqualFold(mt, "application/json") || strings.EqualFold(mt, "text/json") || hasSuffixFold(mt, "+json"):
		if !s.json(b) {
			s.check(locBody, "", b, false)
		}
	case Inspectable(mt):
		s.check(locBody, "", b, false)
	}
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// param returns the value of the parameter name in a header's parameters
// ("; a=b; c=\"d\""), unquoted, or "".
func param(params, name string) string {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}

// check normalises one value and runs the rules on it.
func (s *scan) check(loc location, name, raw string, plus bool) {
	if s.stop || raw == "" {
		return
	}
	if s.values++; s.values > s.e.cfg.MaxValues {
		s.matches = append(s.matches, Match{Rule: &tooManyRule, Where: "request"})
		s.add(tooManyRule.Severity)
		s.stop = true
		return
	}
	buf, mask, flags := s.n.normalize(s.buf[:0], raw, plus)
	if loc == locPath {
		buf = cleanPath(buf)
		if mask&cBackslash != 0 {
			mask |= cSlash
		}
	}
	s.buf = buf
	s.v = value{loc: loc, name: name, raw: raw, norm: bytesString(buf), mask: mask, flags: flags, s: s}
	v := &s.v
	for _, r := range s.e.byLoc[bits.TrailingZeros16(uint16(loc))] {
		if s.x != nil && s.enabled[r.index/64]&(1<<(r.index%64)) == 0 {
			continue
		}
		m, src := mask, v.norm
		if r.raw {
			m, src = v.rawClasses(), raw
		}
		if m&r.need != r.need || r.any != 0 && m&r.any == 0 {
			continue
		}
		if r.lit != "" && !strings.Contains(src, r.lit) || r.lits != nil && !containsAny(src, r.lits...) {
			continue
		}
		if r.kw != 0 && v.keywords()&r.kw == 0 {
			continue
		}
		if r.fn != nil && !r.fn(v) {
			continue
		}
		if r.re != nil && !r.re.MatchString(src) {
			continue
		}
		s.matches = append(s.matches, Match{Rule: &r.Rule, Where: where(loc, name), Value: strings.Clone(clip(v.norm))})
		if s.add(r.Severity); s.stop {
			return
		}
	}
}

// add adds a match's severity to the score, and stops the scan once the
// request is blocked.
func (s *scan) add(sev Severity) {
	s.score += int(sev)
	if !s.e.cfg.DetectOnly && s.score >= s.e.cfg.Threshold {
		s.stop = true
	}
}

// where returns Match.Where for a value.
func where(loc location, name string) string {
	switch loc {
	case locPath:
		return "path"
	case locQueryName, locQueryValue:
		return "query:" + clip(name)
	case locHeader:
		return "header:" + name
	case locCookieName, locCookieValue:
		return "cookie:" + clip(name)
	case locFormName, locFormValue:
		return "form:" + clip(name)
	case locJSONKey, locJSONValue:
		return "json:" + clip(name)
	case locPartValue:
		return "multipart:" + clip(name)
	case locFilename:
		return "filename"
	}
	return "body"
}

// maxJSONDepth bounds the nesting of a JSON body the engine follows.
const maxJSONDepth = 64

// json inspects the keys and string values of a JSON document. It reports
// false if b does not start like one, so that the caller inspects it
// whole. A document cut short (by the body limit) is inspected up to the
// cut.
func (s *scan) json(b string) bool {
	p := jsonParser{s: s, b: b}
	p.ws()
	if p.i >= len(b) || b[p.i] != '{' && b[p.i] != '[' {
		return false
	}
	p.value("", 0)
	return true
}

type jsonParser struct {
	s   *scan
	b   string
	i   int
	bad bool
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

// value parses the value at p.i, a member of key.
func (p *jsonParser) value(key string, depth int) {
	p.ws()
	if p.bad || p.s.stop || p.i >= len(p.b) || depth > maxJSONDepth {
		p.bad = true
		return
	}
	switch p.b[p.i] {
	case '{':
		p.i++
		for !p.bad && !p.s.stop {
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == '}' {
				p.i++
				return
			}
			k := p.str(false)
			p.ws()
			if p.bad || p.i >= len(p.b) || p.b[p.i] != ':' {
				p.bad = true
				return
			}
			p.i++
			p.ws()
			// "$type" with a number is MongoDB's operator; with a string,
			// it is JSON.NET's type tag and not inspected as a key.
			if k != "$type" || p.i < len(p.b) && (p.b[p.i] == '-' || '0' <= p.b[p.i] && p.b[p.i] <= '9') {
				p.s.check(locJSONKey, k, k, false)
			}
			p.value(k, depth+1)
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
			}
		}
	case '[':
		p.i++
		for !p.bad && !p.s.stop {
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ']' {
				p.i++
				return
			}
			p.value(key, depth+1)
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
			}
		}
	case '"':
		v := p.str(true)
		if !p.bad {
			p.s.check(locJSONValue, key, v, false)
		}
	default:
		// A number, true, false or null.
		start := p.i
		for p.i < len(p.b) && strings.IndexByte(",]} \t\r\n", p.b[p.i]) < 0 {
			p.i++
		}
		if p.i == start {
			p.bad = true
		}
	}
}

// str parses the string at p.i and returns it decoded. A value's decoded
// form lives in the scan's buffer until the next string; a key's is its
// own (keys name the values nested in them).
func (p *jsonParser) str(isValue bool) string {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		p.bad = true
		return ""
	}
	p.i++
	start := p.i
	for p.i < len(p.b) && p.b[p.i] != '"' && p.b[p.i] != '\\' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '"' {
		p.i++
		return p.b[start : p.i-1]
	}
	var out []byte
	if isValue {
		out = p.s.jbuf[:0]
	}
	out = append(out, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			p.i++
			if isValue {
				p.s.jbuf = out
				return bytesString(out)
			}
			return string(out)
		}
		if c != '\\' || p.i+1 >= len(p.b) {
			out = append(out, c)
			p.i++
			continue
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'u':
			r, ok := hex4(p.b, p.i)
			if !ok {
				out = append(out, '\\', 'u')
				continue
			}
			p.i += 4
			if 0xd800 <= r && r < 0xdc00 && p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
				if r2, ok := hex4(p.b, p.i+2); ok && 0xdc00 <= r2 && r2 < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
					p.i += 6
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			out = append(out, e)
		}
	}
	p.bad = true // unterminated
	if isValue {
		p.s.jbuf = out
		return bytesString(out)
	}
	return string(out)
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for k := i; k < i+4; k++ {
		d, ok := unhex(s[k])
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// multipart inspects the text fields of a multipart/form-data body and
// the file names of its files; file contents are not inspected.
func (s *scan) multipart(b, boundary string) {
	if boundary == "" {
		s.check(locBody, "", b, false)
		return
	}
	// Find the first delimiter line.
	i := delimiter(b, boundary, 0)
	for i >= 0 && !s.stop {
		i += 2 + len(boundary)
		if strings.HasPrefix(b[i:], "--") {
			return // the close delimiter
		}
		nl := strings.IndexByte(b[i:], '\n')
		if nl < 0 {
			return
		}
		i += nl + 1
		// Part headers, up to a blank line.
		var name, filename string
		hasFile := false
		for {
			nl := strings.IndexByte(b[i:], '\n')
			if nl < 0 {
				return
			}
			line := strings.TrimRight(b[i:i+nl], "\r")
			i += nl + 1
			if line == "" {
				break
			}
			k, v, _ := strings.Cut(line, ":")
			if strings.EqualFold(strings.TrimSpace(k), "Content-Disposition") {
				_, params, _ := strings.Cut(v, ";")
				name = param(params, "name")
				if strings.Contains(strings.ToLower(params), "filename") {
					hasFile = true
					filename = param(params, "filename")
				}
			}
		}
		next := delimiter(b, boundary, i)
		end := len(b)
		if next >= 0 {
			end = next
		}
		content := strings.TrimSuffix(strings.TrimSuffix(b[i:end], "\n"), "\r")
		if hasFile {
			s.check(locFilename, name, filename, false)
		} else {
			s.check(locPartValue, name, content, false)
		}
		i = next
	}
}

// delimiter returns the index of the next "--boundary" at the start of a
// line at or after from, or -1.
func delimiter(b, boundary string, from int) int {
	for from < len(b) {
		k := strings.Index(b[from:], boundary)
		if k < 0 {
			return -1
		}
		at := from + k - 2
		if at >= 0 && b[at] == '-' && b[at+1] == '-' && (at == 0 || b[at-1] == '\n') {
			return at
		}
		from += k + len(boundary)
	}
	return -1
}
