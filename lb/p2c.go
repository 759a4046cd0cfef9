package lb

// P2CName is the name P2C is registered under.
const P2CName = "p2c"

func init() { Register(P2CName, P2C{}) }

// P2C is the power of two choices
// (Mitzenmacher, https://www.eecs.harvard.edu/~michaelm/postscripts/tpds2001.pdf):
// draw two distinct backends at random and send the request to the less
// loaded one, judged like LeastConnections by in-flight requests relative
// to weight. It spreads load almost as well as LeastConnections at O(1)
// per pick, and avoids herding all new requests onto the one idle backend.
//
// The two candidates are drawn with probability proportional to weight,
// without replacement; on a tie (as when all are idle) the first one wins,
// so idle traffic follows the weights exactly, as with Random. With one
// backend, Pick returns it without drawing.
//
// The zero value is ready to use. A P2C may be copied, and is safe for
// concurrent use if Rand is.
type P2C struct {
	// Rand draws the candidates, two values per pick. nil means
	// math/rand/v2's Uint64, which is safe for concurrent use and takes no
	// lock. A non-nil Rand must be safe for concurrent use if the Picker's
	// Pick is called concurrently.
	Rand func() uint64
}

// Build returns a Picker over backends.
func (c P2C) Build(backends []*Backend) Picker {
	if len(backends) == 0 {
		return NewErrPicker(ErrNoBackend)
	}
	return &p2cPicker{
		backends: backends,
		rand:     randOrDefault(c.Rand),
		weights:  newCumWeights(backends),
	}
}

type p2cPicker struct {
	backends []*Backend
	rand     func() uint64
	weights  cumWeights
}

func (p *p2cPicker) Pick(Request) (Result, error) {
	if len(p.backends) == 1 {
		return Result{Backend: p.backends[0]}, nil
	}
	i := p.weights.index(p.rand())
	j := p.weights.indexExcept(p.rand(), i)
	a, b := p.backends[i], p.backends[j]
	if cmpLoad(b.inflight.Load(), b.weight, a.inflight.Load(), a.weight) < 0 {
		return Result{Backend: b}, nil
	}
	return Result{Backend: a}, nil
}

var (
	_ Builder = P2C{}
	_ Picker  = (*p2cPicker)(nil)
)
