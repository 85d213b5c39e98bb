package cuda

import (
	"math"
	"strings"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// TrainFLOPs counts one training step's model FLOPs as the PyTorch
// reference's flops_estimate does (../shared/ref/fnet_ref.py): matmul
// multiply-adds as 2 FLOPs, backward twice the forward for the dense layers
// and the masked-LM head, the Fourier mixing as FFTs (2.5·N·log2 N per
// S×H sequence, forward and backward), elementwise work not counted. This
// is the numerator of MFU; the DFT-as-GEMM mixing the engine really runs
// does more arithmetic than this credits it with.
func TrainFLOPs(c fnet.Config, B, S, K int) float64 {
	H, F, L, V := float64(c.HiddenSize), float64(c.IntermediateSize), float64(c.NumLayers), float64(c.VocabSize)
	T := float64(B * S)
	M := float64(B * min(K, S))
	perTok := L*2*H*F + H*H
	dense := 2 * T * perTok
	head := 2 * M * (H*H + V*H)
	sh := float64(S) * H
	mix := L * float64(B) * 2.5 * sh * math.Log2(sh)
	return 3*dense + 3*head + 2*mix
}

// MixGEMMFLOPs is what the DFT-as-GEMM mixing really computes per training
// step (forward and backward): 4·S·H·(S+H) per sequence and layer each way.
func MixGEMMFLOPs(c fnet.Config, B, S int) float64 {
	H := float64(c.HiddenSize)
	return 2 * float64(c.NumLayers) * float64(B) * 4 * float64(S) * H * (float64(S) + H)
}

// PeakTFLOPS is the dense tensor-core peak assumed for MFU: NVIDIA's
// datasheet figure (without sparsity) for the GPUs we know, by precision.
func PeakTFLOPS(deviceName string, p Precision) (float64, bool) {
	n := strings.ToUpper(deviceName)
	var bf16 float64
	switch {
	case strings.Contains(n, "H100") && strings.Contains(n, "PCIE"):
		bf16 = 756
	case strings.Contains(n, "H100"), strings.Contains(n, "H200"), strings.Contains(n, "GH200"):
		bf16 = 989
	case strings.Contains(n, "A100"):
		bf16 = 312
	case strings.Contains(n, "L40S"):
		bf16 = 362
	case strings.Contains(n, "A10"):
		bf16 = 125
	default:
		return 0, false
	}
	switch p {
	case TF32:
		return bf16 / 2, true
	case FP32:
		if strings.Contains(n, "A100") {
			return 19.5, true
		}
		return bf16 / 15, true
	}
	return bf16, true
}
