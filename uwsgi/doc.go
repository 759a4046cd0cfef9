// Package uwsgi is a client of the uwsgi protocol, the native protocol of
// the uWSGI application server, as an http.Handler: the counterpart of
// nginx's uwsgi_pass. It imports no other phalanx package.
//
// # Protocol
//
// The protocol is described at
// https://uwsgi-docs.readthedocs.io/en/latest/Protocol.html. A request is
// one packet, a 4-byte header and a vars block, followed by the request
// body:
//
//	header: modifier1 (1 byte) | datasize (uint16, little endian) | modifier2 (1 byte)
//	vars:   key length (uint16 LE) | key | value length (uint16 LE) | value, repeated
//
// Modifier1 and modifier2 are 0 for a WSGI request. For example, a vars
// block with the single pair REQUEST_METHOD=GET is 2+14+2+3 = 21 bytes,
// so the packet is
//
//	00 15 00 00  0e 00 "REQUEST_METHOD"  03 00 "GET"
//
// Since datasize has 16 bits, the vars, and so the request's header
// fields, must fit in 65535 bytes: a larger request gets 431 Request
// Header Fields Too Large and a log line "uwsgi packet of N bytes exceeds
// the protocol's 64 KiB limit", and nothing is sent. (uWSGI itself only
// accepts packets up to its --buffer-size, 4096 bytes by default.)
//
// The application answers with a raw HTTP/1.x response, "HTTP/1.1 200
// OK\r\nHeader: value\r\n\r\nbody", and closes the connection: uwsgi has
// no keep-alive, so each request dials a connection of its own.
//
// # Request vars
//
// The vars are those of nginx's stock uwsgi_params file: QUERY_STRING,
// REQUEST_METHOD, CONTENT_TYPE, CONTENT_LENGTH, REQUEST_URI (as the
// client sent it), PATH_INFO (decoded), SERVER_PROTOCOL, REQUEST_SCHEME,
// HTTPS ("on", over TLS only), REMOTE_ADDR, REMOTE_PORT, SERVER_PORT (of
// the local socket), SERVER_NAME (the request's host); plus UWSGI_SCHEME
// ("https", over TLS only), which uWSGI reads for wsgi.url_scheme; then
// every header field as HTTP_NAME (upper case, '-' as '_'), repeated
// fields joined by ", " (Cookie by "; "). Left out are Proxy (httpoxy,
// CVE-2016-5385), the hop-by-hop fields, and names with an underscore,
// which nginx also drops by default: "X_User" would otherwise pass for
// "X-User". CONTENT_LENGTH is empty for a request without a body, as
// nginx sends it.
//
// SCRIPT_NAME and DOCUMENT_ROOT are not sent unless Handler.Params sets
// them, as with nginx, whose uwsgi_params has neither. PATH_INFO is the
// whole path, route prefix included: to mount an application under
// /app, set SCRIPT_NAME to /app and run uWSGI with --manage-script-name,
// which strips it from PATH_INFO. Params named like a request var
// replace it; HTTP_X_FOO replaces the client's X-Foo.
//
// # Bodies
//
// The request body is streamed to the application as it arrives, never
// held in memory or on disk: a 10 MB upload passes through a 32 KiB
// buffer. Since the application needs CONTENT_LENGTH, a body of unknown
// length (chunked HTTP/1.1, HTTP/2 without content-length) gets 411
// Length Required; nginx spools such bodies to disk instead.
//
// The response header is read through ReadResponseHeader, bounded to
// 64 KiB; 1xx interim responses are skipped; hop-by-hop fields are
// dropped and the rest copied to the client. The body, to the end of the
// connection, to its Content-Length or chunked, is streamed with a flush
// after every read, so that a slow stream reaches the client as it is
// produced.
//
// # Errors
//
// Each failure answers a status with one log line: 502 when the
// application cannot be reached, closes the connection before its
// response header, or sends a malformed one; 504 when connecting or
// waiting for the header times out (Handler.Timeouts); 411 and 431 as
// above. Once the header is sent, a failure aborts the response with
// http.ErrAbortHandler, so the client sees a broken response rather than
// a short one that looks complete.
//
// # Zero value and concurrency
//
// A Handler needs Addr; its other fields have working zero values. Once
// its fields are set it is safe for concurrent use. Packet and
// ReadResponseHeader are the codec on their own, for tests, fakes and
// fuzzing.
//
// # Configuration
//
// In phalanx.conf, a route is served by a uwsgi application with
// uwsgi_pass, over TCP or a unix socket, and uwsgi_param adds or replaces
// vars:
//
//	route /app {
//	    uwsgi_pass 127.0.0.1:3031;          # or unix:/run/uwsgi.sock;
//	    uwsgi_param UWSGI_SCHEME https;
//	    uwsgi_param SCRIPT_NAME /app;       # with uwsgi --manage-script-name
//	}
//
// which is, in Go,
//
//	phalanx.WithRoute(phalanx.Route{Path: "/app", Handler: &uwsgi.Handler{
//		Addr:   "127.0.0.1:3031",
//		Params: []uwsgi.Param{{Name: "UWSGI_SCHEME", Value: "https"}, {Name: "SCRIPT_NAME", Value: "/app"}},
//	}})
package uwsgi
