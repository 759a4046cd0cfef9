// Package redistest runs redis-server for tests: on a free loopback port,
// without persistence (a restart empties it), stopped at cleanup. A
// missing redis-server skips the test, or fails it when
// PHALANX_REQUIRE_TOOLS is set (as scripts/test does), so that CI cannot
// pass by skipping.
package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Server is a redis-server a test started.
type Server struct {
	tb   testing.TB
	path string
	// Port is its loopback port, kept across Stop and Start.
	Port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Need returns the path of redis-server, or skips (or fails) tb.
func Need(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		msg := fmt.Sprintf("redis-server not found (%v); apt-get install redis-server", err)
		if v := os.Getenv("PHALANX_REQUIRE_TOOLS"); v != "" && v != "0" {
			tb.Fatalf("%s (PHALANX_REQUIRE_TOOLS=%s)", msg, v)
		}
		tb.Skip(msg)
	}
	return path
}

// Start starts a redis-server of tb's own on a free port, and stops it
// at cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := New(tb, tb.TempDir())
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// New prepares a server in dir without starting it; the caller stops it.
func New(tb testing.TB, dir string) *Server {
	tb.Helper()
	return &Server{tb: tb, path: Need(tb), Port: FreePort(tb), dir: dir}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// URL returns the server's URL, database db.
func (s *Server) URL(db int) string {
	return fmt.Sprintf("redis://127.0.0.1:%d/%d", s.Port, db)
}

// Start runs the server and waits (5 s at most) until it answers PING.
func (s *Server) Start() {
	s.tb.Helper()
	s.cmd = exec.Command(s.path, "--port", fmt.Sprint(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--loglevel", "warning")
	var out bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	s.done = done
	cmd := s.cmd
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for !s.ping() {
		select {
		case <-done:
			s.tb.Fatalf("redis-server exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.tb.Fatalf("redis-server on port %d did not answer PING within 5s: %s", s.Port, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ping reports whether the server answers PING.
func (s *Server) ping() bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), 100*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Signal sends sig to the running server (SIGSTOP freezes it).
func (s *Server) Signal(sig os.Signal) error {
	if s.cmd == nil || s.cmd.Process == nil {
		return os.ErrProcessDone
	}
	return s.cmd.Process.Signal(sig)
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.tb.Errorf("redis-server did not exit within 5s of being killed")
	}
	s.cmd = nil
}
