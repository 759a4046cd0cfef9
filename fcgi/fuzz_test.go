package fcgi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
)

// recordSeeds are real record streams: a request as the Handler sends it,
// responses as php-fpm and net/http/fcgi send them, and broken ones.
func recordSeeds() [][]byte {
	var s cgiVars
	s[vScriptFilename], s[vRequestMethod], s[vRequestURI] = "/var/www/index.php", "POST", "/index.php?a=1"
	st := &state{}
	h := http.Header{"Cookie": {"a=1"}, "User-Agent": {"curl/8.5.0"}}
	head := appendHead(nil, 1, true, false, func(b []byte) []byte { return st.appendParams(b, &s, h) })
	stdin := appendRecord(nil, typeStdin, 1, []byte("a=1&b=2"))
	stdin = appendHeader(stdin, typeStdin, 1, 0, 0)
	php := stdout(1, "X-Powered-By: PHP/8.2.28\r\nContent-type: text/html; charset=UTF-8\r\n\r\nhello", 0)
	php = append(php, appendRecord(nil, typeStderr, 1, []byte("PHP message: PHP Warning:  Undefined variable $x in /var/www/index.php on line 3"))...)
	php = appendHeader(php, typeStdout, 1, 0, 0)
	php = append(php, endRecord(1, 0, statusRequestComplete)...)
	return [][]byte{
		head,
		append(head, stdin...),
		php,
		ok(7),
		append(stdout(1, "Status: 404 Not Found\r\n\r\nFile not found.\n", 5), endRecord(1, 0, statusRequestComplete)...),
		endRecord(1, 0, statusOverloaded),
		appendRecord(nil, typeGetValuesResult, 0, []byte("\x0e\x01FCGI_MPXS_CONNS1")),
		{1, 6, 0, 1, 0xff, 0xff, 0xff, 0}, // a maximal record announced, nothing after
		{2, 6, 0, 1, 0, 0, 0, 0},          // version 2
		php[:13],                          // cut inside a record
		{},
	}
}

// FuzzRecordReader reads records until an error. Whatever the input, it
// must not panic, must allocate nothing beyond the fixed buffer, and
// each record read must match its bytes.
func FuzzRecordReader(f *testing.F) {
	for _, s := range recordSeeds() {
		f.Add(s, uint32(maxRecord))
		f.Add(s, uint32(64))
	}
	f.Fuzz(func(t *testing.T, data []byte, size uint32) {
		buf := make([]byte, min(int(size%(maxRecord+1)), maxRecord))
		r := bytes.NewReader(data)
		for off := 0; ; {
			h, content, err := readRecord(r, buf)
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, errProtocol) {
					t.Fatalf("readRecord = %v, want EOF, unexpected EOF or a protocol error", err)
				}
				if err == io.EOF && off != len(data) {
					t.Fatalf("readRecord = EOF at %d of %d bytes", off, len(data))
				}
				return
			}
			n := headerLen + int(h.ContentLength) + int(h.PaddingLength)
			if len(content) != int(h.ContentLength) || n-headerLen > len(buf) {
				t.Fatalf("readRecord = %d bytes of content for a header announcing %d, buffer %d", len(content), h.ContentLength, len(buf))
			}
			rec := data[off : off+n]
			if want := appendHeader(nil, h.Type, h.ID, int(h.ContentLength), int(h.PaddingLength)); !bytes.Equal(rec[:7], want[:7]) {
				t.Fatalf("readRecord header = %+v, from bytes % x", h, rec[:8])
			}
			if !bytes.Equal(content, rec[headerLen:headerLen+len(content)]) {
				t.Fatalf("readRecord content differs from the bytes read")
			}
			off += n
		}
	})
}

// FuzzParseHeader checks the CGI header parser: no panic, and on success
// a final status and only clean fields passed on.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		"X-Powered-By: PHP/8.2.28\r\nContent-type: text/html; charset=UTF-8\r\n\r\n",
		"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nbody",
		"Location: /next\n\n",
		"Status: 301\r\nLocation: https://example.com/\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
		"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		"Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
		"Status: 1000\r\n\r\n", "Status: 99\r\n\r\n", "X A: 1\r\n\r\n", "X: a\r\n b\r\n\r\n",
		"X-A: \x00\r\n\r\n", "\r\n", "\n", "no header end",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		end := headerEnd(data)
		if end > len(data) || end == 0 || end < -1 {
			t.Fatalf("headerEnd(%q) = %d", data, end)
		}
		if end < 0 {
			end = len(data)
		}
		status, err := parseHeader(data[:end], func(name, value []byte) {
			if !isToken(name) || !validValue(value) || hopByHop(name) || equalFold(name, "Status") {
				t.Fatalf("parseHeader(%q) passed on %q: %q", data, name, value)
			}
		})
		if err == nil && (status < 200 || status > 999) {
			t.Fatalf("parseHeader(%q) = %d, want a final status", data, status)
		}
		if err != nil && !errors.Is(err, errBadHeader) {
			t.Fatalf("parseHeader(%q) = %v, want errBadHeader", data, err)
		}
	})
}

// FuzzParsePairs checks name-value pair decoding: no panic, and what it
// decodes encodes and decodes again to the same pairs.
func FuzzParsePairs(f *testing.F) {
	f.Add([]byte("\x0e\x01FCGI_MPXS_CONNS1"))
	f.Add(appendPair(appendPair(nil, "SCRIPT_FILENAME", "/var/www/index.php"), "HTTP_X_LONG", string(make([]byte, 300))))
	f.Add([]byte("\x80\x00\x00\x01\x01ab"))
	f.Add([]byte("\xff\xff\xff\xff\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var pairs [][2]string
		if err := parsePairs(data, func(n, v []byte) { pairs = append(pairs, [2]string{string(n), string(v)}) }); err != nil {
			return
		}
		var enc []byte
		for _, p := range pairs {
			enc = appendPair(enc, p[0], p[1])
		}
		i := 0
		err := parsePairs(enc, func(n, v []byte) {
			if string(n) != pairs[i][0] || string(v) != pairs[i][1] {
				t.Fatalf("pair %d after a round trip = %q=%q, want %q=%q", i, n, v, pairs[i][0], pairs[i][1])
			}
			i++
		})
		if err != nil || i != len(pairs) {
			t.Fatalf("round trip of %d pairs: %d, %v", len(pairs), i, err)
		}
	})
}

// FuzzResponse runs the response reader over any byte stream from a
// backend, as request 1: it must end with an error or a valid response,
// never panic.
func FuzzResponse(f *testing.F) {
	for _, s := range recordSeeds() {
		f.Add(s)
	}
	f.Add(split("Status: 202\r\nX-Long: "+string(bytes.Repeat([]byte("v"), 100))+"\r\n\r\nbody", 7)(1))
	f.Add(withStderr("a\nb\r\nc", "\r\nok")(1))
	buf := make([]byte, maxRecord)
	logger := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := newRecorder()
		c := &conn{br: bufio.NewReader(bytes.NewReader(data))}
		rs := &response{w: rec, rc: http.NewResponseController(rec), c: c, id: 1, buf: buf}
		rs.stderr = stderrLog{logger: logger, ctx: context.Background()}
		err := rs.run()
		rs.stderr.flush()
		if err == nil && (!rs.wroteHeader || rec.Code() < 200) {
			t.Fatalf("run = nil with status %d, header written %v", rec.Code(), rs.wroteHeader)
		}
		if len(rs.head) > maxHeaderBytes+maxContent {
			t.Fatalf("run held %d bytes of header", len(rs.head))
		}
	})
}
