package phalanx

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
	"github.com/phalanx-lb/phalanx/confparse"
	"github.com/phalanx-lb/phalanx/fcgi"
	"github.com/phalanx-lb/phalanx/limiter"
	"github.com/phalanx-lb/phalanx/resolve"
	"github.com/phalanx-lb/phalanx/sharedstore"
	"github.com/phalanx-lb/phalanx/uwsgi"
	"github.com/phalanx-lb/phalanx/waf"
)

// LoadConfig reads a phalanx.conf file and returns the options it
// describes (see ConfigOptions), with the typed Config for the settings
// that are the caller's (worker_threads, shutdown_timeout).
func LoadConfig(path string, logger *slog.Logger) ([]Option, *confparse.Config, error) {
	c, err := confparse.Load(path)
	if err != nil {
		return nil, nil, err
	}
	opts, err := ConfigOptions(c, logger)
	if err != nil {
		return nil, nil, err
	}
	return opts, c, nil
}

// ConfigOptions maps a validated Config to Server options, so that an
// embedding program can run from a phalanx.conf as phalanxd does. Settings
// this version parses but does not act on yet are reported through logger
// (nil: slog.Default()).
//
// A root route is served by a StaticHandler whose directory is opened
// here: a missing directory is an error now, not at the first request.
// Each call opens the directories anew; the handlers are not closed by
// the Server yet, so a Reload leaves the old ones' descriptors to the
// garbage collector (os.Root closes on finalization).
//
// Every server block shares the listeners: its routes are matched by its
// server_name (any host when it has none) on every listen address.
func ConfigOptions(c *confparse.Config, logger *slog.Logger) ([]Option, error) {
	if logger == nil {
		logger = slog.Default()
	}
	var opts []Option
	if c.AccessLog != "" {
		al, err := accessLogger(c.AccessLog, c.AccessLogFormat)
		if err != nil {
			return nil, err
		}
		opts = append(opts, WithAccessLog(al))
	}
	var errs []error
	var listen []string
	var statics []*StaticHandler // root routes' handlers, closed on error
	for _, u := range c.Upstreams {
		up := Upstream{
			Name:      u.Name,
			Algorithm: u.Algorithm,
			AI:        aiOf(u.AIFor(serverOf(c, u.Name))),
			Keepalive: u.Keepalive,
		}
		if u.Keepalive == 0 {
			up.Keepalive = -1 // "keepalive 0;" keeps no idle connections
		}
		up.Health.Interval = u.Health.Interval
		up.Health.Timeout = u.Health.Timeout
		up.Health.Rise = u.Health.Rise
		up.Health.Fall = u.Health.Fall
		up.Health.HTTPPath = u.Health.HTTPPath
		up.Health.HTTPStatus = u.Health.HTTPStatus
		for _, sv := range u.Servers {
			maxFails := sv.MaxFails
			if maxFails == 0 {
				maxFails = -1 // max_fails=0 disables passive marking, as in nginx
			}
			up.Servers = append(up.Servers, UpstreamServer{
				Addr: sv.Addr, Weight: sv.Weight, MaxFails: maxFails, FailTimeout: sv.FailTimeout, Backup: sv.Backup,
				Protocol: sv.Protocol, Resolve: sv.Resolve, SRV: sv.SRV,
			})
		}
		opts = append(opts, WithUpstream(up))
	}
	if c.SharedStore != "" {
		opts = append(opts, WithSharedStore(sharedstore.Config{URL: c.SharedStore, FailClosed: c.SharedStoreFailClosed}))
	}
	if len(c.Resolver) > 0 || c.ResolverValid > 0 || c.ResolverTimeout > 0 {
		opts = append(opts, WithResolver(resolve.Config{Servers: c.Resolver, Valid: c.ResolverValid, Timeout: c.ResolverTimeout}))
	}
	var t Timeouts
	firewall := false
	for i, sv := range c.Servers {
		if sv.WAF.Enabled && !firewall {
			// One firewall serves every server block (its strikes and bans
			// are the Server's); the first block that enables it sets it
			// up, and the blocks that disable it turn it off for their
			// routes.
			firewall = true
			opts = append(opts, WithWAF(wafConfig(sv.WAF)))
		}
		for _, l := range sv.Listen {
			if !slices.Contains(listen, l) {
				listen = append(listen, l)
			}
		}
		if sv.SSLCertificate != "" {
			// The certificate serves the block's server_names, or, with
			// none, the names it was issued for.
			opts = append(opts, WithCertificate(sv.SSLCertificate, sv.SSLCertificateKey, sv.ServerNames...))
		}
		if i == 0 {
			// Limits and timeouts apply to the whole Server: the first
			// server block sets them.
			opts = append(opts, WithMaxBodyBytes(bodyLimit(sv.ClientMaxBodySize)), WithMaxHeaderBytes(sv.ClientMaxHeaderSize),
				WithRateLimit(limiter.Config{Rate: sv.RateLimitPerIP, Burst: sv.RateLimitBurst, GlobalRate: sv.GlobalRateLimit}))
			t = Timeouts{
				ClientHeader:    sv.Timeouts.ClientHeader,
				ClientIdle:      sv.Timeouts.ClientIdle,
				UpstreamConnect: sv.Timeouts.UpstreamConnect,
				UpstreamHeader:  sv.Timeouts.UpstreamHeader,
				Request:         sv.Timeouts.Request,
			}
		}
		opts = append(opts, WithTrustedProxies(sv.TrustedProxies...))
		hosts := sv.ServerNames
		if len(hosts) == 0 {
			hosts = []string{""}
		}
		for _, r := range sv.Routes {
			var handler http.Handler
			switch {
			case r.FastCGIPass != "": // before root, which is then its document root
				fh := &fcgi.Handler{
					Addr:     r.FastCGIPass, // "host:port" or "unix:/path"
					Root:     r.Root,
					Index:    r.FastCGIIndex,
					Params:   params(r.FastCGIParams, func(h confparse.Header) fcgi.Param { return fcgi.Param{Name: h.Name, Value: h.Value} }),
					Timeouts: fcgi.Timeouts{Dial: sv.Timeouts.UpstreamConnect, Read: sv.Timeouts.UpstreamHeader}, // 0 keeps fcgi's defaults
					Logger:   logger,
				}
				if err := fh.Validate(); err != nil {
					errs = append(errs, fmt.Errorf("%s: route %s: %w (add root DIR; to the route)", r.Pos, r.Prefix, err))
					continue
				}
				handler = fh
			case r.Root != "":
				sh, err := StaticFiles(r.Root, StaticConfig{Prefix: r.Prefix, Index: r.Index})
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: route %s: %w", r.Pos, r.Prefix, err))
					continue
				}
				statics = append(statics, sh)
				handler = sh
			case r.UwsgiPass != "":
				handler = &uwsgi.Handler{
					Addr:     r.UwsgiPass, // "host:port" or "unix:/path"
					Params:   params(r.UwsgiParams, func(h confparse.Header) uwsgi.Param { return uwsgi.Param{Name: h.Name, Value: h.Value} }),
					Timeouts: uwsgi.Timeouts{Dial: sv.Timeouts.UpstreamConnect, Read: sv.Timeouts.UpstreamHeader}, // 0 keeps uwsgi's defaults
					Logger:   logger,
				}
			}
			timeout := r.Timeouts.Request
			if timeout == 0 {
				timeout = sv.Timeouts.Request
			}
			if _, err := waf.ParseExclusions(r.WAFExclude...); err != nil {
				errs = append(errs, fmt.Errorf("%s: route %s: waf_exclude: %w (rule ids are listed in package waf's documentation; families are %s)",
					r.Pos, r.Prefix, err, wafFamilies()))
			}
			for _, h := range hosts {
				opts = append(opts, WithRoute(Route{
					Host:               h,
					Path:               r.Prefix,
					Upstream:           r.Upstream,
					Handler:            handler,
					owned:              handler != nil,
					AddHeaders:         headers(r.AddHeaders),
					AddResponseHeaders: headers(r.AddResponseHeaders),
					Timeout:            timeout,
					MaxBodyBytes:       bodyLimit(r.ClientMaxBodySize), // the server's unless the route sets one
					WAFExclude:         r.WAFExclude,
					WAFOff:             !sv.WAF.Enabled,
				}))
			}
		}
	}
	if len(errs) > 0 {
		for _, sh := range statics {
			sh.Close()
		}
		return nil, errors.Join(errs...)
	}
	t.Shutdown = c.ShutdownTimeout
	opts = append(opts, WithTimeouts(t))
	if c.HTTP1Engine != "" {
		opts = append(opts, WithHTTP1Engine(HTTP1Engine(c.HTTP1Engine)))
	}
	if c.UnknownProtocolUpstream != "" {
		opts = append(opts, WithUnknownProtocols(c.UnknownProtocolUpstream))
	}
	if c.TCPBind != "" {
		opts = append(opts, WithTCPProxy(TCPProxy{Listen: c.TCPBind, Upstream: c.TCPUpstream, SendProxy: c.TCPProxyProtocol}))
	}
	if len(listen) > 0 {
		opts = append(opts, WithListen(listen...))
	}
	opts = append(opts, WithAdmin(Admin{Addr: c.AdminBind}))
	return opts, nil
}

// wafConfig maps a server block's waf_* settings to the firewall's.
func wafConfig(w confparse.WAF) waf.Config {
	body := w.BodyLimit
	if body == 0 {
		body = -1 // "waf_body_limit 0;": bodies are not inspected
	}
	return waf.Config{
		Paranoia:         w.Paranoia,
		DetectOnly:       w.DetectOnly,
		MaxBodyBytes:     body,
		BotAllow:         w.BotAllow,
		BotDeny:          w.BotDeny,
		AutoBanThreshold: w.AutoBanThreshold,
		AutoBanDuration:  w.AutoBanDuration,
	}
}

// wafFamilies lists the firewall's family names, for messages.
func wafFamilies() string {
	var names []string
	for f := waf.Family(1); f.String() != "none" && f.String() != ""; f++ {
		if _, ok := waf.ParseFamily(f.String()); ok {
			names = append(names, f.String())
		} else {
			break
		}
	}
	return strings.Join(names, ", ")
}

// serverOf returns the first server block with a route to the upstream
// named name, whose ai_* settings the upstream inherits, or nil if no
// route uses it (the TCP proxy's pool).
func serverOf(c *confparse.Config, name string) *confparse.Server {
	for i := range c.Servers {
		for _, r := range c.Servers[i].Routes {
			if r.Upstream == name {
				return &c.Servers[i]
			}
		}
	}
	return nil
}

// aiOf maps ai_* settings to an upstream's AI. confparse has filled in
// every default, so a zero here was written, and is asked of the policy
// as a negative number (its zero means "the default").
func aiOf(a confparse.AI) AI {
	zero := func(f float64) float64 {
		if f == 0 {
			return -1
		}
		return f
	}
	return AI{Algorithm: a.Algorithm, Params: bandit.Params{
		Epsilon:           zero(a.Epsilon),
		UCBConstant:       zero(a.UCBConstant),
		Temperature:       a.Temperature,
		ThompsonThreshold: time.Duration(a.ThompsonThresholdMS * float64(time.Millisecond)),
	}}
}

// bodyLimit maps client_max_body_size (0: no limit, as in nginx) to
// WithMaxBodyBytes's convention (negative: no limit).
func bodyLimit(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}

func headers(hs []confparse.Header) []Header {
	return params(hs, func(h confparse.Header) Header { return Header{Name: h.Name, Value: h.Value} })
}

// params converts a route's NAME VALUE directives for a handler package.
func params[T any](hs []confparse.Header, conv func(confparse.Header) T) []T {
	out := make([]T, len(hs))
	for i, h := range hs {
		out[i] = conv(h)
	}
	return out
}

// accessLogs are the access log files opened by ConfigOptions, by path,
// kept open for the life of the process so that a reload does not leak a
// descriptor per reload.
var accessLogs struct {
	mu    sync.Mutex // protects files
	files map[string]*os.File
}

// accessLogger returns a logger that writes access lines to dest
// ("stderr", "stdout" or a file path, appended to) in format ("text" or
// "json").
func accessLogger(dest, format string) (*slog.Logger, error) {
	var w io.Writer
	switch dest {
	case "stderr":
		w = os.Stderr
	case "stdout":
		w = os.Stdout
	default:
		accessLogs.mu.Lock()
		defer accessLogs.mu.Unlock()
		f := accessLogs.files[dest]
		if f == nil {
			var err error
			f, err = os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
			if err != nil {
				return nil, fmt.Errorf("access_log: %w", err)
			}
			if accessLogs.files == nil {
				accessLogs.files = make(map[string]*os.File)
			}
			accessLogs.files[dest] = f
		}
		w = f
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return slog.New(slog.NewTextHandler(w, nil)), nil
}
