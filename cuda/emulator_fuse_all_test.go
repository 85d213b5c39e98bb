package cuda

import (
	"path/filepath"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// The fused paths of both halves of issue 16 together, as a device session
// would run them (FNET_CUDA_FUSE=all, and all but the epilogue so that the
// FFN takes the 16-byte GELU kernels): the emulated engine against the CPU
// engine on every architecture and head kind, and on every reference
// fixture, with the unfused path's bounds.
var combinedFusions = []Fusion{FuseAll, FuseAll &^ FuseEpilogue}

func TestEmulatedAllFusedPathsMatchCPUEngine(t *testing.T) {
	for _, arch := range append([]string{"fnet"}, dryArchs...) {
		for _, tc := range engineHeadCases {
			for _, f := range combinedFusions {
				for _, v := range []struct {
					prec Precision
					tol  float64
				}{{FP32, 1e-3}, {BF16, 2e-2}} {
					if testing.Short() && (v.prec != BF16 || tc.name == "regression") {
						continue
					}
					t.Run(arch+"/"+tc.name+"/"+f.String()+"/"+v.prec.String(), func(t *testing.T) {
						cfg := archConfig(arch, tc.numLabels)
						if arch == "fnet" {
							cfg = smallConfig(tc.numLabels)
						}
						matchCPUEngine(t, cfg, tc.heads, tc.numLabels, v.prec, v.tol, arch != "fnet", fusedEmuBuilder(v.prec, Options{}, f))
					})
				}
			}
		}
	}
}

func TestEmulatedAllFusedPathsParity(t *testing.T) {
	fx := parityFixtures(t)
	if len(fx) == 0 {
		t.Skip("no parity fixtures found (../shared/ref/fixtures, testdata/parity, FNET_PARITY_DIR)")
	}
	for _, prefix := range fx {
		for _, f := range combinedFusions {
			t.Run(filepath.Base(prefix)+"/"+f.String(), func(t *testing.T) {
				rep, err := fnet.RunParityOn(prefix+".weights.safetensors", prefix+".expect.safetensors",
					func(cfg fnet.Config, heads fnet.Heads, opt fnet.AdamWConfig, params map[string][]float32) (*fnet.ParityTarget, error) {
						e, _ := fusedEmuEngine(t, cfg, heads, BF16, Options{}, f, 0, params)
						e.opt = opt
						return &fnet.ParityTarget{Engine: e, Activations: e.Activations, Gradients: e.Gradients}, nil
					})
				checkParityReport(t, prefix, BF16, false, false, rep, err)
			})
		}
	}
}
