package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/phalanx-lb/phalanx/internal/h1/h1test"
)

// Building blocks for the tests; h1test has its own.
const (
	get   = "GET / HTTP/1.1\r\nHost: example.com\r\n"
	post  = "POST /upload HTTP/1.1\r\nHost: example.com\r\n"
	te    = "Transfer-Encoding: chunked\r\n"
	hello = "5\r\nhello\r\n0\r\n\r\n"
)

// browserHead is h1test's "browser head" case, a typical browser request:
// 560 bytes, 10 fields.
var browserHead = func() string {
	for _, c := range h1test.Valid {
		if c.Name == "browser head" {
			return c.Raw
		}
	}
	panic("h1test.Valid has no \"browser head\" case")
}()

// outcome is what one parser made of a raw request.
type outcome struct {
	method, target, host string
	minor                int
	close                bool
	body                 string
	err                  error
}

// phalanxParse runs Parse and, for a body, ChunkedReader or the
// Content-Length bytes.
func phalanxParse(raw []byte) outcome {
	var r Request
	n, err := Parse(raw, &r, Limits{})
	if err != nil {
		return outcome{err: err}
	}
	o := outcome{method: string(r.Method), target: string(r.Target), host: string(r.Host), minor: r.ProtoMinor, close: r.Close}
	rest := raw[n:]
	switch {
	case r.Chunked:
		b, err := io.ReadAll(NewChunkedReader(bufio.NewReader(bytes.NewReader(rest))))
		if err != nil {
			return outcome{err: err}
		}
		o.body = string(b)
	case r.ContentLength > int64(len(rest)):
		return outcome{err: io.ErrUnexpectedEOF}
	case r.ContentLength > 0:
		o.body = string(rest[:r.ContentLength])
	}
	return o
}

// netHTTPParse runs http.ReadRequest and reads the body.
func netHTTPParse(raw []byte) outcome {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return outcome{err: err}
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return outcome{err: err}
	}
	return outcome{method: req.Method, target: req.RequestURI, host: req.Host, minor: req.ProtoMinor, close: req.Close, body: string(b)}
}

func TestDifferential(t *testing.T) {
	if len(h1test.Malformed) < 60 || len(h1test.Valid) < 20 {
		t.Fatalf("have %d malformed and %d valid cases, want at least 60 and 20", len(h1test.Malformed), len(h1test.Valid))
	}
	check := func(t *testing.T, c h1test.Case) {
		ph, nh := phalanxParse([]byte(c.Raw)), netHTTPParse([]byte(c.Raw))
		switch {
		case c.Valid && ph.err != nil:
			t.Fatalf("Parse(%q) err = %v, want a valid request", c.Raw, ph.err)
		case c.Valid && nh.err != nil:
			t.Fatalf("http.ReadRequest(%q) err = %v, want a valid request", c.Raw, nh.err)
		case !c.Valid && ph.err == nil:
			t.Fatalf("Parse(%q) = %+v, want an error", c.Raw, ph)
		case nh.err != nil && ph.err == nil:
			t.Fatalf("Parse(%q) accepts what net/http rejects (%v)", c.Raw, nh.err)
		case ph.err != nil && nh.err == nil && c.Why == "":
			t.Fatalf("Parse(%q) err = %v but net/http accepts it: the case needs a why", c.Raw, ph.err)
		case nh.err != nil && c.Why != "":
			t.Fatalf("net/http rejects %q (%v) too: drop the why", c.Raw, nh.err)
		}
		if ph.err == nil && nh.err == nil && ph != nh {
			t.Fatalf("Parse(%q) = %+v, net/http = %+v, want the same", c.Raw, ph, nh)
		}
		if ph.err != nil && ph.err != ErrIncomplete {
			if s := Status(ph.err); s != 400 && s != 431 {
				t.Errorf("Status(%v) = %d, want 400 or 431", ph.err, s)
			}
		}
	}
	for _, c := range h1test.Valid {
		if !c.Valid || c.Why != "" {
			t.Errorf("h1test.Valid case %q: Valid = %v, Why = %q; want true, empty", c.Name, c.Valid, c.Why)
		}
		t.Run("valid/"+c.Name, func(t *testing.T) { check(t, c) })
	}
	for _, c := range h1test.Malformed {
		if c.Valid {
			t.Errorf("h1test.Malformed case %q: Valid = true, want false", c.Name)
		}
		t.Run("malformed/"+c.Name, func(t *testing.T) { check(t, c) })
	}
}

// TestDifferentialList logs the requests phalanx rejects and net/http
// accepts, with the reason; run with -v to read it.
func TestDifferentialList(t *testing.T) {
	n := 0
	for _, c := range h1test.Malformed {
		if c.Why != "" {
			n++
			t.Logf("%-40s %s", c.Name, c.Why)
		}
	}
	t.Logf("%d malformed cases, %d valid, %d rejected by phalanx only", len(h1test.Malformed), len(h1test.Valid), n)
}
