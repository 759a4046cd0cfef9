package h1

import "errors"

// Error is a definite parse error: the bytes can never become a valid
// request, so the engine answers with Status and closes the connection.
// Errors are package-level values, so returning one allocates nothing;
// compare them with errors.Is.
type Error struct {
	msg    string
	status int
}

func (e *Error) Error() string { return e.msg }

// Status is the HTTP status code to answer with: 431 for a request whose
// head or trailer section exceeds its Limits, 400 for everything else.
func (e *Error) Status() int { return e.status }

// Status maps an error from Parse or ChunkedReader.Read to the status code
// the engine should answer with: the code an *Error carries, 0 for nil and
// ErrIncomplete (read more bytes, or close quietly if the peer is gone),
// and 400 for anything else (an I/O error in the middle of a body).
func Status(err error) int {
	if err == nil || errors.Is(err, ErrIncomplete) {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.status
	}
	return 400
}

func badRequest(msg string) *Error { return &Error{msg: msg, status: 400} }

// ErrIncomplete is returned by Parse when buf holds no complete request
// head yet, but what it holds is valid so far and shorter than
// Limits.MaxHeaderBytes: read more bytes into the buffer and call Parse
// again from the start of the request.
var ErrIncomplete = errors.New("h1: incomplete request head")

// Errors for a head over the Limits; Status 431.
var (
	// ErrHeadTooLarge: no blank line within Limits.MaxHeaderBytes.
	ErrHeadTooLarge = &Error{msg: "h1: request head too large", status: 431}
	// ErrTooManyHeaders: more than Limits.MaxHeaders header fields.
	ErrTooManyHeaders = &Error{msg: "h1: too many header fields", status: 431}
	// ErrTrailerTooLarge: a chunked body's trailer section exceeds
	// MaxTrailerBytes.
	ErrTrailerTooLarge = &Error{msg: "h1: trailer section too large", status: 431}
)

// Errors for a malformed head; Status 400.
var (
	// ErrLineEnding: a line of the head (or of a chunked body) ends in a
	// bare LF, or a CR is not followed by LF.
	ErrLineEnding = badRequest("h1: line not terminated by CRLF")
	// ErrRequestLine: the request line is not method SP target SP version,
	// with exactly one space at each place.
	ErrRequestLine = badRequest("h1: malformed request line")
	// ErrMethod: the method is not an RFC 9110 token.
	ErrMethod = badRequest("h1: invalid method")
	// ErrTarget: the request-target has a byte outside VCHAR, a '#', a bad
	// percent-escape in the path, or a form the method does not allow.
	ErrTarget = badRequest("h1: invalid request target")
	// ErrConnect: the method is CONNECT, which phalanx does not tunnel.
	ErrConnect = badRequest("h1: CONNECT is not supported")
	// ErrVersion: the version is not HTTP/1.0 or HTTP/1.1.
	ErrVersion = badRequest("h1: unsupported HTTP version")
	// ErrObsFold: a header line starts with SP or HTAB (obsolete line
	// folding, or whitespace before the first header).
	ErrObsFold = badRequest("h1: obsolete line folding")
	// ErrHeaderName: a header name is empty, is not a token, or is
	// followed by whitespace before the colon; or the line has no colon.
	ErrHeaderName = badRequest("h1: invalid header name")
	// ErrHeaderValue: a header value has a control byte other than HTAB,
	// or DEL.
	ErrHeaderValue = badRequest("h1: invalid header value")
	// ErrHost: an HTTP/1.1 request without a Host header, a request with
	// more than one, a Host with bytes no authority has, or an
	// absolute-form target whose authority differs from Host.
	ErrHost = badRequest("h1: missing, repeated or invalid Host")
	// ErrContentLength: a Content-Length that is not 1*DIGIT or does not
	// fit in an int64.
	ErrContentLength = badRequest("h1: invalid Content-Length")
	// ErrAmbiguousLength: both Content-Length and Transfer-Encoding, or
	// several Content-Length fields with different values.
	ErrAmbiguousLength = badRequest("h1: ambiguous message length")
	// ErrTransferEncoding: a Transfer-Encoding other than one field whose
	// value is exactly "chunked", or any Transfer-Encoding on HTTP/1.0.
	ErrTransferEncoding = badRequest("h1: unsupported Transfer-Encoding")
	// ErrTrailerField: the Trailer header announces a framing field
	// (Content-Length, Transfer-Encoding or Trailer).
	ErrTrailerField = badRequest("h1: Trailer names a framing field")

	// ErrChunkSize: a chunk-size line that is not 1*HEXDIG, optionally
	// followed by BWS and chunk extensions, then CRLF.
	ErrChunkSize = badRequest("h1: invalid chunk size")
	// ErrChunkTooLarge: a chunk size of more than 15 hex digits.
	ErrChunkTooLarge = badRequest("h1: chunk size too large")
	// ErrChunkExtension: a chunk-size line longer than MaxChunkLine, or
	// more extension bytes than data over the whole body (see
	// ChunkedReader).
	ErrChunkExtension = badRequest("h1: chunk extensions too long")
	// ErrChunkData: chunk data not followed by CRLF.
	ErrChunkData = badRequest("h1: chunk data not followed by CRLF")
	// ErrTrailer: a malformed trailer field line.
	ErrTrailer = badRequest("h1: invalid trailer field")
)
