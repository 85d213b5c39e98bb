package cuda

import (
	"math/rand/v2"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// HiddenStates on the device against the CPU engine's on the same weights
// and batch: the embedding output and every layer's, in batch order, for
// every precision and both row layouts. Needs a GPU.
func TestEngineHiddenStatesMatchCPUEngine(t *testing.T) {
	requireGPU(t)
	for _, h := range []struct {
		name      string
		heads     fnet.Heads
		numLabels int
	}{{"pretraining", fnet.PretrainingHeads, 0}, {"classifier", fnet.ClassifierHeads, 3}} {
		cfg := smallConfig(h.numLabels)
		const seed = 7
		cpu, err := fnet.NewCPUEngine(cfg, h.heads, fnet.DefaultAdamW, fnet.CPUOptions{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		b := randomBatch(rand.New(rand.NewPCG(21, 22)), cfg, 3, 6, h.numLabels)
		ce, cl, err := cpu.HiddenStates(b)
		cpu.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []struct {
			prec Precision
			o    Options
		}{{FP32, Options{}}, {FP32, Options{BatchMajor: true}}, {TF32, Options{}}, {BF16, Options{}}, {BF16, Options{BatchMajor: true}}} {
			name := h.name + "/" + v.prec.String()
			if v.o.BatchMajor {
				name += "/batch-major"
			}
			t.Run(name, func(t *testing.T) {
				gpu, err := NewEngineWithOptions(cfg, h.heads, fnet.DefaultAdamW, seed, v.prec, v.o)
				if err != nil {
					t.Fatal(err)
				}
				defer gpu.Close()
				ge, gl, err := gpu.HiddenStates(b)
				if err != nil {
					t.Fatal(err)
				}
				if len(gl) != len(cl) || len(ge) != len(ce) {
					t.Fatalf("%d layers of %d values, embeddings %d; CPU %d layers, embeddings %d", len(gl), len(gl[0]), len(ge), len(cl), len(ce))
				}
				tol := parityTol(v.prec)
				if e := relL2F32(ge, ce); e > tol {
					t.Errorf("embeddings: relative L2 error %.3e > %g", e, tol)
				}
				for l := range cl {
					e := relL2F32(gl[l], cl[l])
					t.Logf("layer %d: relative L2 error %.3e", l, e)
					if e > tol {
						t.Errorf("layer %d: relative L2 error %.3e > %g", l, e, tol)
					}
				}
				// no dropout: a second call gives the same states
				_, again, err := gpu.HiddenStates(b)
				if err != nil {
					t.Fatal(err)
				}
				if e := relL2F32(again[len(again)-1], gl[len(gl)-1]); e != 0 {
					t.Errorf("a second HiddenStates differs (%.3e)", e)
				}
			})
		}
	}
}
