package fnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fnet-tui/fnet-tui/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// attnMaskLeaf is a key mask [B·S] with the given pads (not differentiated).
func attnMaskLeaf(B, S int, pads map[int][]int) *leaf {
	m := make([]float32, B*S)
	for i := range m {
		m[i] = 1
	}
	for b, js := range pads {
		for _, j := range js {
			m[b*S+j] = 0
		}
	}
	return &leaf{name: "key_mask", shape: []int{B * S}, data: m}
}

func TestDropoutSiteAttention(t *testing.T) {
	for _, c := range []struct {
		l, b, h, heads int
		want           uint32
	}{
		{0, 0, 0, 1, 1 << 30},
		{3, 2, 1, 4, 1<<30 | 3<<20 | 9},
		{1023, 0, 2, 3, 1<<30 | 1023<<20 | 2},
		{5, 1<<18 - 1, 3, 4, 1<<30 | 5<<20 | (1<<20 - 1)},
	} {
		if got := DropoutSiteAttention(c.l, c.b, c.h, c.heads); got != c.want {
			t.Errorf("DropoutSiteAttention(%d, %d, %d, %d) = %#x, want %#x", c.l, c.b, c.h, c.heads, got, c.want)
		}
	}
	if DropoutSiteAttention(0, 0, 0, 1) <= DropoutSiteFFN(1<<20) {
		t.Error("attention sites overlap the feed-forward sites")
	}
	for _, bad := range [][4]int{{1024, 0, 0, 1}, {0, 0, 4, 4}, {0, 1 << 18, 0, 4}, {-1, 0, 0, 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("DropoutSiteAttention%v did not panic", bad)
				}
			}()
			DropoutSiteAttention(bad[0], bad[1], bad[2], bad[3])
		}()
	}
}

// TestGradAttention checks the gradients of q, k and v by finite
// differences through gorgonia, with padding (trailing, inside a row, and a
// pad [CLS]), with and without dropout (the counter-based mask is fixed for
// a fixed step, so differences see the same mask), for odd head counts and
// one head; and through shared projections of one x, where gorgonia sums
// three gradients of x (the ReduceAdd of the memory rule).
func TestGradAttention(t *testing.T) {
	ctr := &dropoutCounter{seed: 21, step: 4}
	for _, c := range []struct {
		B, S, H, heads int
		p              float64
	}{
		{2, 5, 9, 3, 0}, {2, 5, 9, 3, 0.3}, {1, 6, 4, 1, 0}, {3, 4, 8, 2, 0.2},
	} {
		rng := rand.New(rand.NewPCG(uint64(c.S), uint64(c.H)))
		pads := map[int][]int{c.B - 1: {c.S - 2, c.S - 1}}
		if c.B > 2 {
			pads[2] = []int{0, 2}
		}
		leaves := []*leaf{
			randLeaf(rng, "q", 1, c.B*c.S, c.H), randLeaf(rng, "k", 1, c.B*c.S, c.H), randLeaf(rng, "v", 1, c.B*c.S, c.H),
			attnMaskLeaf(c.B, c.S, pads),
		}
		drop := attentionDropout{p: c.p, layer: 1, ctr: ctr}
		gradCheck(t, fmt.Sprintf("self_attention/B%d_S%d_H%d_heads%d_p%g", c.B, c.S, c.H, c.heads, c.p), leaves, func(in G.Nodes) *G.Node {
			return selfAttention(in[0], in[1], in[2], in[3], c.B, c.S, c.heads, drop)
		}, 2e-2)
	}

	B, S, H, heads := 2, 5, 6, 2
	rng := rand.New(rand.NewPCG(8, 8))
	leaves := []*leaf{
		randLeaf(rng, "x", 1, B*S, H),
		randLeaf(rng, "wq", 0.5, H, H), randLeaf(rng, "wk", 0.5, H, H), randLeaf(rng, "wv", 0.5, H, H), randLeaf(rng, "b", 0.5, H),
		attnMaskLeaf(B, S, map[int][]int{0: {4}}),
	}
	gradCheck(t, "self_attention/shared_x", leaves, func(in G.Nodes) *G.Node {
		x, b := in[0], in[4]
		q, k, v := linear(x, in[1], b, ActNone), linear(x, in[2], b, ActNone), linear(x, in[3], b, ActNone)
		return selfAttention(q, k, v, in[5], B, S, heads, attentionDropout{p: 0.25, layer: 0, ctr: ctr})
	}, 2e-2)
}

// attentionGraph builds loss = Σ R ⊙ selfAttention(q, k, v) and returns the
// machine, the output and the gradients of q, k, v; dctx is therefore R.
func attentionGraph(t *testing.T, q, k, v, mask, r []float32, B, S, H, heads int, drop attentionDropout) (G.VM, *G.Node, G.Nodes) {
	t.Helper()
	g := G.NewGraph()
	mat := func(name string, d []float32) *G.Node {
		return G.NewMatrix(g, tensor.Float32, G.WithShape(B*S, H), G.WithName(name), G.WithValue(tensor.New(tensor.WithShape(B*S, H), tensor.WithBacking(d))))
	}
	qn, kn, vn := mat("q", q), mat("k", k), mat("v", v)
	mn := G.NewVector(g, tensor.Float32, G.WithShape(B*S), G.WithName("key_mask"), G.WithValue(tensor.New(tensor.WithShape(B*S), tensor.WithBacking(mask))))
	out := selfAttention(qn, kn, vn, mn, B, S, heads, drop)
	rn := G.NewConstant(tensor.New(tensor.WithShape(B*S, H), tensor.WithBacking(r)))
	cost := G.Must(G.Sum(G.Must(G.HadamardProd(out, rn))))
	grads, err := G.Grad(cost, qn, kn, vn)
	if err != nil {
		t.Fatal(err)
	}
	return G.NewTapeMachine(g), out, grads
}

// attention64 is the textbook forward in float64 (Hugging Face BERT's
// arithmetic: scores/√d, finfo(float32).min added at pad keys, softmax over
// keys, P̃ = keep·P/(1−p) with the counter-based mask of DropoutKeep).
func attention64(q, k, v, mask []float32, B, S, H, heads int, drop attentionDropout) []float64 {
	d := H / heads
	out := make([]float64, B*S*H)
	for b := 0; b < B; b++ {
		for h := 0; h < heads; h++ {
			for i := 0; i < S; i++ {
				s := make([]float64, S)
				mx := math.Inf(-1)
				for j := range s {
					for c := 0; c < d; c++ {
						s[j] += float64(q[(b*S+i)*H+h*d+c]) * float64(k[(b*S+j)*H+h*d+c])
					}
					s[j] /= math.Sqrt(float64(d))
					if mask[b*S+j] == 0 {
						s[j] += -math.MaxFloat32
					}
					mx = math.Max(mx, s[j])
				}
				sum := 0.0
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for j := range s {
					s[j] /= sum
					if drop.p > 0 {
						if DropoutKeep(drop.ctr.seed, drop.ctr.step, DropoutSiteAttention(drop.layer, b, h, heads), uint32(i*S+j), DropoutThreshold(drop.p)) {
							s[j] /= 1 - drop.p
						} else {
							s[j] = 0
						}
					}
					for c := 0; c < d; c++ {
						out[(b*S+i)*H+h*d+c] += s[j] * float64(v[(b*S+j)*H+h*d+c])
					}
				}
			}
		}
	}
	return out
}

// TestAttentionOpMatchesKernels runs the op through gorgonia and checks its
// output against the float64 textbook attention, and its output and three
// gradients bit for bit against the kernels called directly (so the op
// wires operands, heads and the dropout counter as the kernels expect). Two
// steps of the counter give different masks; the same step, the same.
func TestAttentionOpMatchesKernels(t *testing.T) {
	B, S, H, heads := 3, 11, 18, 3 // d = 6
	rng := rand.New(rand.NewPCG(12, 12))
	n := B * S * H
	rnd := func() []float32 { return randLeaf(rng, "", 1, n).data }
	q, k, v, r := rnd(), rnd(), rnd(), rnd()
	mask := attnMaskLeaf(B, S, map[int][]int{0: {9, 10}, 2: {1, 5, 6, 7, 8, 9, 10}}).data
	for _, p := range []float64{0, 0.2} {
		ctr := &dropoutCounter{seed: 5, step: 2}
		drop := attentionDropout{p: p, layer: 3, ctr: ctr}
		vm, out, grads := attentionGraph(t, q, k, v, mask, r, B, S, H, heads, drop)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		got := f32s(out.Value())
		want := attention64(q, k, v, mask, B, S, H, heads, drop)
		var worst float64
		for i := range want {
			worst = math.Max(worst, math.Abs(float64(got[i])-want[i]))
		}
		if worst > 1e-5 {
			t.Errorf("p=%g: op output differs from the float64 attention by %.3g", p, worst)
		}
		t.Logf("p=%g: op output vs float64 textbook attention: max abs error %.3g", p, worst)

		kd := kernels.AttentionDropout{}
		if p > 0 {
			kd = kernels.AttentionDropout{P: p, Threshold: DropoutThreshold(p), Seed: ctr.seed, Step: ctr.step,
				Site: func(b, h int) uint32 { return DropoutSiteAttention(3, b, h, heads) }}
		}
		ctx, dq, dk, dv := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		kernels.AttentionForward(q, k, v, mask, ctx, B, S, H, heads, kd)
		kernels.AttentionBackward(q, k, v, mask, ctx, r, dq, dk, dv, B, S, H, heads, kd)
		for gi, w := range [][]float32{ctx, dq, dk, dv} {
			g := got
			if gi > 0 {
				g = f32s(grads[gi-1].Value())
			}
			for i := range w {
				if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
					t.Fatalf("p=%g: %s[%d] = %v through gorgonia, %v from the kernels", p, []string{"ctx", "dq", "dk", "dv"}[gi], i, g[i], w[i])
				}
			}
		}

		if p == 0 {
			continue
		}
		first := append([]float32{}, got...)
		ctr.step = 3
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		if same := equalBits(first, f32s(out.Value())); same {
			t.Error("steps 2 and 3 drew the same attention dropout")
		}
		ctr.step = 2
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		if !equalBits(first, f32s(out.Value())) {
			t.Error("step 2 run again gave a different output")
		}
	}
}

func equalBits(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestGradAttentionSweep differences every input element (not a sample) in
// float64 arithmetic on the float32 graph and logs the worst error, with
// padding and dropout.
func TestGradAttentionSweep(t *testing.T) {
	B, S, H, heads := 2, 6, 6, 3
	rng := rand.New(rand.NewPCG(31, 31))
	n := B * S * H
	rnd := func() []float32 { return randLeaf(rng, "", 1, n).data }
	q, k, v, r := rnd(), rnd(), rnd(), rnd()
	mask := attnMaskLeaf(B, S, map[int][]int{1: {3, 5}}).data
	for _, p := range []float64{0, 0.3} {
		drop := attentionDropout{p: p, layer: 2, ctr: &dropoutCounter{seed: 77, step: 9}}
		vm, out, grads := attentionGraph(t, q, k, v, mask, r, B, S, H, heads, drop)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		var analytic [3][]float32
		for i := range grads {
			analytic[i] = append([]float32{}, f32s(grads[i].Value())...)
		}
		loss := func() float64 {
			vm.Reset()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			s := 0.0
			for i, o := range f32s(out.Value()) {
				s += float64(o) * float64(r[i])
			}
			return s
		}
		var worst float64
		for li, x := range [][]float32{q, k, v} {
			for i := range x {
				old := x[i]
				const h = 1e-2
				x[i] = old + h
				lp := loss()
				x[i] = old - h
				lm := loss()
				x[i] = old
				fd := (lp - lm) / (2 * h)
				e := math.Abs(fd-float64(analytic[li][i])) / (1 + math.Abs(fd))
				worst = math.Max(worst, e)
				if e > 1e-2 {
					t.Errorf("p=%g: d/d%s[%d]: analytic %.6g, finite difference %.6g", p, "qkv"[li:li+1], i, analytic[li][i], fd)
				}
			}
		}
		t.Logf("p=%g: worst |analytic − central difference|/(1+|fd|) over all %d inputs: %.3g", p, 3*n, worst)
	}
}
