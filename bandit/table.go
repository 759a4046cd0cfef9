package bandit

import (
	"iter"
	"slices"
)

// denseLimit bounds the arm ids kept in a slice indexed by id; larger (and
// negative) ids go to a map, so that a stray huge id costs one map entry,
// not a huge slice.
const denseLimit = 1 << 16

// table maps arm ids to per-arm records. Records are allocated once, when
// an arm is first seen, and never move, so pointers to them stay valid.
// It is not safe for concurrent use; its owner's mutex guards it.
type table[T any] struct {
	dense  []*T       // by id, for 0 <= id < denseLimit; nil: unknown
	sparse map[int]*T // the other ids
	n      int        // number of records
	keys   []int      // scratch for all: the sparse ids, sorted
}

// get returns the record of arm, or nil if arm is unknown.
func (t *table[T]) get(arm int) *T {
	if uint(arm) < uint(len(t.dense)) {
		return t.dense[arm]
	}
	if arm >= 0 && arm < denseLimit {
		return nil
	}
	return t.sparse[arm]
}

// put stores rec as the record of arm, which must be unknown.
func (t *table[T]) put(arm int, rec *T) {
	t.n++
	if arm >= 0 && arm < denseLimit {
		if arm >= len(t.dense) {
			t.dense = slices.Grow(t.dense, arm+1-len(t.dense))[:arm+1]
		}
		t.dense[arm] = rec
		return
	}
	if t.sparse == nil {
		t.sparse = make(map[int]*T)
	}
	t.sparse[arm] = rec
}

// del removes the record of arm, if there is one.
func (t *table[T]) del(arm int) {
	if uint(arm) < uint(len(t.dense)) {
		if t.dense[arm] != nil {
			t.dense[arm] = nil
			t.n--
		}
		return
	}
	if _, ok := t.sparse[arm]; ok {
		delete(t.sparse, arm)
		t.n--
	}
}

// each yields every arm and its record, in no particular order.
func (t *table[T]) each() iter.Seq2[int, *T] {
	return func(yield func(int, *T) bool) {
		for arm, rec := range t.dense {
			if rec != nil && !yield(arm, rec) {
				return
			}
		}
		for arm, rec := range t.sparse {
			if !yield(arm, rec) {
				return
			}
		}
	}
}

// all yields every arm and its record in increasing arm order.
func (t *table[T]) all() iter.Seq2[int, *T] {
	return func(yield func(int, *T) bool) {
		t.keys = t.keys[:0]
		for k := range t.sparse {
			t.keys = append(t.keys, k)
		}
		slices.Sort(t.keys)
		i := 0
		for ; i < len(t.keys) && t.keys[i] < 0; i++ {
			if !yield(t.keys[i], t.sparse[t.keys[i]]) {
				return
			}
		}
		for arm, rec := range t.dense {
			if rec != nil && !yield(arm, rec) {
				return
			}
		}
		for ; i < len(t.keys); i++ {
			if !yield(t.keys[i], t.sparse[t.keys[i]]) {
				return
			}
		}
	}
}
