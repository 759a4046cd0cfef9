package limiter

import (
	"net"
	"net/netip"
	"time"
)

// Gate returns a listener that asks l about each accepted connection's
// remote address. Accept closes a refused connection before reading or
// writing a byte, with SO_LINGER 0 so that a flood leaves no TIME_WAIT
// sockets behind (the client sees a reset), and goes on to the next; it
// returns only allowed connections and ln's errors. refused, if not nil,
// counts the refusals.
//
// A connection whose remote address is not an IP address (a Unix socket's
// peer) is the zero Addr, the one client that Keyed keeps for all such
// callers. Behind a proxy that speaks the PROXY protocol the remote
// address is the proxy's; gate after reading the header instead.
//
// Gate panics if ln or l is nil.
func Gate(ln net.Listener, l Limiter, refused *Refusals) net.Listener {
	if ln == nil || l == nil {
		panic("limiter: Gate with a nil Listener or Limiter")
	}
	return &gate{Listener: ln, l: l, refused: refused}
}

// gate is the listener Gate returns.
type gate struct {
	net.Listener
	l       Limiter
	refused *Refusals
}

func (g *gate) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		d := g.l.Allow(remoteAddr(c), time.Now())
		if d.Allowed {
			return c, nil
		}
		g.refused.Add(d)
		if tc, ok := c.(interface{ SetLinger(int) error }); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

// remoteAddr returns the IP address of c's peer, or the zero Addr.
func remoteAddr(c net.Conn) netip.Addr {
	switch a := c.RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case nil:
		return netip.Addr{}
	default:
		ap, _ := netip.ParseAddrPort(a.String())
		return ap.Addr().Unmap()
	}
}

var _ net.Listener = (*gate)(nil)
