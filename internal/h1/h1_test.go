package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

func TestParseFields(t *testing.T) {
	raw := "POST http://Example.com:81/a/b?x=1&y HTTP/1.1\r\n" +
		"Host: example.com:81\r\n" +
		"Content-Length: 3\r\n" +
		"Expect: 100-continue\r\n" +
		"Connection: upgrade, close\r\n" +
		"Upgrade: websocket\r\n" +
		"X-Pad:  two words \t\r\n" +
		"\r\nabc"
	r := NewRequest(Limits{})
	n, err := Parse([]byte(raw), r, Limits{})
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if want := len(raw) - 3; n != want {
		t.Errorf("Parse n = %d, want %d", n, want)
	}
	for _, c := range []struct{ field, got, want string }{
		{"Method", string(r.Method), "POST"},
		{"Target", string(r.Target), "http://Example.com:81/a/b?x=1&y"},
		{"Path", string(r.Path), "/a/b"},
		{"RawQuery", string(r.RawQuery), "x=1&y"},
		{"Host", string(r.Host), "Example.com:81"},
	} {
		if c.got != c.want {
			t.Errorf("Parse: %s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if r.ProtoMinor != 1 || r.ContentLength != 3 || r.Chunked || !r.Close || !r.Expect100 || !r.Upgrade || len(r.Headers) != 6 {
		t.Errorf("Parse = %+v, want HTTP/1.1, length 3, close, expect, upgrade, 6 headers", r)
	}
	if v, ok := r.Header("x-pad"); !ok || string(v) != "two words" {
		t.Errorf("Header(x-pad) = %q, %v; want \"two words\", true", v, ok)
	}
	if _, ok := r.Header("x-missing"); ok {
		t.Errorf("Header(x-missing) ok = true, want false")
	}
}

func TestParsePipelined(t *testing.T) {
	buf := []byte("POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /two?q HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
	r := NewRequest(Limits{})
	n, err := Parse(buf, r, Limits{})
	if err != nil || string(r.Path) != "/one" || r.ContentLength != 5 {
		t.Fatalf("Parse(first) = %d, %v, path %q length %d; want /one, 5", n, err, r.Path, r.ContentLength)
	}
	if body := string(buf[n : n+5]); body != "hello" {
		t.Fatalf("first body = %q, want hello", body)
	}
	rest := buf[n+5:]
	n, err = Parse(rest, r, Limits{})
	if err != nil || n != len(rest) || string(r.Path) != "/two" || string(r.RawQuery) != "q" || string(r.Host) != "b" || !r.Close || r.ContentLength != -1 {
		t.Fatalf("Parse(second) = %d, %v, %+v; want /two?q host b close, no length", n, err, r)
	}
}

func TestParsePipelinedChunked(t *testing.T) {
	in := bufio.NewReader(strings.NewReader(post + te + "\r\n" + hello + get + "\r\n"))
	head, _ := in.Peek(len(post + te + "\r\n"))
	var r Request
	n, err := Parse(head, &r, Limits{})
	if err != nil || !r.Chunked {
		t.Fatalf("Parse = %v, chunked %v; want chunked", err, r.Chunked)
	}
	in.Discard(n)
	body, err := io.ReadAll(NewChunkedReader(in))
	if err != nil || string(body) != "hello" {
		t.Fatalf("ChunkedReader = %q, %v; want hello", body, err)
	}
	rest, _ := io.ReadAll(in)
	if n, err := Parse(rest, &r, Limits{}); err != nil || n != len(rest) || string(r.Method) != "GET" {
		t.Fatalf("Parse(next) = %d, %v; want the GET", n, err)
	}
}

func TestParseIncremental(t *testing.T) {
	raw := []byte(browserHead)
	var r Request
	for k := range len(raw) {
		if _, err := Parse(raw[:k], &r, Limits{}); err != ErrIncomplete {
			t.Fatalf("Parse(first %d bytes) err = %v, want ErrIncomplete", k, err)
		}
	}
	if n, err := Parse(raw, &r, Limits{}); err != nil || n != len(raw) {
		t.Fatalf("Parse = %d, %v; want %d, nil", n, err, len(raw))
	}
}

func TestParseErrors(t *testing.T) {
	long := get + "X: " + strings.Repeat("a", 100) + "\r\n\r\n"
	for _, c := range []struct {
		name string
		raw  string
		lim  Limits
		want error
		code int
	}{
		{"head exactly at limit", get + "\r\n", Limits{MaxHeaderBytes: len(get) + 2}, nil, 0},
		{"head one byte over", get + "\r\n", Limits{MaxHeaderBytes: len(get) + 1}, ErrHeadTooLarge, 431},
		{"long and incomplete", long[:80], Limits{MaxHeaderBytes: 64}, ErrHeadTooLarge, 431},
		{"short and incomplete", long[:50], Limits{MaxHeaderBytes: 64}, ErrIncomplete, 0},
		{"headers at limit", get + "A: 1\r\n\r\n", Limits{MaxHeaders: 2}, nil, 0},
		{"headers over limit", get + "A: 1\r\nB: 2\r\n\r\n", Limits{MaxHeaders: 2}, ErrTooManyHeaders, 431},
		{"error before incomplete", get + "X\x00: a\r\nY: b", Limits{}, ErrHeaderName, 400},
		{"obs-fold", get + "A: 1\r\n 2\r\n\r\n", Limits{}, ErrObsFold, 400},
		{"bare lf", "GET / HTTP/1.1\n", Limits{}, ErrLineEnding, 400},
		{"cl and te", post + te + "Content-Length: 1\r\n\r\n", Limits{}, ErrAmbiguousLength, 400},
		{"cl differ", post + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n", Limits{}, ErrAmbiguousLength, 400},
		{"cl overflow", post + "Content-Length: 9223372036854775808\r\n\r\n", Limits{}, ErrContentLength, 400},
		{"te gzip", post + "Transfer-Encoding: gzip\r\n\r\n", Limits{}, ErrTransferEncoding, 400},
		{"no host", "GET / HTTP/1.1\r\n\r\n", Limits{}, ErrHost, 400},
		{"connect", "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n", Limits{}, ErrConnect, 400},
		{"version", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", Limits{}, ErrVersion, 400},
		{"method", "G:T / HTTP/1.1\r\nHost: a\r\n\r\n", Limits{}, ErrMethod, 400},
		{"target", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", Limits{}, ErrTarget, 400},
		{"value", get + "A: \x7f\r\n\r\n", Limits{}, ErrHeaderValue, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.raw), new(Request), c.lim)
			if err != c.want {
				t.Fatalf("Parse(%q) err = %v, want %v", c.raw, err, c.want)
			}
			if got := Status(err); got != c.code {
				t.Errorf("Status(%v) = %d, want %d", err, got, c.code)
			}
		})
	}
	if got := Status(io.ErrUnexpectedEOF); got != 400 {
		t.Errorf("Status(io.ErrUnexpectedEOF) = %d, want 400", got)
	}
}

func TestValidIPv6(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"::", true}, {"::1", true}, {"1::", true}, {"2001:db8::1", true},
		{"1:2:3:4:5:6:7:8", true}, {"::ffff:10.0.0.1", true}, {"1:2:3:4:5:6:1.2.3.4", true},
		{"", false}, {":", false}, {":1", false}, {"1:", false}, {"1:::2", false}, {"1::2::3", false},
		{"1:2:3:4:5:6:7", false}, {"1:2:3:4:5:6:7:8:9", false}, {"1:2:3:4:5:6:7::8", false},
		{"12345::", false}, {"g::", false}, {"::1.2.3", false}, {"::1.2.3.256", false},
		{"::01.2.3.4", false}, {"1.2.3.4", false}, {"fe80::1%25eth0", false},
	} {
		if got := validIPv6([]byte(c.in)); got != c.want {
			t.Errorf("validIPv6(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestChunkedReader(t *testing.T) {
	for _, c := range []struct {
		name string
		body string
		want string
		err  error
	}{
		{"simple", hello, "hello", nil},
		{"chunks and trailer", "3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\nA: b\r\n\r\n", "hello", nil},
		{"15 digits", "000000000000005\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"16 digits", "0000000000000005\r\nhello\r\n0\r\n\r\n", "", ErrChunkTooLarge},
		{"bare lf", "5\nhello\r\n0\r\n\r\n", "", ErrLineEnding},
		{"trailing space", "5 \r\nhello\r\n0\r\n\r\n", "", ErrChunkSize},
		{"missing crlf", "5\r\nhelloX\r\n0\r\n\r\n", "hello", ErrChunkData},
		{"line too long", "5;" + strings.Repeat("x", MaxChunkLine) + "\r\n", "", ErrChunkExtension},
		{"extension padding", strings.Repeat("1;"+strings.Repeat("x", 200)+"\r\na\r\n", 100) + "0\r\n\r\n", strings.Repeat("a", 88), ErrChunkExtension}, // 186 bytes over per chunk: the 89th passes 16 KiB,
		{"trailer too large", "0\r\nA: " + strings.Repeat("b", MaxTrailerBytes) + "\r\n\r\n", "", ErrTrailerTooLarge},
		{"trailer fold", "0\r\nA: b\r\n c\r\n\r\n", "", ErrObsFold},
		{"trailer bad", "0\r\nA b\r\n\r\n", "", ErrTrailer},
		{"truncated", "5\r\nhel", "hel", io.ErrUnexpectedEOF},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := io.ReadAll(NewChunkedReader(bufio.NewReader(strings.NewReader(c.body))))
			if string(got) != c.want || !errors.Is(err, c.err) {
				t.Errorf("ChunkedReader(%.40q) = %.40q, %v; want %.40q, %v", c.body, got, err, c.want, c.err)
			}
		})
	}
}

// TestChunkedRelay re-frames a body chunk by chunk from what Chunk
// reports, as a relay forwarding the framing would, and gets the same
// chunks back.
func TestChunkedRelay(t *testing.T) {
	in := "3\r\nhel\r\n2;ext\r\nlo\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"
	c := NewChunkedReader(bufio.NewReader(strings.NewReader(in)))
	var out bytes.Buffer
	p := make([]byte, 5)
	for {
		n, err := c.Read(p)
		size, left := c.Chunk()
		if n > 0 && left+int64(n) == size {
			out.WriteString(strconv.FormatInt(size, 16) + "\r\n")
		}
		out.Write(p[:n])
		if n > 0 && left == 0 {
			out.WriteString("\r\n")
		}
		if err == io.EOF {
			out.WriteString("0\r\n\r\n")
			break
		}
		if err != nil {
			t.Fatalf("Read = %v", err)
		}
	}
	want := "3\r\nhel\r\n2\r\nlo\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"
	if out.String() != want {
		t.Errorf("relayed %q, want %q", out.String(), want)
	}
}

// TestChunkedTrailer: Trailer returns the trailer fields once the body is
// read, and nothing before, or for a body without any.
func TestChunkedTrailer(t *testing.T) {
	c := NewChunkedReader(bufio.NewReader(strings.NewReader("3\r\nhel\r\n0\r\nX-Sum: 1\r\nX-B:2\r\n\r\n")))
	if tr := c.Trailer(); tr != nil {
		t.Errorf("Trailer() before the end = %q, want nil", tr)
	}
	if b, err := io.ReadAll(c); err != nil || string(b) != "hel" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	if tr := string(c.Trailer()); tr != "X-Sum: 1\r\nX-B:2\r\n" {
		t.Errorf("Trailer() = %q", tr)
	}
	c.Reset(bufio.NewReader(strings.NewReader("2\r\nlo\r\n0\r\n\r\n")))
	if b, err := io.ReadAll(c); err != nil || string(b) != "lo" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	if tr := c.Trailer(); len(tr) != 0 {
		t.Errorf("Trailer() of a body without one = %q, want none", tr)
	}
}

// TestRequestForget: Forget leaves no reference to the parsed bytes, in
// the fields or in the room Headers keeps, and Parse fills the Request
// again.
func TestRequestForget(t *testing.T) {
	r := NewRequest(Limits{})
	raw := []byte("GET /a?b HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-B: 2\r\n\r\n")
	if _, err := Parse(raw, r, Limits{}); err != nil {
		t.Fatal(err)
	}
	r.Forget()
	if r.Method != nil || r.Target != nil || r.Path != nil || r.RawQuery != nil || r.Host != nil || len(r.Headers) != 0 {
		t.Errorf("after Forget: %+v", r)
	}
	for i, h := range r.Headers[:cap(r.Headers)] {
		if h.Name != nil || h.Value != nil {
			t.Fatalf("Headers[%d] beyond the length still holds %q: %q", i, h.Name, h.Value)
		}
	}
	if _, err := Parse(raw, r, Limits{}); err != nil || string(r.Path) != "/a" || len(r.Headers) != 3 {
		t.Errorf("Parse after Forget: %v, %+v", err, r)
	}
}

// TestChunkedReady: Ready is true exactly when Read can go on with what is
// buffered, at each point of a body that arrives in pieces.
func TestChunkedReady(t *testing.T) {
	for _, tt := range []struct {
		name     string
		buffered string // what has arrived
		reads    int    // Reads done before asking (each up to 64 bytes)
		want     bool
	}{
		{"nothing", "", 0, false},
		{"part of a size line", "1", 0, false},
		{"size line, no data", "5\r\n", 0, false},
		{"size line and data", "5\r\nhe", 0, true},
		{"data left in the chunk", "5\r\nhello", 0, true},
		{"chunk read, its CRLF missing", "5\r\nhello", 1, false},
		{"CRLF, next size line partial", "5\r\nhello\r\n3", 1, false},
		{"next chunk begins", "5\r\nhello\r\n3\r\nabc", 1, true},
		{"last chunk, no end", "5\r\nhello\r\n0\r\n", 1, false},
		{"last chunk and end", "5\r\nhello\r\n0\r\n\r\n", 1, true},
		{"last chunk, trailer partial", "0\r\nX-A: 1\r\n", 0, false},
		{"last chunk, trailer whole", "0\r\nX-A: 1\r\n\r\n", 0, true},
		{"extension", "5;a=b\r\nh", 0, true},
		{"zero with extension, no end", "0;a=b\r\n", 0, false},
		{"after the end", "0\r\n\r\n", 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				pw.Write([]byte(tt.buffered))
			}()
			br := bufio.NewReader(pr)
			if tt.buffered != "" {
				br.Peek(len(tt.buffered)) // all of it buffered; the pipe then blocks
			}
			c := NewChunkedReader(br)
			p := make([]byte, 64)
			for range tt.reads {
				c.Read(p)
			}
			if got := c.Ready(); got != tt.want {
				t.Errorf("Ready() = %v, want %v", got, tt.want)
			}
			pw.Close()
		})
	}
}
