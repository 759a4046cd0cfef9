package phalanx

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/phalanx-lb/phalanx/waf"
)

// routeTable is the immutable, pre-sorted form of the configured routes.
type routeTable struct {
	exact    map[string][]*route // lower-case host -> routes, longest path first
	wildcard []wildcardRoutes    // longest suffix first
	anyHost  []*route            // routes without a Host, longest path first
}

type wildcardRoutes struct {
	suffix string // ".example.com"
	routes []*route
}

// route is a Route with what the request path needs precomputed.
type route struct {
	Route
	name string // "host/path" for logs and metrics
	up   *upstream
	wafX *waf.Exclusions // WAFExclude parsed; nil: none
}

func newRouteTable(routes []*route) (*routeTable, error) {
	t := &routeTable{exact: make(map[string][]*route)}
	seen := make(map[string]bool, len(routes))
	wild := make(map[string][]*route)
	for _, r := range routes {
		if r.Path == "" {
			r.Path = "/"
		}
		if !strings.HasPrefix(r.Path, "/") {
			return nil, fmt.Errorf("route %q: path must start with /", r.Path)
		}
		host := strings.ToLower(r.Host)
		r.name = host + r.Path
		if seen[r.name] {
			return nil, fmt.Errorf("route %s defined twice", r.name)
		}
		seen[r.name] = true
		switch {
		case host == "":
			t.anyHost = append(t.anyHost, r)
		case strings.HasPrefix(host, "*."):
			wild[host[1:]] = append(wild[host[1:]], r)
		case strings.Contains(host, "*"):
			return nil, fmt.Errorf("route %s: only a leading \"*.\" wildcard is supported in a host", r.name)
		default:
			t.exact[host] = append(t.exact[host], r)
		}
	}
	for _, rs := range t.exact {
		sortByPath(rs)
	}
	for suffix, rs := range wild {
		sortByPath(rs)
		t.wildcard = append(t.wildcard, wildcardRoutes{suffix: suffix, routes: rs})
	}
	sort.Slice(t.wildcard, func(i, j int) bool {
		a, b := t.wildcard[i].suffix, t.wildcard[j].suffix
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return a < b
	})
	sortByPath(t.anyHost)
	return t, nil
}

func sortByPath(rs []*route) {
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].Path) > len(rs[j].Path) })
}

// match returns the route for host and path, or nil. Routes for the exact
// host come first, then wildcard hosts (longest suffix first), then routes
// for any host; within a set the longest matching path prefix wins.
func (t *routeTable) match(host, path string) *route {
	host = hostOnly(host)
	if rs, ok := t.exact[host]; ok {
		if r := longestPrefix(rs, path); r != nil {
			return r
		}
	} else if host != "" && hasUpper(host) {
		if r := longestPrefix(t.exact[strings.ToLower(host)], path); r != nil {
			return r
		}
	}
	for _, w := range t.wildcard {
		if len(host) > len(w.suffix) && strings.EqualFold(host[len(host)-len(w.suffix):], w.suffix) {
			if r := longestPrefix(w.routes, path); r != nil {
				return r
			}
		}
	}
	return longestPrefix(t.anyHost, path)
}

func longestPrefix(rs []*route, path string) *route {
	for _, r := range rs {
		if strings.HasPrefix(path, r.Path) {
			return r
		}
	}
	return nil
}

// hostOnly strips a port from a Host header value, keeping IPv6 brackets
// out of the result.
func hostOnly(h string) string {
	if h == "" || strings.IndexByte(h, ':') < 0 {
		return h // the common case, without SplitHostPort's error
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
