package h1

import "errors"

// Error is a definite parse error: the bytes can never become a valid
// message, so the engine answers with Status and closes the connection.
// Errors are package-level values, so returning one allocates nothing;
// compare them with errors.Is.
//
// ParseResponse shares most of its checks with Parse. Where it fails one
// of them it returns a twin of the request error with Status 502 instead,
// and errors.Is(err, ErrObsFold) holds for that twin too.
type Error struct {
	msg    string
	status int
	// gateway is the Status 502 twin that ParseResponse returns in place
	// of this error; nil for an error only ParseResponse returns.
	gateway *Error
	// of is, for a twin, the request error it stands for.
	of *Error
}

func (e *Error) Error() string { return e.msg }

// Status is the HTTP status code to answer with: 502 for any error from
// ParseResponse, 431 for a request whose head or trailer section exceeds
// its Limits, 400 for everything else.
func (e *Error) Status() int { return e.status }

// Is reports whether e is the twin ParseResponse returns for target.
func (e *Error) Is(target error) bool { return e.of != nil && e.of == target }

// Status maps an error from Parse, ParseResponse or ChunkedReader.Read to
// the status code the engine should answer with: the code an *Error
// carries, 0 for nil and ErrIncomplete (read more bytes, or close quietly
// if the peer is gone), and 400 for anything else (an I/O error in the
// middle of a body). An error in a backend's chunked response body has
// Status 400 like one in a request body; by then the response head has
// usually been forwarded, and all the engine can do is close both
// connections.
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

// newError returns an error with the status and its Status 502 twin.
func newError(msg string, status int) *Error {
	e := &Error{msg: msg, status: status}
	e.gateway = &Error{msg: msg, status: 502, of: e}
	return e
}

func badRequest(msg string) *Error { return newError(msg, 400) }

// badGateway returns an error that only ParseResponse returns.
func badGateway(msg string) *Error { return &Error{msg: msg, status: 502} }

// upstream returns the error ParseResponse returns for err, an error
// from a check it shares with Parse.
func upstream(err error) error {
	if e, ok := err.(*Error); ok && e.gateway != nil {
		return e.gateway
	}
	return err
}

// ErrIncomplete is returned by Parse and ParseResponse when buf holds no
// complete head yet, but what it holds is valid so far and shorter than
// Limits.MaxHeaderBytes: read more bytes into the buffer and call again
// from the start of the message.
var ErrIncomplete = errors.New("h1: incomplete head")

// Errors for a head over the Limits; Status 431, or 502 for the twins
// ParseResponse returns.
var (
	// ErrHeadTooLarge: no blank line within Limits.MaxHeaderBytes.
	ErrHeadTooLarge = newError("h1: head too large", 431)
	// ErrTooManyHeaders: more than Limits.MaxHeaders header fields.
	ErrTooManyHeaders = newError("h1: too many header fields", 431)
	// ErrTrailerTooLarge: a chunked body's trailer section exceeds
	// MaxTrailerBytes.
	ErrTrailerTooLarge = newError("h1: trailer section too large", 431)
)

// Errors for a malformed head or chunked body; Status 400, or 502 for the
// twins ParseResponse returns.
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
	// ErrVersion: the version of a request or response is not HTTP/1.0
	// or HTTP/1.1.
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
	// From ParseResponse: more than one Transfer-Encoding field, a coding
	// that is not a bare token, chunked twice, or a Transfer-Encoding on
	// HTTP/1.0 or on a 1xx or 204 response.
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

// Errors only ParseResponse returns; Status 502. The checks it shares with
// Parse fail with twins of the errors above (see Error).
var (
	// ErrStatusLine: the status line is not HTTP-version SP status-code,
	// then nothing, SP, or SP and a reason phrase of field-value bytes.
	ErrStatusLine = badGateway("h1: malformed status line")
	// ErrStatusCode: the status code is not three digits from 100 to 599.
	ErrStatusCode = badGateway("h1: invalid status code")
)
