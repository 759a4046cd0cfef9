// Command corpusgen writes the request corpus that the waf package's
// tests and the bench/waf comparison run: attack requests of every rule
// family, in several encodings and placements, and benign requests of the
// shapes real sites receive. The output is deterministic for a given seed.
//
//	go run ./waf/internal/corpusgen -o waf/testdata/corpus.jsonl
//
// Each line is one JSON object (see Entry). An attack's payload is written
// first as an attacker would type it (payloads.go), then varied by an
// evasion of its family (case, comments, whitespace, quoting), then placed
// in a part of the request (path, query, header, cookie, form, JSON,
// multipart) and encoded for that place (url, double, %u, full, mixed, JSON
// escapes). Benign requests (benign.go) come from templates filled with
// text that real users send, much of which looks dangerous to a naive
// filter.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
)

// Entry is one request of the corpus.
type Entry struct {
	ID          string            `json:"id"`
	Family      string            `json:"family"`             // sqli, xss, traversal, rfi, cmdi, nosqli, bot, or benign
	Kind        string            `json:"kind"`               // what the request is (template or payload group)
	Placement   string            `json:"placement"`          // where the payload is: path, query, qname, header, cookie, form, json, multipart, ua
	Encoding    string            `json:"encoding,omitempty"` // how it was encoded there
	Method      string            `json:"method"`
	Path        string            `json:"path"`            // as sent on the request line
	Query       string            `json:"query,omitempty"` // raw query, as sent
	Headers     map[string]string `json:"headers,omitempty"`
	ContentType string            `json:"content_type,omitempty"`
	Body        string            `json:"body,omitempty"`
}

// gen carries the random source and the counters of one run.
type gen struct {
	r       *rand.Rand
	entries []Entry
	seq     map[string]int
}

func (g *gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *gen) add(e Entry) {
	g.seq[e.Family]++
	e.ID = fmt.Sprintf("%s-%04d", e.Family, g.seq[e.Family])
	if e.Headers == nil {
		e.Headers = map[string]string{}
	}
	if _, ok := e.Headers["User-Agent"]; !ok && e.Family != "bot" {
		e.Headers["User-Agent"] = g.pick(browserAgents)
	}
	g.entries = append(g.entries, e)
}

func main() {
	out := flag.String("o", "testdata/corpus.jsonl", "output file")
	seed := flag.Uint64("seed", 20260101, "random seed")
	flag.Parse()

	g := &gen{r: rand.New(rand.NewPCG(*seed, 0x9e3779b97f4a7c15)), seq: map[string]int{}}
	g.attacks()
	g.benign()

	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, e := range g.entries {
		if err := enc.Encode(e); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range g.entries {
		counts[e.Family+"/"+e.Placement]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s=%d ", k, counts[k])
	}
	fmt.Fprintf(os.Stderr, "%d entries: %s\n", len(g.entries), sb.String())
}
