package limiter

import (
	"math/bits"
	"sync"
	"time"
)

// entry is one tracked client: 40 bytes, no pointers.
type entry struct {
	key key
	bucket
	prev, next int32 // neighbours in the LRU list (toward the most and the least recently used); next links the free list
}

// shard is one independently locked part of a Keyed's key table.
//
// Its entries live in one slice and refer to each other by position, so
// that nothing in a shard holds a pointer for the GC to scan and a new
// client allocates nothing once the slice has grown. slots[0] is the
// sentinel of a circular LRU list: slots[0].next is the most recently used
// entry, slots[0].prev the least. table finds an entry by key: an
// open-addressing hash table of positions in slots (0 is an empty cell),
// with linear probing and backward-shift deletion, at most half full. A
// map[key]int32 in its place measured 154 bytes per client, not 56: under
// churn, its deleted cells make it grow to twice the size its entries
// need.
type shard struct {
	mu    sync.Mutex // protects the fields below
	clk   clock      // the epoch of every bucket.last in this shard
	table []int32    // positions in slots by key hash; len is a power of two, at least 2·(cap(slots)-1)
	slots []entry    // the sentinel, then live and free entries
	n     int32      // live entries
	free  int32      // first free entry, linked by next; 0 if none
	max   int32      // capacity: the most live entries (set by New)
}

// Sweep and compaction tuning.
const (
	// sweepPerCall is how many least recently used entries each call may
	// drop when their buckets are full. More than one, so that sweeping
	// outpaces the inserts that fill the table.
	sweepPerCall = 2
	// minSlots is the capacity slots starts with, and below which a shard
	// never compacts.
	minSlots = 16
)

// allow looks kk up (inserting it, and evicting the least recently used
// client if the shard is full), charges it, and sweeps idle clients. h is
// k.hash(kk).
func (s *shard) allow(k *Keyed, kk key, h uint64, now time.Time) Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.clk.since(now)
	var i int32
	if s.n > 0 {
		i, _ = s.find(kk, h)
	}
	if i != 0 {
		s.touch(i)
	} else {
		i = s.insert(k, kk, h, bucket{tokens: k.burst, last: t})
	}
	d := k.take(&s.slots[i].bucket, now, t)
	s.sweep(k, t)
	return d
}

// home returns the table cell where a key of hash h starts probing. The
// low bits of h chose the shard; the high ones choose the cell. It
// requires s.mu held.
func (s *shard) home(h uint64) int {
	return int(h>>32) & (len(s.table) - 1)
}

// find returns the position in slots of the entry for kk (0 if there is
// none) and its cell in table (the empty cell where kk would go if there is
// none). h is k.hash(kk). It requires s.mu held and a table.
func (s *shard) find(kk key, h uint64) (i int32, cell int) {
	mask := len(s.table) - 1
	for c := s.home(h); ; c = (c + 1) & mask {
		if i := s.table[c]; i == 0 || s.slots[i].key == kk {
			return i, c
		}
	}
}

// unindex removes entry i from table: it finds i's cell, empties it, and
// moves later entries of the same run back into the hole, unless that would
// put one before its home cell (Knuth's Algorithm R, TAOCP 6.4). It
// requires s.mu held.
func (s *shard) unindex(k *Keyed, i int32) {
	mask := len(s.table) - 1
	hole := s.home(k.hash(s.slots[i].key))
	for s.table[hole] != i {
		hole = (hole + 1) & mask
	}
	for c := (hole + 1) & mask; s.table[c] != 0; c = (c + 1) & mask {
		j := s.table[c]
		// j may fill the hole if its home is not cyclically in (hole, c].
		if home := s.home(k.hash(s.slots[j].key)); (c-home)&mask >= (c-hole)&mask {
			s.table[hole] = j
			hole = c
		}
	}
	s.table[hole] = 0
}

// touch makes i the most recently used entry. It requires s.mu held.
func (s *shard) touch(i int32) {
	if s.slots[0].next != i {
		s.unlink(i)
		s.pushFront(i)
	}
}

// unlink takes i out of the LRU list. It requires s.mu held.
func (s *shard) unlink(i int32) {
	e := &s.slots[i]
	s.slots[e.prev].next = e.next
	s.slots[e.next].prev = e.prev
}

// pushFront links i as the most recently used entry. It requires s.mu held.
func (s *shard) pushFront(i int32) {
	first := s.slots[0].next
	s.slots[i].prev, s.slots[i].next = 0, first
	s.slots[first].prev = i
	s.slots[0].next = i
}

// insert adds kk, of hash h, with bucket b as the most recently used entry
// and returns its position. When the shard is full it first evicts the
// least recently used entry, whether or not its bucket has refilled. It
// requires s.mu held and kk not in s.
func (s *shard) insert(k *Keyed, kk key, h uint64, b bucket) int32 {
	var i int32
	switch {
	case s.free != 0:
		i = s.free
		s.free = s.slots[i].next
	case s.n < s.max:
		if len(s.slots) == cap(s.slots) {
			s.resize(k, min(max(minSlots, 2*(cap(s.slots)-1)), int(s.max)))
		}
		i = int32(len(s.slots))
		s.slots = s.slots[:i+1]
	default:
		i = s.slots[0].prev
		s.remove(k, i)
		s.free = s.slots[i].next // take i back from the free list
	}
	s.slots[i] = entry{key: kk, bucket: b}
	s.pushFront(i)
	_, c := s.find(kk, h)
	s.table[c] = i
	s.n++
	return i
}

// remove unlinks, unindexes and frees entry i. It requires s.mu held.
func (s *shard) remove(k *Keyed, i int32) {
	s.unlink(i)
	s.unindex(k, i)
	s.slots[i].next = s.free
	s.free = i
	s.n--
}

// sweep drops up to sweepPerCall least recently used entries whose buckets
// are full at t: such a client is the same as a new one, so forgetting it
// changes no decision. When a quarter or less of a large shard is left, it
// compacts the shard, so memory shrinks after a spike. It requires s.mu
// held.
func (s *shard) sweep(k *Keyed, t int64) {
	swept := false
	for range sweepPerCall {
		i := s.slots[0].prev
		if i == 0 || k.tokensAt(&s.slots[i].bucket, t) < k.burst {
			break
		}
		s.remove(k, i)
		swept = true
	}
	if swept && cap(s.slots)-1 > minSlots && int(s.n) <= (cap(s.slots)-1)/4 {
		s.resize(k, max(minSlots, 2*int(s.n)))
	}
}

// resize moves the live entries, most recently used first, into new slots
// and table with room for size entries (at least s.n), letting the GC
// reclaim the old ones. Growth doubles and compaction halves at least
// twice, so each entry moves a constant number of times on average. It
// requires s.mu held.
func (s *shard) resize(k *Keyed, size int) {
	slots := make([]entry, s.n+1, size+1)
	table := make([]int32, 1<<bits.Len(uint(2*size-1)))
	old := s.slots
	s.slots, s.table, s.free = slots, table, 0
	if len(old) == 0 {
		return
	}
	j := int32(0)
	for i := old[0].next; i != 0; i = old[i].next {
		j++
		slots[j] = old[i]
		slots[j].prev, slots[j].next = j-1, j+1
		_, c := s.find(slots[j].key, k.hash(slots[j].key))
		table[c] = j
	}
	slots[j].next = 0
	slots[0].prev, slots[0].next = j, min(j, 1)
}
