// The feed-forward GELU with 16-byte accesses (Options.Fuse has FuseGELU,
// issue 16): bias + GELU forward and the GELU backward with the fused bias
// gradient, each thread reading and writing one 16-byte vector (8 bf16 or 4
// float32) per tensor instead of one 2- or 4-byte element. The arithmetic
// per element is bias_gelu's and gelu_bwd_colsum's (fnet.cu: gelu_ffn,
// gelu_grad_ffn, the hardware tanh in bf16 mode), and the column partial
// sums add in the same order, so both kernels give the same bits as the
// scalar ones. The host launches them only when C is a multiple of the
// vector width and every pointer is 16-byte aligned (layer_ffn.go), else
// the scalar kernels.
//
// Appended to fnet.cu by the Go side (module.go), so its types and helpers
// are in scope. Every loop over a vector's elements (or the 8 partial rows)
// has a constant trip count and is unrolled, as in layernorm.cu, so the
// per-thread arrays (x, g, bj, a) are indexed by constants and stay in
// registers rather than local memory.

// FFN_VEC gemm_t elements make 16 bytes.
#define FFN_VEC ((int)(16 / sizeof(gemm_t)))

// pack16 is one 16-byte vector; alignas makes the compiler emit a single
// 128-bit load or store (ld.global.v4.u32) for it.
struct alignas(16) pack16 {
    u32 w[4];
};

// Unpacking a vector into FFN_VEC floats and back.
__device__ __forceinline__ void ffn_unpack(const pack16& p, float* f) {
#if GEMM_BF16
#pragma unroll
    for (int k = 0; k < 4; k++) {
        f[2 * k] = bf16_to_f((bf16_t)(p.w[k] & 0xffffu));
        f[2 * k + 1] = bf16_to_f((bf16_t)(p.w[k] >> 16));
    }
#else
#pragma unroll
    for (int k = 0; k < 4; k++) f[k] = __uint_as_float(p.w[k]);
#endif
}

__device__ __forceinline__ pack16 ffn_pack(const float* f) {
    pack16 p;
#if GEMM_BF16
#pragma unroll
    for (int k = 0; k < 4; k++) p.w[k] = (u32)f_to_bf16(f[2 * k]) | ((u32)f_to_bf16(f[2 * k + 1]) << 16);
#else
#pragma unroll
    for (int k = 0; k < 4; k++) p.w[k] = __float_as_uint(f[k]);
#endif
    return p;
}

// ffn_bias loads the FFN_VEC float32 biases of columns j … j+FFN_VEC-1 (j a
// multiple of FFN_VEC, b 16-byte aligned: one or two 16-byte loads).
__device__ __forceinline__ void ffn_bias(const float* b, long long j, float* f) {
    const pack16* bp = (const pack16*)(b + j);
#pragma unroll
    for (int q = 0; q < FFN_VEC / 4; q++) {
        pack16 v = bp[q];
#pragma unroll
        for (int k = 0; k < 4; k++) f[4 * q + k] = __uint_as_float(v.w[k]);
    }
}

// bias_gelu_v16: h = gelu(u + b) for the feed-forward [rows, C], as
// bias_gelu. Grid: x over the C / FFN_VEC vectors of a row (blockDim.x
// threads each), y striding over rows.
extern "C" __global__ void bias_gelu_v16(const gemm_t* u, const float* b, long long rows, int C, gemm_t* h) {
    int cv = C / FFN_VEC;
    int jv = blockIdx.x * blockDim.x + threadIdx.x;
    if (jv >= cv) return;
    long long j = (long long)jv * FFN_VEC;
    float bj[FFN_VEC];
    ffn_bias(b, j, bj);
    const pack16* up = (const pack16*)u;
    pack16* hp = (pack16*)h;
    for (long long r = blockIdx.y; r < rows; r += gridDim.y) {
        long long i = r * cv + jv;
        float x[FFN_VEC];
        ffn_unpack(up[i], x);
#pragma unroll
        for (int k = 0; k < FFN_VEC; k++) x[k] = gelu_ffn(x[k] + bj[k]);
        hp[i] = ffn_pack(x);
    }
}

// gelu_bwd_colsum_v16: du = dh·gelu'(u + b) and the per-chunk column sums
// of du in float32, as gelu_bwd_colsum. Block (32, 8): x over 32 vectors
// (32·FFN_VEC columns), y over 8 rows at a time; grid (ceil(cv/32),
// chunks). Each thread sums its columns over rows r0+y, r0+y+8, …, then
// row 0 of the block adds the 8 partials in order y = 0 … 7: the scalar
// kernel's order, so the partials are the same bits.
extern "C" __global__ void gelu_bwd_colsum_v16(const gemm_t* dh, const gemm_t* u, const float* b, int rows, int C,
                                               int rpc, gemm_t* du, float* part) {
    __shared__ float sa[8][32][FFN_VEC + 1];
    int cv = C / FFN_VEC;
    int jv = blockIdx.x * 32 + threadIdx.x;
    int c = blockIdx.y;
    int r0 = c * rpc, r1 = min(rows, r0 + rpc);
    float a[FFN_VEC];
#pragma unroll
    for (int k = 0; k < FFN_VEC; k++) a[k] = 0.f;
    if (jv < cv) {
        float bj[FFN_VEC];
        ffn_bias(b, (long long)jv * FFN_VEC, bj);
        const pack16* dp = (const pack16*)dh;
        const pack16* up = (const pack16*)u;
        pack16* op = (pack16*)du;
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            u64 i = (u64)r * cv + jv;
            float g[FFN_VEC], x[FFN_VEC];
            ffn_unpack(dp[i], g);
            ffn_unpack(up[i], x);
#pragma unroll
            for (int k = 0; k < FFN_VEC; k++) {
                float d = g[k] * gelu_grad_ffn(x[k] + bj[k]);
                g[k] = d;
                a[k] += d;
            }
            op[i] = ffn_pack(g);
        }
    }
#pragma unroll
    for (int k = 0; k < FFN_VEC; k++) sa[threadIdx.y][threadIdx.x][k] = a[k];
    __syncthreads();
    if (threadIdx.y == 0 && jv < cv) {
#pragma unroll
        for (int y = 1; y < 8; y++) {
#pragma unroll
            for (int k = 0; k < FFN_VEC; k++) a[k] += sa[y][threadIdx.x][k];
        }
        float* out = part + (u64)c * C + (u64)jv * FFN_VEC;
#pragma unroll
        for (int k = 0; k < FFN_VEC; k++) out[k] = a[k];
    }
}
