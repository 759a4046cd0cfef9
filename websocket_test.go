package phalanx_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/lb"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/websocket"
)

// wsMaxPayload is the message size limit of the test peers, above the
// 1 MiB messages of the tests.
const wsMaxPayload = 4 << 20

// wsFrame is one WebSocket message and its frame type (text or binary).
type wsFrame struct {
	typ  byte
	data []byte
}

// wsCodec sends and receives wsFrames, keeping the frame type that
// websocket.Message folds away.
var wsCodec = websocket.Codec{
	Marshal: func(v any) ([]byte, byte, error) {
		f := v.(wsFrame)
		return f.data, f.typ, nil
	},
	Unmarshal: func(data []byte, typ byte, v any) error {
		f := v.(*wsFrame)
		f.typ, f.data = typ, data
		return nil
	},
}

// wsEcho sends every message back with its type until the peer leaves.
func wsEcho(ws *websocket.Conn) {
	ws.MaxPayloadBytes = wsMaxPayload
	for {
		var f wsFrame
		if err := wsCodec.Receive(ws, &f); err != nil {
			return
		}
		if err := wsCodec.Send(ws, f); err != nil {
			return
		}
	}
}

// wsBackend answers plain requests with its name and upgrades /ws to a
// WebSocket echo, counting the upgrades.
func wsBackend(t *testing.T, name string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var upgrades atomic.Int32
	echo := websocket.Handler(wsEcho)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			upgrades.Add(1)
			echo.ServeHTTP(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, name)
	}))
	t.Cleanup(ts.Close)
	return ts, &upgrades
}

// dialWS opens a WebSocket to path on the proxy at url ("http://host:port"),
// closed when the test ends.
func dialWS(t *testing.T, url, path string) *websocket.Conn {
	t.Helper()
	host := strings.TrimPrefix(url, "http://")
	cfg, err := websocket.NewConfig("ws://"+host+path, "http://"+host+"/")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, err := cfg.DialContext(ctx)
	require.NoError(t, err)
	ws.MaxPayloadBytes = wsMaxPayload
	t.Cleanup(func() { ws.Close() })
	return ws
}

// wsSend sends f within 5s.
func wsSend(t *testing.T, ws *websocket.Conn, f wsFrame) {
	t.Helper()
	ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	require.NoError(t, wsCodec.Send(ws, f))
}

// wsExpect receives one message within 5s and checks it is want.
func wsExpect(t *testing.T, ws *websocket.Conn, want wsFrame) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got wsFrame
	require.NoError(t, wsCodec.Receive(ws, &got))
	if got.typ != want.typ || !bytes.Equal(got.data, want.data) {
		t.Fatalf("received a message of type %d and %d bytes, want type %d and %d bytes, equal", got.typ, len(got.data), want.typ, len(want.data))
	}
}

func wsText(s string) wsFrame { return wsFrame{typ: websocket.TextFrame, data: []byte(s)} }

func TestWebSocketEcho(t *testing.T) {
	checkNoLeaks(t)
	be, _ := wsBackend(t, "a")
	url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithUpstream(phalanx.Upstream{
		Name: "ws", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
	ws := dialWS(t, url, "/ws")

	big := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	msgs := []wsFrame{
		wsText("hello"),
		wsText("ünïcödé ✓"),
		{typ: websocket.BinaryFrame, data: big},
		{typ: websocket.BinaryFrame, data: []byte{0, 1, 2, 0xff}},
		wsText(strings.Repeat("x", 70000)), // a 64-bit length field
		wsText("bye"),
	}
	// One at a time, then all at once before reading any echo.
	for _, m := range msgs {
		wsSend(t, ws, m)
		wsExpect(t, ws, m)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
		for _, m := range msgs {
			if err := wsCodec.Send(ws, m); err != nil {
				return
			}
		}
	}()
	for _, m := range msgs {
		wsExpect(t, ws, m)
	}
	<-done
}

// TestWebSocketHoldsBackend checks that an open WebSocket counts as in
// flight on its backend for as long as it is open: leastconnections sends
// every other request to the other backend, and spreads them again once
// the socket is closed.
func TestWebSocketHoldsBackend(t *testing.T) {
	checkNoLeaks(t)
	a, aUp := wsBackend(t, "a")
	b, bUp := wsBackend(t, "b")
	url, _ := startProxy(t, phalanx.WithLogger(discard()), phalanx.WithUpstream(phalanx.Upstream{
		Name: "ws", Algorithm: lb.LeastConnectionsName, Health: noActiveChecks,
		Servers: []phalanx.UpstreamServer{{Addr: hostOf(a)}, {Addr: hostOf(b)}}}))
	// One connection, so each GET is read by the proxy only after the
	// previous one's handler has returned and released its backend.
	tr := &http.Transport{MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	ws := dialWS(t, url, "/ws")
	wsSend(t, ws, wsText("ping"))
	wsExpect(t, ws, wsText("ping"))
	held, other := "a", "b"
	switch {
	case aUp.Load() == 1 && bUp.Load() == 0:
	case aUp.Load() == 0 && bUp.Load() == 1:
		held, other = "b", "a"
	default:
		t.Fatalf("upgrades on a, b = %d, %d; want one in all", aUp.Load(), bUp.Load())
	}
	for i := range 10 {
		code, body := get(t, c, url+"/")
		if code != http.StatusOK || body != other {
			t.Fatalf("GET %d with a WebSocket open on %s = %d %q, want 200 %q", i, held, code, body, other)
		}
	}

	ws.Close()
	// Once the socket is closed both backends are idle, and ties are
	// broken at random: the odds of 200 GETs all missing one are nil.
	n := 0
	eventually(t, 5*time.Second, "a GET reaching "+held+" after its WebSocket closed", func() bool {
		if n++; n > 200 {
			t.Fatalf("200 GETs after the WebSocket closed all went to %s", other)
		}
		_, body := get(t, c, url+"/")
		return body == held
	})
}

func TestWebSocketIdleTimeout(t *testing.T) {
	checkNoLeaks(t)
	const idle = 300 * time.Millisecond
	be, _ := wsBackend(t, "a")
	url, _ := startProxy(t, phalanx.WithLogger(discard()),
		phalanx.WithTimeouts(phalanx.Timeouts{TunnelIdle: idle}),
		phalanx.WithUpstream(phalanx.Upstream{
			Name: "ws", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))

	t.Run("silent socket is closed", func(t *testing.T) {
		ws := dialWS(t, url, "/ws")
		wsSend(t, ws, wsText("ping"))
		wsExpect(t, ws, wsText("ping"))
		last := time.Now()
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var f wsFrame
		err := wsCodec.Receive(ws, &f)
		waited := time.Since(last)
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Receive on a silent socket = %v after %v, want the proxy to close it", err, waited)
		}
		if waited < idle-50*time.Millisecond || waited > 2*time.Second {
			t.Errorf("silent socket closed %v after the last message, want after the %v idle timeout and within 2s", waited, idle)
		}
	})

	t.Run("chatty socket stays open", func(t *testing.T) {
		ws := dialWS(t, url, "/ws")
		start := time.Now()
		for i := 0; time.Since(start) < 1200*time.Millisecond; i++ {
			if i > 100 {
				t.Fatalf("sent %d messages in %v, want one per 100ms", i, time.Since(start))
			}
			m := wsText("tick " + strings.Repeat("!", i))
			wsSend(t, ws, m)
			wsExpect(t, ws, m)
			time.Sleep(100 * time.Millisecond)
		}
		wsSend(t, ws, wsText("still there"))
		wsExpect(t, ws, wsText("still there"))
	})
}

// TestWebSocketClosedByShutdown checks that Shutdown, once its context
// ends, and Close cut upgraded connections too. net/http forgets a
// connection once it is hijacked, so neither http.Server.Shutdown nor
// http.Server.Close reaches a proxied WebSocket: the proxy must track its
// tunnels itself.
func TestWebSocketClosedByShutdown(t *testing.T) {
	checkNoLeaks(t)
	be, _ := wsBackend(t, "a")
	tests := []struct {
		name    string
		stop    func(*phalanx.Server) error
		wantErr error
	}{
		{"Shutdown", func(srv *phalanx.Server) error {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			return srv.Shutdown(ctx)
		}, context.DeadlineExceeded},
		{"Close", (*phalanx.Server).Close, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := phalanx.New(phalanx.WithLogger(discard()), phalanx.WithUpstream(phalanx.Upstream{
				Name: "ws", Health: noActiveChecks, Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}}))
			require.NoError(t, err)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			served := make(chan error, 1)
			go func() { served <- srv.Serve(l) }()
			ws := dialWS(t, "http://"+l.Addr().String(), "/ws")
			wsSend(t, ws, wsText("ping"))
			wsExpect(t, ws, wsText("ping"))

			if err := tc.stop(srv); !errors.Is(err, tc.wantErr) {
				t.Errorf("%s with a WebSocket open = %v, want %v", tc.name, err, tc.wantErr)
			}
			select {
			case <-served:
			case <-time.After(5 * time.Second):
				t.Fatalf("Serve did not return after %s", tc.name)
			}
			ws.SetReadDeadline(time.Now().Add(3 * time.Second))
			var f wsFrame
			if err := wsCodec.Receive(ws, &f); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("Receive on a WebSocket 3s after %s = %v, want it closed by the proxy", tc.name, err)
			}
		})
	}
}
