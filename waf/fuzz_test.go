package waf_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/phalanx-lb/phalanx/waf"
)

// FuzzNormalize checks that the normaliser never panics, never makes a
// value longer, and leaves no upper-case ASCII, NUL, tab or CR in its
// output; and that normalising the output again does not make it longer.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"", "hello", "%2527%252e%252e%252f", "%u003cscript%u003e", "%c0%ae%c0%af", "&lt;&#x27;&#0000106&colon;",
		`\x3c\u003c\u{3c}`, "union/**/select/*!50000x*/", "a\x00b\tc\r\nd", "＜ｓｃｒｉｐｔ＞", "%", "%u", "&#", `\u{`,
		"/*", "*/", "#\n", "\xff\xfe", "%e0%80%ae", "%f0%80%80%ae", "a+b%2Bc",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, plus bool) {
		out := waf.Normalize(s, plus)
		if len(out) > len(s) {
			t.Errorf("Normalize(%q) = %q, longer than its input", s, out)
		}
		for i := 0; i < len(out); i++ {
			if c := out[i]; 'A' <= c && c <= 'Z' || c == 0 || c == '\t' || c == '\r' {
				t.Errorf("Normalize(%q) = %q, has byte %#x", s, out, c)
				break
			}
		}
		if again := waf.Normalize(out, plus); len(again) > len(out) {
			t.Errorf("Normalize(Normalize(%q)) = %q, longer than %q", s, again, out)
		}
		if utf8.ValidString(s) && !strings.ContainsAny(s, "%&\\") && !utf8.ValidString(out) {
			t.Errorf("Normalize(%q) = %q, not UTF-8 from UTF-8 without escapes", s, out)
		}
	})
}

// FuzzInspect parses raw bytes as a request and inspects it: no panic, a
// verdict that is consistent, and the body still whole for the handler.
func FuzzInspect(f *testing.F) {
	f.Add([]byte(typicalRequest))
	f.Add([]byte("POST /api HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 37\r\n\r\n{\"a\":[1,{\"$ne\":null}],\"b\":\"\\u0027\"}"))
	f.Add([]byte("POST /u HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 71\r\n\r\n--B\r\nContent-Disposition: form-data; name=\"a\"; filename=\"../x\"\r\n\r\nhi\r\n--B--\r\n"))
	f.Add([]byte("POST /f HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 18\r\n\r\na=%3Cscript%3E&b=1"))
	f.Add([]byte("GET /a/..%2f..%2fetc/passwd?x=%u0027&y[$gt]= HTTP/1.1\r\nHost: x\r\nCookie: a=b; c=%27\r\nUser-Agent: sqlmap\r\n\r\n"))
	e := quietEngine(f, waf.Config{MaxBodyBytes: 256, MaxValues: 64})
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		r.RemoteAddr = "192.0.2.1:1234"
		want, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(want))
		v := e.Inspect(r)
		if v.Block != (v.Cause != waf.CauseNone) {
			t.Errorf("Verdict Block %v with Cause %v", v.Block, v.Cause)
		}
		got, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("body after Inspect = %q, %v, want %q", got, err, want)
		}
	})
}
