package h1_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/phalanx-lb/phalanx/internal/h1"
)

// Two pipelined requests in one buffer, the second with a chunked body,
// and a third that smuggles a second length.
func Example() {
	buf := []byte("GET /search?q=go HTTP/1.1\r\nHost: example.com\r\n\r\n" +
		"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n" +
		"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n")
	r := h1.NewRequest(h1.Limits{})
	for len(buf) > 0 {
		n, err := h1.Parse(buf, r, h1.Limits{})
		if err != nil {
			fmt.Println(h1.Status(err), err)
			return
		}
		fmt.Printf("%s %s path=%s query=%s host=%s\n", r.Method, r.Target, r.Path, r.RawQuery, r.Host)
		buf = buf[n:]
		if r.Chunked {
			br := bufio.NewReader(bytes.NewReader(buf))
			body, err := io.ReadAll(h1.NewChunkedReader(br))
			fmt.Printf("body %q %v\n", body, err)
			buf = buf[len(buf)-br.Buffered():]
		}
	}
	// Output:
	// GET /search?q=go path=/search query=q=go host=example.com
	// POST /upload path=/upload query= host=example.com
	// body "hello world" <nil>
	// 400 h1: ambiguous message length
}

// A backend's 100 Continue, then its chunked response, read from one
// buffer; then a response that gives two lengths.
func ExampleParseResponse() {
	buf := []byte("HTTP/1.1 100 Continue\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n0\r\n\r\n")
	r := h1.NewResponse(h1.Limits{})
	for {
		n, err := h1.ParseResponse(buf, r, h1.Limits{}, false)
		if err != nil {
			fmt.Println(h1.Status(err), err)
			return
		}
		ct, _ := r.Header("content-type")
		fmt.Printf("%d %s chunked=%v content-type=%q\n", r.Status, r.Reason, r.Chunked, ct)
		buf = buf[n:]
		if !h1.NoBody(r.Status, false) {
			break
		}
	}
	body, err := io.ReadAll(h1.NewChunkedReader(bufio.NewReader(bytes.NewReader(buf))))
	fmt.Printf("body %q %v\n", body, err)

	bad := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
	_, err = h1.ParseResponse(bad, r, h1.Limits{}, false)
	fmt.Println(h1.Status(err), err, errors.Is(err, h1.ErrAmbiguousLength))
	// Output:
	// 100 Continue chunked=false content-type=""
	// 200 OK chunked=true content-type="text/plain"
	// body "hello" <nil>
	// 502 h1: ambiguous message length true
}
