// Runs the CUDA C of kernels/layernorm.cu and kernels/optimizer.cu on the
// host, each against the kernel of kernels/fnet.cu it replaces, so the
// fused kernels' own source (indexing, chunking, vector/tail splits,
// shared-memory combines) is executed where there is no GPU. Built by
// TestFusedKernelsOnHostSIMT (kernel_ln_host_test.go) after the kernel
// source, which that test prepends with a stub of CUDA's built-ins:
//
//   - a block's threads are std::threads started together; __syncthreads
//     is a std::barrier over the block, __shfl_xor_sync an exchange through
//     per-warp slots between two barriers of the warp's 32 threads; a thread
//     that returns drops out of both barriers (as an exited GPU thread no
//     longer counts), and a __syncthreads or shuffle reached after a
//     thread of its block or warp exited (undefined on a GPU) aborts the
//     run naming the kernel;
//   - blocks run one after another, so __shared__ (a static) is per block.
//
// It checks the CUDA C, not the GPU: the floating-point results differ
// from a device's only where the compilers contract or order differently.
// Prints one line per comparison and exits 1 if any exceeds its bound.

#include <atomic>
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "simt_runtime.inc" // the SIMT runtime both host harnesses share
static std::mt19937_64 rng(12345);
static std::vector<float> randn(size_t n, float sd) {
    std::normal_distribution<float> d(0.f, sd);
    std::vector<float> x(n);
    for (auto& v : x) v = d(rng);
    return x;
}
static std::vector<float> poisoned(size_t n) { return std::vector<float>(n, std::nanf("")); }
static std::vector<gemm_t> poisonedG(size_t n) {
    std::vector<gemm_t> x(n);
    for (auto& v : x) v = f2g(std::nanf(""));
    return x;
}

static int failures = 0;
// relative L2 error of got against want; an unwritten (NaN) element fails
static void check(const std::string& what, const std::vector<float>& got, const std::vector<float>& want, double tol) {
    double num = 0, den = 0;
    for (size_t i = 0; i < want.size(); i++) {
        if (std::isnan(got[i]) && std::isnan(want[i])) continue; // both unwritten-looking: NaN by design (a skipped step's norm)
        if (std::isnan(got[i]) != std::isnan(want[i])) {
            std::printf("FAIL %s: element %zu is %g, want %g\n", what.c_str(), i, got[i], want[i]);
            failures++;
            return;
        }
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    double e = std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
    bool ok = e <= tol;
    std::printf("%s %s: relative L2 %.3e (bound %.0e)\n", ok ? "ok" : "FAIL", what.c_str(), e, tol);
    if (!ok) failures++;
}
static std::vector<float> gToF(const std::vector<gemm_t>& g) {
    std::vector<float> f(g.size());
    for (size_t i = 0; i < g.size(); i++) f[i] = g2f(g[i]);
    return f;
}

static const u64 seed = 0x5eedULL, dstep = 7;
static const u32 site = 5, thr = (u32)(0.1 * 16777216.0);
static const float dscale = 1.f / 0.9f;

static void ln_backward_case(int K, int rows, int H, int dB, int capChunks) {
    auto dy = randn((size_t)rows * H, 1), xhat = randn((size_t)rows * H, 1), gamma = randn(H, 1), g0 = randn(2 * H, 1);
    std::vector<float> rstd(rows);
    for (auto& r : rstd) r = 0.5f + std::abs(randn(1, 1)[0]);
    // plain: ln_bwd_reg, colsum_ln_partial, colsum_final (the engine's colsumChunks)
    int chunks = std::max(1, std::min(128, (rows + 31) / 32)), rpc = (rows + chunks - 1) / chunks;
    chunks = (rows + rpc - 1) / rpc;
    auto dx0 = poisoned((size_t)rows * H);
    auto dxg0 = poisonedG((size_t)rows * H);
    auto part0 = poisoned((size_t)chunks * 2 * H);
    auto grad0 = g0;
    launch("ln_bwd_reg", {(unsigned)(rows + 7) / 8, 1, 1}, {256, 1, 1}, [&] {
        ln_bwd_reg(dy.data(), xhat.data(), rstd.data(), gamma.data(), rows, H, dx0.data(), dxg0.data(), seed, dstep, site,
                   thr, dscale, dB);
    });
    launch("colsum_ln_partial", {(unsigned)(H + 31) / 32, (unsigned)chunks, 1}, {32, 8, 1},
           [&] { colsum_ln_partial(dy.data(), xhat.data(), rows, H, rpc, part0.data()); });
    launch("colsum_final", {(unsigned)(2 * H + 255) / 256, 1, 1}, {256, 1, 1},
           [&] { colsum_final(part0.data(), chunks, 2 * H, H, 1.f, grad0.data(), H, grad0.data() + H); });
    // fused: lnColsumChunks' split with at most capChunks chunks
    int fc = std::max(1, std::min((rows + 31) / 32, capChunks)), frpc = (rows + fc - 1) / fc;
    fc = (rows + frpc - 1) / frpc;
    auto dx = poisoned((size_t)rows * H);
    auto dxg = poisonedG((size_t)rows * H);
    auto part = poisoned((size_t)fc * 2 * H);
    auto grad = g0;
    auto body = [&] {
        void (*k)(const float*, const float*, const float*, const float*, int, int, int, float*, gemm_t*, u64, u64, u32,
                  u32, float, int, float*) = K == 8 ? ln_bwd_colsum_8 : K == 16 ? ln_bwd_colsum_16 : K == 24 ? ln_bwd_colsum_24 : ln_bwd_colsum_32;
        k(dy.data(), xhat.data(), rstd.data(), gamma.data(), rows, H, frpc, dx.data(), dxg.data(), seed, dstep, site, thr,
          dscale, dB, part.data());
    };
    launch(K == 8 ? "ln_bwd_colsum_8" : K == 16 ? "ln_bwd_colsum_16" : K == 24 ? "ln_bwd_colsum_24" : "ln_bwd_colsum_32", {(unsigned)fc, 1, 1}, {256, 1, 1}, body);
    launch("ln_colsum_final", {(unsigned)(2 * H + 31) / 32, 1, 1}, {32, 16, 1},
           [&] { ln_colsum_final(part.data(), fc, H, grad.data(), grad.data() + H); });
    char name[160];
    std::snprintf(name, sizeof name, "ln_bwd_colsum_%d rows=%d H=%d dB=%d chunks=%dx%d", K, rows, H, dB, fc, frpc);
    check(std::string(name) + " dx", dx, dx0, 0);
    check(std::string(name) + " dropout(dx)", gToF(dxg), gToF(dxg0), 0);
    check(std::string(name) + " γ,β grads", grad, grad0, 1e-6);
}

static void ln_forward_case(int rows, int H, bool full) {
    auto res = randn((size_t)rows * H, 1), add = randn((size_t)rows * H, 3), bias = randn(H, 1);
    auto gamma = randn(H, 1), beta = randn(H, 1);
    int dB = full && rows % 3 == 0 ? 3 : 0;
    struct Out {
        std::vector<float> xhat, rstd, out;
        std::vector<gemm_t> outg;
    };
    auto run = [&](bool vec) {
        Out o{poisoned((size_t)rows * H), poisoned(rows), poisoned((size_t)rows * H), poisonedG((size_t)rows * H)};
        launch(vec ? "ln_fwd_vec" : "ln_fwd_reg", {(unsigned)(rows + 7) / 8, 1, 1}, {256, 1, 1}, [&] {
            auto k = vec ? ln_fwd_vec : ln_fwd_reg;
            k(full ? res.data() : nullptr, add.data(), full ? bias.data() : nullptr, seed, dstep, site, full ? thr : 0, dscale,
              gamma.data(), beta.data(), rows, H, 1e-12f, o.xhat.data(), o.rstd.data(), full ? o.out.data() : nullptr,
              o.outg.data(), dB);
        });
        return o;
    };
    Out w = run(false), g = run(true);
    char name[120];
    std::snprintf(name, sizeof name, "ln_fwd_vec rows=%d H=%d residual=%d dB=%d", rows, H, (int)full, dB);
    check(std::string(name) + " xhat", g.xhat, w.xhat, 1e-6);
    check(std::string(name) + " rstd", g.rstd, w.rstd, 1e-6);
    if (full) check(std::string(name) + " out", g.out, w.out, 1e-6);
    check(std::string(name) + " out_g", gToF(g.outg), gToF(w.outg), GEMM_BF16 ? 1e-4 : 1e-6);
}

static void optimizer_case(long long n, bool nanGrad) {
    auto p = randn(n, 1), g = randn(n, 0.01f), m = randn(n, 0.001f), v = randn(n, 1e-5f);
    for (auto& x : v) x = std::abs(x);
    if (nanGrad) g[n / 2] = std::nanf("");
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-6f, decay = 1e-5f, stepSize = 2e-3f, isb = 1.2f, maxNorm = 0.5f;
    struct State {
        std::vector<float> p, g, m, v, parts, norm;
        std::vector<gemm_t> pg;
    };
    // sumsq_vec against sumsq_partial; then both AdamW kernels from
    // sumsq_partial's partials, so their updates must agree bit for bit
    auto run = [&](bool vec, const std::vector<float>* parts) {
        State s{p, g, m, v, poisoned(7), poisoned(1), std::vector<gemm_t>(n)};
        for (long long i = 0; i < n; i++) s.pg[i] = f2g(p[i]);
        launch(vec ? "sumsq_vec" : "sumsq_partial", {7, 1, 1}, {256, 1, 1}, [&] { (vec ? sumsq_vec : sumsq_partial)(s.g.data(), n, s.parts.data()); });
        std::vector<float> own = s.parts;
        if (parts) s.parts = *parts;
        launch(vec ? "adamw_vec" : "adamw", {3, 1, 1}, {256, 1, 1}, [&] {
            (vec ? adamw_vec : adamw)(s.p.data(), s.g.data(), s.m.data(), s.v.data(), GEMM_BF16 ? s.pg.data() : nullptr, n, b1, b2,
                                      eps, decay, stepSize, isb, s.parts.data(), 7, maxNorm, s.norm.data());
        });
        s.parts = own;
        return s;
    };
    State w = run(false, nullptr), s = run(true, &w.parts);
    char name[80];
    std::snprintf(name, sizeof name, "sumsq_vec+adamw_vec n=%lld nan=%d", n, (int)nanGrad);
    double pw = 0, ps = 0;
    for (int i = 0; i < 7; i++) pw += w.parts[i], ps += s.parts[i];
    check(std::string(name) + " Σ partials", {(float)ps}, {(float)pw}, nanGrad ? 0 : 1e-6);
    check(std::string(name) + " norm", s.norm, w.norm, nanGrad ? 0 : 1e-6);
    check(std::string(name) + " p", s.p, w.p, 0);
    check(std::string(name) + " m", s.m, w.m, 0);
    check(std::string(name) + " v", s.v, w.v, 0);
    check(std::string(name) + " g (zeroed)", s.g, std::vector<float>(n, 0.f), 0);
    if (GEMM_BF16) check(std::string(name) + " weight copy", gToF(s.pg), gToF(w.pg), 0);
}

int main(int argc, char** argv) {
    if (argc > 1) return simt_selftest(argv[1]); // the runtime's own check
    // backward: every instance, H not a multiple of 8 or 4, rows not a
    // multiple of the 32-row chunk or of 8 warps, seq-major dropout rows,
    // a tight scratch (few long chunks)
    ln_backward_case(8, 37, 72, 0, 1024);
    ln_backward_case(8, 45, 100, 3, 1024);
    ln_backward_case(16, 33, 130, 3, 1024);
    ln_backward_case(16, 70, 300, 0, 2);
    ln_backward_case(24, 70, 768, 0, 1024);
    ln_backward_case(32, 41, 1024, 0, 1024);
    ln_forward_case(37, 72, true);
    ln_forward_case(45, 100, true);
    ln_forward_case(11, 100, false);
    ln_forward_case(21, 768, true);
    ln_forward_case(9, 1024, true);
    optimizer_case(10007, false);
    optimizer_case(4096, false);
    optimizer_case(3, false);
    optimizer_case(10007, true);
    std::printf(failures ? "FAILED %d\n" : "PASS\n", failures);
    return failures ? 1 : 0;
}
