package train

import (
	"fmt"
	"os"

	"github.com/fnet-tui/fnet-tui/cuda"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/kernels"
)

// newEngine builds the engine train.device asks for, for one rank of a
// world of ranks (1: one process). "cuda" without a usable GPU is an error
// carrying the exact reason; "auto" falls back to the CPU and says why
// through note, but not in a world of more than one rank: there a CPU rank
// would average its gradients through host buckets while the CUDA ranks
// reduce per-layer groups on the device, so the ranks' NCCL calls would
// not match (a hang, or garbage). The rank fails with the reason instead,
// and the startup agreement fails every rank.
func newEngine(cfg Config, mc fnet.Config, heads fnet.Heads, params map[string][]float32, ranks int, note func(string, ...any)) (fnet.Engine, error) {
	dev := cfg.Train.Device
	multi := ranks > 1
	noFallback := func(why string, err error) error {
		return fmt.Errorf("train.device = \"auto\" in a %d-rank world: %s (%w), and a rank may not fall back to the CPU there: its NCCL calls would not match the CUDA ranks' (run `fnet-tui doctor` on the node)", ranks, why, err)
	}
	if dev == "cuda" || dev == "auto" {
		err := cuda.Available()
		if err == nil {
			prec, perr := cuda.ParsePrecision(cfg.Train.Precision)
			if perr != nil {
				return nil, fmt.Errorf("train.precision: %w", perr)
			}
			fuse, ferr := cuda.FusionFromEnv(os.Getenv)
			if ferr != nil {
				return nil, ferr
			}
			if fuse != 0 {
				note("cuda: fused paths %v (FNET_CUDA_FUSE)", fuse)
			}
			eng, err := cuda.NewEngineWithOptions(mc, heads, cfg.AdamW(), cfg.Train.Seed, prec, cuda.Options{Params: params, Fuse: fuse})
			if err == nil {
				return gpuEngine{eng}, nil
			}
			if dev == "cuda" {
				return nil, fmt.Errorf("train.device = \"cuda\": %w", err)
			}
			if multi {
				return nil, noFallback("the CUDA engine failed to start", err)
			}
			note("device auto: the CUDA engine failed to start (%v); running on the CPU", err)
		} else if dev == "cuda" {
			return nil, fmt.Errorf("train.device = \"cuda\" but no GPU can be used: %w (run `fnet-tui doctor`)", err)
		} else if multi {
			return nil, noFallback("no usable GPU", err)
		} else {
			note("device auto: no usable GPU (%v); running on the CPU", err)
		}
	}
	mix, err := kernels.ParseMixMethod(cfg.Model.Mixing)
	if err != nil {
		return nil, fmt.Errorf("model.mixing: %w", err)
	}
	if kernels.PureGo {
		note("this is the pure-Go build (-tags pure): matmuls use gonum's BLAS, several times slower than OpenBLAS")
	}
	return fnet.NewCPUEngine(mc, heads, cfg.AdamW(), fnet.CPUOptions{Seed: cfg.Train.Seed, Params: params, MixMethod: mix})
}

// gpuEngine adds the NVML reading the loop logs as system metrics.
type gpuEngine struct{ *cuda.Engine }

func (g gpuEngine) GPUUsage() (float64, float64, error) {
	u, err := g.Usage()
	if err != nil {
		return 0, 0, err
	}
	return u.Util, u.MemUsedGiB(), nil
}

// Inference says where a command that only runs the model (predictions,
// masked-word queries, probes, evaluation) runs it, as train.device and
// train.precision do for training.
type Inference struct {
	Device    string               // "cpu" (also ""), "cuda" or "auto"
	Precision string               // cuda precision; "" = the training default
	Note      func(string, ...any) // told when "auto" falls back to the CPU; nil = silent
}

// Engine builds an engine for the model (dropout off) on the device inf
// names; the optimizer settings are irrelevant and left at their defaults.
func (inf Inference) Engine(mc fnet.Config, heads fnet.Heads, params map[string][]float32) (fnet.Engine, error) {
	run := DefaultConfig()
	if inf.Device != "" {
		run.Train.Device = inf.Device
	}
	if inf.Precision != "" {
		run.Train.Precision = inf.Precision
	}
	note := inf.Note
	if note == nil {
		note = func(string, ...any) {}
	}
	mc.DropoutProb = 0
	return newEngine(run, mc, heads, params, 1, note)
}
