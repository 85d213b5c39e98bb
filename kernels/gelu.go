package kernels

import "math"

const (
	geluC = 0.7978845608028654 // sqrt(2/π)
	geluA = 0.044715
)

// Tanh32 is a float32 tanh: a rational approximation (the one Eigen uses for
// float) accurate to a few ulp, several times faster than math.Tanh.
func Tanh32(x float32) float32 {
	const clamp = 7.90531110763549805
	if x > clamp {
		x = clamp
	} else if x < -clamp {
		x = -clamp
	}
	x2 := x * x
	p := x2*-2.76076847742355e-16 + 2.00018790482477e-13
	p = x2*p + -8.60467152213735e-11
	p = x2*p + 5.12229709037114e-08
	p = x2*p + 1.48572235717979e-05
	p = x2*p + 6.37261928875436e-04
	p = x2*p + 4.89352455891786e-03
	p = x * p
	q := x2*1.19825839466702e-06 + 1.18534705686654e-04
	q = x2*q + 2.26843463243900e-03
	q = x2*q + 4.89352518554385e-03
	return p / q
}

// GELUForward writes y = 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) (the tanh
// approximation FNet uses) and saves t = tanh(...) for the backward pass.
// y may alias x.
func GELUForward(x, y, t []float32) {
	ParallelFor(len(x), 1<<14, func(lo, hi int) { geluFwd(x[lo:hi], y[lo:hi], t[lo:hi]) })
}

// GELUBackward computes dx = dy · gelu'(x) from x and the saved tanh t.
// dx may alias dy.
func GELUBackward(dy, x, t, dx []float32) {
	ParallelFor(len(x), 1<<14, func(lo, hi int) { geluBwd(dy[lo:hi], x[lo:hi], t[lo:hi], dx[lo:hi]) })
}

// TanhForward writes y = tanh(x) and keeps it in t for the backward pass.
func TanhForward(x, y, t []float32) {
	ParallelFor(len(x), 1<<14, func(lo, hi int) { tanhFwd(x[lo:hi], y[lo:hi], t[lo:hi]) })
}

func geluFwdGo(x, y, t []float32) {
	for i, v := range x {
		th := Tanh32(geluC * (v + geluA*v*v*v))
		t[i] = th
		y[i] = 0.5 * v * (1 + th)
	}
}

func geluBwdGo(dy, x, t, dx []float32) {
	for i, v := range x {
		th := t[i]
		d := 0.5*(1+th) + 0.5*v*(1-th*th)*geluC*(1+3*geluA*v*v)
		dx[i] = dy[i] * d
	}
}

func tanhFwdGo(x, y, t []float32) {
	for i, v := range x {
		th := Tanh32(v)
		t[i], y[i] = th, th
	}
}

// GELU64 is the reference tanh GELU in float64.
func GELU64(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(geluC*(x+geluA*x*x*x)))
}
