// Command idleconns holds many idle keep-alive HTTP/1.1 client
// connections open to one server, for bench/proxy.sh to measure the
// server's memory per idle client connection.
//
//	idleconns -addr 127.0.0.1:8080 -n 10000 -want hello
//
// It opens N TCP connections to ADDR (at most -parallel at a time), sends
// one keep-alive "GET / HTTP/1.1" on each and reads the whole response,
// framed by Content-Length, then leaves every connection open and idle
// and prints "ready N" on standard output. It then waits for a line or
// end of file on standard input, or for SIGINT or SIGTERM; before closing
// the connections it checks which ones the server has closed meanwhile
// and prints "closed-by-server K" (0 when all were still open). It
// closes them with a reset (SO_LINGER 0), which leaves no socket in
// TIME_WAIT.
//
// Any failure before "ready" (a refused connection, a status other than
// 200, a response without Content-Length or with "Connection: close", a
// body other than -want) is printed on standard error with the count of
// such failures, and the program exits with status 1 without waiting.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "", "server `host:port`")
	n := flag.Int("n", 10000, "number of connections")
	parallel := flag.Int("parallel", 64, "connections set up at once")
	ua := flag.String("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "User-Agent header (empty: none)")
	want := flag.String("want", "", "expected response body, without a trailing newline (empty: any)")
	timeout := flag.Duration("timeout", 10*time.Second, "time limit for each connection's set-up and response")
	flag.Parse()
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		fmt.Fprintf(os.Stderr, "idleconns: -addr %q: %v\n", *addr, err)
		os.Exit(2)
	}
	if *n < 1 || *parallel < 1 {
		fmt.Fprintln(os.Stderr, "idleconns: -n and -parallel must be 1 or more")
		os.Exit(2)
	}
	req := "GET / HTTP/1.1\r\nHost: " + *addr + "\r\n"
	if *ua != "" {
		req += "User-Agent: " + *ua + "\r\n"
	}
	req += "Accept: */*\r\n\r\n"

	conns, err := openAll(*addr, *n, *parallel, []byte(req), *want, *timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
	fmt.Printf("ready %d\n", len(conns))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	stdin := make(chan struct{})
	go func() {
		// A line or end of file (or an error) on stdin ends the wait.
		bufio.NewReader(os.Stdin).ReadString('\n')
		close(stdin)
	}()
	select {
	case <-sig:
	case <-stdin:
	}
	fmt.Printf("closed-by-server %d\n", closedByServer(conns))
	for _, c := range conns {
		// Reset rather than close: thousands of sockets left in
		// TIME_WAIT would slow down the next connections to be made.
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
}

// openAll opens n connections, parallel at a time, and does one request on
// each. On any failure it closes them all and reports the first failure
// and how many there were.
func openAll(addr string, n, parallel int, req []byte, want string, timeout time.Duration) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, n) {
		wg.Go(func() {
			for i := range next {
				conns[i], errs[i] = open(addr, req, want, timeout)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()

	var first error
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if failed == 0 {
		return conns, nil
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	return nil, fmt.Errorf("%d of %d connections failed; first: %w", failed, n, first)
}

// open dials addr, sends req and reads one response, which must be a 200
// that keeps the connection alive, framed by Content-Length, with body
// want (when want is not empty; a trailing newline is ignored).
func open(addr string, req []byte, want string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	if err := request(c, req, want, timeout); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func request(c net.Conn, req []byte, want string, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(req); err != nil {
		return err
	}
	r := textproto.NewReader(bufio.NewReaderSize(c, 1024))
	status, err := r.ReadLine()
	if err != nil {
		return fmt.Errorf("reading the status line: %w", err)
	}
	proto, rest, _ := strings.Cut(status, " ")
	code, _, _ := strings.Cut(rest, " ")
	if proto != "HTTP/1.1" || code != "200" {
		return fmt.Errorf("status line %q, want HTTP/1.1 200", status)
	}
	h, err := r.ReadMIMEHeader()
	if err != nil {
		return fmt.Errorf("reading the header: %w", err)
	}
	if te := h.Get("Transfer-Encoding"); te != "" {
		return fmt.Errorf("Transfer-Encoding %q, want a Content-Length framed body", te)
	}
	if strings.EqualFold(h.Get("Connection"), "close") {
		return errors.New("the server answered with Connection: close")
	}
	cl, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil || cl < 0 || cl > 1<<20 {
		return fmt.Errorf("Content-Length %q, want 0 to 1 MiB", h.Get("Content-Length"))
	}
	body := make([]byte, cl)
	if _, err := io.ReadFull(r.R, body); err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	if r.R.Buffered() > 0 {
		return fmt.Errorf("%d bytes after the response", r.R.Buffered())
	}
	if want != "" && strings.TrimSuffix(string(body), "\n") != want {
		return fmt.Errorf("body %q, want %q", body, want)
	}
	return c.SetDeadline(time.Time{})
}

// closedByServer counts the connections that the server has closed (or
// sent anything on) while they were idle: a read that does not time out
// within 50 ms.
func closedByServer(conns []net.Conn) int {
	var mu sync.Mutex
	var wg sync.WaitGroup
	closed := 0
	for _, c := range conns {
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			var b [1]byte
			_, err := c.Read(b[:])
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return
			}
			mu.Lock()
			closed++
			mu.Unlock()
		})
	}
	wg.Wait()
	return closed
}
