package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

func TestGemmAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, n, k := 13, 17, 11
	a, b := randSlice(rng, m*k, 1), randSlice(rng, k*n, 1)
	bt := make([]float32, n*k) // b transposed
	at := make([]float32, k*m)
	for i := 0; i < k; i++ {
		for j := 0; j < n; j++ {
			bt[j*k+i] = b[i*n+j]
		}
		for j := 0; j < m; j++ {
			at[i*m+j] = a[j*k+i]
		}
	}
	want := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			for l := 0; l < k; l++ {
				want[i*n+j] += float64(a[i*k+l]) * float64(b[l*n+j])
			}
		}
	}
	for name, f := range map[string]func(c []float32, acc bool){
		"NN": func(c []float32, acc bool) { MatMulNN(m, n, k, a, b, c, acc) },
		"NT": func(c []float32, acc bool) { MatMulNT(m, n, k, a, bt, c, acc) },
		"TN": func(c []float32, acc bool) { MatMulTN(m, n, k, at, b, c, acc) },
	} {
		c := make([]float32, m*n)
		f(c, false)
		f(c, true) // accumulate: 2·AB
		for i := range want {
			if math.Abs(float64(c[i])-2*want[i]) > 1e-4 {
				t.Fatalf("%s: c[%d] = %v, want %v", name, i, c[i], 2*want[i])
			}
		}
	}
}

func TestTanh32AndExp32(t *testing.T) {
	for x := -12.0; x <= 12; x += 0.001 {
		if d := math.Abs(float64(Tanh32(float32(x))) - math.Tanh(x)); d > 3e-7 {
			t.Fatalf("Tanh32(%v) off by %g", x, d)
		}
	}
	for x := -87.0; x <= 88.7; x += 0.0137 {
		want := math.Exp(float64(float32(x)))
		if rel := math.Abs(float64(Exp32(float32(x)))-want) / want; rel > 3e-7 {
			t.Fatalf("Exp32(%v) relative error %g", x, rel)
		}
	}
	if Exp32(-100) != 0 || !math.IsInf(float64(Exp32(100)), 1) {
		t.Error("Exp32 out-of-range handling")
	}
}

func TestGELUAgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	x := randSlice(rng, 5000, 3)
	y, th := make([]float32, len(x)), make([]float32, len(x))
	GELUForward(x, y, th)
	dy := randSlice(rng, len(x), 1)
	dx := make([]float32, len(x))
	GELUBackward(dy, x, th, dx)
	for i, v := range x {
		xv := float64(v)
		if d := math.Abs(float64(y[i]) - GELU64(xv)); d > 1e-6*(1+math.Abs(xv)) {
			t.Fatalf("gelu(%v) = %v, want %v", v, y[i], GELU64(xv))
		}
		h := 1e-5
		fd := (GELU64(xv+h) - GELU64(xv-h)) / (2 * h)
		if d := math.Abs(float64(dx[i]) - float64(dy[i])*fd); d > 1e-5*(1+math.Abs(float64(dy[i]))) {
			t.Fatalf("gelu'(%v): got %v, finite difference %v", v, dx[i], float64(dy[i])*fd)
		}
	}
}

// layerNorm64 is the textbook LayerNorm in float64.
func layerNorm64(x []float64, g, b []float32, eps float64) []float64 {
	h := len(x)
	var mean, vr float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(h)
	for _, v := range x {
		vr += (v - mean) * (v - mean)
	}
	vr /= float64(h)
	y := make([]float64, h)
	for j, v := range x {
		y[j] = (v-mean)/math.Sqrt(vr+eps)*float64(g[j]) + float64(b[j])
	}
	return y
}

func TestLayerNormForwardBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	n, h := 37, 24
	x, r := randSlice(rng, n*h, 2), randSlice(rng, n*h, 2)
	g, b := randSlice(rng, h, 1), randSlice(rng, h, 1)
	y, xhat, rstd := make([]float32, n*h), make([]float32, n*h), make([]float32, n)
	LayerNormForward(x, r, g, b, y, xhat, rstd, n, h, 1e-12)
	for i := 0; i < n; i++ {
		row := make([]float64, h)
		for j := range row {
			row[j] = float64(x[i*h+j] + r[i*h+j])
		}
		want := layerNorm64(row, g, b, 1e-12)
		for j := range want {
			if math.Abs(float64(y[i*h+j])-want[j]) > 1e-5 {
				t.Fatalf("y[%d,%d] = %v, want %v", i, j, y[i*h+j], want[j])
			}
		}
	}
	// backward against central differences of L = Σ dy·LN(x + r)
	dy := randSlice(rng, n*h, 1)
	dx, dg, db := make([]float32, n*h), make([]float32, h), make([]float32, h)
	LayerNormBackward(dy, xhat, rstd, g, dx, dg, db, make([]float32, 2*h*Workers), n, h)
	loss := func(x []float32, g, b []float32) float64 {
		var l float64
		for i := 0; i < n; i++ {
			row := make([]float64, h)
			for j := range row {
				row[j] = float64(x[i*h+j]) + float64(r[i*h+j])
			}
			for j, v := range layerNorm64(row, g, b, 1e-12) {
				l += v * float64(dy[i*h+j])
			}
		}
		return l
	}
	check := func(name string, p []float32, grad []float32) {
		for _, i := range []int{0, 5, len(p) / 2, len(p) - 1} {
			old := p[i]
			p[i] = old + 1e-2
			lp := loss(x, g, b)
			p[i] = old - 1e-2
			lm := loss(x, g, b)
			p[i] = old
			fd := (lp - lm) / 2e-2
			if math.Abs(fd-float64(grad[i])) > 2e-3*(1+math.Abs(fd)) {
				t.Errorf("%s[%d]: analytic %v, finite difference %v", name, i, grad[i], fd)
			}
		}
	}
	check("x", x, dx)
	check("gamma", g, dg)
	check("beta", b, db)
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	m, v := 9, 50
	logits := randSlice(rng, m*v, 3)
	labels := make([]int, m)
	weights := make([]float32, m)
	for i := range labels {
		labels[i] = rng.IntN(v)
		weights[i] = float32(i % 2) // half the rows are padding
	}
	orig := append([]float32{}, logits...)
	probs := make([]float32, m*v)
	loss, wsum, _ := SoftmaxCrossEntropy(logits, probs, labels, weights, m, v, make([]float64, 3*m))
	var want, wwant float64
	for i := 0; i < m; i++ {
		row := orig[i*v : i*v+v]
		var z float64
		for _, x := range row {
			z += math.Exp(float64(x))
		}
		want += float64(weights[i]) * (math.Log(z) - float64(row[labels[i]]))
		wwant += float64(weights[i])
	}
	if math.Abs(loss-want) > 1e-5*math.Abs(want) || wsum != wwant {
		t.Fatalf("loss %v (weights %v), want %v (%v)", loss, wsum, want, wwant)
	}
	// aliasing probs onto logits gives the same answer
	alias := append([]float32{}, orig...)
	loss2, _, _ := SoftmaxCrossEntropy(alias, alias, labels, weights, m, v, make([]float64, 3*m))
	if math.Abs(loss2-loss) > 1e-9 {
		t.Fatalf("aliased loss %v != %v", loss2, loss)
	}
	d := make([]float32, m*v)
	SoftmaxCrossEntropyBackward(probs, labels, weights, d, m, v, 1)
	for _, idx := range []int{0, v + 3, 3*v + 7, m*v - 1} {
		i := idx / v
		h := 1e-3
		f := func(delta float64) float64 {
			row := append([]float32{}, orig[i*v:i*v+v]...)
			row[idx%v] += float32(delta)
			var z float64
			for _, x := range row {
				z += math.Exp(float64(x))
			}
			return float64(weights[i]) * (math.Log(z) - float64(row[labels[i]]))
		}
		fd := (f(h) - f(-h)) / (2 * h)
		if math.Abs(fd-float64(d[idx])) > 1e-3 {
			t.Errorf("dlogits[%d] = %v, finite difference %v", idx, d[idx], fd)
		}
	}
}

func TestEmbeddingAndGatherAreAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	B, S, K, h, V, T := 2, 5, 3, 4, 7, 2
	word, pos, typ := randSlice(rng, V*h, 1), randSlice(rng, S*h, 1), randSlice(rng, T*h, 1)
	ids, types := make([]int, B*S), make([]int, B*S)
	for i := range ids {
		ids[i], types[i] = rng.IntN(V), rng.IntN(T)
	}
	out := make([]float32, B*S*h)
	EmbeddingForward(word, pos, typ, ids, types, out, B, S, h)
	for i := 0; i < B*S; i++ {
		for j := 0; j < h; j++ {
			want := word[ids[i]*h+j] + pos[(i%S)*h+j] + typ[types[i]*h+j]
			if out[i*h+j] != want {
				t.Fatalf("out[%d,%d] = %v, want %v", i, j, out[i*h+j], want)
			}
		}
	}
	// <Embed(w), g> = <w, EmbedBackward(g)> for the word table
	g := randSlice(rng, B*S*h, 1)
	dword := make([]float32, V*h)
	EmbeddingBackward(g, ids, types, dword, nil, nil, B, S, h)
	var lhs, rhs float64
	zero := make([]float32, S*h)
	zt := make([]float32, T*h)
	EmbeddingForward(word, zero, zt, ids, types, out, B, S, h)
	for i := range out {
		lhs += float64(out[i]) * float64(g[i])
	}
	for i := range word {
		rhs += float64(word[i]) * float64(dword[i])
	}
	if math.Abs(lhs-rhs) > 1e-4 {
		t.Errorf("embedding adjoint: %v vs %v", lhs, rhs)
	}
	idx := []int{0, 4, 4, 1, 2, 3}
	gathered := make([]float32, B*K*h)
	GatherRows(out, idx, gathered, B, S, K, h)
	gg := randSlice(rng, B*K*h, 1)
	dx := make([]float32, B*S*h)
	ScatterAddRows(gg, idx, dx, B, S, K, h)
	lhs, rhs = 0, 0
	for i := range gathered {
		lhs += float64(gathered[i]) * float64(gg[i])
	}
	for i := range out {
		rhs += float64(out[i]) * float64(dx[i])
	}
	if math.Abs(lhs-rhs) > 1e-4 {
		t.Errorf("gather adjoint: %v vs %v", lhs, rhs)
	}
}

func TestAdamWAgainstTextbook(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	n := 100
	p, g := randSlice(rng, n, 1), randSlice(rng, n, 1)
	m, v := make([]float32, n), make([]float32, n)
	p64 := make([]float64, n)
	m64, v64 := make([]float64, n), make([]float64, n)
	for i := range p {
		p64[i] = float64(p[i])
	}
	lr, b1, b2, eps, wd := 1e-3, 0.9, 0.999, 1e-6, 0.01
	for step := 1; step <= 3; step++ {
		AdamW(p, g, m, v, lr, b1, b2, eps, wd, step, 0.5)
		for i := range p64 {
			gi := float64(g[i]) * 0.5
			m64[i] = b1*m64[i] + (1-b1)*gi
			v64[i] = b2*v64[i] + (1-b2)*gi*gi
			mh := m64[i] / (1 - math.Pow(b1, float64(step)))
			vh := v64[i] / (1 - math.Pow(b2, float64(step)))
			p64[i] -= lr*mh/(math.Sqrt(vh)+eps) + lr*wd*p64[i]
		}
	}
	for i := range p {
		if !(math.Abs(float64(p[i])-p64[i]) <= 1e-6) { // NaN fails too
			t.Fatalf("p[%d] = %v, want %v", i, p[i], p64[i])
		}
	}
}

func TestDropoutMaskRateAndAdjoint(t *testing.T) {
	n := 200000
	x := make([]float32, n)
	for i := range x {
		x[i] = 1
	}
	y, mask := make([]float32, n), make([]uint8, n)
	p := 0.1
	DropoutForward(x, y, mask, 42, 7, 3, uint32(p*(1<<24)), p)
	kept := 0
	for i := range y {
		if mask[i] == 1 {
			kept++
			if math.Abs(float64(y[i])-1/(1-p)) > 1e-6 {
				t.Fatalf("kept value %v", y[i])
			}
		} else if y[i] != 0 {
			t.Fatalf("dropped value %v", y[i])
		}
	}
	if rate := 1 - float64(kept)/float64(n); math.Abs(rate-p) > 0.005 {
		t.Errorf("drop rate %v, want %v", rate, p)
	}
	// same counter → same mask; different step → different mask
	y2, mask2 := make([]float32, n), make([]uint8, n)
	DropoutForward(x, y2, mask2, 42, 7, 3, uint32(p*(1<<24)), p)
	same := 0
	DropoutForward(x, y2, mask2, 42, 8, 3, uint32(p*(1<<24)), p)
	for i := range mask {
		if mask[i] == mask2[i] {
			same++
		}
	}
	if same == n {
		t.Error("masks of different steps are identical")
	}
	dx := make([]float32, n)
	DropoutBackward(x, dx, mask, p)
	for i := range dx {
		if dx[i] != y[i] {
			t.Fatalf("backward differs from forward mask at %d", i)
		}
	}
}

func TestParallelForCoversRangeOnce(t *testing.T) {
	for _, n := range []int{0, 1, 7, 100, 1001} {
		for _, w := range []int{1, 2, 3, 8} {
			old := Workers
			Workers = w
			hits := make([]int32, n)
			chunks := ParallelForWorker(n, 1, func(worker, lo, hi int) {
				if worker >= w {
					t.Errorf("worker %d >= %d", worker, w)
				}
				for i := lo; i < hi; i++ {
					hits[i]++
				}
			})
			Workers = old
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("n=%d w=%d: index %d visited %d times", n, w, i, h)
				}
			}
			if n > 0 && (chunks < 1 || chunks > w) {
				t.Fatalf("n=%d w=%d: %d chunks", n, w, chunks)
			}
		}
	}
}

// TestGemmSplitRows checks the row-split path (large products, all
// transpose combinations, strided C) against a float64 naive product.
func TestGemmSplitRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, shape := range [][3]int{{200, 70, 90}, {40, 300, 90}} { // tall: rows split; wide: columns split
		m, n, k := shape[0], shape[1], shape[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				a, b := randSlice(rng, m*k, 1), randSlice(rng, k*n, 1)
				lda, ldb := k, n
				if ta {
					lda = m // A stored [k, m]
				}
				if tb {
					ldb = k // B stored [n, k]
				}
				get := func(s []float32, ld int, trans bool, i, j int) float64 {
					if trans {
						return float64(s[j*ld+i])
					}
					return float64(s[i*ld+j])
				}
				ldc := n + 3
				c := randSlice(rng, m*ldc, 1)
				orig := append([]float32{}, c...)
				Gemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, 2, c, ldc)
				for i := 0; i < m; i++ {
					for j := 0; j < ldc; j++ {
						want := float64(orig[i*ldc+j])
						if j < n {
							var s float64
							for l := 0; l < k; l++ {
								s += get(a, lda, ta, i, l) * get(b, ldb, tb, l, j)
							}
							want = 0.5*s + 2*want
						}
						if math.Abs(float64(c[i*ldc+j])-want) > 1e-3 {
							t.Fatalf("%v ta=%v tb=%v c[%d,%d] = %v, want %v", shape, ta, tb, i, j, c[i*ldc+j], want)
						}
					}
				}
			}
		}
	}
}

// TestGELUErf: the exact GELU against x·Φ(x) in float64, its derivative
// against central differences of that, and its distance from the tanh
// approximation (they are different functions: up to ~1e-3 apart).
func TestGELUErf(t *testing.T) {
	xs := []float32{-6, -3.5, -2, -1, -0.5, -1e-3, 0, 1e-3, 0.3, 1, 1.7, 3, 6}
	y, phi, dx := make([]float32, len(xs)), make([]float32, len(xs)), make([]float32, len(xs))
	GELUErfForward(xs, y, phi)
	ones := make([]float32, len(xs))
	for i := range ones {
		ones[i] = 1
	}
	GELUErfBackward(ones, xs, phi, dx)
	f := func(x float64) float64 { return x * 0.5 * math.Erfc(-x/math.Sqrt2) }
	var maxApprox float64
	for i, x := range xs {
		v := float64(x)
		if d := math.Abs(float64(y[i]) - f(v)); d > 1e-6*(1+math.Abs(f(v))) {
			t.Errorf("gelu(%v) = %v, want %v", x, y[i], f(v))
		}
		h := 1e-4
		fd := (f(v+h) - f(v-h)) / (2 * h)
		if d := math.Abs(float64(dx[i]) - fd); d > 1e-5 {
			t.Errorf("gelu'(%v) = %v, want %v", x, dx[i], fd)
		}
		maxApprox = math.Max(maxApprox, math.Abs(f(v)-GELU64(v)))
	}
	if maxApprox < 1e-4 || maxApprox > 1e-2 {
		t.Errorf("erf and tanh GELU differ by %v at most: expected about 1e-3", maxApprox)
	}
}
