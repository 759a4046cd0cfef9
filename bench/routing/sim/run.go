package sim

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
)

// Result sums up one run of a policy on a Workload. Statistics cover the
// requests that arrived after the scenario's warm-up.
type Result struct {
	Policy string
	// Requests is the number of requests counted.
	Requests int
	// Errors counts the failed requests: 5xx answers and timeouts.
	Errors int
	// TimedOut counts the requests whose client gave up.
	TimedOut int
	// SettledRequests and SettledErrors count, in black-hole scenarios,
	// the requests that arrived at least Settle after the black hole
	// opened, and the failed ones among them: the error rate once the
	// policy has had time to learn.
	SettledRequests, SettledErrors int
	// P50, P99 and P999 are latency percentiles (nearest rank) as the
	// client saw them, where a failed request counts as the scenario's
	// timeout (or its own latency if there is no timeout): an error is
	// never better than the slowest success.
	P50, P99, P999 time.Duration
	// MeanLatency is the mean of the same latencies.
	MeanLatency time.Duration
	// MeanWait is the mean time requests waited in a server's queue
	// before a worker took them (black-hole answers count 0).
	MeanWait time.Duration
	// Share is each server's share of the requests.
	Share []float64
	// MaxShare is the largest Share.
	MaxShare float64
	// Leave and Return are set in degrade scenarios: how long after the
	// slowdown began the slowed server's traffic share fell to at most
	// half of its share before, and how long after it ended the share
	// came back to at least three quarters of it. Shares are measured
	// over ShareSpan; a time is the start of the first such span that
	// meets the condition, and -1 if none does before the slowdown ends
	// (for Leave) or the run ends (for Return).
	Leave, Return time.Duration
}

// ErrorRate returns Errors over Requests.
func (r *Result) ErrorRate() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Requests)
}

// SettledErrorRate returns SettledErrors over SettledRequests.
func (r *Result) SettledErrorRate() float64 {
	if r.SettledRequests == 0 {
		return 0
	}
	return float64(r.SettledErrors) / float64(r.SettledRequests)
}

// Settle is how long after a black hole opens the settled error rate
// starts counting.
const Settle = time.Second

// ShareSpan is the span over which the degrade timings measure traffic
// shares.
const ShareSpan = 250 * time.Millisecond

// Thresholds of the degrade timings, relative to the share before the
// slowdown.
const (
	LeaveBelow  = 0.5
	ReturnAbove = 0.75
)

// per-request state flags.
const (
	flagAnswered uint8 = 1 << iota
	flagFailed
	flagTimedOut
)

// Run runs policy p on w. seed seeds the policy's own randomness (each
// balancer instance gets its own stream). A policy that panics or chooses
// a server out of range fails the run with an error.
func Run(w *Workload, p Policy, seed uint64) (res Result, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("sim: policy %s panicked: %v", p.Name, v)
		}
	}()
	s := &w.Scenario
	c := newCluster(w)
	routers := make([]Router, w.K)
	for k := range routers {
		routers[k], err = p.New(c, stream(seed, streamPolicy+uint64(k)))
		if err != nil {
			return Result{}, fmt.Errorf("sim: policy %s: %w", p.Name, err)
		}
	}
	r := &runner{
		w:       w,
		c:       c,
		routers: routers,
		server:  make([]int16, w.Len()),
		flags:   make([]uint8, w.Len()),
		lat:     make([]time.Duration, 0, w.Len()),
		win:     make([]int32, (int(s.Duration/s.window())+1)*c.Servers()),
	}
	if err := r.run(); err != nil {
		return Result{}, fmt.Errorf("sim: policy %s: %w", p.Name, err)
	}
	res = r.result()
	res.Policy = p.Name
	return res, nil
}

// runner is the state of one run.
type runner struct {
	w       *Workload
	c       *Cluster
	routers []Router
	q       eventQueue

	server []int16 // server of each request
	flags  []uint8 // flag bits of each request

	lat      []time.Duration // latencies of counted requests
	errors   int
	timedOut int
	settled  int // requests counted in the settled error rate
	settErr  int // failed ones among them
	waitSum  time.Duration
	win      []int32 // requests per share window and server
}

func (r *runner) run() error {
	n := r.w.Len()
	for i := range n {
		at := r.w.arrival[i]
		// Events at the same instant as an arrival fire first. Each
		// iteration removes one event, so the loop ends.
		for r.q.Len() > 0 {
			e, _ := r.q.peek()
			if e.at > at {
				break
			}
			r.fire(r.q.pop())
		}
		if err := r.dispatch(i, at); err != nil {
			return err
		}
	}
	// Firing never schedules events, so this drains the queue.
	for r.q.Len() > 0 {
		r.fire(r.q.pop())
	}
	return nil
}

func (r *runner) counted(i int) bool { return r.w.arrival[i] >= r.w.Scenario.Warmup }

func (r *runner) dispatch(i int, at time.Duration) error {
	s := &r.w.Scenario
	size := r.w.size[i]
	srv := r.routers[r.w.inst[i]].Choose(Request{ID: i, Size: size}, at)
	if srv < 0 || srv >= r.c.Servers() {
		return fmt.Errorf("chose server %d of %d", srv, r.c.Servers())
	}
	r.server[i] = int16(srv)
	r.win[int(at/s.window())*r.c.Servers()+srv]++
	if r.w.failing(srv, at) {
		r.q.push(at+s.BlackHole.Latency, evFail, int32(i))
		return nil
	}
	start, finish := r.c.dispatch(srv, size, at)
	if r.counted(i) {
		r.waitSum += start - at
	}
	if s.Timeout > 0 && finish-at > s.Timeout {
		r.q.push(at+s.Timeout, evTimeout, int32(i))
	}
	r.q.push(finish, evDepart, int32(i))
	return nil
}

func (r *runner) fire(e event) {
	i := int(e.req)
	srv := int(r.server[i])
	if e.kind == evDepart {
		r.c.servers[srv].inSystem--
	}
	if r.flags[i]&flagAnswered != 0 {
		return
	}
	r.flags[i] |= flagAnswered
	o := bandit.Outcome{Latency: e.at - r.w.arrival[i]}
	switch e.kind {
	case evTimeout:
		o.Failed, o.TimedOut = true, true
		r.flags[i] |= flagFailed | flagTimedOut
	case evFail:
		o.Failed = true
		r.flags[i] |= flagFailed
	}
	r.routers[r.w.inst[i]].Observe(srv, o, e.at)
	if !r.counted(i) {
		return
	}
	l := o.Latency
	if b := r.w.Scenario.BlackHole; b != nil && r.w.arrival[i] >= b.From+Settle {
		r.settled++
		if o.Failed {
			r.settErr++
		}
	}
	if o.Failed {
		r.errors++
		if o.TimedOut {
			r.timedOut++
		}
		if t := r.w.Scenario.Timeout; t > 0 {
			l = t
		}
	}
	r.lat = append(r.lat, l)
}

func (r *runner) result() Result {
	s := &r.w.Scenario
	res := Result{
		Requests: len(r.lat),
		Errors:   r.errors,
		TimedOut: r.timedOut,
		Leave:    -1,
		Return:   -1,

		SettledRequests: r.settled,
		SettledErrors:   r.settErr,
	}
	if len(r.lat) == 0 {
		return res
	}
	var sum time.Duration
	for _, l := range r.lat {
		sum += l
	}
	res.MeanLatency = sum / time.Duration(len(r.lat))
	res.MeanWait = r.waitSum / time.Duration(len(r.lat))
	slices.Sort(r.lat)
	res.P50 = Percentile(r.lat, 0.5)
	res.P99 = Percentile(r.lat, 0.99)
	res.P999 = Percentile(r.lat, 0.999)

	n := r.c.Servers()
	counts := make([]int, n)
	for i := range r.w.Len() {
		if r.counted(i) {
			counts[r.server[i]]++
		}
	}
	res.Share = make([]float64, n)
	for i, k := range counts {
		res.Share[i] = float64(k) / float64(res.Requests)
		res.MaxShare = max(res.MaxShare, res.Share[i])
	}
	if d := s.Degrade; d != nil {
		res.Leave, res.Return = r.degradeTimes(d)
	}
	return res
}

// share returns server srv's share of the requests that arrived in the
// windows [from, to) (window indices), and false if there were none.
func (r *runner) share(srv, from, to int) (float64, bool) {
	n := r.c.Servers()
	var mine, all int
	for w := max(from, 0); w < to && (w+1)*n <= len(r.win); w++ {
		for j := range n {
			all += int(r.win[w*n+j])
		}
		mine += int(r.win[w*n+srv])
	}
	if all == 0 {
		return 0, false
	}
	return float64(mine) / float64(all), true
}

// degradeTimes measures Leave and Return (see Result).
func (r *runner) degradeTimes(d *Degrade) (leave, ret time.Duration) {
	s := &r.w.Scenario
	win := s.window()
	span := int((ShareSpan + win - 1) / win)
	base, ok := r.share(d.Server, int(s.Warmup/win), int(d.From/win))
	if !ok {
		return -1, -1
	}
	find := func(from, to time.Duration, ok func(float64) bool) time.Duration {
		first, last := int(from/win), int(to/win)
		for w := first; w+span <= last; w++ {
			if sh, any := r.share(d.Server, w, w+span); any && ok(sh) {
				return time.Duration(w-first) * win
			}
		}
		return -1
	}
	leave = find(d.From, d.To, func(sh float64) bool { return sh <= LeaveBelow*base })
	ret = find(d.To, s.Duration, func(sh float64) bool { return sh >= ReturnAbove*base })
	return leave, ret
}

// Percentile returns the q-quantile of sorted by the nearest-rank method:
// the smallest value with at least a fraction q of the values at or below
// it. sorted must be sorted and not empty.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	k := int(math.Ceil(float64(len(sorted))*q-1e-9)) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}
