package sharedstore

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/internal/redistest"
)

// The redis-server that the tests without one of their own share, each
// under its own prefix. TestMain stops it.
var (
	sharedOnce   sync.Once
	sharedServer *redistest.Server
	sharedDir    string // its directory
	prefixes     atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedServer != nil {
		sharedServer.Stop()
		_ = os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// sharedRedis returns the URL of the shared redis-server, starting it,
// and a key prefix no other test uses.
func sharedRedis(t testing.TB) (url, prefix string) {
	t.Helper()
	redistest.Need(t)
	sharedOnce.Do(func() {
		d, err := os.MkdirTemp("", "sharedstore-redis")
		if err != nil {
			t.Fatal(err)
		}
		sharedDir = d
		r := redistest.New(t, d)
		r.Start()
		sharedServer = r
	})
	if sharedServer == nil {
		t.Fatal("the shared redis-server did not start")
	}
	return sharedServer.URL(0), fmt.Sprintf("test%d:", prefixes.Add(1))
}

// logBuffer collects log lines, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns the number of lines that contain s.
func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// discard is a logger that drops everything.
var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// openStore opens a store on url under prefix and closes it at cleanup.
func openStore(t testing.TB, c Config) *Store {
	t.Helper()
	if c.Logger == nil {
		c.Logger = discard
	}
	s, err := Open(c)
	if err != nil {
		t.Fatalf("Open(%+v) = %v", c, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitFor polls cond every millisecond until it holds or d passes, and
// returns how long it took and whether it held.
func waitFor(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > d {
			return time.Since(start), false
		}
		time.Sleep(time.Millisecond)
	}
}
