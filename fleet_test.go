package phalanx_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/internal/redistest"
	"github.com/phalanx-lb/phalanx/limiter"
	"github.com/phalanx-lb/phalanx/sharedstore"
	"github.com/phalanx-lb/phalanx/waf"
)

// fleet starts n Servers in front of one backend, each with opts and,
// when redis is not empty, the shared store at that URL. It returns their
// URLs and Servers.
func fleet(t *testing.T, n int, redis string, opts ...phalanx.Option) ([]string, []*phalanx.Server) {
	be := namedBackend(t, "ok")
	var urls []string
	var srvs []*phalanx.Server
	for range n {
		o := append([]phalanx.Option{phalanx.WithLogger(discard()),
			phalanx.WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8")),
			phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks,
				Servers: []phalanx.UpstreamServer{{Addr: hostOf(be)}}})}, opts...)
		if redis != "" {
			o = append(o, phalanx.WithSharedStore(sharedstore.Config{URL: redis, Timeout: 200 * time.Millisecond}))
		}
		url, srv := startProxy(t, o...)
		urls, srvs = append(urls, url), append(srvs, srv)
	}
	return urls, srvs
}

// roundRobin sends n requests as client, one every gap, to the urls in
// turn, and returns how many were answered 200.
func roundRobin(t *testing.T, c *http.Client, urls []string, client string, n int, gap time.Duration) int {
	ok := 0
	for i := range n {
		if code, _ := send(t, c, "GET", urls[i%len(urls)]+"/", client, ""); code == http.StatusOK {
			ok++
		}
		time.Sleep(gap)
	}
	return ok
}

// TestFleetRateLimit: three instances sharing one Redis let a client
// through at the configured rate in total, not three times it; with Redis
// killed, each limits on its own, and sharing comes back with Redis.
func TestFleetRateLimit(t *testing.T) {
	checkNoLeaks(t)
	r := redistest.Start(t)
	rate := phalanx.WithRateLimit(limiter.Config{Rate: 5, Burst: 5})
	shared, srvs := fleet(t, 3, r.URL(0), rate)
	local, _ := fleet(t, 3, "", rate)
	c := client(t)

	// 45 requests over about 0.7 s: the bucket allows 5 at once and 5 a
	// second, some 9 in all; three buckets of their own allow about 27.
	start := time.Now()
	gotShared := roundRobin(t, c, shared, "192.0.2.1", 45, 15*time.Millisecond)
	elapsed := time.Since(start)
	gotLocal := roundRobin(t, c, local, "192.0.2.1", 45, 15*time.Millisecond)
	t.Logf("45 requests in %v: %d allowed with the shared store, %d by three local limiters", elapsed, gotShared, gotLocal)
	allowance := 5 + 5*elapsed.Seconds()
	require.LessOrEqual(t, float64(gotShared), allowance+2, "the fleet lets the client through at the rate, not three times it")
	require.GreaterOrEqual(t, gotShared, 5)
	require.Greater(t, gotLocal, 2*gotShared, "without the store each instance has a bucket of its own")

	// Redis goes away: the instances limit on their own (fail open), and
	// say so in their metrics.
	r.Stop()
	require.Positive(t, roundRobin(t, c, shared, "192.0.2.2", 6, 0), "traffic goes on without Redis")
	var admins []string
	for _, srv := range srvs {
		admin := startAdmin(t, srv)
		admins = append(admins, admin)
		_, metrics := get(t, c, admin+"/metrics")
		require.Contains(t, metrics, "\nphalanx_shared_store_up 0\n")
		require.Regexp(t, `phalanx_shared_store_checks_total\{result="fallback"\} [1-9]`, metrics)
	}

	// Redis is back (empty): sharing resumes at every instance within a
	// few seconds (each probes it once a second while it is away).
	r.Start()
	restarted := time.Now()
	eventually(t, 10*time.Second, "sharing resumes", func() bool {
		for i, admin := range admins {
			send(t, c, "GET", shared[i]+"/", "192.0.2.3", "")
			if _, metrics := get(t, c, admin+"/metrics"); !strings.Contains(metrics, "\nphalanx_shared_store_up 1\n") {
				return false
			}
		}
		return true
	})
	t.Logf("sharing resumed at all three %v after Redis came back", time.Since(restarted))
	got := roundRobin(t, c, shared, "192.0.2.4", 30, 0)
	require.LessOrEqual(t, got, 8, "a burst of 30 at three instances: the shared bucket of 5 again, not three of them")
}

// TestFleetBans: a ban made at one instance holds at the others within a
// second, and so does lifting it; strikes add up across instances.
func TestFleetBans(t *testing.T) {
	checkNoLeaks(t)
	r := redistest.Start(t)
	urls, srvs := fleet(t, 3, r.URL(0), phalanx.WithWAF(waf.Config{AutoBanThreshold: 8}))
	c := client(t)
	adminA := startAdmin(t, srvs[0])
	const who = "198.51.100.7"
	for _, u := range urls {
		code, _ := send(t, c, "GET", u+"/", who, "")
		require.Equal(t, http.StatusOK, code)
	}

	res, err := c.Post(adminA+"/api/bans", "application/json", strings.NewReader(`{"client":"`+who+`","duration":"1h","reason":"test"}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	banned := time.Now()
	eventually(t, time.Second, "the ban holds at the other instances", func() bool {
		c1, _ := send(t, c, "GET", urls[1]+"/", who, "")
		c2, _ := send(t, c, "GET", urls[2]+"/", who, "")
		return c1 == http.StatusForbidden && c2 == http.StatusForbidden
	})
	t.Logf("the ban held everywhere after %v", time.Since(banned))

	req, _ := http.NewRequest(http.MethodDelete, adminA+"/api/bans/"+who, nil)
	res, err = c.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	eventually(t, time.Second, "the unban reaches the other instances", func() bool {
		c1, _ := send(t, c, "GET", urls[1]+"/", who, "")
		c2, _ := send(t, c, "GET", urls[2]+"/", who, "")
		return c1 == http.StatusOK && c2 == http.StatusOK
	})

	// Attacks spread over the instances ban the client at all of them:
	// each adds its 3 strikes everywhere, and the third passes 8.
	const attacker = "203.0.113.9"
	attack := "/?id=" + strings.ReplaceAll("1' OR '1'='1", " ", "%20")
	for i := range 3 {
		code, _ := send(t, c, "GET", urls[i]+attack, attacker, "")
		require.Equal(t, http.StatusForbidden, code, "attack %d", i+1)
	}
	eventually(t, time.Second, "three attacks at three instances ban the client everywhere", func() bool {
		for _, u := range urls {
			if code, body := send(t, c, "GET", u+"/", attacker, ""); code != http.StatusForbidden || !strings.Contains(body, "Forbidden") {
				return false
			}
		}
		return true
	})
	_, metrics := get(t, c, adminA+"/metrics")
	require.Regexp(t, `phalanx_shared_store_waf_events_total\{direction="received",event="strike"\} [1-9]`, metrics)
	require.Regexp(t, `phalanx_shared_store_waf_events_total\{direction="sent",event="ban"\} [1-9]`, metrics)
}
