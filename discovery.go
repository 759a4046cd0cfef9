package phalanx

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phalanx-lb/phalanx/lb"
	"github.com/phalanx-lb/phalanx/resolve"
)

// WithResolver sets how the servers of an Upstream marked Resolve or SRV
// are looked up (see package resolve): the DNS servers (by default those
// of /etc/resolv.conf), an interval that replaces the records' TTL, and
// the query timeout. The config file's "resolver ADDR... [valid=D]
// [timeout=D];".
func WithResolver(c resolve.Config) Option {
	return optionFunc(func(cfg *config) { cfg.resolver = &c })
}

// discovery keeps the backends of an upstream's Resolve and SRV servers
// in its pool as DNS answers change, without a reload: an address that
// stays keeps its backend (health, counts, what a learning policy
// learned), a new one joins and is health-checked like a static one, and
// one that is gone leaves. A failed lookup keeps the last good set.
type discovery struct {
	u            *upstream
	static       []*lb.Backend
	staticProtos map[string]int
	servers      []*dynServer
	res          *resolve.Resolver
	logger       *slog.Logger

	mu     sync.Mutex // protects the servers' targets
	apply  sync.Mutex // serialises membership changes
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// dynServer is one Resolve or SRV server line and what DNS last said.
type dynServer struct {
	spec    UpstreamServer
	proto   int
	targets []resolve.Target // the last good answer; nil before one
	// ok: the last lookup of the line was answered (for the metrics).
	ok atomic.Bool
}

// firstLookupTimeout bounds the lookups New and Reload wait for, so that
// a pool starts with its discovered backends when DNS answers.
const firstLookupTimeout = 3 * time.Second

// newDiscovery prepares discovery for the dynamic servers specs of u.
// Each starts with the targets the same server line of prev (the upstream
// u replaces) had, or else with a first lookup; a failed first lookup
// leaves it empty until the watcher gets an answer.
func newDiscovery(u *upstream, static []*lb.Backend, staticProtos map[string]int, specs []UpstreamServer,
	res *resolve.Resolver, prev *upstream, logger *slog.Logger) *discovery {
	d := &discovery{u: u, static: static, staticProtos: staticProtos, res: res, logger: logger}
	var old *discovery
	if prev != nil {
		old = prev.disc
	}
	for _, sv := range specs {
		proto, _ := backendProto(sv.Protocol) // checked by the caller
		ds := &dynServer{spec: sv, proto: proto}
		if ts, ok := old.targetsOf(sv); ok {
			ds.targets = ts
			ds.ok.Store(true)
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), firstLookupTimeout)
			ts, err := d.lookup(ctx, sv)
			cancel()
			ds.ok.Store(err == nil)
			if err != nil {
				logger.Warn("discovery: first lookup failed; its backends join when DNS answers",
					"upstream", u.name, "server", sv.Addr, "error", err)
			} else {
				ds.targets = ts
			}
		}
		d.servers = append(d.servers, ds)
	}
	return d
}

// targetsOf returns what the server line sv last resolved to, if d (which
// may be nil) has that line.
func (d *discovery) targetsOf(sv UpstreamServer) ([]resolve.Target, bool) {
	if d == nil {
		return nil, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ds := range d.servers {
		if ds.spec == sv && ds.targets != nil {
			return ds.targets, true
		}
	}
	return nil, false
}

// query is the DNS question of server line sv.
func query(sv UpstreamServer) (resolve.Query, error) {
	if sv.SRV {
		return resolve.Query{Host: sv.Addr, SRV: true}, nil
	}
	host, port, err := net.SplitHostPort(sv.Addr)
	if err != nil {
		return resolve.Query{}, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return resolve.Query{}, err
	}
	return resolve.Query{Host: host, Port: p}, nil
}

func (d *discovery) lookup(ctx context.Context, sv UpstreamServer) ([]resolve.Target, error) {
	q, err := query(sv)
	if err != nil {
		return nil, err
	}
	if q.SRV {
		ts, _, err := d.res.LookupSRV(ctx, q.Host)
		return ts, err
	}
	ts, _, err := d.res.LookupHost(ctx, q.Host, q.Port)
	return ts, err
}

// appendFound appends a backend for each discovered address not already
// in members, noting the protocol of those not spoken to over HTTP/1.1.
func (d *discovery) appendFound(members []*lb.Backend, protos map[string]int) []*lb.Backend {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ds := range d.servers {
		for _, t := range ds.targets {
			if slices.ContainsFunc(members, func(b *lb.Backend) bool { return b.Addr() == t.Addr }) {
				continue
			}
			weight := ds.spec.Weight
			if ds.spec.SRV {
				weight = t.Weight
			}
			b, err := newServerBackend(ds.spec, t.Addr, weight, ds.spec.Backup || t.Backup)
			if err != nil {
				d.logger.Warn("discovery: unusable address", "upstream", d.u.name, "server", ds.spec.Addr,
					"addr", t.Addr, "error", err)
				continue
			}
			if ds.proto != protoHTTP1 {
				protos[t.Addr] = ds.proto
			}
			members = append(members, b)
		}
	}
	return members
}

// start watches every dynamic server until stop.
func (d *discovery) start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	for _, ds := range d.servers {
		q, err := query(ds.spec)
		if err != nil {
			d.logger.Error("discovery: bad server address", "upstream", d.u.name, "server", ds.spec.Addr, "error", err)
			continue
		}
		d.wg.Go(func() {
			d.res.WatchLookups(ctx, q, func(ts []resolve.Target) { d.update(ds, ts) },
				func(err error) { ds.ok.Store(err == nil) })
		})
	}
}

// update applies a new answer for ds to the pool.
func (d *discovery) update(ds *dynServer, ts []resolve.Target) {
	d.mu.Lock()
	ds.targets = ts
	d.mu.Unlock()
	u := d.u
	// Membership changes are serialised by the pool; take the members
	// and publish the protocols and pools under one lock of our own.
	d.apply.Lock()
	defer d.apply.Unlock()
	members, protos := u.members(d.static, d.staticProtos)
	// Publish the joiners' protocols and connection pools before the pool
	// can hand them out, keeping those of the current members.
	both := maps.Clone(*u.protos.Load())
	maps.Copy(both, protos)
	u.setMembers(append(slices.Clone(u.pool.Backends()), members...), both, *u.h1.Load())
	joined, left, err := u.pool.SetBackends(members)
	if err != nil {
		d.logger.Error("discovery: pool not updated", "upstream", u.name, "error", err)
		return
	}
	for _, p := range u.setMembers(u.pool.Backends(), protos, *u.h1.Load()) {
		p.close()
	}
	if len(joined)+len(left) > 0 {
		d.logger.Info("discovery: pool changed", "upstream", u.name, "server", ds.spec.Addr,
			"joined", len(joined), "left", len(left), "backends", len(u.pool.Backends()))
	}
}

// lineStatus is what discovery knows of one server line, for the metrics.
type lineStatus struct {
	server  string // the line's name (host:port, or the SRV name)
	ok      bool   // its last lookup was answered
	targets int    // addresses in its last good answer
}

// status returns the state of each server line, in configuration order.
func (d *discovery) status() []lineStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := make([]lineStatus, len(d.servers))
	for i, ds := range d.servers {
		st[i] = lineStatus{server: ds.spec.Addr, ok: ds.ok.Load(), targets: len(ds.targets)}
	}
	return st
}

// stop ends the watchers and waits for them.
func (d *discovery) stop() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
}

// startDiscovery starts u's watchers, if it has dynamic servers.
func (u *upstream) startDiscovery() {
	if u.disc != nil {
		u.disc.start()
	}
}

// stopDiscovery stops them.
func (u *upstream) stopDiscovery() {
	if u.disc != nil {
		u.disc.stop()
	}
}

// needsResolver reports whether an upstream has a Resolve or SRV server.
func (c *config) needsResolver() bool {
	for _, u := range c.upstreams {
		for _, sv := range u.Servers {
			if sv.Resolve || sv.SRV {
				return true
			}
		}
	}
	return false
}
