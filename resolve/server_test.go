package resolve

import (
	"context"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeDNS is an in-process DNS server on 127.0.0.1, over UDP and TCP on
// the same port, serving records a test changes as it goes. It answers as
// a recursive resolver would: it follows CNAMEs within its zone, puts the
// addresses of SRV targets in the additional section, and answers
// NXDOMAIN for a name it has no record of.
type fakeDNS struct {
	t    testing.TB
	addr string // "127.0.0.1:port", for Config.Servers

	mu       sync.Mutex // guards the fields below and the servers' lifecycle
	zone     map[rrKey][]dns.RR
	names    map[string]bool // owners of some record, for NODATA versus NXDOMAIN
	noGlue   map[string]bool // SRV targets whose addresses stay out of the additional section
	noFollow map[string]bool // names whose CNAME is answered alone, not followed
	fail     map[string]bool // names answered SERVFAIL
	mode     fakeMode
	before   func(w dns.ResponseWriter, req *dns.Msg) // called before a normal answer
	queries  map[rrKey]int                            // questions received, by name and type
	tcp      int                                      // questions received over TCP
	udpSrv   *dns.Server
	tcpSrv   *dns.Server
}

type rrKey struct {
	name  string // lower case, absolute
	qtype uint16
}

type fakeMode int

const (
	answer   fakeMode = iota // answer from the zone
	servfail                 // answer SERVFAIL to everything
	drop                     // answer nothing
	truncate                 // answer over UDP with TC set and no record; from the zone over TCP
)

// newFakeDNS starts a server with the records of zone (one RR per string,
// in zone file syntax) and stops it when the test ends.
func newFakeDNS(t testing.TB, zone ...string) *fakeDNS {
	t.Helper()
	f := &fakeDNS{t: t, noGlue: map[string]bool{}, noFollow: map[string]bool{}, fail: map[string]bool{}, queries: map[rrKey]int{}}
	f.set(zone...)
	var err error
	for range 20 { // find a port free for both UDP and TCP
		var pc net.PacketConn
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			continue
		}
		var l net.Listener
		l, err = net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		f.addr = pc.LocalAddr().String()
		f.serve(pc, l)
		break
	}
	if err != nil {
		t.Fatalf("fakeDNS: listen: %v", err)
	}
	t.Cleanup(f.stop)
	return f
}

func (f *fakeDNS) serve(pc net.PacketConn, l net.Listener) {
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	f.udpSrv = &dns.Server{PacketConn: pc, Handler: f, NotifyStartedFunc: notify}
	f.tcpSrv = &dns.Server{Listener: l, Handler: f, NotifyStartedFunc: notify}
	for _, s := range []*dns.Server{f.udpSrv, f.tcpSrv} {
		go s.ActivateAndServe()
	}
	<-started
	<-started
}

// stop shuts the server down: its port then refuses queries.
func (f *fakeDNS) stop() {
	f.mu.Lock()
	udp, tcp := f.udpSrv, f.tcpSrv
	f.udpSrv, f.tcpSrv = nil, nil
	f.mu.Unlock()
	if udp != nil {
		udp.Shutdown()
		tcp.Shutdown()
	}
}

// restart starts the server again on the same port.
func (f *fakeDNS) restart() {
	f.t.Helper()
	pc, err := net.ListenPacket("udp", f.addr)
	if err != nil {
		f.t.Fatalf("fakeDNS: restart: %v", err)
	}
	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		pc.Close()
		f.t.Fatalf("fakeDNS: restart: %v", err)
	}
	f.mu.Lock()
	f.serve(pc, l)
	f.mu.Unlock()
}

// set replaces the zone.
func (f *fakeDNS) set(zone ...string) {
	f.t.Helper()
	z, names := map[rrKey][]dns.RR{}, map[string]bool{}
	for _, s := range zone {
		rr, err := dns.NewRR(s)
		if err != nil {
			f.t.Fatalf("fakeDNS: record %q: %v", s, err)
		}
		h := rr.Header()
		k := rrKey{strings.ToLower(h.Name), h.Rrtype}
		z[k] = append(z[k], rr)
		names[k.name] = true
	}
	f.mu.Lock()
	f.zone, f.names = z, names
	f.mu.Unlock()
}

// edit runs fn with f.mu held, to change noGlue, noFollow, fail or
// before.
func (f *fakeDNS) edit(fn func(f *fakeDNS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeDNS) setMode(m fakeMode) {
	f.mu.Lock()
	f.mode = m
	f.mu.Unlock()
}

// count returns the number of questions for name (absolute) and qtype.
func (f *fakeDNS) count(name string, qtype uint16) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.queries[rrKey{strings.ToLower(name), qtype}]
}

func (f *fakeDNS) tcpCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tcp
}

func (f *fakeDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(req.Question) != 1 {
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	f.queries[rrKey{name, q.Qtype}]++
	overTCP := w.LocalAddr().Network() == "tcp"
	if overTCP {
		f.tcp++
	}
	m := new(dns.Msg)
	m.SetReply(req)
	switch {
	case f.mode == drop:
		return
	case f.mode == servfail || f.fail[name]:
		m.Rcode = dns.RcodeServerFailure
		w.WriteMsg(m)
		return
	case f.mode == truncate && !overTCP:
		m.Truncated = true
		w.WriteMsg(m)
		return
	}
	if f.before != nil {
		f.before(w, req)
	}
	for range 12 {
		if rrs := f.zone[rrKey{name, q.Qtype}]; len(rrs) > 0 {
			m.Answer = append(m.Answer, rrs...)
			if q.Qtype == dns.TypeSRV {
				m.Extra = f.glue(rrs)
			}
			break
		}
		if c := f.zone[rrKey{name, dns.TypeCNAME}]; len(c) > 0 {
			m.Answer = append(m.Answer, c[0])
			if f.noFollow[name] {
				break
			}
			name = strings.ToLower(c[0].(*dns.CNAME).Target)
			continue
		}
		if !f.names[name] {
			m.Rcode = dns.RcodeNameError
		}
		break
	}
	w.WriteMsg(m)
}

// glue returns the address records of the SRV targets in rrs. Requires
// f.mu held.
func (f *fakeDNS) glue(rrs []dns.RR) []dns.RR {
	var extra []dns.RR
	seen := map[string]bool{}
	for _, rr := range rrs {
		target := strings.ToLower(rr.(*dns.SRV).Target)
		if seen[target] || f.noGlue[target] {
			continue
		}
		seen[target] = true
		extra = append(extra, f.zone[rrKey{target, dns.TypeA}]...)
		extra = append(extra, f.zone[rrKey{target, dns.TypeAAAA}]...)
	}
	return extra
}

// logRecorder is a slog.Handler that keeps what is logged.
type logRecorder struct {
	mu   sync.Mutex // guards recs
	recs []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}

// count returns how many records of level whose message contains msg
// were logged.
func (h *logRecorder) count(level slog.Level, msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if r.Level == level && strings.Contains(r.Message, msg) {
			n++
		}
	}
	return n
}

// newTestResolver returns a Resolver asking f, logging to the returned
// recorder.
func newTestResolver(t testing.TB, f *fakeDNS, c Config) (*Resolver, *logRecorder) {
	t.Helper()
	logs := &logRecorder{}
	c.Servers = append(c.Servers, f.addr)
	c.Logger = slog.New(logs)
	r, err := New(c)
	if err != nil {
		t.Fatalf("New(%+v) = %v", c, err)
	}
	return r, logs
}

// eventually polls cond every 10ms until it holds or within has passed.
func eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkNoResolverGoroutines fails t if a goroutine is still running a
// Resolver method 2s after the call.
func checkNoResolverGoroutines(t *testing.T) {
	t.Helper()
	var stacks string
	ok := eventually(2*time.Second, func() bool {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		stacks = ""
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			if strings.Contains(g, "resolve.(*Resolver)") {
				stacks += g + "\n\n"
			}
		}
		return stacks == ""
	})
	if !ok {
		t.Errorf("goroutines left running:\n%s", stacks)
	}
}
