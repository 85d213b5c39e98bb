package cuda

import (
	"math/rand/v2"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

func TestMemPlanAlignsAndDoesNotOverlap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var p memPlan
	ptrs := make([]DevPtr, 50)
	sizes := make([]uint64, 50)
	for i := range ptrs {
		sizes[i] = uint64(rng.IntN(5000) + 1)
		p.add("buf", &ptrs[i], sizes[i])
	}
	const base = DevPtr(1 << 40)
	p.bind(base)
	for i, ptr := range ptrs {
		if (ptr-base)%memAlign != 0 {
			t.Fatalf("buffer %d at offset %d is not %d-aligned", i, ptr-base, memAlign)
		}
		end := ptr + DevPtr(sizes[i])
		if uint64(end-base) > p.size() {
			t.Fatalf("buffer %d ends past the arena (%d > %d)", i, end-base, p.size())
		}
		if i > 0 && ptr < ptrs[i-1]+DevPtr(sizes[i-1]) {
			t.Fatalf("buffer %d overlaps buffer %d", i, i-1)
		}
	}
	if p.size()%memAlign != 0 {
		t.Fatalf("arena size %d not aligned", p.size())
	}
}

func TestAlignElems(t *testing.T) {
	for _, c := range [][2]int{{0, 0}, {1, 64}, {64, 64}, {65, 128}, {768, 768}, {2, 64}} {
		if got := alignElems(c[0]); got != c[1] {
			t.Errorf("alignElems(%d) = %d, want %d", c[0], got, c[1])
		}
	}
}

func TestParsePrecision(t *testing.T) {
	for s, want := range map[string]Precision{"bf16": BF16, "TF32": TF32, "fp32": FP32, "": BF16, "float32": FP32} {
		got, err := ParsePrecision(s)
		if err != nil || got != want {
			t.Errorf("ParsePrecision(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParsePrecision("fp8"); err == nil {
		t.Error("fp8 accepted")
	}
	for _, p := range []Precision{BF16, TF32, FP32} {
		q, err := ParsePrecision(p.String())
		if err != nil || q != p {
			t.Errorf("round trip of %v gave %v, %v", p, q, err)
		}
	}
	if BF16.gemmElemSize() != 2 || FP32.gemmElemSize() != 4 || TF32.computeType() != computeF32FastTF32 || BF16.gemmType() != cudaR16BF {
		t.Error("precision tables disagree")
	}
}

// The attention's S×S scratch stays within attnScratchElems score elements
// per buffer whatever the batch and length (three buffers: float32 scores,
// GEMM-typed P̃, float32 dP̃), while everything else grows linearly in the
// tokens; models without attention plan none of it.
func TestPlanAttentionScratchBounded(t *testing.T) {
	base := fnet.Presets["base"]
	for _, c := range []struct {
		arch string
		B, S int
	}{{"bert", 32, 512}, {"bert", 8, 8192}, {"bert", 2, 32768}, {"hybrid", 8, 8192}, {"fnet", 8, 8192}, {"linear", 8, 4096}} {
		cfg, err := fnet.WithArchitecture(base, c.arch)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxPositions, cfg.SeqLen = c.S, c.S
		e := &Engine{cfg: cfg, prec: BF16, mixTF32: true, seqMajor: true}
		a := planActivations(e.planShape(), c.B, c.S, 80)
		var scratch uint64
		for _, it := range a.plan.items {
			switch it.name {
			case "attnScores", "attnProbs", "attnDProbs":
				scratch += it.bytes
			}
		}
		hasAttn := cfg.HasMixing(fnet.MixAttention)
		want := uint64(10 * a.attnChunk * c.S * c.S)
		if !hasAttn {
			want = 0
		}
		if scratch != want || (hasAttn && a.attnChunk*c.S*c.S > max(attnScratchElems, c.S*c.S)) {
			t.Errorf("%s B%d S%d: attention scratch %d bytes for chunks of %d pairs", c.arch, c.B, c.S, scratch, a.attnChunk)
		}
		t.Logf("%-6s B%-2d S%-5d: arena %6.2f GiB, attention scratch %5.2f GiB (%d pairs per chunk)", c.arch, c.B, c.S,
			float64(a.plan.size())/(1<<30), float64(scratch)/(1<<30), a.attnChunk)
	}
}
