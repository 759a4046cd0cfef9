package resolve

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// LookupHost returns host's addresses from its A and AAAA records, each
// with port, and the smallest TTL among the records that gave them (the
// CNAMEs on the way included). The two questions are asked at once; the
// lookup fails unless both are answered, so that an answer for one family
// alone never stands for the whole set.
//
// CNAMEs are followed, at most MaxCNAME of them. The targets are sorted
// by address, without duplicates, at most MaxTargets of them (a warning
// is logged when more were found), each with Weight 1. An IP address as
// host is its own answer, with a TTL of MaxTTL and no query.
//
// The error wraps ErrNotFound (NXDOMAIN), ErrNoRecords (neither A nor
// AAAA), ErrServerFailure, ErrCNAMEChain, ErrInvalidName (also for a port
// outside 1..65535) or the network error of the last server tried.
func (r *Resolver) LookupHost(ctx context.Context, host string, port int) ([]Target, time.Duration, error) {
	q := Query{Host: host, Port: port}
	ts, ttl, found, err := r.lookup(ctx, q)
	r.logTruncated(q, found)
	return ts, ttl, err
}

// LookupSRV returns the targets of name's SRV records: every address of
// each record's target, with the record's port and weight (0 made 1), and
// Backup set for a record whose priority is above the lowest. The
// addresses come from the answer's additional section when it has them,
// and are looked up (as LookupHost would) otherwise; a target that does
// not exist is skipped, but a failure to look one up fails the whole
// lookup. A record whose target is "." (RFC 2782: no service) is skipped.
//
// The duration is the smallest TTL of the records used. The targets are
// sorted, primaries first, then by address; an address given by two
// records is kept once, with the lower priority and then the higher
// weight. At most MaxTargets are kept. Errors are those of LookupHost.
func (r *Resolver) LookupSRV(ctx context.Context, name string) ([]Target, time.Duration, error) {
	q := Query{Host: name, SRV: true}
	ts, ttl, found, err := r.lookup(ctx, q)
	r.logTruncated(q, found)
	return ts, ttl, err
}

// lookup runs q, counts it, and turns a panic into an error. found is the
// number of targets found, before the cut to MaxTargets.
func (r *Resolver) lookup(ctx context.Context, q Query) (ts []Target, ttl time.Duration, found int, err error) {
	r.lookups.Add(1)
	defer func() {
		if p := recover(); p != nil {
			r.logger().Error("resolve: panic in lookup", "name", q.Host, "panic", p, "stack", string(debug.Stack()))
			ts, ttl, found, err = nil, 0, 0, fmt.Errorf("resolve: panic in lookup of %s: %v", q.Host, p)
		}
		if err != nil {
			r.failures.Add(1)
		}
	}()
	var es []entry
	var secs uint32
	if q.SRV {
		es, secs, err = r.srv(ctx, q.Host)
	} else {
		es, secs, err = r.host(ctx, q.Host, q.Port)
	}
	if err != nil {
		return nil, 0, 0, err
	}
	ts, found = targets(es)
	return ts, time.Duration(secs) * time.Second, found, nil
}

func (r *Resolver) logTruncated(q Query, found int) {
	if found > MaxTargets {
		r.logger().Warn("resolve: too many targets, keeping the first", "name", q.Host, "found", found, "kept", MaxTargets)
	}
}

// entry is a target before sorting.
type entry struct {
	addr   netip.AddrPort
	weight int
	prio   uint16 // SRV priority; 0 for a host
}

// host looks up name's addresses and gives each the port.
func (r *Resolver) host(ctx context.Context, name string, port int) ([]entry, uint32, error) {
	if port < 1 || port > math.MaxUint16 {
		return nil, 0, fmt.Errorf("%w: port %d of %s", ErrInvalidName, port, name)
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")); err == nil {
		return []entry{{addr: netip.AddrPortFrom(a, uint16(port)), weight: 1}}, uint32(MaxTTL / time.Second), nil
	}
	fqdn, err := checkName(name)
	if err != nil {
		return nil, 0, err
	}
	addrs, ttl, err := r.addrs(ctx, fqdn)
	if err != nil {
		return nil, 0, err
	}
	es := make([]entry, len(addrs))
	for i, a := range addrs {
		es[i] = entry{addr: netip.AddrPortFrom(a, uint16(port)), weight: 1}
	}
	return es, ttl, nil
}

// checkName returns name as an absolute domain name, or an error.
func checkName(name string) (string, error) {
	if _, ok := dns.IsDomainName(name); !ok || name == "" || name == "." {
		return "", fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return dns.Fqdn(name), nil
}

// addrs asks for name's A and AAAA records at once.
func (r *Resolver) addrs(ctx context.Context, name string) ([]netip.Addr, uint32, error) {
	type result struct {
		rrs []dns.RR
		ttl uint32
		err error
	}
	six := make(chan result, 1)
	go func() {
		rrs, _, ttl, err := r.resolve(ctx, name, dns.TypeAAAA)
		six <- result{rrs, ttl, err}
	}()
	var four result
	four.rrs, _, four.ttl, four.err = r.resolve(ctx, name, dns.TypeA)
	res := [2]result{four, <-six}

	for _, x := range res {
		if x.err != nil && !errors.Is(x.err, ErrNotFound) && !errors.Is(x.err, ErrNoRecords) {
			return nil, 0, x.err
		}
	}
	var addrs []netip.Addr
	ttl := uint32(math.MaxUint32)
	for _, x := range res {
		if len(x.rrs) > 0 {
			addrs = append(addrs, addrsOf(x.rrs)...)
			ttl = min(ttl, x.ttl)
		}
	}
	if len(addrs) == 0 {
		for _, x := range res {
			if errors.Is(x.err, ErrNotFound) {
				return nil, 0, x.err
			}
		}
		return nil, 0, fmt.Errorf("%w: no A or AAAA for %s", ErrNoRecords, name)
	}
	return addrs, ttl, nil
}

// addrsOf returns the addresses of the A and AAAA records in rrs.
func addrsOf(rrs []dns.RR) []netip.Addr {
	var addrs []netip.Addr
	for _, rr := range rrs {
		var a netip.Addr
		var ok bool
		switch rr := rr.(type) {
		case *dns.A:
			a, ok = netip.AddrFromSlice(rr.A.To4())
		case *dns.AAAA:
			a, ok = netip.AddrFromSlice(rr.AAAA.To16())
		}
		if ok {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// resolve asks for name's records of qtype, following CNAMEs (in the
// answer, or by asking again for the end of the chain) up to MaxCNAME. It
// returns the records of qtype owned by the end of the chain, the
// additional section of the answer that had them, and the smallest TTL of
// those records and the CNAMEs.
func (r *Resolver) resolve(ctx context.Context, name string, qtype uint16) (rrs, extra []dns.RR, ttl uint32, err error) {
	ttl = math.MaxUint32
	hops := 0
	for {
		m, err := r.exchange(ctx, name, qtype)
		if err != nil {
			return nil, nil, 0, err
		}
		cur := name
		for {
			for _, rr := range m.Answer {
				h := rr.Header()
				if h.Rrtype == qtype && h.Class == dns.ClassINET && strings.EqualFold(h.Name, cur) {
					rrs = append(rrs, rr)
					ttl = min(ttl, h.Ttl)
				}
			}
			if len(rrs) > 0 {
				return rrs, m.Extra, ttl, nil
			}
			cname := findCNAME(m.Answer, cur)
			if cname == nil {
				break
			}
			if hops++; hops > MaxCNAME {
				return nil, nil, 0, fmt.Errorf("%w: more than %d from %s", ErrCNAMEChain, MaxCNAME, name)
			}
			ttl = min(ttl, cname.Hdr.Ttl)
			cur = dns.Fqdn(cname.Target)
		}
		if m.Rcode == dns.RcodeNameError {
			return nil, nil, 0, fmt.Errorf("%w: %s", ErrNotFound, cur)
		}
		if cur == name {
			return nil, nil, 0, fmt.Errorf("%w: no %s for %s", ErrNoRecords, dns.TypeToString[qtype], name)
		}
		name = cur // the chain goes on past this answer: ask for its end
	}
}

// findCNAME returns the CNAME record owned by name in rrs, or nil.
func findCNAME(rrs []dns.RR, name string) *dns.CNAME {
	for _, rr := range rrs {
		if c, ok := rr.(*dns.CNAME); ok && c.Hdr.Class == dns.ClassINET && strings.EqualFold(c.Hdr.Name, name) {
			return c
		}
	}
	return nil
}

// srv looks up name's SRV records and their targets' addresses.
func (r *Resolver) srv(ctx context.Context, name string) ([]entry, uint32, error) {
	fqdn, err := checkName(name)
	if err != nil {
		return nil, 0, err
	}
	rrs, extra, ttl, err := r.resolve(ctx, fqdn, dns.TypeSRV)
	if err != nil {
		return nil, 0, err
	}
	var srvs []*dns.SRV
	for _, rr := range rrs {
		if s, ok := rr.(*dns.SRV); ok && s.Target != "." {
			srvs = append(srvs, s)
		}
	}
	if len(srvs) == 0 {
		return nil, 0, fmt.Errorf("%w: no SRV target for %s", ErrNoRecords, fqdn)
	}
	// Keep the MaxTargets best records, so that at most that many
	// targets are looked up.
	slices.SortFunc(srvs, func(a, b *dns.SRV) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(b.Weight, a.Weight),
			strings.Compare(strings.ToLower(a.Target), strings.ToLower(b.Target)), cmp.Compare(a.Port, b.Port))
	})
	if len(srvs) > MaxTargets {
		r.logger().Warn("resolve: too many SRV records, keeping the first", "name", fqdn, "found", len(srvs), "kept", MaxTargets)
		srvs = srvs[:MaxTargets]
	}

	// The addresses of each target: from the additional section, or
	// looked up, a few at a time.
	type hostAddrs struct {
		addrs []netip.Addr
		ttl   uint32
		err   error
	}
	hosts := make(map[string]*hostAddrs)
	var wg sync.WaitGroup
	sem := make(chan struct{}, hostLookups)
	for _, s := range srvs {
		target := strings.ToLower(dns.Fqdn(s.Target))
		if hosts[target] != nil {
			continue
		}
		h := &hostAddrs{ttl: math.MaxUint32}
		hosts[target] = h
		for _, rr := range extra {
			hd := rr.Header()
			if (hd.Rrtype == dns.TypeA || hd.Rrtype == dns.TypeAAAA) && hd.Class == dns.ClassINET && strings.EqualFold(hd.Name, target) {
				h.addrs = append(h.addrs, addrsOf([]dns.RR{rr})...)
				h.ttl = min(h.ttl, hd.Ttl)
			}
		}
		if len(h.addrs) > 0 {
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				h.addrs, h.ttl, h.err = r.addrs(ctx, target)
			case <-ctx.Done():
				h.err = ctx.Err()
			}
		})
	}
	wg.Wait()

	var es []entry
	for _, s := range srvs {
		h := hosts[strings.ToLower(dns.Fqdn(s.Target))]
		if h.err != nil {
			if errors.Is(h.err, ErrNotFound) || errors.Is(h.err, ErrNoRecords) {
				continue
			}
			return nil, 0, fmt.Errorf("resolve: target %s of %s: %w", s.Target, fqdn, h.err)
		}
		ttl = min(ttl, h.ttl)
		w := max(int(s.Weight), 1)
		for _, a := range h.addrs {
			es = append(es, entry{addr: netip.AddrPortFrom(a, s.Port), weight: w, prio: s.Priority})
		}
	}
	if len(es) == 0 {
		return nil, 0, fmt.Errorf("%w: no address for the SRV targets of %s", ErrNoRecords, fqdn)
	}
	return es, ttl, nil
}

// targets sorts es (primaries first, then by address), drops duplicate
// addresses (keeping the lower priority, then the higher weight) and
// keeps at most MaxTargets. found is the number before that cut.
func targets(es []entry) (ts []Target, found int) {
	slices.SortFunc(es, func(a, b entry) int {
		return cmp.Or(a.addr.Compare(b.addr), cmp.Compare(a.prio, b.prio), cmp.Compare(b.weight, a.weight))
	})
	es = slices.CompactFunc(es, func(a, b entry) bool { return a.addr == b.addr })
	lowest := slices.MinFunc(es, func(a, b entry) int { return cmp.Compare(a.prio, b.prio) }).prio
	backup := func(e entry) int {
		if e.prio > lowest {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(es, func(a, b entry) int { return cmp.Compare(backup(a), backup(b)) })
	found = len(es)
	es = es[:min(len(es), MaxTargets)]
	ts = make([]Target, len(es))
	for i, e := range es {
		ts[i] = Target{Addr: e.addr.String(), Weight: e.weight, Backup: e.prio > lowest}
	}
	return ts, found
}
