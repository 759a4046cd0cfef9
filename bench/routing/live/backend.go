package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phalanx-lb/phalanx/bench/routing/sim"
)

// sizeHeader carries a request's size (see sim.ServiceDist) to the
// backend.
const sizeHeader = "X-Size"

// queueCap bounds a backend's queue; a request that finds it full gets a
// 503 at once.
const queueCap = 1 << 14

// backend is one loopback HTTP server whose requests wait, in FIFO order,
// for one of its worker slots.
type backend struct {
	id    int
	w     *sim.Workload
	start time.Time // virtual time 0
	stop  atomic.Bool
	mu    sync.RWMutex // guards closing jobs against sends
	jobs  chan job     // the FIFO queue; closed once close starts
	shut  bool         // jobs is closed
	srv   *http.Server
	ln    net.Listener
	wg    sync.WaitGroup // the workers and the Serve goroutine
}

// job is one request waiting for, or held by, a worker.
type job struct {
	size float64
	done chan struct{}
}

// startBackend starts backend id of w's scenario on 127.0.0.1, with
// virtual time 0 at start.
func startBackend(id int, w *sim.Workload, start time.Time) (*backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &backend{id: id, w: w, start: start, jobs: make(chan job, queueCap), ln: ln}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	for range w.Scenario.Workers {
		b.wg.Add(1)
		go b.work()
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		_ = b.srv.Serve(ln) // returns at Shutdown
	}()
	return b, nil
}

// Addr returns the backend's "host:port".
func (b *backend) Addr() string { return b.ln.Addr().String() }

// now returns the virtual time.
func (b *backend) now() time.Duration { return time.Since(b.start) }

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	size, err := strconv.ParseFloat(r.Header.Get(sizeHeader), 64)
	if err != nil || size < 0 {
		http.Error(w, "bad "+sizeHeader, http.StatusBadRequest)
		return
	}
	if b.w.Failing(b.id, b.now()) {
		time.Sleep(b.w.Scenario.BlackHole.Latency)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	j := job{size: size, done: make(chan struct{})}
	if !b.enqueue(j) {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	select {
	case <-j.done:
		w.WriteHeader(http.StatusOK)
	case <-r.Context().Done():
		// The client gave up; the worker still does the work.
	}
}

// enqueue queues j, or reports false if the queue is full or closed.
func (b *backend) enqueue(j job) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.shut {
		return false
	}
	select {
	case b.jobs <- j:
		return true
	default:
		return false
	}
}

// work serves jobs in FIFO order until the queue is closed; once stop is
// set it drains the queue without sleeping.
func (b *backend) work() {
	defer b.wg.Done()
	for j := range b.jobs {
		if !b.stop.Load() {
			time.Sleep(time.Duration(j.size * float64(b.w.MeanAt(b.id, b.now()))))
		}
		close(j.done)
	}
}

// close stops the backend: it lets queued jobs finish at once, waits for
// the handlers (up to 10s, then closes their connections), then for the
// workers.
func (b *backend) close() {
	b.stop.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.srv.Shutdown(ctx); err != nil {
		b.srv.Close()
	}
	b.mu.Lock()
	b.shut = true
	close(b.jobs)
	b.mu.Unlock()
	b.wg.Wait()
}
