package phalanx_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/waf"
	"github.com/stretchr/testify/require"
)

// browserUA is what the firewall tests send: the bot rules block Go's
// own User-Agent by default.
const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// bodyEcho answers with the request's body, or its path and query.
func bodyEcho(t *testing.T) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if len(b) == 0 {
			b = []byte("ok " + r.URL.RequestURI())
		}
		w.Write(b)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// send makes a request as client (through X-Forwarded-For from a trusted
// loopback proxy) and returns the status and body.
func send(t *testing.T, c *http.Client, method, u, client, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("User-Agent", browserUA)
	if client != "" {
		req.Header.Set("X-Forwarded-For", client)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func TestFirewall(t *testing.T) {
	checkNoLeaks(t)
	be := bodyEcho(t)
	clock := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	logger, logs := newLogger()
	url0, srv := startProxy(t,
		phalanx.WithLogger(logger),
		phalanx.WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8")),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}, Health: noActiveChecks}),
		phalanx.WithRoute(phalanx.Route{Path: "/", Upstream: "app"}),
		phalanx.WithRoute(phalanx.Route{Path: "/forum/", Upstream: "app", WAFExclude: []string{"sqli"}}),
		phalanx.WithRoute(phalanx.Route{Path: "/raw/", Upstream: "app", WAFOff: true}),
		phalanx.WithWAF(waf.Config{Now: clock.Now, AutoBanDuration: time.Hour}),
	)
	admin := startAdmin(t, srv)
	c := client(t)
	attack := "/search?q=" + url.QueryEscape("1' UNION SELECT password FROM users--")

	t.Run("benign passes with its body", func(t *testing.T) {
		body := `{"name":"O'Brien","comment":"I'd select the blue one; drop me a line"}`
		code, got := send(t, c, http.MethodPost, url0+"/api/comments", "198.51.100.1", body)
		if code != http.StatusOK || got != body {
			t.Errorf("POST benign JSON = %d %q, want 200 and the body intact", code, got)
		}
	})
	t.Run("attack blocked", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, url0+attack, nil)
		req.Header.Set("User-Agent", browserUA)
		req.Header.Set("X-Forwarded-For", "198.51.100.2")
		req.Header.Set("X-Request-Id", "attack-1")
		res, err := c.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "attack-1") {
			t.Errorf("GET %s = %d %q, want 403 naming the request id", attack, res.StatusCode, b)
		}
		lines := logs.lines("waf: request blocked", "request_id=attack-1", "client=198.51.100.2", "family=sqli")
		if len(lines) != 1 || !strings.Contains(lines[0], "rules=") {
			t.Errorf("log = %q, want one line naming the rules, family and client", logs.String())
		}
	})
	t.Run("bot blocked", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, url0+"/", nil)
		req.Header.Set("User-Agent", "sqlmap/1.7#stable (https://sqlmap.org)")
		req.Header.Set("X-Forwarded-For", "198.51.100.3")
		res, err := c.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("GET / as sqlmap = %d, want 403", res.StatusCode)
		}
	})
	t.Run("route exclusion", func(t *testing.T) {
		if code, _ := send(t, c, http.MethodGet, url0+"/forum"+attack, "198.51.100.4", ""); code != http.StatusOK {
			t.Errorf("GET /forum%s with sqli excluded = %d, want 200", attack, code)
		}
		xss := "/forum/post?m=" + url.QueryEscape("<script>alert(document.cookie)</script>")
		if code, _ := send(t, c, http.MethodGet, url0+xss, "198.51.100.4", ""); code != http.StatusForbidden {
			t.Errorf("GET %s (xss not excluded) = %d, want 403", xss, code)
		}
		if code, _ := send(t, c, http.MethodGet, url0+"/raw"+attack, "198.51.100.4", ""); code != http.StatusOK {
			t.Errorf("GET /raw%s with the firewall off = %d, want 200", attack, code)
		}
	})
	t.Run("auto-ban", func(t *testing.T) {
		const bad, good = "203.0.113.7", "203.0.113.8"
		// Five blocked attacks (3 strikes each) reach the threshold of
		// 15; the sixth passes it.
		for i := 0; i < 6; i++ {
			if code, _ := send(t, c, http.MethodGet, url0+attack, bad, ""); code != http.StatusForbidden {
				t.Fatalf("attack %d = %d, want 403", i, code)
			}
		}
		if code, _ := send(t, c, http.MethodGet, url0+"/home", bad, ""); code != http.StatusForbidden {
			t.Errorf("benign request from a banned client = %d, want 403", code)
		}
		if code, _ := send(t, c, http.MethodGet, url0+"/home", good, ""); code != http.StatusOK {
			t.Errorf("benign request from another client = %d, want 200", code)
		}
		code, body := get(t, c, admin+"/api/bans")
		var bans []phalanx.BanInfo
		require.NoError(t, json.Unmarshal([]byte(body), &bans), body)
		if code != http.StatusOK || len(bans) != 1 || bans[0].Client != bad {
			t.Errorf("GET /api/bans = %d %s, want the banned client", code, body)
		}
		clock.Add(59 * time.Minute)
		if code, _ := send(t, c, http.MethodGet, url0+"/home", bad, ""); code != http.StatusForbidden {
			t.Errorf("after 59 minutes, benign request from the banned client = %d, want 403", code)
		}
		clock.Add(2 * time.Minute)
		if code, _ := send(t, c, http.MethodGet, url0+"/home", bad, ""); code != http.StatusOK {
			t.Errorf("after the ban expired, benign request = %d, want 200", code)
		}
	})
	t.Run("ban API", func(t *testing.T) {
		const who = "192.0.2.55"
		if code, _ := send(t, c, http.MethodGet, url0+"/home", who, ""); code != http.StatusOK {
			t.Fatalf("before the ban = %d, want 200", code)
		}
		res, err := c.Post(admin+"/api/bans", "application/json",
			strings.NewReader(`{"client":"`+who+`","duration":"10m","reason":"abuse report"}`))
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, string(b))
		if code, _ := send(t, c, http.MethodGet, url0+"/home", who, ""); code != http.StatusForbidden {
			t.Errorf("the next request after a ban = %d, want 403", code)
		}
		req, _ := http.NewRequest(http.MethodDelete, admin+"/api/bans/"+who, nil)
		res, err = c.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		if code, _ := send(t, c, http.MethodGet, url0+"/home", who, ""); code != http.StatusOK {
			t.Errorf("the next request after the ban was lifted = %d, want 200", code)
		}
		for _, bad := range []string{`{"client":"nope"}`, `{"client":"192.0.2.1","duration":"-1h"}`, `not json`} {
			res, err := c.Post(admin+"/api/bans", "application/json", strings.NewReader(bad))
			require.NoError(t, err)
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("POST /api/bans %s = %d, want 400", bad, res.StatusCode)
			}
		}
	})
	t.Run("metrics and status", func(t *testing.T) {
		_, body := get(t, c, admin+"/metrics")
		for _, want := range []string{
			`phalanx_waf_blocked_total{action="block",family="sqli"}`,
			`phalanx_waf_blocked_total{action="block",family="ban"}`,
			`phalanx_waf_bot_blocks_total{agent="sqlmap"} 1`,
			`phalanx_waf_rule_matches_total{family="sqli",rule="`,
			`phalanx_waf_requests_inspected_total `,
			`phalanx_waf_bans_total 2`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("GET /metrics lacks %s", want)
			}
		}
		st := getStatus(t, c, admin)
		if st.WAF == nil || st.WAF.Mode != "block" || st.WAF.Blocked == 0 {
			t.Errorf("status WAF = %+v, want block mode with blocks counted", st.WAF)
		}
	})
}

// TestFirewallReloadKeepsBans reloads with other firewall settings: the
// bans stay.
func TestFirewallReloadKeepsBans(t *testing.T) {
	checkNoLeaks(t)
	be := bodyEcho(t)
	opts := func(paranoia int) []phalanx.Option {
		return []phalanx.Option{
			phalanx.WithLogger(discard()),
			phalanx.WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8")),
			phalanx.WithUpstream(phalanx.Upstream{Name: "app", Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}, Health: noActiveChecks}),
			phalanx.WithWAF(waf.Config{Paranoia: paranoia}),
		}
	}
	url0, srv := startProxy(t, opts(1)...)
	admin := startAdmin(t, srv)
	c := client(t)
	res, err := c.Post(admin+"/api/bans", "application/json", strings.NewReader(`{"client":"192.0.2.9"}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, srv.Reload(opts(2)...))
	if code, _ := send(t, c, http.MethodGet, url0+"/", "192.0.2.9", ""); code != http.StatusForbidden {
		t.Errorf("after a reload, the banned client got %d, want 403", code)
	}
	if code, _ := send(t, c, http.MethodGet, url0+"/", "192.0.2.10", ""); code != http.StatusOK {
		t.Errorf("after a reload, another client got %d, want 200", code)
	}
}
