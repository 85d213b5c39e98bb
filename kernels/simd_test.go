package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The vectorised (C, in the default build) and the Go versions of each
// element-wise kernel must compute the same function on fresh random
// inputs; in the pure build both sides are the Go version.

func maxRelDiff(a, b []float32) float64 {
	worst := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		worst = math.Max(worst, d/(1+math.Abs(float64(b[i]))))
	}
	return worst
}

func TestVectorisedKernelsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	n, h := 37, 96
	x, r, dy := randSlice(rng, n*h, 3), randSlice(rng, n*h, 3), randSlice(rng, n*h, 1)
	g, b := randSlice(rng, h, 1), randSlice(rng, h, 1)
	// poison outputs so an unwritten element shows
	poison := func(k int) []float32 {
		s := make([]float32, k)
		for i := range s {
			s[i] = float32(math.NaN())
		}
		return s
	}
	check := func(name string, a, b []float32, tol float64) {
		t.Helper()
		if d := maxRelDiff(a, b); !(d <= tol) {
			t.Errorf("%s: vectorised and Go versions differ by %g", name, d)
		}
	}
	y1, t1, y2, t2 := poison(n*h), poison(n*h), poison(n*h), poison(n*h)
	geluFwd(x, y1, t1)
	geluFwdGo(x, y2, t2)
	check("gelu forward", y1, y2, 1e-6)
	dx1, dx2 := poison(n*h), poison(n*h)
	geluBwd(dy, x, t1, dx1)
	geluBwdGo(dy, x, t2, dx2)
	check("gelu backward", dx1, dx2, 2e-5) // FMA contraction differs
	tanhFwd(x, y1, t1)
	tanhFwdGo(x, y2, t2)
	check("tanh", y1, y2, 1e-6)

	xh1, xh2, rs1, rs2 := poison(n*h), poison(n*h), poison(n), poison(n)
	layerNormFwd(x, r, g, b, y1, xh1, rs1, 0, n, h, 1e-12)
	layerNormFwdGo(x, r, g, b, y2, xh2, rs2, 0, n, h, 1e-12)
	check("layernorm forward", y1, y2, 1e-5)
	check("layernorm rstd", rs1, rs2, 1e-5)
	pg1, pb1, pg2, pb2 := poison(h), poison(h), poison(h), poison(h)
	layerNormBwd(dy, xh2, rs2, g, dx1, pg1, pb1, 0, n, h)
	layerNormBwdGo(dy, xh2, rs2, g, dx2, pg2, pb2, 0, n, h)
	check("layernorm backward dx", dx1, dx2, 1e-5)
	check("layernorm backward dgamma", pg1, pg2, 1e-4)
	check("layernorm backward dbeta", pb1, pb2, 1e-4)

	row := randSlice(rng, 1000, 5)
	p1, p2 := poison(1000), poison(1000)
	s1, m1 := softmaxRow(row, p1)
	s2, m2 := softmaxRowGo(row, p2)
	check("softmax", p1, p2, 1e-6)
	if m1 != m2 || math.Abs(float64(s1-s2)) > 1e-5*float64(s2) {
		t.Errorf("softmax sum/max: %v %v vs %v %v", s1, m1, s2, m2)
	}

	yb1, yb2 := append([]float32{}, x...), append([]float32{}, x...)
	addBias(yb1, b, 0, n, h)
	addBiasGo(yb2, b, 0, n, h)
	check("add bias", yb1, yb2, 0)
	c1, c2 := make([]float32, h), make([]float32, h)
	colSums(x, c1, 0, n, h)
	colSumsGo(x, c2, 0, n, h)
	check("column sums", c1, c2, 1e-5)

	pA, pB := append([]float32{}, x...), append([]float32{}, x...)
	mA, mB := append([]float32{}, r...), append([]float32{}, r...)
	vA, vB := make([]float32, n*h), make([]float32, n*h)
	for i := range vA {
		vA[i] = float32(rng.Float64())
		vB[i] = vA[i]
	}
	adamwChunk(pA, dy, mA, vA, 0.9, 0.999, 1e-3, 1.2, 1e-6, 1e-5, 0.7)
	adamwGo(pB, dy, mB, vB, 0.9, 0.999, 1e-3, 1.2, 1e-6, 1e-5, 0.7)
	check("adamw params", pA, pB, 1e-6)
	check("adamw m", mA, mB, 1e-6)
	check("adamw v", vA, vB, 1e-6)
}

func TestBiasGradAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	n, out := 301, 17
	d := randSlice(rng, n*out, 1)
	db := make([]float32, out)
	BiasGrad(d, db, make([]float32, Workers*out), n, out)
	for j := 0; j < out; j++ {
		var s float64
		for i := 0; i < n; i++ {
			s += float64(d[i*out+j])
		}
		if math.Abs(s-float64(db[j])) > 1e-4 {
			t.Fatalf("db[%d] = %v, want %v", j, db[j], s)
		}
	}
}
