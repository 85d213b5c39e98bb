package cuda

import (
	"fmt"
	"math"
	"unsafe"
)

// dftTables are the real DFT matrices of the Fourier mixing,
// Re(FFT2(X)) = C_S·X·C_H − S_S·X·S_H for one sequence length:
//
//	hidden [H, 2H] = [C_H | S_H]   (so X·hidden = [X·C_H | X·S_H] in one GEMM)
//	cosS, negSinS [S, S] = C_S, −S_S
//
// in the type the mixing GEMMs read (bf16, or float32 for tf32/fp32).
type dftTables struct {
	S, H                  int
	arena                 DevPtr
	hidden, cosS, negSinS DevPtr
	dtype                 int
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
	var plan memPlan
	plan.add("dft.hidden", &t.hidden, es*uint64(len(hidden)))
	plan.add("dft.cosS", &t.cosS, es*uint64(len(cosS)))
	plan.add("dft.negSinS", &t.negSinS, es*uint64(len(negSinS)))
	var err error
	if t.arena, err = e.s.drv.memAlloc(plan.size()); err != nil {
		return nil, fmt.Errorf("DFT tables for S=%d: %w", S, err)
	}
	plan.bind(t.arena)
	for _, x := range []struct {
		dst DevPtr
		src []float32
	}{{t.hidden, hidden}, {t.cosS, cosS}, {t.negSinS, negSinS}} {
		if t.dtype == cudaR16BF {
			b := toBF16(x.src)
			err = e.s.drv.htod(x.dst, unsafe.Pointer(&b[0]), 2*len(b), e.stream)
		} else {
			err = e.s.drv.htod(x.dst, unsafe.Pointer(&x.src[0]), 4*len(x.src), e.stream)
		}
		if err != nil {
			return nil, err
		}
	}
	e.tables[S] = t
	return t, nil
}
