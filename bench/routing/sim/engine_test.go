package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestEventQueueOrder(t *testing.T) {
	tests := []struct {
		name string
		at   []time.Duration // scheduling order; req is the index
		want []int32         // firing order
	}{
		{"empty", nil, nil},
		{"one", []time.Duration{5}, []int32{0}},
		{"sorted", []time.Duration{1, 2, 3}, []int32{0, 1, 2}},
		{"reversed", []time.Duration{3, 2, 1}, []int32{2, 1, 0}},
		{"ties fire in scheduling order", []time.Duration{2, 1, 2, 1, 2}, []int32{1, 3, 0, 2, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q eventQueue
			for i, at := range tt.at {
				q.push(at, evDepart, int32(i))
			}
			var got []int32
			for q.Len() > 0 {
				got = append(got, q.pop().req)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("firing order = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEventQueueRandom checks the heap against a stable sort, with pushes
// and pops interleaved as in a run.
func TestEventQueueRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var q eventQueue
	type ev struct {
		at  time.Duration
		seq int
	}
	var ref []ev // pending events, kept sorted by (at, seq)
	seq := 0
	now := time.Duration(0)
	for step := range 20000 {
		if r.IntN(3) > 0 || q.Len() == 0 {
			// Schedule at or after the current time, with many ties.
			at := now + time.Duration(r.IntN(50))
			q.push(at, evDepart, int32(seq))
			ref = append(ref, ev{at, seq})
			slices.SortStableFunc(ref, func(a, b ev) int { return int(a.at - b.at) })
			seq++
			continue
		}
		got := q.pop()
		want := ref[0]
		ref = ref[1:]
		if got.at != want.at || int(got.req) != want.seq {
			t.Fatalf("step %d: pop() = (%v, %d), want (%v, %d)", step, got.at, got.req, want.at, want.seq)
		}
		if got.at < now {
			t.Fatalf("step %d: time went back from %v to %v", step, now, got.at)
		}
		now = got.at
		if e, ok := q.peek(); ok && e.before(got) {
			t.Fatalf("step %d: peek() = %v, before the event just popped", step, e.at)
		}
	}
}
