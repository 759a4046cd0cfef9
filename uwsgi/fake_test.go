package uwsgi_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeReq is a request as the fake application decoded it.
type fakeReq struct {
	mod1, mod2 byte
	datasize   int
	vars       map[string]string
	keys       []string // in packet order, repeats kept
	body       io.Reader
	bodyLen    int64
	done       <-chan struct{} // closed when the test ends
}

// fakeApp is an in-process uwsgi application on a loopback port. Its
// packet decoder is written here by hand with encoding/binary, apart from
// the package's ReadPacket, so that an encoding bug is not hidden by the
// same bug in the decoder.
type fakeApp struct {
	addr    string
	conns   atomic.Int32
	reqs    chan *fakeReq
	respond func(c net.Conn, req *fakeReq)
}

// startFake serves respond on a loopback port until the test ends. Each
// decoded request is also sent to reqs (buffered; extra ones dropped).
func startFake(t *testing.T, respond func(c net.Conn, req *fakeReq)) *fakeApp {
	t.Helper()
	return startFakeOn(t, "tcp", "127.0.0.1:0", respond)
}

func startFakeOn(t *testing.T, network, addr string, respond func(c net.Conn, req *fakeReq)) *fakeApp {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeApp{addr: ln.Addr().String(), reqs: make(chan *fakeReq, 16), respond: respond}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				req, err := decodeFake(c)
				if req != nil {
					req.done = done
				}
				if err != nil {
					fmt.Fprintf(c, "HTTP/1.1 599 Fake Decode Error\r\n\r\n%v", err)
					return
				}
				select {
				case f.reqs <- req:
				default:
				}
				f.respond(c, req)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(done)
		wg.Wait()
	})
	return f
}

// decodeFake reads a uwsgi packet from r, byte by byte as the protocol
// page describes it.
func decodeFake(r io.Reader) (*fakeReq, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("packet header: %w", err)
	}
	size := int(binary.LittleEndian.Uint16(hdr[1:3]))
	block := make([]byte, size)
	if _, err := io.ReadFull(r, block); err != nil {
		return nil, fmt.Errorf("vars block of %d bytes: %w", size, err)
	}
	req := &fakeReq{mod1: hdr[0], mod2: hdr[3], datasize: size, vars: map[string]string{}}
	next := func() (string, error) {
		if len(block) < 2 {
			return "", fmt.Errorf("%d bytes left, want a 2-byte length", len(block))
		}
		n := int(binary.LittleEndian.Uint16(block[:2]))
		if len(block) < 2+n {
			return "", fmt.Errorf("length %d overruns the %d bytes left", n, len(block)-2)
		}
		s := string(block[2 : 2+n])
		block = block[2+n:]
		return s, nil
	}
	for len(block) > 0 {
		k, err := next()
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		v, err := next()
		if err != nil {
			return nil, fmt.Errorf("value of %s: %w", k, err)
		}
		req.keys = append(req.keys, k)
		req.vars[k] = v
	}
	if cl := req.vars["CONTENT_LENGTH"]; cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("CONTENT_LENGTH %q: %w", cl, err)
		}
		req.bodyLen = n
	}
	req.body = io.LimitReader(r, req.bodyLen)
	return req, nil
}

// reply answers with a fixed raw response after reading the body.
func reply(raw string) func(net.Conn, *fakeReq) {
	return func(c net.Conn, req *fakeReq) {
		io.Copy(io.Discard, req.body)
		io.WriteString(c, raw)
	}
}
