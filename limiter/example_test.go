package limiter_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/phalanx-lb/phalanx/limiter"
)

// A client may burst, then waits for its bucket to refill; another client
// has a bucket of its own. The clock is fake: every Allow is given its time.
func ExampleKeyed() {
	k, err := limiter.New(limiter.Config{Rate: 2, Burst: 3}) // 2 events/s, bursts of 3
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	alice := netip.MustParseAddr("192.0.2.1")
	bob := netip.MustParseAddr("2001:db8::1")
	show := func(who string, client netip.Addr, at time.Duration) {
		d := k.Allow(client, start.Add(at))
		if d.Allowed {
			fmt.Printf("%-5s at %v: allowed\n", who, at)
		} else {
			fmt.Printf("%-5s at %v: refused, retry after %v\n", who, at, d.RetryAfter)
		}
	}
	for range 4 {
		show("alice", alice, 0)
	}
	show("bob", bob, 0)
	// Counted now: by 500ms bob's bucket has refilled, and a refilled
	// bucket may be dropped by any later call that passes its shard.
	fmt.Println("clients tracked:", k.Len())
	show("alice", alice, 500*time.Millisecond)
	show("alice", alice, 500*time.Millisecond)
	// Output:
	// alice at 0s: allowed
	// alice at 0s: allowed
	// alice at 0s: allowed
	// alice at 0s: refused, retry after 500ms
	// bob   at 0s: allowed
	// clients tracked: 2
	// alice at 500ms: allowed
	// alice at 500ms: refused, retry after 500ms
}

// Middleware answers 429 with Retry-After once a client has spent its
// burst. Behind a proxy, pass a client func that reads X-Forwarded-For.
func ExampleMiddleware() {
	k, err := limiter.New(limiter.Config{Rate: 1.0 / 60, Burst: 2}) // one a minute, bursts of 2
	if err != nil {
		panic(err)
	}
	var refused limiter.Refusals
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") })
	srv := httptest.NewServer(limiter.Middleware(k, nil, &refused, hello))
	defer srv.Close()
	for range 3 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			fmt.Println(resp.Status, "Retry-After:", ra)
		} else {
			fmt.Println(resp.Status)
		}
	}
	fmt.Println("refused:", refused.Client.Load())
	// Output:
	// 200 OK
	// 200 OK
	// 429 Too Many Requests Retry-After: 60
	// refused: 1
}
