//go:build !race

package uwsgi

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAllocs checks that encoding a request's packet into a reused
// buffer allocates nothing.
func TestAllocs(t *testing.T) {
	req := httptest.NewRequest("POST", "/products/42?ref=home", nil)
	req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}))
	req.RemoteAddr = "192.0.2.1:51234"
	req.ContentLength = 1234
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Mozilla/5.0")
	req.Header.Add("Cookie", "a=1")
	req.Header.Add("Cookie", "b=2")
	req.Header.Set("Connection", "keep-alive, X-Hop")
	req.Header.Set("X-Hop", "1")
	params := []Param{{Name: "SCRIPT_NAME", Value: "/app"}, {Name: "HTTP_X_FORWARDED_PROTO", Value: "https"}}
	buf := make([]byte, 0, 4<<10)
	var err error
	if n := testing.AllocsPerRun(100, func() { buf, err = appendRequest(buf[:0], req, params, 1234) }); n != 0 || err != nil {
		t.Errorf("appendRequest: %v allocations per run (err %v), want 0", n, err)
	}
	p := Packet{Vars: params}
	if n := testing.AllocsPerRun(100, func() { buf, err = p.Append(buf[:0]) }); n != 0 || err != nil {
		t.Errorf("Packet.Append: %v allocations per run (err %v), want 0", n, err)
	}
}
