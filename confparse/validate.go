package confparse

import (
	"fmt"
	"strings"
)

// validate runs the checks that need the whole file: route targets, the
// TCP proxy's upstream, and listen addresses across server blocks.
func (b *builder) validate(cfg *Config) {
	b.checkRefs()
	b.checkTCP(cfg)
	b.checkListens()
	b.checkBinds(cfg)
}

// checkRefs reports routes that name an undefined upstream.
func (b *builder) checkRefs() {
	for _, ref := range b.refs {
		if _, ok := b.upstreams[ref.name.Value]; ok {
			continue
		}
		b.errorf(ref.name.Pos, "%s uses undefined upstream %q%s", ref.route, ref.name.Value, b.defineHint(ref.name.Value))
	}
	if w := b.unknownUpstream; w != nil {
		if _, ok := b.upstreams[w.Value]; !ok {
			b.errorf(w.Pos, "unknown_protocol_upstream uses undefined upstream %q%s", w.Value, b.defineHint(w.Value))
		}
	}
}

// defineHint suggests a defined upstream close to name, or says how to
// define it.
func (b *builder) defineHint(name string) string {
	if c := closest(name, b.upstreamOrder); c != "" {
		return fmt.Sprintf("; did you mean %q?", c)
	}
	return fmt.Sprintf("; define it with \"upstream %s { server HOST:PORT; }\" at the top level or in http", name)
}

// checkTCP disables the TCP proxy, or reports an error, when its upstream
// does not exist. The proxy is silently off when neither tcp_bind nor
// tcp_upstream was written (a config for HTTP only need not define an
// upstream named "default"); once either was written the upstream must
// exist, unless tcp_bind is off.
func (b *builder) checkTCP(cfg *Config) {
	if cfg.TCPBind == "" { // tcp_bind off
		return
	}
	if _, ok := b.upstreams[cfg.TCPUpstream]; ok {
		return
	}
	switch {
	case b.tcpUpstream != nil:
		w := b.tcpUpstream
		if c := closest(w.Value, b.upstreamOrder); c != "" {
			b.errorf(w.Pos, "tcp_upstream %q is not defined; did you mean %q? (or write \"tcp_bind off;\" to turn the TCP proxy off)", w.Value, c)
		} else {
			b.errorf(w.Pos, "tcp_upstream %q is not defined; define it with \"upstream %s { server HOST:PORT; }\", or write \"tcp_bind off;\" to turn the TCP proxy off", w.Value, w.Value)
		}
	case b.tcpBind != nil:
		b.errorf(b.tcpBind.Pos, "tcp_bind needs an upstream, and the default tcp_upstream %q is not defined; name one with \"tcp_upstream NAME;\" or define \"upstream %s { server HOST:PORT; }\"", cfg.TCPUpstream, cfg.TCPUpstream)
	default:
		cfg.TCPBind = ""
	}
}

// checkListens applies nginx's rule across server blocks: two servers may
// listen on the same address when their server_name sets differ, but the
// same set (or none in both) is a duplicate, and so is one name served
// twice on one address.
func (b *builder) checkListens() {
	sets := make(map[string]int)  // address + "\x00" + name set -> server
	names := make(map[string]int) // address + "\x00" + name -> server
	reported := make(map[string]bool)
	for i, s := range b.servers {
		for _, l := range s.listens {
			if anyPort(l.addr) {
				continue // each ":0" listener gets its own port
			}
			if j, dup := sets[l.addr+"\x00"+s.nameKey]; dup {
				what := fmt.Sprintf("listen %q", l.addr)
				if l.implicit {
					what += " (the default)"
				}
				if s.nameKey == "" {
					b.errorf(l.pos, "duplicate %s with the same server_name as the server at %s (neither has one); give one of them a server_name or another listen address", what, b.servers[j].pos)
				} else {
					b.errorf(l.pos, "duplicate %s with the same server_name as the server at %s; give one of them another server_name or listen address", what, b.servers[j].pos)
				}
				continue
			}
			sets[l.addr+"\x00"+s.nameKey] = i
			for _, w := range s.names {
				name := strings.ToLower(strings.TrimSuffix(w.Value, "."))
				j, dup := names[l.addr+"\x00"+name]
				if !dup {
					names[l.addr+"\x00"+name] = i
					continue
				}
				if j == i || reported[name+"\x00"+fmt.Sprint(i)] {
					continue
				}
				reported[name+"\x00"+fmt.Sprint(i)] = true
				b.errorf(w.Pos, "server_name %q is also served on %q by the server at %s; keep each name in one server per address", w.Value, l.addr, b.servers[j].pos)
			}
		}
	}
}

// checkBinds reports admin_bind, tcp_bind and listen addresses that
// collide. Listen addresses shared by server blocks are checkListens'
// business.
func (b *builder) checkBinds(cfg *Config) {
	type bound struct {
		what string
		pos  Pos
		set  bool // written in the file, rather than a default
	}
	first := make(map[string]bound)
	add := func(addr string, at bound) {
		if addr == "" || anyPort(addr) {
			return
		}
		other, taken := first[addr]
		if !taken {
			first[addr] = at
			return
		}
		if other.what == "listen" && at.what == "listen" {
			return
		}
		// Report at the one written later (or written at all).
		if !at.set || other.set && after(other.pos, at.pos) {
			at, other = other, at
		}
		where := " (its default)"
		if other.set {
			where = " (at " + other.pos.String() + ")"
		}
		b.errorf(at.pos, "%s address %q is already used by %s%s; give one of them another port", at.what, addr, other.what, where)
	}
	written := func(what string, w *Word) bound {
		if w == nil {
			return bound{what: what}
		}
		return bound{what: what, pos: w.Pos, set: true}
	}
	add(cfg.AdminBind, written("admin_bind", b.adminBind))
	add(cfg.TCPBind, written("tcp_bind", b.tcpBind))
	for _, s := range b.servers {
		for _, l := range s.listens {
			add(l.addr, bound{what: "listen", pos: l.pos, set: true})
		}
	}
}

// anyPort reports whether addr asks for any free port (":0").
func anyPort(addr string) bool { return strings.HasSuffix(addr, ":0") }

// after reports whether p comes after q in the same file.
func after(p, q Pos) bool {
	return p.File == q.File && (p.Line > q.Line || p.Line == q.Line && p.Col > q.Col)
}
