//go:build !race

package h1

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// TestAllocs checks that Parse, ParseResponse and ChunkedReader allocate
// nothing once the Request, the Response and the ChunkedReader exist. The race detector allocates, hence
// the build tag.
func TestAllocs(t *testing.T) {
	buf := []byte(browserHead)
	r := NewRequest(Limits{})
	if a := testing.AllocsPerRun(1000, func() { Parse(buf, r, Limits{}) }); a != 0 {
		t.Errorf("AllocsPerRun(Parse) = %v, want 0", a)
	}
	var zero Request
	Parse(buf, &zero, Limits{}) // grows Headers once
	if a := testing.AllocsPerRun(1000, func() { Parse(buf, &zero, Limits{}) }); a != 0 {
		t.Errorf("AllocsPerRun(Parse into a reused zero Request) = %v, want 0", a)
	}
	bad := []byte(post + "Content-Length: 1\r\n" + te + "\r\n")
	if a := testing.AllocsPerRun(1000, func() { Parse(bad, r, Limits{}) }); a != 0 {
		t.Errorf("AllocsPerRun(Parse(rejected)) = %v, want 0", a)
	}

	resp := []byte(nginxHead)
	rr := NewResponse(Limits{})
	if a := testing.AllocsPerRun(1000, func() { ParseResponse(resp, rr, Limits{}, false) }); a != 0 {
		t.Errorf("AllocsPerRun(ParseResponse) = %v, want 0", a)
	}
	badResp := []byte(ok11 + "Content-Length: 1\r\n" + te + "\r\n")
	if a := testing.AllocsPerRun(1000, func() { ParseResponse(badResp, rr, Limits{}, false) }); a != 0 {
		t.Errorf("AllocsPerRun(ParseResponse(rejected)) = %v, want 0", a)
	}

	body := []byte("3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\nA: b\r\n\r\n")
	rd := bytes.NewReader(body)
	br := bufio.NewReader(rd)
	c := NewChunkedReader(br)
	p := make([]byte, 64)
	if a := testing.AllocsPerRun(1000, func() {
		rd.Reset(body)
		br.Reset(rd)
		c.Reset(br)
		for {
			if _, err := c.Read(p); err == io.EOF {
				break
			}
		}
	}); a != 0 {
		t.Errorf("AllocsPerRun(ChunkedReader.Read) = %v, want 0", a)
	}
}
