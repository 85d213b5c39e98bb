// Runs the CUDA C of kernels/ffn.cu on the host against the kernels of
// kernels/fnet.cu it replaces (bias_gelu_v16 vs bias_gelu,
// gelu_bwd_colsum_v16 vs gelu_bwd_colsum), so the 16-byte kernels' own
// source (vector indexing, packing, the per-vector bias loads, the
// shared-memory combine of the partial sums) executes where there is no
// GPU. Built by TestFFNKernelsOnHostSIMT (kernel_ffn_host_test.go) after
// the kernel source and simtStub (kernel_ln_host_test.go), with asm
// defined to compute the bf16 path's tanh.approx as the host's tanh.
//
// The SIMT runtime below (a block's threads as std::threads, barriers for
// __syncthreads and the warp shuffles, an abort when one is reached after
// a thread of the block or warp exited) is testdata/simt_ln_check.cpp's.
// The comparisons are bit for bit: both kernels compute each element with
// the same inline functions and add the partials in the same order, and the
// test compiles with -ffp-contract=off. Prints one line per comparison and
// exits 1 on any difference.

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
// 16-byte aligned buffers, poisoned with NaN: an element a kernel fails to write stays NaN
template <class T>
struct Buf {
    T* p;
    size_t n;
    explicit Buf(size_t n_) : p((T*)std::aligned_alloc(64, ((n_ * sizeof(T) + 63) / 64) * 64)), n(n_) {}
    ~Buf() { std::free(p); }
    Buf(const Buf&) = delete;
};

static std::mt19937_64 rng(20261203);
static void fill(Buf<float>& b, float sd) {
    std::normal_distribution<float> d(0.f, sd);
    for (size_t i = 0; i < b.n; i++) b.p[i] = d(rng);
}
static void fillG(Buf<gemm_t>& b, float sd) {
    std::normal_distribution<float> d(0.f, sd);
    for (size_t i = 0; i < b.n; i++) b.p[i] = f2g(d(rng));
}
template <class T>
static void poison(Buf<T>& b) {
    std::memset(b.p, 0xff, b.n * sizeof(T)); // all ones: a NaN as float32 and as bf16
}

static int failures = 0;
static u32 bits(float f) { return __float_as_uint(f); }
static u32 bits(bf16_t h) { return h; }
static float g2fAny(float f) { return f; }
static float g2fAny(bf16_t h) { return bf16_to_f(h); }
// got and want must be the same bits everywhere, and no NaN (every element written)
template <class T>
static void same(const std::string& what, const Buf<T>& got, const Buf<T>& want) {
    for (size_t i = 0; i < want.n; i++) {
        float g = g2fAny(got.p[i]);
        if (std::isnan(g) || bits(got.p[i]) != bits(want.p[i])) {
            std::printf("FAIL %s: element %zu is %g (bits %08x), want %g (bits %08x)\n", what.c_str(), i, g, bits(got.p[i]),
                        g2fAny(want.p[i]), bits(want.p[i]));
            failures++;
            return;
        }
    }
    std::printf("ok %s: %zu values, the same bits\n", what.c_str(), want.n);
}

static void ffn_case(int rows, int C) {
    int vec = 16 / (int)sizeof(gemm_t), cv = C / vec;
    Buf<gemm_t> u(rows * (size_t)C), dh(rows * (size_t)C);
    Buf<float> b(C);
    fillG(u, 2);
    fillG(dh, 1);
    fill(b, 0.5);
    std::string shape = " rows " + std::to_string(rows) + " C " + std::to_string(C);

    Buf<gemm_t> h0(u.n), h1(u.n);
    poison(h0);
    poison(h1);
    launch("bias_gelu", {(unsigned)(C + 255) / 256, (unsigned)std::min(rows, 4096), 1}, {256, 1, 1}, [&] { bias_gelu(u.p, b.p, rows, C, h0.p); });
    launch("bias_gelu_v16", {(unsigned)(cv + 127) / 128, (unsigned)std::min(rows, 4096), 1}, {128, 1, 1}, [&] { bias_gelu_v16(u.p, b.p, rows, C, h1.p); });
    same("bias_gelu_v16" + shape, h1, h0);

    // the engine's colsumChunks
    int chunks = std::max(1, std::min(128, (rows + 31) / 32)), rpc = (rows + chunks - 1) / chunks;
    chunks = (rows + rpc - 1) / rpc;
    Buf<gemm_t> du0(u.n), du1(u.n);
    Buf<float> p0(chunks * (size_t)C), p1(chunks * (size_t)C);
    poison(du0);
    poison(du1);
    poison(p0);
    poison(p1);
    launch("gelu_bwd_colsum", {(unsigned)(C + 31) / 32, (unsigned)chunks, 1}, {32, 8, 1}, [&] { gelu_bwd_colsum(dh.p, u.p, b.p, rows, C, rpc, du0.p, p0.p); });
    launch("gelu_bwd_colsum_v16", {(unsigned)(cv + 31) / 32, (unsigned)chunks, 1}, {32, 8, 1}, [&] { gelu_bwd_colsum_v16(dh.p, u.p, b.p, rows, C, rpc, du1.p, p1.p); });
    same("gelu_bwd_colsum_v16 du" + shape, du1, du0);
    same("gelu_bwd_colsum_v16 partials" + shape + " chunks " + std::to_string(chunks), p1, p0);
}

int main(int argc, char** argv) {
    if (argc > 1) return simt_selftest(argv[1]); // the runtime's own check
    // FNet-Base's F = 3072 (three blocks of 128 vectors forward, twelve
    // warps backward), widths whose vector count fills no block or warp,
    // odd rows, and several chunks of rows (rows > 32)
    ffn_case(9, 3072);
    ffn_case(37, 200);
    ffn_case(70, 264);
    if (sizeof(gemm_t) == 4) ffn_case(33, 204); // 51 float4s (not whole bf16 vectors)
    if (failures) {
        std::printf("FAIL: %d comparisons\n", failures);
        return 1;
    }
    std::printf("PASS\n");
    return 0;
}
