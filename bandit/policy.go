package bandit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Params are the config file's knobs for New. Zero fields take the
// defaults: DefaultEpsilon, DefaultUCBConstant, DefaultTemperature and
// DefaultThompsonThreshold; a negative Epsilon or UCBConstant asks for 0
// (no exploration). Each policy reads only its own knob; Adaptive and
// PeakEWMA read none.
type Params struct {
	// Epsilon is EpsilonGreedy's exploration rate, up to 1.
	Epsilon float64
	// UCBConstant is UCB1's exploration constant.
	UCBConstant float64
	// Temperature is Softmax's temperature, 0 or more.
	Temperature float64
	// ThompsonThreshold is ThompsonSampling's absolute latency threshold,
	// 0 or more.
	ThompsonThreshold time.Duration
}

// validate returns an error wrapping ErrBadParam for the first field out
// of its range.
func (p Params) validate() error {
	bad := func(name string, v any, want string) error {
		return fmt.Errorf("%w: %s is %v, want %s", ErrBadParam, name, v, want)
	}
	switch {
	case !(p.Epsilon <= 1):
		return bad("Epsilon", p.Epsilon, "a number up to 1")
	case math.IsNaN(p.UCBConstant) || math.IsInf(p.UCBConstant, 0):
		return bad("UCBConstant", p.UCBConstant, "a finite number")
	case !(p.Temperature >= 0) || math.IsInf(p.Temperature, 1):
		return bad("Temperature", p.Temperature, "a finite number of 0 or more")
	case p.ThompsonThreshold < 0:
		return bad("ThompsonThreshold", p.ThompsonThreshold, "0 or more")
	}
	return nil
}

// policies lists the policies New knows, the default first.
var policies = []struct {
	name string
	make func(p Params, r *rand.Rand) Bandit
}{
	{DefaultName, func(_ Params, r *rand.Rand) Bandit { return NewAdaptive(r) }},
	{EpsilonGreedyName, func(p Params, r *rand.Rand) Bandit {
		b := NewEpsilonGreedy(r)
		b.Epsilon = p.Epsilon
		return b
	}},
	{UCB1Name, func(p Params, r *rand.Rand) Bandit {
		b := NewUCB1(r)
		b.C = p.UCBConstant
		return b
	}},
	{SoftmaxName, func(p Params, r *rand.Rand) Bandit {
		b := NewSoftmax(r)
		b.Temperature = p.Temperature
		return b
	}},
	{ThompsonSamplingName, func(p Params, r *rand.Rand) Bandit {
		b := NewThompsonSampling(r)
		b.Threshold = p.ThompsonThreshold
		return b
	}},
	{PeakEWMAName, func(_ Params, r *rand.Rand) Bandit { return NewPeakEWMA(r) }},
}

// New returns a fresh policy by name, with its knob from p, drawing from r
// (nil means a randomly seeded generator). The policy uses r only with its
// lock held, so r must not be shared with anything else. Every policy New
// returns also implements Reporter.
//
// New returns an error wrapping ErrUnknownPolicy for a name not in Names,
// and one wrapping ErrBadParam for a knob out of its range.
func New(name string, p Params, r *rand.Rand) (Bandit, error) {
	for _, pol := range policies {
		if pol.name == name {
			if err := p.validate(); err != nil {
				return nil, err
			}
			return pol.make(p, r), nil
		}
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownPolicy, name, strings.Join(Names(), ", "))
}

// Names returns the names New knows, DefaultName first.
func Names() []string {
	names := make([]string, len(policies))
	for i, pol := range policies {
		names[i] = pol.name
	}
	return names
}
