package cuda

import (
	"fmt"
	"math"
	"unsafe"
)

// dftTables are the real DFT matrices of the Fourier mixing,
// Re(FFT2(X)) = C_S·X·C_H − S_S·X·S_H for one sequence length, in the type
// the mixing GEMMs read (bf16, or float32 for tf32/fp32). Seq-major rows:
//
//	hidden [2, H, H] = C_H, S_H   (one batched GEMM gives X·C_H and X·S_H)
//	seqCat [S, 2S] = [C_S | −S_S]
//
// batch-major rows:
//
//	hidden [H, 2H] = [C_H | S_H]   (so X·hidden = [X·C_H | X·S_H] in one GEMM)
//	cosS, negSinS [S, S] = C_S, −S_S
type dftTables struct {
	S, H                          int
	arena                         DevPtr
	hidden, cosS, negSinS, seqCat DevPtr
	dtype                         int
}

// dftCos and dftSin are cos and sin of 2π·j·k/n, reduced mod n first so
// large products lose no accuracy.
func dftCos(j, k, n int) float64 { return math.Cos(2 * math.Pi * float64((j*k)%n) / float64(n)) }
func dftSin(j, k, n int) float64 { return math.Sin(2 * math.Pi * float64((j*k)%n) / float64(n)) }

// hostDFTTables builds the three matrices in float32, row-major.
func hostDFTTables(S, H int) (hidden, cosS, negSinS []float32) {
	hidden = make([]float32, H*2*H)
	for k := 0; k < H; k++ {
		for j := 0; j < H; j++ {
			hidden[k*2*H+j] = float32(dftCos(k, j, H))
			hidden[k*2*H+H+j] = float32(dftSin(k, j, H))
		}
	}
	cosS = make([]float32, S*S)
	negSinS = make([]float32, S*S)
	for i := 0; i < S; i++ {
		for j := 0; j < S; j++ {
			cosS[i*S+j] = float32(dftCos(i, j, S))
			negSinS[i*S+j] = float32(-dftSin(i, j, S))
		}
	}
	return
}

// seqMajorTables rearranges the tables for seq-major rows.
func seqMajorTables(S, H int, hidden, cosS, negSinS []float32) (hidden2, seqCat []float32) {
	hidden2 = make([]float32, 2*H*H)
	for k := 0; k < H; k++ {
		for j := 0; j < H; j++ {
			hidden2[k*H+j] = hidden[k*2*H+j]
			hidden2[H*H+k*H+j] = hidden[k*2*H+H+j]
		}
	}
	seqCat = make([]float32, S*2*S)
	for i := 0; i < S; i++ {
		copy(seqCat[i*2*S:], cosS[i*S:(i+1)*S])
		copy(seqCat[i*2*S+S:], negSinS[i*S:(i+1)*S])
	}
	return
}

// toSeqMajor reorders a [B·S] (or [B·S, h] with h = len/(B·S)) batch-major
// tensor to seq-major rows, s·B + b.
func toSeqMajor[T any](x []T, B, S int) []T {
	h := len(x) / (B * S)
	out := make([]T, len(x))
	for b := 0; b < B; b++ {
		for s := 0; s < S; s++ {
			copy(out[(s*B+b)*h:(s*B+b+1)*h], x[(b*S+s)*h:(b*S+s+1)*h])
		}
	}
	return out
}

// fromSeqMajor is toSeqMajor's inverse.
func fromSeqMajor[T any](x []T, B, S int) []T {
	h := len(x) / (B * S)
	out := make([]T, len(x))
	for b := 0; b < B; b++ {
		for s := 0; s < S; s++ {
			copy(out[(b*S+s)*h:(b*S+s+1)*h], x[(s*B+b)*h:(s*B+b+1)*h])
		}
	}
	return out
}

// toBF16 rounds float32 to bfloat16 bits, nearest even (as the kernels do).
func toBF16(x []float32) []uint16 {
	out := make([]uint16, len(x))
	for i, f := range x {
		u := math.Float32bits(f)
		if u&0x7fffffff > 0x7f800000 {
			out[i] = uint16(u>>16) | 0x40
			continue
		}
		u += 0x7fff + (u>>16)&1
		out[i] = uint16(u >> 16)
	}
	return out
}

// fromBF16 widens bfloat16 bits to float32.
func fromBF16(x []uint16) []float32 {
	out := make([]float32, len(x))
	for i, h := range x {
		out[i] = math.Float32frombits(uint32(h) << 16)
	}
	return out
}

// mixDType is the element type of the mixing GEMMs' operands.
func (e *Engine) mixDType() int {
	if e.mixTF32 {
		return cudaR32F
	}
	return e.prec.gemmType()
}

// mixCompute is their cuBLAS compute type.
func (e *Engine) mixCompute() int {
	if e.mixTF32 {
		return computeF32FastTF32
	}
	return e.prec.computeType()
}

// tablesFor uploads (once) the DFT tables for sequence length S.
func (e *Engine) tablesFor(S int) (*dftTables, error) {
	if t, ok := e.tables[S]; ok {
		return t, nil
	}
	H := e.cfg.HiddenSize
	hidden, cosS, negSinS := hostDFTTables(S, H)
	t := &dftTables{S: S, H: H, dtype: e.mixDType()}
	es := uint64(4)
	if t.dtype == cudaR16BF {
		es = 2
	}
	type upload struct {
		dst *DevPtr
		src []float32
	}
	ups := []upload{{&t.hidden, hidden}, {&t.cosS, cosS}, {&t.negSinS, negSinS}}
	if e.seqMajor {
		hidden2, seqCat := seqMajorTables(S, H, hidden, cosS, negSinS)
		ups = []upload{{&t.hidden, hidden2}, {&t.seqCat, seqCat}}
	}
	var plan memPlan
	for i, u := range ups {
		plan.add(fmt.Sprintf("dft.%d", i), u.dst, es*uint64(len(u.src)))
	}
	var err error
	if t.arena, err = e.memAlloc(plan.size()); err != nil {
		return nil, fmt.Errorf("DFT tables for S=%d: %w", S, err)
	}
	plan.bind(t.arena)
	for _, x := range ups {
		if t.dtype == cudaR16BF {
			b := toBF16(x.src)
			err = e.htod(*x.dst, unsafe.Pointer(&b[0]), 2*len(b))
		} else {
			err = e.htod(*x.dst, unsafe.Pointer(&x.src[0]), 4*len(x.src))
		}
		if err != nil {
			return nil, err
		}
	}
	e.tables[S] = t
	return t, nil
}
