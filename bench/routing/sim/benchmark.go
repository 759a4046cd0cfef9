package sim

import "time"

// The cluster every scenario of Benchmark starts from.
const (
	benchServers  = 10                     // backends
	benchWorkers  = 4                      // FCFS workers per backend (c)
	benchMean     = 10 * time.Millisecond  // mean service time of a normal backend
	benchTimeout  = time.Second            // the client's timeout
	benchWarmup   = time.Second            // left out of the statistics
	benchWindow   = 50 * time.Millisecond  // traffic-share windows
	benchBHAfter  = time.Millisecond       // the black hole's 503 latency
	benchAntEvery = 2 * time.Second        // the antagonist redraws its victims
	benchBurstLen = 100 * time.Millisecond // mean burst of the bursty scenario
	benchCalmLen  = 400 * time.Millisecond // mean calm between bursts
)

// Names of the Benchmark scenarios.
const (
	Homogeneous    = "homogeneous"
	Heterogeneous  = "heterogeneous"
	DegradeName    = "degrade"
	BlackHoleName  = "black_hole"
	Bursty         = "bursty"
	AntagonistName = "antagonist"
)

// Benchmark returns the routing benchmark's six scenarios, on 10 backends
// of 4 workers with a 10ms mean service time, a 1s client timeout and a
// 1s warm-up. Runs last d; the degrade scenario's lasts dd, in thirds:
// normal, slowed, recovered.
//
//   - homogeneous: equal backends, exponential sizes, Poisson arrivals;
//   - heterogeneous: backends 1 and 6 three times slower, lognormal sizes;
//   - degrade: backend 3 ten times slower for the middle third;
//   - black_hole: backend 3 answers 503 in 1ms from the end of the
//     warm-up on;
//   - bursty: an MMPP (bursts of mean 100ms at twice the calm rate, calms
//     of mean 400ms), bimodal sizes;
//   - antagonist: 3 random backends three times slower, redrawn every 2s,
//     lognormal sizes.
func Benchmark(d, dd time.Duration) []Scenario {
	base := func(name string, dist ServiceDist) Scenario {
		means := make([]time.Duration, benchServers)
		for i := range means {
			means[i] = benchMean
		}
		return Scenario{
			Name:     name,
			Means:    means,
			Workers:  benchWorkers,
			Service:  dist,
			Duration: d,
			Warmup:   benchWarmup,
			Timeout:  benchTimeout,
			Window:   benchWindow,
		}
	}
	exp := ServiceDist{Kind: Exponential}
	logn := ServiceDist{Kind: Lognormal, Sigma: 1}
	bi := ServiceDist{Kind: Bimodal, FastProb: 0.9, FastMean: 0.5}

	hom := base(Homogeneous, exp)

	// Two backends three times slower, placed among the others so that
	// no policy gains by preferring low or high ids.
	het := base(Heterogeneous, logn)
	het.Means[1], het.Means[6] = 3*benchMean, 3*benchMean

	deg := base(DegradeName, exp)
	deg.Duration = dd
	deg.Degrade = &Degrade{Server: 3, From: dd / 3, To: 2 * dd / 3, Factor: 10}

	bh := base(BlackHoleName, exp)
	bh.BlackHole = &BlackHole{Server: 3, From: benchWarmup, Latency: benchBHAfter}

	bur := base(Bursty, bi)
	bur.Arrivals = Arrivals{BurstRatio: 2, BurstMean: benchBurstLen, CalmMean: benchCalmLen}

	ant := base(AntagonistName, logn)
	ant.Antagonist = &Antagonist{Count: 3, Period: benchAntEvery, Factor: 3}

	return []Scenario{hom, het, deg, bh, bur, ant}
}
