package limiter

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// check verifies s's invariants: the LRU list is a consistent cycle
// through exactly the live entries, each of which the table finds, the
// free list holds the rest, and the shard holds at most s.max entries.
func (s *shard) check(t *testing.T, k *Keyed) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n > s.max {
		t.Fatalf("shard holds %d entries, max %d", s.n, s.max)
	}
	if len(s.slots) == 0 {
		if s.n != 0 || s.free != 0 || s.table != nil {
			t.Fatalf("shard without slots has %d entries, free %d, table %d", s.n, s.free, len(s.table))
		}
		return
	}
	if len(s.table) < 2*(cap(s.slots)-1) || len(s.table)&(len(s.table)-1) != 0 {
		t.Fatalf("table of %d cells for %d slots, want a power of two, at least twice", len(s.table), cap(s.slots)-1)
	}
	seen := make(map[int32]bool)
	n := 0
	for i := s.slots[0].next; i != 0; i = s.slots[i].next {
		if seen[i] || n > len(s.slots) {
			t.Fatalf("LRU list loops at %d", i)
		}
		seen[i] = true
		n++
		e := &s.slots[i]
		if s.slots[e.prev].next != i || s.slots[e.next].prev != i {
			t.Fatalf("entry %d: links %d<-i->%d are not mutual", i, e.prev, e.next)
		}
		if j, _ := s.find(e.key, k.hash(e.key)); j != i {
			t.Fatalf("entry %d: table finds %d", i, j)
		}
	}
	if n != int(s.n) {
		t.Fatalf("LRU list has %d entries, n is %d", n, s.n)
	}
	cells := 0
	for _, i := range s.table {
		if i != 0 {
			cells++
			if !seen[i] {
				t.Fatalf("table holds %d, which is not live", i)
			}
		}
	}
	if cells != n {
		t.Fatalf("table holds %d entries, want %d", cells, n)
	}
	for i := s.free; i != 0; i = s.slots[i].next {
		if seen[i] {
			t.Fatalf("entry %d is both free and live", i)
		}
		seen[i] = true
	}
	if len(seen) != len(s.slots)-1 {
		t.Fatalf("%d entries are live or free, want %d", len(seen), len(s.slots)-1)
	}
}

// TestShardRandom drives small shards with random clients and times and
// checks the invariants after every call.
func TestShardRandom(t *testing.T) {
	for _, c := range []struct {
		cfg     Config
		clients int // up to this many distinct clients
	}{
		{Config{Rate: 5, Burst: 3, MaxKeys: 100, Shards: 4}, 300},
		{Config{Rate: 5, Burst: 3, MaxKeys: 1000, Shards: 2}, 3000}, // compacts
		{Config{Rate: 5, Burst: 1, MaxKeys: 1, Shards: 1}, 3},
	} {
		rng := rand.New(rand.NewPCG(5, 6))
		k, err := New(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 20000 {
			if rng.IntN(10) == 0 {
				now = now.Add(time.Duration(rng.Int64N(int64(2 * time.Second))))
			}
			n := 1 + rng.IntN(c.clients) // sometimes few clients, sometimes many
			k.Allow(netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(rng.IntN(n))}), now)
			for j := range k.shards {
				k.shards[j].check(t, k)
			}
			if t.Failed() {
				t.Fatalf("%+v: after call %d", c.cfg, i)
			}
		}
	}
}

// TestCompact checks that a shard gives its memory back after a spike.
func TestCompact(t *testing.T) {
	k, err := New(Config{Rate: 10, Burst: 10, MaxKeys: 4096, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 4096 {
		k.Allow(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), t0)
	}
	s := &k.shards[0]
	if c, n := cap(s.slots), len(s.table); c != 4097 || n != 8192 {
		t.Fatalf("cap(slots), len(table) = %d, %d after the spike, want 4097, 8192", c, n)
	}
	// A few clients keep coming after the spike; the spike's buckets
	// refill and are swept.
	for i := range 4096 {
		k.Allow(netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 10)}), t0.Add(time.Second+time.Duration(i)*time.Millisecond))
	}
	s.check(t, k)
	if n := k.Len(); n > 10 {
		t.Errorf("Len() = %d, want at most 10", n)
	}
	if c, n := cap(s.slots), len(s.table); c > 33 || n > 64 {
		t.Errorf("cap(slots), len(table) = %d, %d after the spike was swept, want at most 33, 64", c, n)
	}
}
