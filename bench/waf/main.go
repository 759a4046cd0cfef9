// Command waf runs the request corpus of phalanx's waf package through
// OWASP Coraza v3 with the Core Rule Set (paranoia level 1, blocking at
// the CRS default inbound anomaly threshold of 5) and through phalanx's
// waf.Engine (default Config), and prints side by side the detection
// rate of each attack family, the false positive rate of the benign
// requests and the time each takes per request. See README.md.
//
//	cd bench/waf && go run .
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/phalanx-lb/phalanx/waf"
)

// entry is one request of the corpus (waf/testdata/corpus.jsonl).
type entry struct {
	ID          string            `json:"id"`
	Family      string            `json:"family"`
	Kind        string            `json:"kind"`
	Placement   string            `json:"placement"`
	Encoding    string            `json:"encoding"`
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	Query       string            `json:"query"`
	Headers     map[string]string `json:"headers"`
	ContentType string            `json:"content_type"`
	Body        string            `json:"body"`
}

const host = "shop.example.com"

// headers returns the request's headers in a fixed order, with the
// defaults the corpus leaves out: Host, Accept, Accept-Language,
// Content-Type and Content-Length.
func (e *entry) headers() [][2]string {
	h := [][2]string{{"Host", host}}
	keys := make([]string, 0, len(e.Headers))
	for k := range e.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h = append(h, [2]string{k, e.Headers[k]})
	}
	if _, ok := e.Headers["Accept"]; !ok {
		h = append(h, [2]string{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
	}
	if _, ok := e.Headers["Accept-Language"]; !ok {
		h = append(h, [2]string{"Accept-Language", "en-US,en;q=0.5"})
	}
	if e.ContentType != "" {
		h = append(h, [2]string{"Content-Type", e.ContentType})
	}
	if e.Body != "" || e.Method == "POST" || e.Method == "PUT" || e.Method == "PATCH" {
		h = append(h, [2]string{"Content-Length", fmt.Sprint(len(e.Body))})
	}
	return h
}

func (e *entry) uri() string {
	if e.Query != "" {
		return e.Path + "?" + e.Query
	}
	return e.Path
}

// raw returns the request as sent on the wire.
func (e *entry) raw() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", e.Method, e.uri())
	for _, kv := range e.headers() {
		fmt.Fprintf(&b, "%s: %s\r\n", kv[0], kv[1])
	}
	b.WriteString("\r\n")
	b.WriteString(e.Body)
	return b.Bytes()
}

// phalanxRequest returns the entry as net/http parses it, or, for the few
// that net/http refuses (an invalid escape in the path), as a request
// view of the kind another HTTP engine gives the waf.
func (e *entry) phalanxRequest() (*http.Request, *waf.Request) {
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(e.raw())))
	if err == nil {
		r.RemoteAddr = "198.51.100.7:40000"
		return r, nil
	}
	h := http.Header{}
	for _, kv := range e.headers() {
		h.Add(kv[0], kv[1])
	}
	return nil, &waf.Request{Method: e.Method, Path: e.Path, RawQuery: e.Query, Header: h, Body: []byte(e.Body),
		Client: netip.MustParseAddr("198.51.100.7")}
}

func load(path string) ([]entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// crsDirectives load the CRS at its defaults (paranoia level 1, inbound
// anomaly threshold 5) with the rule engine blocking. The one change to
// the CRS defaults is rule 900200's allowed methods, which gain PUT, PATCH
// and DELETE: the corpus has JSON APIs, which any deployment in front of
// one allows; left out, CRS refuses them by method alone.
const crsDirectives = `
Include @coraza.conf-recommended
SecRuleEngine On
SecResponseBodyAccess Off
SecAuditEngine Off
Include @crs-setup.conf.example
SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE'"
Include @owasp_crs/*.conf
`

// inspector is one of the two firewalls. prepare builds what inspect
// takes, outside the timing: phalanx's *http.Request (parsed from the raw
// bytes, as a server would have before the firewall runs); nothing for
// Coraza, which takes the request's strings.
type inspector struct {
	name    string
	prepare func(e *entry) any
	inspect func(e *entry, prepared any) (blocked bool, rules string)
}

func corazaInspector() (inspector, error) {
	w, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(crsDirectives))
	if err != nil {
		return inspector{}, err
	}
	return inspector{name: "coraza+crs", prepare: func(*entry) any { return nil }, inspect: func(e *entry, _ any) (bool, string) {
		tx := w.NewTransaction()
		defer func() {
			tx.ProcessLogging()
			tx.Close()
		}()
		tx.ProcessConnection("198.51.100.7", 40000, "192.0.2.1", 80)
		tx.ProcessURI(e.uri(), e.Method, "HTTP/1.1")
		for _, kv := range e.headers() {
			tx.AddRequestHeader(kv[0], kv[1])
		}
		tx.SetServerName(host)
		if it := tx.ProcessRequestHeaders(); it != nil {
			return true, corazaRules(tx)
		}
		if e.Body != "" {
			if it, _, err := tx.WriteRequestBody([]byte(e.Body)); it != nil || err != nil {
				return true, corazaRules(tx)
			}
		}
		it, err := tx.ProcessRequestBody()
		return it != nil || err != nil, corazaRules(tx)
	}}, nil
}

// corazaRules lists the ids of the attack rules a transaction matched
// (the scoring and initialisation rules left out).
func corazaRules(tx interface {
	MatchedRules() []types.MatchedRule
}) string {
	var ids []string
	for _, m := range tx.MatchedRules() {
		// Leave out the paranoia-level skips (9xx011 to 9xx018) and
		// the scoring.
		if id := m.Rule().ID(); id >= 911000 && id < 949000 && id%1000 >= 100 {
			ids = append(ids, fmt.Sprint(id))
		}
	}
	return strings.Join(ids, ",")
}

func phalanxInspector() (inspector, error) {
	e, err := waf.New(waf.Config{AutoBanThreshold: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return inspector{}, err
	}
	return inspector{name: "phalanx", prepare: func(c *entry) any {
		// A fresh request each time: Inspect puts back a body it has read.
		r, view := c.phalanxRequest()
		if r != nil {
			return r
		}
		return view
	}, inspect: func(c *entry, prepared any) (bool, string) {
		var v waf.Verdict
		switch x := prepared.(type) {
		case *http.Request:
			v = e.Inspect(x)
		case *waf.Request:
			v = e.Check(x, nil)
		}
		ids := make([]string, 0, len(v.Matches))
		for _, id := range v.RuleIDs() {
			ids = append(ids, fmt.Sprint(id))
		}
		return v.Block, strings.Join(ids, ",")
	}}, nil
}

type tally struct{ hit, n int }

func (t tally) pct() float64 {
	if t.n == 0 {
		return 0
	}
	return 100 * float64(t.hit) / float64(t.n)
}

type result struct {
	byFamily  map[string]*tally
	byPlace   map[string]*tally
	blocked   []bool
	rules     []string
	durations []time.Duration // per request, the median of the passes
}

// run inspects every entry passes times and keeps each request's median
// time. The time covers the firewall's work on a parsed request: for
// Coraza, a transaction from creation to the end of phase 2 (and its
// logging and close); for phalanx, Inspect, which includes reading the
// body.
func run(ins inspector, corpus []entry, passes int) result {
	res := result{byFamily: map[string]*tally{}, byPlace: map[string]*tally{}}
	res.blocked = make([]bool, len(corpus))
	res.rules = make([]string, len(corpus))
	res.durations = make([]time.Duration, len(corpus))
	// Warm up.
	for i := range min(200, len(corpus)) {
		ins.inspect(&corpus[i], ins.prepare(&corpus[i]))
	}
	runtime.GC()
	times := make([][]time.Duration, len(corpus))
	for range passes {
		for i := range corpus {
			x := ins.prepare(&corpus[i])
			start := time.Now()
			blocked, rules := ins.inspect(&corpus[i], x)
			times[i] = append(times[i], time.Since(start))
			res.blocked[i], res.rules[i] = blocked, rules
		}
	}
	for i, c := range corpus {
		slices.Sort(times[i])
		res.durations[i] = times[i][len(times[i])/2]
		fam := c.Family
		for _, k := range []string{fam, famGroup(fam)} {
			if k == "" {
				continue
			}
			if res.byFamily[k] == nil {
				res.byFamily[k] = &tally{}
			}
			res.byFamily[k].n++
			if res.blocked[i] {
				res.byFamily[k].hit++
			}
		}
		if fam != "benign" {
			k := fam + "/" + c.Placement
			if res.byPlace[k] == nil {
				res.byPlace[k] = &tally{}
			}
			res.byPlace[k].n++
			if res.blocked[i] {
				res.byPlace[k].hit++
			}
		}
	}
	return res
}

// famGroup puts the payload families together under "attacks".
func famGroup(f string) string {
	switch f {
	case "benign":
		return ""
	case "bot":
		return "all"
	}
	return "attacks"
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

func main() {
	corpusPath := flag.String("corpus", "../../waf/testdata/corpus.jsonl", "the corpus")
	passes := flag.Int("passes", 3, "times each request is inspected; its median time is kept")
	verbose := flag.Bool("v", false, "also print detection by placement and the requests the two disagree on")
	suite := flag.String("suite", "corpus", `"corpus" (waf/testdata/corpus.jsonl) or "crs" (the held-out CRS regression tests)`)
	flag.Parse()

	var corpus []entry
	var err error
	switch *suite {
	case "corpus":
		corpus, err = load(*corpusPath)
	case "crs":
		corpus, err = crsSuite()
		*corpusPath = "CRS regression tests, PL1 rules, positive tests"
	default:
		err = fmt.Errorf("unknown suite %q", *suite)
	}
	if err != nil {
		log.Fatal(err)
	}
	ph, err := phalanxInspector()
	if err != nil {
		log.Fatal(err)
	}
	cz, err := corazaInspector()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("corpus: %d requests (%s), %d passes, GOMAXPROCS %d, %s\n\n", len(corpus), *corpusPath, *passes, runtime.GOMAXPROCS(0), runtime.Version())
	rp := run(ph, corpus, *passes)
	rc := run(cz, corpus, *passes)

	fmt.Printf("%-12s %6s   %-18s %-18s\n", "family", "n", "phalanx", "coraza+crs (PL1)")
	for _, f := range []string{"sqli", "xss", "traversal", "rfi", "cmdi", "nosqli", "attacks", "bot", "all"} {
		tp, tc := rp.byFamily[f], rc.byFamily[f]
		if f == "all" && rp.byFamily["bot"] != nil && rp.byFamily["attacks"] != nil {
			// attacks + bot
			tp = &tally{rp.byFamily["attacks"].hit + rp.byFamily["bot"].hit, rp.byFamily["attacks"].n + rp.byFamily["bot"].n}
			tc = &tally{rc.byFamily["attacks"].hit + rc.byFamily["bot"].hit, rc.byFamily["attacks"].n + rc.byFamily["bot"].n}
		}
		if tp == nil {
			continue
		}
		fmt.Printf("%-12s %6d   %5d  %7.2f%%    %5d  %7.2f%%   detected\n", f, tp.n, tp.hit, tp.pct(), tc.hit, tc.pct())
	}
	if bp, bc := rp.byFamily["benign"], rc.byFamily["benign"]; bp != nil {
		fmt.Printf("%-12s %6d   %5d  %7.2f%%    %5d  %7.2f%%   false positives\n", "benign", bp.n, bp.hit, bp.pct(), bc.hit, bc.pct())
	}

	fmt.Printf("\ntime per request, over the corpus (median of %d passes each):\n", *passes)
	fmt.Printf("  %-12s p50 %9v   p99 %9v\n", "phalanx", percentile(rp.durations, 0.5).Round(100*time.Nanosecond), percentile(rp.durations, 0.99).Round(100*time.Nanosecond))
	fmt.Printf("  %-12s p50 %9v   p99 %9v\n", "coraza+crs", percentile(rc.durations, 0.5).Round(100*time.Nanosecond), percentile(rc.durations, 0.99).Round(100*time.Nanosecond))
	var bpd, bcd []time.Duration
	for i, c := range corpus {
		if c.Family == "benign" {
			bpd = append(bpd, rp.durations[i])
			bcd = append(bcd, rc.durations[i])
		}
	}
	if len(bpd) > 0 {
		fmt.Printf("benign requests only:\n")
		fmt.Printf("  %-12s p50 %9v   p99 %9v\n", "phalanx", percentile(bpd, 0.5).Round(100*time.Nanosecond), percentile(bpd, 0.99).Round(100*time.Nanosecond))
		fmt.Printf("  %-12s p50 %9v   p99 %9v\n", "coraza+crs", percentile(bcd, 0.5).Round(100*time.Nanosecond), percentile(bcd, 0.99).Round(100*time.Nanosecond))
	}

	if !*verbose {
		return
	}
	keys := make([]string, 0, len(rp.byPlace))
	for k := range rp.byPlace {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Printf("\ndetection by placement:\n")
	for _, k := range keys {
		fmt.Printf("  %-22s %4d   %7.2f%%   %7.2f%%\n", k, rp.byPlace[k].n, rp.byPlace[k].pct(), rc.byPlace[k].pct())
	}
	fmt.Printf("\ndisagreements (id: phalanx / coraza, with the rules each matched):\n")
	for i, c := range corpus {
		if rp.blocked[i] != rc.blocked[i] {
			fmt.Printf("  %-15s %-28s %-6v [%s] / %-6v [%s]\n", c.ID, c.Kind, rp.blocked[i], rp.rules[i], rc.blocked[i], rc.rules[i])
			if *suite == "crs" {
				var hs []string
				for k, v := range c.Headers {
					if k != "User-Agent" && k != "Accept" {
						hs = append(hs, k+": "+v)
					}
				}
				fmt.Printf("      %s %.200q %.200q %.200q\n", c.Method, c.uri(), c.Body, strings.Join(hs, "; "))
			}
		}
	}
}
