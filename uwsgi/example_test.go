package uwsgi_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"

	"github.com/phalanx-lb/phalanx/uwsgi"
)

// An application server that speaks uwsgi (here an in-process stand-in
// for uWSGI) serves a request through a Handler.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p, err := uwsgi.ReadPacket(c)
			if err == nil {
				vars := map[string]string{}
				for _, v := range p.Vars {
					vars[v.Name] = v.Value
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n%s %s?%s from %s",
					vars["REQUEST_METHOD"], vars["PATH_INFO"], vars["QUERY_STRING"], vars["HTTP_USER_AGENT"])
			}
			c.Close() // uwsgi has no keep-alive: closing ends the response
		}
	}()

	h := &uwsgi.Handler{Addr: ln.Addr().String()} // uwsgi_pass 127.0.0.1:PORT;
	req := httptest.NewRequest("GET", "/hello?name=gopher", nil)
	req.Header.Set("User-Agent", "example/1.0")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(rec.Body.String())
	// Output:
	// 200 text/plain
	// GET /hello?name=gopher from example/1.0
}

// A packet with the single var REQUEST_METHOD=GET: a 21-byte vars block
// behind the 4-byte header.
func ExamplePacket_Append() {
	b, err := uwsgi.Packet{Vars: []uwsgi.Param{{Name: "REQUEST_METHOD", Value: "GET"}}}.Append(nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b[:4])
	fmt.Printf("%q\n", b[4:])
	// Output:
	// 00 15 00 00
	// "\x0e\x00REQUEST_METHOD\x03\x00GET"
}

func ExampleReadResponseHeader() {
	raw := "HTTP/1.1 418 I'm a teapot\r\nX-Teapot: short and stout\r\nContent-Length: 4\r\n\r\ntea!"
	br := bufio.NewReader(strings.NewReader(raw))
	res, err := uwsgi.ReadResponseHeader(br, 0)
	if err != nil {
		panic(err)
	}
	body, _ := br.ReadString(0)
	fmt.Println(res.StatusCode, res.Reason, res.Header.Get("X-Teapot"), res.ContentLength, body)
	// Output:
	// 418 I'm a teapot short and stout 4 tea!
}
