package cuda

import (
	"fmt"
	"strings"
)

// Precision is the arithmetic of the engine's matrix products. Master
// weights, optimizer state, LayerNorm, softmax and all reductions are
// float32 in every mode.
type Precision int

const (
	// BF16: GEMM operands (activations, weight copies, gradients flowing
	// into GEMMs) in bfloat16 on the tensor cores, float32 accumulation.
	BF16 Precision = iota
	// TF32: float32 operands, tensor cores in TF32 (10-bit mantissa products,
	// float32 accumulation). For checking against the CPU model.
	TF32
	// FP32: plain float32 GEMMs, no tensor cores. The exact check.
	FP32
)

func (p Precision) String() string {
	switch p {
	case BF16:
		return "bf16"
	case TF32:
		return "tf32"
	case FP32:
		return "fp32"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision reads "bf16", "tf32" or "fp32" (as in a config's
// [train] precision).
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "bf16", "bfloat16", "":
		return BF16, nil
	case "tf32":
		return TF32, nil
	case "fp32", "float32", "f32":
		return FP32, nil
	}
	return BF16, fmt.Errorf("unknown precision %q (want bf16, tf32 or fp32)", s)
}

// gemmElemSize is the bytes per element of GEMM-typed buffers.
func (p Precision) gemmElemSize() int {
	if p == BF16 {
		return 2
	}
	return 4
}

// gemmType is the cudaDataType of GEMM-typed buffers.
func (p Precision) gemmType() int {
	if p == BF16 {
		return cudaR16BF
	}
	return cudaR32F
}

// computeType is the cuBLAS compute type of the mode.
func (p Precision) computeType() int {
	if p == TF32 {
		return computeF32FastTF32
	}
	return computeF32
}

// bf16Define is the kernel source's GEMM_BF16 switch.
func (p Precision) bf16Define() int {
	if p == BF16 {
		return 1
	}
	return 0
}
