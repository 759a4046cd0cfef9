package lb

import (
	"fmt"
	"sync"
	"time"

	"github.com/phalanx-lb/phalanx/bandit"
)

// AIPredictiveName is the name the bandit adapter is registered under:
// "algorithm aipredictive;" hands backend choice to a learning policy of
// package bandit (the default one, unless the proxy's ai_algorithm
// chooses another).
const AIPredictiveName = "aipredictive"

func init() { Register(AIPredictiveName, aiPredictive{}) }

// Factory is implemented by registered Builders whose Pickers learn from
// outcomes. NewPool calls NewBuilder, so that every pool built from the
// registry learns on its own instead of sharing one policy.
type Factory interface {
	Builder
	NewBuilder() Builder
}

// aiPredictive is the registry's entry for AIPredictiveName.
type aiPredictive struct{}

// NewBuilder returns a BanditBuilder with a fresh default policy.
func (aiPredictive) NewBuilder() Builder {
	p, err := bandit.New(bandit.DefaultName, bandit.Params{}, nil)
	if err != nil {
		panic(err) // the default policy is always registered
	}
	return NewBandit(p)
}

// Build builds a Picker with a policy of its own; NewPool uses NewBuilder
// instead, so that the policy outlives health changes.
func (a aiPredictive) Build(backends []*Backend) Picker { return a.NewBuilder().Build(backends) }

// BanditBuilder turns a bandit.Bandit into a Builder: its Pickers ask the
// policy to choose among the usable backends, and report each request's
// outcome back through Result.Done. Each backend address gets a stable arm
// id for the life of the BanditBuilder, so what the policy learned about
// a backend survives rebuilds (a backend going down and coming back),
// membership changes (Pool.SetBackends: an address that stays keeps its
// arm, even if its Backend is replaced, and a new address gets a new arm)
// and, when the proxy keeps the BanditBuilder across a reload, reloads.
// When an address leaves its Pool (Forget), the Builder drops its id and,
// if the policy is a bandit.Forgetter, the policy drops what it learned:
// with discovery, addresses come and go, and what is kept of them must
// not grow with every address ever seen. An address that comes back
// later gets a new id and starts afresh. Ids are never reused, so a late
// outcome of a forgotten arm never lands on another backend.
//
// Use one BanditBuilder per pool. It is safe for concurrent use and must
// not be copied. Pick and Done allocate nothing beyond what the policy
// allocates; they take whatever lock the policy takes.
type BanditBuilder struct {
	policy bandit.Bandit
	// Now reads the clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	mu   sync.Mutex     // protects ids
	ids  map[string]int // arm id by backend address
	next int
}

// NewBandit returns a Builder over policy.
func NewBandit(policy bandit.Bandit) *BanditBuilder {
	return &BanditBuilder{policy: policy, ids: make(map[string]int)}
}

// Forget drops addr's arm id, and what the policy learned of it if the
// policy is a bandit.Forgetter; see the type's documentation. Pool calls
// it when addr leaves.
func (bb *BanditBuilder) Forget(addr string) {
	bb.mu.Lock()
	id, ok := bb.ids[addr]
	delete(bb.ids, addr)
	bb.mu.Unlock()
	if f, isF := bb.policy.(bandit.Forgetter); ok && isF {
		f.Forget(id)
	}
}

// Policy returns the policy the Builder hands choices to.
func (bb *BanditBuilder) Policy() bandit.Bandit { return bb.policy }

// arm returns the arm id of addr, giving it the next free id if it has
// none.
func (bb *BanditBuilder) arm(addr string) int {
	bb.mu.Lock()
	defer bb.mu.Unlock()
	id, ok := bb.ids[addr]
	if !ok {
		id = bb.next
		bb.ids[addr] = id
		bb.next++
	}
	return id
}

func (bb *BanditBuilder) now() time.Time {
	if bb.Now != nil {
		return bb.Now()
	}
	return time.Now()
}

// Build returns a Picker over backends.
func (bb *BanditBuilder) Build(backends []*Backend) Picker {
	if len(backends) == 0 {
		return NewErrPicker(ErrNoBackend)
	}
	p := &banditPicker{
		bb:    bb,
		arms:  make([]int, len(backends)),
		armOf: make(map[*Backend]int, len(backends)),
	}
	maxID := 0
	for i, b := range backends {
		id := bb.arm(b.addr)
		p.arms[i] = id
		p.armOf[b] = id
		maxID = max(maxID, id)
	}
	// Ids grow as addresses come and go: a slice indexed by id while they
	// are dense enough, a map once they are not.
	if maxID < 4*len(backends)+64 {
		p.byArm = make([]*Backend, maxID+1)
		for i, b := range backends {
			p.byArm[p.arms[i]] = b
		}
	} else {
		p.sparse = make(map[int]*Backend, len(backends))
		for i, b := range backends {
			p.sparse[p.arms[i]] = b
		}
	}
	p.done = p.observe // bound once, so that Pick does not allocate
	return p
}

// Report returns the policy's estimates per backend, if the policy is a
// bandit.Reporter, for the backends the Builder has seen; ok is false if
// the policy does not report.
func (bb *BanditBuilder) Report() (r []BackendReport, ok bool) {
	rep, ok := bb.policy.(bandit.Reporter)
	if !ok {
		return nil, false
	}
	bb.mu.Lock()
	addrs := make(map[int]string, len(bb.ids))
	for a, id := range bb.ids {
		addrs[id] = a
	}
	bb.mu.Unlock()
	for _, ar := range rep.Report(bb.now(), nil) {
		if a, ok := addrs[ar.Arm]; ok {
			r = append(r, BackendReport{Addr: a, ArmReport: ar})
		}
	}
	return r, true
}

// BackendReport is a policy's view of one backend.
type BackendReport struct {
	Addr string
	bandit.ArmReport
}

type banditPicker struct {
	bb     *BanditBuilder
	arms   []int            // candidate arm ids, in backend order
	byArm  []*Backend       // backend by arm id (nil for ids not usable now)
	sparse map[int]*Backend // instead of byArm, when ids are sparse
	armOf  map[*Backend]int // arm id by backend, for Done
	done   func(*Backend, Outcome)
}

func (p *banditPicker) Pick(Request) (Result, error) {
	arm := p.bb.policy.Choose(p.arms, p.bb.now())
	var b *Backend
	if p.sparse != nil {
		b = p.sparse[arm]
	} else if arm >= 0 && arm < len(p.byArm) {
		b = p.byArm[arm]
	}
	if b == nil {
		return Result{}, fmt.Errorf("%w: policy chose arm %d, not a candidate", ErrPolicy, arm)
	}
	return Result{Backend: b, Done: p.done}, nil
}

// observe is the Done of every Result: it reports o to the policy.
func (p *banditPicker) observe(b *Backend, o Outcome) {
	arm, ok := p.armOf[b]
	if !ok {
		return
	}
	p.bb.policy.Observe(arm, toBanditOutcome(o), p.bb.now())
}

// toBanditOutcome maps a proxy outcome to what a policy learns from.
func toBanditOutcome(o Outcome) bandit.Outcome {
	return bandit.Outcome{
		Latency:  o.Latency,
		Failed:   !o.Canceled && o.Failed(),
		TimedOut: !o.Canceled && o.TimedOut,
		Canceled: o.Canceled,
	}
}

var (
	_ Factory = aiPredictive{}
	_ Builder = (*BanditBuilder)(nil)
	_ Picker  = (*banditPicker)(nil)
)
