package h1_test

import (
	"bufio"
	"bytes"
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
