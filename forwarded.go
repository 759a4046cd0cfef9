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
