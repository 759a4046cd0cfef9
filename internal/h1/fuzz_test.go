package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"testing"

	"github.com/phalanx-lb/phalanx/internal/h1/h1test"
)

// sameRequest reports whether a and b parsed to the same request.
func sameRequest(a, b *Request) bool {
	if !bytes.Equal(a.Method, b.Method) || !bytes.Equal(a.Target, b.Target) ||
		!bytes.Equal(a.Path, b.Path) || !bytes.Equal(a.RawQuery, b.RawQuery) ||
		!bytes.Equal(a.Host, b.Host) || a.ProtoMinor != b.ProtoMinor ||
		a.ContentLength != b.ContentLength || a.Chunked != b.Chunked || a.Close != b.Close ||
		a.Expect100 != b.Expect100 || a.Upgrade != b.Upgrade || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if !bytes.Equal(a.Headers[i].Name, b.Headers[i].Name) || !bytes.Equal(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}

func FuzzParse(f *testing.F) {
	for _, c := range h1test.Valid {
		f.Add([]byte(c.Raw))
	}
	for _, c := range h1test.Malformed {
		if len(c.Raw) < 4096 {
			f.Add([]byte(c.Raw))
		}
	}
	f.Add([]byte(get + "\r\n" + get + "\r\n"))
	reused := NewRequest(Limits{})
	f.Fuzz(func(t *testing.T, buf []byte) {
		var r Request
		n, err := Parse(buf, &r, Limits{})
		if err != nil {
			if n != 0 {
				t.Fatalf("Parse(%q) = %d, %v; want n = 0 with an error", buf, n, err)
			}
			var e *Error
			if err != ErrIncomplete && !errors.As(err, &e) {
				t.Fatalf("Parse(%q) err = %v, want ErrIncomplete or an *Error", buf, err)
			}
			return
		}
		if n <= 0 || n > len(buf) {
			t.Fatalf("Parse(%q) n = %d, want 0 < n <= %d", buf, n, len(buf))
		}
		// The head alone parses the same, into a fresh or a reused Request.
		var again Request
		if n2, err := Parse(buf[:n], &again, Limits{}); err != nil || n2 != n || !sameRequest(&r, &again) {
			t.Fatalf("Parse(head %q) = %d, %v, %+v; want %d, nil, %+v", buf[:n], n2, err, again, n, r)
		}
		if n2, err := Parse(buf, reused, Limits{}); err != nil || n2 != n || !sameRequest(&r, reused) {
			t.Fatalf("Parse(%q) into a reused Request = %d, %v; want %d, nil and the same fields", buf, n2, err, n)
		}
		// Every prefix of a valid head is incomplete, never wrong.
		for _, k := range []int{n - 1, n / 2, 1} {
			if _, err := Parse(buf[:k], &again, Limits{}); err != ErrIncomplete {
				t.Fatalf("Parse(prefix %q) err = %v, want ErrIncomplete", buf[:k], err)
			}
		}
		// net/http accepts whatever Parse accepts, and reads it the same.
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(buf)))
		if err != nil {
			t.Fatalf("Parse(%q) accepts, http.ReadRequest err = %v", buf, err)
		}
		if req.Method != string(r.Method) || req.RequestURI != string(r.Target) || req.Host != string(r.Host) ||
			req.ProtoMinor != r.ProtoMinor || req.Close != r.Close {
			t.Fatalf("Parse(%q) = %s %s host %q minor %d close %v; net/http %s %s host %q minor %d close %v",
				buf, r.Method, r.Target, r.Host, r.ProtoMinor, r.Close,
				req.Method, req.RequestURI, req.Host, req.ProtoMinor, req.Close)
		}
		if r.Chunked != (len(req.TransferEncoding) > 0) || !r.Chunked && r.ContentLength >= 0 && r.ContentLength != req.ContentLength {
			t.Fatalf("Parse(%q) framing chunked %v length %d; net/http %v %d", buf, r.Chunked, r.ContentLength, req.TransferEncoding, req.ContentLength)
		}
	})
}

// decodeChunked decodes body with a ChunkedReader over a tiny bufio.Reader,
// reading in odd-sized pieces and checking what Chunk reports.
func decodeChunked(t *testing.T, body []byte) ([]byte, error) {
	src := &countingReader{r: bytes.NewReader(body)}
	c := NewChunkedReader(bufio.NewReaderSize(src, 16))
	var out []byte
	buf := make([]byte, 7)
	for {
		ready, reads := c.Ready(), src.reads
		n, err := c.Read(buf)
		if ready && src.reads != reads {
			t.Fatalf("Ready() before Read, yet Read read from the connection (body %q)", body)
		}
		out = append(out, buf[:n]...)
		if size, left := c.Chunk(); left < 0 || left > size {
			t.Fatalf("Chunk() = %d, %d; want 0 <= left <= size", size, left)
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// countingReader counts the reads made of r.
type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

func FuzzChunked(f *testing.F) {
	for _, s := range []string{
		hello,
		"0\r\n\r\n",
		"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
		"a;ext=1\r\n0123456789\r\n0;last\r\nX-Sum: 1\r\n\r\n",
		"5 \r\nhello\r\n0\r\n\r\n",
		"0000000000000005\r\nhello\r\n0\r\n\r\n",
		"ffffffffffffffff\r\nhello\r\n0\r\n\r\n",
		"7fffffffffffffff\r\n",
		"5\nhello\r\n0\r\n\r\n",
		"5\r\nhelloXX0\r\n\r\n",
		"1;" + string(bytes.Repeat([]byte("x"), 300)) + "\r\na\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeChunked(t, body)
		want, werr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(body)))
		if err == nil && werr != nil {
			t.Fatalf("ChunkedReader accepts %q, httputil.NewChunkedReader err = %v", body, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("ChunkedReader(%q) = %q, httputil = %q", body, got, want)
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ChunkedReader(%q) err = %v, want io.ErrUnexpectedEOF or an *Error", body, err)
			}
		}
	})
}

// sameResponse reports whether a and b parsed to the same response.
func sameResponse(a, b *Response) bool {
	if a.ProtoMinor != b.ProtoMinor || a.Status != b.Status || !bytes.Equal(a.Reason, b.Reason) ||
		a.ContentLength != b.ContentLength || a.Chunked != b.Chunked || a.Close != b.Close ||
		a.UntilClose != b.UntilClose || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if !bytes.Equal(a.Headers[i].Name, b.Headers[i].Name) || !bytes.Equal(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}

func FuzzParseResponse(f *testing.F) {
	for _, c := range validResponses {
		f.Add([]byte(c.raw), c.head)
	}
	for _, c := range malformedResponses {
		if len(c.raw) < 4096 {
			f.Add([]byte(c.raw), c.head)
		}
	}
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\n"+nginxHead), false)
	reused := NewResponse(Limits{})
	f.Fuzz(func(t *testing.T, buf []byte, head bool) {
		var r Response
		n, err := ParseResponse(buf, &r, Limits{}, head)
		if err != nil {
			if n != 0 {
				t.Fatalf("ParseResponse(%q) = %d, %v; want n = 0 with an error", buf, n, err)
			}
			if err != ErrIncomplete && Status(err) != 502 {
				t.Fatalf("ParseResponse(%q) err = %v, Status %d; want ErrIncomplete or Status 502", buf, err, Status(err))
			}
			return
		}
		if n <= 0 || n > len(buf) {
			t.Fatalf("ParseResponse(%q) n = %d, want 0 < n <= %d", buf, n, len(buf))
		}
		noBody := NoBody(r.Status, head)
		if r.Status < 100 || r.Status > 599 || r.Chunked && (r.UntilClose || r.ContentLength >= 0) ||
			noBody && (r.Chunked || r.UntilClose) || r.UntilClose && !r.Close {
			t.Fatalf("ParseResponse(%q, head %v) = %+v: inconsistent framing", buf, head, r)
		}
		// The head alone parses the same, into a fresh or a reused Response.
		var again Response
		if n2, err := ParseResponse(buf[:n], &again, Limits{}, head); err != nil || n2 != n || !sameResponse(&r, &again) {
			t.Fatalf("ParseResponse(head %q) = %d, %v, %+v; want %d, nil, %+v", buf[:n], n2, err, again, n, r)
		}
		if n2, err := ParseResponse(buf, reused, Limits{}, head); err != nil || n2 != n || !sameResponse(&r, reused) {
			t.Fatalf("ParseResponse(%q) into a reused Response = %d, %v; want %d, nil and the same fields", buf, n2, err, n)
		}
		// Every prefix of a valid head is incomplete, never wrong.
		for _, k := range []int{n - 1, n / 2, 1} {
			if _, err := ParseResponse(buf[:k], &again, Limits{}, head); err != ErrIncomplete {
				t.Fatalf("ParseResponse(prefix %q) err = %v, want ErrIncomplete", buf[:k], err)
			}
		}
		// Where net/http accepts too, it reads the same status line and
		// framing.
		req := &http.Request{Method: http.MethodGet}
		if head {
			req.Method = http.MethodHead
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(buf)), req)
		if err != nil {
			return
		}
		if resp.StatusCode != r.Status || resp.ProtoMinor != r.ProtoMinor || resp.Close != r.Close {
			t.Fatalf("ParseResponse(%q) = %d minor %d close %v; net/http %d minor %d close %v",
				buf, r.Status, r.ProtoMinor, r.Close, resp.StatusCode, resp.ProtoMinor, resp.Close)
		}
		if !noBody && (r.Chunked != (len(resp.TransferEncoding) > 0) || !r.Chunked && r.ContentLength != resp.ContentLength) {
			t.Fatalf("ParseResponse(%q) framing chunked %v length %d; net/http %v %d",
				buf, r.Chunked, r.ContentLength, resp.TransferEncoding, resp.ContentLength)
		}
	})
}
