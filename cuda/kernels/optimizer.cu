// The optimizer step with 16-byte accesses (issue 16; cuda.FuseOptimizer):
// sumsq_vec and adamw_vec compute what sumsq_partial and adamw in fnet.cu
// compute, reading and writing four floats per access, with the same
// adamw_clip and adamw_update. Concatenated after fnet.cu and layernorm.cu
// (block_sum, f2g, adamw_clip, adamw_update from fnet.cu; ln_vec4 and
// ln_store4_g from layernorm.cu, which sorts before this file).
//
// Why still two kernels: the clip factor min(1, maxNorm/‖g‖) scales every
// gradient before any moment or weight may change, so the whole norm must
// exist before the first update. One kernel would need a grid-wide barrier
// (a cooperative launch with every block resident) and would still read
// the gradient twice, since 4 bytes × every parameter (~0.3 GB at
// FNet-Base) cannot wait on chip between the two phases. What one pass
// could save is therefore the launch, not the traffic: sumsq_vec reads g
// once (4 B/param), adamw_vec reads p, g, m, v and writes p, m, v, the
// zeroed g and the GEMM-typed weight copy (16 B in, 16 + 2 B out in bf16
// mode).
//
// Vectors: element 4q … 4q + 3 is vector q < n/4; the n % 4 tail elements
// 4⌊n/4⌋ … n − 1 are done one per thread by the grid's first threads. The
// buffers start 256-byte aligned (every flat buffer is one allocation), so
// every vector is 16-byte aligned (8-byte for the bf16 copy).

// sumsq_vec: part[blockIdx.x] = Σ g² over the block's vectors (grid-stride)
// and, for the first threads of the grid, the tail. Launch: normPartials
// blocks of 256, as sumsq_partial.
extern "C" __global__ void sumsq_vec(const float* g, long long n, float* part) {
    __shared__ float scratch[32];
    long long n4 = n >> 2;
    long long tid = blockIdx.x * (long long)blockDim.x + threadIdx.x, stride = (long long)gridDim.x * blockDim.x;
    const ln_vec4* g4 = (const ln_vec4*)g;
    float s = 0.f;
    for (long long q = tid; q < n4; q += stride) {
        ln_vec4 v = g4[q];
        s += (v.x * v.x + v.y * v.y) + (v.z * v.z + v.w * v.w);
    }
    long long i = 4 * n4 + tid;
    if (i < n) s += g[i] * g[i];
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// adamw_vec: adamw with four elements per access. Every block first adds
// the nparts sum-of-squares partials (in the same order as adamw) into the
// norm, from which the clip factor follows; a NaN or Inf norm skips the
// update (weights, moments and the weight copy stay as they were, the
// gradients are zeroed: the host reports the norm). Block 0 writes the
// norm. pg (optional) is the GEMM-typed weight copy.
extern "C" __global__ void adamw_vec(float* p, float* g, float* m, float* v, gemm_t* pg, long long n, float b1,
                                     float b2, float eps, float decay, float step_size, float inv_sqrt_bc2,
                                     const float* part, int nparts, float max_norm, float* norm_out) {
    __shared__ float scratch[32];
    __shared__ float sclip;
    __shared__ int sskip;
    adamw_clip(part, nparts, max_norm, norm_out, scratch, &sclip, &sskip);
    __syncthreads();
    float clip = sclip;
    long long n4 = n >> 2;
    long long tid = blockIdx.x * (long long)blockDim.x + threadIdx.x, stride = (long long)gridDim.x * blockDim.x;
    long long t = 4 * n4 + tid; // this thread's tail element, if < n
    ln_vec4* g4 = (ln_vec4*)g;
    const ln_vec4 zero = {0.f, 0.f, 0.f, 0.f};
    if (sskip) {
        for (long long q = tid; q < n4; q += stride) g4[q] = zero;
        if (t < n) g[t] = 0.f;
        return;
    }
    ln_vec4* p4 = (ln_vec4*)p;
    ln_vec4* m4 = (ln_vec4*)m;
    ln_vec4* v4 = (ln_vec4*)v;
    for (long long q = tid; q < n4; q += stride) {
        ln_vec4 pq = p4[q], gq = g4[q], mq = m4[q], vq = v4[q];
        adamw_update(pq.x, gq.x * clip, mq.x, vq.x, b1, b2, eps, decay, step_size, inv_sqrt_bc2);
        adamw_update(pq.y, gq.y * clip, mq.y, vq.y, b1, b2, eps, decay, step_size, inv_sqrt_bc2);
        adamw_update(pq.z, gq.z * clip, mq.z, vq.z, b1, b2, eps, decay, step_size, inv_sqrt_bc2);
        adamw_update(pq.w, gq.w * clip, mq.w, vq.w, b1, b2, eps, decay, step_size, inv_sqrt_bc2);
        p4[q] = pq;
        m4[q] = mq;
        v4[q] = vq;
        g4[q] = zero;
        if (pg) ln_store4_g(pg + 4 * q, pq);
    }
    if (t < n) {
        float pt = p[t], mt = m[t], vt = v[t];
        adamw_update(pt, g[t] * clip, mt, vt, b1, b2, eps, decay, step_size, inv_sqrt_bc2);
        p[t] = pt;
        m[t] = mt;
        v[t] = vt;
        g[t] = 0.f;
        if (pg) pg[t] = f2g(pt);
    }
}
