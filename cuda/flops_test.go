package cuda

import (
	"math"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// The reference's flops_estimate for --preset base (B=2, S=512, K=77:
// round(0.15·512)) in train mode, worked by hand from its formula.
func TestTrainFLOPsMatchesReferenceFormula(t *testing.T) {
	c := fnet.Presets["base"]
	B, S, K := 2, 512, 77
	T := float64(B * S)
	perTok := 12*2*768*3072.0 + 768*768
	dense := 3 * 2 * T * perTok
	head := 3 * 2 * float64(B*K) * (768*768 + 32000*768)
	mix := 2 * 12 * 2 * 2.5 * 512 * 768 * math.Log2(512*768)
	want := dense + head + mix
	if got := TrainFLOPs(c, B, S, K); math.Abs(got-want) > 1e-9*want {
		t.Fatalf("TrainFLOPs = %g, want %g", got, want)
	}
	// Sanity: about 6 × 85M weights × tokens for the encoder.
	if r := TrainFLOPs(c, B, S, K) / (6 * T * perTok); r < 1 || r > 1.2 {
		t.Errorf("FLOPs / 6NT = %.3f", r)
	}
	if got, want := MixGEMMFLOPs(c, 1, 512), 2*12*4*512*768*(512+768.0); got != want {
		t.Errorf("MixGEMMFLOPs = %g, want %g", got, want)
	}
}

func TestPeakTFLOPS(t *testing.T) {
	if p, ok := PeakTFLOPS("NVIDIA H100 80GB HBM3", BF16); !ok || p != 989 {
		t.Errorf("H100 SXM bf16 peak %v %v", p, ok)
	}
	if p, ok := PeakTFLOPS("NVIDIA H100 PCIe", BF16); !ok || p != 756 {
		t.Errorf("H100 PCIe bf16 peak %v %v", p, ok)
	}
	if p, _ := PeakTFLOPS("NVIDIA H100 80GB HBM3", TF32); p != 494.5 {
		t.Errorf("tf32 peak %v", p)
	}
	if _, ok := PeakTFLOPS("Some Future GPU", BF16); ok {
		t.Error("unknown GPU got a peak")
	}
}
