// Package fcgi is a FastCGI client as an http.Handler: a Handler passes
// each request to a FastCGI responder, such as php-fpm, and streams the
// response back. It imports no phalanx package.
//
// # Protocol
//
// FastCGI (https://fastcgi-archives.github.io/FastCGI_Specification.html)
// frames everything in records of an 8-byte header and up to 65535 bytes
// of content. For each request the Handler sends BEGIN_REQUEST (role
// responder, FCGI_KEEP_CONN unless Keepalive is negative), the CGI
// variables as name-value pairs in PARAMS records ending with an empty
// one, then the body in STDIN records ending with an empty one. The
// backend answers with STDOUT records, which carry a CGI response (header
// fields, a blank line, the body), STDERR records, and END_REQUEST.
//
// A request for /blog/index.php/posts/7?a=1 with Root "/var/www" is sent
// as
//
//	SCRIPT_FILENAME  /var/www/blog/index.php
//	SCRIPT_NAME      /blog/index.php
//	PATH_INFO        /posts/7
//	DOCUMENT_URI     /blog/index.php/posts/7
//	REQUEST_URI      /blog/index.php/posts/7?a=1
//	QUERY_STRING     a=1
//	DOCUMENT_ROOT    /var/www
//
// with REQUEST_METHOD, CONTENT_TYPE, CONTENT_LENGTH, SERVER_PROTOCOL,
// REQUEST_SCHEME, HTTPS ("on" over TLS only), GATEWAY_INTERFACE
// (CGI/1.1), SERVER_SOFTWARE (phalanx), REMOTE_ADDR, REMOTE_PORT,
// SERVER_ADDR, SERVER_PORT, SERVER_NAME (the request's host),
// REDIRECT_STATUS (200, which php-cgi's cgi.force_redirect wants) and an
// HTTP_* variable per request header: X-Forwarded-For becomes
// HTTP_X_FORWARDED_FOR. The Proxy header is not passed (httpoxy). The path
// is cleaned first ("/a/../b.php" is "/b.php"); paths with control
// characters get 400.
//
// The body is streamed: a 10 MB upload passes through 64 KiB buffers,
// while the response is read at the same time. CGI needs CONTENT_LENGTH
// up front, so a body of unknown length (chunked) is stored first, in
// memory up to 64 KiB and in a temporary file beyond, as nginx does.
//
// The response header block sets the status ("Status: 404 Not Found";
// Location alone means 302; else 200) and the header fields, all but
// hop-by-hop ones, added to the ResponseWriter's. The body goes to the
// client as it arrives, flushed whenever the backend has sent nothing
// more, so a script that calls flush() streams. Each STDERR line is
// logged ("fcgi: backend stderr"), up to 16 KiB per request.
//
// # Errors
//
// A request the backend does not answer gets a status and one log line
// ("fcgi: request failed"): 502 when the connection fails or closes
// before the response header, or the backend breaks the protocol; 503
// when it reports FCGI_OVERLOADED or all MaxConns connections stay busy;
// 504 on a timeout. Once the header is sent, a failure aborts the response
// with http.ErrAbortHandler, so the client sees a broken response rather
// than a short one. A connection that saw any error is closed, never
// reused. GET and HEAD requests without a body that fail on a kept
// connection before any response (php-fpm recycled the worker) are sent
// once more on a new connection.
//
// # Connections
//
// Each connection carries one request at a time, as php-fpm expects.
// Finished connections are kept for reuse, up to Keepalive (8) idle for
// up to Timeouts.Idle (60s), and checked to be still open before reuse.
// MaxConns (64) bounds the connections open at once. php-fpm ties one
// worker to each open connection; while a new connection waits for a
// worker, finished ones are closed rather than kept, so that it gets one.
//
// # Zero values
//
// The zero Handler has no backend; set Addr and a document root (Root,
// or a DOCUMENT_ROOT or SCRIPT_FILENAME param). Every other zero field
// has a default, given in its comment. Validate reports what is missing;
// such a Handler answers 500.
//
// # Concurrency
//
// A Handler is safe for concurrent use and must not be copied or changed
// once it has served a request. Close closes its idle connections; call
// it when the Handler is retired. It starts no goroutine of its own
// except one per request with a body, which ends with the request.
//
// # Configuration
//
// In phalanx.conf, a route passes requests to FastCGI with:
//
//	route /php {
//	    fastcgi_pass 127.0.0.1:9000;     # or unix:/run/php/php-fpm.sock
//	    fastcgi_index index.php;         # Index; the default
//	    fastcgi_param DOCUMENT_ROOT /var/www;
//	    fastcgi_param APP_ENV prod;      # Params, repeatable
//	}
//
// fastcgi_pass is Addr, fastcgi_index Index, and each fastcgi_param a
// Param; a literal DOCUMENT_ROOT param is the Root. nginx's usual
//
//	fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
//
// works as written, and restates the default.
package fcgi
