package waf_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/waf"
)

// clock is a fake clock safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testClient is the Config.Client of the end-to-end tests: every request
// comes from the loopback address, so the test names its client in a
// header, as a proxy resolves X-Forwarded-For.
func testClient(r *http.Request) netip.Addr {
	a, _ := netip.ParseAddr(r.Header.Get("X-Test-Client"))
	return a
}

// backend answers with the length and SHA-256 of the body it got.
var backend = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%d %x", len(b), sha256.Sum256(b))
})

type e2e struct {
	t   *testing.T
	srv *httptest.Server
}

// do sends a request from client and returns the status and body.
func (x e2e) do(method, target, client, body string) (int, string) {
	x.t.Helper()
	req, err := http.NewRequest(method, x.srv.URL+target, strings.NewReader(body))
	if err != nil {
		x.t.Fatal(err)
	}
	req.Header.Set("User-Agent", browserUA)
	req.Header.Set("X-Test-Client", client)
	req.Header.Set("X-Request-Id", "rid-"+client)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := x.srv.Client().Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		x.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// checkGoroutines fails the test if goroutines started during it are
// still running shortly after it ends.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Errorf("%d goroutines left running, had %d before", n, before)
		}
	})
}

// TestAutoBanEndToEnd sends attacks from one client through a server
// over loopback until it is banned, then checks that its benign requests
// get 403 with the request id while another client's pass, and that the
// ban ends after an hour of the fake clock.
func TestAutoBanEndToEnd(t *testing.T) {
	checkGoroutines(t)
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var logs bytes.Buffer
	e := quietEngine(t, waf.Config{Client: testClient, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	srv := httptest.NewServer(waf.Middleware(e, backend))
	defer srv.Close()
	x := e2e{t, srv}
	const attacker, other = "203.0.113.66", "198.51.100.5"

	// Each blocked attack is 3 strikes; the sixth takes the client past 15.
	for i := 1; i <= 6; i++ {
		status, body := x.do("GET", "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--", attacker, "")
		if status != http.StatusForbidden || !strings.Contains(body, "rid-"+attacker) {
			t.Fatalf("attack %d: %d %q, want 403 naming the request id", i, status, body)
		}
	}
	if bans := e.Bans(); len(bans) != 1 || bans[0].Client != netip.MustParsePrefix(attacker+"/32") {
		t.Fatalf("Bans() = %+v, want the attacker", bans)
	}
	status, body := x.do("GET", "/search?q=shoes", attacker, "")
	if status != http.StatusForbidden || !strings.Contains(body, "Request id: rid-"+attacker) {
		t.Errorf("benign request of the banned client: %d %q, want 403 with its request id", status, body)
	}
	if status, _ := x.do("GET", "/search?q=shoes", other, ""); status != http.StatusOK {
		t.Errorf("benign request of another client: %d, want 200", status)
	}
	clk.Advance(59 * time.Minute)
	if status, _ := x.do("GET", "/search?q=shoes", attacker, ""); status != http.StatusForbidden {
		t.Errorf("benign request at 59m: %d, want 403", status)
	}
	clk.Advance(time.Minute)
	if status, _ := x.do("GET", "/search?q=shoes", attacker, ""); status != http.StatusOK {
		t.Errorf("benign request at 1h, after the ban: %d, want 200", status)
	}
	s := e.Stats()
	if s.Bans != 1 || s.Banned != 2 || s.ByFamily[waf.FamilySQLi] != 6 || s.ByFamily[waf.FamilyBan] != 2 {
		t.Errorf("Stats() = %+v, want 1 ban, 2 banned requests, 6 SQLi blocks", s)
	}
	if n := strings.Count(logs.String(), "waf: request blocked"); n != 8 {
		t.Errorf("log has %d block lines, want 8: one per blocked request", n)
	}
	if !strings.Contains(logs.String(), "banned_until=") || !strings.Contains(logs.String(), "client="+attacker) {
		t.Errorf("log = %q, want the ban and the client named", logs.String())
	}
}

// TestManualBanEndToEnd bans a client by hand; the ban holds from its
// next request and Unban lifts it.
func TestManualBanEndToEnd(t *testing.T) {
	checkGoroutines(t)
	e := quietEngine(t, waf.Config{Client: testClient})
	srv := httptest.NewServer(waf.Middleware(e, backend))
	defer srv.Close()
	x := e2e{t, srv}
	a := netip.MustParseAddr("192.0.2.77")
	if status, _ := x.do("GET", "/", a.String(), ""); status != http.StatusOK {
		t.Fatalf("before the ban: %d, want 200", status)
	}
	e.Ban(a, time.Hour, "abuse report")
	if status, _ := x.do("GET", "/", a.String(), ""); status != http.StatusForbidden {
		t.Errorf("after Ban: %d, want 403", status)
	}
	if !e.Unban(a) {
		t.Errorf("Unban = false, want true")
	}
	if status, _ := x.do("GET", "/", a.String(), ""); status != http.StatusOK {
		t.Errorf("after Unban: %d, want 200", status)
	}
}

// TestBodyReachesBackend sends bodies below and above the inspection
// limit through the middleware; the backend must get them byte for byte.
func TestBodyReachesBackend(t *testing.T) {
	checkGoroutines(t)
	e := quietEngine(t, waf.Config{Client: testClient, MaxBodyBytes: 64 << 10})
	srv := httptest.NewServer(waf.Middleware(e, backend))
	defer srv.Close()
	x := e2e{t, srv}
	for _, n := range []int{10, 64 << 10, 64<<10 + 1, 300 << 10} {
		body := "comment=" + strings.Repeat("lorem+ipsum+", n/12+1)[:n]
		status, got := x.do("POST", "/comments", "192.0.2.10", body)
		want := fmt.Sprintf("%d %x", len(body), sha256.Sum256([]byte(body)))
		if status != http.StatusOK || got != want {
			t.Errorf("body of %d bytes: %d %q, want 200 %q", len(body), status, got, want)
		}
	}
}

// TestDetectOnlyEndToEnd checks that in detect-only mode an attack
// reaches the backend and is logged.
func TestDetectOnlyEndToEnd(t *testing.T) {
	checkGoroutines(t)
	var logs bytes.Buffer
	e := quietEngine(t, waf.Config{Client: testClient, DetectOnly: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	srv := httptest.NewServer(waf.Middleware(e, backend))
	defer srv.Close()
	x := e2e{t, srv}
	for range 10 {
		if status, _ := x.do("GET", "/s?q=%3Cscript%3Ealert(1)%3C/script%3E", "192.0.2.20", ""); status != http.StatusOK {
			t.Fatalf("attack in detect-only mode: %d, want 200", status)
		}
	}
	if n := strings.Count(logs.String(), "would be blocked"); n != 10 {
		t.Errorf("log has %d detect-only lines, want 10", n)
	}
	// Strikes still add up: the client would be banned.
	if len(e.Bans()) != 1 {
		t.Errorf("Bans() = %v, want the client a blocking engine would have banned", e.Bans())
	}
}

func TestForbiddenBody(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"", "Forbidden: the request was blocked by the web application firewall.\n"},
		{"abc-123", "Forbidden: the request was blocked by the web application firewall.\nRequest id: abc-123\n"},
		{"a\x00b\nc<d>", "Forbidden: the request was blocked by the web application firewall.\nRequest id: abc<d>\n"},
	} {
		if got := waf.ForbiddenBody(tc.id); got != tc.want {
			t.Errorf("ForbiddenBody(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
	w := httptest.NewRecorder()
	waf.Forbid(w, "x")
	if w.Code != http.StatusForbidden || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("Forbid: %d %v, want 403 text/plain nosniff", w.Code, w.Header())
	}
}
