// FNet training kernels for fnet-tui's CUDA engine, compiled at run time by
// NVRTC. The Go side prepends "#define GEMM_BF16 0|1": gemm_t is the storage
// type of every tensor that feeds a cuBLAS GEMM (bf16 in bf16 mode, float in
// tf32/fp32 mode); everything else (residual stream, LayerNorm statistics,
// parameters, gradients, optimizer state) is float32.
//
// No headers: NVRTC runs without a CUDA toolkit, so bf16 is handled as raw
// 16-bit words (cuBLAS reads the same bits).
//
// Conventions: row-major tensors; "rows" are tokens (B*S) unless named
// otherwise; one warp per row for row-wise reductions; elementwise kernels
// use grid-stride loops. Gradient kernels add into their outputs.

typedef unsigned short bf16_t;
typedef unsigned long long u64;
typedef unsigned int u32;

__device__ __forceinline__ float bf16_to_f(bf16_t h) { return __uint_as_float(((u32)h) << 16); }

// Round to nearest even, NaN kept NaN.
__device__ __forceinline__ bf16_t f_to_bf16(float f) {
    u32 u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16_t)(u >> 16);
}

#if GEMM_BF16
typedef bf16_t gemm_t;
__device__ __forceinline__ float g2f(gemm_t v) { return bf16_to_f(v); }
__device__ __forceinline__ gemm_t f2g(float v) { return f_to_bf16(v); }
#else
typedef float gemm_t;
__device__ __forceinline__ float g2f(gemm_t v) { return v; }
__device__ __forceinline__ gemm_t f2g(float v) { return v; }
#endif

#define FULL_MASK 0xffffffffu
#define GELU_C 0.7978845608028654f
#define GELU_A 0.044715f

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}

// Block-wide sum for blockDim.x a multiple of 32 (<= 1024); every thread
// gets the result. scratch holds 32 floats.
__device__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nw ? scratch[lane] : 0.f;
    v = warp_sum(v);
    return v;
}

// fnet.DropoutKeep's hash: SplitMix64's finaliser over the packed counter.
__device__ __forceinline__ u64 dropout_hash(u64 seed, u64 step, u32 site, u32 i) {
    u64 x = seed ^ (step * 0x9E3779B97F4A7C15ull) ^ (((((u64)site) << 32) | (u64)i) * 0xD1B54A32D192ED03ull);
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

// v·scale if element i survives, else 0; thr == 0 means no dropout.
__device__ __forceinline__ float drop_apply(float v, u64 seed, u64 step, u32 site, u32 thr, float scale, u32 i) {
    if (thr == 0) return v;
    return ((u32)(dropout_hash(seed, step, site, i) >> 40) >= thr) ? v * scale : 0.f;
}

// Token rows are batch-major (row = b·S + s) or, when dB > 0, seq-major
// (row = s·dB + b, which makes the sequence-axis DFT one plain GEMM). The
// dropout masks are defined over the batch-major [B·S, H] tensor, so
// seq-major rows map back before hashing.
__device__ __forceinline__ u64 drop_row(u64 r, int dB, int rows) {
    if (dB <= 0) return r;
    u64 S = (u64)(rows / dB);
    return (r % (u64)dB) * S + r / (u64)dB;
}

__device__ __forceinline__ float gelu_f(float x) {
    float t = tanhf(GELU_C * (x + GELU_A * x * x * x));
    return 0.5f * x * (1.f + t);
}

__device__ __forceinline__ float gelu_grad(float x) {
    float t = tanhf(GELU_C * (x + GELU_A * x * x * x));
    return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * GELU_C * (1.f + 3.f * GELU_A * x * x);
}

// The feed-forward GELU: in bf16 mode its input and output are bf16 (8
// significant bits), so the hardware tanh (MUFU.TANH, ~2^-11 relative
// error) loses nothing and halves the kernels' arithmetic; in tf32/fp32
// mode it is the accurate tanhf.
__device__ __forceinline__ float tanh_ffn(float x) {
#if GEMM_BF16
    float y;
    asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
#else
    return tanhf(x);
#endif
}

__device__ __forceinline__ float gelu_ffn(float x) {
    float t = tanh_ffn(GELU_C * (x + GELU_A * x * x * x));
    return 0.5f * x * (1.f + t);
}

__device__ __forceinline__ float gelu_grad_ffn(float x) {
    float t = tanh_ffn(GELU_C * (x + GELU_A * x * x * x));
    return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * GELU_C * (1.f + 3.f * GELU_A * x * x);
}

// ---------------------------------------------------------------------------
// dropout_mask writes 1 for kept and 0 for dropped elements: only for
// checking the device hash against the CPU's.
extern "C" __global__ void dropout_mask(u64 seed, u64 step, u32 site, u32 thr, long long n, float* out) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = drop_apply(1.f, seed, step, site, thr, 1.f, (u32)i);
}

// f32_to_g converts n floats to the GEMM storage type.
extern "C" __global__ void f32_to_g(const float* src, long long n, gemm_t* dst) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        dst[i] = f2g(src[i]);
}

// g_to_f32 converts back (for reading GEMM-typed buffers in checks).
extern "C" __global__ void g_to_f32(const gemm_t* src, long long n, float* dst) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        dst[i] = g2f(src[i]);
}

// ---------------------------------------------------------------------------
// Embeddings: x = word[id] + pos[s] + type[tt]; LayerNorm. Saves x̂ and
// 1/σ for the backward pass and writes the normalised row for the
// projection GEMM.
extern "C" __global__ void embed_ln_fwd(const int* ids, const int* tt, const float* word, const float* pos,
                                        const float* typ, const float* gamma, const float* beta, int rows, int S,
                                        int H, float eps, float* xhat, float* rstd, gemm_t* out_g, int dB) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    const float* w = word + (u64)ids[row] * H;
    const float* p = pos + (u64)(dB > 0 ? row / dB : row % S) * H;
    const float* t = typ + (u64)tt[row] * H;
    float* xh = xhat + (u64)row * H;
    float sum = 0.f;
    for (int j = lane; j < H; j += 32) {
        float v = w[j] + p[j] + t[j];
        xh[j] = v;
        sum += v;
    }
    float mean = warp_sum(sum) / H;
    float sq = 0.f;
    for (int j = lane; j < H; j += 32) {
        float d = xh[j] - mean;
        sq += d * d;
    }
    float rs = 1.f / sqrtf(warp_sum(sq) / H + eps);
    for (int j = lane; j < H; j += 32) {
        float n = (xh[j] - mean) * rs;
        xh[j] = n;
        out_g[(u64)row * H + j] = f2g(n * gamma[j] + beta[j]);
    }
    if (lane == 0) rstd[row] = rs;
}

// embed_ln_drop_fwd is embed_ln_fwd for a model without the embedding
// projection (BERT): the LayerNorm's output, with the embeddings' dropout
// (fnet.DropoutSiteEmbeddings, indices over the batch-major [B·S, H]),
// is the first layer's input, in float32 (out) and the GEMM type (out_g,
// optional; may not alias out).
extern "C" __global__ void embed_ln_drop_fwd(const int* ids, const int* tt, const float* word, const float* pos,
                                             const float* typ, const float* gamma, const float* beta, int rows, int S,
                                             int H, float eps, u64 seed, u64 step, u32 site, u32 thr, float dscale,
                                             float* xhat, float* rstd, float* out, gemm_t* out_g, int dB) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    const float* w = word + (u64)ids[row] * H;
    const float* p = pos + (u64)(dB > 0 ? row / dB : row % S) * H;
    const float* t = typ + (u64)tt[row] * H;
    u64 base = (u64)row * H, dbase = drop_row(row, dB, rows) * H;
    float* xh = xhat + base;
    float sum = 0.f;
    for (int j = lane; j < H; j += 32) {
        float v = w[j] + p[j] + t[j];
        xh[j] = v;
        sum += v;
    }
    float mean = warp_sum(sum) / H;
    float sq = 0.f;
    for (int j = lane; j < H; j += 32) {
        float d = xh[j] - mean;
        sq += d * d;
    }
    float rs = 1.f / sqrtf(warp_sum(sq) / H + eps);
    for (int j = lane; j < H; j += 32) {
        float n = (xh[j] - mean) * rs;
        xh[j] = n;
        float y = drop_apply(n * gamma[j] + beta[j], seed, step, site, thr, dscale, (u32)(dbase + j));
        out[base + j] = y;
        if (out_g) out_g[base + j] = f2g(y);
    }
    if (lane == 0) rstd[row] = rs;
}

// ln_fwd: y = LayerNorm(res + dropout(add + bias)) row by row (res, bias
// optional; thr == 0: no dropout). Writes x̂, 1/σ, y in float32 (out,
// optional) and in the GEMM type (out_g, optional; may not alias out).
extern "C" __global__ void ln_fwd(const float* res, const float* add, const float* bias, u64 seed, u64 step, u32 site,
                                  u32 thr, float dscale, const float* gamma, const float* beta, int rows, int H,
                                  float eps, float* xhat, float* rstd, float* out, gemm_t* out_g, int dB) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    u64 base = (u64)row * H, dbase = drop_row(row, dB, rows) * H;
    float* xh = xhat + base;
    float sum = 0.f;
    for (int j = lane; j < H; j += 32) {
        float a = add[base + j];
        if (bias) a += bias[j];
        a = drop_apply(a, seed, step, site, thr, dscale, (u32)(dbase + j));
        float v = res ? res[base + j] + a : a;
        xh[j] = v;
        sum += v;
    }
    float mean = warp_sum(sum) / H;
    float sq = 0.f;
    for (int j = lane; j < H; j += 32) {
        float d = xh[j] - mean;
        sq += d * d;
    }
    float rs = 1.f / sqrtf(warp_sum(sq) / H + eps);
    for (int j = lane; j < H; j += 32) {
        float n = (xh[j] - mean) * rs;
        xh[j] = n;
        float y = n * gamma[j] + beta[j];
        if (out) out[base + j] = y;
        if (out_g) out_g[base + j] = f2g(y);
    }
    if (lane == 0) rstd[row] = rs;
}

// ln_bwd: dx = (1/σ)(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ. Writes dx in
// float32 (optional) and, optionally, dropout(dx) in the GEMM type (dx_g;
// thr == 0: no dropout). The parameter gradients come from colsum_ln.
extern "C" __global__ void ln_bwd(const float* dy, const float* xhat, const float* rstd, const float* gamma, int rows,
                                  int H, float* dx, gemm_t* dx_g, u64 seed, u64 step, u32 site, u32 thr,
                                  float dscale, int dB) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    u64 base = (u64)row * H, dbase = drop_row(row, dB, rows) * H;
    float sg = 0.f, sgx = 0.f;
    for (int j = lane; j < H; j += 32) {
        float g = dy[base + j] * gamma[j];
        sg += g;
        sgx += g * xhat[base + j];
    }
    float mg = warp_sum(sg) / H, mgx = warp_sum(sgx) / H;
    float rs = rstd[row];
    for (int j = lane; j < H; j += 32) {
        float xh = xhat[base + j];
        float d = rs * (dy[base + j] * gamma[j] - mg - xh * mgx);
        if (dx) dx[base + j] = d;
        if (dx_g) dx_g[base + j] = f2g(drop_apply(d, seed, step, site, thr, dscale, (u32)(dbase + j)));
    }
}

// Register-resident variants for H <= 32·LN_MAXK: each lane keeps its
// row slice in registers (the loops are unrolled, so the array indices are
// compile-time constants), so every input is read once and all loads of a
// row are in flight together. Same arithmetic, same summation order.
#define LN_MAXK 32

extern "C" __global__ void ln_fwd_reg(const float* res, const float* add, const float* bias, u64 seed, u64 step,
                                      u32 site, u32 thr, float dscale, const float* gamma, const float* beta, int rows,
                                      int H, float eps, float* xhat, float* rstd, float* out, gemm_t* out_g,
                                      int dB) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    u64 base = (u64)row * H, dbase = drop_row(row, dB, rows) * H;
    float v[LN_MAXK];
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < LN_MAXK; k++) {
        int j = lane + 32 * k;
        v[k] = 0.f;
        if (j < H) {
            float a = add[base + j];
            if (bias) a += bias[j];
            a = drop_apply(a, seed, step, site, thr, dscale, (u32)(dbase + j));
            v[k] = res ? res[base + j] + a : a;
            sum += v[k];
        }
    }
    float mean = warp_sum(sum) / H;
    float sq = 0.f;
#pragma unroll
    for (int k = 0; k < LN_MAXK; k++) {
        if (lane + 32 * k < H) {
            float d = v[k] - mean;
            sq += d * d;
        }
    }
    float rs = 1.f / sqrtf(warp_sum(sq) / H + eps);
#pragma unroll
    for (int k = 0; k < LN_MAXK; k++) {
        int j = lane + 32 * k;
        if (j < H) {
            float n = (v[k] - mean) * rs;
            xhat[base + j] = n;
            float y = n * gamma[j] + beta[j];
            if (out) out[base + j] = y;
            if (out_g) out_g[base + j] = f2g(y);
        }
    }
    if (lane == 0) rstd[row] = rs;
}

extern "C" __global__ void ln_bwd_reg(const float* dy, const float* xhat, const float* rstd, const float* gamma,
                                      int rows, int H, float* dx, gemm_t* dx_g, u64 seed, u64 step, u32 site, u32 thr,
                                      float dscale, int dB) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    u64 base = (u64)row * H, dbase = drop_row(row, dB, rows) * H;
    float g[LN_MAXK], xh[LN_MAXK];
    float sg = 0.f, sgx = 0.f;
#pragma unroll
    for (int k = 0; k < LN_MAXK; k++) {
        int j = lane + 32 * k;
        g[k] = 0.f;
        xh[k] = 0.f;
        if (j < H) {
            g[k] = dy[base + j] * gamma[j];
            xh[k] = xhat[base + j];
            sg += g[k];
            sgx += g[k] * xh[k];
        }
    }
    float mg = warp_sum(sg) / H, mgx = warp_sum(sgx) / H;
    float rs = rstd[row];
#pragma unroll
    for (int k = 0; k < LN_MAXK; k++) {
        int j = lane + 32 * k;
        if (j < H) {
            float d = rs * (g[k] - mg - xh[k] * mgx);
            if (dx) dx[base + j] = d;
            if (dx_g) dx_g[base + j] = f2g(drop_apply(d, seed, step, site, thr, dscale, (u32)(dbase + j)));
        }
    }
}

// ---------------------------------------------------------------------------
// Column sums in two deterministic stages: blocks of 32 columns × 8 row
// lanes write per-chunk partial sums; colsum_final adds scale × the sum of
// the partials into the gradient.

// colsum_ln_partial: part[c, j] = Σ dy·x̂ and part[c, H + j] = Σ dy over the
// rows of chunk c (the LayerNorm γ and β gradients).
extern "C" __global__ void colsum_ln_partial(const float* dy, const float* xhat, int rows, int H, int rpc, float* part) {
    __shared__ float sa[8][33], sb[8][33];
    int j = blockIdx.x * 32 + threadIdx.x;
    int c = blockIdx.y;
    int r0 = c * rpc, r1 = min(rows, r0 + rpc);
    float a = 0.f, b = 0.f;
    if (j < H) {
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            float g = dy[(u64)r * H + j];
            a += g * xhat[(u64)r * H + j];
            b += g;
        }
    }
    sa[threadIdx.y][threadIdx.x] = a;
    sb[threadIdx.y][threadIdx.x] = b;
    __syncthreads();
    if (threadIdx.y == 0 && j < H) {
        for (int k = 1; k < 8; k++) {
            a += sa[k][threadIdx.x];
            b += sb[k][threadIdx.x];
        }
        part[(u64)c * 2 * H + j] = a;
        part[(u64)c * 2 * H + H + j] = b;
    }
}

// colsum_f32_partial: part[c, j] = Σ dropout(src) over chunk c's rows.
extern "C" __global__ void colsum_f32_partial(const float* src, u64 seed, u64 step, u32 site, u32 thr, float dscale,
                                              int rows, int C, int rpc, float* part, int dB) {
    __shared__ float sa[8][33];
    int j = blockIdx.x * 32 + threadIdx.x;
    int c = blockIdx.y;
    int r0 = c * rpc, r1 = min(rows, r0 + rpc);
    float a = 0.f;
    if (j < C) {
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            u64 i = (u64)r * C + j;
            a += drop_apply(src[i], seed, step, site, thr, dscale, (u32)(drop_row(r, dB, rows) * C + j));
        }
    }
    sa[threadIdx.y][threadIdx.x] = a;
    __syncthreads();
    if (threadIdx.y == 0 && j < C) {
        for (int k = 1; k < 8; k++) a += sa[k][threadIdx.x];
        part[(u64)c * C + j] = a;
    }
}

// colsum_g_partial: the same for a GEMM-typed source, no dropout.
extern "C" __global__ void colsum_g_partial(const gemm_t* src, int rows, int C, int rpc, float* part) {
    __shared__ float sa[8][33];
    int j = blockIdx.x * 32 + threadIdx.x;
    int c = blockIdx.y;
    int r0 = c * rpc, r1 = min(rows, r0 + rpc);
    float a = 0.f;
    if (j < C) {
        for (int r = r0 + threadIdx.y; r < r1; r += 8) a += g2f(src[(u64)r * C + j]);
    }
    sa[threadIdx.y][threadIdx.x] = a;
    __syncthreads();
    if (threadIdx.y == 0 && j < C) {
        for (int k = 1; k < 8; k++) a += sa[k][threadIdx.x];
        part[(u64)c * C + j] = a;
    }
}

// gelu_bwd_colsum: du = dh·gelu'(u + b) (written in the GEMM type) and,
// in the same pass, the per-chunk column sums of du in float32 (the bias
// gradient, before du is rounded). Launched like the colsum partials.
extern "C" __global__ void gelu_bwd_colsum(const gemm_t* dh, const gemm_t* u, const float* b, int rows, int C, int rpc,
                                           gemm_t* du, float* part) {
    __shared__ float sa[8][33];
    int j = blockIdx.x * 32 + threadIdx.x;
    int c = blockIdx.y;
    int r0 = c * rpc, r1 = min(rows, r0 + rpc);
    float a = 0.f;
    if (j < C) {
        float bj = b[j];
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            u64 i = (u64)r * C + j;
            float d = g2f(dh[i]) * gelu_grad_ffn(g2f(u[i]) + bj);
            du[i] = f2g(d);
            a += d;
        }
    }
    sa[threadIdx.y][threadIdx.x] = a;
    __syncthreads();
    if (threadIdx.y == 0 && j < C) {
        for (int k = 1; k < 8; k++) a += sa[k][threadIdx.x];
        part[(u64)c * C + j] = a;
    }
}

// colsum_final: out[j] += scale · Σ_c part[c·ld + j] for j < C; columns
// C ≤ j < C + C2 go to out2[j − C] (the LayerNorm β after γ).
extern "C" __global__ void colsum_final(const float* part, int chunks, int ld, int C, float scale, float* out, int C2,
                                        float* out2) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= C + C2) return;
    float s = 0.f;
    for (int c = 0; c < chunks; c++) s += part[(u64)c * ld + j];
    if (j < C)
        out[j] += scale * s;
    else
        out2[j - C] += scale * s;
}

// ---------------------------------------------------------------------------
// Elementwise over [rows, C] with a per-column operand: a 2-D grid (x over
// columns, y striding over rows) gives each thread its column without a
// 64-bit division per element. ROWCOL_BEGIN defines i (flat index) and j (column).
#define ROWCOL_BEGIN                                                      \
    long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x;      \
    if (j >= C) return;                                                  \
    for (long long r = blockIdx.y; r < rows; r += gridDim.y) {           \
        long long i = r * C + j;
#define ROWCOL_END }

// bias_dropout: out = dropout(in + bias) for [rows, C], in float32 and the
// GEMM type (out_g optional).
extern "C" __global__ void bias_dropout(const float* in, const float* bias, u64 seed, u64 step, u32 site, u32 thr,
                                        float dscale, long long rows, int C, float* out, gemm_t* out_g, int dB) {
    ROWCOL_BEGIN
    float v = drop_apply(in[i] + bias[j], seed, step, site, thr, dscale, (u32)(drop_row(r, dB, (int)rows) * C + j));
    out[i] = v;
    if (out_g) out_g[i] = f2g(v);
    ROWCOL_END
}

// dropout_to_g: out = dropout(in) in the GEMM type (the backward of
// bias_dropout), and in float32 when out_f is set.
extern "C" __global__ void dropout_to_g(const float* in, u64 seed, u64 step, u32 site, u32 thr, float dscale,
                                        long long rows, int C, gemm_t* out, float* out_f, int dB) {
    ROWCOL_BEGIN
    float v = drop_apply(in[i], seed, step, site, thr, dscale, (u32)(drop_row(r, dB, (int)rows) * C + j));
    out[i] = f2g(v);
    if (out_f) out_f[i] = v;
    ROWCOL_END
}

// bias_gelu: h = gelu(u + b) for the feed-forward [rows, C] (u is the GEMM
// output, kept for the backward pass).
extern "C" __global__ void bias_gelu(const gemm_t* u, const float* b, long long rows, int C, gemm_t* h) {
    ROWCOL_BEGIN
    h[i] = f2g(gelu_ffn(g2f(u[i]) + b[j]));
    ROWCOL_END
}

// gelu_bwd: du = dh · gelu'(u + b).
extern "C" __global__ void gelu_bwd(const gemm_t* dh, const gemm_t* u, const float* b, long long rows, int C,
                                    gemm_t* du) {
    ROWCOL_BEGIN
    du[i] = f2g(g2f(dh[i]) * gelu_grad_ffn(g2f(u[i]) + b[j]));
    ROWCOL_END
}

// The masked-LM head's small [M, H] tensors stay in float32.
extern "C" __global__ void bias_gelu_f32(const float* u, const float* b, long long rows, int C, float* h) {
    ROWCOL_BEGIN
    h[i] = gelu_f(u[i] + b[j]);
    ROWCOL_END
}

extern "C" __global__ void gelu_bwd_f32(const float* dh, const float* u, const float* b, long long rows, int C,
                                        float* du, gemm_t* du_g) {
    ROWCOL_BEGIN
    float d = dh[i] * gelu_grad(u[i] + b[j]);
    du[i] = d;
    du_g[i] = f2g(d);
    ROWCOL_END
}

// ---------------------------------------------------------------------------
// Embedding backward: one block per position s; threads over columns. The
// position gradient is owned by its block; word and type rows can repeat
// across the batch, so they are added atomically.
extern "C" __global__ void embed_bwd(const float* d, const int* ids, const int* tt, int B, int S, int H, float* dword,
                                     float* dpos, float* dtyp, int seqMajor) {
    int s = blockIdx.x;
    for (int j = threadIdx.x; j < H; j += blockDim.x) {
        float acc = 0.f;
        for (int b = 0; b < B; b++) {
            int row = seqMajor ? s * B + b : b * S + s;
            float g = d[(u64)row * H + j];
            acc += g;
            atomicAdd(&dword[(u64)ids[row] * H + j], g);
            atomicAdd(&dtyp[(u64)tt[row] * H + j], g);
        }
        dpos[(u64)s * H + j] += acc;
    }
}

// gather_rows: out[b·K + k] = x[b, pos[b·K + k]] (the masked positions).
extern "C" __global__ void gather_rows(const gemm_t* x, const int* pos, int B, int S, int K, int H, gemm_t* out,
                                       int seqMajor) {
    long long n = (long long)B * K * H;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        long long r = i / H;
        int j = (int)(i - r * H);
        int b = (int)(r / K);
        u64 row = seqMajor ? (u64)pos[r] * B + b : (u64)b * S + pos[r];
        out[i] = x[row * H + j];
    }
}

// scatter_add_rows is gather_rows' adjoint (slots may share a position).
extern "C" __global__ void scatter_add_rows(const float* d, const int* pos, int B, int S, int K, int H, float* dx,
                                            int seqMajor) {
    long long n = (long long)B * K * H;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        long long r = i / H;
        int j = (int)(i - r * H);
        int b = (int)(r / K);
        u64 row = seqMajor ? (u64)pos[r] * B + b : (u64)b * S + pos[r];
        atomicAdd(&dx[row * H + j], d[i]);
    }
}

// ---------------------------------------------------------------------------
// Masked-LM cross-entropy, one block per masked slot: logits + bias,
// log-sum-exp, CE, argmax; adds w·CE, w, w·[argmax == label] into stats[0..2]
// and, when dlogits is set, writes gscale·w·(softmax − onehot).
extern "C" __global__ void mlm_xent(const float* logits, const float* bias, const int* labels, const float* w, int M,
                                    int V, float gscale, double* stats, gemm_t* dlogits) {
    __shared__ float scratch[32];
    __shared__ float smax[32];
    __shared__ int sarg[32];
    int r = blockIdx.x;
    if (r >= M) return;
    const float* x = logits + (u64)r * V;
    float mx = -3.402823466e38f;
    int arg = 0x7fffffff;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float z = x[v] + bias[v];
        if (z > mx) { mx = z; arg = v; }
    }
    // (max, first index) across the block
    for (int o = 16; o > 0; o >>= 1) {
        float om = __shfl_xor_sync(FULL_MASK, mx, o);
        int oa = __shfl_xor_sync(FULL_MASK, arg, o);
        if (om > mx || (om == mx && oa < arg)) { mx = om; arg = oa; }
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) { smax[warp] = mx; sarg[warp] = arg; }
    __syncthreads();
    if (warp == 0) {
        mx = lane < nw ? smax[lane] : -3.402823466e38f;
        arg = lane < nw ? sarg[lane] : 0x7fffffff;
        for (int o = 16; o > 0; o >>= 1) {
            float om = __shfl_xor_sync(FULL_MASK, mx, o);
            int oa = __shfl_xor_sync(FULL_MASK, arg, o);
            if (om > mx || (om == mx && oa < arg)) { mx = om; arg = oa; }
        }
        if (lane == 0) { smax[0] = mx; sarg[0] = arg; }
    }
    __syncthreads();
    mx = smax[0];
    arg = sarg[0];
    float se = 0.f;
    for (int v = threadIdx.x; v < V; v += blockDim.x) se += expf(x[v] + bias[v] - mx);
    se = block_sum(se, scratch);
    int label = labels[r];
    float wr = w[r];
    if (threadIdx.x == 0) {
        double ce = log((double)se) + (double)mx - (double)(x[label] + bias[label]);
        atomicAdd(&stats[0], (double)wr * ce);
        atomicAdd(&stats[1], (double)wr);
        if (arg == label) atomicAdd(&stats[2], (double)wr);
    }
    if (dlogits) {
        float k = gscale * wr, inv = 1.f / se;
        gemm_t* dl = dlogits + (u64)r * V;
        for (int v = threadIdx.x; v < V; v += blockDim.x) {
            float p = expf(x[v] + bias[v] - mx) * inv;
            dl[v] = f2g(k * (p - (v == label ? 1.f : 0.f)));
        }
    }
}

// ---------------------------------------------------------------------------
// Pooler and sequence heads (NSP, GLUE classifier): tiny, in float32.

// pooler_fwd: pooled[b, o] = tanh(b[o] + W[o]·x[b, 0]); one warp per (b, o).
// In the pooler kernels S is the row stride between the sequences' [CLS]
// rows: S for batch-major rows, 1 for seq-major (they are the first B rows).
extern "C" __global__ void pooler_fwd(const float* x, int S, int H, const float* W, const float* bias, int B,
                                      float* pooled) {
    int wid = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (wid >= B * H) return;
    int b = wid / H, o = wid % H;
    const float* xr = x + (u64)b * S * H;
    const float* wr = W + (u64)o * H;
    float s = 0.f;
    for (int k = lane; k < H; k += 32) s += wr[k] * xr[k];
    s = warp_sum(s);
    if (lane == 0) pooled[(u64)b * H + o] = tanhf(s + bias[o]);
}

// seq_head_fwd: logits = pooled·Wᵀ + bias (n outputs, n <= 16), one warp per
// sequence. mode 0: softmax CE against labels; mode 1: squared error
// against targets (n == 1). Adds loss and correct into stats[0], stats[1];
// writes logits and, when dlog is set, gscale·dloss/dlogits (for MSE
// gscale·2·(logit − target)).
extern "C" __global__ void seq_head_fwd(const float* pooled, const float* W, const float* bias, int B, int H, int n,
                                        const int* labels, const float* targets, int mode, float gscale,
                                        double* stats, float* logits, float* dlog) {
    int b = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (b >= B) return;
    float z[16];
#pragma unroll
    for (int o = 0; o < 16; o++) {
        z[o] = 0.f;
        if (o < n) {
            float s = 0.f;
            for (int k = lane; k < H; k += 32) s += W[(u64)o * H + k] * pooled[(u64)b * H + k];
            z[o] = warp_sum(s) + bias[o];
        }
    }
    if (lane != 0) return;
#pragma unroll
    for (int o = 0; o < 16; o++)
        if (o < n) logits[(u64)b * n + o] = z[o];
    if (mode == 1) {
        float e = z[0] - targets[b];
        atomicAdd(&stats[0], (double)e * (double)e);
        if (dlog) dlog[b] = gscale * 2.f * e;
        return;
    }
    float mx = z[0];
    int arg = 0;
#pragma unroll
    for (int o = 1; o < 16; o++)
        if (o < n && z[o] > mx) { mx = z[o]; arg = o; }
    float se = 0.f;
#pragma unroll
    for (int o = 0; o < 16; o++)
        if (o < n) se += expf(z[o] - mx);
    int label = labels[b];
    float zl = 0.f;
#pragma unroll
    for (int o = 0; o < 16; o++)
        if (o == label) zl = z[o];
    atomicAdd(&stats[0], log((double)se) + (double)mx - (double)zl);
    if (arg == label) atomicAdd(&stats[1], 1.0);
    if (dlog) {
#pragma unroll
        for (int o = 0; o < 16; o++)
            if (o < n) dlog[(u64)b * n + o] = gscale * (expf(z[o] - mx) / se - (o == label ? 1.f : 0.f));
    }
}

// seq_head_bwd_w: dW[o, k] += Σ_b dlog[b, o]·pooled[b, k]; db[o] += Σ_b dlog[b, o].
extern "C" __global__ void seq_head_bwd_w(const float* dlog, const float* pooled, int B, int H, int n, float* dW,
                                          float* db) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * H) return;
    int o = i / H, k = i % H;
    float s = 0.f, sb = 0.f;
    for (int b = 0; b < B; b++) {
        float d = dlog[(u64)b * n + o];
        s += d * pooled[(u64)b * H + k];
        sb += d;
    }
    dW[i] += s;
    if (k == 0) db[o] += sb;
}

// seq_head_bwd_x: dz[b, k] = (1 − pooled²)·Σ_o dlog[b, o]·W[o, k] (through the pooler's tanh).
extern "C" __global__ void seq_head_bwd_x(const float* dlog, const float* W, const float* pooled, int B, int H, int n,
                                          float* dz) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * H) return;
    int b = i / H, k = i % H;
    float s = 0.f;
    for (int o = 0; o < n; o++) s += dlog[(u64)b * n + o] * W[(u64)o * H + k];
    float p = pooled[i];
    dz[i] = s * (1.f - p * p);
}

// pooler_bwd_w: dW[o, k] += Σ_b dz[b, o]·x[b, 0, k]; db[o] += Σ_b dz[b, o].
extern "C" __global__ void pooler_bwd_w(const float* dz, const float* x, int S, int H, int B, float* dW, float* db) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= H * H) return;
    int o = i / H, k = i % H;
    float s = 0.f, sb = 0.f;
    for (int b = 0; b < B; b++) {
        float d = dz[(u64)b * H + o];
        s += d * x[(u64)b * S * H + k];
        sb += d;
    }
    dW[i] += s;
    if (k == 0) db[o] += sb;
}

// pooler_bwd_x: dx[b, 0, k] += Σ_o dz[b, o]·W[o, k].
extern "C" __global__ void pooler_bwd_x(const float* dz, const float* W, int S, int H, int B, float* dx) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * H) return;
    int b = i / H, k = i % H;
    float s = 0.f;
    for (int o = 0; o < H; o++) s += dz[(u64)b * H + o] * W[(u64)o * H + k];
    dx[(u64)b * S * H + k] += s;
}

// ---------------------------------------------------------------------------
// Optimizer: the global gradient norm in two deterministic stages, then
// AdamW with the clip factor folded in, which also zeroes the gradients and
// refreshes the GEMM-typed copy of the weights.

extern "C" __global__ void sumsq_partial(const float* g, long long n, float* part) {
    __shared__ float scratch[32];
    float s = 0.f;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float v = g[i];
        s += v * v;
    }
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// adamw_clip: every block adds the nparts sum-of-squares partials (in a
// fixed order) into the gradient norm; thread 0 sets the clip factor and
// whether to skip, block 0 writes the norm. A NaN or Inf gradient norm
// skips the update (weights and moments stay as they were; the host
// reports the norm as an error), as the CPU engine refuses it: one bad
// micro-batch must not poison them. The caller synchronises before reading
// *sclip, *sskip (shared).
__device__ __forceinline__ void adamw_clip(const float* part, int nparts, float max_norm, float* norm_out, float* scratch,
                                           float* sclip, int* sskip) {
    float s = 0.f;
    for (int i = threadIdx.x; i < nparts; i += blockDim.x) s += part[i];
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) {
        float norm = sqrtf(s);
        *sclip = (max_norm > 0.f && norm > max_norm) ? max_norm / norm : 1.f;
        *sskip = !isfinite(norm);
        if (blockIdx.x == 0) norm_out[0] = norm;
    }
}

// adamw_update is AdamW's per-element update on the clipped gradient g,
// shared by adamw and adamw_vec (kernels/optimizer.cu) so that both are the
// same arithmetic.
__device__ __forceinline__ float adamw_update(float& p, float g, float& m, float& v, float b1, float b2, float eps,
                                              float decay, float step_size, float inv_sqrt_bc2) {
    float mi = b1 * m + (1.f - b1) * g;
    float vi = b2 * v + (1.f - b2) * g * g;
    m = mi;
    v = vi;
    float pi = p;
    pi -= step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps) + decay * pi;
    p = pi;
    return pi;
}

extern "C" __global__ void adamw(float* p, float* g, float* m, float* v, gemm_t* pg, long long n, float b1, float b2,
                                 float eps, float decay, float step_size, float inv_sqrt_bc2, const float* part,
                                 int nparts, float max_norm, float* norm_out) {
    __shared__ float scratch[32];
    __shared__ float sclip;
    __shared__ int sskip;
    adamw_clip(part, nparts, max_norm, norm_out, scratch, &sclip, &sskip);
    __syncthreads();
    float clip = sclip;
    if (sskip) {
        for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
            g[i] = 0.f;
        return;
    }
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float pi = p[i], mi = m[i], vi = v[i];
        adamw_update(pi, g[i] * clip, mi, vi, b1, b2, eps, decay, step_size, inv_sqrt_bc2);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi;
        g[i] = 0.f;
        if (pg) pg[i] = f2g(pi);
    }
}

// ---------------------------------------------------------------------------
// axpy_f32: y += a·x over n floats (x may be y: then y becomes (1 + a)·y,
// the FF-only mixing's backward dx = dpre + dpre).
extern "C" __global__ void axpy_f32(const float* x, float a, long long n, float* y) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        y[i] += a * x[i];
}

// ---------------------------------------------------------------------------
// Self-attention probabilities, as Hugging Face BERT computes them, between
// the cuBLAS GEMMs S = q·kᵀ and ctx = P̃·v, for a chunk of npairs
// (example, head) pairs starting at pair0 (pair = b·heads + h): scores, P
// and P̃ are [npairs, S, S] (row i: query i, column j: key j). key_mask
// [B, S] (batch-major whatever the token row layout) is nonzero for a real
// key and 0 for a pad (input_ids == pad id): a pad key's score becomes
// −FLT_MAX (HF adds finfo(float32).min), so its probability is exactly 0;
// query rows are never masked; an example whose every key is a pad gets
// uniform rows, as HF's addition gives. Dropout on the probabilities is
// counter-based (fnet.DropoutSiteAttention): element i·S + j of site
// `site + pair` (site = 1<<30 | layer<<20, pair < 2^20), so the CPU engine
// draws the same bits. One warp per query row.

// attn_softmax_fwd: P = softmax(scale·scores, pad keys masked) over each
// row; writes P̃ = dropout(P) in the GEMM type (pd) and, when p is set, P
// in float32 (p may be scores itself: the backward's recomputation keeps P
// where the scores were).
extern "C" __global__ void attn_softmax_fwd(const float* scores, const int* key_mask, int pair0, int npairs, int heads,
                                            int S, float scale, u64 seed, u64 step, u32 site, u32 thr, float dscale,
                                            float* p, gemm_t* pd) {
    long long row = blockIdx.x * (long long)(blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= (long long)npairs * S) return;
    long long lp = row / S;
    u32 i = (u32)(row - lp * S);
    int pair = pair0 + (int)lp;
    const int* km = key_mask + (u64)(pair / heads) * S;
    const float* x = scores + (u64)row * S;
    float mx = -3.402823466e38f;
    for (int j = lane; j < S; j += 32) mx = fmaxf(mx, km[j] ? x[j] * scale : -3.402823466e38f);
    mx = warp_max(mx);
    float se = 0.f;
    for (int j = lane; j < S; j += 32) se += expf((km[j] ? x[j] * scale : -3.402823466e38f) - mx);
    float inv = 1.f / warp_sum(se);
    u32 psite = site + (u32)pair, base = i * (u32)S;
    for (int j = lane; j < S; j += 32) {
        float pr = expf((km[j] ? x[j] * scale : -3.402823466e38f) - mx) * inv;
        if (p) p[(u64)row * S + j] = pr;
        pd[(u64)row * S + j] = f2g(drop_apply(pr, seed, step, psite, thr, dscale, base + (u32)j));
    }
}

// attn_softmax_bwd: from P (float32, the forward's probabilities before
// dropout) and dpd = ∂loss/∂P̃ (float32, dctx·vᵀ), the gradient at the raw
// scores q·kᵀ: with g = keep ∘ dpd/(1−p) the gradient at P,
// ds = scale·P∘(g − Σ_j P_j g_j) for real keys and 0 for pad keys (their
// scores are constants, so no gradient reaches q or k through them; this
// also makes an all-pad example's rows 0). ds is the GEMM type and may be
// the buffer that held P̃.
extern "C" __global__ void attn_softmax_bwd(const float* p, const float* dpd, const int* key_mask, int pair0, int npairs,
                                            int heads, int S, float scale, u64 seed, u64 step, u32 site, u32 thr,
                                            float dscale, gemm_t* ds) {
    long long row = blockIdx.x * (long long)(blockDim.x >> 5) + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (row >= (long long)npairs * S) return;
    long long lp = row / S;
    u32 i = (u32)(row - lp * S);
    int pair = pair0 + (int)lp;
    const int* km = key_mask + (u64)(pair / heads) * S;
    const float* pr = p + (u64)row * S;
    const float* dr = dpd + (u64)row * S;
    u32 psite = site + (u32)pair, base = i * (u32)S;
    float delta = 0.f;
    for (int j = lane; j < S; j += 32) delta += pr[j] * drop_apply(dr[j], seed, step, psite, thr, dscale, base + (u32)j);
    delta = warp_sum(delta);
    for (int j = lane; j < S; j += 32) {
        float g = drop_apply(dr[j], seed, step, psite, thr, dscale, base + (u32)j);
        ds[(u64)row * S + j] = f2g(km[j] ? scale * pr[j] * (g - delta) : 0.f);
    }
}
