package waf

import (
	"net/netip"
	"time"
)

// Hooks tell a fleet-wide store (package sharedstore) of the changes an
// Engine makes to its strikes and bans on its own account, so that other
// instances can apply them with AddStrikes, ApplyBan and ApplyUnban,
// which call no hook (a change never echoes back). A nil func is not
// called.
//
// The hooks run on the goroutine that made the change, which for Strike
// and automatic bans is a request's, after the engine's locks are
// released: they must return quickly and never block (queue the change
// and send it from another goroutine).
type Hooks struct {
	// Strike is called after Check gives a client strikes that did not
	// ban it. (Strikes that ban it call Ban instead: a banned client's
	// strikes no longer count.)
	Strike func(Strike)
	// Ban is called after a ban is made: by Ban, or automatically, when
	// strikes from Check or from AddStrikes pass Config.AutoBanThreshold
	// (Reason "auto-ban", Until the end of Config.AutoBanDuration).
	Ban func(Ban)
	// Unban is called after Unban, with the client whose ban was lifted.
	Unban func(client netip.Prefix)
}

// Strike is strikes given to a client, as Hooks.Strike gets them.
type Strike struct {
	Client netip.Prefix // an IPv4 address (/32) or an IPv6 /64
	N      int          // the strikes added, before decay
}

// SetHooks installs h in place of the hooks installed before; the zero
// Hooks removes them. Without hooks the engine does no more than load a
// nil pointer after a change.
func (e *Engine) SetHooks(h Hooks) {
	if h.Strike == nil && h.Ban == nil && h.Unban == nil {
		e.hooks.Store(nil)
		return
	}
	e.hooks.Store(&h)
}

// AddStrikes gives a client n strikes earned elsewhere (at another
// instance) and bans it, as Check would, if it then has more than
// Config.AutoBanThreshold strikes. It reports whether it banned the
// client. It does not call Hooks.Strike; a ban it makes is this engine's
// decision and calls Hooks.Ban, so that instances that missed some of the
// strikes learn of it.
func (e *Engine) AddStrikes(a netip.Addr, n int) (banned bool) {
	if n <= 0 {
		return false
	}
	now := e.cfg.Now()
	banned = e.rep.strike(a, n, now)
	if banned {
		e.stats.bans.Add(1)
	}
	if h := e.hooks.Load(); h != nil {
		e.struck(h, a, n, banned, false, now)
	}
	return banned
}

// ApplyBan sets a ban made elsewhere, as another instance's Hooks.Ban
// reported it: b.Client (a client as Bans lists it) is banned until
// b.Until, replacing any ban it has. Unlike Ban, it calls no hook and
// counts no ban in Stats. It reports false for an invalid client or a
// ban already over.
func (e *Engine) ApplyBan(b Ban) bool {
	now := e.cfg.Now()
	if !b.Client.IsValid() || !b.Until.After(now) {
		return false
	}
	return e.rep.banUntil(b.Client.Addr(), b.Until.UnixNano(), b.Reason, now)
}

// ApplyUnban lifts a ban lifted elsewhere, as another instance's
// Hooks.Unban reported it, and forgets the client's strikes. Unlike
// Unban, it calls no hook. It reports whether the client was banned.
func (e *Engine) ApplyUnban(client netip.Prefix) bool {
	if !client.IsValid() {
		return false
	}
	return e.rep.unban(client.Addr(), e.cfg.Now())
}

// struck calls h after n strikes were added to a at now: Ban if they
// banned it, else Strike if they were given here (local).
func (e *Engine) struck(h *Hooks, a netip.Addr, n int, banned, local bool, now time.Time) {
	k, ok := clientKey(a)
	if !ok || e.rep.threshold <= 0 {
		return // strikes are not kept
	}
	switch {
	case banned && h.Ban != nil:
		h.Ban(Ban{Client: keyPrefix(k), Until: time.Unix(0, now.UnixNano()+int64(e.rep.duration)), Reason: autoBanReason})
	case !banned && local && h.Strike != nil:
		h.Strike(Strike{Client: keyPrefix(k), N: n})
	}
}
