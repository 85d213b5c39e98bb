// Fused LayerNorm paths (issue 16; cuda.FuseLayerNormForward and
// cuda.FuseLayerNormBackward). Concatenated after fnet.cu, whose helpers
// (warp_sum, drop_apply, drop_row, f2g, LN_MAXK) these use. Each kernel
// computes exactly what its plain version in fnet.cu computes; only the
// memory access pattern changes.

// ---------------------------------------------------------------------------
// ln_bwd_colsum_K: ln_bwd_reg's dx (same arithmetic, same per-row
// summation order) and, in the same pass, the γ/β gradients' column
// partials: block c owns the contiguous rows [c·rpc, min(rows, (c+1)·rpc)),
// each warp takes every 8th row of them, and lane l keeps the partials of
// its columns j = l + 32k (k < K) in registers while dy and x̂ are already
// there. At the end the 8 warps' partials are added in warp order through
// shared memory and the block writes one partial row
//
//	part[c·2H + j] = Σ dy·x̂,   part[c·2H + H + j] = Σ dy
//
// which ln_colsum_final adds into the gradients (blocks × 2H values read,
// instead of colsum_ln_partial's second pass over rows × H of dy and x̂).
// No atomics: the sums' order is fixed by the launch shape, so results are
// bit-reproducible.
//
// K = ceil(H/32) rounded up to 8, 16, 24 or 32 (the host picks the
// smallest that holds H): 4K registers of row state per lane, so H = 768
// does not pay for 1024's registers. Launch: grid (chunks), block 256.
template <int K>
__device__ __forceinline__ void ln_bwd_colsum_body(const float* dy, const float* xhat, const float* rstd,
                                                    const float* gamma, int rows, int H, int rpc, float* dx,
                                                    gemm_t* dx_g, u64 seed, u64 step, u32 site, u32 thr, float dscale,
                                                    int dB, float* part) {
    __shared__ float sa[8][33], sb[8][33];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int r0 = blockIdx.x * rpc, r1 = min(rows, r0 + rpc);
    float pa[K], pb[K];
#pragma unroll
    for (int k = 0; k < K; k++) {
        pa[k] = 0.f;
        pb[k] = 0.f;
    }
    for (int row = r0 + warp; row < r1; row += nw) {
        u64 base = (u64)row * H, dbase = drop_row(row, dB, rows) * H;
        float g[K], xh[K];
        float sg = 0.f, sgx = 0.f;
#pragma unroll
        for (int k = 0; k < K; k++) {
            int j = lane + 32 * k;
            g[k] = 0.f;
            xh[k] = 0.f;
            if (j < H) {
                float d = dy[base + j];
                xh[k] = xhat[base + j];
                g[k] = d * gamma[j];
                sg += g[k];
                sgx += g[k] * xh[k];
                pa[k] += d * xh[k];
                pb[k] += d;
            }
        }
        float mg = warp_sum(sg) / H, mgx = warp_sum(sgx) / H;
        float rs = rstd[row];
#pragma unroll
        for (int k = 0; k < K; k++) {
            int j = lane + 32 * k;
            if (j < H) {
                float d = rs * (g[k] - mg - xh[k] * mgx);
                if (dx) dx[base + j] = d;
                if (dx_g) dx_g[base + j] = f2g(drop_apply(d, seed, step, site, thr, dscale, (u32)(dbase + j)));
            }
        }
    }
    // the warps' partials, added in warp order (blockDim.x = 256: 8 warps)
    float* out = part + (u64)blockIdx.x * 2 * H;
#pragma unroll
    for (int k = 0; k < K; k++) {
        __syncthreads();
        sa[warp][lane] = pa[k];
        sb[warp][lane] = pb[k];
        __syncthreads();
        int j = lane + 32 * k;
        if (warp == 0 && j < H) {
            float a = sa[0][lane], b = sb[0][lane];
            for (int w = 1; w < nw; w++) {
                a += sa[w][lane];
                b += sb[w][lane];
            }
            out[j] = a;
            out[H + j] = b;
        }
    }
}

// One instance per row-state size (the launcher needs plain extern "C" names).
extern "C" __global__ void ln_bwd_colsum_8(const float* dy, const float* xhat, const float* rstd, const float* gamma,
                                         int rows, int H, int rpc, float* dx, gemm_t* dx_g, u64 seed, u64 step,
                                         u32 site, u32 thr, float dscale, int dB, float* part) {
    ln_bwd_colsum_body<8>(dy, xhat, rstd, gamma, rows, H, rpc, dx, dx_g, seed, step, site, thr, dscale, dB, part);
}
extern "C" __global__ void ln_bwd_colsum_16(const float* dy, const float* xhat, const float* rstd, const float* gamma,
                                         int rows, int H, int rpc, float* dx, gemm_t* dx_g, u64 seed, u64 step,
                                         u32 site, u32 thr, float dscale, int dB, float* part) {
    ln_bwd_colsum_body<16>(dy, xhat, rstd, gamma, rows, H, rpc, dx, dx_g, seed, step, site, thr, dscale, dB, part);
}
extern "C" __global__ void ln_bwd_colsum_24(const float* dy, const float* xhat, const float* rstd, const float* gamma,
                                         int rows, int H, int rpc, float* dx, gemm_t* dx_g, u64 seed, u64 step,
                                         u32 site, u32 thr, float dscale, int dB, float* part) {
    ln_bwd_colsum_body<24>(dy, xhat, rstd, gamma, rows, H, rpc, dx, dx_g, seed, step, site, thr, dscale, dB, part);
}
extern "C" __global__ void ln_bwd_colsum_32(const float* dy, const float* xhat, const float* rstd, const float* gamma,
                                         int rows, int H, int rpc, float* dx, gemm_t* dx_g, u64 seed, u64 step,
                                         u32 site, u32 thr, float dscale, int dB, float* part) {
    ln_bwd_colsum_body<32>(dy, xhat, rstd, gamma, rows, H, rpc, dx, dx_g, seed, step, site, thr, dscale, dB, part);
}

// ln_colsum_final: gamma_grad[j] += Σ_c part[c·2H + j], beta_grad[j] +=
// Σ_c part[c·2H + H + j], for ln_bwd_colsum's chunks. Block (32, 16): 32
// columns, 16 lanes over the chunks (lane y adds chunks y, y + 16, …), then
// the 16 lane sums in lane order; grid ((2H + 31) / 32). Unlike
// colsum_final's one thread per column walking every chunk, 16 loads per
// column are in flight at once, so hundreds of chunks stay cheap.
extern "C" __global__ void ln_colsum_final(const float* part, int chunks, int H, float* dgamma, float* dbeta) {
    __shared__ float s[16][33];
    int j = blockIdx.x * 32 + threadIdx.x;
    float a = 0.f;
    if (j < 2 * H)
        for (int c = threadIdx.y; c < chunks; c += 16) a += part[(u64)c * 2 * H + j];
    s[threadIdx.y][threadIdx.x] = a;
    __syncthreads();
    if (threadIdx.y == 0 && j < 2 * H) {
        for (int y = 1; y < 16; y++) a += s[y][threadIdx.x];
        if (j < H)
            dgamma[j] += a;
        else
            dbeta[j - H] += a;
    }
}

// ---------------------------------------------------------------------------
// ln_fwd_vec: ln_fwd_reg with 16-byte accesses, for H % 4 == 0 and
// H ≤ 1024. Lane l owns the four consecutive columns 4(l + 32k) … +3, so
// each load of add, res, bias, γ, β and each store of x̂ and out is one
// ln_vec4 (the GEMM-typed copy: 8 bytes of bf16, or 16 of float), and a warp
// reads 512 contiguous bytes per instruction instead of 128. The same
// values are read and written (18 bytes per element in bf16 mode: res and
// add in, x̂, out and out_g back): the kernel moves the same bytes in fewer,
// wider transactions. The row is normalised as ln_fwd_reg does it, but each
// lane adds its values in a different order, so x̂ can differ from
// ln_fwd_reg's in the last bit. Rows must start 16-byte aligned: H % 4 == 0
// on 256-byte aligned buffers (plan.go). Launch as ln_fwd_reg (one warp per
// row, 8 rows per block).
#define LN_MAXK4 (LN_MAXK / 4)

// 16- and 8-byte vectors of our own (C++ alignas), so the source needs
// neither CUDA's vector_types nor a host stub of them.
struct alignas(16) ln_vec4 {
    float x, y, z, w;
};
struct alignas(8) ln_vec2u {
    u32 x, y;
};

__device__ __forceinline__ void ln_store4_g(gemm_t* p, ln_vec4 y) {
#if GEMM_BF16
    ln_vec2u w;
    w.x = (u32)f_to_bf16(y.x) | ((u32)f_to_bf16(y.y) << 16);
    w.y = (u32)f_to_bf16(y.z) | ((u32)f_to_bf16(y.w) << 16);
    *(ln_vec2u*)p = w;
#else
    *(ln_vec4*)p = y;
#endif
}

extern "C" __global__ void ln_fwd_vec(const float* res, const float* add, const float* bias, u64 seed, u64 step,
                                      u32 site, u32 thr, float dscale, const float* gamma, const float* beta, int rows,
                                      int H, float eps, float* xhat, float* rstd, float* out, gemm_t* out_g,
                                      int dB) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    u64 base = (u64)row * H, dbase = drop_row(row, dB, rows) * H;
    ln_vec4 v[LN_MAXK4];
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < LN_MAXK4; k++) {
        int j = 4 * (lane + 32 * k);
        v[k] = ln_vec4{0.f, 0.f, 0.f, 0.f};
        if (j < H) {
            ln_vec4 a = *(const ln_vec4*)(add + base + j);
            if (bias) {
                ln_vec4 b = *(const ln_vec4*)(bias + j);
                a.x += b.x;
                a.y += b.y;
                a.z += b.z;
                a.w += b.w;
            }
            a.x = drop_apply(a.x, seed, step, site, thr, dscale, (u32)(dbase + j));
            a.y = drop_apply(a.y, seed, step, site, thr, dscale, (u32)(dbase + j + 1));
            a.z = drop_apply(a.z, seed, step, site, thr, dscale, (u32)(dbase + j + 2));
            a.w = drop_apply(a.w, seed, step, site, thr, dscale, (u32)(dbase + j + 3));
            if (res) {
                ln_vec4 r = *(const ln_vec4*)(res + base + j);
                a.x = r.x + a.x;
                a.y = r.y + a.y;
                a.z = r.z + a.z;
                a.w = r.w + a.w;
            }
            v[k] = a;
            sum += (a.x + a.y) + (a.z + a.w);
        }
    }
    float mean = warp_sum(sum) / H;
    float sq = 0.f;
#pragma unroll
    for (int k = 0; k < LN_MAXK4; k++) {
        if (4 * (lane + 32 * k) < H) {
            float dx = v[k].x - mean, dy = v[k].y - mean, dz = v[k].z - mean, dw = v[k].w - mean;
            sq += (dx * dx + dy * dy) + (dz * dz + dw * dw);
        }
    }
    float rs = 1.f / sqrtf(warp_sum(sq) / H + eps);
#pragma unroll
    for (int k = 0; k < LN_MAXK4; k++) {
        int j = 4 * (lane + 32 * k);
        if (j < H) {
            ln_vec4 n = {(v[k].x - mean) * rs, (v[k].y - mean) * rs, (v[k].z - mean) * rs, (v[k].w - mean) * rs};
            *(ln_vec4*)(xhat + base + j) = n;
            ln_vec4 ga = *(const ln_vec4*)(gamma + j), be = *(const ln_vec4*)(beta + j);
            ln_vec4 y = {n.x * ga.x + be.x, n.y * ga.y + be.y, n.z * ga.z + be.z, n.w * ga.w + be.w};
            if (out) *(ln_vec4*)(out + base + j) = y;
            if (out_g) ln_store4_g(out_g + base + j, y);
        }
    }
    if (lane == 0) rstd[row] = rs;
}
