package confparse

import (
	"fmt"
	"slices"
	"strings"
)

// block is a kind of block a directive can appear in.
type block int

const (
	mainBlock block = iota // the top level of the file
	httpBlock
	serverBlock
	upstreamBlock
	routeBlock
	numBlocks
)

var blockNames = [numBlocks]string{"top level", "http", "server", "upstream", "route"}

// where is "at the top level" or `inside "http"`.
func (b block) where() string {
	if b == mainBlock {
		return "at the top level"
	}
	return fmt.Sprintf("inside %q", blockNames[b])
}

// spec describes one directive in one kind of block.
type spec struct {
	name     string
	usage    string // the expected form, e.g. "listen ADDR;"
	min, max int    // argument count; max < 0 means no limit
	block    bool   // takes a { block } rather than ending in ';'
	repeat   bool   // may appear more than once in the same block
	in       []block
}

const many = -1

// serverSettings may appear in server blocks and, as defaults inherited by
// the server blocks it contains, in http.
var serverSettings = []block{httpBlock, serverBlock}

// routeSettings may appear in http, server and route blocks: the limits
// that make sense per route.
var routeSettings = []block{httpBlock, serverBlock, routeBlock}

// aiSettings may appear wherever a server setting may, and in upstream.
var aiSettings = []block{httpBlock, serverBlock, upstreamBlock}

// specs lists every directive. A name may have one entry per block kind
// with a different form ("server" is a block in http and a backend in
// upstream).
var specs = []spec{
	{name: "worker_threads", usage: "worker_threads N;", min: 1, max: 1, in: []block{mainBlock}},
	{name: "admin_bind", usage: "admin_bind ADDR|off;", min: 1, max: 1, in: []block{mainBlock}},
	{name: "access_log", usage: "access_log off|stderr|stdout|PATH [text|json];", min: 1, max: 2, in: []block{mainBlock}},
	{name: "tcp_bind", usage: "tcp_bind ADDR|off;", min: 1, max: 1, in: []block{mainBlock}},
	{name: "tcp_upstream", usage: "tcp_upstream NAME;", min: 1, max: 1, in: []block{mainBlock}},
	{name: "tcp_proxy_protocol", usage: "tcp_proxy_protocol v1|v2|off;", min: 1, max: 1, in: []block{mainBlock}},
	{name: "unknown_protocol_upstream", usage: "unknown_protocol_upstream NAME;", min: 1, max: 1, in: []block{mainBlock}},
	{name: "shutdown_timeout", usage: "shutdown_timeout D;", min: 1, max: 1, in: []block{mainBlock}},
	{name: "http1_engine", usage: "http1_engine phalanx|net/http;", min: 1, max: 1, in: []block{mainBlock}},
	{name: "resolver", usage: "resolver ADDR... [valid=D] [timeout=D];", min: 1, max: 10, in: []block{mainBlock}},
	{name: "shared_store", usage: "shared_store redis://HOST:PORT/DB|off;", min: 1, max: 1, in: []block{mainBlock}},
	{name: "shared_store_fail", usage: "shared_store_fail open|closed;", min: 1, max: 1, in: []block{mainBlock}},
	{name: "http", usage: "http { ... }", block: true, repeat: true, in: []block{mainBlock}},
	{name: "upstream", usage: "upstream NAME { ... }", min: 1, max: 1, block: true, repeat: true, in: []block{mainBlock, httpBlock}},

	{name: "server", usage: "server { ... }", block: true, repeat: true, in: []block{httpBlock}},

	{name: "listen", usage: "listen ADDR;", min: 1, max: 1, repeat: true, in: []block{serverBlock}},
	{name: "server_name", usage: "server_name NAME...;", min: 1, max: many, repeat: true, in: []block{serverBlock}},
	{name: "ssl_certificate", usage: "ssl_certificate PATH;", min: 1, max: 1, in: []block{serverBlock}},
	{name: "ssl_certificate_key", usage: "ssl_certificate_key PATH;", min: 1, max: 1, in: []block{serverBlock}},
	{name: "route", usage: "route PREFIX { ... }", min: 1, max: 1, block: true, repeat: true, in: []block{serverBlock}},

	{name: "rate_limit_per_ip", usage: "rate_limit_per_ip F;", min: 1, max: 1, in: serverSettings},
	{name: "rate_limit_burst", usage: "rate_limit_burst N;", min: 1, max: 1, in: serverSettings},
	{name: "global_rate_limit", usage: "global_rate_limit F;", min: 1, max: 1, in: serverSettings},
	{name: "waf_enabled", usage: "waf_enabled on|off;", min: 1, max: 1, in: serverSettings},
	{name: "waf_auto_ban_threshold", usage: "waf_auto_ban_threshold N;", min: 1, max: 1, in: serverSettings},
	{name: "waf_auto_ban_duration", usage: "waf_auto_ban_duration D;", min: 1, max: 1, in: serverSettings},
	{name: "waf_paranoia", usage: "waf_paranoia 1|2|3|4;", min: 1, max: 1, in: serverSettings},
	{name: "waf_mode", usage: "waf_mode block|detect;", min: 1, max: 1, in: serverSettings},
	{name: "waf_body_limit", usage: "waf_body_limit SIZE;", min: 1, max: 1, in: serverSettings},
	{name: "waf_bot_allow", usage: "waf_bot_allow USER-AGENT...;", min: 1, max: many, repeat: true, in: serverSettings},
	{name: "waf_bot_deny", usage: "waf_bot_deny USER-AGENT...;", min: 1, max: many, repeat: true, in: serverSettings},
	{name: "waf_exclude", usage: "waf_exclude RULE-ID|FAMILY...;", min: 1, max: many, repeat: true, in: []block{routeBlock}},
	{name: "client_max_header_size", usage: "client_max_header_size SIZE;", min: 1, max: 1, in: serverSettings},
	{name: "set_real_ip_from", usage: "set_real_ip_from CIDR;", min: 1, max: 1, repeat: true, in: serverSettings},
	{name: "client_max_body_size", usage: "client_max_body_size SIZE;", min: 1, max: 1, in: routeSettings},

	{name: "ai_algorithm", usage: "ai_algorithm A;", min: 1, max: 1, in: aiSettings},
	{name: "ai_epsilon", usage: "ai_epsilon F;", min: 1, max: 1, in: aiSettings},
	{name: "ai_temperature", usage: "ai_temperature F;", min: 1, max: 1, in: aiSettings},
	{name: "ai_ucb_constant", usage: "ai_ucb_constant F;", min: 1, max: 1, in: aiSettings},
	{name: "ai_thompson_threshold_ms", usage: "ai_thompson_threshold_ms F;", min: 1, max: 1, in: aiSettings},

	{name: "client_header_timeout", usage: "client_header_timeout D;", min: 1, max: 1, in: serverSettings},
	{name: "keepalive_timeout", usage: "keepalive_timeout D;", min: 1, max: 1, in: serverSettings},
	{name: "proxy_connect_timeout", usage: "proxy_connect_timeout D;", min: 1, max: 1, in: serverSettings},
	{name: "proxy_read_timeout", usage: "proxy_read_timeout D;", min: 1, max: 1, in: serverSettings},
	{name: "request_timeout", usage: "request_timeout D;", min: 1, max: 1, in: routeSettings},

	{name: "server", usage: "server ADDR [weight=N] [max_fails=N] [fail_timeout=D] [backup] [h2c|h2] [resolve];", min: 1, max: 7, repeat: true, in: []block{upstreamBlock}},
	{name: "service", usage: "service _SERVICE._PROTO.NAME [max_fails=N] [fail_timeout=D] [h2c|h2] resolve;", min: 2, max: 5, repeat: true, in: []block{upstreamBlock}},
	{name: "algorithm", usage: "algorithm A;", min: 1, max: 1, in: []block{upstreamBlock}},
	{name: "health_check", usage: "health_check [interval=D] [timeout=D] [rise=N] [fall=N];", min: 0, max: 4, in: []block{upstreamBlock}},
	{name: "health_check_http", usage: "health_check_http PATH [status=N];", min: 1, max: 2, in: []block{upstreamBlock}},
	{name: "keepalive", usage: "keepalive N;", min: 1, max: 1, in: []block{upstreamBlock}},

	{name: "upstream", usage: "upstream NAME;", min: 1, max: 1, in: []block{routeBlock}},
	{name: "root", usage: "root DIR;", min: 1, max: 1, in: []block{routeBlock}},
	{name: "index", usage: "index FILE...;", min: 1, max: many, in: []block{routeBlock}},
	{name: "fastcgi_pass", usage: "fastcgi_pass ADDR;", min: 1, max: 1, in: []block{routeBlock}},
	{name: "fastcgi_param", usage: "fastcgi_param NAME VALUE;", min: 2, max: 2, repeat: true, in: []block{routeBlock}},
	{name: "fastcgi_index", usage: "fastcgi_index FILE;", min: 1, max: 1, in: []block{routeBlock}},
	{name: "uwsgi_pass", usage: "uwsgi_pass ADDR;", min: 1, max: 1, in: []block{routeBlock}},
	{name: "uwsgi_param", usage: "uwsgi_param NAME VALUE;", min: 2, max: 2, repeat: true, in: []block{routeBlock}},
	{name: "add_header", usage: "add_header NAME VALUE;", min: 2, max: 2, repeat: true, in: []block{routeBlock}},
	{name: "add_response_header", usage: "add_response_header NAME VALUE;", min: 2, max: 2, repeat: true, in: []block{routeBlock}},
}

// byBlock indexes specs by block kind and name.
var byBlock = func() [numBlocks]map[string]*spec {
	var m [numBlocks]map[string]*spec
	for i := range m {
		m[i] = make(map[string]*spec)
	}
	for i := range specs {
		s := &specs[i]
		for _, b := range s.in {
			if m[b][s.name] != nil {
				panic("confparse: directive " + s.name + " listed twice for " + blockNames[b])
			}
			m[b][s.name] = s
		}
	}
	return m
}()

// namesIn lists the directives allowed in b, in table order.
func namesIn(b block) []string {
	var names []string
	for i := range specs {
		if slices.Contains(specs[i].in, b) && !slices.Contains(names, specs[i].name) {
			names = append(names, specs[i].name)
		}
	}
	return names
}

// allNames lists every directive once, in table order.
func allNames() []string {
	var names []string
	for i := range specs {
		if !slices.Contains(names, specs[i].name) {
			names = append(names, specs[i].name)
		}
	}
	return names
}

// elsewhere lists the specs of name in blocks other than b.
func elsewhere(name string, b block) []*spec {
	var out []*spec
	for i := range specs {
		if specs[i].name == name && !slices.Contains(specs[i].in, b) {
			out = append(out, &specs[i])
		}
	}
	return out
}

// placesOf describes where the specs belong, to follow "it belongs":
// `in "server"`, `at the top level or in "http"`. With forms set, each
// block is followed by the directive's form there, for names whose form
// depends on the block: `in "http" (server { ... }) or "upstream" (...)`.
func placesOf(ss []*spec, forms bool) string {
	top := false
	var places []string
	for _, s := range ss {
		for _, b := range s.in {
			if b == mainBlock {
				top = true
				continue
			}
			p := fmt.Sprintf("%q", blockNames[b])
			if forms {
				p += " (" + s.usage + ")"
			}
			places = append(places, p)
		}
	}
	switch {
	case !top:
		return "in " + orList(places)
	case len(places) == 0:
		return "at the top level"
	}
	return "at the top level or in " + orList(places)
}

// argCount describes s's argument count: "takes 1 argument", "takes at
// least 1 argument", "takes 1 or 2 arguments", "takes no arguments".
func (s *spec) argCount() string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return fmt.Sprintf("%d arguments", n)
	}
	switch {
	case s.max == 0:
		return "takes no arguments"
	case s.max == many:
		return "takes at least " + plural(s.min)
	case s.min == s.max:
		return "takes " + plural(s.min)
	case s.min == 0:
		return "takes at most " + plural(s.max)
	case s.max == s.min+1:
		return fmt.Sprintf("takes %d or %s", s.min, plural(s.max))
	}
	return fmt.Sprintf("takes %d to %d arguments", s.min, s.max)
}

// extraArgHint explains a common surplus argument.
func extraArgHint(d *Directive, w Word) string {
	switch d.Name {
	case "listen":
		switch w.Value {
		case "ssl", "http2", "quic":
			return fmt.Sprintf(`; TLS is on when the server has ssl_certificate and ssl_certificate_key, so drop %q`, w.Value)
		case "default_server", "default", "reuseport", "ipv6only=on", "backlog", "proxy_protocol":
			return fmt.Sprintf(`; phalanx has no listen parameters, so drop %q`, w.Value)
		}
		return "; give each address its own listen directive"
	case "add_header":
		if w.Value == "always" {
			return `; phalanx has no "always": add_header sets a request header sent upstream, and add_response_header NAME VALUE; sets a response header`
		}
		return "; quote a value that contains spaces"
	case "add_response_header", "fastcgi_param", "uwsgi_param":
		return "; quote a value that contains spaces"
	case "upstream", "route", "root", "ssl_certificate", "ssl_certificate_key":
		return "; quote a value that contains spaces"
	}
	return ""
}

// checkShape reports what is wrong with d's name, block and argument
// count in b, and returns its spec when d can be interpreted (for a block
// directive, even with a wrong argument count, so that its contents are
// checked too).
func (bl *builder) checkShape(b block, d *Directive) *spec {
	s := byBlock[b][d.Name]
	if s == nil {
		bl.unknown(b, d)
		return nil
	}
	if s.block && !d.IsBlock() {
		msg := fmt.Sprintf("%q %s needs a block: %s", d.Name, b.where(), s.usage)
		if other := elsewhereShape(d.Name, false); other != nil {
			msg += fmt.Sprintf(`; the form %q belongs %s`, other.usage, placesOf([]*spec{other}, false))
		}
		bl.errorf(d.Pos, "%s", msg)
		return nil
	}
	if !s.block && d.IsBlock() {
		msg := fmt.Sprintf("%q %s takes no block (%s)", d.Name, b.where(), s.usage)
		if other := elsewhereShape(d.Name, true); other != nil {
			msg += fmt.Sprintf(`; %q blocks belong %s`, other.usage, placesOf([]*spec{other}, false))
		}
		bl.errorf(d.Pos, "%s", msg)
		return nil
	}
	n := len(d.Args)
	switch {
	case n < s.min:
		bl.errorf(d.Pos, "%q %s (%s), got %d", d.Name, s.argCount(), s.usage, n)
	case s.max != many && n > s.max:
		w := d.Args[s.max]
		bl.errorf(w.Pos, "%q %s (%s), got %d%s", d.Name, s.argCount(), s.usage, n, extraArgHint(d, w))
	default:
		return s
	}
	if s.block {
		return s
	}
	return nil
}

// elsewhereShape returns a spec of name with the given shape, if any.
func elsewhereShape(name string, isBlock bool) *spec {
	for i := range specs {
		if specs[i].name == name && specs[i].block == isBlock {
			return &specs[i]
		}
	}
	return nil
}

// unknown reports a directive that is not allowed in b: misplaced, an
// nginx-ism, or a typo.
func (bl *builder) unknown(b block, d *Directive) {
	if other := elsewhere(d.Name, b); len(other) > 0 {
		forms := len(other) > 1 && other[0].usage != other[1].usage
		bl.errorf(d.Pos, "%q directive is not allowed %s; it belongs %s", d.Name, b.where(), placesOf(other, forms))
		return
	}
	if hint := nginxHint(d); hint != "" {
		bl.errorf(d.Pos, "%s", hint)
		return
	}
	here := namesIn(b)
	if c := closest(d.Name, here); c != "" {
		bl.errorf(d.Pos, "unknown directive %q %s; did you mean %q?", d.Name, b.where(), c)
		return
	}
	if c := closest(d.Name, allNames()); c != "" {
		bl.errorf(d.Pos, "unknown directive %q %s; did you mean %q? (it belongs %s)", d.Name, b.where(), c, placesOf(byName(c), false))
		return
	}
	bl.errorf(d.Pos, "unknown directive %q %s; allowed here: %s", d.Name, b.where(), strings.Join(here, ", "))
}

// byName returns every spec of name.
func byName(name string) []*spec {
	var out []*spec
	for i := range specs {
		if specs[i].name == name {
			out = append(out, &specs[i])
		}
	}
	return out
}
