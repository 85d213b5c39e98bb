package cuda

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// Dry runs of the architectures besides FNet (the golden test keeps FNet's
// own sequence): every launch and GEMM checked against its signature and
// shapes, every GEMM operand inside one buffer, the attention kernels'
// arguments, the key mask upload and the fixed parameters' exclusion.

// dryArchs are the architectures the dry-run tests build (archConfig).
var dryArchs = []string{"bert", "linear", "random", "ff_only", "fnet+attention", "linear+attention", "random+attention"}

// archConfig is smallConfig (H72 F200 V397 S40) with three layers of the
// named architecture; hybrids have one attention layer (middle, bottom,
// top) with 2, 4 and 3 heads, bert 3 heads of 24.
func archConfig(arch string, numLabels int) fnet.Config {
	c := smallConfig(numLabels)
	c.NumLayers = 3
	switch arch {
	case "bert":
		c.Architecture, c.NumHeads = "bert", 3
	case "fnet+attention":
		c.Architecture, c.AttentionLayers, c.AttentionLayout, c.NumHeads = "fnet", 1, "middle", 2
	case "linear+attention":
		c.Architecture, c.AttentionLayers, c.AttentionLayout, c.NumHeads = "linear", 1, "bottom", 4
	case "random+attention":
		c.Architecture, c.AttentionLayers, c.AttentionLayout, c.NumHeads = "random", 1, "top", 3
	default:
		c.Architecture = arch
	}
	c.ModelType = c.HFModelType()
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c
}

// padBatch ends example b in 3·b pad tokens (example 0 has none), so the
// attention layers mask keys.
func padBatch(b *fnet.Batch, pad int) {
	for bb := 0; bb < b.B; bb++ {
		for s := b.S - 3*bb; s < b.S; s++ {
			b.InputIDs[bb*b.S+s] = pad
		}
	}
}

// region is one buffer of a dry engine: a parameter's slot in a flat
// buffer, a planned activation, a table allocation.
type region struct {
	name   string
	lo, hi DevPtr
}

func dryRegions(e *Engine) []region {
	var out []region
	for _, ps := range e.specs {
		n := DevPtr(fnet.NumElements(ps.Shape))
		off := DevPtr(e.offsets[ps.Name])
		out = append(out, region{"params[" + ps.Name + "]", e.params + 4*off, e.params + 4*(off+n)})
		if e.shadow != e.params {
			es := DevPtr(e.prec.gemmElemSize())
			out = append(out, region{"shadow[" + ps.Name + "]", e.shadow + es*off, e.shadow + es*(off+n)})
		}
		if !ps.Fixed {
			for _, f := range []struct {
				n string
				p DevPtr
			}{{"grads", e.grads}, {"adam.m", e.m}, {"adam.v", e.v}} {
				out = append(out, region{f.n + "[" + ps.Name + "]", f.p + 4*off, f.p + 4*(off+n)})
			}
		}
	}
	if a := e.act; a != nil {
		for _, it := range a.plan.items {
			lo := a.arena + DevPtr(it.offset)
			out = append(out, region{it.name, lo, lo + DevPtr(it.bytes)})
		}
	}
	for _, t := range e.tables {
		out = append(out, region{"dft", t.arena, t.arena + DevPtr(e.allocs[t.arena])})
	}
	return out
}

// checkGemmBounds checks that every operand of every recorded GEMM lies
// inside one buffer: strides, leading dimensions and offsets included.
func checkGemmBounds(t *testing.T, what string, e *Engine, ops []dryOp) {
	t.Helper()
	regs := dryRegions(e)
	for k, op := range ops {
		g := op.gemm
		if g == nil {
			continue
		}
		rowsA, colsA := g.m, g.k
		if g.transA {
			rowsA, colsA = g.k, g.m
		}
		rowsB, colsB := g.k, g.n
		if g.transB {
			rowsB, colsB = g.n, g.k
		}
		for _, o := range []struct {
			n          string
			op         gemmOperand
			rows, cols int
		}{{"A", g.a, rowsA, colsA}, {"B", g.b, rowsB, colsB}, {"C", g.c, g.m, g.n}} {
			last := int64(o.rows-1)*int64(o.op.ld) + int64(o.cols-1)
			if g.batch > 1 {
				last += int64(g.batch-1) * o.op.stride
			}
			lo, hi := o.op.ptr, o.op.ptr+DevPtr((last+1)*int64(elemSize(o.op.dtype)))
			in := false
			for _, r := range regs {
				if lo >= r.lo && hi <= r.hi {
					in = true
					break
				}
			}
			if !in {
				t.Fatalf("%s: op %d %s: operand %s [%s, +%d bytes) is not inside one buffer (%+v)", what, k, op.name, o.n, dryName(e, lo), hi-lo, *g)
			}
		}
	}
}

func countOps(ops []dryOp, name string) int {
	n := 0
	for _, op := range ops {
		if op.name == name {
			n++
		}
	}
	return n
}

func countMix(c fnet.Config, k fnet.MixKind) int {
	n := 0
	for _, m := range c.Mixings() {
		if m == k {
			n++
		}
	}
	return n
}

// Every architecture, head kind, precision and row layout: ForwardBackward,
// Evaluate and Step run through the dry engine with every GEMM in bounds and
// each layer kind's kernels where they belong.
func TestDryRunArchitectures(t *testing.T) {
	for _, arch := range dryArchs {
		for _, h := range []struct {
			name      string
			heads     fnet.Heads
			numLabels int
		}{{"pretraining", fnet.PretrainingHeads, 0}, {"classifier", fnet.ClassifierHeads, 3}} {
			for _, prec := range []Precision{BF16, TF32, FP32} {
				for _, o := range []Options{{}, {BatchMajor: true}, {MixBF16: true}, {AttentionChunkPairs: 2}, {BatchMajor: true, AttentionChunkPairs: 5}} {
					if o.MixBF16 && prec != BF16 {
						continue
					}
					name := arch + "/" + h.name + "/" + variantName(prec, o)
					cfg := archConfig(arch, h.numLabels)
					e, d := dryEngine(t, cfg, h.heads, prec, o)
					b := randomBatch(rand.New(rand.NewPCG(5, 6)), cfg, 3, 6, h.numLabels)
					padBatch(b, cfg.PadTokenID)
					if _, err := e.ForwardBackward(b, 3, 0.5); err != nil {
						t.Fatalf("%s: ForwardBackward: %v", name, err)
					}
					fb := d.ops
					d.ops = nil
					if _, _, err := e.Evaluate(b); err != nil {
						t.Fatalf("%s: Evaluate: %v", name, err)
					}
					ev := d.ops
					d.ops = nil
					if _, err := e.Step(1e-3, 1); err != nil {
						t.Fatalf("%s: Step: %v", name, err)
					}
					checkStepOps(t, e, d.ops, 1e-3, 1, 1)
					checkGemmBounds(t, name+" ForwardBackward", e, fb)
					checkGemmBounds(t, name+" Evaluate", e, ev)

					nA, nI := countMix(cfg, fnet.MixAttention), countMix(cfg, fnet.MixIdentity)
					nChunks := 1
					if nA > 0 {
						nChunks = (b.B*cfg.AttentionHeads() + e.act.attnChunk - 1) / e.act.attnChunk
					}
					for _, c := range []struct {
						kernel   string
						fb, eval int
					}{
						{"attn_softmax_fwd", 2 * nA * nChunks, nA * nChunks}, // forward, and the backward's recomputation
						{"attn_softmax_bwd", nA * nChunks, 0},
						{"axpy_f32", nI, 0},
						{"embed_ln_drop_fwd", b2i(!cfg.HasEmbeddingProjection()), b2i(!cfg.HasEmbeddingProjection())},
						{"embed_ln_fwd", b2i(cfg.HasEmbeddingProjection()), b2i(cfg.HasEmbeddingProjection())},
					} {
						if got := countOps(fb, c.kernel); got != c.fb {
							t.Errorf("%s: ForwardBackward ran %s %d times, want %d", name, c.kernel, got, c.fb)
						}
						if got := countOps(ev, c.kernel); got != c.eval {
							t.Errorf("%s: Evaluate ran %s %d times, want %d", name, c.kernel, got, c.eval)
						}
					}
					if fourier := cfg.HasMixing(fnet.MixFourier); (len(e.tables) > 0) != fourier || (e.act.mixZ != 0) != fourier {
						t.Errorf("%s: DFT tables %d, mixZ %#x, for a model with Fourier layers: %v", name, len(e.tables), e.act.mixZ, fourier)
					}
					if (e.act.keyMask != 0) != (nA > 0) || (e.act.attnScores != 0) != (nA > 0) {
						t.Errorf("%s: key mask %#x, attention scratch %#x with %d attention layers", name, e.act.keyMask, e.act.attnScores, nA)
					}
					if (e.act.embLN != 0) != cfg.HasEmbeddingProjection() {
						t.Errorf("%s: embLN %#x", name, e.act.embLN)
					}
				}
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The FNet cases of the golden test keep every GEMM inside its buffers too.
func TestDryRunFNetGemmBounds(t *testing.T) {
	for _, o := range []Options{{}, {BatchMajor: true}, {MixBF16: true}} {
		for _, prec := range []Precision{BF16, FP32} {
			cfg := smallConfig(0)
			e, d := dryEngine(t, cfg, fnet.PretrainingHeads, prec, o)
			b := randomBatch(rand.New(rand.NewPCG(5, 6)), cfg, 3, 6, 0)
			if _, err := e.ForwardBackward(b, 3, 0.5); err != nil {
				t.Fatal(err)
			}
			checkGemmBounds(t, "fnet", e, d.ops)
		}
	}
}

// The attention kernels' arguments, exactly: scores, key mask, the chunk's
// first pair and pair count, heads, S, scale 1/√d, the dropout seed, step,
// threshold and scale, and the site of pair 0 of the layer
// (fnet.DropoutSiteAttention(l, 0, 0, heads)), to which the kernels add the
// pair b·heads + h, giving DropoutSiteAttention(l, b, h, heads) for every
// pair; and the score GEMMs' strides for both row layouts, whole and chunked.
func TestDryRunAttentionArguments(t *testing.T) {
	for _, arch := range []string{"bert", "linear+attention"} {
		for _, prec := range []Precision{BF16, FP32} {
			for _, o := range []Options{{}, {BatchMajor: true}, {AttentionChunkPairs: 2}, {BatchMajor: true, AttentionChunkPairs: 5}} {
				cfg := archConfig(arch, 0)
				e, d := dryEngine(t, cfg, fnet.PretrainingHeads, prec, o)
				e.seed = 0xfeed
				b := randomBatch(rand.New(rand.NewPCG(1, 2)), cfg, 3, 6, 0)
				padBatch(b, cfg.PadTokenID)
				if _, err := e.ForwardBackward(b, 7, 1); err != nil {
					t.Fatal(err)
				}
				a := e.act
				B, S, H := b.B, b.S, cfg.HiddenSize
				heads, hd := e.attnHeads()
				scale := float32(1 / math.Sqrt(float64(H/heads)))
				p := cfg.DropoutProb
				thr, dscale := fnet.DropoutThreshold(p), float32(1/(1-p))
				// the chunks: all pairs, o's count, or (batch-major) whole examples
				per := B * heads
				if o.AttentionChunkPairs > 0 {
					per = o.AttentionChunkPairs
					if o.BatchMajor {
						per = per / heads * heads
					}
				}
				if a.attnChunk != per {
					t.Fatalf("%s %+v: chunks of %d pairs, want %d", arch, o, a.attnChunk, per)
				}
				var chunks []attnChunk
				for p0 := 0; p0 < B*heads; p0 += per {
					chunks = append(chunks, attnChunk{p0, min(per, B*heads-p0)})
				}
				var layers []int
				for l, k := range cfg.Mixings() {
					if k == fnet.MixAttention {
						layers = append(layers, l)
					}
				}
				// forward in layer order, then the backward's in reverse
				rev := slices.Clone(layers)
				slices.Reverse(rev)
				order := append(slices.Clone(layers), rev...)
				var fwd, bwd []int
				for k, op := range d.ops {
					switch op.name {
					case "attn_softmax_fwd":
						fwd = append(fwd, k)
					case "attn_softmax_bwd":
						bwd = append(bwd, k)
					}
				}
				nc := len(chunks)
				if len(fwd) != len(order)*nc || len(bwd) != len(layers)*nc {
					t.Fatalf("%s: %d attn_softmax_fwd and %d attn_softmax_bwd launches for attention layers %v in %d chunks", arch, len(fwd), len(bwd), layers, nc)
				}
				for n, k := range fwd {
					l, c := order[n/nc], chunks[n%nc]
					site := fnet.DropoutSiteAttention(l, 0, 0, heads)
					for bb := 0; bb < B; bb++ {
						for h := 0; h < heads; h++ {
							if site+uint32(bb*heads+h) != fnet.DropoutSiteAttention(l, bb, h, heads) {
								t.Fatalf("site of layer %d pair (%d, %d)", l, bb, h)
							}
						}
					}
					var pOut DevPtr
					if n >= len(layers)*nc {
						pOut = a.attnScores // the backward keeps P over the scores
					}
					op := d.ops[k]
					wantArgs(t, "attn_softmax_fwd", op.args, a.attnScores, a.keyMask, int32(c.p0), int32(c.n), int32(heads), int32(S), scale,
						e.seed, uint64(7), site, thr, dscale, pOut, a.attnProbs)
					if op.grid != warpRowGrid(c.n*S) || op.block != block1D {
						t.Errorf("attn_softmax_fwd grid %v block %v", op.grid, op.block)
					}
					checkScoreGemms(t, e, d.ops[:k], l, c, B, S, H, heads, hd)
				}
				for n, k := range bwd {
					l, c := order[len(layers)+n/nc], chunks[n%nc]
					wantArgs(t, "attn_softmax_bwd", d.ops[k].args, a.attnScores, a.attnDProbs, a.keyMask, int32(c.p0), int32(c.n), int32(heads), int32(S), scale,
						e.seed, uint64(7), fnet.DropoutSiteAttention(l, 0, 0, heads), thr, dscale, a.attnProbs)
				}
				// evaluation: no dropout
				d.ops = nil
				if _, _, err := e.Evaluate(b); err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, op := range d.ops {
					if op.name == "attn_softmax_fwd" {
						c := chunks[n%nc]
						n++
						wantArgs(t, "attn_softmax_fwd (evaluate)", op.args, a.attnScores, a.keyMask, int32(c.p0), int32(c.n), int32(heads), int32(S), scale,
							uint64(0), uint64(0), uint32(0), uint32(0), float32(1), DevPtr(0), a.attnProbs)
					}
				}
			}
		}
	}
}

// checkScoreGemms checks the GEMMs just before an attn_softmax_fwd: q·kᵀ
// for layer l over chunk c's pairs, one strided-batched call with
// seq-major rows (from column c.p0·d, stride d, row stride B·H), one per
// head with batch-major rows (from example c.p0/heads, stride S·H, row
// stride H), into the chunk's scratch.
func checkScoreGemms(t *testing.T, e *Engine, before []dryOp, l int, ch attnChunk, B, S, H, heads, d int) {
	t.Helper()
	a := e.act
	calls := 1
	if !e.seqMajor {
		calls = heads
	}
	if len(before) < calls {
		t.Fatal("no score GEMMs")
	}
	es := DevPtr(e.prec.gemmElemSize())
	gt := e.prec.gemmType()
	for c, op := range before[len(before)-calls:] {
		g := op.gemm
		if g == nil {
			t.Fatalf("op before attn_softmax_fwd is %s", op.name)
		}
		off := DevPtr(ch.p0*d) * es
		want := gemmCall{transB: true, m: S, n: S, k: d, alpha: 1, beta: 0, batch: ch.n, compute: e.prec.computeType(),
			a: gemmOperand{ptr: a.attnQ[l] + off, dtype: gt, ld: B * H, stride: int64(d)},
			b: gemmOperand{ptr: a.attnK[l] + off, dtype: gt, ld: B * H, stride: int64(d)},
			c: gemmOperand{ptr: a.attnScores, dtype: cudaR32F, ld: S, stride: int64(S * S)}}
		if !e.seqMajor {
			off := DevPtr(ch.p0/heads*S*H+c*d) * es
			want.batch = ch.n / heads
			want.a = gemmOperand{ptr: a.attnQ[l] + off, dtype: gt, ld: H, stride: int64(S * H)}
			want.b = gemmOperand{ptr: a.attnK[l] + off, dtype: gt, ld: H, stride: int64(S * H)}
			want.c = gemmOperand{ptr: a.attnScores + DevPtr(4*c*S*S), dtype: cudaR32F, ld: S, stride: int64(heads * S * S)}
		}
		if *g != want {
			t.Errorf("score GEMM %d of layer %d, chunk %+v (seq-major %v):\n got  %+v\n want %+v", c, l, ch, e.seqMajor, *g, want)
		}
	}
}

// The attention scratch is one chunk's: all B·heads pairs while they fit
// attnScratchElems score elements, else as many as fit (at least one, or
// one example's heads with batch-major rows).
func TestAttentionChunkPairs(t *testing.T) {
	for _, c := range []struct {
		B, S, heads int
		seqMajor    bool
		want, got   int
	}{
		{32, 512, 12, true, 0, 384},                     // BERT-base at 512: one chunk
		{8, 8192, 12, true, 0, 2},                       // 2^27 / 8192² = 2 pairs
		{8, 8192, 12, false, 0, 12},                     // batch-major: one example
		{2, 16384, 16, true, 0, 1},                      // one pair exceeds the budget: still one
		{3, 40, 3, true, 2, 2}, {3, 40, 3, false, 5, 3}, // Options.AttentionChunkPairs
		{3, 40, 3, true, 100, 9},
	} {
		if got := attnChunkPairs(c.B, c.S, c.heads, c.seqMajor, c.want); got != c.got {
			t.Errorf("attnChunkPairs(%d, %d, %d, %v, %d) = %d, want %d", c.B, c.S, c.heads, c.seqMajor, c.want, got, c.got)
		}
	}
}

// The key mask rides in the batch upload: 1 for a real token, 0 for a pad
// (input_ids == pad id), batch-major [B, S] whatever the row layout; models
// without attention upload exactly what they did before.
func TestDryRunKeyMaskUpload(t *testing.T) {
	for _, arch := range []string{"bert", "fnet+attention", "linear"} {
		for _, o := range []Options{{}, {BatchMajor: true}} {
			cfg := archConfig(arch, 0)
			e, d := dryEngine(t, cfg, fnet.PretrainingHeads, FP32, o)
			b := randomBatch(rand.New(rand.NewPCG(3, 3)), cfg, 3, 6, 0)
			padBatch(b, cfg.PadTokenID)
			b.InputIDs[1*b.S+5] = cfg.PadTokenID // a pad inside a row too
			var words []uint32
			d.write = func(dst DevPtr, src []byte) {
				if e.act != nil && dst == e.act.input {
					words = slices.Clone(unsafe.Slice((*uint32)(unsafe.Pointer(&src[0])), len(src)/4))
				}
			}
			if _, _, err := e.Evaluate(b); err != nil {
				t.Fatal(err)
			}
			a := e.act
			if len(words) != a.inputWords {
				t.Fatalf("%s: uploaded %d words, want %d", arch, len(words), a.inputWords)
			}
			T := b.B * b.S
			if !cfg.HasMixing(fnet.MixAttention) {
				if a.offKeyMask != -1 || a.inputWords != 2*T+3*a.B*a.K+2*a.B {
					t.Errorf("%s: key mask at %d, %d input words", arch, a.offKeyMask, a.inputWords)
				}
				continue
			}
			if a.keyMask != a.input+DevPtr(4*a.offKeyMask) || a.offKeyMask+T != a.inputWords {
				t.Fatalf("%s: key mask at word %d of %d", arch, a.offKeyMask, a.inputWords)
			}
			for i, id := range b.InputIDs {
				want := uint32(1)
				if id == cfg.PadTokenID {
					want = 0
				}
				if words[a.offKeyMask+i] != want {
					t.Fatalf("%s: key mask[%d] = %d for id %d", arch, i, words[a.offKeyMask+i], id)
				}
			}
		}
	}
}

// Random's fixed matrices: after the trained parameters in the flat layout,
// outside the gradient and moment buffers (which hold nTrained elements),
// never written, and outside Step's sum of squares and AdamW; the random
// layers' backward has no matrix-gradient GEMMs, the linear layers' have
// two. Gradients and Optimizer cover the trained parameters only.
func TestDryRunFixedParameters(t *testing.T) {
	for _, arch := range []string{"random", "random+attention", "linear"} {
		for _, o := range []Options{{}, {BatchMajor: true}, {MixBF16: true}} {
			cfg := archConfig(arch, 0)
			e, d := dryEngine(t, cfg, fnet.PretrainingHeads, BF16, o)
			var fixed []string
			for _, ps := range e.specs {
				off := e.offsets[ps.Name]
				if ps.Fixed {
					fixed = append(fixed, ps.Name)
					if off < e.nTrained {
						t.Errorf("%s: fixed %s at %d, inside the trained range [0, %d)", arch, ps.Name, off, e.nTrained)
					}
				} else if off+fnet.NumElements(ps.Shape) > e.nTrained {
					t.Errorf("%s: trained %s at %d, past nTrained %d", arch, ps.Name, off, e.nTrained)
				}
			}
			if want := countMix(cfg, fnet.MixRandom) * 2; len(fixed) != want || (want > 0) != (e.nTrained < e.nFlat) {
				t.Fatalf("%s: fixed %v, nTrained %d of %d", arch, fixed, e.nTrained, e.nFlat)
			}
			b := randomBatch(rand.New(rand.NewPCG(5, 5)), cfg, 3, 6, 0)
			if _, err := e.ForwardBackward(b, 1, 1); err != nil {
				t.Fatal(err)
			}
			checkGemmBounds(t, arch, e, d.ops)
			// nothing addresses the flat gradient or moment buffers past nTrained
			for _, op := range d.ops {
				ptrs := []DevPtr{}
				for _, x := range op.args {
					if p, ok := x.(DevPtr); ok {
						ptrs = append(ptrs, p)
					}
				}
				if g := op.gemm; g != nil {
					ptrs = append(ptrs, g.a.ptr, g.b.ptr, g.c.ptr)
				}
				for _, p := range ptrs {
					for _, base := range []DevPtr{e.grads, e.m, e.v} {
						if p >= base+DevPtr(4*e.nTrained) && p < base+DevPtr(4*e.nFlat) {
							t.Errorf("%s: %s addresses %s past the trained parameters", arch, op.name, dryName(e, p))
						}
					}
				}
			}
			// GEMMs reading each dense layer's matrices: 2 forward, 2 backward
			// (dz, dx); writing their gradients: none for random, dseq and
			// dhidden for linear (dseq one GEMM per example batch-major)
			for l, k := range cfg.Mixings() {
				if k != fnet.MixLinear && k != fnet.MixRandom {
					continue
				}
				hid, seq, trained := e.denseNames(l)
				var touch, grads int
				for _, op := range d.ops {
					g := op.gemm
					if g == nil {
						continue
					}
					for _, n := range []string{hid, seq} {
						if g.a.ptr == e.mixWeight(n) || g.b.ptr == e.mixWeight(n) {
							touch++
						}
						if trained && g.c.ptr == e.param(e.grads, n) {
							grads++
						}
					}
				}
				want, wantG := 4, 0
				if trained {
					wantG = 2
					if o.BatchMajor {
						wantG = 1 + b.B
					}
				}
				if touch != want || grads != wantG {
					t.Errorf("%s layer %d (%s): %d GEMMs with its matrices (%d into their gradients), want %d (%d)", arch, l, k, touch, grads, want, wantG)
				}
			}
			d.ops = nil
			if _, err := e.Step(1e-3, 1); err != nil {
				t.Fatal(err)
			}
			checkStepOps(t, e, d.ops, 1e-3, 1, 1) // sumsq_partial and adamw over nTrained elements
			g, err := e.Gradients()
			if err != nil {
				t.Fatal(err)
			}
			st, err := e.Optimizer()
			if err != nil {
				t.Fatal(err)
			}
			p, err := e.Params()
			if err != nil {
				t.Fatal(err)
			}
			if len(g) != len(e.trained) || len(st.M) != len(e.trained) || len(st.V) != len(e.trained) || len(p) != len(e.specs) {
				t.Errorf("%s: %d gradients, %d/%d moments, %d parameters; want %d trained of %d", arch, len(g), len(st.M), len(st.V), len(p), len(e.trained), len(e.specs))
			}
			for _, n := range fixed {
				if _, ok := g[n]; ok {
					t.Errorf("%s: a gradient for fixed %s", arch, n)
				}
				if _, ok := st.M[n]; ok {
					t.Errorf("%s: moments for fixed %s", arch, n)
				}
			}
			if err := e.SetOptimizer(st); err != nil {
				t.Errorf("%s: SetOptimizer of the trained moments: %v", arch, err)
			}
		}
	}
}

// Linear and random mixing run at the model's seq_len only; the refusal
// comes before anything runs or is allocated.
func TestDryRunDenseMixingRefusesOtherLengths(t *testing.T) {
	cfg := archConfig("linear", 0)
	e, d := dryEngine(t, cfg, fnet.MaskedLMHeads, FP32, Options{})
	c2 := cfg
	c2.SeqLen = 24
	b := randomBatch(rand.New(rand.NewPCG(1, 1)), c2, 2, 4, 0)
	b.Labels = nil
	_, err := e.ForwardBackward(b, 1, 1)
	if err == nil || !strings.Contains(err.Error(), "seq_len 40") {
		t.Errorf("error %v", err)
	}
	if len(d.ops) != 0 || e.act != nil {
		t.Errorf("ran %v before refusing", d.names())
	}
}
