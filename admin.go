package phalanx

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Admin configures the admin listener: health and readiness probes,
// Prometheus metrics, a JSON status, reload, ban management and a live
// status page. It is served on its own address, never on a traffic port.
type Admin struct {
	// Addr is the admin listener's address for ListenAndServe, such as
	// "127.0.0.1:9090"; empty means none (AdminHandler still works).
	Addr string
	// Reload, if not nil, is what POST /api/reload runs: phalanxd re-reads
	// its config file and calls Server.Reload. nil answers 501.
	Reload func() error
}

// WithAdmin sets up the admin listener (see Admin and AdminHandler).
func WithAdmin(a Admin) Option {
	return optionFunc(func(c *config) { c.admin = a })
}

//go:embed status.html
var statusPage []byte

// AdminHandler returns the admin API, for ListenAndServe's admin listener
// or for an embedding program's own mux (mount it under a path with
// http.StripPrefix):
//
//	GET  /              the live status page (HTML, no external assets)
//	GET  /health        200 while the process runs
//	GET  /ready         200 when every pool has a usable backend, else 503 with the reasons
//	GET  /metrics       Prometheus text format: phalanx's series, Go runtime and process
//	GET  /api/status    JSON: pools, backends, routing estimates, limiter and WAF counts
//	POST /api/reload    run Admin.Reload
//	GET  /api/bans      JSON list of banned clients
//	POST /api/bans      ban a client: {"client": "192.0.2.1", "duration": "1h", "reason": "..."}
//	DELETE /api/bans/{client}  lift a ban
//
// Every call to AdminHandler returns a handler over the same Server.
func (s *Server) AdminHandler() http.Handler {
	s.adminOnce.Do(func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(s.Collector(), collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		mux := http.NewServeMux()
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(statusPage)
		})
		mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintln(w, "ok")
		})
		mux.HandleFunc("GET /ready", s.serveReady)
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
			EnableOpenMetrics: false,
		}))
		mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.status())
		})
		mux.HandleFunc("POST /api/reload", s.serveReload)
		s.adminBans(mux)
		s.admin = mux
	})
	return s.admin
}

// serveReady answers 200 when the configuration is loaded and every pool
// has a backend it can send to, and 503 naming the pools that have none.
func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	snap := s.state.Load()
	var reasons []string
	for _, name := range sortedKeys(snap.upstreams) {
		if snap.upstreams[name].pool.Usable() == 0 {
			reasons = append(reasons, "upstream "+name+" has no healthy backend")
		}
	}
	s.mu.Lock()
	if s.closed {
		reasons = append(reasons, "shutting down")
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(reasons) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, strings.Join(reasons, "\n"))
		return
	}
	fmt.Fprintln(w, "ready")
}

func (s *Server) serveReload(w http.ResponseWriter, r *http.Request) {
	if s.cfg.admin.Reload == nil {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "no reload function configured"})
		return
	}
	if err := s.cfg.admin.Reload(); err != nil {
		s.logger.Warn("admin: reload failed", "err", err.Error())
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// Status is the JSON document of GET /api/status.
type Status struct {
	Time          time.Time        `json:"time"`
	UptimeSeconds float64          `json:"uptime_seconds"`
	Version       string           `json:"version"`
	InFlight      int64            `json:"in_flight"`
	Upstreams     []UpstreamStatus `json:"upstreams"`
	RateLimited   RateLimitStatus  `json:"rate_limited"`
	WAF           *WAFStatus       `json:"waf,omitempty"`
	Tunnels       int              `json:"websocket_tunnels"`
}

// UpstreamStatus is one pool in Status.
type UpstreamStatus struct {
	Name      string          `json:"name"`
	Algorithm string          `json:"algorithm"`
	Policy    string          `json:"policy,omitempty"` // the learning policy of aipredictive
	Usable    int             `json:"usable"`
	Backends  []BackendStatus `json:"backends"`
}

// BackendStatus is one backend in Status. Rates, shares and latencies are
// over the time since the previous status request (at least a second).
type BackendStatus struct {
	Addr        string  `json:"addr"`
	Healthy     bool    `json:"healthy"`
	Backup      bool    `json:"backup,omitempty"`
	Weight      int     `json:"weight"`
	InFlight    int64   `json:"in_flight"`
	Requests    uint64  `json:"requests"`
	Failures    uint64  `json:"failures"`
	RequestRate float64 `json:"request_rate"`
	Share       float64 `json:"share"`
	// LatencyMS is the mean time to response headers over the interval,
	// 0 without traffic.
	LatencyMS float64 `json:"latency_ms"`
	// The learning policy's estimates, for aipredictive pools.
	EstimateMS *float64 `json:"estimate_ms,omitempty"`
	Success    *float64 `json:"success,omitempty"`
	Score      *float64 `json:"score,omitempty"`
}

// RateLimitStatus counts refusals.
type RateLimitStatus struct {
	Connections uint64 `json:"connections"`
	Requests    uint64 `json:"requests"`
}

// rateSampler turns the backends' running totals into rates between two
// status requests.
type rateSampler struct {
	mu   sync.Mutex // protects the fields below
	at   time.Time
	prev map[string]sample // by "upstream backend"
	last map[string]sample // the rates computed at at
}

type sample struct {
	requests      uint64
	latencySum    float64 // seconds, from the upstream histogram
	latencyCount  uint64
	rate, latency float64 // computed over the last interval
}

// status builds the Status document.
func (s *Server) status() Status {
	now := time.Now()
	snap := s.state.Load()
	st := Status{
		Time:          now,
		UptimeSeconds: now.Sub(s.started).Seconds(),
		Version:       buildVersion(),
		InFlight:      int64(gaugeValue(s.metrics.inflight)),
		RateLimited: RateLimitStatus{
			Connections: s.refusedConns.Client.Load() + s.refusedConns.Global.Load(),
			Requests:    s.refusedRequests.Client.Load() + s.refusedRequests.Global.Load(),
		},
		Tunnels: s.tunnels.len(),
		WAF:     s.wafStatus(),
	}
	rs := &s.rates
	rs.mu.Lock()
	defer rs.mu.Unlock()
	fresh := rs.prev == nil || now.Sub(rs.at) >= time.Second
	cur := make(map[string]sample)
	for _, name := range sortedKeys(snap.upstreams) {
		u := snap.upstreams[name]
		us := UpstreamStatus{Name: name, Algorithm: u.algorithm, Usable: u.pool.Usable()}
		estimates := map[string]BackendStatus{}
		if rep, policy, ok := u.report(); ok {
			us.Policy = policy
			for _, r := range rep {
				est := BackendStatus{}
				ms, sc, su := float64(r.Latency)/float64(time.Millisecond), r.Score, r.Success
				est.EstimateMS, est.Score, est.Success = &ms, &sc, &su
				estimates[r.Addr] = est
			}
		}
		var total float64
		for _, b := range u.pool.Backends() {
			key := name + " " + b.Addr()
			sum, count := histogramTotals(s.metrics.upstreamDuration.WithLabelValues(name, b.Addr()))
			smp := sample{requests: b.Requests(), latencySum: sum, latencyCount: count}
			if fresh {
				if p, ok := rs.prev[key]; ok {
					dt := now.Sub(rs.at).Seconds()
					smp.rate = float64(smp.requests-p.requests) / dt
					if dc := count - p.latencyCount; dc > 0 {
						smp.latency = (sum - p.latencySum) / float64(dc)
					}
				}
			} else if l, ok := rs.last[key]; ok {
				smp.rate, smp.latency = l.rate, l.latency
			}
			cur[key] = smp
			total += smp.rate
			bs := BackendStatus{
				Addr: b.Addr(), Healthy: b.Healthy(), Backup: b.Backup(), Weight: b.Weight(),
				InFlight: b.InFlight(), Requests: b.Requests(), Failures: b.Failures(),
				RequestRate: smp.rate, LatencyMS: smp.latency * 1000,
			}
			if e, ok := estimates[b.Addr()]; ok {
				bs.EstimateMS, bs.Score, bs.Success = e.EstimateMS, e.Score, e.Success
			}
			us.Backends = append(us.Backends, bs)
		}
		for i := range us.Backends {
			if total > 0 {
				us.Backends[i].Share = us.Backends[i].RequestRate / total
			}
		}
		st.Upstreams = append(st.Upstreams, us)
	}
	if fresh {
		rs.prev, rs.at = cur, now
		rs.last = cur
	}
	return st
}

// histogramTotals reads a histogram's sum and count.
func histogramTotals(o prometheus.Observer) (sum float64, count uint64) {
	m, ok := o.(prometheus.Metric)
	if !ok {
		return 0, 0
	}
	var pb dto.Metric
	if m.Write(&pb) != nil || pb.Histogram == nil {
		return 0, 0
	}
	return pb.Histogram.GetSampleSum(), pb.Histogram.GetSampleCount()
}

// gaugeValue reads a gauge.
func gaugeValue(g prometheus.Gauge) float64 {
	var pb dto.Metric
	if g.Write(&pb) != nil || pb.Gauge == nil {
		return 0
	}
	return pb.Gauge.GetValue()
}

// ServeAdmin serves AdminHandler on l until Shutdown or Close, which
// close it (it is not drained), and returns nil then. ListenAndServe calls
// it for Admin.Addr; an embedding program may call it with a listener of
// its own.
func (s *Server) ServeAdmin(l net.Listener) error {
	hs := &http.Server{
		Handler:           s.AdminHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	go func() {
		<-s.done
		hs.Close()
	}()
	s.logger.Info("admin listener", "addr", l.Addr().String())
	if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
