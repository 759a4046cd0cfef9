package phalanx

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phalanx-lb/phalanx/waf"
)

// WithWAF turns the web application firewall on for every route (see
// package waf): banned clients, bot User-Agents and attack payloads get
// 403 with the request id. c's Client, Now and Logger are set by the
// Server (the client is the one resolved through trusted proxies, the
// logger WithLogger's); a route turns rules off with Route.WAFExclude, or
// the firewall with Route.WAFOff.
//
// A Reload with the same settings keeps the firewall's strikes and bans;
// one with other settings keeps its bans.
func WithWAF(c waf.Config) Option {
	return optionFunc(func(cfg *config) { cfg.waf = &c })
}

// newFirewall returns the firewall of c: old's if c asks for the same
// one, else a new one that inherits old's bans. nil if c has none.
func newFirewall(c *config, old *snapshot) (*waf.Engine, error) {
	if c.waf == nil {
		return nil, nil
	}
	wc := *c.waf
	wc.Client = func(r *http.Request) netip.Addr {
		if st := stateOf(r); st != nil {
			return st.client
		}
		return waf.RemoteAddr(r)
	}
	wc.Logger = c.logger
	if old != nil && old.waf != nil && sameFirewall(*old.cfg.waf, *c.waf) {
		return old.waf, nil
	}
	e, err := waf.New(wc)
	if err != nil {
		return nil, fmt.Errorf("waf: %w", err)
	}
	if old != nil && old.waf != nil {
		now := time.Now()
		for _, b := range old.waf.Bans() {
			e.Ban(b.Client.Addr(), b.Until.Sub(now), b.Reason)
		}
	}
	return e, nil
}

// sameFirewall reports whether a and b configure the same firewall.
func sameFirewall(a, b waf.Config) bool {
	a.Client, a.Now, a.Logger = nil, nil, nil
	b.Client, b.Now, b.Logger = nil, nil, nil
	return reflect.DeepEqual(a, b)
}

// routeExclusions parses r's WAFExclude.
func routeExclusions(r Route) (*waf.Exclusions, error) {
	if len(r.WAFExclude) == 0 {
		return nil, nil
	}
	x, err := waf.ParseExclusions(r.WAFExclude...)
	if err != nil {
		return nil, fmt.Errorf("route %s%s: waf_exclude: %w", r.Host, r.Path, err)
	}
	return &x, nil
}

// firewall inspects r for route rt and answers 403 if the firewall blocks
// it; it reports whether the request may go on.
func (s *Server) firewall(w http.ResponseWriter, r *http.Request, e *waf.Engine, rt *route, st *reqState) bool {
	if e == nil || rt.WAFOff {
		return true
	}
	v := e.InspectWith(r, rt.wafX)
	if !v.Block {
		return true
	}
	if isGRPC(r) {
		writeGRPCError(w, http.StatusForbidden)
		return false
	}
	w.Header().Set("Connection", "close") // the rest of the body is not read
	waf.Forbid(w, st.id)
	return false
}

// WAFStatus is the firewall's part of Status.
type WAFStatus struct {
	Mode      string `json:"mode"` // "block" or "detect"
	Inspected uint64 `json:"inspected"`
	Blocked   uint64 `json:"blocked"`
	Detected  uint64 `json:"detected"`
	Bans      int    `json:"bans"`
}

// wafStatus returns the firewall's counts, nil without a firewall.
func (s *Server) wafStatus() *WAFStatus {
	snap := s.state.Load()
	e := snap.waf
	if e == nil {
		return nil
	}
	st := e.Stats()
	mode := "block"
	if snap.cfg.waf.DetectOnly {
		mode = "detect"
	}
	return &WAFStatus{Mode: mode, Inspected: st.Requests, Blocked: st.Blocked, Detected: st.Detected, Bans: len(e.Bans())}
}

// BanInfo is one ban in the admin API.
type BanInfo struct {
	Client string    `json:"client"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason,omitempty"`
}

// banRequest is the body of POST /api/bans.
type banRequest struct {
	Client   string `json:"client"`
	Duration string `json:"duration"` // a Go duration ("1h"); empty: the auto-ban duration
	Reason   string `json:"reason"`
}

// adminBans adds the ban endpoints to mux. Edits take effect on the
// client's next request.
func (s *Server) adminBans(mux *http.ServeMux) {
	engine := func(w http.ResponseWriter) *waf.Engine {
		e := s.state.Load().waf
		if e == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no firewall is configured"})
		}
		return e
	}
	mux.HandleFunc("GET /api/bans", func(w http.ResponseWriter, r *http.Request) {
		e := engine(w)
		if e == nil {
			return
		}
		bans := []BanInfo{}
		for _, b := range e.Bans() {
			bans = append(bans, BanInfo{Client: banClient(b.Client), Until: b.Until, Reason: b.Reason})
		}
		writeJSON(w, http.StatusOK, bans)
	})
	mux.HandleFunc("POST /api/bans", func(w http.ResponseWriter, r *http.Request) {
		e := engine(w)
		if e == nil {
			return
		}
		var req banRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want a JSON body {\"client\": ADDR, \"duration\": \"1h\", \"reason\": TEXT}: " + err.Error()})
			return
		}
		addr, err := netip.ParseAddr(req.Client)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "client: " + err.Error()})
			return
		}
		d := s.state.Load().cfg.waf.AutoBanDuration
		if d == 0 {
			d = waf.DefaultAutoBanDuration
		}
		if req.Duration != "" {
			if d, err = time.ParseDuration(req.Duration); err != nil || d <= 0 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "duration: want a positive Go duration such as 30m or 2h"})
				return
			}
		}
		if req.Reason == "" {
			req.Reason = "admin API"
		}
		if !e.Ban(addr, d, req.Reason) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the ban table is full"})
			return
		}
		s.logger.Info("admin: client banned", "client", addr.String(), "duration", d, "reason", req.Reason)
		writeJSON(w, http.StatusOK, BanInfo{Client: addr.String(), Until: time.Now().Add(d), Reason: req.Reason})
	})
	mux.HandleFunc("DELETE /api/bans/{client}", func(w http.ResponseWriter, r *http.Request) {
		e := engine(w)
		if e == nil {
			return
		}
		addr, err := netip.ParseAddr(r.PathValue("client"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "client: " + err.Error()})
			return
		}
		if !e.Unban(addr) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": addr.String() + " is not banned"})
			return
		}
		s.logger.Info("admin: ban lifted", "client", addr.String())
		writeJSON(w, http.StatusOK, map[string]string{"status": "unbanned", "client": addr.String()})
	})
}

// banClient shows a ban's key: an address, or an IPv6 /64.
func banClient(p netip.Prefix) string {
	if p.Bits() == p.Addr().BitLen() {
		return p.Addr().String()
	}
	return p.String()
}

var (
	descWAFInspected = prometheus.NewDesc("phalanx_waf_requests_inspected_total",
		"Requests the firewall inspected.", nil, nil)
	descWAFBlocked = prometheus.NewDesc("phalanx_waf_blocked_total",
		"Requests the firewall refused (action block) or would have (action detect), by family of their most severe match.",
		[]string{"family", "action"}, nil)
	descWAFRule = prometheus.NewDesc("phalanx_waf_rule_matches_total",
		"Refused (or detected) requests each firewall rule matched.", []string{"rule", "family"}, nil)
	descWAFBot = prometheus.NewDesc("phalanx_waf_bot_blocks_total",
		"Requests refused (or detected) by the bot rules, by User-Agent pattern (\"\" for none).", []string{"agent"}, nil)
	descWAFBans = prometheus.NewDesc("phalanx_waf_bans_active",
		"Clients banned now.", nil, nil)
	descWAFBansTotal = prometheus.NewDesc("phalanx_waf_bans_total",
		"Bans made, automatic and through the admin API.", nil, nil)
)

// collectWAF sends the firewall's series.
func (s *Server) collectWAF(ch chan<- prometheus.Metric) {
	snap := s.state.Load()
	if snap == nil || snap.waf == nil {
		return
	}
	e := snap.waf
	st := e.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descWAFInspected, st.Requests)
	action := "block"
	if snap.cfg.waf.DetectOnly {
		action = "detect"
	}
	fams := make([]waf.Family, 0, len(st.ByFamily))
	for f := range st.ByFamily {
		fams = append(fams, f)
	}
	slices.Sort(fams)
	for _, f := range fams {
		counter(descWAFBlocked, st.ByFamily[f], f.String(), action)
	}
	ids := make([]int, 0, len(st.ByRule))
	for id := range st.ByRule {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	family := make(map[int]string, len(ids))
	for _, r := range waf.Rules() {
		family[r.ID] = r.Family.String()
	}
	for _, id := range ids {
		counter(descWAFRule, st.ByRule[id], strconv.Itoa(id), family[id])
	}
	for _, agent := range sortedKeys(st.ByBot) {
		counter(descWAFBot, st.ByBot[agent], agent)
	}
	ch <- prometheus.MustNewConstMetric(descWAFBans, prometheus.GaugeValue, float64(len(e.Bans())))
	counter(descWAFBansTotal, st.Bans)
}
