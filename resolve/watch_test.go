package resolve

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// slack is how much later than its due time a refresh may be seen.
const slack = 700 * time.Millisecond

// watcher runs Watch and collects the sets it passes to update.
type watcher struct {
	updates chan []Target
	done    chan struct{}
	cancel  context.CancelFunc
}

func startWatch(t *testing.T, r *Resolver, q Query) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	w := &watcher{updates: make(chan []Target, 100), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(w.done)
		r.Watch(ctx, q, func(ts []Target) { w.updates <- ts })
	}()
	t.Cleanup(func() {
		cancel()
		<-w.done
	})
	return w
}

// next returns the next set passed to update, failing t if none comes
// within d.
func (w *watcher) next(t *testing.T, d time.Duration, what string) []Target {
	t.Helper()
	select {
	case ts := <-w.updates:
		return ts
	case <-time.After(d):
		t.Fatalf("%s: no update within %v", what, d)
		return nil
	}
}

// none fails t if update is called within d.
func (w *watcher) none(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case ts := <-w.updates:
		t.Fatalf("%s: update(%v), want no call", what, ts)
	case <-time.After(d):
	}
}

func expect(t *testing.T, what string, got, want []Target) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: update(%v), want %v", what, got, want)
	}
}

// Records added, removed and re-weighted reach update within the TTL
// (1s) and some slack.
func TestWatchSeesChanges(t *testing.T) {
	t.Parallel()
	t.Run("host", func(t *testing.T) {
		t.Parallel()
		f := newFakeDNS(t, "a.test. 1 IN A 192.0.2.1", "a.test. 1 IN A 192.0.2.2")
		r, _ := newTestResolver(t, f, Config{})
		w := startWatch(t, r, Query{Host: "a.test", Port: 80})
		expect(t, "start", w.next(t, time.Second, "start"),
			[]Target{{"192.0.2.1:80", 1, false}, {"192.0.2.2:80", 1, false}})

		f.set("a.test. 1 IN A 192.0.2.1", "a.test. 1 IN A 192.0.2.2", "a.test. 1 IN AAAA 2001:db8::3")
		expect(t, "added", w.next(t, time.Second+slack, "added"),
			[]Target{{"192.0.2.1:80", 1, false}, {"192.0.2.2:80", 1, false}, {"[2001:db8::3]:80", 1, false}})

		f.set("a.test. 1 IN A 192.0.2.2", "a.test. 1 IN AAAA 2001:db8::3")
		expect(t, "removed", w.next(t, time.Second+slack, "removed"),
			[]Target{{"192.0.2.2:80", 1, false}, {"[2001:db8::3]:80", 1, false}})
	})
	t.Run("srv", func(t *testing.T) {
		t.Parallel()
		hosts := []string{"h1.test. 1 IN A 192.0.2.1", "h2.test. 1 IN A 192.0.2.2", "h3.test. 1 IN A 192.0.2.3"}
		f := newFakeDNS(t, append(hosts, "_x._tcp.test. 1 IN SRV 10 5 80 h1.test.", "_x._tcp.test. 1 IN SRV 10 5 80 h2.test.")...)
		r, _ := newTestResolver(t, f, Config{})
		w := startWatch(t, r, Query{Host: "_x._tcp.test", SRV: true})
		expect(t, "start", w.next(t, time.Second, "start"),
			[]Target{{"192.0.2.1:80", 5, false}, {"192.0.2.2:80", 5, false}})

		f.set(append(hosts, "_x._tcp.test. 1 IN SRV 10 9 80 h1.test.", "_x._tcp.test. 1 IN SRV 10 1 80 h2.test.")...)
		expect(t, "re-weighted", w.next(t, time.Second+slack, "re-weighted"),
			[]Target{{"192.0.2.1:80", 9, false}, {"192.0.2.2:80", 1, false}})

		f.set(append(hosts, "_x._tcp.test. 1 IN SRV 10 9 80 h1.test.", "_x._tcp.test. 1 IN SRV 10 1 80 h2.test.",
			"_x._tcp.test. 1 IN SRV 20 1 8080 h3.test.")...)
		expect(t, "backup added", w.next(t, time.Second+slack, "backup added"),
			[]Target{{"192.0.2.1:80", 9, false}, {"192.0.2.2:80", 1, false}, {"192.0.2.3:8080", 1, true}})

		f.set(append(hosts, "_x._tcp.test. 1 IN SRV 20 1 8080 h3.test.")...)
		expect(t, "primaries removed", w.next(t, time.Second+slack, "primaries removed"),
			[]Target{{"192.0.2.3:8080", 1, false}})
	})
}

// A 3s TTL is not asked again after 1s, and an unchanged answer does not
// call update.
func TestWatchRespectsTTL(t *testing.T) {
	t.Parallel()
	f := newFakeDNS(t, "a.test. 3 IN A 192.0.2.1", "a.test. 60 IN AAAA 2001:db8::1")
	r, _ := newTestResolver(t, f, Config{})
	w := startWatch(t, r, Query{Host: "a.test", Port: 80})
	w.next(t, time.Second, "start")
	w.none(t, 1500*time.Millisecond, "after 1.5s")
	if n := f.count("a.test.", dns.TypeA); n != 1 {
		t.Fatalf("after 1.5s of a 3s TTL: %d A queries, want 1", n)
	}
	if !eventually(1500*time.Millisecond+slack, func() bool { return f.count("a.test.", dns.TypeA) == 2 }) {
		t.Fatalf("after 3s of a 3s TTL: %d A queries, want 2", f.count("a.test.", dns.TypeA))
	}
	w.none(t, 200*time.Millisecond, "same answer")
}

// Valid replaces the TTL as the refresh interval.
func TestWatchValid(t *testing.T) {
	t.Parallel()
	f := newFakeDNS(t, "a.test. 3600 IN A 192.0.2.1")
	r, _ := newTestResolver(t, f, Config{Valid: time.Second})
	w := startWatch(t, r, Query{Host: "a.test", Port: 80})
	w.next(t, time.Second, "start")
	f.set("a.test. 3600 IN A 192.0.2.9")
	expect(t, "valid=1s", w.next(t, time.Second+slack, "valid=1s with a 1h TTL"), []Target{{"192.0.2.9:80", 1, false}})
	if n := f.count("a.test.", dns.TypeA); n != 2 {
		t.Errorf("after one Valid interval: %d A queries, want 2", n)
	}
}

// A failing server (SERVFAIL, then no server at all) leaves the last set
// in place without calling update; the failure is logged once; recovery
// calls update again.
func TestWatchKeepsLastGoodSet(t *testing.T) {
	t.Parallel()
	f := newFakeDNS(t, "a.test. 1 IN A 192.0.2.1")
	r, logs := newTestResolver(t, f, Config{Timeout: 500 * time.Millisecond})
	w := startWatch(t, r, Query{Host: "a.test", Port: 80})
	expect(t, "start", w.next(t, time.Second, "start"), []Target{{"192.0.2.1:80", 1, false}})

	f.setMode(servfail)
	before := f.count("a.test.", dns.TypeA)
	if !eventually(3*time.Second, func() bool { return f.count("a.test.", dns.TypeA) >= before+2 }) {
		t.Fatalf("SERVFAIL: %d A queries, want retries", f.count("a.test.", dns.TypeA)-before)
	}
	f.stop()
	w.none(t, 1500*time.Millisecond, "SERVFAIL then no server")
	if n := logs.count(slog.LevelWarn, "lookup failed"); n != 1 {
		t.Errorf("a streak of failures logged %d warnings, want 1", n)
	}
	if s := r.Stats(); s.Failures < 3 {
		t.Errorf("Stats() = %+v, want 3 failures or more", s)
	}

	f.set("a.test. 1 IN A 192.0.2.2")
	f.setMode(answer)
	f.restart()
	// Retries come at most 1s apart: the backoff is capped by the TTL.
	expect(t, "recovered", w.next(t, time.Second+slack, "recovered"), []Target{{"192.0.2.2:80", 1, false}})
	if n := logs.count(slog.LevelInfo, "recovered"); n != 1 {
		t.Errorf("recovery logged %d times, want 1", n)
	}
}

// A name that does not exist at start gives no update, until it does.
func TestWatchNXDomainAtStart(t *testing.T) {
	t.Parallel()
	f := newFakeDNS(t, "other.test. 1 IN A 192.0.2.1")
	r, logs := newTestResolver(t, f, Config{})
	w := startWatch(t, r, Query{Host: "a.test", Port: 80})
	w.none(t, 1500*time.Millisecond, "NXDOMAIN")
	if n := logs.count(slog.LevelWarn, "lookup failed"); n != 1 {
		t.Errorf("NXDOMAIN logged %d warnings, want 1", n)
	}
	// Retries at 1s then 3s (1s, then 2s of backoff) after the start.
	f.set("a.test. 1 IN A 192.0.2.1")
	expect(t, "created", w.next(t, 1500*time.Millisecond+slack, "created"), []Target{{"192.0.2.1:80", 1, false}})
}

// An invalid query is given up at once.
func TestWatchInvalidQuery(t *testing.T) {
	t.Parallel()
	f := newFakeDNS(t)
	r, logs := newTestResolver(t, f, Config{})
	for _, q := range []Query{{Host: "a..test", Port: 80}, {Host: "a.test", Port: 0}, {Host: "", SRV: true}} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.Watch(t.Context(), q, func(ts []Target) { t.Errorf("Watch(%+v): update(%v)", q, ts) })
		}()
		select {
		case <-done:
		case <-time.After(time.Second):
			t.Fatalf("Watch(%+v) still running after 1s, want it to return", q)
		}
	}
	if n := logs.count(slog.LevelError, "cannot watch"); n != 3 {
		t.Errorf("invalid queries logged %d errors, want 3", n)
	}
}

// Cancelling ctx stops Watch at once, with a query in flight or between
// lookups, and leaves no goroutine behind. Not parallel: it checks every
// goroutine.
func TestWatchStopsOnCancel(t *testing.T) {
	t.Run("query in flight", func(t *testing.T) {
		f := newFakeDNS(t, "a.test. 60 IN A 192.0.2.1")
		f.setMode(drop)
		r, _ := newTestResolver(t, f, Config{Timeout: 10 * time.Second})
		w := startWatch(t, r, Query{Host: "a.test", Port: 80})
		if !eventually(time.Second, func() bool { return f.count("a.test.", dns.TypeA) > 0 }) {
			t.Fatal("no query reached the server")
		}
		stopWatch(t, w)
	})
	t.Run("between lookups", func(t *testing.T) {
		f := newFakeDNS(t, "_x._tcp.test. 60 IN SRV 1 1 80 h.test.", "h.test. 60 IN A 192.0.2.1")
		r, _ := newTestResolver(t, f, Config{})
		w := startWatch(t, r, Query{Host: "_x._tcp.test", SRV: true})
		w.next(t, time.Second, "start")
		stopWatch(t, w)
	})
}

func stopWatch(t *testing.T, w *watcher) {
	t.Helper()
	start := time.Now()
	w.cancel()
	select {
	case <-w.done:
	case <-time.After(time.Second):
		t.Fatal("Watch still running 1s after cancel")
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("Watch returned %v after cancel, want at once", d)
	}
	checkNoResolverGoroutines(t)
}

// WatchLookups reports every lookup's outcome, answered or failed, as the
// set is kept.
func TestWatchLookups(t *testing.T) {
	t.Parallel()
	f := newFakeDNS(t, "a.test. 1 IN A 192.0.2.1")
	r, _ := newTestResolver(t, f, Config{Timeout: 500 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	looked := make(chan error, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.WatchLookups(ctx, Query{Host: "a.test", Port: 80}, func([]Target) {}, func(err error) { looked <- err })
	}()
	defer func() { cancel(); <-done }()
	next := func(what string) error {
		t.Helper()
		select {
		case err := <-looked:
			return err
		case <-time.After(3 * time.Second):
			t.Fatalf("%s: no lookup reported", what)
			return nil
		}
	}
	if err := next("start"); err != nil {
		t.Fatalf("first lookup reported %v, want nil", err)
	}
	if err := next("a refresh with no change"); err != nil {
		t.Fatalf("refresh reported %v, want nil", err)
	}
	f.setMode(servfail)
	// A refresh already in flight may still have been answered.
	for i := 0; next("SERVFAIL") == nil; i++ {
		if i == 2 {
			t.Fatal("lookups under SERVFAIL reported no error")
		}
	}
}
