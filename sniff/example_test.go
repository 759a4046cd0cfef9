package sniff_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/phalanx-lb/phalanx/sniff"
)

func ExampleDetect() {
	for _, s := range []string{
		"GET / HTTP/1.1\r\n",
		"PROP",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01",
		"SSH-2.0-OpenSSH_9.6\r\n",
	} {
		p, more := sniff.Detect([]byte(s))
		fmt.Printf("%q: %v, more=%v\n", s, p, more)
	}
	// Output:
	// "GET / HTTP/1.1\r\n": http1, more=false
	// "PROP": unknown, more=true
	// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": http2, more=false
	// "\x16\x03\x01\x02\x00\x01": tls, more=false
	// "SSH-2.0-OpenSSH_9.6\r\n": unknown, more=false
}

// A Mux serves HTTP/1.1 from one of its listeners; h2c and TLS would get
// their own from the same port.
func ExampleNewMux() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	m := sniff.NewMux(ln, sniff.Config{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over %s", r.Proto)
	})}
	go srv.Serve(m.Listener(sniff.HTTP1))
	go m.Serve()
	defer m.Close()
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status)
	fmt.Println(string(body))
	// Output:
	// 200 OK
	// hello over HTTP/1.1
}
