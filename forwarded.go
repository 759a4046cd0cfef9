package phalanx

import (
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many X-Forwarded-For entries are examined
// when looking for the client behind trusted proxies.
const maxForwardedHops = 32

// trustedSet is the list of networks whose forwarding headers are believed.
type trustedSet []netip.Prefix

func (t trustedSet) contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr parses an http.Request.RemoteAddr ("ip:port").
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// parseHop parses one X-Forwarded-For entry: an address, optionally with a
// port, IPv6 optionally in brackets.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// clientAddr returns the address of the client behind peer. When peer is
// a trusted proxy, it is the right-most X-Forwarded-For hop that is not
// itself trusted; a malformed hop stops the walk at the last trusted one,
// so a client cannot name itself by sending garbage. Otherwise it is peer.
func (t trustedSet) clientAddr(peer netip.Addr, xff []string) netip.Addr {
	if len(t) == 0 || !peer.IsValid() || !t.contains(peer) {
		return peer
	}
	client := peer
	hops := 0
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" && hops < maxForwardedHops {
			var hop string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				hop, line = line[j+1:], line[:j]
			} else {
				hop, line = line, ""
			}
			if strings.TrimSpace(hop) == "" {
				continue
			}
			hops++
			a, ok := parseHop(hop)
			if !ok {
				return client
			}
			client = a
			if !t.contains(a) {
				return a
			}
		}
	}
	return client
}

// forwardedFor returns the X-Forwarded-For value to send upstream: the
// incoming chain with peer appended when peer is trusted, else just peer.
func (t trustedSet) forwardedFor(peer netip.Addr, xff []string) string {
	p := peer.String()
	if !peer.IsValid() {
		p = "unknown"
	}
	if len(xff) == 0 || !peer.IsValid() || !t.contains(peer) {
		return p
	}
	return strings.Join(xff, ", ") + ", " + p
}

// headerValues reads a request's header fields: http.Header, or the
// HTTP/1.1 engine's view of a parsed head.
type headerValues interface {
	Values(name string) []string
}

// clientFromHeaders returns the client behind peer from X-Forwarded-For,
// or, when a request has none, from the for= parameters of Forwarded (RFC
// 7239), by the same right-most-untrusted rule.
func (t trustedSet) clientFromHeaders(peer netip.Addr, h headerValues) netip.Addr {
	if len(t) == 0 || !peer.IsValid() || !t.contains(peer) {
		return peer
	}
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		return t.clientAddr(peer, xff)
	}
	fwd := h.Values("Forwarded")
	if len(fwd) == 0 {
		return peer
	}
	return t.clientAddr(peer, forwardedForParams(fwd))
}

// forwardedForParams returns the for= values of Forwarded header lines, in order,
// as X-Forwarded-For-style lines (quotes removed). An element without for=
// yields "unknown", which stops the walk like any hop that is not an
// address. At most maxForwardedHops elements are read.
func forwardedForParams(lines []string) []string {
	var hops []string
	for _, line := range lines {
		for _, elem := range strings.Split(line, ",") {
			if len(hops) == maxForwardedHops {
				return hops
			}
			hop := "unknown"
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hop = strings.Trim(v, `"`)
				}
			}
			hops = append(hops, hop)
		}
	}
	return hops
}
