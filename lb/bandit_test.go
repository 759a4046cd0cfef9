package lb_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
	"github.com/phalanx-lb/phalanx/lb"
)

// scripted is a bandit.Bandit that chooses the candidate at index pick
// (or the arm wrong, if set) and records what it is told.
type scripted struct {
	mu         sync.Mutex
	pick       int
	wrong      int
	candidates [][]int
	observed   map[int][]bandit.Outcome
}

func (s *scripted) Choose(c []int, now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.candidates = append(s.candidates, slices.Clone(c))
	if s.wrong != 0 {
		return s.wrong
	}
	return c[s.pick%len(c)]
}

func (s *scripted) Observe(arm int, o bandit.Outcome, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.observed == nil {
		s.observed = map[int][]bandit.Outcome{}
	}
	s.observed[arm] = append(s.observed[arm], o)
}

func TestBanditStableArms(t *testing.T) {
	p := &scripted{}
	bb := lb.NewBandit(p)
	bs := newBackends(t, 1, 1, 1)
	mustPick(t, bb.Build(bs))
	mustPick(t, bb.Build([]*lb.Backend{bs[0], bs[2]})) // bs[1] down
	// A reload makes new Backends at the same addresses, in another order.
	again := newBackends(t, 1, 1, 1)
	mustPick(t, bb.Build([]*lb.Backend{again[2], again[1], again[0]}))
	want := [][]int{{0, 1, 2}, {0, 2}, {2, 1, 0}}
	if !slices.EqualFunc(p.candidates, want, slices.Equal) {
		t.Errorf("candidates = %v, want %v", p.candidates, want)
	}
}

func mustPick(t *testing.T, pk lb.Picker) lb.Result {
	t.Helper()
	res, err := pk.Pick(lb.Request{})
	if err != nil {
		t.Fatalf("Pick: %v", err)
	}
	return res
}

func TestBanditOutcomes(t *testing.T) {
	p := &scripted{pick: 1}
	bs := newBackends(t, 1, 1)
	res := mustPick(t, lb.NewBandit(p).Build(bs))
	if res.Backend != bs[1] || res.Done == nil {
		t.Fatalf("Pick = %v (Done %v), want backend 1 with a Done", res.Backend.Addr(), res.Done != nil)
	}
	for _, tc := range []struct {
		in   lb.Outcome
		want bandit.Outcome
	}{
		{lb.Outcome{Latency: time.Millisecond, Status: 200}, bandit.Outcome{Latency: time.Millisecond}},
		{lb.Outcome{Latency: 2 * time.Millisecond, Status: 503}, bandit.Outcome{Latency: 2 * time.Millisecond, Failed: true}},
		{lb.Outcome{Latency: time.Second, ConnFailed: true, TimedOut: true}, bandit.Outcome{Latency: time.Second, Failed: true, TimedOut: true}},
		{lb.Outcome{Latency: 3 * time.Millisecond, ConnFailed: true}, bandit.Outcome{Latency: 3 * time.Millisecond, Failed: true}},
		{lb.Outcome{Latency: 4 * time.Millisecond, ConnFailed: true, Canceled: true}, bandit.Outcome{Latency: 4 * time.Millisecond, Canceled: true}},
	} {
		p.observed = nil
		res.Done(bs[1], tc.in)
		if got := p.observed[1]; len(got) != 1 || got[0] != tc.want {
			t.Errorf("Done(%+v) observed %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestBanditPolicyError(t *testing.T) {
	pk := lb.NewBandit(&scripted{wrong: 7}).Build(newBackends(t, 1, 1))
	if _, err := pk.Pick(lb.Request{}); !errors.Is(err, lb.ErrPolicy) {
		t.Errorf("Pick with a policy choosing a stranger = %v, want ErrPolicy", err)
	}
}

// TestAIPredictivePerPool checks that pools built from the registry's
// "aipredictive" each learn on their own.
func TestAIPredictivePerPool(t *testing.T) {
	b, err := lb.Lookup(lb.AIPredictiveName)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(lb.Factory); !ok {
		t.Fatalf("Lookup(%q) = %T, want a Factory", lb.AIPredictiveName, b)
	}
	p1, err := lb.NewPool("one", newBackends(t, 1, 1), lb.PoolConfig{Builder: b})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := lb.NewPool("two", newBackends(t, 1, 1), lb.PoolConfig{Builder: b})
	if err != nil {
		t.Fatal(err)
	}
	b1, ok1 := p1.Builder().(*lb.BanditBuilder)
	b2, ok2 := p2.Builder().(*lb.BanditBuilder)
	if !ok1 || !ok2 || b1 == b2 || b1.Policy() == b2.Policy() {
		t.Fatalf("pools' builders = %T %T, want two BanditBuilders with policies of their own", p1.Builder(), p2.Builder())
	}
	res, err := p1.Pick(lb.Request{})
	if err != nil {
		t.Fatal(err)
	}
	res.Backend.Start()
	res.Backend.Finish(lb.Outcome{Latency: time.Millisecond, Status: 200})
	res.Done(res.Backend, lb.Outcome{Latency: time.Millisecond, Status: 200})
	rep, ok := b1.Report()
	if !ok || len(rep) == 0 {
		t.Fatalf("Report() = %v, %v; want the default policy's estimates", rep, ok)
	}
	for _, r := range rep {
		if r.InFlight != 0 {
			t.Errorf("Report() %s in flight = %d after Done, want 0", r.Addr, r.InFlight)
		}
	}
}

// newPoolOver returns a pool named "web" over bs with builder, passive
// checks only and no log, and closes it when t ends.
func newPoolOver(t *testing.T, builder lb.Builder, bs ...*lb.Backend) *lb.Pool {
	t.Helper()
	p, err := lb.NewPool("web", bs, lb.PoolConfig{
		Builder: builder,
		Health:  lb.HealthCheck{Interval: -1},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// mustBackend returns a Backend for addr with weight w.
func mustBackend(t *testing.T, addr string, w int) *lb.Backend {
	t.Helper()
	b, err := lb.NewBackend(addr, lb.BackendConfig{Weight: w})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustSet calls pool.SetBackends(bs) and fails t on an error.
func mustSet(t *testing.T, pool *lb.Pool, bs ...*lb.Backend) {
	t.Helper()
	if _, _, err := pool.SetBackends(bs); err != nil {
		t.Fatalf("SetBackends: %v", err)
	}
}

// TestBanditSetBackends checks that arm ids follow addresses through
// membership changes: an address that stays keeps its arm (even when its
// Backend is replaced), a new one gets a new arm, and so does one that
// comes back after it left (its old arm was forgotten); and that a request
// in flight on a backend that left still reaches the policy.
func TestBanditSetBackends(t *testing.T) {
	p := &scripted{pick: 1}
	a, b := mustBackend(t, "127.0.0.1:8001", 1), mustBackend(t, "127.0.0.1:8002", 1)
	pool := newPoolOver(t, lb.NewBandit(p), a, b)
	res := mustPick(t, pool) // b, left in flight
	if res.Backend != b {
		t.Fatalf("Pick() = %s, want the scripted 127.0.0.1:8002", res.Backend.Addr())
	}
	b.Start()

	c := mustBackend(t, "127.0.0.1:8003", 1)
	mustSet(t, pool, mustBackend(t, "127.0.0.1:8001", 1), c) // a stays, b leaves, c joins
	mustPick(t, pool)
	b.Finish(lb.Outcome{Latency: time.Millisecond, Status: 200})
	res.Done(b, lb.Outcome{Latency: time.Millisecond, Status: 200})
	mustSet(t, pool, mustBackend(t, "127.0.0.1:8001", 3), c) // a replaced
	mustPick(t, pool)
	mustSet(t, pool, append(pool.Backends(), mustBackend(t, "127.0.0.1:8002", 1))...) // b back
	mustPick(t, pool)

	want := [][]int{{0, 1}, {0, 2}, {0, 2}, {0, 2, 3}}
	if !slices.EqualFunc(p.candidates, want, slices.Equal) {
		t.Errorf("candidates = %v, want %v", p.candidates, want)
	}
	if got := p.observed[1]; len(got) != 1 || got[0] != (bandit.Outcome{Latency: time.Millisecond}) {
		t.Errorf("observed for the arm of the backend that left = %+v, want its one outcome", got)
	}
}

// TestBanditForgetsLeftAddresses: with addresses churning through a pool,
// as discovery makes them, the default policy keeps records only for the
// members, while an address that stays keeps what was learned of it.
func TestBanditForgetsLeftAddresses(t *testing.T) {
	f, err := lb.Lookup(lb.AIPredictiveName)
	if err != nil {
		t.Fatal(err)
	}
	bb := f.(lb.Factory).NewBuilder().(*lb.BanditBuilder)
	stay := mustBackend(t, "127.0.0.1:9000", 1)
	pool := newPoolOver(t, bb, stay)
	for i := range 2000 {
		mustSet(t, pool, stay, mustBackend(t, fmt.Sprintf("127.0.0.%d:%d", 2+i%200, 10000+i), 1))
		for range 3 {
			res := mustPick(t, pool)
			res.Done(res.Backend, lb.Outcome{Latency: time.Millisecond, Status: 200})
		}
	}
	r, ok := bb.Report()
	if !ok || len(r) != 2 {
		t.Fatalf("Report() lists %d backends, want the 2 members: %+v", len(r), r)
	}
	for _, br := range r {
		if br.Addr == stay.Addr() && br.Chosen < 2000 {
			t.Errorf("%s chosen %d times in the report, want its whole history (at least 2000 of 6000)", br.Addr, br.Chosen)
		}
	}
}

// TestBanditSetBackendsKeepsLearning checks through Report that what the
// default policy learned about a backend survives SetBackends, whether the
// backend stays as is or is replaced with another weight.
func TestBanditSetBackendsKeepsLearning(t *testing.T) {
	f, err := lb.Lookup(lb.AIPredictiveName)
	if err != nil {
		t.Fatal(err)
	}
	bb := f.(lb.Factory).NewBuilder().(*lb.BanditBuilder)
	now := time.Unix(1_700_000_000, 0)
	bb.Now = func() time.Time { return now } // estimates do not age between reports
	fast, slow := mustBackend(t, "127.0.0.1:8001", 1), mustBackend(t, "127.0.0.1:8002", 1)
	pool := newPoolOver(t, bb, fast, slow)
	for range 400 {
		res := mustPick(t, pool)
		o := lb.Outcome{Latency: 50 * time.Millisecond, Status: 200}
		if res.Backend == fast {
			o.Latency = 5 * time.Millisecond
		}
		res.Backend.Start()
		res.Backend.Finish(o)
		res.Done(res.Backend, o)
		now = now.Add(time.Millisecond)
	}
	report := func() map[string]lb.BackendReport {
		rep, ok := bb.Report()
		if !ok {
			t.Fatal("Report() not ok, want the default policy's estimates")
		}
		m := map[string]lb.BackendReport{}
		for _, r := range rep {
			m[r.Addr] = r
		}
		return m
	}
	before := report()[fast.Addr()]
	if before.Chosen == 0 || before.Latency == 0 {
		t.Fatalf("Report() for the fast backend = %+v, want picks and a latency estimate", before)
	}

	newcomer := mustBackend(t, "127.0.0.1:8003", 1)
	for _, set := range []struct {
		name string
		bs   []*lb.Backend
	}{
		{name: "stays", bs: []*lb.Backend{mustBackend(t, "127.0.0.1:8001", 1), newcomer}},
		{name: "replaced", bs: []*lb.Backend{mustBackend(t, "127.0.0.1:8001", 2), newcomer}},
	} {
		mustSet(t, pool, set.bs...)
		got := report()[fast.Addr()]
		if got.Arm != before.Arm || got.Chosen != before.Chosen || got.Latency != before.Latency || got.Success != before.Success {
			t.Errorf("%s: Report() for 127.0.0.1:8001 = %+v, want %+v kept", set.name, got, before)
		}
	}
	for range 50 {
		res := mustPick(t, pool)
		res.Done(res.Backend, lb.Outcome{Latency: 5 * time.Millisecond, Status: 200})
	}
	rep := report()
	if n, ok := rep[newcomer.Addr()]; !ok || n.Arm == before.Arm || n.Arm == rep[slow.Addr()].Arm {
		t.Errorf("Report() for the newcomer = %+v (present %v), want an arm of its own", n, ok)
	}
}
