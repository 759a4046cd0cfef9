package waf_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"time"

	"github.com/phalanx-lb/phalanx/waf"
)

// Inspect returns a verdict: whether to block, why, and the rules that
// matched.
func ExampleEngine_Inspect() {
	e, err := waf.New(waf.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	for _, target := range []string{
		"/search?q=O%27Brien+%22red+dress%22",
		"/search?q=1%27+UNION+SELECT+password+FROM+users--",
		"/download?file=..%252f..%252fetc%252fpasswd",
	} {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")
		v := e.Inspect(r)
		fmt.Printf("block=%v cause=%v family=%v\n", v.Block, v.Cause, v.Family())
	}
	// Output:
	// block=false cause=none family=none
	// block=true cause=payload family=sqli
	// block=true cause=payload family=traversal
}

// Middleware answers 403, naming the request id, to the requests it
// blocks; the others reach the handler with their body intact.
func ExampleMiddleware() {
	e, err := waf.New(waf.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %q\n", b)
	})
	srv := httptest.NewServer(waf.Middleware(e, echo))
	defer srv.Close()
	send := func(body string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/comments", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")
		req.Header.Set("X-Request-Id", "abc123")
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s", resp.StatusCode, b)
	}
	send("text=Great+shoes%2C+5%2F5")
	send("text=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E")
	// Output:
	// 200 got "text=Great+shoes%2C+5%2F5"
	// 403 Forbidden: the request was blocked by the web application firewall.
	// Request id: abc123
}

// A client that keeps attacking is banned: each blocked attack is 3
// strikes, and more than 15 bring a ban of an hour. The clock is fake.
func ExampleEngine_Bans() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	e, err := waf.New(waf.Config{
		Now:    func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	attack := func() waf.Verdict {
		r := httptest.NewRequest(http.MethodGet, "/ping?host=127.0.0.1%3Bcat+/etc/passwd", nil)
		r.RemoteAddr = "203.0.113.9:51000"
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")
		return e.Inspect(r)
	}
	for i := 1; i <= 6; i++ {
		v := attack()
		fmt.Printf("attack %d: %v strikes, banned now: %v\n", i, e.Strikes(netip.MustParseAddr("203.0.113.9")), v.Banned)
	}
	for _, b := range e.Bans() {
		fmt.Println("ban:", b.Client, "until", b.Until.Format(time.TimeOnly), b.Reason)
	}
	e.Unban(netip.MustParseAddr("203.0.113.9"))
	fmt.Println("bans after Unban:", len(e.Bans()))
	// Output:
	// attack 1: 3 strikes, banned now: false
	// attack 2: 6 strikes, banned now: false
	// attack 3: 9 strikes, banned now: false
	// attack 4: 12 strikes, banned now: false
	// attack 5: 15 strikes, banned now: false
	// attack 6: 18 strikes, banned now: true
	// ban: 203.0.113.9/32 until 13:00:00 auto-ban
	// bans after Unban: 0
}

// A route whose users legitimately post SQL turns the SQL injection rules
// off for that route only.
func ExampleParseExclusions() {
	x, err := waf.ParseExclusions("sqli", "4001")
	if err != nil {
		panic(err)
	}
	fmt.Println(x.Families, x.IDs)
	_, err = waf.ParseExclusions("sqlinjection")
	fmt.Println(err)
	// Output:
	// [sqli] [4001]
	// waf: unknown rule family: "sqlinjection"
}

// Normalize shows what the rules see of a value.
func ExampleNormalize() {
	fmt.Println(waf.Normalize("1%2527%20UnIoN/**/SeLeCt%20%26lt;x%26gt;", false))
	fmt.Println(waf.Normalize("..%c0%af..%c0%afetc%c0%afpasswd", false))
	// Output:
	// 1' union select <x>
	// ../../etc/passwd
}
