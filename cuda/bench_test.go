package cuda

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/fnet-tui/fnet-tui/fnet"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// syntheticCorpus draws pretraining batches with learnable structure: a
// Zipf unigram distribution and, half of the time, a fixed successor of the
// previous token, so a model's MLM loss falls well below the unigram
// entropy. Masking follows the official recipe (15%, at most 80 per
// sequence, 80/10/10) and NSP labels are segment-order swaps.
type syntheticCorpus struct {
	rng  *rand.Rand
	zipf *rand.Zipf
	V    int
}

func newSyntheticCorpus(seed uint64, V int) *syntheticCorpus {
	r := rand.New(rand.NewPCG(seed, 7))
	return &syntheticCorpus{rng: r, zipf: rand.NewZipf(r, 1.1, 2, uint64(V-7)), V: V}
}

func (c *syntheticCorpus) batch(cfg fnet.Config, B, K int) *fnet.Batch {
	S := cfg.SeqLen
	b := &fnet.Batch{B: B, S: S, K: K}
	const cls, sep, mask = 1, 2, 4
	for bb := 0; bb < B; bb++ {
		row := make([]int, S)
		types := make([]int, S)
		prev := 6
		for s := range row {
			tok := 6 + int(c.zipf.Uint64())
			if c.rng.IntN(2) == 0 {
				tok = 6 + (prev*7919+13)%(c.V-6)
			}
			row[s], prev = tok, tok
		}
		half := S / 2
		row[0], row[half-1], row[S-1] = cls, sep, sep
		for s := half; s < S; s++ {
			types[s] = 1
		}
		swap := c.rng.IntN(2)
		b.Labels = append(b.Labels, swap)
		if swap == 1 { // B before A: the second half comes first
			nr := append(append([]int{cls}, row[half:S-1]...), sep)
			nr = append(nr, row[1:half-1]...)
			nr = append(nr, sep)
			row = nr[:S]
		}
		n := min(K, max(1, int(float64(S)*0.15)))
		perm := c.rng.Perm(S - 2)
		for k := 0; k < K; k++ {
			if k >= n {
				b.MaskedPos, b.MaskedLabels, b.MaskedWeight = append(b.MaskedPos, 0), append(b.MaskedLabels, 0), append(b.MaskedWeight, 0)
				continue
			}
			p := 1 + perm[k]
			b.MaskedPos = append(b.MaskedPos, p)
			b.MaskedLabels = append(b.MaskedLabels, row[p])
			b.MaskedWeight = append(b.MaskedWeight, 1)
			switch r := c.rng.Float64(); {
			case r < 0.8:
				row[p] = mask
			case r < 0.9:
				row[p] = 6 + c.rng.IntN(c.V-6)
			}
		}
		b.InputIDs = append(b.InputIDs, row...)
		b.TypeIDs = append(b.TypeIDs, types...)
	}
	return b
}

// benchResult is one line of the device script's report.
type benchResult struct {
	What       string  `json:"what"`
	Device     string  `json:"device"`
	Precision  string  `json:"precision"`
	MixTF32    bool    `json:"mix_tf32"`
	Fuse       string  `json:"fuse"`
	BatchMajor bool    `json:"batch_major"`
	B          int     `json:"batch"`
	S          int     `json:"seq"`
	K          int     `json:"masked"`
	StepMs     float64 `json:"step_ms_median"`
	StepMsMin  float64 `json:"step_ms_min"`
	FwdMs      float64 `json:"eval_fwd_ms_median"`
	TokensPerS float64 `json:"tokens_per_s"`
	TFLOPs     float64 `json:"model_tflop_per_step"`
	MixGEMMTF  float64 `json:"mix_gemm_tflop_per_step"`
	AchievedTF float64 `json:"model_tflops_achieved"`
	PeakTF     float64 `json:"peak_tflops_assumed"`
	MFU        float64 `json:"mfu"`
	MemGiB     float64 `json:"gpu_mem_used_gib"`
	FirstLoss  float64 `json:"first_loss"`
	LastLoss   float64 `json:"last_loss"`
}

func median(x []float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// TestBenchTrainStep times full training steps (ForwardBackward + Step,
// whose gradient-norm read synchronises) of FNet-Base at sequence 512 and
// prints a RESULT_JSON line. It runs only when FNET_CUDA_BENCH=1 (on the
// device script), since it needs a large GPU: a speed measurement, not a
// unit test.
func TestBenchTrainStep(t *testing.T) {
	if os.Getenv("FNET_CUDA_BENCH") != "1" {
		t.Skip("set FNET_CUDA_BENCH=1 to time FNet-Base training steps")
	}
	requireGPU(t)
	cfg := fnet.Presets["base"]
	B, K := envInt("FNET_BENCH_BATCH", 32), envInt("FNET_BENCH_MASKED", 80)
	steps := envInt("FNET_BENCH_STEPS", 20)
	for i, v := range []struct {
		prec    Precision
		o       Options
		B       int
		profile bool
	}{
		{BF16, Options{}, B, true},
		{BF16, Options{MixBF16: true}, B, false},
		{BF16, Options{BatchMajor: true}, B, false},
		{TF32, Options{}, B, false},
		{BF16, Options{}, 2 * B, false},
	} {
		if os.Getenv("FNET_BENCH_QUICK") == "1" && i > 0 {
			continue
		}
		r, prof, err := benchOnce(cfg, v.B, K, steps, v.prec, v.o, v.profile)
		if err != nil {
			t.Fatalf("%v %+v: %v", v.prec, v.o, err)
		}
		j, _ := json.Marshal(r)
		fmt.Printf("RESULT_JSON %s\n", j)
		t.Logf("%s %+v B=%d: %.2f ms/step, %.0f tokens/s, MFU %.1f%% of %g TFLOP/s", v.prec, v.o, v.B, r.StepMs, r.TokensPerS, 100*r.MFU, r.PeakTF)
		printProfile(prof, r.StepMs)
	}
}

// TestBenchFusions times the fused paths of issue 16 (Options.Fuse) side
// by side in one process, each against the default sequence measured just
// before it, with the event profile of each, at FNet-Base (seq 512,
// FNET_BENCH_BATCH, default 32) and at the mini preset (batch 128 × 128,
// which must never get slower). FNET_BENCH_FUSE lists the variants,
// separated by ";" (default: none, each path alone, all); FNET_BENCH_PRESETS
// the presets ("base;mini"). Runs only with FNET_CUDA_BENCH=1
// (scripts/gpu/mfu.sh): a measurement, not a unit test.
func TestBenchFusions(t *testing.T) {
	if os.Getenv("FNET_CUDA_BENCH") != "1" {
		t.Skip("set FNET_CUDA_BENCH=1 to time the fused paths")
	}
	requireGPU(t)
	variants, err := benchFusionVariants(os.Getenv("FNET_BENCH_FUSE"))
	if err != nil {
		t.Fatal(err)
	}
	presets := strings.Split(envString("FNET_BENCH_PRESETS", "base;mini"), ";")
	steps := envInt("FNET_BENCH_STEPS", 20)
	for _, preset := range presets {
		cfg, ok := fnet.Presets[preset]
		if !ok {
			t.Fatalf("FNET_BENCH_PRESETS: unknown preset %q", preset)
		}
		B, K := envInt("FNET_BENCH_BATCH", 32), envInt("FNET_BENCH_MASKED", 80)
		if preset == "mini" {
			B, K = 128, 20 // docs/GPU.md's mini run: batch 128 × 128, 15% masked
		}
		var base benchResult
		for i, f := range variants {
			r, prof, err := benchOnce(cfg, B, K, steps, BF16, Options{Fuse: f}, true)
			if err != nil {
				t.Errorf("%s fuse=%v: %v", preset, f, err)
				continue
			}
			if i == 0 {
				base = r
			}
			j, _ := json.Marshal(struct {
				Preset string `json:"preset"`
				benchResult
				VsFirst float64 `json:"speedup_vs_first"`
			}{preset, r, base.StepMs / r.StepMs})
			fmt.Printf("RESULT_JSON %s\n", j)
			t.Logf("%s fuse=%v B=%d: %.2f ms/step (%.3fx the first variant), %.0f tokens/s, MFU %.1f%%, loss %.4f → %.4f",
				preset, f, B, r.StepMs, base.StepMs/r.StepMs, r.TokensPerS, 100*r.MFU, r.FirstLoss, r.LastLoss)
			fmt.Printf("PROFILE_BEGIN %s fuse=%v\n", preset, f)
			printProfile(prof, r.StepMs)
		}
	}
}

// benchFusionVariants reads FNET_BENCH_FUSE: fused-path sets separated by
// ";", each as ParseFusion reads it. The default is the plain sequence,
// each path on its own, then all of them.
func benchFusionVariants(spec string) ([]Fusion, error) {
	if strings.TrimSpace(spec) == "" {
		v := []Fusion{0}
		for _, n := range fusionNames {
			v = append(v, n.f)
		}
		return append(v, FuseAll), nil
	}
	var v []Fusion
	for _, part := range strings.Split(spec, ";") {
		f, err := ParseFusion(part)
		if err != nil {
			return nil, fmt.Errorf("FNET_BENCH_FUSE: %w", err)
		}
		v = append(v, f)
	}
	return v, nil
}

// printProfile prints where a step's device time goes, per operation.
func printProfile(prof []ProfileEntry, stepMs float64) {
	if len(prof) == 0 {
		return
	}
	var total, gemm float64
	for _, p := range prof {
		total += p.Ms
		if strings.HasPrefix(p.Name, "gemm") {
			gemm += p.Ms
		}
	}
	const steps = 2
	fmt.Printf("PROFILE device time per step %.2f ms (GEMMs %.2f ms, other kernels %.2f ms) of %.2f ms wall\n", total/steps, gemm/steps, (total-gemm)/steps, stepMs)
	for _, p := range prof {
		fmt.Printf("PROFILE %-44s %4d calls %8.3f ms/step %5.1f%%\n", p.Name, p.Count/steps, p.Ms/steps, 100*p.Ms/total)
	}
}

func benchOnce(cfg fnet.Config, B, K, steps int, prec Precision, o Options, profile bool) (benchResult, []ProfileEntry, error) {
	e, err := NewEngineWithOptions(cfg, fnet.PretrainingHeads, fnet.DefaultAdamW, 1, prec, o)
	if err != nil {
		return benchResult{}, nil, err
	}
	defer e.Close()
	corpus := newSyntheticCorpus(3, cfg.VocabSize)
	batches := make([]*fnet.Batch, 4) // rotate: not one cached input
	for i := range batches {
		batches[i] = corpus.batch(cfg, B, K)
	}
	r := benchResult{What: "fnet-tui cuda train step", Device: e.Device(), Precision: prec.String(), MixTF32: e.mixTF32, Fuse: o.Fuse.String(), BatchMajor: o.BatchMajor, B: B, S: cfg.SeqLen, K: K}
	var times, fwd []float64
	for i := 0; i < steps+3; i++ {
		t0 := time.Now()
		st, err := e.ForwardBackward(batches[i%len(batches)], uint64(i), 1)
		if err != nil {
			return r, nil, err
		}
		if _, err := e.Step(1e-4, 1); err != nil {
			return r, nil, err
		}
		dt := time.Since(t0).Seconds() * 1e3
		loss := st.PretrainLoss()
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return r, nil, fmt.Errorf("step %d: loss %v", i, loss)
		}
		if i == 0 {
			r.FirstLoss = loss
		}
		r.LastLoss = loss
		if i >= 3 {
			times = append(times, dt)
		}
	}
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		if _, _, err := e.Evaluate(batches[i%len(batches)]); err != nil {
			return r, nil, err
		}
		if i >= 1 {
			fwd = append(fwd, time.Since(t0).Seconds()*1e3)
		}
	}
	r.StepMs = median(times)
	sort.Float64s(times)
	r.StepMsMin = times[0]
	r.FwdMs = median(fwd)
	r.TokensPerS = float64(B*cfg.SeqLen) / (r.StepMs / 1e3)
	fl := TrainFLOPs(cfg, B, cfg.SeqLen, K)
	r.TFLOPs = fl / 1e12
	r.MixGEMMTF = MixGEMMFLOPs(cfg, B, cfg.SeqLen) / 1e12
	r.AchievedTF = fl / (r.StepMs / 1e3) / 1e12
	if peak, ok := PeakTFLOPS(e.s.info.Name, BF16); ok {
		r.PeakTF = peak
		r.MFU = r.AchievedTF / peak
	}
	if u, err := e.Usage(); err == nil {
		r.MemGiB = u.MemUsedGiB()
	}
	if !profile {
		return r, nil, nil
	}
	if err := e.SetProfiling(true); err != nil {
		return r, nil, err
	}
	for i := 0; i < 2; i++ {
		if _, err := e.ForwardBackward(batches[i], uint64(i), 1); err != nil {
			return r, nil, err
		}
		if _, err := e.Step(1e-4, 1); err != nil {
			return r, nil, err
		}
	}
	prof, err := e.Profile()
	return r, prof, err
}

// TestPretrainLossFalls runs a few hundred pretraining steps of FNet-Base
// (the pretrain-base recipe: seq 512, lr 1e-4 after warmup, dropout 0.1)
// on the synthetic corpus and checks that the loss falls. FNET_CUDA_TRAIN_STEPS
// turns it on (the device script); it needs a large GPU.
func TestPretrainLossFalls(t *testing.T) {
	steps := envInt("FNET_CUDA_TRAIN_STEPS", 0)
	if steps == 0 {
		t.Skip("set FNET_CUDA_TRAIN_STEPS to run a short FNet-Base pretraining")
	}
	requireGPU(t)
	cfg := fnet.Presets["base"]
	B, K := envInt("FNET_BENCH_BATCH", 32), 80
	e, err := NewEngineWithOptions(cfg, fnet.PretrainingHeads, fnet.DefaultAdamW, 5, BF16, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	corpus := newSyntheticCorpus(11, cfg.VocabSize)
	warm := max(1, steps/10)
	var first, last []float64
	t0 := time.Now()
	for i := 0; i < steps; i++ {
		b := corpus.batch(cfg, B, K)
		st, err := e.ForwardBackward(b, uint64(i), 1)
		if err != nil {
			t.Fatal(err)
		}
		lr := 1e-4 * math.Min(1, float64(i+1)/float64(warm))
		gn, err := e.Step(lr, 1)
		if err != nil {
			t.Fatal(err)
		}
		loss := st.PretrainLoss()
		if math.IsNaN(loss) || math.IsNaN(gn) {
			t.Fatalf("step %d: loss %v grad norm %v", i, loss, gn)
		}
		if i < 10 {
			first = append(first, loss)
		}
		if i >= steps-20 {
			last = append(last, loss)
		}
		if i%25 == 0 || i == steps-1 {
			fmt.Printf("TRAIN step %d loss %.4f mlm %.4f (acc %.3f) nsp %.4f (acc %.3f) grad_norm %.3f lr %.2e elapsed %.1fs\n",
				i, loss, st.MLMLoss(), st.MLMAcc(), st.NSPLoss(), st.NSPAcc(), gn, lr, time.Since(t0).Seconds())
		}
	}
	f, l := mean(first), mean(last)
	fmt.Printf("TRAIN_RESULT steps %d batch %d: mean loss first 10 %.4f, last 20 %.4f, %.0f tokens/s\n", steps, B, f, l,
		float64(steps*B*cfg.SeqLen)/time.Since(t0).Seconds())
	if !(l < f-1) {
		t.Errorf("loss did not fall: first %.4f, last %.4f", f, l)
	}
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// BenchmarkGemmBF16 measures cuBLAS's bf16 GEMM on the FFN's shape: the
// ceiling the training step's big GEMMs can reach on this GPU.
func BenchmarkGemmBF16(b *testing.B) {
	s := requireGPU(b)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := s.drv.setCurrent(s.ctx); err != nil {
		b.Fatal(err)
	}
	stream, _ := s.drv.streamCreate()
	h, err := s.cublas.newHandle(stream)
	if err != nil {
		b.Fatal(err)
	}
	M, N, K := 16384, 3072, 768
	var ptrs [3]DevPtr
	for i, n := range []int{M * K, K * N, M * N} {
		if ptrs[i], err = s.drv.memAlloc(uint64(2 * n)); err != nil {
			b.Fatal(err)
		}
		defer s.drv.memFree(ptrs[i])
		r := rand.New(rand.NewPCG(uint64(i), 1))
		x := toBF16(randn(r, n, 1))
		if err := s.drv.htod(ptrs[i], unsafe.Pointer(&x[0]), 2*n, stream); err != nil {
			b.Fatal(err)
		}
	}
	call := gemmCall{m: M, n: N, k: K, alpha: 1, a: gemmOperand{ptr: ptrs[0], dtype: cudaR16BF, ld: K},
		b: gemmOperand{ptr: ptrs[1], dtype: cudaR16BF, ld: N}, c: gemmOperand{ptr: ptrs[2], dtype: cudaR16BF, ld: N}, compute: computeF32}
	for i := 0; i < 10; i++ {
		_ = s.cublas.gemm(h, call)
	}
	_ = s.drv.streamSync(stream)
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		if err := s.cublas.gemm(h, call); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.drv.streamSync(stream); err != nil {
		b.Fatal(err)
	}
	sec := time.Since(t0).Seconds()
	b.ReportMetric(2*float64(M)*float64(N)*float64(K)*float64(b.N)/sec/1e12, "TFLOP/s")
}

func TestSyntheticCorpusBatchesAreValid(t *testing.T) {
	cfg := fnet.Presets["mini"]
	c := newSyntheticCorpus(1, cfg.VocabSize)
	for i := 0; i < 3; i++ {
		b := c.batch(cfg, 4, 20)
		if err := b.Validate(cfg); err != nil {
			t.Fatal(err)
		}
		for bb := 0; bb < b.B; bb++ {
			row := b.InputIDs[bb*b.S : (bb+1)*b.S]
			if row[0] != 1 || row[b.S-1] != 2 {
				t.Fatalf("row %d does not start with [CLS] and end with [SEP]: %v...%v", bb, row[:3], row[b.S-3:])
			}
			real := 0
			for k := 0; k < b.K; k++ {
				if b.MaskedWeight[bb*b.K+k] == 1 {
					real++
					if p := b.MaskedPos[bb*b.K+k]; p == 0 || p == b.S-1 {
						t.Fatalf("masked a special position %d", p)
					}
				}
			}
			if real != min(20, int(float64(b.S)*0.15)) {
				t.Fatalf("row %d has %d masked slots", bb, real)
			}
		}
	}
}
