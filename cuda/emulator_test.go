package cuda

import (
	"fmt"
	"math"
	"testing"
	"unsafe"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/kernels"
)

// emu carries out a dry run's operations on the host: device memory is
// host memory behind the dry run's made-up addresses, every GEMM is a
// float64 triple loop over the row-major operands (strides, leading
// dimensions and batches exactly as cuBLAS would read them), and every
// kernel is a Go twin of its CUDA C in kernels/fnet.cu, reading its
// arguments by position as the C parameter list declares them. An engine on
// an emulating dry run computes real losses, gradients and updates without
// a GPU, so its wiring (which buffer, which stride, which launch, in which
// order) can be checked against the CPU engine here; the kernels' CUDA C
// itself is checked against its CPU twins on a GPU (kernel_test.go).
//
// Allocations of a dry run are 2^36 bytes apart and the dry engine's
// fixed buffers sit at multiples of 2^40, so an address's region is its
// top bits; a region is sized from the engine's allocation record, or
// registered up front.
type emu struct {
	e    *Engine
	d    *dryRun
	mem  map[uint64][]byte
	bf16 bool // GEMM-typed buffers hold bfloat16
}

const emuRegionBits = 36

func newEmu(e *Engine, d *dryRun) *emu {
	m := &emu{e: e, d: d, mem: map[uint64][]byte{}, bf16: e.prec == BF16}
	d.exec, d.write, d.fill = m.exec, m.write, m.read
	return m
}

// region registers n bytes at base.
func (m *emu) region(base DevPtr, n uint64) {
	m.mem[uint64(base)>>emuRegionBits] = make([]byte, n)
}

// bytes is the memory from p to the end of its region.
func (m *emu) bytes(p DevPtr) []byte {
	if p == 0 {
		panic("emulator: nil device pointer")
	}
	key := uint64(p) >> emuRegionBits
	r, ok := m.mem[key]
	if !ok {
		base := DevPtr(key << emuRegionBits)
		n, ok := m.e.allocs[base]
		if !ok {
			panic(fmt.Sprintf("emulator: %#x is in no allocation", uint64(p)))
		}
		m.region(base, n)
		r = m.mem[key]
	}
	off := uint64(p) & (1<<emuRegionBits - 1)
	if off > uint64(len(r)) {
		panic(fmt.Sprintf("emulator: %#x is past its allocation of %d bytes", uint64(p), len(r)))
	}
	return r[off:]
}

func (m *emu) f32(p DevPtr) []float32 {
	b := m.bytes(p)
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}

func (m *emu) i32(p DevPtr) []int32 {
	b := m.bytes(p)
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}

func (m *emu) f64(p DevPtr) []float64 {
	b := m.bytes(p)
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)
}

// typed is a view of float32 or bfloat16 elements.
type typed struct {
	f []float32
	h []uint16
}

func (v typed) get(i int) float32 {
	if v.h != nil {
		return math.Float32frombits(uint32(v.h[i]) << 16)
	}
	return v.f[i]
}

func (v typed) set(i int, x float32) {
	if v.h != nil {
		v.h[i] = toBF16([]float32{x})[0]
		return
	}
	v.f[i] = x
}

func (m *emu) view(p DevPtr, bf16 bool) typed {
	if bf16 {
		b := m.bytes(p)
		return typed{h: unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/2)}
	}
	return typed{f: m.f32(p)}
}

// g is a GEMM-typed (gemm_t) buffer.
func (m *emu) g(p DevPtr) typed { return m.view(p, m.bf16) }

func (m *emu) write(dst DevPtr, src []byte) { copy(m.bytes(dst), src) }
func (m *emu) read(src DevPtr, dst []byte)  { copy(dst, m.bytes(src)) }

func (m *emu) exec(op dryOp) error {
	if op.gemm != nil {
		m.gemm(*op.gemm)
		return nil
	}
	if op.name == "memset" {
		w := m.i32(op.args[0].(DevPtr))
		v, n := int32(op.args[1].(uint32)), op.args[2].(int64)
		for i := int64(0); i < n; i++ {
			w[i] = v
		}
		return nil
	}
	k, ok := emuKernels[op.name]
	if !ok {
		return fmt.Errorf("emulator: no twin for kernel %s", op.name)
	}
	k(m, emuArgs(op.args), op.grid)
	return nil
}

// gemm is gemmCall's row-major contract: C = α·op(A)·op(B) + β·C per
// batch, each product summed in float64.
func (m *emu) gemm(g gemmCall) {
	batch := max(g.batch, 1)
	at := make([]float64, g.m*g.k) // op(A) [m, k]
	bt := make([]float64, g.n*g.k) // op(B)ᵀ [n, k]
	for t := 0; t < batch; t++ {
		A := m.view(g.a.ptr+DevPtr(int64(t)*g.a.stride*int64(elemSize(g.a.dtype))), g.a.dtype == cudaR16BF)
		B := m.view(g.b.ptr+DevPtr(int64(t)*g.b.stride*int64(elemSize(g.b.dtype))), g.b.dtype == cudaR16BF)
		C := m.view(g.c.ptr+DevPtr(int64(t)*g.c.stride*int64(elemSize(g.c.dtype))), g.c.dtype == cudaR16BF)
		for i := 0; i < g.m; i++ {
			for k := 0; k < g.k; k++ {
				ai := i*g.a.ld + k
				if g.transA {
					ai = k*g.a.ld + i
				}
				at[i*g.k+k] = float64(A.get(ai))
			}
		}
		for j := 0; j < g.n; j++ {
			for k := 0; k < g.k; k++ {
				bi := k*g.b.ld + j
				if g.transB {
					bi = j*g.b.ld + k
				}
				bt[j*g.k+k] = float64(B.get(bi))
			}
		}
		for i := 0; i < g.m; i++ {
			ar := at[i*g.k : (i+1)*g.k]
			for j := 0; j < g.n; j++ {
				br := bt[j*g.k : (j+1)*g.k]
				var s float64
				for k, x := range ar {
					s += x * br[k]
				}
				r := float64(g.alpha) * s
				if g.beta != 0 {
					r += float64(g.beta) * float64(C.get(i*g.c.ld+j))
				}
				C.set(i*g.c.ld+j, float32(r))
			}
		}
	}
}

// emuArgs reads a launch's arguments by position.
type emuArgs []any

func (a emuArgs) p(i int) DevPtr  { return a[i].(DevPtr) }
func (a emuArgs) i(i int) int     { return int(a[i].(int32)) }
func (a emuArgs) u(i int) uint32  { return a[i].(uint32) }
func (a emuArgs) l(i int) int     { return int(a[i].(int64)) }
func (a emuArgs) q(i int) uint64  { return a[i].(uint64) }
func (a emuArgs) f(i int) float32 { return a[i].(float32) }
func (a emuArgs) nz(i int) bool   { return a.p(i) != 0 }
func (a emuArgs) drop(i int) emuDrop { // seed, step, site, thr, scale at i…i+4
	return emuDrop{a.q(i), a.q(i + 1), a.u(i + 2), a.u(i + 3), a.f(i + 4)}
}

type emuDrop struct {
	seed, step uint64
	site, thr  uint32
	scale      float32
}

// apply is drop_apply: v·scale if element idx survives, else 0; thr 0 keeps all.
func (d emuDrop) apply(v float32, idx uint64) float32 {
	if d.thr == 0 {
		return v
	}
	if uint32(kernels.DropoutHash(d.seed, d.step, d.site, uint32(idx))>>40) >= d.thr {
		return v * d.scale
	}
	return 0
}

// dropRow is drop_row: a seq-major row's batch-major index.
func dropRow(r, dB, rows int) int {
	if dB <= 0 {
		return r
	}
	S := rows / dB
	return (r%dB)*S + r/dB
}

func geluF(x float32) float32 {
	t := math.Tanh(0.7978845608028654 * float64(x+0.044715*x*x*x))
	return float32(0.5 * float64(x) * (1 + t))
}

func geluGradF(x float32) float32 {
	xf := float64(x)
	t := math.Tanh(0.7978845608028654 * (xf + 0.044715*xf*xf*xf))
	return float32(0.5*(1+t) + 0.5*xf*(1-t*t)*0.7978845608028654*(1+3*0.044715*xf*xf))
}

// layerNormRow normalises v in place into x̂ and returns 1/σ.
func layerNormRow(v []float64, eps float32) float32 {
	var mean, sq float64
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		sq += (x - mean) * (x - mean)
	}
	rs := 1 / math.Sqrt(sq/float64(len(v))+float64(eps))
	for j := range v {
		v[j] = (v[j] - mean) * rs
	}
	return float32(rs)
}

// emuKernels maps a kernel's name to its Go twin. It is initialised
// before any init function runs, so twins of kernels in other .cu files
// register themselves from their own files' init (emulator_*_test.go).
var emuKernels = map[string]func(m *emu, a emuArgs, grid [3]uint32){}

func init() {
	lnFwd := func(m *emu, a emuArgs, _ [3]uint32) {
		// res, add, bias, seed, step, site, thr, dscale, gamma, beta, rows, H, eps, xhat, rstd, out, out_g, dB
		d := a.drop(3)
		gamma, beta := m.f32(a.p(8)), m.f32(a.p(9))
		rows, H, eps, dB := a.i(10), a.i(11), a.f(12), a.i(17)
		add, xhat, rstd := m.f32(a.p(1)), m.f32(a.p(13)), m.f32(a.p(14))
		v := make([]float64, H)
		for r := 0; r < rows; r++ {
			base, dbase := r*H, dropRow(r, dB, rows)*H
			for j := 0; j < H; j++ {
				x := add[base+j]
				if a.nz(2) {
					x += m.f32(a.p(2))[j]
				}
				x = d.apply(x, uint64(dbase+j))
				if a.nz(0) {
					x = m.f32(a.p(0))[base+j] + x
				}
				v[j] = float64(x)
			}
			rstd[r] = layerNormRow(v, eps)
			for j := 0; j < H; j++ {
				xhat[base+j] = float32(v[j])
				y := float32(v[j])*gamma[j] + beta[j]
				if a.nz(15) {
					m.f32(a.p(15))[base+j] = y
				}
				if a.nz(16) {
					m.g(a.p(16)).set(base+j, y)
				}
			}
		}
	}
	lnBwd := func(m *emu, a emuArgs, _ [3]uint32) {
		// dy, xhat, rstd, gamma, rows, H, dx, dx_g, seed, step, site, thr, dscale, dB
		dy, xhat, rstd, gamma := m.f32(a.p(0)), m.f32(a.p(1)), m.f32(a.p(2)), m.f32(a.p(3))
		rows, H, d, dB := a.i(4), a.i(5), a.drop(8), a.i(13)
		for r := 0; r < rows; r++ {
			base, dbase := r*H, dropRow(r, dB, rows)*H
			var sg, sgx float64
			for j := 0; j < H; j++ {
				g := float64(dy[base+j] * gamma[j])
				sg += g
				sgx += g * float64(xhat[base+j])
			}
			mg, mgx := sg/float64(H), sgx/float64(H)
			for j := 0; j < H; j++ {
				v := float32(float64(rstd[r]) * (float64(dy[base+j]*gamma[j]) - mg - float64(xhat[base+j])*mgx))
				if a.nz(6) {
					m.f32(a.p(6))[base+j] = v
				}
				if a.nz(7) {
					m.g(a.p(7)).set(base+j, d.apply(v, uint64(dbase+j)))
				}
			}
		}
	}
	embedRow := func(m *emu, a emuArgs, r int, v []float64) {
		// ids, tt, word, pos, typ, …, rows, S, H, …
		ids, tt := m.i32(a.p(0)), m.i32(a.p(1))
		word, pos, typ := m.f32(a.p(2)), m.f32(a.p(3)), m.f32(a.p(4))
		S, H := a.i(8), a.i(9)
		dB := a.i(len(a) - 1)
		s := r % S
		if dB > 0 {
			s = r / dB
		}
		for j := 0; j < H; j++ {
			v[j] = float64(word[int(ids[r])*H+j] + pos[s*H+j] + typ[int(tt[r])*H+j])
		}
	}
	// colsum runs a partial-sum kernel's contract: part[c·ld + j] = Σ over
	// chunk c's rows of f(r, j), for the launch's grid.y chunks.
	colsum := func(grid [3]uint32, rows, C, rpc int, f func(r, j int) float64, part []float32, ld, col0 int) {
		for c := 0; c < int(grid[1]); c++ {
			for j := 0; j < C; j++ {
				var s float64
				for r := c * rpc; r < min(rows, (c+1)*rpc); r++ {
					s += f(r, j)
				}
				part[c*ld+col0+j] = float32(s)
			}
		}
	}
	for name, twin := range map[string]func(m *emu, a emuArgs, grid [3]uint32){
		"f32_to_g": func(m *emu, a emuArgs, _ [3]uint32) {
			src, dst := m.f32(a.p(0)), m.g(a.p(2))
			for i := 0; i < a.l(1); i++ {
				dst.set(i, src[i])
			}
		},
		"embed_ln_fwd": func(m *emu, a emuArgs, _ [3]uint32) {
			// …, gamma, beta, rows, S, H, eps, xhat, rstd, out_g, dB
			gamma, beta := m.f32(a.p(5)), m.f32(a.p(6))
			rows, H, eps := a.i(7), a.i(9), a.f(10)
			xhat, rstd, out := m.f32(a.p(11)), m.f32(a.p(12)), m.g(a.p(13))
			v := make([]float64, H)
			for r := 0; r < rows; r++ {
				embedRow(m, a, r, v)
				rstd[r] = layerNormRow(v, eps)
				for j := 0; j < H; j++ {
					xhat[r*H+j] = float32(v[j])
					out.set(r*H+j, float32(v[j])*gamma[j]+beta[j])
				}
			}
		},
		"embed_ln_drop_fwd": func(m *emu, a emuArgs, _ [3]uint32) {
			// …, gamma, beta, rows, S, H, eps, seed, step, site, thr, dscale, xhat, rstd, out, out_g, dB
			gamma, beta := m.f32(a.p(5)), m.f32(a.p(6))
			rows, H, eps, d, dB := a.i(7), a.i(9), a.f(10), a.drop(11), a.i(20)
			xhat, rstd, out := m.f32(a.p(16)), m.f32(a.p(17)), m.f32(a.p(18))
			v := make([]float64, H)
			for r := 0; r < rows; r++ {
				embedRow(m, a, r, v)
				rstd[r] = layerNormRow(v, eps)
				for j := 0; j < H; j++ {
					xhat[r*H+j] = float32(v[j])
					y := d.apply(float32(v[j])*gamma[j]+beta[j], uint64(dropRow(r, dB, rows)*H+j))
					out[r*H+j] = y
					if a.nz(19) {
						m.g(a.p(19)).set(r*H+j, y)
					}
				}
			}
		},
		"ln_fwd": lnFwd, "ln_fwd_reg": lnFwd, "ln_bwd": lnBwd, "ln_bwd_reg": lnBwd,
		"colsum_ln_partial": func(m *emu, a emuArgs, grid [3]uint32) {
			dy, xhat := m.f32(a.p(0)), m.f32(a.p(1))
			rows, H, rpc, part := a.i(2), a.i(3), a.i(4), m.f32(a.p(5))
			colsum(grid, rows, H, rpc, func(r, j int) float64 { return float64(dy[r*H+j] * xhat[r*H+j]) }, part, 2*H, 0)
			colsum(grid, rows, H, rpc, func(r, j int) float64 { return float64(dy[r*H+j]) }, part, 2*H, H)
		},
		"colsum_f32_partial": func(m *emu, a emuArgs, grid [3]uint32) {
			src, d := m.f32(a.p(0)), a.drop(1)
			rows, C, rpc, part, dB := a.i(6), a.i(7), a.i(8), m.f32(a.p(9)), a.i(10)
			colsum(grid, rows, C, rpc, func(r, j int) float64 {
				return float64(d.apply(src[r*C+j], uint64(dropRow(r, dB, rows)*C+j)))
			}, part, C, 0)
		},
		"colsum_g_partial": func(m *emu, a emuArgs, grid [3]uint32) {
			src := m.g(a.p(0))
			rows, C, rpc, part := a.i(1), a.i(2), a.i(3), m.f32(a.p(4))
			colsum(grid, rows, C, rpc, func(r, j int) float64 { return float64(src.get(r*C + j)) }, part, C, 0)
		},
		"gelu_bwd_colsum": func(m *emu, a emuArgs, grid [3]uint32) {
			dh, u, b := m.g(a.p(0)), m.g(a.p(1)), m.f32(a.p(2))
			rows, C, rpc, du, part := a.i(3), a.i(4), a.i(5), m.g(a.p(6)), m.f32(a.p(7))
			colsum(grid, rows, C, rpc, func(r, j int) float64 {
				d := dh.get(r*C+j) * geluGradF(u.get(r*C+j)+b[j])
				du.set(r*C+j, d)
				return float64(d)
			}, part, C, 0)
		},
		"colsum_final": func(m *emu, a emuArgs, _ [3]uint32) {
			part, chunks, ld, C, scale, C2 := m.f32(a.p(0)), a.i(1), a.i(2), a.i(3), a.f(4), a.i(6)
			for j := 0; j < C+C2; j++ {
				var s float32
				for c := 0; c < chunks; c++ {
					s += part[c*ld+j]
				}
				if j < C {
					m.f32(a.p(5))[j] += scale * s
				} else {
					m.f32(a.p(7))[j-C] += scale * s
				}
			}
		},
		"bias_dropout": func(m *emu, a emuArgs, _ [3]uint32) {
			in, bias, d := m.f32(a.p(0)), m.f32(a.p(1)), a.drop(2)
			rows, C, out, dB := a.l(7), a.i(8), m.f32(a.p(9)), a.i(11)
			for r := 0; r < rows; r++ {
				for j := 0; j < C; j++ {
					v := d.apply(in[r*C+j]+bias[j], uint64(dropRow(r, dB, rows)*C+j))
					out[r*C+j] = v
					if a.nz(10) {
						m.g(a.p(10)).set(r*C+j, v)
					}
				}
			}
		},
		"dropout_to_g": func(m *emu, a emuArgs, _ [3]uint32) {
			in, d := m.f32(a.p(0)), a.drop(1)
			rows, C, out, dB := a.l(6), a.i(7), m.g(a.p(8)), a.i(10)
			for r := 0; r < rows; r++ {
				for j := 0; j < C; j++ {
					v := d.apply(in[r*C+j], uint64(dropRow(r, dB, rows)*C+j))
					out.set(r*C+j, v)
					if a.nz(9) {
						m.f32(a.p(9))[r*C+j] = v
					}
				}
			}
		},
		"bias_gelu": func(m *emu, a emuArgs, _ [3]uint32) {
			u, b, rows, C, h := m.g(a.p(0)), m.f32(a.p(1)), a.l(2), a.i(3), m.g(a.p(4))
			for i := 0; i < rows*C; i++ {
				h.set(i, geluF(u.get(i)+b[i%C]))
			}
		},
		"bias_gelu_f32": func(m *emu, a emuArgs, _ [3]uint32) {
			u, b, rows, C, h := m.f32(a.p(0)), m.f32(a.p(1)), a.l(2), a.i(3), m.f32(a.p(4))
			for i := 0; i < rows*C; i++ {
				h[i] = geluF(u[i] + b[i%C])
			}
		},
		"gelu_bwd_f32": func(m *emu, a emuArgs, _ [3]uint32) {
			dh, u, b, rows, C := m.f32(a.p(0)), m.f32(a.p(1)), m.f32(a.p(2)), a.l(3), a.i(4)
			du, duG := m.f32(a.p(5)), m.g(a.p(6))
			for i := 0; i < rows*C; i++ {
				d := dh[i] * geluGradF(u[i]+b[i%C])
				du[i] = d
				duG.set(i, d)
			}
		},
		"embed_bwd": func(m *emu, a emuArgs, _ [3]uint32) {
			d, ids, tt := m.f32(a.p(0)), m.i32(a.p(1)), m.i32(a.p(2))
			B, S, H := a.i(3), a.i(4), a.i(5)
			dword, dpos, dtyp, seqMajor := m.f32(a.p(6)), m.f32(a.p(7)), m.f32(a.p(8)), a.i(9)
			for s := 0; s < S; s++ {
				for j := 0; j < H; j++ {
					var acc float32
					for b := 0; b < B; b++ {
						row := b*S + s
						if seqMajor != 0 {
							row = s*B + b
						}
						g := d[row*H+j]
						acc += g
						dword[int(ids[row])*H+j] += g
						dtyp[int(tt[row])*H+j] += g
					}
					dpos[s*H+j] += acc
				}
			}
		},
		"gather_rows": func(m *emu, a emuArgs, _ [3]uint32) {
			x, pos := m.g(a.p(0)), m.i32(a.p(1))
			B, S, K, H, out, seqMajor := a.i(2), a.i(3), a.i(4), a.i(5), m.g(a.p(6)), a.i(7)
			for r := 0; r < B*K; r++ {
				b := r / K
				row := b*S + int(pos[r])
				if seqMajor != 0 {
					row = int(pos[r])*B + b
				}
				for j := 0; j < H; j++ {
					out.set(r*H+j, x.get(row*H+j))
				}
			}
		},
		"scatter_add_rows": func(m *emu, a emuArgs, _ [3]uint32) {
			d, pos := m.f32(a.p(0)), m.i32(a.p(1))
			B, S, K, H, dx, seqMajor := a.i(2), a.i(3), a.i(4), a.i(5), m.f32(a.p(6)), a.i(7)
			for r := 0; r < B*K; r++ {
				b := r / K
				row := b*S + int(pos[r])
				if seqMajor != 0 {
					row = int(pos[r])*B + b
				}
				for j := 0; j < H; j++ {
					dx[row*H+j] += d[r*H+j]
				}
			}
		},
		"mlm_xent": func(m *emu, a emuArgs, _ [3]uint32) {
			logits, bias, labels, w := m.f32(a.p(0)), m.f32(a.p(1)), m.i32(a.p(2)), m.f32(a.p(3))
			M, V, gscale, stats := a.i(4), a.i(5), a.f(6), m.f64(a.p(7))
			for r := 0; r < M; r++ {
				z := make([]float64, V)
				mx, arg := math.Inf(-1), 0
				for v := range z {
					z[v] = float64(logits[r*V+v] + bias[v])
					if z[v] > mx {
						mx, arg = z[v], v
					}
				}
				var se float64
				for _, x := range z {
					se += math.Exp(x - mx)
				}
				lbl, wr := int(labels[r]), float64(w[r])
				stats[0] += wr * (math.Log(se) + mx - z[lbl])
				stats[1] += wr
				if arg == lbl {
					stats[2] += wr
				}
				if a.nz(8) {
					dl := m.g(a.p(8))
					for v, x := range z {
						oh := 0.0
						if v == lbl {
							oh = 1
						}
						dl.set(r*V+v, float32(float64(gscale)*wr*(math.Exp(x-mx)/se-oh)))
					}
				}
			}
		},
		"pooler_fwd": func(m *emu, a emuArgs, _ [3]uint32) {
			x, S, H, W, bias, B, pooled := m.f32(a.p(0)), a.i(1), a.i(2), m.f32(a.p(3)), m.f32(a.p(4)), a.i(5), m.f32(a.p(6))
			for b := 0; b < B; b++ {
				for o := 0; o < H; o++ {
					var s float64
					for k := 0; k < H; k++ {
						s += float64(W[o*H+k]) * float64(x[b*S*H+k])
					}
					pooled[b*H+o] = float32(math.Tanh(s + float64(bias[o])))
				}
			}
		},
		"seq_head_fwd": func(m *emu, a emuArgs, _ [3]uint32) {
			pooled, W, bias := m.f32(a.p(0)), m.f32(a.p(1)), m.f32(a.p(2))
			B, H, n, mode, gscale := a.i(3), a.i(4), a.i(5), a.i(8), a.f(9)
			stats, logits := m.f64(a.p(10)), m.f32(a.p(11))
			for b := 0; b < B; b++ {
				z := make([]float64, n)
				for o := range z {
					for k := 0; k < H; k++ {
						z[o] += float64(W[o*H+k]) * float64(pooled[b*H+k])
					}
					z[o] += float64(bias[o])
					logits[b*n+o] = float32(z[o])
				}
				if mode == 1 {
					e := z[0] - float64(m.f32(a.p(7))[b])
					stats[0] += e * e
					if a.nz(12) {
						m.f32(a.p(12))[b] = float32(float64(gscale) * 2 * e)
					}
					continue
				}
				mx, arg := z[0], 0
				for o := 1; o < n; o++ {
					if z[o] > mx {
						mx, arg = z[o], o
					}
				}
				var se float64
				for _, x := range z {
					se += math.Exp(x - mx)
				}
				lbl := int(m.i32(a.p(6))[b])
				stats[0] += math.Log(se) + mx - z[lbl]
				if arg == lbl {
					stats[1]++
				}
				if a.nz(12) {
					for o, x := range z {
						oh := 0.0
						if o == lbl {
							oh = 1
						}
						m.f32(a.p(12))[b*n+o] = float32(float64(gscale) * (math.Exp(x-mx)/se - oh))
					}
				}
			}
		},
		"seq_head_bwd_w": func(m *emu, a emuArgs, _ [3]uint32) {
			dlog, pooled, B, H, n, dW, db := m.f32(a.p(0)), m.f32(a.p(1)), a.i(2), a.i(3), a.i(4), m.f32(a.p(5)), m.f32(a.p(6))
			for o := 0; o < n; o++ {
				var sb float32
				for k := 0; k < H; k++ {
					var s float32
					for b := 0; b < B; b++ {
						s += dlog[b*n+o] * pooled[b*H+k]
					}
					dW[o*H+k] += s
				}
				for b := 0; b < B; b++ {
					sb += dlog[b*n+o]
				}
				db[o] += sb
			}
		},
		"seq_head_bwd_x": func(m *emu, a emuArgs, _ [3]uint32) {
			dlog, W, pooled, B, H, n, dz := m.f32(a.p(0)), m.f32(a.p(1)), m.f32(a.p(2)), a.i(3), a.i(4), a.i(5), m.f32(a.p(6))
			for b := 0; b < B; b++ {
				for k := 0; k < H; k++ {
					var s float32
					for o := 0; o < n; o++ {
						s += dlog[b*n+o] * W[o*H+k]
					}
					p := pooled[b*H+k]
					dz[b*H+k] = s * (1 - p*p)
				}
			}
		},
		"pooler_bwd_w": func(m *emu, a emuArgs, _ [3]uint32) {
			dz, x, S, H, B, dW, db := m.f32(a.p(0)), m.f32(a.p(1)), a.i(2), a.i(3), a.i(4), m.f32(a.p(5)), m.f32(a.p(6))
			for o := 0; o < H; o++ {
				var sb float32
				for k := 0; k < H; k++ {
					var s float32
					for b := 0; b < B; b++ {
						s += dz[b*H+o] * x[b*S*H+k]
					}
					dW[o*H+k] += s
				}
				for b := 0; b < B; b++ {
					sb += dz[b*H+o]
				}
				db[o] += sb
			}
		},
		"pooler_bwd_x": func(m *emu, a emuArgs, _ [3]uint32) {
			dz, W, S, H, B, dx := m.f32(a.p(0)), m.f32(a.p(1)), a.i(2), a.i(3), a.i(4), m.f32(a.p(5))
			for b := 0; b < B; b++ {
				for k := 0; k < H; k++ {
					var s float32
					for o := 0; o < H; o++ {
						s += dz[b*H+o] * W[o*H+k]
					}
					dx[b*S*H+k] += s
				}
			}
		},
		"sumsq_partial": func(m *emu, a emuArgs, grid [3]uint32) {
			g, n, part := m.f32(a.p(0)), a.l(1), m.f32(a.p(2))
			var s float64
			for _, x := range g[:n] {
				s += float64(x) * float64(x)
			}
			clear(part[:grid[0]])
			part[0] = float32(s)
		},
		"adamw": func(m *emu, a emuArgs, _ [3]uint32) {
			p, g, mm, v := m.f32(a.p(0)), m.f32(a.p(1)), m.f32(a.p(2)), m.f32(a.p(3))
			n, b1, b2, eps, decay, stepSize, invSqrtBC2 := a.l(5), a.f(6), a.f(7), a.f(8), a.f(9), a.f(10), a.f(11)
			part, nparts, maxNorm, normOut := m.f32(a.p(12)), a.i(13), a.f(14), m.f32(a.p(15))
			var s float32
			for _, x := range part[:nparts] {
				s += x
			}
			norm := float32(math.Sqrt(float64(s)))
			normOut[0] = norm
			m.d.norm = norm // what Step reads back from a dry run
			if math.IsNaN(float64(norm)) || math.IsInf(float64(norm), 0) {
				clear(g[:n])
				return
			}
			clip := float32(1)
			if maxNorm > 0 && norm > maxNorm {
				clip = maxNorm / norm
			}
			for i := 0; i < n; i++ {
				gi := g[i] * clip
				mi := b1*mm[i] + (1-b1)*gi
				vi := b2*v[i] + (1-b2)*gi*gi
				mm[i], v[i] = mi, vi
				pi := p[i]
				pi -= stepSize*mi/(float32(math.Sqrt(float64(vi)))*invSqrtBC2+eps) + decay*pi
				p[i] = pi
				g[i] = 0
				if a.nz(4) {
					m.g(a.p(4)).set(i, pi)
				}
			}
		},
		"axpy_f32": func(m *emu, a emuArgs, _ [3]uint32) {
			x, al, n, y := m.f32(a.p(0)), a.f(1), a.l(2), m.f32(a.p(3))
			for i := 0; i < n; i++ {
				y[i] += al * x[i]
			}
		},
		"attn_softmax_fwd": func(m *emu, a emuArgs, _ [3]uint32) {
			// scores, key_mask, pair0, npairs, heads, S, scale, seed, step, site, thr, dscale, p, pd
			sc, km := m.f32(a.p(0)), m.i32(a.p(1))
			pair0, npairs, heads, S, scale, d := a.i(2), a.i(3), a.i(4), a.i(5), a.f(6), a.drop(7)
			pd := m.g(a.p(13))
			z := make([]float64, S)
			for row := 0; row < npairs*S; row++ {
				pair, i := pair0+row/S, row%S
				b := pair / heads
				mx := math.Inf(-1)
				for j := range z {
					z[j] = -math.MaxFloat32
					if km[b*S+j] != 0 {
						z[j] = float64(sc[row*S+j] * scale)
					}
					mx = math.Max(mx, z[j])
				}
				var se float64
				for _, x := range z {
					se += math.Exp(x - mx)
				}
				dd := d
				dd.site += uint32(pair)
				for j, x := range z {
					pr := float32(math.Exp(x-mx) / se)
					if a.nz(12) {
						m.f32(a.p(12))[row*S+j] = pr
					}
					pd.set(row*S+j, dd.apply(pr, uint64(i*S+j)))
				}
			}
		},
		"attn_softmax_bwd": func(m *emu, a emuArgs, _ [3]uint32) {
			// p, dpd, key_mask, pair0, npairs, heads, S, scale, seed, step, site, thr, dscale, ds
			p, dpd, km := m.f32(a.p(0)), m.f32(a.p(1)), m.i32(a.p(2))
			pair0, npairs, heads, S, scale, d := a.i(3), a.i(4), a.i(5), a.i(6), a.f(7), a.drop(8)
			ds := m.g(a.p(13))
			for row := 0; row < npairs*S; row++ {
				pair, i := pair0+row/S, row%S
				b := pair / heads
				dd := d
				dd.site += uint32(pair)
				var delta float64
				for j := 0; j < S; j++ {
					delta += float64(p[row*S+j]) * float64(dd.apply(dpd[row*S+j], uint64(i*S+j)))
				}
				for j := 0; j < S; j++ {
					v := 0.0
					if km[b*S+j] != 0 {
						v = float64(scale) * float64(p[row*S+j]) * (float64(dd.apply(dpd[row*S+j], uint64(i*S+j))) - delta)
					}
					ds.set(row*S+j, float32(v))
				}
			}
		},
	} {
		emuKernels[name] = twin
	}
}

// emuEngine is a dry engine whose operations the emulator carries out,
// with the given initial parameters.
func emuEngine(t *testing.T, cfg fnet.Config, heads fnet.Heads, prec Precision, o Options, seed uint64, params map[string][]float32) (*Engine, *emu) {
	t.Helper()
	e, d := dryEngine(t, cfg, heads, prec, o)
	e.seed = seed
	m := newEmu(e, d)
	m.region(e.params, uint64(4*e.nFlat))
	for _, p := range []DevPtr{e.grads, e.m, e.v} {
		m.region(p, uint64(4*e.nTrained))
	}
	if e.shadow != e.params {
		m.region(e.shadow, uint64(2*e.nFlat))
	}
	m.region(e.stats, 8*numStats)
	m.region(e.normParts, 4*normPartials)
	m.region(e.normOut, 4)
	if err := e.SetParams(params); err != nil {
		t.Fatal(err)
	}
	return e, m
}

// The emulator's own contract: a strided-batched GEMM with transposes over
// a float64 product, and the softmax twins on a masked, dropped row.
func TestEmulatorGemm(t *testing.T) {
	e, d := dryEngine(t, smallConfig(0), fnet.MaskedLMHeads, FP32, Options{})
	m := newEmu(e, d)
	const M, N, K, batch = 3, 4, 5, 2
	a, b, c := DevPtr(100<<emuRegionBits), DevPtr(101<<emuRegionBits), DevPtr(102<<emuRegionBits)
	m.region(a, 4*batch*K*M)
	m.region(b, 4*batch*N*K)
	m.region(c, 4*batch*M*N)
	av, bv, cv := m.f32(a), m.f32(b), m.f32(c)
	for i := range av {
		av[i] = float32(i%7) - 3
	}
	for i := range bv {
		bv[i] = float32(i%5) - 2
	}
	for i := range cv {
		cv[i] = 1
	}
	// C_t = 2·A_tᵀ·B_tᵀ + C_t, A_t stored [K, M], B_t stored [N, K]
	if err := e.gemmCall(gemmCall{transA: true, transB: true, m: M, n: N, k: K, alpha: 2, beta: 1, batch: batch, compute: computeF32,
		a: gemmOperand{ptr: a, ld: M, stride: K * M}, b: gemmOperand{ptr: b, ld: K, stride: N * K}, c: gemmOperand{ptr: c, ld: N, stride: M * N}}); err != nil {
		t.Fatal(err)
	}
	for bt := 0; bt < batch; bt++ {
		for i := 0; i < M; i++ {
			for j := 0; j < N; j++ {
				var s float32
				for k := 0; k < K; k++ {
					s += av[bt*K*M+k*M+i] * bv[bt*N*K+j*K+k]
				}
				if got := cv[bt*M*N+i*N+j]; got != 2*s+1 {
					t.Fatalf("C[%d][%d,%d] = %g, want %g", bt, i, j, got, 2*s+1)
				}
			}
		}
	}
}

func emuBuilder(prec Precision, o Options) engineBuilder {
	return func(t *testing.T, cfg fnet.Config, heads fnet.Heads, seed uint64, params map[string][]float32) *Engine {
		e, _ := emuEngine(t, cfg, heads, prec, o, seed, params)
		return e
	}
}

// The engine's whole operation sequence carried out by the emulator against
// the CPU engine, for every architecture, head kind and row layout: losses,
// every gradient, the gradient norm, the AdamW update, the fixed
// parameters untouched, Evaluate and MaskedLMLogits, within the device
// test's bounds (fp32 1e-3: the gradients agree to ~1e-6, but the first
// AdamW update of attention's key bias, whose gradient is rounding noise,
// is that noise divided by ε); bf16 rounds every GEMM-typed buffer as the
// device does.
func TestEmulatedEngineMatchesCPUEngine(t *testing.T) {
	archs := append([]string{"fnet"}, dryArchs...)
	for _, arch := range archs {
		for _, tc := range engineHeadCases {
			for _, v := range []struct {
				prec Precision
				o    Options
				tol  float64
			}{{FP32, Options{}, 1e-3}, {FP32, Options{BatchMajor: true}, 1e-3}, {BF16, Options{}, 2e-2}, {BF16, Options{MixBF16: true}, mixBF16Tol},
				{FP32, Options{AttentionChunkPairs: 2}, 1e-3}, {FP32, Options{BatchMajor: true, AttentionChunkPairs: 4}, 1e-3}} {
				if v.o.AttentionChunkPairs > 0 && !archConfig(arch, 0).HasMixing(fnet.MixAttention) {
					continue
				}
				if testing.Short() && (v.prec != FP32 || v.o.BatchMajor || tc.name == "regression") {
					continue
				}
				t.Run(arch+"/"+tc.name+"/"+variantName(v.prec, v.o), func(t *testing.T) {
					cfg := archConfig(arch, tc.numLabels)
					if arch == "fnet" {
						cfg = smallConfig(tc.numLabels)
					}
					matchCPUEngine(t, cfg, tc.heads, tc.numLabels, v.prec, v.tol, arch != "fnet", emuBuilder(v.prec, v.o))
				})
			}
		}
	}
}

// Every reference fixture (FNet, BERT, linear, random, FF-only and
// hybrids) through the emulated engine: loss, activations, gradients, the
// AdamW update and the loss curve against the PyTorch float64 reference,
// as TestParityWithReferenceFixtures checks the device.
func TestEmulatedParityWithReferenceFixtures(t *testing.T) {
	fx := parityFixtures(t)
	if len(fx) == 0 {
		t.Skip("no parity fixtures found (../shared/ref/fixtures, testdata/parity, FNET_PARITY_DIR)")
	}
	for _, prefix := range fx {
		for _, v := range []struct {
			mode       Precision
			mix, batch bool
		}{{FP32, false, false}, {BF16, false, false}, {BF16, true, false}, {FP32, false, true}} {
			if testing.Short() && v != struct {
				mode       Precision
				mix, batch bool
			}{FP32, false, false} {
				continue
			}
			rep, err := fnet.RunParityOn(prefix+".weights.safetensors", prefix+".expect.safetensors",
				func(cfg fnet.Config, heads fnet.Heads, opt fnet.AdamWConfig, params map[string][]float32) (*fnet.ParityTarget, error) {
					e, _ := emuEngine(t, cfg, heads, v.mode, Options{MixBF16: v.mix, BatchMajor: v.batch}, 0, params)
					e.opt = opt
					return &fnet.ParityTarget{Engine: e, Activations: e.Activations, Gradients: e.Gradients}, nil
				})
			checkParityReport(t, prefix, v.mode, v.mix, v.batch, rep, err)
		}
	}
}
