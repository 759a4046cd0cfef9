package h1

import "bytes"

// Response is a response head parsed in place: every []byte field points
// into the buffer given to ParseResponse and is valid only while that
// buffer is neither modified nor reused. ParseResponse resets it first, so
// one Response serves every response of a backend connection; Headers
// keeps its capacity across responses.
//
// The body that follows the head is read as follows: none if NoBody(Status,
// head); else through a ChunkedReader if Chunked; else ContentLength bytes
// if UntilClose is false; else up to the end of the connection.
//
// The zero Response is ready to use; NewResponse preallocates Headers so
// that even the first ParseResponse allocates nothing. A Response is not
// safe for concurrent use. It may be copied, but the copy shares Headers'
// backing array with the original.
type Response struct {
	// ProtoMinor is 1 for HTTP/1.1 and 0 for HTTP/1.0.
	ProtoMinor int
	// Status is the status code, from 100 to 599.
	Status int
	// Reason is the reason phrase, possibly empty.
	Reason []byte
	// Headers are the header fields in the order received, the framing
	// fields included.
	Headers []Header
	// ContentLength is the Content-Length value as sent, or -1 if there
	// is none. It frames the body only if NoBody is false and Chunked and
	// UntilClose are not set; a 304 or a response to HEAD reports in it
	// the length the body would have had.
	ContentLength int64
	// Chunked reports that the last transfer coding is chunked and the
	// response has a body: read it through a ChunkedReader. Any coding
	// listed before chunked in Transfer-Encoding is still applied to what
	// the ChunkedReader returns.
	Chunked bool
	// Close reports that the connection cannot carry another response:
	// Connection: close, HTTP/1.0 without Connection: keep-alive, or
	// UntilClose.
	Close bool
	// UntilClose reports that the body ends when the backend closes the
	// connection: the response may have a body, and has neither
	// Content-Length nor a Transfer-Encoding ending in chunked.
	UntilClose bool
}

// NewResponse returns a Response whose Headers can hold lim.MaxHeaders
// fields, so that ParseResponse never grows it.
func NewResponse(lim Limits) *Response {
	r := &Response{Headers: make([]Header, 0, lim.maxHeaders())}
	r.Reset()
	return r
}

// Reset clears r for the next response, keeping Headers' capacity.
// ParseResponse calls it first, so callers need it only to drop
// references to a buffer.
func (r *Response) Reset() {
	h := r.Headers
	clear(h)
	*r = Response{Headers: h[:0], ContentLength: -1}
}

// Header returns the value of the first header field named name, ignoring
// case, and whether there is one. name must be lower case.
func (r *Response) Header(name string) ([]byte, bool) {
	return lookup(r.Headers, name)
}

// NoBody reports whether a response with the status code carries no body
// (RFC 9112, section 6.3): a 1xx, 204 or 304 response, or any response to
// a HEAD request, which head reports.
func NoBody(status int, head bool) bool {
	return head || status < 200 || status == 204 || status == 304
}

// ParseResponse parses the response head at the start of buf into r and
// returns the number of bytes it took, through the blank line that ends
// it; the body starts at buf[n:]. head reports that the request was HEAD:
// the response then has no body whatever its fields say. After a 1xx
// response other than 101, the final response follows at buf[n:].
//
// The contract is Parse's: ParseResponse allocates nothing once r.Headers
// has room for the fields, returns ErrIncomplete, or ErrHeadTooLarge once
// len(buf) reaches lim.MaxHeaderBytes, for a head that is valid so far,
// and an *Error for a definite error. Every *Error it returns has Status
// 502: the engine answers its client with Bad Gateway and closes the
// backend connection. The rules are in the package documentation.
func ParseResponse(buf []byte, r *Response, lim Limits, head bool) (n int, err error) {
	if n, err = parseResponse(buf, r, lim, head); err != nil {
		return 0, upstream(err)
	}
	return n, nil
}

func parseResponse(buf []byte, r *Response, lim Limits, head bool) (int, error) {
	r.Reset()
	h, incomplete := lim.cut(buf)
	line, pos, err := nextLine(h, 0)
	if err == ErrIncomplete {
		return 0, incomplete
	} else if err != nil {
		return 0, err
	}
	if err := r.parseStatusLine(line); err != nil {
		return 0, err
	}
	f := framing{response: true, minor: r.ProtoMinor}
	if pos, err = f.fields(h, pos, lim.maxHeaders(), &r.Headers); err == ErrIncomplete {
		return 0, incomplete
	} else if err != nil {
		return 0, err
	}
	if err := f.finishResponse(r, head); err != nil {
		return 0, err
	}
	return pos, nil
}

// parseStatusLine parses HTTP-version SP status-code SP [ reason-phrase ]
// (RFC 9112, section 4), also accepting a line that ends right after the
// status code.
func (r *Response) parseStatusLine(line []byte) error {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return ErrStatusLine
	}
	switch string(line[:sp]) {
	case "HTTP/1.1":
		r.ProtoMinor = 1
	case "HTTP/1.0":
		r.ProtoMinor = 0
	default:
		return ErrVersion
	}
	code := line[sp+1:]
	if len(code) > 3 {
		if code[3] != ' ' {
			return ErrStatusCode
		}
		code, r.Reason = code[:3], code[4:]
	}
	if len(code) != 3 || code[0] < '1' || code[0] > '5' ||
		code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return ErrStatusCode
	}
	r.Status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	for _, c := range r.Reason {
		if class[c]&cValue == 0 {
			return ErrStatusLine
		}
	}
	return nil
}

// codings records a response's Transfer-Encoding value: a list of
// transfer codings, each a bare token, with chunked at most once (RFC
// 9112, section 6.1).
func (f *framing) codings(v []byte) error {
	for {
		elem := v
		i := bytes.IndexByte(v, ',')
		if i >= 0 {
			elem, v = v[:i], v[i+1:]
		}
		elem = trimOWS(elem)
		if len(elem) == 0 {
			return ErrTransferEncoding
		}
		for _, c := range elem {
			if class[c]&cToken == 0 {
				return ErrTransferEncoding
			}
		}
		chunked := equalFold(elem, "chunked")
		if chunked && f.chunked {
			return ErrTransferEncoding
		}
		if i < 0 {
			f.chunked = chunked
			return nil
		}
		f.chunked = f.chunked || chunked
	}
}

// finishResponse applies the rules that need every field of a response
// (RFC 9112, section 6.3).
func (f *framing) finishResponse(r *Response, head bool) error {
	if f.lengths > 0 && f.encodings > 0 {
		return ErrAmbiguousLength
	}
	if f.encodings > 0 && (r.Status < 200 || r.Status == 204) {
		// RFC 9112 section 6.1: a server MUST NOT send it. A backend that
		// does may also send a chunked body, which would be read as the
		// next response.
		return ErrTransferEncoding
	}
	if f.lengths > 0 {
		r.ContentLength = f.n
	}
	switch {
	case NoBody(r.Status, head):
	case f.encodings > 0:
		r.Chunked, r.UntilClose = f.chunked, !f.chunked
	case f.lengths == 0:
		r.UntilClose = true
	}
	r.Close = f.connClose || r.ProtoMinor == 0 && !f.keepAlive || r.UntilClose
	return nil
}
