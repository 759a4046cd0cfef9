package sharedstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/phalanx-lb/phalanx/waf"
	"github.com/redis/go-redis/v9"
)

// WAF sharing: its keys, and its limits.
const (
	bansKey    = "waf:bans"    // sorted set: client → end of its ban, unix milliseconds
	reasonsKey = "waf:reasons" // hash: client → reason of its ban
	eventsKey  = "waf:events"  // stream of strikes, bans and unbans, for the instances sharing
	epochKey   = "waf:epoch"   // a random value set when the keys were first written: it changes if Redis loses them

	eventsMaxLen = 10000                  // events the stream keeps, about: what an instance away for a while can catch up on
	readBlock    = 500 * time.Millisecond // how long a read waits for events
	epochEvery   = time.Second            // how often the reader checks that Redis kept its data
	backlogMax   = 4096                   // changes kept for Redis while it is down
)

// expireBans removes the bans that ended before ARGV[1] (unix
// milliseconds) from KEYS[1] (the set) and KEYS[2] (their reasons), at
// most 256 a call.
const expireBans = `
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, 256)
if #old > 0 then
  redis.call('ZREM', KEYS[1], unpack(old))
  redis.call('HDEL', KEYS[2], unpack(old))
end
return #old
`

// change is a strike, ban or unban to send, as the engine's hooks report
// it.
type change struct {
	kind   byte // 's' strike, 'b' ban, 'u' unban
	client netip.Prefix
	n      int       // strikes
	until  time.Time // end of a ban
	reason string    // of a ban
	seq    uint64    // its place among this sharing's changes, from 1
}

// sharing is one ShareWAF: an engine's hooks queue its changes, a writer
// sends them, and a reader applies the other instances'.
type sharing struct {
	s                            *Store
	e                            *waf.Engine
	origin                       string // random: marks this sharing's events, which its reader skips
	bans, reasons, events, epoch string

	mu       sync.Mutex // protects backlog, inflight and seq
	backlog  []change   // changes not yet written, oldest first
	inflight int        // the first inflight changes of backlog are being written
	seq      uint64     // the last change's seq
	wake     chan struct{}

	// seen is the highest seq applied per origin, read and written by the
	// reader alone: a batch whose EXEC went through but whose reply was
	// lost is sent again, and its events must not count twice.
	seen map[string]uint64
}

// seenMax bounds the origins remembered in seen (instances, each restart
// a new one); past it, seen starts afresh.
const seenMax = 1024

// ShareWAF shares e's strikes and bans with the engines shared through
// the same Redis server and Prefix (those of the other instances), until
// ctx ends or the Store is closed:
//
//   - a ban made at e (by Engine.Ban or automatically) is stored in Redis
//     with its end, and reaches the other instances' engines within
//     milliseconds; an unban likewise;
//   - strikes given at e are given at the others too, so a client that
//     attacks three instances is banned as soon as if it attacked one;
//   - the bans stored in Redis are applied to e before ShareWAF returns
//     (it waits for that one second at most; if Redis does not answer, it
//     goes on trying in the background).
//
// Changes go through a Redis stream that every sharing instance reads, so
// an instance cut off from Redis for a while catches up on what it missed
// when it is back; the changes made at e meanwhile wait (4096 at most)
// and are sent then. If Redis lost its data (a restart without
// persistence), the instances store their bans in it again.
//
// ShareWAF installs hooks on e with Engine.SetHooks and removes them when
// ctx ends, unless a later ShareWAF of e replaced them. Share an engine
// through one ShareWAF at a time: end the ctx of one before starting
// another with the same engine (after a reload that kept it, say). It
// returns at once if the Store is closed.
func (s *Store) ShareWAF(ctx context.Context, e *waf.Engine) {
	if s.ctx.Err() != nil {
		return
	}
	w := &sharing{
		s:       s,
		e:       e,
		origin:  randomID(),
		bans:    s.prefix + bansKey,
		reasons: s.prefix + reasonsKey,
		events:  s.prefix + eventsKey,
		epoch:   s.prefix + epochKey,
		wake:    make(chan struct{}, 1),
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	w.install()
	context.AfterFunc(ctx, w.uninstall)
	wasDown := s.down.Load()
	lastID, epoch, err := w.sync(ctx, "")
	if ctx.Err() == nil {
		s.done(wasDown, err)
	}
	s.goSafe(func() {
		defer cancel()
		w.write(ctx)
	})
	s.goSafe(func() {
		defer func() {
			stop()
			cancel()
		}()
		w.read(ctx, lastID, epoch, err == nil)
	})
}

// owners are the sharings that hold the hooks of engines, so that a
// sharing that ends does not remove the hooks of one that followed it.
var owners struct {
	mu sync.Mutex // protects m, and orders the SetHooks calls of sharings
	m  map[*waf.Engine]*sharing
}

// install sets the engine's hooks to queue its changes for w.
func (w *sharing) install() {
	owners.mu.Lock()
	defer owners.mu.Unlock()
	if owners.m == nil {
		owners.m = make(map[*waf.Engine]*sharing)
	}
	owners.m[w.e] = w
	w.e.SetHooks(waf.Hooks{
		Strike: func(st waf.Strike) { w.queue(change{kind: 's', client: st.Client, n: st.N}) },
		Ban:    func(b waf.Ban) { w.queue(change{kind: 'b', client: b.Client, until: b.Until, reason: b.Reason}) },
		Unban:  func(p netip.Prefix) { w.queue(change{kind: 'u', client: p}) },
	})
}

// uninstall removes the engine's hooks, unless another sharing set them
// since.
func (w *sharing) uninstall() {
	owners.mu.Lock()
	defer owners.mu.Unlock()
	if owners.m[w.e] == w {
		delete(owners.m, w.e)
		w.e.SetHooks(waf.Hooks{})
	}
}

// randomID returns 16 random hex digits.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// queue adds c to the changes to send. It runs on the engine's request
// path: it only appends under a lock, dropping the oldest quarter of the
// changes when too many wait, and wakes the writer.
func (w *sharing) queue(c change) {
	w.mu.Lock()
	if len(w.backlog) >= backlogMax {
		n := backlogMax / 4
		w.backlog = append(w.backlog[:0], w.backlog[n:]...)
		w.inflight = max(0, w.inflight-n) // those are being written anyway
		w.s.stats.dropped.Add(uint64(n))
	}
	w.seq++
	c.seq = w.seq
	w.backlog = append(w.backlog, c)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// write sends the queued changes as they come, until ctx ends. While Redis
// is down it keeps them and tries again every retryEvery.
func (w *sharing) write(ctx context.Context) {
	var batch []change
	for {
		w.mu.Lock()
		batch = append(batch[:0], w.backlog...)
		w.inflight = len(batch)
		w.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
				continue
			}
		}
		wasDown := w.s.down.Load()
		err := w.send(ctx, batch)
		if ctx.Err() != nil {
			return
		}
		w.s.done(wasDown, err)
		w.mu.Lock()
		if err == nil {
			w.backlog = append(w.backlog[:0], w.backlog[w.inflight:]...)
		}
		w.inflight = 0
		w.mu.Unlock()
		if err != nil {
			if !sleep(ctx, retryEvery) {
				return
			}
			continue
		}
		for _, c := range batch {
			switch c.kind {
			case 's':
				w.s.stats.strikesSent.Add(1)
			case 'b':
				w.s.stats.bansSent.Add(1)
			case 'u':
				w.s.stats.unbansSent.Add(1)
			}
		}
	}
}

// send writes batch in one transaction: each change to the stream, and
// bans and unbans to the stored set too.
func (w *sharing) send(ctx context.Context, batch []change) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	pipe := w.s.rdb.TxPipeline()
	bans := false
	for _, c := range batch {
		client := c.client.String()
		values := []any{"o", w.origin, "q", c.seq, "k", string(c.kind), "c", client}
		switch c.kind {
		case 's':
			values = append(values, "n", c.n)
		case 'b':
			ms := c.until.UnixMilli()
			pipe.ZAdd(ctx, w.bans, redis.Z{Score: float64(ms), Member: client})
			pipe.HSet(ctx, w.reasons, client, c.reason)
			values = append(values, "t", ms, "r", c.reason)
			bans = true
		case 'u':
			pipe.ZRem(ctx, w.bans, client)
			pipe.HDel(ctx, w.reasons, client)
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: w.events, MaxLen: eventsMaxLen, Approx: true, Values: values})
	}
	if bans {
		pipe.Eval(ctx, expireBans, []string{w.bans, w.reasons}, time.Now().UnixMilli())
	}
	_, err := pipe.Exec(ctx)
	return err
}

// sync reads, in one transaction, the epoch of the stored data (setting
// it if there is none), the last event and the bans in force, and applies
// the bans to the engine. It returns the id of the last event, from which
// to read the ones after the bans read, and the epoch. If the epoch is
// not known, the one of an earlier sync, Redis lost its data since: the
// engine's bans that it lacks are queued to be stored again.
func (w *sharing) sync(ctx context.Context, known string) (lastID, epoch string, err error) {
	// The clients with a ban or unban still to send, taken before
	// reading: the stored bans read may be older for them.
	var pending map[netip.Prefix]bool
	w.mu.Lock()
	for _, c := range w.backlog {
		if c.kind != 's' {
			if pending == nil {
				pending = make(map[netip.Prefix]bool)
			}
			pending[c.client] = true
		}
	}
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	pipe := w.s.rdb.TxPipeline()
	pipe.SetNX(ctx, w.epoch, randomID(), 0)
	ep := pipe.Get(ctx, w.epoch)
	last := pipe.XRevRangeN(ctx, w.events, "+", "-", 1)
	zs := pipe.ZRangeByScoreWithScores(ctx, w.bans, &redis.ZRangeBy{Min: strconv.FormatInt(time.Now().UnixMilli(), 10), Max: "+inf"})
	rs := pipe.HGetAll(ctx, w.reasons)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", "", err
	}
	lastID = "0-0"
	if m := last.Val(); len(m) > 0 {
		lastID = m[0].ID
	}
	reasons := rs.Val()
	stored := make(map[netip.Prefix]bool, len(zs.Val()))
	for _, z := range zs.Val() {
		member, _ := z.Member.(string)
		p, err := netip.ParsePrefix(member)
		if err != nil {
			continue
		}
		stored[p] = true
		if pending[p] {
			continue // changed here since; the change, on its way, is newer
		}
		if w.e.ApplyBan(waf.Ban{Client: p, Until: time.UnixMilli(int64(z.Score)), Reason: reasons[member]}) {
			w.s.stats.bansReceived.Add(1)
		}
	}
	if known != "" && ep.Val() != known {
		for _, b := range w.e.Bans() {
			if !stored[b.Client] && !pending[b.Client] {
				w.queue(change{kind: 'b', client: b.Client, until: b.Until, reason: b.Reason})
			}
		}
	}
	return lastID, ep.Val(), nil
}

// read applies the other instances' changes as they come, until ctx ends.
// After a failure it syncs again (every retryEvery until Redis answers)
// and goes on from the last event it read, so that it catches up on
// those it missed; if Redis lost its data, it starts over from the last
// event of the sync.
func (w *sharing) read(ctx context.Context, lastID, epoch string, synced bool) {
	checked := time.Now()
	for ctx.Err() == nil {
		wasDown := w.s.down.Load()
		if !synced {
			id, ep, err := w.sync(ctx, epoch)
			if ctx.Err() != nil {
				return
			}
			w.s.done(wasDown, err)
			if err != nil {
				sleep(ctx, retryEvery)
				continue
			}
			if ep != epoch || lastID == "" {
				lastID = id
			}
			epoch, synced, checked = ep, true, time.Now()
			continue
		}
		if time.Since(checked) >= epochEvery {
			ep, err := w.s.rdb.Get(ctx, w.epoch).Result()
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, redis.Nil) {
				err = nil // lost: the sync below finds out
			}
			w.s.done(wasDown, err)
			checked = time.Now()
			if err != nil || ep != epoch {
				synced = false
				if err != nil {
					sleep(ctx, retryEvery)
				}
				continue
			}
		}
		rctx, cancel := context.WithTimeout(ctx, readBlock+callTimeout)
		res, err := w.s.rdb.XRead(rctx, &redis.XReadArgs{Streams: []string{w.events, lastID}, Count: 512, Block: readBlock}).Result()
		cancel()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, redis.Nil) {
			w.s.done(wasDown, nil)
			continue // nothing new
		}
		w.s.done(wasDown, err)
		if err != nil {
			synced = false
			sleep(ctx, retryEvery)
			continue
		}
		for _, st := range res {
			for _, m := range st.Messages {
				lastID = m.ID
				w.apply(m.Values)
			}
		}
	}
}

// apply applies one event of another instance to the engine.
func (w *sharing) apply(v map[string]any) {
	str := func(k string) string { s, _ := v[k].(string); return s }
	origin := str("o")
	if origin == w.origin {
		return
	}
	if q, err := strconv.ParseUint(str("q"), 10, 64); err == nil {
		if q <= w.seen[origin] {
			return // sent again after a lost reply: applied already
		}
		if w.seen == nil || len(w.seen) >= seenMax {
			w.seen = make(map[string]uint64)
		}
		w.seen[origin] = q
	}
	p, err := netip.ParsePrefix(str("c"))
	if err != nil {
		return
	}
	switch str("k") {
	case "s":
		if n, err := strconv.Atoi(str("n")); err == nil {
			w.e.AddStrikes(p.Addr(), n)
			w.s.stats.strikesReceived.Add(1)
		}
	case "b":
		if ms, err := strconv.ParseInt(str("t"), 10, 64); err == nil {
			w.e.ApplyBan(waf.Ban{Client: p, Until: time.UnixMilli(ms), Reason: str("r")})
			w.s.stats.bansReceived.Add(1)
		}
	case "u":
		w.e.ApplyUnban(p)
		w.s.stats.unbansReceived.Add(1)
	}
}

// sleep waits d, or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
