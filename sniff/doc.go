// Package sniff tells protocols apart by the first bytes of a connection,
// so that one port can serve HTTP/1.x, h2c and TLS, and reads PROXY
// protocol headers. It knows nothing of HTTP handling or of the config
// file, and imports no phalanx package.
//
// Detect classifies a byte prefix; Sniff reads just enough of a net.Conn
// to classify it and returns a Conn that replays those bytes; a Mux splits
// a net.Listener into one listener per protocol, for instance one for an
// http.Server and one for a tls.NewListener around another.
//
//	m := sniff.NewMux(ln, sniff.Config{})
//	go httpSrv.Serve(m.Listener(sniff.HTTP1))
//	go h2cSrv.Serve(m.Listener(sniff.HTTP2))
//	go tlsSrv.Serve(tls.NewListener(m.Listener(sniff.TLS), tlsConfig))
//	err := m.Serve() // until m.Close
//
// # Detection
//
// Detect looks at no more than MaxPeek (24) bytes, and answers as soon as
// the bytes so far can only be one thing:
//
//   - TLS: a handshake record carrying a ClientHello, the first thing a
//     TLS client sends: type 0x16, record version 0x0300 to 0x0304 (SSL 3.0
//     to TLS 1.3's ceiling), a length from 1 to 2^14 and handshake type
//     0x01 (RFC 8446, section 5.1). 16 03 01 02 00 01 is TLS after 6 bytes;
//     16 03 05 is Unknown after 3. SSLv2-style hellos are Unknown.
//   - HTTP2: the h2c prior-knowledge preface
//     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113, section 3.4), all 24 bytes
//     of it. A prefix of it needs more bytes.
//   - HTTP1: a request line's method token, 1 to 20 RFC 9110 tchars, then
//     a space: "GET ", "PURGE ", "PROPFIND ", "M-SEARCH ". Methods are
//     case-sensitive but need not be upper case, so "get " is HTTP1 too
//     (and gets a 405 or 501 from the server), as is "PRI / HTTP/1.1":
//     leaving the preface after "PRI " makes PRI a plain method.
//   - Unknown: anything else, decided at the first byte that fits none of
//     the above: "\r\nGET" (a leading empty line), " GET", 21 tchars in a
//     row, "SSH-2.0-..." (a token ended by '\r'), "\x00\x00".
//
// So "GET / HTTP/1.1" is HTTP1 after 4 bytes, "POST" needs more, and "P"
// needs more (it could be PRI, POST or PUT). Sniff never reads past the
// first MaxPeek bytes, and the bytes it read are replayed in full whatever
// the verdict.
//
// # PROXY protocol
//
// ReadProxyHeader and ProxyConn read a PROXY protocol header, v1 or v2
// (https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt), which a
// load balancer in front of phalanx sends first to pass on the client's
// address; AppendProxyHeader writes one, for a backend that wants it. The
// header comes before anything the client sent, so it is read before
// sniffing: ProxyConn, then Sniff on the conn it returns.
//
// # Zero values
//
// The zero Config is ready to use: a 5s Timeout, at most 1024 connections
// being sniffed, unmatched connections closed, errors to slog.Default().
// The zero Protocol is Unknown. The zero ProxyHeader (Version 0) means no
// header. The zero Mux and the zero Conn are not usable; use NewMux,
// Sniff, ProxyConn or NewConn.
//
// # Concurrency
//
// Detect, Sniff, ReadProxyHeader (on distinct readers), AppendProxyHeader
// and ProxyConn may be called from any number of goroutines. A Mux and a
// Conn are safe for concurrent use and must not be copied. The Mux sniffs
// each connection in its own goroutine, at most Config.MaxPending at once,
// each for at most Config.Timeout, so a slow or silent client costs one
// goroutine for that long and never holds up the others. Each listener
// queues a few sniffed connections; when nobody accepts them, their
// goroutines wait (up to Timeout), and so, once MaxPending are waiting,
// does Serve, instead of piling up connections.
//
// # Configuration
//
// The HTTP listener sniffs automatically: with
//
//	server {
//	    listen 8080;
//	}
//
// port 8080 serves HTTP/1.1, h2c and TLS (when the server has
// certificates). Unknown protocols are closed unless the Server hands them
// to a TCP pool.
package sniff
