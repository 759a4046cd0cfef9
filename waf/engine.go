package waf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultThreshold        = 5                // a critical match blocks
	DefaultMaxBodyBytes     = 64 << 10         // 64 KiB
	DefaultMaxValues        = 1024             // parameters, cookies and fields per request
	DefaultAutoBanThreshold = 15               // more than 15 strikes: five blocked attacks and a bit
	DefaultAutoBanDuration  = time.Hour        // waf_auto_ban_duration 3600
	DefaultStrikeHalfLife   = 10 * time.Minute // strikes halve every 10 minutes
	DefaultMaxClients       = 65536            // clients with strikes or bans
	DefaultRequestIDHeader  = "X-Request-Id"
)

// IgnoredHeaders are the request headers not inspected when
// Config.Headers is nil: those whose values are protocol syntax, tokens
// or browser hints rather than text a client chooses. Cookie is inspected
// apart, cookie by cookie. Every other header is inspected, custom ones
// included (applications log and show them).
var IgnoredHeaders = []string{"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
	"Cache-Control", "Connection", "Content-Encoding", "Content-Length", "Content-Type", "Cookie", "Date", "Device-Memory",
	"Dnt", "Downlink", "Dpr", "Ect", "Expect", "Host", "If-Match", "If-Modified-Since", "If-None-Match", "If-Range",
	"If-Unmodified-Since", "Keep-Alive", "Pragma", "Priority", "Proxy-Authorization", "Proxy-Connection", "Purpose",
	"Range", "Rtt", "Save-Data", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Upgrade-Insecure-Requests",
	"Viewport-Width", "X-Requested-With"}

// DefaultHeaders are the headers inspected, besides Cookie, in a request
// view whose Header cannot list its headers (see HeaderLister): those that
// carry what a client chooses and that applications log, show or trust.
var DefaultHeaders = []string{"User-Agent", "Referer", "X-Forwarded-Host", "X-Forwarded-For", "X-Real-Ip", "X-Client-Ip",
	"True-Client-Ip", "Forwarded", "Origin", "X-Original-Url", "X-Rewrite-Url"}

// Config configures an Engine. The zero value is ready: every zero field
// means the default written beside it.
type Config struct {
	// Paranoia is the paranoia level, 1 to 4: a higher level runs more
	// rules, catching more and refusing more legitimate requests. 0 means
	// 1.
	Paranoia int
	// Threshold is the anomaly score at which a request is blocked. 0
	// means 5 (DefaultThreshold): one critical match.
	Threshold int
	// DetectOnly logs and counts what would be blocked, and blocks
	// nothing. Strikes and bans are still kept, so Bans shows who would
	// be banned.
	DetectOnly bool
	// MaxBodyBytes is how much of a body is read and inspected. 0 means
	// 64 KiB (DefaultMaxBodyBytes); negative turns body inspection off.
	MaxBodyBytes int64
	// MaxValues is how many values (parameters, cookies, fields, JSON
	// strings) a request may have; a request with more is blocked (rule
	// 7001). 0 means 1024 (DefaultMaxValues).
	MaxValues int
	// BotAllow are User-Agent substrings (case-insensitive) that exempt
	// a request from the bot rules, such as your own monitoring's. The
	// empty string allows requests without a User-Agent.
	BotAllow []string
	// BotDeny are User-Agent substrings (case-insensitive) to block, on
	// top of ScannerAgents and ScriptAgents.
	BotDeny []string
	// AutoBanThreshold is the number of strikes above which a client is
	// banned. 0 means 15 (DefaultAutoBanThreshold); negative turns
	// automatic bans off.
	AutoBanThreshold int
	// AutoBanDuration is how long an automatic ban lasts. 0 means one
	// hour (DefaultAutoBanDuration).
	AutoBanDuration time.Duration
	// StrikeHalfLife is the time in which a client's strikes halve. 0
	// means 10 minutes (DefaultStrikeHalfLife).
	StrikeHalfLife time.Duration
	// MaxClients bounds the clients whose strikes and bans are kept. 0
	// means 65536 (DefaultMaxClients).
	MaxClients int
	// Headers are the headers inspected besides Cookie. nil means every
	// header but IgnoredHeaders and those starting "Sec-" (or, for a
	// request view that cannot list its headers, DefaultHeaders).
	Headers []string
	// RequestIDHeader names the header that carries the request id, for
	// the log and the body of a 403. "" means "X-Request-Id".
	RequestIDHeader string
	// Client returns a request's client address for Inspect and
	// Middleware. nil means the host of r.RemoteAddr. Behind trusted
	// proxies, pass a func that resolves X-Forwarded-For.
	Client func(r *http.Request) netip.Addr
	// Now is the clock. nil means time.Now.
	Now func() time.Time
	// Logger gets one line per blocked (or, in detect-only mode,
	// detected) request. nil means slog.Default().
	Logger *slog.Logger
}

// Engine inspects requests. It is safe for concurrent use and must not be
// copied. Its rules are compiled once, at package init; its mutable state
// is the strikes and bans of clients and the counters.
type Engine struct {
	cfg     Config
	headers []string        // Config.Headers; nil: all but ignored
	ignored map[string]bool // IgnoredHeaders; read only
	enabled [2]uint64       // payload rules at or below the paranoia level, by index in rules
	byLoc   [numLocations][]*rule
	bots    *botMatcher
	rep     *reputation
	stats   counters
	pool    sync.Pool             // of *scan
	hooks   atomic.Pointer[Hooks] // nil: none; see SetHooks
}

// New returns an Engine for c.
func New(c Config) (*Engine, error) {
	switch {
	case c.Paranoia < 0 || c.Paranoia > 4:
		return nil, fmt.Errorf("%w: paranoia %d, want 1 to 4", ErrConfig, c.Paranoia)
	case c.Threshold < 0:
		return nil, fmt.Errorf("%w: threshold %d, want 1 or more", ErrConfig, c.Threshold)
	case c.MaxValues < 0 || c.MaxClients < 0:
		return nil, fmt.Errorf("%w: negative MaxValues or MaxClients", ErrConfig)
	case c.AutoBanDuration < 0 || c.StrikeHalfLife < 0:
		return nil, fmt.Errorf("%w: negative duration", ErrConfig)
	}
	if c.Paranoia == 0 {
		c.Paranoia = 1
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxValues == 0 {
		c.MaxValues = DefaultMaxValues
	}
	if c.AutoBanThreshold == 0 {
		c.AutoBanThreshold = DefaultAutoBanThreshold
	}
	if c.AutoBanDuration == 0 {
		c.AutoBanDuration = DefaultAutoBanDuration
	}
	if c.StrikeHalfLife == 0 {
		c.StrikeHalfLife = DefaultStrikeHalfLife
	}
	if c.MaxClients == 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.RequestIDHeader == "" {
		c.RequestIDHeader = DefaultRequestIDHeader
	}
	if c.Client == nil {
		c.Client = RemoteAddr
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	e := &Engine{cfg: c, bots: newBotMatcher(c.BotAllow, c.BotDeny)}
	e.rep = newReputation(max(c.AutoBanThreshold, 0), c.AutoBanDuration, c.StrikeHalfLife, c.MaxClients)
	e.ignored = make(map[string]bool, len(IgnoredHeaders))
	for _, h := range IgnoredHeaders {
		e.ignored[h] = true
	}
	if c.Headers != nil {
		e.headers = make([]string, len(c.Headers))
		for i, h := range c.Headers {
			e.headers[i] = http.CanonicalHeaderKey(h)
		}
	}
	for i, r := range rules {
		if r.Paranoia <= c.Paranoia {
			e.enabled[i/64] |= 1 << (i % 64)
			for l := range numLocations {
				if r.locs&(1<<l) != 0 {
					e.byLoc[l] = append(e.byLoc[l], r)
				}
			}
		}
	}
	e.stats.init(len(e.bots.pats) + 1)
	e.pool.New = func() any { return new(scan) }
	return e, nil
}

// RemoteAddr returns the address in r.RemoteAddr, IPv4-mapped IPv6
// unmapped, or the zero Addr: the default Config.Client.
func RemoteAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// Inspect inspects r: Check with no exclusions.
func (e *Engine) Inspect(r *http.Request) Verdict { return e.InspectWith(r, nil) }

// InspectWith inspects r with the rules x turns off (nil: none). It reads
// the body up to the limit, then puts back r.Body so that the handler
// still reads all of it; it does not change r otherwise.
func (e *Engine) InspectWith(r *http.Request, x *Exclusions) Verdict {
	req := Request{
		Method:    r.Method,
		Header:    r.Header,
		Client:    e.cfg.Client(r),
		RequestID: r.Header.Get(e.cfg.RequestIDHeader),
		RawQuery:  r.URL.RawQuery,
	}
	req.Path = requestPath(r)
	if e.cfg.MaxBodyBytes > 0 && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 &&
		Inspectable(r.Header.Get("Content-Type")) {
		req.Body, req.BodyTruncated = e.readBody(r)
	}
	return e.Check(&req, x)
}

// requestPath returns the path as the client sent it.
func requestPath(r *http.Request) string {
	if u := r.RequestURI; strings.HasPrefix(u, "/") {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			return u[:i]
		}
		return u
	}
	return r.URL.EscapedPath()
}

// Inspectable reports whether a body of content type ct is read for
// inspection: everything but media, archives and binary RPC payloads. An
// engine that fills Request.Body itself uses it to decide whether to.
func Inspectable(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	for _, p := range [...]string{"image/", "audio/", "video/", "font/", "application/octet-stream", "application/zip", "application/gzip",
		"application/pdf", "application/x-protobuf", "application/protobuf", "application/grpc", "application/wasm"} {
		if strings.HasPrefix(ct, p) {
			return false
		}
	}
	return true
}

// readBody reads r's body up to the limit and puts back a body that
// yields what was read, then the rest.
func (e *Engine) readBody(r *http.Request) ([]byte, bool) {
	limit := e.cfg.MaxBodyBytes
	size := limit + 1
	if r.ContentLength > 0 && r.ContentLength < size {
		size = r.ContentLength
	}
	buf := make([]byte, 0, min(size, 32<<10))
	var err error
	for int64(len(buf)) < size {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		var n int
		n, err = r.Body.Read(buf[len(buf):min(int64(cap(buf)), size)])
		buf = buf[:len(buf)+n]
		if err != nil {
			break
		}
	}
	orig := r.Body
	switch {
	case err == io.EOF:
		r.Body = &replayBody{Reader: bytes.NewReader(buf), closer: orig}
	case err != nil:
		r.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(buf), errReader{err}), closer: orig}
	default:
		r.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(buf), orig), closer: orig}
	}
	if int64(len(buf)) > limit {
		return buf[:limit], true
	}
	return buf, false
}

// replayBody is a request body put back after inspection.
type replayBody struct {
	io.Reader
	closer io.Closer
}

func (b *replayBody) Close() error { return b.closer.Close() }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

var _ io.ReadCloser = (*replayBody)(nil)

// Check inspects the request view req with the rules x turns off (nil:
// none). The checks run in order of cost: the client's ban, the bot
// rules, then the payload rules; in blocking mode the first that blocks
// ends them. It counts the outcome, logs a blocked or detected request,
// and adds strikes to its client.
func (e *Engine) Check(req *Request, x *Exclusions) Verdict {
	now := e.cfg.Now()
	e.stats.requests.Add(1)
	var v Verdict
	v.BodyTruncated = req.BodyTruncated
	if e.rep.banned(req.Client, now) {
		v.Cause = CauseBan
		v.Matches = []Match{{Rule: &banRule, Where: "client", Value: req.Client.String()}}
		e.finish(req, &v, -1, now)
		return v
	}
	s := e.pool.Get().(*scan)
	s.reset(e, x)
	bot := -1
	strikes := 0
	if !x.excludesFamily(FamilyBot) {
		var ua string
		if vals := e.headerValues(req, "User-Agent"); len(vals) > 0 {
			ua = vals[0]
		}
		bot, s.lower = e.bots.match(ua, s.lower)
		if bot >= 0 {
			var r *Rule
			if bot == e.bots.emptyBot() {
				r, strikes = &botRules[2], strikeSuspect
			} else {
				p := &e.bots.pats[bot]
				r, strikes = p.rule, p.strikes
			}
			if !x.excludes(r) {
				v.Cause = CauseBot
				s.matches = append(s.matches, Match{Rule: r, Where: "user-agent", Value: clip(ua)})
				if !e.cfg.DetectOnly {
					s.stop = true
				}
			} else {
				bot = -1
				strikes = 0
			}
		}
	}
	if !s.stop {
		s.request(req)
		v.Score = s.score
		if s.score >= e.cfg.Threshold {
			if v.Cause == CauseNone {
				v.Cause = CausePayload
			}
			strikes += strikePayload
		}
	}
	if len(s.matches) > 0 {
		v.Matches = append([]Match(nil), s.matches...)
	}
	e.release(s)
	if v.Cause != CauseNone && strikes > 0 {
		v.Banned = e.rep.strike(req.Client, strikes, now)
		if v.Banned {
			e.stats.bans.Add(1)
		}
		if h := e.hooks.Load(); h != nil {
			e.struck(h, req.Client, strikes, v.Banned, true, now)
		}
	}
	e.finish(req, &v, bot, now)
	return v
}

// headerValues returns the values of a header of req, or nil.
func (e *Engine) headerValues(req *Request, name string) []string {
	if req.Header == nil {
		return nil
	}
	return req.Header.Values(name)
}

// release returns s to the pool, unless it grew large.
func (e *Engine) release(s *scan) {
	if cap(s.buf) > 256<<10 || cap(s.n.a) > 256<<10 || cap(s.n.b) > 256<<10 || cap(s.shell) > 256<<10 || cap(s.jbuf) > 256<<10 {
		return
	}
	s.e, s.x = nil, nil
	clear(s.matches)
	s.matches = s.matches[:0]
	e.pool.Put(s)
}

// finish sets Block, counts and logs.
func (e *Engine) finish(req *Request, v *Verdict, bot int, now time.Time) {
	if v.Cause == CauseNone {
		return
	}
	v.Block = !e.cfg.DetectOnly
	if v.Block {
		e.stats.blocked.Add(1)
	} else {
		e.stats.detected.Add(1)
	}
	e.stats.count(v, bot)
	lvl, msg := slog.LevelWarn, "waf: request blocked"
	if !v.Block {
		lvl, msg = slog.LevelInfo, "waf: request would be blocked (detect-only)"
	}
	if !e.cfg.Logger.Enabled(context.Background(), lvl) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", req.RequestID),
		slog.String("client", req.Client.String()),
		slog.String("cause", v.Cause.String()),
		slog.String("family", v.Family().String()),
		slog.Any("rules", v.RuleIDs()),
		slog.Int("score", v.Score),
		slog.String("method", req.Method),
		slog.String("path", clip(req.Path)),
	}
	if len(v.Matches) > 0 {
		attrs = append(attrs, slog.String("where", v.Matches[0].Where), slog.String("value", v.Matches[0].Value))
	}
	if v.Banned {
		attrs = append(attrs, slog.Time("banned_until", now.Add(e.cfg.AutoBanDuration)))
	}
	if v.BodyTruncated {
		attrs = append(attrs, slog.Bool("body_truncated", true))
	}
	e.cfg.Logger.LogAttrs(context.Background(), lvl, msg, attrs...)
}

// clip returns the first 64 bytes of s, cut at a character boundary.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xc0 == 0x80 {
		i--
	}
	return s[:i]
}

// BodyLimit returns how many bytes of a body Check inspects, 0 if none:
// what an HTTP engine other than net/http reads into Request.Body.
func (e *Engine) BodyLimit() int64 { return max(e.cfg.MaxBodyBytes, 0) }

// Bans returns the bans in force, ordered by client.
func (e *Engine) Bans() []Ban { return e.rep.bans(e.cfg.Now()) }

// Ban bans a client for d from now, with a reason for Bans; its next
// request is refused. An IPv6 address bans its /64. It reports false for
// an invalid address.
//
// Ban calls Hooks.Ban, if set (see SetHooks).
func (e *Engine) Ban(a netip.Addr, d time.Duration, reason string) bool {
	now := e.cfg.Now()
	ok := e.rep.ban(a, d, reason, now)
	if ok {
		e.stats.bans.Add(1)
		if h := e.hooks.Load(); h != nil && h.Ban != nil {
			k, _ := clientKey(a)
			h.Ban(Ban{Client: keyPrefix(k), Until: time.Unix(0, now.UnixNano()+int64(d)), Reason: reason})
		}
	}
	return ok
}

// Unban lifts a client's ban and forgets its strikes. It reports whether
// the client was banned. For a valid address it calls Hooks.Unban, if
// set, banned or not: another instance may hold a ban this one missed.
func (e *Engine) Unban(a netip.Addr) bool {
	was := e.rep.unban(a, e.cfg.Now())
	if h := e.hooks.Load(); h != nil && h.Unban != nil {
		if k, ok := clientKey(a); ok {
			h.Unban(keyPrefix(k))
		}
	}
	return was
}

// Strikes returns a client's strikes now, after decay.
func (e *Engine) Strikes(a netip.Addr) float64 { return e.rep.strikes(a, e.cfg.Now()) }

// Clients returns the number of clients whose strikes or bans are kept,
// at most Config.MaxClients.
func (e *Engine) Clients() int { return e.rep.len() }
