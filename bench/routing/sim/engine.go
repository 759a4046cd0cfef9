package sim

import "time"

// eventKind says what an event does when it fires.
type eventKind uint8

const (
	// evDepart: a server finishes a request; the client gets the answer
	// unless it already gave up.
	evDepart eventKind = iota + 1
	// evTimeout: the client gives up on a request the server has not
	// finished.
	evTimeout
	// evFail: a black-hole server answers a request with a 5xx.
	evFail
)

// event is one scheduled happening in virtual time.
type event struct {
	at   time.Duration
	seq  uint64 // order of scheduling, to break ties first-in first-out
	req  int32  // index of the request in the Workload
	kind eventKind
}

// before reports whether e fires before f: earlier time first, then
// earlier scheduling.
func (e event) before(f event) bool {
	if e.at != f.at {
		return e.at < f.at
	}
	return e.seq < f.seq
}

// eventQueue is a binary min-heap of events ordered by (at, seq), so that
// events scheduled for the same instant fire in the order they were
// scheduled. The zero value is an empty queue.
type eventQueue struct {
	ev  []event
	seq uint64
}

// Len returns the number of pending events.
func (q *eventQueue) Len() int { return len(q.ev) }

// push schedules an event.
func (q *eventQueue) push(at time.Duration, kind eventKind, req int32) {
	q.seq++
	q.ev = append(q.ev, event{at: at, seq: q.seq, req: req, kind: kind})
	// Sift up; the loop runs at most log2(len) times.
	i := len(q.ev) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.ev[i].before(q.ev[p]) {
			break
		}
		q.ev[i], q.ev[p] = q.ev[p], q.ev[i]
		i = p
	}
}

// peek returns the next event without removing it; ok is false if the
// queue is empty.
func (q *eventQueue) peek() (e event, ok bool) {
	if len(q.ev) == 0 {
		return event{}, false
	}
	return q.ev[0], true
}

// pop removes and returns the next event. The queue must not be empty.
func (q *eventQueue) pop() event {
	top := q.ev[0]
	n := len(q.ev) - 1
	q.ev[0] = q.ev[n]
	q.ev = q.ev[:n]
	// Sift down; the loop runs at most log2(n) times.
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.ev[r].before(q.ev[l]) {
			m = r
		}
		if !q.ev[m].before(q.ev[i]) {
			break
		}
		q.ev[i], q.ev[m] = q.ev[m], q.ev[i]
		i = m
	}
	return top
}
