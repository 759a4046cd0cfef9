package phalanx_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/phalanx-lb/phalanx"
	"github.com/phalanx-lb/phalanx/lb"
	"github.com/phalanx-lb/phalanx/resolve"
)

// testDNS is a DNS server on loopback whose records a test changes: SRV
// records of one name, A records of another, all with a TTL of 1 s.
type testDNS struct {
	addr string
	srv  *dns.Server
	mu   sync.Mutex
	srvs []srvRecord // _http._tcp.app.test.
	as   []string    // web.test.
	fail bool        // answer SERVFAIL
}

type srvRecord struct {
	port, weight, priority int
}

func newTestDNS(t *testing.T) *testDNS {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	d := &testDNS{addr: pc.LocalAddr().String()}
	d.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.answer)}
	started := make(chan struct{})
	d.srv.NotifyStartedFunc = func() { close(started) }
	go d.srv.ActivateAndServe()
	<-started
	t.Cleanup(d.stop)
	return d
}

func (d *testDNS) stop() { d.srv.Shutdown() }

func (d *testDNS) set(f func(d *testDNS)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
}

func (d *testDNS) answer(w dns.ResponseWriter, req *dns.Msg) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(req)
	if d.fail {
		m.Rcode = dns.RcodeServerFailure
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 1}
	}
	switch {
	case q.Name == "_http._tcp.app.test." && q.Qtype == dns.TypeSRV:
		for _, r := range d.srvs {
			m.Answer = append(m.Answer, &dns.SRV{Hdr: hdr(q.Name, dns.TypeSRV), Priority: uint16(r.priority),
				Weight: uint16(r.weight), Port: uint16(r.port), Target: "host.app.test."})
		}
		m.Extra = append(m.Extra, &dns.A{Hdr: hdr("host.app.test.", dns.TypeA), A: net.ParseIP("127.0.0.1")})
	case q.Name == "host.app.test." && q.Qtype == dns.TypeA:
		m.Answer = append(m.Answer, &dns.A{Hdr: hdr(q.Name, dns.TypeA), A: net.ParseIP("127.0.0.1")})
	case q.Name == "web.test." && q.Qtype == dns.TypeA:
		for _, a := range d.as {
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(q.Name, dns.TypeA), A: net.ParseIP(a)})
		}
	case q.Name == "web.test." || q.Name == "host.app.test." || q.Name == "_http._tcp.app.test.":
		// no records of that type
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

// portOf returns the port of a test server.
func portOf(ts *httptest.Server) int {
	_, p, _ := net.SplitHostPort(hostOf(ts))
	n, _ := strconv.Atoi(p)
	return n
}

// answers sends n requests and counts the answers by body.
func answers(t *testing.T, c *http.Client, url string, n int) map[string]int {
	got := map[string]int{}
	for range n {
		code, body := get(t, c, url)
		if code != 200 {
			body = strconv.Itoa(code)
		}
		got[body]++
	}
	return got
}

// TestDiscoverySRV follows an SRV name: backends the records add join
// the pool, those they drop leave, weights follow the records, a failed
// lookup keeps the pool, and a backend that stays keeps its counts.
func TestDiscoverySRV(t *testing.T) {
	checkNoLeaks(t)
	a, b, c3 := namedBackend(t, "a"), namedBackend(t, "b"), namedBackend(t, "c")
	d := newTestDNS(t)
	d.set(func(d *testDNS) { d.srvs = []srvRecord{{portOf(a), 1, 10}, {portOf(b), 1, 10}} })
	logger, logs := newLogger()
	url, srv := startProxy(t, phalanx.WithLogger(logger),
		phalanx.WithResolver(resolve.Config{Servers: []string{d.addr}}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Algorithm: lb.WeightedRoundRobinName, Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: "_http._tcp.app.test", SRV: true, Resolve: true}}}))
	admin := startAdmin(t, srv)
	cl := client(t)

	// The first lookup is done before the Server serves.
	require.Equal(t, map[string]int{"a": 10, "b": 10}, answers(t, cl, url+"/", 20))
	st := getStatus(t, cl, admin)
	before, _ := backendStatus(st, "app", hostOf(a))

	// c joins, b leaves, a stays with three times c's weight.
	d.set(func(d *testDNS) { d.srvs = []srvRecord{{portOf(a), 3, 10}, {portOf(c3), 1, 10}} })
	eventually(t, 5*time.Second, "the pool follows the records", func() bool {
		got := answers(t, cl, url+"/", 8)
		return got["b"] == 0 && got["c"] > 0
	})
	got := answers(t, cl, url+"/", 40)
	require.Equal(t, 0, got["b"])
	require.InDelta(t, 30, got["a"], 2, "weights follow the records: %v", got)
	require.InDelta(t, 10, got["c"], 2, "weights follow the records: %v", got)
	st = getStatus(t, cl, admin)
	after, _ := backendStatus(st, "app", hostOf(a))
	require.Greater(t, after.Requests, before.Requests, "a backend that stays keeps its counts")

	// A lower-priority record is a backup: it gets traffic only when no
	// primary is usable.
	d.set(func(d *testDNS) { d.srvs = []srvRecord{{portOf(a), 1, 10}, {portOf(c3), 1, 20}} })
	eventually(t, 5*time.Second, "the backup record is a backup", func() bool {
		got := answers(t, cl, url+"/", 8)
		return got["a"] == 8
	})

	_, metrics := get(t, cl, admin+"/metrics")
	require.Contains(t, metrics, "\n"+`phalanx_discovery_up{server="_http._tcp.app.test",upstream="app"} 1`+"\n")
	require.Contains(t, metrics, "\n"+`phalanx_discovery_targets{server="_http._tcp.app.test",upstream="app"} 2`+"\n")

	// DNS fails: the pool stays as it was.
	d.set(func(d *testDNS) { d.fail = true })
	time.Sleep(2500 * time.Millisecond) // two TTLs
	require.Equal(t, map[string]int{"a": 10}, answers(t, cl, url+"/", 10))
	_, metrics = get(t, cl, admin+"/metrics")
	require.Contains(t, metrics, "\n"+`phalanx_discovery_up{server="_http._tcp.app.test",upstream="app"} 0`+"\n")
	require.Contains(t, metrics, "\n"+`phalanx_discovery_targets{server="_http._tcp.app.test",upstream="app"} 2`+"\n",
		"a failing line keeps its last good answer")
	d.stop()
	time.Sleep(1500 * time.Millisecond)
	require.Equal(t, map[string]int{"a": 10}, answers(t, cl, url+"/", 10))
	require.NotEmpty(t, logs.lines("backend joined"))
	require.NotEmpty(t, logs.lines("backend left"))
	_, metrics = get(t, cl, admin+"/metrics")
	for _, want := range []string{`phalanx_backend_membership_changes_total{change="joined",upstream="app"}`,
		`phalanx_backend_membership_changes_total{change="left",upstream="app"}`,
		`phalanx_dns_lookups_total{result="failed"}`, `phalanx_dns_lookups_total{result="ok"}`} {
		require.Contains(t, metrics, want)
	}
}

// TestDiscoveryA follows the A records of a name: each address, with the
// server line's port, is a backend.
func TestDiscoveryA(t *testing.T) {
	checkNoLeaks(t)
	// Backends on 127.0.0.2 and 127.0.0.3, on one port.
	l2, err := net.Listen("tcp", "127.0.0.2:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(l2.Addr().String())
	l3, err := net.Listen("tcp", "127.0.0.3:"+port)
	if err != nil {
		l2.Close()
		t.Skipf("port %s is taken on 127.0.0.3: %v", port, err)
	}
	for _, l := range []net.Listener{l2, l3} {
		name := strings.Split(l.Addr().String(), ":")[0]
		hs := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name)
		})}}
		hs.Start()
		t.Cleanup(hs.Close)
	}
	d := newTestDNS(t)
	d.set(func(d *testDNS) { d.as = []string{"127.0.0.2"} })
	url, _ := startProxy(t, phalanx.WithLogger(discard()),
		phalanx.WithResolver(resolve.Config{Servers: []string{d.addr}}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: "web.test:" + port, Resolve: true}}}))
	cl := client(t)
	require.Equal(t, map[string]int{"127.0.0.2": 4}, answers(t, cl, url+"/", 4))
	d.set(func(d *testDNS) { d.as = []string{"127.0.0.2", "127.0.0.3"} })
	eventually(t, 5*time.Second, "the new address joins", func() bool {
		return answers(t, cl, url+"/", 4)["127.0.0.3"] > 0
	})
	d.set(func(d *testDNS) { d.as = []string{"127.0.0.3"} })
	eventually(t, 5*time.Second, "the old address leaves", func() bool {
		return answers(t, cl, url+"/", 4)["127.0.0.3"] == 4
	})
}

// TestDiscoveryFirstLookupFails starts with DNS down: the pool is empty
// (503) until the records answer.
func TestDiscoveryFirstLookupFails(t *testing.T) {
	checkNoLeaks(t)
	a := namedBackend(t, "a")
	d := newTestDNS(t)
	d.set(func(d *testDNS) { d.fail = true })
	url, _ := startProxy(t, phalanx.WithLogger(discard()),
		phalanx.WithResolver(resolve.Config{Servers: []string{d.addr}}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: "_http._tcp.app.test", SRV: true, Resolve: true}}}))
	cl := client(t)
	code, _ := get(t, cl, url+"/")
	require.Equal(t, http.StatusServiceUnavailable, code)
	d.set(func(d *testDNS) { d.fail, d.srvs = false, []srvRecord{{portOf(a), 1, 1}} })
	eventually(t, 10*time.Second, "the backend joins once DNS answers", func() bool {
		code, body := get(t, cl, url+"/")
		return code == 200 && body == "a"
	})
}

// TestDiscoveryReload reloads a Server whose pool came from DNS: the new
// configuration starts with the backends found so far, and its own
// watcher follows the records from then on.
func TestDiscoveryReload(t *testing.T) {
	checkNoLeaks(t)
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	d := newTestDNS(t)
	d.set(func(d *testDNS) { d.srvs = []srvRecord{{portOf(a), 1, 1}} })
	opts := []phalanx.Option{phalanx.WithLogger(discard()),
		phalanx.WithResolver(resolve.Config{Servers: []string{d.addr}}),
		phalanx.WithUpstream(phalanx.Upstream{Name: "app", Health: noActiveChecks,
			Servers: []phalanx.UpstreamServer{{Addr: "_http._tcp.app.test", SRV: true, Resolve: true}}})}
	url, srv := startProxy(t, opts...)
	cl := client(t)
	require.Equal(t, map[string]int{"a": 3}, answers(t, cl, url+"/", 3))
	d.set(func(d *testDNS) { d.fail = true })
	require.NoError(t, srv.Reload(opts...))
	require.Equal(t, map[string]int{"a": 3}, answers(t, cl, url+"/", 3), "the reloaded pool keeps what DNS said before")
	d.set(func(d *testDNS) { d.fail, d.srvs = false, []srvRecord{{portOf(b), 1, 1}} })
	eventually(t, 5*time.Second, "the new configuration's watcher follows the records", func() bool {
		return answers(t, cl, url+"/", 3)["b"] == 3
	})
}
