package waf_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/phalanx-lb/phalanx/waf"
)

// entry is one request of testdata/corpus.jsonl, written by
// internal/corpusgen.
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

// raw returns the request as sent on the wire.
func (e *entry) raw() []byte {
	var b bytes.Buffer
	target := e.Path
	if e.Query != "" {
		target += "?" + e.Query
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: shop.example.com\r\n", e.Method, target)
	keys := make([]string, 0, len(e.Headers))
	for k := range e.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\r\n", k, e.Headers[k])
	}
	if _, ok := e.Headers["Accept"]; !ok {
		b.WriteString("Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n")
	}
	if _, ok := e.Headers["Accept-Language"]; !ok {
		b.WriteString("Accept-Language: en-US,en;q=0.5\r\n")
	}
	if e.ContentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", e.ContentType)
	}
	if e.Body != "" || e.Method == "POST" || e.Method == "PUT" || e.Method == "PATCH" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(e.Body))
	}
	b.WriteString("\r\n")
	b.WriteString(e.Body)
	return b.Bytes()
}

// payloadText returns the part of the request the payload was put in,
// normalised, for the log of a miss.
func (e *entry) payloadText() string {
	var s string
	switch e.Placement {
	case "path":
		s = e.Path
	case "query", "qname":
		s = e.Query
	case "cookie":
		s = e.Headers["Cookie"]
	case "header", "ua":
		for _, h := range []string{"Referer", "X-Forwarded-For", "X-Forwarded-Host", "User-Agent"} {
			if v, ok := e.Headers[h]; ok {
				s = v
				break
			}
		}
	default:
		s = e.Body
	}
	return waf.Normalize(s, e.Placement == "query" || e.Placement == "form")
}

// request parses the entry as a server would.
func (e *entry) request() (*http.Request, error) {
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(e.raw())))
	if err != nil {
		return nil, err
	}
	r.RemoteAddr = "198.51.100.7:40000"
	return r, nil
}

// view returns the entry as a request view, for the few requests that
// net/http refuses to parse (an invalid escape in the path) but a more
// lenient server accepts.
func (e *entry) view() *waf.Request {
	h := http.Header{}
	for k, v := range e.Headers {
		h.Set(k, v)
	}
	if e.ContentType != "" {
		h.Set("Content-Type", e.ContentType)
	}
	return &waf.Request{Method: e.Method, Path: e.Path, RawQuery: e.Query, Header: h, Body: []byte(e.Body),
		Client: netip.MustParseAddr("198.51.100.7")}
}

// inspect runs the entry through e, as an *http.Request if net/http can
// parse it and as a view otherwise.
func (c *entry) inspect(e *waf.Engine) waf.Verdict {
	r, err := c.request()
	if err != nil {
		return e.Check(c.view(), nil)
	}
	return e.Inspect(r)
}

func loadCorpus(t testing.TB) []entry {
	t.Helper()
	f, err := os.Open("testdata/corpus.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("testdata/corpus.jsonl:%d: %v", line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// tally counts hits out of a total.
type tally struct{ hit, n int }

func (t tally) rate() float64 {
	if t.n == 0 {
		return 0
	}
	return 100 * float64(t.hit) / float64(t.n)
}

// corpusFloors are the rates the engine reached on the corpus at the
// default settings, rounded down a little: detection per family (percent
// detected), and false positives (percent of benign requests blocked,
// which must stay at or below the ceiling).
var (
	detectionFloors = map[string]float64{
		"sqli": 99.5, "xss": 99.5, "traversal": 99.5, "rfi": 98, "cmdi": 99.5, "nosqli": 99.5, "bot": 99, "all": 99.5,
	}
	falsePositiveCeiling = 0.5
)

// TestCorpus runs the corpus through an engine with the default settings
// and prints the detection rate of each attack family and the false
// positive rate of the benign requests; it fails if a rate is worse than
// the floor the engine reached. Run it with -v to see the tables.
func TestCorpus(t *testing.T) {
	corpus := loadCorpus(t)
	e, err := waf.New(waf.Config{AutoBanThreshold: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	fam := map[string]*tally{}
	place := map[string]*tally{}
	benignKind := map[string]*tally{}
	var missed, fps []string
	get := func(m map[string]*tally, k string) *tally {
		if m[k] == nil {
			m[k] = &tally{}
		}
		return m[k]
	}
	for _, c := range corpus {
		v := c.inspect(e)
		hit := 0
		if v.Block {
			hit = 1
		}
		if c.Family == "benign" {
			k := strings.SplitN(c.Kind, "/", 2)[0]
			get(benignKind, k).hit += hit
			get(benignKind, k).n++
			get(fam, "benign").hit += hit
			get(fam, "benign").n++
			if hit == 1 {
				fps = append(fps, fmt.Sprintf("%s %v %s", c.ID, v.RuleIDs(), v.Matches[0].Value))
			}
			continue
		}
		for _, k := range []string{c.Family, "all"} {
			get(fam, k).hit += hit
			get(fam, k).n++
		}
		get(place, c.Family+"/"+c.Placement).hit += hit
		get(place, c.Family+"/"+c.Placement).n++
		if hit == 0 {
			missed = append(missed, fmt.Sprintf("%s %s %s score %d %v: %.160s", c.ID, c.Kind, c.Encoding, v.Score, v.RuleIDs(), c.payloadText()))
		}
	}
	t.Logf("detection by family (default config: paranoia 1, threshold 5):")
	for _, k := range []string{"sqli", "xss", "traversal", "rfi", "cmdi", "nosqli", "bot", "all"} {
		f := get(fam, k)
		t.Logf("  %-10s %5d/%-5d %6.2f%%", k, f.hit, f.n, f.rate())
		if f.rate() < detectionFloors[k] {
			t.Errorf("detection of %s = %.2f%%, want at least %.2f%%", k, f.rate(), detectionFloors[k])
		}
	}
	b := get(fam, "benign")
	t.Logf("false positives: %d/%d %.2f%%", b.hit, b.n, b.rate())
	if b.rate() > falsePositiveCeiling {
		t.Errorf("false positives = %.2f%%, want at most %.2f%%", b.rate(), falsePositiveCeiling)
	}
	keys := make([]string, 0, len(benignKind))
	for k := range benignKind {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("  benign %-8s %3d/%-4d %5.2f%%", k, benignKind[k].hit, benignKind[k].n, benignKind[k].rate())
	}
	keys = keys[:0]
	for k := range place {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("detection by placement:")
	for _, k := range keys {
		t.Logf("  %-20s %4d/%-4d %6.2f%%", k, place[k].hit, place[k].n, place[k].rate())
	}
	if testing.Verbose() {
		for _, m := range missed {
			t.Logf("missed %s", m)
		}
		for _, f := range fps {
			t.Logf("false positive %s", f)
		}
	}
}
