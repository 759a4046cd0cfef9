package resolve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		c       Config
		want    []string // servers
		wantErr bool
	}{
		{name: "servers", c: Config{Servers: []string{"127.0.0.1:5353", "192.0.2.1", "::1", "[2001:db8::1]:54", "[2001:db8::2]"}},
			want: []string{"127.0.0.1:5353", "192.0.2.1:53", "[::1]:53", "[2001:db8::1]:54", "[2001:db8::2]:53"}},
		{name: "host name", c: Config{Servers: []string{"dns.example:53"}}, wantErr: true},
		{name: "port 0", c: Config{Servers: []string{"192.0.2.1:0"}}, wantErr: true},
		{name: "bad port", c: Config{Servers: []string{"192.0.2.1:99999"}}, wantErr: true},
		{name: "negative valid", c: Config{Servers: []string{"192.0.2.1"}, Valid: -time.Second}, wantErr: true},
		{name: "negative timeout", c: Config{Servers: []string{"192.0.2.1"}, Timeout: -time.Second}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.c)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("New(%+v) = %v, want ErrInvalidConfig", tt.c, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%+v) = %v", tt.c, err)
			}
			if !slices.Equal(r.servers, tt.want) {
				t.Errorf("New(%+v).servers = %q, want %q", tt.c, r.servers, tt.want)
			}
			if r.timeout != defaultTimeout || r.log == nil {
				t.Errorf("New(%+v): timeout %v, logger %v, want %v and slog.Default()", tt.c, r.timeout, r.log, defaultTimeout)
			}
		})
	}
}

func TestNewResolvConf(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		conf    string // "" for a missing file
		want    []string
		wantErr bool
	}{
		{name: "nameservers", conf: "search example.com\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions ndots:5\n",
			want: []string{"192.0.2.53:53", "[2001:db8::53]:53"}},
		{name: "no nameserver", conf: "search example.com\n", wantErr: true},
		{name: "missing", wantErr: true},
	}
	old := resolvConf
	t.Cleanup(func() { resolvConf = old })
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resolvConf = filepath.Join(dir, fmt.Sprintf("resolv%d.conf", i))
			if tt.conf != "" {
				if err := os.WriteFile(resolvConf, []byte(tt.conf), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r, err := New(Config{})
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("New(Config{}) with %q = %v, want ErrInvalidConfig", tt.conf, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(Config{}) with %q = %v", tt.conf, err)
			}
			if !slices.Equal(r.servers, tt.want) {
				t.Errorf("New(Config{}) with %q: servers %q, want %q", tt.conf, r.servers, tt.want)
			}
		})
	}
}

// hostZone serves the names of TestLookupHost.
var hostZone = []string{
	"a.test. 30 IN A 192.0.2.10",
	"a.test. 30 IN A 192.0.2.2",
	"a.test. 30 IN A 192.0.2.2", // a duplicate
	"a.test. 20 IN AAAA 2001:db8::1",
	"v4.test. 40 IN A 192.0.2.4",
	"www.test. 5 IN CNAME a.test.",
	"other.test. 300 IN CNAME a.test.", // answered alone: the client asks again
	"loop1.test. 60 IN CNAME loop2.test.",
	"loop2.test. 60 IN CNAME loop1.test.",
	"c1.test. 60 IN CNAME c2.test.",
	"c2.test. 60 IN CNAME c3.test.",
	"c3.test. 60 IN CNAME c4.test.",
	"c4.test. 60 IN CNAME c5.test.",
	"c5.test. 60 IN CNAME c6.test.",
	"c6.test. 60 IN CNAME c7.test.",
	"c7.test. 60 IN CNAME c8.test.",
	"c8.test. 60 IN CNAME v4.test.",
	"c0.test. 60 IN CNAME c1.test.",
	"dangling.test. 60 IN CNAME gone.test.",
	"txt.test. 60 IN TXT \"no address\"",
}

func TestLookupHost(t *testing.T) {
	f := newFakeDNS(t, hostZone...)
	f.edit(func(f *fakeDNS) { f.noFollow["other.test."] = true })
	r, _ := newTestResolver(t, f, Config{})
	aTest := []Target{{"192.0.2.2:80", 1, false}, {"192.0.2.10:80", 1, false}, {"[2001:db8::1]:80", 1, false}}
	tests := []struct {
		name    string
		host    string
		port    int
		want    []Target
		wantTTL time.Duration
		wantErr error
	}{
		{name: "a and aaaa", host: "a.test", port: 80, want: aTest, wantTTL: 20 * time.Second},
		{name: "absolute and upper case", host: "A.TEST.", port: 80, want: aTest, wantTTL: 20 * time.Second},
		{name: "a only", host: "v4.test", port: 443, want: []Target{{"192.0.2.4:443", 1, false}}, wantTTL: 40 * time.Second},
		{name: "cname", host: "www.test", port: 80, want: aTest, wantTTL: 5 * time.Second},
		{name: "cname asked again", host: "other.test", port: 80, want: aTest, wantTTL: 20 * time.Second},
		{name: "cname chain of 8", host: "c1.test", port: 80, want: []Target{{"192.0.2.4:80", 1, false}}, wantTTL: 40 * time.Second},
		{name: "cname chain of 9", host: "c0.test", port: 80, wantErr: ErrCNAMEChain},
		{name: "cname loop", host: "loop1.test", port: 80, wantErr: ErrCNAMEChain},
		{name: "dangling cname", host: "dangling.test", port: 80, wantErr: ErrNotFound},
		{name: "nxdomain", host: "nowhere.test", port: 80, wantErr: ErrNotFound},
		{name: "no address", host: "txt.test", port: 80, wantErr: ErrNoRecords},
		{name: "ipv4 literal", host: "192.0.2.7", port: 8080, want: []Target{{"192.0.2.7:8080", 1, false}}, wantTTL: MaxTTL},
		{name: "ipv6 literal", host: "::1", port: 8080, want: []Target{{"[::1]:8080", 1, false}}, wantTTL: MaxTTL},
		{name: "bad name", host: "a..test", port: 80, wantErr: ErrInvalidName},
		{name: "empty name", host: "", port: 80, wantErr: ErrInvalidName},
		{name: "port 0", host: "a.test", port: 0, wantErr: ErrInvalidName},
		{name: "port too big", host: "a.test", port: 65536, wantErr: ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ttl, err := r.LookupHost(t.Context(), tt.host, tt.port)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("LookupHost(%q, %d) = %v, %v, %v, want %v", tt.host, tt.port, got, ttl, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) || ttl != tt.wantTTL {
				t.Errorf("LookupHost(%q, %d) = %v, %v, %v, want %v, %v", tt.host, tt.port, got, ttl, err, tt.want, tt.wantTTL)
			}
		})
	}
}

func TestLookupHostTooMany(t *testing.T) {
	var zone []string
	for i := range 100 {
		zone = append(zone, fmt.Sprintf("many.test. 60 IN A 192.0.2.%d", 200-i))
	}
	f := newFakeDNS(t, zone...)
	r, logs := newTestResolver(t, f, Config{})
	got, _, err := r.LookupHost(t.Context(), "many.test", 80)
	if err != nil || len(got) != MaxTargets {
		t.Fatalf("LookupHost(many.test) = %d targets, %v, want %d", len(got), err, MaxTargets)
	}
	// The lowest addresses are kept, in order.
	if got[0].Addr != "192.0.2.101:80" || got[MaxTargets-1].Addr != "192.0.2.164:80" {
		t.Errorf("LookupHost(many.test) = %s ... %s, want 192.0.2.101:80 ... 192.0.2.164:80", got[0].Addr, got[MaxTargets-1].Addr)
	}
	if n := logs.count(slog.LevelWarn, "too many targets"); n != 1 {
		t.Errorf("LookupHost(many.test) logged %d warnings, want 1", n)
	}
}

// srvZone serves the names of TestLookupSRV.
var srvZone = []string{
	"_http._tcp.svc.test. 60 IN SRV 10 60 8080 h1.test.",
	"_http._tcp.svc.test. 60 IN SRV 10 0 8081 h2.test.",
	"_http._tcp.svc.test. 50 IN SRV 20 5 9090 h3.test.",
	"h1.test. 30 IN A 192.0.2.1",
	"h2.test. 45 IN A 192.0.2.2",
	"h2.test. 45 IN AAAA 2001:db8::2",
	"h3.test. 40 IN A 192.0.2.3",
	"_none._tcp.svc.test. 60 IN SRV 0 0 0 .",
	"_gone._tcp.svc.test. 60 IN SRV 10 1 80 h1.test.",
	"_gone._tcp.svc.test. 60 IN SRV 10 1 80 nowhere.test.",
	"_bad._tcp.svc.test. 60 IN SRV 10 1 80 h1.test.",
	"_bad._tcp.svc.test. 60 IN SRV 10 1 80 broken.test.",
	"_dup._tcp.svc.test. 60 IN SRV 20 9 80 h1.test.",
	"_dup._tcp.svc.test. 60 IN SRV 10 2 80 h1.test.",
	"_dup._tcp.svc.test. 60 IN SRV 10 7 80 h1.test.",
	"_dup._tcp.svc.test. 60 IN SRV 10 1 81 h1.test.",
	"_alias._tcp.svc.test. 10 IN CNAME _http._tcp.svc.test.",
	"broken.test. 60 IN A 192.0.2.99",
}

func TestLookupSRV(t *testing.T) {
	f := newFakeDNS(t, srvZone...)
	f.edit(func(f *fakeDNS) {
		f.noGlue["h2.test."] = true // looked up by the client
		f.noGlue["broken.test."] = true
		f.fail["broken.test."] = true
	})
	r, _ := newTestResolver(t, f, Config{})
	httpWant := []Target{
		{"192.0.2.1:8080", 60, false},
		{"192.0.2.2:8081", 1, false},
		{"[2001:db8::2]:8081", 1, false},
		{"192.0.2.3:9090", 5, true},
	}
	tests := []struct {
		name    string
		srv     string
		want    []Target
		wantTTL time.Duration
		wantErr error
	}{
		{name: "weights ports priorities", srv: "_http._tcp.svc.test", want: httpWant, wantTTL: 30 * time.Second},
		{name: "cname", srv: "_alias._tcp.svc.test", want: httpWant, wantTTL: 10 * time.Second},
		{name: "dot target", srv: "_none._tcp.svc.test", wantErr: ErrNoRecords},
		{name: "missing target skipped", srv: "_gone._tcp.svc.test", want: []Target{{"192.0.2.1:80", 1, false}}, wantTTL: 30 * time.Second},
		{name: "failing target fails", srv: "_bad._tcp.svc.test", wantErr: ErrServerFailure},
		{name: "duplicates", srv: "_dup._tcp.svc.test", want: []Target{{"192.0.2.1:80", 7, false}, {"192.0.2.1:81", 1, false}}, wantTTL: 30 * time.Second},
		{name: "nxdomain", srv: "_ftp._tcp.svc.test", wantErr: ErrNotFound},
		{name: "no srv", srv: "h1.test", wantErr: ErrNoRecords},
		{name: "bad name", srv: "_http.._tcp", wantErr: ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ttl, err := r.LookupSRV(t.Context(), tt.srv)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("LookupSRV(%q) = %v, %v, %v, want %v", tt.srv, got, ttl, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) || ttl != tt.wantTTL {
				t.Errorf("LookupSRV(%q) = %v, %v, %v, want %v, %v", tt.srv, got, ttl, err, tt.want, tt.wantTTL)
			}
		})
	}
	if n := f.count("h2.test.", dns.TypeAAAA); n == 0 {
		t.Errorf("h2.test AAAA asked %d times, want it looked up (no glue)", n)
	}
	if n := f.count("h1.test.", dns.TypeA); n != 0 {
		t.Errorf("h1.test A asked %d times, want 0 (glue in the additional section)", n)
	}
}

func TestTruncatedRetriedOverTCP(t *testing.T) {
	f := newFakeDNS(t, hostZone...)
	f.setMode(truncate)
	r, _ := newTestResolver(t, f, Config{})
	got, _, err := r.LookupHost(t.Context(), "a.test", 80)
	if err != nil || len(got) != 3 {
		t.Fatalf("LookupHost(a.test) = %v, %v, want 3 targets", got, err)
	}
	if n := f.tcpCount(); n != 2 {
		t.Errorf("queries over TCP = %d, want 2 (A and AAAA)", n)
	}
}

// Answers with another ID or another question are ignored, and the right
// one that follows is taken.
func TestMismatchedAnswersIgnored(t *testing.T) {
	f := newFakeDNS(t, hostZone...)
	before := func(w dns.ResponseWriter, req *dns.Msg) {
		wrongID := new(dns.Msg).SetReply(req)
		wrongID.Id++
		wrongID.Answer = []dns.RR{aRecord(req.Question[0].Name, "198.51.100.1")}
		w.WriteMsg(wrongID)
		wrongName := new(dns.Msg).SetReply(req)
		wrongName.Question[0].Name = "evil.test."
		wrongName.Answer = []dns.RR{aRecord("evil.test.", "198.51.100.2")}
		w.WriteMsg(wrongName)
		wrongType := new(dns.Msg).SetReply(req)
		wrongType.Question[0].Qtype = dns.TypeMX
		wrongType.Rcode = dns.RcodeNameError
		w.WriteMsg(wrongType)
		w.Write([]byte("garbage, not a DNS message"))
	}
	f.edit(func(f *fakeDNS) { f.before = before })
	r, _ := newTestResolver(t, f, Config{})
	got, _, err := r.LookupHost(t.Context(), "v4.test", 80)
	want := []Target{{"192.0.2.4:80", 1, false}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("LookupHost(v4.test) = %v, %v, want %v", got, err, want)
	}
}

func aRecord(name, ip string) *dns.A {
	return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)}
}

func TestFailover(t *testing.T) {
	good := newFakeDNS(t, hostZone...)
	bad := newFakeDNS(t, hostZone...)
	bad.setMode(servfail)
	dead := newFakeDNS(t)
	dead.stop() // its port now refuses
	tests := []struct {
		name    string
		servers []string
		wantErr error
	}{
		{name: "servfail then good", servers: []string{bad.addr, good.addr}},
		{name: "refused then good", servers: []string{dead.addr, good.addr}},
		{name: "all servfail", servers: []string{bad.addr, bad.addr}, wantErr: ErrServerFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(Config{Servers: tt.servers, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := r.LookupHost(t.Context(), "v4.test", 80)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("LookupHost(v4.test) via %v = %v, %v, want %v", tt.servers, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != 1 {
				t.Errorf("LookupHost(v4.test) via %v = %v, %v, want 1 target", tt.servers, got, err)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	f := newFakeDNS(t, hostZone...)
	f.setMode(drop)
	r, _ := newTestResolver(t, f, Config{Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, _, err := r.LookupHost(t.Context(), "a.test", 80)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("LookupHost(a.test) from a silent server = %v, want a timeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("LookupHost(a.test) from a silent server took %v, want about 200ms", d)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, _, err = r.LookupHost(ctx, "a.test", 80)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("LookupHost(a.test) with a 50ms context = %v, want context.DeadlineExceeded", err)
	}
}

func TestStats(t *testing.T) {
	f := newFakeDNS(t, hostZone...)
	r, _ := newTestResolver(t, f, Config{})
	r.LookupHost(t.Context(), "a.test", 80)
	r.LookupHost(t.Context(), "nowhere.test", 80)
	r.LookupSRV(t.Context(), "nowhere.test")
	if got, want := r.Stats(), (Stats{Lookups: 3, Failures: 2}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

func TestZeroResolver(t *testing.T) {
	var r Resolver
	if _, _, err := r.LookupHost(t.Context(), "a.test", 80); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Resolver{}.LookupHost(a.test) = %v, want ErrInvalidConfig", err)
	}
	if got, want := r.Stats(), (Stats{Lookups: 1, Failures: 1}); got != want {
		t.Errorf("Resolver{}.Stats() = %+v, want %+v", got, want)
	}
}

func TestClampTTL(t *testing.T) {
	for _, tt := range []struct{ in, want time.Duration }{
		{0, time.Second}, {time.Second, time.Second}, {90 * time.Second, 90 * time.Second},
		{time.Hour, time.Hour}, {48 * time.Hour, time.Hour},
	} {
		if got := clampTTL(tt.in); got != tt.want {
			t.Errorf("clampTTL(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := backoff(1000); got != backoffMax {
		t.Errorf("backoff(1000) = %v, want %v", got, backoffMax)
	}
}
