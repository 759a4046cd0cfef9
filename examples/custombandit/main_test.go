package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPolicyAvoidsBusyBackend holds every request to one backend open and
// checks that, through the proxy, the policy sends the rest elsewhere.
func TestPolicyAvoidsBusyBackend(t *testing.T) {
	release := make(chan struct{})
	var slowHits sync.WaitGroup
	var mu sync.Mutex
	hits := map[string]int{}
	handler := func(name string, hold bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[name]++
			mu.Unlock()
			if hold {
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
			}
			io.WriteString(w, name)
		})
	}
	slow := httptest.NewServer(handler("slow", true))
	defer slow.Close()
	fast := httptest.NewServer(handler("fast", false))
	defer fast.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(l.Addr().String(), []string{strings.TrimPrefix(slow.URL, "http://"), strings.TrimPrefix(fast.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	c := &http.Client{Timeout: 15 * time.Second}
	// The first request goes to the slow backend (lowest arm, all idle)
	// and stays there; the next 20 must all avoid it.
	slowHits.Add(1)
	go func() {
		defer slowHits.Done()
		if res, err := c.Get("http://" + l.Addr().String() + "/"); err == nil {
			res.Body.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := hits["slow"]
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first request never reached the slow backend")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := 0; i < 20; i++ {
		res, err := c.Get("http://" + l.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != "fast" {
			t.Fatalf("request %d went to %q while the slow backend was busy, want fast", i, b)
		}
	}
	close(release)
	slowHits.Wait()
}
