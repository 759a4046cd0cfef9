package phalanx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/phalanx-lb/phalanx/confparse"
	"github.com/phalanx-lb/phalanx/fcgi"
	"github.com/phalanx-lb/phalanx/limiter"
	"github.com/phalanx-lb/phalanx/uwsgi"
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
	var errs []error
	var listen []string
	var statics []*StaticHandler // root routes' handlers, closed on error
	for _, u := range c.Upstreams {
		up := Upstream{
			Name:      u.Name,
			Algorithm: u.Algorithm,
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
				Protocol: sv.Protocol,
			})
		}
		opts = append(opts, WithUpstream(up))
	}
	var t Timeouts
	for i, sv := range c.Servers {
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
	if c.UnknownProtocolUpstream != "" {
		opts = append(opts, WithUnknownProtocols(c.UnknownProtocolUpstream))
	}
	if c.TCPBind != "" {
		opts = append(opts, WithTCPProxy(TCPProxy{Listen: c.TCPBind, Upstream: c.TCPUpstream, SendProxy: c.TCPProxyProtocol}))
	}
	if len(listen) > 0 {
		opts = append(opts, WithListen(listen...))
	}
	logger.Info("config: the WAF, learning-based routing and the admin API are parsed but not active in this version")
	return opts, nil
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
