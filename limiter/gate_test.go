package limiter_test

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/limiter"
)

// TestGate dials a gated loopback listener: the first Burst connections
// are accepted and served, the next is closed before a byte is written.
func TestGate(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := mustNew(t, limiter.Config{Rate: 1.0 / 3600, Burst: 2})
	var refused limiter.Refusals
	g := limiter.Gate(ln, k, &refused)
	done := make(chan error, 1)
	go func() {
		for {
			c, err := g.Accept()
			if err != nil {
				done <- err
				return
			}
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	for i, want := range []string{"hi", "hi", ""} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			// On loopback the reset of a refused connection may beat
			// Dial's check of the handshake.
			if want != "" {
				t.Errorf("connection %d: %v", i, err)
			}
			continue
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		c.Close()
		if string(got) != want {
			t.Errorf("connection %d read %q (%v), want %q", i, got, err, want)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("connection %d: %v, want it served or closed", i, err)
		}
	}
	if n := refused.Client.Load(); n != 1 {
		t.Errorf("Refusals.Client = %d, want 1", n)
	}
	g.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
}

// TestGateAddr checks the address the gate asks about, over TCP and a
// Unix socket (which has none).
func TestGateAddr(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = t.TempDir() + "/s"
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan netip.Addr, 1)
			g := limiter.Gate(ln, limiter.Func(func(c netip.Addr, _ time.Time) limiter.Decision {
				got <- c
				return limiter.Decision{Allowed: true}
			}), nil)
			go func() {
				if c, err := g.Accept(); err == nil {
					c.Close()
				}
			}()
			c, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			want := netip.MustParseAddr("127.0.0.1")
			if network == "unix" {
				want = netip.Addr{}
			}
			if a := <-got; a != want {
				t.Errorf("Gate asked about %v, want %v", a, want)
			}
		})
	}
}
