package fcgi

import "errors"

// Errors are not returned to callers of ServeHTTP, which answer with a
// status instead; they appear as the cause in log lines and in Validate's
// result.
var (
	// errNoAddr: the Handler has no backend address. Validate; 500.
	errNoAddr = errors.New("fcgi: no backend address")
	// errNoRoot: SCRIPT_FILENAME cannot be made. Validate; 500.
	errNoRoot = errors.New("fcgi: no document root: set Root, or a DOCUMENT_ROOT or SCRIPT_FILENAME param")
	// errBadPath: the request path is not absolute or holds control
	// characters. 400.
	errBadPath = errors.New("fcgi: invalid request path")
	// errBusy: MaxConns connections were busy for the whole wait. 503.
	errBusy = errors.New("fcgi: all connections to the backend are busy")
	// errProtocol: the backend broke the FastCGI record format. 502.
	errProtocol = errors.New("fcgi: protocol error")
	// errBadHeader: the CGI header block is malformed. 502.
	errBadHeader = errors.New("fcgi: malformed response header")
	// errHeaderTooLarge: the CGI header block exceeds maxHeaderBytes. 502.
	errHeaderTooLarge = errors.New("fcgi: response header too large")
	// errNoHeader: the request ended before a complete header block. 502.
	errNoHeader = errors.New("fcgi: backend ended the request before its response header")
	// errOverloaded: END_REQUEST with FCGI_OVERLOADED or
	// FCGI_CANT_MPX_CONN. 503.
	errOverloaded = errors.New("fcgi: backend overloaded")
	// errUnknownRole: END_REQUEST with FCGI_UNKNOWN_ROLE. 502.
	errUnknownRole = errors.New("fcgi: backend refused the responder role")
	// errSpool: a body of unknown length could not be stored. 500.
	errSpool = errors.New("fcgi: spooling the request body")
	// errClosed: the backend closed the connection mid-request. 502.
	errClosed = errors.New("fcgi: backend closed the connection")
)
