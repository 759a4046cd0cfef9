package confparse

import (
	"fmt"
	"strings"
)

// closest returns the candidate most like s, or "" when none is close
// enough to be worth suggesting. A candidate is close when its edit
// distance (with transpositions) to s is at most a third of s's length
// (at least 1, at most 3), or when s, ignoring '_' and '-', is a prefix of
// at least 4 letters of it ("leastconn" for "leastconnections").
func closest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	limit := min(max(len(s)/3, 1), 3)
	ls := strings.ToLower(s)
	for _, c := range candidates {
		if len(c) > len(s)+limit || len(s) > len(c)+limit {
			continue // too far apart to be within limit; skip the work
		}
		if d := editDistance(ls, strings.ToLower(c)); d <= limit && d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	ns := squash(ls)
	if len(ns) < 4 {
		return ""
	}
	for _, c := range candidates {
		if strings.HasPrefix(squash(strings.ToLower(c)), ns) {
			return c
		}
	}
	return ""
}

// squash drops '_' and '-' so that "least_conn" and "leastconn" compare
// equal.
func squash(s string) string {
	return strings.NewReplacer("_", "", "-", "").Replace(s)
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent bytes each
// cost 1.
func editDistance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j]; three rows suffice.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// didYouMean returns `; did you mean "X"?` for the closest candidate, or
// otherwise; use one of A, B or C` when list is set, or "".
func didYouMean(s string, candidates []string, list bool) string {
	if c := closest(s, candidates); c != "" {
		return fmt.Sprintf("; did you mean %q?", c)
	}
	if list && len(candidates) > 0 {
		return "; use one of " + orList(candidates)
	}
	return ""
}

// orList formats "a", "a or b", "a, b or c".
func orList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// nginxHint explains directives that nginx has and phalanx spells
// differently. It returns "" for names it does not know.
func nginxHint(d *Directive) string {
	switch d.Name {
	case "proxy_pass":
		ex := "upstream NAME;"
		if len(d.Args) > 0 {
			host := stripScheme(d.Args[0].Value)
			if i := strings.LastIndexByte(host, ':'); i >= 0 {
				host = host[:i]
			}
			if validHostname(host) && !strings.Contains(host, ".") {
				ex = "upstream " + host + ";"
			}
		}
		return fmt.Sprintf(`"proxy_pass" is nginx syntax; in phalanx a route names its pool with %q, and backends are listed in an "upstream NAME { server HOST:PORT; }" block`, ex)
	case "location":
		return `"location" is nginx syntax; phalanx matches path prefixes with "route PREFIX { ... }" inside a server block`
	case "proxy_set_header":
		return `"proxy_set_header" is nginx syntax; phalanx sets request headers sent upstream with "add_header NAME VALUE;" inside a route`
	case "least_conn":
		return `"least_conn" is nginx syntax; write "algorithm leastconnections;" in the upstream block`
	case "ip_hash":
		return `"ip_hash" is nginx syntax; write "algorithm iphash;" in the upstream block`
	case "random":
		return `"random" is nginx syntax; write "algorithm random;" (or "algorithm p2c;" for two random choices) in the upstream block`
	case "worker_processes":
		return `"worker_processes" is nginx syntax; phalanx is one process, sized with "worker_threads N;" at the top level`
	case "client_header_buffer_size", "large_client_header_buffers":
		return fmt.Sprintf(`%q is nginx syntax; phalanx bounds the request line plus headers with "client_max_header_size SIZE;"`, d.Name)
	case "events":
		return `phalanx has no "events" block; remove it (worker_threads goes at the top level)`
	case "include":
		return `"include" is expanded only when reading a file with Load or ParseFile; LoadBytes and Parse read a single file`
	}
	return ""
}
