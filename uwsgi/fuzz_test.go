package uwsgi_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/phalanx-lb/phalanx/uwsgi"
)

// fuzzLimit is the header limit under fuzzing; small, so that the limit
// itself gets exercised.
const fuzzLimit = 1024

func FuzzResponseParser(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 418 I'm a teapot\r\nX-Teapot: short and stout\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
		"HTTP/1.0 302 Found\nLocation: /login?next=%2F\n\n",
		"HTTP/2.0 204 No Content\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Ctl: a\x00b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Obs: caf\xe9\r\n\r\n",
		"HTTP/1.1 600 Too High\r\n\r\n",
		"HTTP/1.1 20 Short\r\n\r\n",
		"Status: 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", fuzzLimit) + "\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: 1",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The smallest bufio buffer, so that long lines take the
		// accumulating path.
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		res, err := uwsgi.ReadResponseHeader(br, fuzzLimit)
		rest, _ := io.ReadAll(br)
		consumed := len(data) - len(rest)
		if consumed > fuzzLimit+16 {
			t.Fatalf("read %d bytes with a limit of %d", consumed, fuzzLimit)
		}
		if err != nil {
			if !errors.Is(err, uwsgi.ErrMalformedResponse) && !errors.Is(err, uwsgi.ErrHeaderTooLarge) &&
				err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("ReadResponseHeader(%q) = unexpected error %v", data, err)
			}
			return
		}
		if consumed > fuzzLimit {
			t.Fatalf("read %d bytes with a limit of %d", consumed, fuzzLimit)
		}
		head := data[:consumed]
		if !bytes.HasSuffix(head, []byte("\n\n")) && !bytes.HasSuffix(head, []byte("\n\r\n")) {
			t.Fatalf("ReadResponseHeader consumed %q, which does not end at an empty line", head)
		}
		// The status code is the status line's three digits.
		if want := fmt.Sprintf("%s %03d", res.Proto, res.StatusCode); !bytes.HasPrefix(data, []byte(want)) {
			t.Fatalf("ReadResponseHeader(%q) = %s %d, want the status line's own", data, res.Proto, res.StatusCode)
		}
		if res.StatusCode < 100 || res.StatusCode > 599 {
			t.Fatalf("status %d out of range", res.StatusCode)
		}
		// Written back out, the header parses to the same thing.
		var b strings.Builder
		fmt.Fprintf(&b, "%s %03d %s\r\n", res.Proto, res.StatusCode, res.Reason)
		for _, k := range slices.Sorted(maps.Keys(res.Header)) {
			for _, v := range res.Header[k] {
				fmt.Fprintf(&b, "%s: %s\r\n", k, v)
			}
		}
		b.WriteString("\r\n")
		res2, err := uwsgi.ReadResponseHeader(bufio.NewReader(strings.NewReader(b.String())), 2*fuzzLimit)
		if err != nil {
			t.Fatalf("re-reading %q: %v", b.String(), err)
		}
		if !reflect.DeepEqual(res, res2) {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", b.String(), res2, res)
		}
	})
}

func FuzzPacket(f *testing.F) {
	var seed []byte
	seed, _ = uwsgi.Packet{Vars: []uwsgi.Param{{Name: "REQUEST_METHOD", Value: "GET"}, {Name: "PATH_INFO", Value: "/"}}}.Append(seed)
	f.Add(seed)
	f.Add([]byte("\x00\x15\x00\x00\x0e\x00REQUEST_METHOD\x03\x00GET"))
	f.Add([]byte("\x00\x00\x00\x00"))
	f.Add([]byte("\x05\x03\x00\x07\x00\x00\x00body after"))
	f.Add([]byte("\x00\x05\x00\x00\x09\x00abc"))
	f.Add([]byte("\x00\xff\xff\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Decode, then encode: the same bytes.
		p, err := uwsgi.ReadPacket(bytes.NewReader(data))
		if err == nil {
			enc, err := p.Append(nil)
			if err != nil {
				t.Fatalf("Append of a decoded packet: %v", err)
			}
			if !bytes.HasPrefix(data, enc) {
				t.Fatalf("ReadPacket(%q) then Append = %q, want a prefix of the input", data, enc)
			}
			if got := 4 + int(binary.LittleEndian.Uint16(data[1:3])); len(enc) != got {
				t.Fatalf("encoded %d bytes, the input's packet has %d", len(enc), got)
			}
		} else if !errors.Is(err, uwsgi.ErrShortPacket) && !errors.Is(err, uwsgi.ErrMalformedPacket) {
			t.Fatalf("ReadPacket(%q) = unexpected error %v", data, err)
		}

		// Encode vars cut from the input, then decode: the same vars.
		var in uwsgi.Packet
		if len(data) >= 2 {
			in.Modifier1, in.Modifier2 = data[0], data[1]
		}
		parts := bytes.Split(data, []byte{'='})
		for i := 0; i+1 < len(parts); i += 2 {
			in.Vars = append(in.Vars, uwsgi.Param{Name: string(parts[i]), Value: string(parts[i+1])})
		}
		enc, err := in.Append([]byte("prefix"))
		if err != nil {
			if !errors.Is(err, uwsgi.ErrPacketTooLarge) || len(data) <= uwsgi.MaxDatasize-4*len(in.Vars) {
				t.Fatalf("Append(%d vars from %d bytes) = %v", len(in.Vars), len(data), err)
			}
			if string(enc) != "prefix" {
				t.Fatalf("a failed Append left %q, want dst unchanged", enc)
			}
			return
		}
		out, err := uwsgi.ReadPacket(bytes.NewReader(enc[len("prefix"):]))
		if err != nil {
			t.Fatalf("ReadPacket(Append(%+v)) = %v", in, err)
		}
		if out.Modifier1 != in.Modifier1 || out.Modifier2 != in.Modifier2 || !slices.Equal(out.Vars, in.Vars) {
			t.Fatalf("ReadPacket(Append(%+v)) = %+v", in, out)
		}
	})
}
