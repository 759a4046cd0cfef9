package sim

import (
	"math"
	"math/rand/v2"
)

// ServiceKind names a service-time distribution.
type ServiceKind int

const (
	// Exponential service times (coefficient of variation 1).
	Exponential ServiceKind = iota
	// Lognormal service times with shape Sigma.
	Lognormal
	// Bimodal service times: a fast mode (probability FastProb) and a
	// slow one, each lognormal with shape 0.25 around its own mean.
	Bimodal
)

// String returns the kind's name.
func (k ServiceKind) String() string {
	switch k {
	case Exponential:
		return "exponential"
	case Lognormal:
		return "lognormal"
	case Bimodal:
		return "bimodal"
	}
	return "unknown"
}

// ServiceDist is a distribution of request sizes with mean 1; a request's
// service time is its size times the mean service time of the server that
// serves it. The zero value is exponential.
type ServiceDist struct {
	Kind ServiceKind
	// Sigma is the lognormal shape (the standard deviation of the log);
	// 0 means 1.
	Sigma float64
	// FastProb is the bimodal probability of the fast mode and FastMean
	// its mean (less than 1); the slow mode's mean follows from the
	// overall mean of 1. 0 means 0.9 and 0.5 (so the slow mode's mean is
	// 5.5).
	FastProb, FastMean float64
}

// String describes d briefly.
func (d ServiceDist) String() string { return d.Kind.String() }

// bimodalSigma is the lognormal shape of each bimodal mode.
const bimodalSigma = 0.25

// draw returns one request size; the mean over many draws is 1.
func (d ServiceDist) draw(r *rand.Rand) float64 {
	switch d.Kind {
	case Lognormal:
		s := d.Sigma
		if s == 0 {
			s = 1
		}
		return lognormal(r, s)
	case Bimodal:
		p, m := d.FastProb, d.FastMean
		if p == 0 {
			p = 0.9
		}
		if m == 0 {
			m = 0.5
		}
		slow := (1 - p*m) / (1 - p)
		if r.Float64() < p {
			return m * lognormal(r, bimodalSigma)
		}
		return slow * lognormal(r, bimodalSigma)
	default:
		return r.ExpFloat64()
	}
}

// lognormal draws a lognormal variate of mean 1 and shape s.
func lognormal(r *rand.Rand, s float64) float64 {
	return math.Exp(s*r.NormFloat64() - s*s/2)
}
