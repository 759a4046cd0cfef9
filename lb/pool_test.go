package lb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend returns a Backend for addr with c, failing t on an error.
func backend(t testing.TB, addr string, c BackendConfig) *Backend {
	t.Helper()
	b, err := NewBackend(addr, c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eventLog keeps the events a pool reports. It is safe for concurrent use.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
}

// list returns the events as "kind addr", leaving out Checked events
// unless checked is set.
func (l *eventLog) list(checked bool) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs {
		if e.Kind != Checked || checked {
			out = append(out, e.Kind.String()+" "+e.Backend.addr)
		}
	}
	return out
}

// after returns the events about b reported after its last Left event, or
// nil if it never left.
func (l *eventLog) after(b *Backend) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	last := -1
	for i, e := range l.evs {
		if e.Backend == b && e.Kind == Left {
			last = i
		}
	}
	if last < 0 {
		return nil
	}
	var out []string
	for _, e := range l.evs[last+1:] {
		if e.Backend == b {
			out = append(out, e.Kind.String())
		}
	}
	return out
}

// newTestPool returns a pool named "web" over bs, with round robin from
// the first backend, passive checks only unless c says otherwise, its
// log in the returned recorder and its events in the returned eventLog.
// It closes the pool when t ends.
func newTestPool(t *testing.T, c PoolConfig, bs ...*Backend) (*Pool, *recorder, *eventLog) {
	t.Helper()
	if c.Builder == nil {
		c.Builder = RoundRobin{Rand: func() uint64 { return 0 }}
	}
	if c.Health.Interval == 0 && c.Health.Dial == nil && c.Health.HTTPPath == "" {
		c.Health.Interval = -1
	}
	log, events := &recorder{}, &eventLog{}
	c.Logger = slog.New(log)
	c.OnEvent = events.add
	p, err := NewPool("web", bs, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, log, events
}

// addrs returns the addresses of bs.
func addrs(bs []*Backend) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.addr)
	}
	return out
}

// picked picks n times from p and returns the addresses it got, sorted
// and without repeats, or the error of the first failed pick.
func picked(p *Pool, n int) ([]string, error) {
	seen := map[string]bool{}
	for range n {
		res, err := p.Pick(Request{})
		if err != nil {
			return nil, err
		}
		seen[res.Backend.addr] = true
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	slices.Sort(out)
	return out, nil
}

// setBackends calls p.SetBackends(bs) and fails t unless it succeeds with
// the joined and left addresses wanted.
func setBackends(t *testing.T, p *Pool, bs []*Backend, wantJoined, wantLeft []string) (joined, left []*Backend) {
	t.Helper()
	joined, left, err := p.SetBackends(bs)
	if err != nil {
		t.Fatalf("SetBackends(%v) error = %v, want nil", addrs(bs), err)
	}
	if !slices.Equal(addrs(joined), wantJoined) || !slices.Equal(addrs(left), wantLeft) {
		t.Fatalf("SetBackends(%v) = joined %v, left %v; want joined %v, left %v",
			addrs(bs), addrs(joined), addrs(left), wantJoined, wantLeft)
	}
	return joined, left
}

func TestSetBackendsMembership(t *testing.T) {
	mk := func(port int) *Backend { return backend(t, fmt.Sprintf("127.0.0.1:%d", port), BackendConfig{}) }
	a, b, c, d := mk(8001), mk(8002), mk(8003), mk(8004)
	p, _, _ := newTestPool(t, PoolConfig{}, a, b)

	// Each step runs after the ones before it.
	steps := []struct {
		name         string
		set          []*Backend
		joined, left []string
		members      []string // Backends(), in order
		picks        []string // sorted
	}{
		{
			name: "one joins one leaves", set: []*Backend{b, c},
			joined: []string{"127.0.0.1:8003"}, left: []string{"127.0.0.1:8001"},
			members: []string{"127.0.0.1:8002", "127.0.0.1:8003"}, picks: []string{"127.0.0.1:8002", "127.0.0.1:8003"},
		},
		{
			name: "reordered changes nothing", set: []*Backend{c, b},
			members: []string{"127.0.0.1:8002", "127.0.0.1:8003"}, picks: []string{"127.0.0.1:8002", "127.0.0.1:8003"},
		},
		{
			name: "same address and config is ignored", set: []*Backend{mk(8002), c, d},
			joined:  []string{"127.0.0.1:8004"},
			members: []string{"127.0.0.1:8002", "127.0.0.1:8003", "127.0.0.1:8004"},
			picks:   []string{"127.0.0.1:8002", "127.0.0.1:8003", "127.0.0.1:8004"},
		},
		{
			name: "joiners go last in the order given", set: []*Backend{mk(8006), c, mk(8005)},
			joined: []string{"127.0.0.1:8006", "127.0.0.1:8005"}, left: []string{"127.0.0.1:8002", "127.0.0.1:8004"},
			members: []string{"127.0.0.1:8003", "127.0.0.1:8006", "127.0.0.1:8005"},
			picks:   []string{"127.0.0.1:8003", "127.0.0.1:8005", "127.0.0.1:8006"},
		},
		{
			name: "empty", set: nil,
			left: []string{"127.0.0.1:8003", "127.0.0.1:8006", "127.0.0.1:8005"},
		},
		{
			name: "a backend that left joins again", set: []*Backend{a},
			joined: []string{"127.0.0.1:8001"}, members: []string{"127.0.0.1:8001"}, picks: []string{"127.0.0.1:8001"},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := p.picker.Load()
			setBackends(t, p, st.set, st.joined, st.left)
			if got := addrs(p.Backends()); !slices.Equal(got, st.members) {
				t.Errorf("Backends() = %v, want %v", got, st.members)
			}
			for _, m := range p.Backends() {
				if m.pool.Load() != p {
					t.Errorf("member %s belongs to %v, want pool web", m.addr, m.pool.Load())
				}
			}
			if rebuilt := p.picker.Load() != before; rebuilt != (st.joined != nil || st.left != nil) {
				t.Errorf("Picker rebuilt = %v, want %v", rebuilt, !rebuilt)
			}
			got, err := picked(p, 10)
			switch {
			case st.picks == nil && !errors.Is(err, ErrNoBackend):
				t.Errorf("Pick() on an empty pool: error = %v, want ErrNoBackend", err)
			case st.picks != nil && (err != nil || !slices.Equal(got, st.picks)):
				t.Errorf("Pick() x10 = %v, %v; want %v", got, err, st.picks)
			}
			if n := p.Usable(); n != len(st.members) {
				t.Errorf("Usable() = %d, want %d", n, len(st.members))
			}
		})
	}
	for _, gone := range []*Backend{b, c, d} {
		if gone.pool.Load() != nil {
			t.Errorf("backend %s that left belongs to a pool, want none", gone.addr)
		}
	}
}

func TestSetBackendsKeepsState(t *testing.T) {
	cfg := BackendConfig{FailTimeout: time.Hour}
	busy := backend(t, "127.0.0.1:8001", cfg)    // requests in flight
	cooling := backend(t, "127.0.0.1:8002", cfg) // in a passive cool-down
	probed := backend(t, "127.0.0.1:8003", cfg)  // down by active checks
	p, _, _ := newTestPool(t, PoolConfig{}, busy, cooling, probed)

	for range 3 {
		busy.Start()
	}
	busy.Finish(Outcome{Status: 200})
	cooling.Start()
	cooling.Finish(Outcome{ConnFailed: true})
	p.setActiveUp(probed, false, "test")
	if cooling.Healthy() || probed.Healthy() || p.timers[cooling] == nil {
		t.Fatalf("setup: cooling healthy %v (timer %v), probed healthy %v; want both down, a timer",
			cooling.Healthy(), p.timers[cooling] != nil, probed.Healthy())
	}

	fresh := []*Backend{
		backend(t, "127.0.0.1:8003", cfg),
		backend(t, "127.0.0.1:8001", cfg),
		backend(t, "127.0.0.1:8002", cfg),
		backend(t, "127.0.0.1:8004", cfg),
	}
	setBackends(t, p, fresh, []string{"127.0.0.1:8004"}, nil)
	if got, want := p.Backends(), []*Backend{busy, cooling, probed, fresh[3]}; !slices.Equal(got, want) {
		t.Fatalf("Backends() = %v, want the same three Backends and the new one", addrs(got))
	}
	if n, r := busy.InFlight(), busy.Requests(); n != 2 || r != 3 {
		t.Errorf("staying backend: InFlight() = %d, Requests() = %d; want 2, 3", n, r)
	}
	if cooling.Healthy() || cooling.Failures() != 1 || p.timers[cooling] == nil {
		t.Errorf("staying backend in a cool-down: healthy %v, failures %d, timer %v; want down, 1, a timer",
			cooling.Healthy(), cooling.Failures(), p.timers[cooling] != nil)
	}
	if probed.Healthy() {
		t.Errorf("staying backend down by active checks: healthy = true, want false")
	}
	if got, err := picked(p, 10); err != nil || !slices.Equal(got, []string{"127.0.0.1:8001", "127.0.0.1:8004"}) {
		t.Errorf("Pick() x10 = %v, %v; want the busy and the new backend only", got, err)
	}
	busy.Finish(Outcome{Status: 200})
	busy.Finish(Outcome{Status: 200})
	if n := busy.InFlight(); n != 0 {
		t.Errorf("InFlight() after the requests finished = %d, want 0", n)
	}
}

func TestSetBackendsReplaces(t *testing.T) {
	base := BackendConfig{Weight: 2, MaxFails: 2, FailTimeout: time.Hour}
	tests := []struct {
		name    string
		change  func(*BackendConfig)
		replace bool
	}{
		{name: "same", change: func(*BackendConfig) {}},
		{name: "weight", change: func(c *BackendConfig) { c.Weight = 3 }, replace: true},
		{name: "backup", change: func(c *BackendConfig) { c.Backup = true }, replace: true},
		{name: "max fails", change: func(c *BackendConfig) { c.MaxFails = -1 }, replace: true},
		{name: "fail timeout", change: func(c *BackendConfig) { c.FailTimeout = time.Minute }, replace: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := backend(t, "127.0.0.1:8001", base)
			other := backend(t, "127.0.0.1:8002", BackendConfig{})
			p, log, events := newTestPool(t, PoolConfig{}, old, other)
			old.Start()
			old.Start()
			old.Finish(Outcome{ConnFailed: true}) // 1 of MaxFails 2
			c := base
			tt.change(&c)
			nb := backend(t, "127.0.0.1:8001", c)

			var wantJoined, wantLeft []string
			if tt.replace {
				wantJoined, wantLeft = []string{"127.0.0.1:8001"}, []string{"127.0.0.1:8001"}
			}
			setBackends(t, p, []*Backend{other, nb}, wantJoined, wantLeft)
			member := p.Backends()[0]
			if !tt.replace {
				if member != old {
					t.Fatalf("Backends()[0] is the new Backend, want the old one kept")
				}
				return
			}
			if member != nb || p.Backends()[1] != other {
				t.Fatalf("Backends() = %v, want the new Backend in the old one's place", addrs(p.Backends()))
			}
			if member.weight != c.Weight || member.backup != c.Backup {
				t.Errorf("new member weight %d backup %v, want %d %v", member.weight, member.backup, c.Weight, c.Backup)
			}
			if r, f, n := nb.Requests(), nb.Failures(), nb.consec.Load(); r != 2 || f != 1 || n != 1 {
				t.Errorf("new Backend: requests %d, failures %d, consecutive %d; want 2, 1, 1 inherited", r, f, n)
			}
			if n, m := nb.InFlight(), old.InFlight(); n != 0 || m != 1 {
				t.Errorf("InFlight() new %d, old %d; want 0, 1 (in flight stays on the old)", n, m)
			}
			if old.pool.Load() != nil {
				t.Errorf("replaced Backend still belongs to a pool, want none")
			}
			// The request in flight on the old one fails after it left: the
			// pool does not care.
			old.Finish(Outcome{ConnFailed: true})
			if after := events.after(old); after != nil {
				t.Errorf("events about the replaced Backend after it left = %v, want none", after)
			}
			if n := len(log.records("backend down")); n != 0 {
				t.Errorf("logged %d \"backend down\" for a Backend that left, want 0", n)
			}
			if got := events.list(false); !slices.Equal(got, []string{"left 127.0.0.1:8001", "joined 127.0.0.1:8001"}) {
				t.Errorf("events = %v, want left then joined 127.0.0.1:8001", got)
			}
			recs := log.records("backend changed", "backend joined", "backend left")
			if len(recs) != 1 || recs[0].msg != "backend changed" || recs[0].attrs["backend"] != "127.0.0.1:8001" ||
				recs[0].attrs["weight"] != fmt.Sprint(c.Weight) {
				t.Errorf("logged %v, want one \"backend changed\" for 127.0.0.1:8001 with weight=%d", recs, c.Weight)
			}
		})
	}

	t.Run("inherits a cool-down", func(t *testing.T) {
		const coolDown = 100 * time.Millisecond
		old := backend(t, "127.0.0.1:8001", BackendConfig{FailTimeout: coolDown})
		p, _, events := newTestPool(t, PoolConfig{}, old)
		old.Start()
		old.Finish(Outcome{Status: 502})
		nb := backend(t, "127.0.0.1:8001", BackendConfig{Weight: 5, FailTimeout: coolDown})
		setBackends(t, p, []*Backend{nb}, []string{"127.0.0.1:8001"}, []string{"127.0.0.1:8001"})
		if nb.Healthy() {
			t.Fatalf("new Backend healthy = true, want the old one's cool-down inherited")
		}
		if _, err := p.Pick(Request{}); !errors.Is(err, ErrNoBackend) {
			t.Errorf("Pick() during the inherited cool-down: error = %v, want ErrNoBackend", err)
		}
		waitFor(t, "the new Backend is picked after the cool-down", func() bool {
			res, err := p.Pick(Request{})
			return err == nil && res.Backend == nb
		})
		if after := events.after(old); after != nil {
			t.Errorf("events about the replaced Backend after it left = %v, want none (its timer stopped)", after)
		}
	})
}

func TestSetBackendsErrors(t *testing.T) {
	a := backend(t, "127.0.0.1:8001", BackendConfig{})
	b := backend(t, "127.0.0.1:8002", BackendConfig{})
	p, log, events := newTestPool(t, PoolConfig{}, a, b)
	stranger := backend(t, "127.0.0.1:8009", BackendConfig{})
	if _, err := NewPool("other", []*Backend{stranger}, PoolConfig{Health: HealthCheck{Interval: -1}}); err != nil {
		t.Fatal(err)
	}
	newcomer := func() *Backend { return backend(t, "127.0.0.1:8003", BackendConfig{}) }

	tests := []struct {
		name    string
		set     []*Backend
		wantErr string
	}{
		{name: "address twice", set: []*Backend{a, newcomer(), newcomer()}, wantErr: "lb: pool web: backend 127.0.0.1:8003 listed twice"},
		{name: "member twice", set: []*Backend{a, a}, wantErr: "lb: pool web: backend 127.0.0.1:8001 listed twice"},
		{name: "member and a twin", set: []*Backend{backend(t, "127.0.0.1:8001", BackendConfig{}), a}, wantErr: "lb: pool web: backend 127.0.0.1:8001 listed twice"},
		{name: "nil", set: []*Backend{newcomer(), nil}, wantErr: "lb: pool web: backend 1 is nil"},
		{
			name: "in another pool", set: []*Backend{newcomer(), stranger},
			wantErr: "lb: pool web: backend 127.0.0.1:8009 already belongs to pool other",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			picker := p.picker.Load()
			joined, left, err := p.SetBackends(tt.set)
			if err == nil || err.Error() != tt.wantErr || joined != nil || left != nil {
				t.Fatalf("SetBackends(%v) = %v, %v, %v; want nil, nil, error %q", addrs(tt.set), joined, left, err, tt.wantErr)
			}
			if got := p.Backends(); !slices.Equal(got, []*Backend{a, b}) {
				t.Errorf("Backends() after a failed SetBackends = %v, want a, b unchanged", addrs(got))
			}
			if p.picker.Load() != picker {
				t.Errorf("the Picker was rebuilt by a failed SetBackends, want it kept")
			}
			for _, nb := range tt.set {
				if nb != nil && nb != stranger && nb.pool.Load() != nil && nb != a {
					t.Errorf("backend %s offered to a failed SetBackends belongs to a pool, want none", nb.addr)
				}
			}
			if got := events.list(true); got != nil {
				t.Errorf("events after a failed SetBackends = %v, want none", got)
			}
			if recs := log.records("backend joined", "backend left", "backend changed"); recs != nil {
				t.Errorf("logged %v after a failed SetBackends, want nothing", recs)
			}
		})
	}

	t.Run("attach undoes itself", func(t *testing.T) {
		// Between checkNew and attach, another pool may take a backend.
		nb := newcomer()
		if err := p.attach([]*Backend{nb, stranger}); err == nil || !strings.Contains(err.Error(), "belongs to pool other") {
			t.Errorf("attach(newcomer, stranger) = %v, want an error naming pool other", err)
		}
		if nb.pool.Load() != nil || stranger.pool.Load().name != "other" {
			t.Errorf("after a failed attach, newcomer in %v and stranger in %s; want none and other",
				nb.pool.Load(), stranger.pool.Load().name)
		}
	})

	t.Run("closed", func(t *testing.T) {
		c := backend(t, "127.0.0.1:8001", BackendConfig{})
		closed, _, _ := newTestPool(t, PoolConfig{}, c)
		closed.Close()
		nb := newcomer()
		_, _, err := closed.SetBackends([]*Backend{nb})
		if !errors.Is(err, ErrClosed) || err.Error() != "lb: pool closed: web" {
			t.Errorf("SetBackends on a closed pool = %v, want ErrClosed naming the pool", err)
		}
		if got := closed.Backends(); len(got) != 1 || got[0] != c || nb.pool.Load() != nil {
			t.Errorf("Backends() of a closed pool after SetBackends = %v, want it unchanged", addrs(got))
		}
	})
}

func TestSetBackendsEvents(t *testing.T) {
	for k, want := range map[EventKind]string{
		Checked: "checked", WentDown: "down", CameUp: "up", Joined: "joined", Left: "left", Left + 1: "unknown",
	} {
		if got := k.String(); got != want {
			t.Errorf("EventKind(%d).String() = %q, want %q", int(k), got, want)
		}
	}

	a := backend(t, "127.0.0.1:8001", BackendConfig{})
	b := backend(t, "127.0.0.1:8002", BackendConfig{})
	c := backend(t, "127.0.0.1:8003", BackendConfig{})
	p, log, events := newTestPool(t, PoolConfig{}, a, b, c)
	a.Start() // in flight as it leaves
	d := backend(t, "127.0.0.1:8004", BackendConfig{Backup: true})
	b2 := backend(t, "127.0.0.1:8002", BackendConfig{Weight: 4})
	setBackends(t, p, []*Backend{d, b2, c}, []string{"127.0.0.1:8004", "127.0.0.1:8002"},
		[]string{"127.0.0.1:8001", "127.0.0.1:8002"})

	want := []string{"left 127.0.0.1:8001", "left 127.0.0.1:8002", "joined 127.0.0.1:8004", "joined 127.0.0.1:8002"}
	if got := events.list(true); !slices.Equal(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	events.mu.Lock()
	for _, e := range events.evs {
		if e.Check != "" || e.Err != nil {
			t.Errorf("%v event: Check %q, Err %v; want empty", e.Kind, e.Check, e.Err)
		}
	}
	events.mu.Unlock()

	var got []string
	for _, r := range log.records("backend joined", "backend left", "backend changed") {
		if r.level != slog.LevelInfo || r.attrs["pool"] != "web" {
			t.Errorf("%q record: level %v, pool %q; want INFO, web", r.msg, r.level, r.attrs["pool"])
		}
		got = append(got, fmt.Sprintf("%s %s weight=%s backup=%s in_flight=%s",
			r.msg, r.attrs["backend"], r.attrs["weight"], r.attrs["backup"], r.attrs["in_flight"]))
	}
	wantLog := []string{
		"backend left 127.0.0.1:8001 weight= backup= in_flight=1",
		"backend joined 127.0.0.1:8004 weight=1 backup=true in_flight=",
		"backend changed 127.0.0.1:8002 weight=4 backup=false in_flight=",
	}
	// Records come in the order logged: left, then joined and changed in
	// the order of the set given.
	if !slices.Equal(got, wantLog) {
		t.Errorf("logged\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantLog, "\n"))
	}
}

// probeCounter is a HealthCheck.Dial that connects to nothing (as
// pipeDial, so TCP checks pass) and counts the probes of each address.
type probeCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *probeCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[addr]++
	c.mu.Unlock()
	return pipeDial(ctx, network, addr)
}

func (c *probeCounter) count(addr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[addr]
}

func TestSetBackendsHealthChecks(t *testing.T) {
	const every = 10 * time.Millisecond

	t.Run("joiners checked leavers stopped", func(t *testing.T) {
		waitNoCheckers(t, "before the test")
		probes := &probeCounter{}
		a := backend(t, "127.0.0.1:8001", BackendConfig{})
		b := backend(t, "127.0.0.1:8002", BackendConfig{})
		p, _, events := newTestPool(t, PoolConfig{Health: HealthCheck{Interval: every, Dial: probes.dial}}, a, b)
		p.Start(t.Context())
		waitFor(t, "both backends are probed", func() bool { return probes.count(a.addr) > 0 && probes.count(b.addr) > 0 })
		if n := checkers(); n != 2 {
			t.Errorf("after Start, %d goroutines in checkLoop, want 2", n)
		}

		setBackends(t, p, []*Backend{a}, nil, []string{"127.0.0.1:8002"})
		waitFor(t, "the checker of the backend that left returns", func() bool { return checkers() == 1 })
		n := probes.count(b.addr)
		c := backend(t, "127.0.0.1:8003", BackendConfig{})
		setBackends(t, p, []*Backend{a, c}, []string{"127.0.0.1:8003"}, nil)
		waitFor(t, "the joiner is probed", func() bool { return probes.count(c.addr) > 0 })
		if m := checkers(); m != 2 {
			t.Errorf("after a backend joined, %d goroutines in checkLoop, want 2", m)
		}
		// a and c are probed a few more times; b never again.
		waitFor(t, "a few more probes", func() bool { return probes.count(c.addr) >= 3 })
		if m := probes.count(b.addr); m != n {
			t.Errorf("backend that left was probed %d times after it left, want 0", m-n)
		}
		if after := events.after(b); len(after) != 0 {
			t.Errorf("events about the backend that left after it left = %v, want none", after)
		}
		p.Close()
		waitNoCheckers(t, "after Close")
	})

	t.Run("HTTP probe of a joiner at once", func(t *testing.T) {
		waitNoCheckers(t, "before the test")
		var requests atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
		t.Cleanup(srv.Close)
		other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		t.Cleanup(other.Close)
		// The first probes after Start come within a tenth of an hour; the
		// joiner's right away.
		p, _, events := newTestPool(t, PoolConfig{Health: HealthCheck{Interval: time.Hour, HTTPPath: "/healthz"}},
			backend(t, other.Listener.Addr().String(), BackendConfig{}))
		p.Start(t.Context())
		joiner := backend(t, srv.Listener.Addr().String(), BackendConfig{})
		setBackends(t, p, []*Backend{p.Backends()[0], joiner}, []string{joiner.addr}, nil)
		// Usable before its first probe.
		if got, err := picked(p, 4); err != nil || len(got) != 2 {
			t.Errorf("Pick() x4 right after the join = %v, %v; want both backends", got, err)
		}
		waitFor(t, "the joiner gets its first probe", func() bool { return requests.Load() > 0 })
		waitFor(t, "the probe is reported", func() bool { return slices.Contains(events.list(true), "checked "+joiner.addr) })
		list := events.list(true)
		if i, j := slices.Index(list, "joined "+joiner.addr), slices.Index(list, "checked "+joiner.addr); i < 0 || i > j {
			t.Errorf("events = %v, want the joiner's Joined before its Checked", list)
		}
	})

	t.Run("a probe in flight is cut short", func(t *testing.T) {
		waitNoCheckers(t, "before the test")
		silent, accepted := silentServer(t)
		const timeout = 10 * time.Second
		p, log := newCheckedPool(t, HealthCheck{Interval: timeout, Timeout: timeout, Fall: 1, HTTPPath: "/"})
		p.Start(t.Context())
		b := backend(t, silent, BackendConfig{})
		setBackends(t, p, []*Backend{b}, []string{silent}, nil)
		waitFor(t, "a probe hangs on the silent backend", func() bool { return accepted.Load() > 0 })
		start := time.Now()
		setBackends(t, p, nil, nil, []string{silent})
		waitNoCheckers(t, "after the backend left")
		if d := time.Since(start); d > timeout/2 {
			t.Errorf("the checker of a backend that left took %v to return, want its probe cut short", d)
		}
		if recs := log.records("backend down"); len(recs) > 0 {
			t.Errorf("a probe cut short by a leave logged %v, want nothing", recs)
		}
	})

	t.Run("not started, then started, then context done", func(t *testing.T) {
		waitNoCheckers(t, "before the test")
		probes := &probeCounter{}
		p, _, _ := newTestPool(t, PoolConfig{Health: HealthCheck{Interval: every, Dial: probes.dial}},
			backend(t, "127.0.0.1:8001", BackendConfig{}))
		setBackends(t, p, append(p.Backends(), backend(t, "127.0.0.1:8002", BackendConfig{})), []string{"127.0.0.1:8002"}, nil)
		if n := checkers(); n != 0 {
			t.Errorf("SetBackends before Start: %d goroutines in checkLoop, want 0", n)
		}
		ctx, cancel := context.WithCancel(t.Context())
		p.Start(ctx)
		if n := checkers(); n != 2 {
			t.Errorf("Start after SetBackends: %d goroutines in checkLoop, want 2", n)
		}
		cancel()
		waitNoCheckers(t, "after the context is done")
		setBackends(t, p, append(p.Backends(), backend(t, "127.0.0.1:8003", BackendConfig{})), []string{"127.0.0.1:8003"}, nil)
		if n := checkers(); n != 0 {
			t.Errorf("SetBackends after Start's context is done: %d goroutines in checkLoop, want 0", n)
		}
	})

	t.Run("disabled", func(t *testing.T) {
		waitNoCheckers(t, "before the test")
		p, _, _ := newTestPool(t, PoolConfig{}) // Interval -1
		p.Start(t.Context())
		setBackends(t, p, []*Backend{backend(t, "127.0.0.1:8001", BackendConfig{})}, []string{"127.0.0.1:8001"}, nil)
		if n := checkers(); n != 0 {
			t.Errorf("SetBackends with checks disabled: %d goroutines in checkLoop, want 0", n)
		}
	})
}

// TestSetBackendsConcurrent runs SetBackends against Pick, Finish and
// Backends, with health checks and passive cool-downs going on, for the
// race detector.
func TestSetBackendsConcurrent(t *testing.T) {
	const (
		iterations = 2000
		readers    = 3
	)
	for _, name := range []string{RoundRobinName, LeastConnectionsName, AIPredictiveName} {
		t.Run(name, func(t *testing.T) {
			waitNoCheckers(t, "before the test")
			builder, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			cfg := BackendConfig{FailTimeout: time.Millisecond}
			var all []*Backend // every Backend made, for the in-flight check
			sets := make([][]*Backend, 4)
			for i := range sets {
				for j := range 3 {
					// Overlapping sets; 8002 changes weight.
					port := 8001 + (i+j)%5
					c := cfg
					if port == 8002 {
						c.Weight = 1 + i%2
					}
					b := backend(t, fmt.Sprintf("127.0.0.1:%d", port), c)
					sets[i] = append(sets[i], b)
					all = append(all, b)
				}
			}
			p, _, _ := newTestPool(t, PoolConfig{
				Builder: builder,
				Health:  HealthCheck{Interval: time.Millisecond, Dial: pipeDial},
			}, sets[0]...)
			p.Start(t.Context())
			all = append(all, p.Backends()...)

			var wg sync.WaitGroup
			wg.Go(func() {
				for i := range iterations {
					if _, _, err := p.SetBackends(sets[i%len(sets)]); err != nil {
						t.Errorf("SetBackends: %v", err)
						return
					}
				}
			})
			for r := range readers {
				wg.Go(func() {
					for i := range iterations {
						if res, err := p.Pick(Request{ClientIP: "192.0.2.1"}); err == nil {
							res.Backend.Start()
							o := Outcome{Status: 200}
							if (i+r)%7 == 0 {
								o = Outcome{ConnFailed: true}
							}
							res.Backend.Finish(o)
							if res.Done != nil {
								res.Done(res.Backend, o)
							}
						}
						for _, b := range p.Backends() {
							_, _ = b.Healthy(), b.InFlight()
						}
					}
				})
			}
			wg.Wait()
			p.Close()
			waitNoCheckers(t, "after Close")
			if got, want := addrs(p.Backends()), addrs(sets[(iterations-1)%len(sets)]); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
				t.Errorf("Backends() = %v, want the last set's addresses %v", got, want)
			}
			for _, b := range all {
				if n := b.InFlight(); n != 0 {
					t.Errorf("backend %s: InFlight() = %d after every request finished, want 0", b.addr, n)
				}
			}
		})
	}
}
