package train

import (
	"fmt"
	"math"
)

// Decay is the learning-rate shape after warmup.
type Decay int

const (
	DecayLinear   Decay = iota // to min_lr at the last step (the official recipe)
	DecayCosine                // half cosine to min_lr
	DecayConstant              // stays at the peak
	// DecayRsqrt is the inverse square root of the step after warmup,
	// peak·sqrt(warmup/step) (floored at min_lr): the Long Range Arena's
	// "constant * linear_warmup * rsqrt_decay", whose learning_rate
	// constant is this peak times sqrt(warmup). It does not depend on the
	// run's length, so a longer run continues the same curve.
	DecayRsqrt
)

// ParseDecay reads "linear", "cosine", "constant" or "rsqrt".
func ParseDecay(s string) (Decay, error) {
	switch s {
	case "linear", "":
		return DecayLinear, nil
	case "cosine":
		return DecayCosine, nil
	case "constant":
		return DecayConstant, nil
	case "rsqrt":
		return DecayRsqrt, nil
	}
	return 0, fmt.Errorf("%q: want linear, cosine, constant or rsqrt", s)
}

// Schedule is the learning rate as a function of the step.
type Schedule struct {
	Peak, Min float64
	Warmup    int
	Total     int
	Decay     Decay
}

// LR is the learning rate of the update that makes step `step` (1-based):
// linear warmup from peak/warmup to the peak over the first Warmup steps
// (the official lr·min(1, step/warmup)), then the decay from the peak at
// step Warmup to Min at step Total.
func (s Schedule) LR(step int) float64 {
	if s.Warmup > 0 && step <= s.Warmup {
		return s.Peak * float64(step) / float64(s.Warmup)
	}
	if s.Decay == DecayRsqrt {
		return math.Max(s.Min, s.Peak*math.Sqrt(float64(max(s.Warmup, 1))/float64(max(step, 1))))
	}
	if s.Decay == DecayConstant || s.Total <= s.Warmup {
		return s.Peak
	}
	frac := float64(step-s.Warmup) / float64(s.Total-s.Warmup)
	frac = math.Min(1, math.Max(0, frac))
	switch s.Decay {
	case DecayCosine:
		return s.Min + (s.Peak-s.Min)*0.5*(1+math.Cos(math.Pi*frac))
	default:
		return s.Peak - (s.Peak-s.Min)*frac
	}
}
