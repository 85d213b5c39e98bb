package cuda

import (
	"fmt"
	"strings"
)

// Fusion is a set of the optional fused paths of the step (issue 16: the
// memory-bound half of FNet-Base's step). Each one replaces a measured
// sequence of kernels by fewer passes over memory and keeps the old
// sequence as the default until a device session has timed both with the
// event profiler in the same run (scripts/gpu/mfu.sh); docs/GPU.md keeps
// the table. The fused paths compute the same function: the emulator runs
// every combination against the CPU engine and the reference fixtures, and
// the GPU kernel tests check each new kernel against its plain version.
type Fusion uint32

const (
	// FuseLayerNormBackward folds the γ/β column partial sums into the
	// LayerNorm backward kernel (one pass over dy and x̂ instead of two).
	FuseLayerNormBackward Fusion = 1 << iota
	// FuseLayerNormForward has the LayerNorm forward read its residual once,
	// with 16-byte loads.
	FuseLayerNormForward
	// FuseGELU runs bias + GELU and its backward with the bias gradient as
	// kernels reading 16 bytes per thread.
	FuseGELU
	// FuseEpilogue runs bias + GELU forward and the GELU backward with the
	// bias gradient as cuBLASLt epilogues of the FFN GEMMs
	// (CUBLASLT_EPILOGUE_GELU_AUX_BIAS, CUBLASLT_EPILOGUE_DGELU_BGRAD).
	FuseEpilogue
	// FuseOptimizer vectorises AdamW and the gradient's sum of squares.
	FuseOptimizer

	fusionEnd
)

// FuseAll is every fused path.
const FuseAll = fusionEnd - 1

var fusionNames = []struct {
	f    Fusion
	name string
}{
	{FuseLayerNormBackward, "ln-bwd"},
	{FuseLayerNormForward, "ln-fwd"},
	{FuseGELU, "gelu"},
	{FuseEpilogue, "epilogue"},
	{FuseOptimizer, "adamw"},
}

// Has reports whether every path of g is in f.
func (f Fusion) Has(g Fusion) bool { return f&g == g }

// String lists the paths by name ("ln-bwd,gelu"; "none" for the empty set).
func (f Fusion) String() string {
	var parts []string
	for _, n := range fusionNames {
		if f.Has(n.f) {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// ParseFusion reads a comma-separated list of path names, "all" or "none"
// (FNET_CUDA_FUSE, the benchmark's -fuse).
func ParseFusion(s string) (Fusion, error) {
	var f Fusion
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		switch part {
		case "", "none":
			continue
		case "all":
			f |= FuseAll
			continue
		}
		found := false
		for _, n := range fusionNames {
			if n.name == part {
				f |= n.f
				found = true
			}
		}
		if !found {
			var names []string
			for _, n := range fusionNames {
				names = append(names, n.name)
			}
			return 0, fmt.Errorf("unknown fused path %q (known: %s, all, none)", part, strings.Join(names, ", "))
		}
	}
	return f, nil
}

// FusionFromEnv reads FNET_CUDA_FUSE (unset: none), so that a user, the
// trainer and the device scripts can turn fused paths on without a config
// key while they are being measured; a bad value is an error naming the
// variable.
func FusionFromEnv(getenv func(string) string) (Fusion, error) {
	f, err := ParseFusion(getenv("FNET_CUDA_FUSE"))
	if err != nil {
		return 0, fmt.Errorf("FNET_CUDA_FUSE: %w", err)
	}
	return f, nil
}
