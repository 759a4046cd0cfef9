package phalanx

import (
	"os"
	"time"
)

// PHALANX_TEST_HTTP1_ENGINE=net/http runs the package's tests with the
// net/http engine as the default, so the same suite covers both engines
// (scripts/test runs it both ways).
func init() {
	if e := os.Getenv("PHALANX_TEST_HTTP1_ENGINE"); e != "" {
		defaultEngine = HTTP1Engine(e)
	}
}

// Handoffs returns how many connections the HTTP/1.1 engine handed to
// net/http.
func Handoffs(s *Server) int64 { return s.fast.handoffs.Load() }

// DefaultEngine returns the engine a Server gets without WithHTTP1Engine.
func DefaultEngine() HTTP1Engine { return defaultEngine }

// SetIdleRelease sets how long an idle connection keeps its read buffer,
// for a test, and returns what restores it.
func SetIdleRelease(d time.Duration) (restore func()) {
	old := idleRelease.Swap(int64(d))
	return func() { idleRelease.Store(old) }
}
