package fnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/kernels"
)

// BenchShape is the batch of a training-step benchmark. The presets match
// the PyTorch reference's (../shared/ref/fnet_ref.py --preset), so the two
// time the same work: B sequences of S tokens, K = round(0.15·S) masked
// positions each, masked-LM head only, no dropout.
type BenchShape struct{ B, S, K int }

// BenchShapes are the reference's batch sizes per preset.
var BenchShapes = map[string]BenchShape{
	"mini":  {16, 128, 19},
	"small": {8, 256, 38},
	"base":  {2, 512, 77},
	"large": {2, 512, 77},
}

// BenchResult is one benchmark run.
type BenchResult struct {
	Preset        string    `json:"preset"`
	Arch          string    `json:"arch"`
	Layers        string    `json:"layers"` // every layer's mixing, e.g. "fourier,fourier,attention,attention"
	Device        string    `json:"device"`
	Threads       int       `json:"threads"`
	Mixing        string    `json:"mixing"`
	Batch         int       `json:"batch"`
	SeqLen        int       `json:"seq_len"`
	Masked        int       `json:"masked_per_seq"`
	Steps         int       `json:"steps"`
	Warmup        int       `json:"warmup"`
	MsPerStep     float64   `json:"ms_per_step"` // median
	MsMin         float64   `json:"ms_min"`
	MsP90         float64   `json:"ms_p90"`
	FwdBwdMs      float64   `json:"fwd_bwd_ms"` // median of forward+backward
	AdamWMs       float64   `json:"adamw_ms"`   // median of the optimizer step
	TokensPerS    float64   `json:"tokens_per_s"`
	GFLOPPerStep  float64   `json:"gflop_per_step"`
	FLOPsPerToken float64   `json:"flops_per_token"` // model FLOPs of a training step per token
	GFLOPs        float64   `json:"gflops"`          // achieved, model FLOPs / median time
	LossFirst     float64   `json:"loss_first"`
	LossLast      float64   `json:"loss_last"`
	AllocsPerStep float64   `json:"allocs_per_step"`
	StepMs        []float64 `json:"step_ms"`
	// Ops is where the timed steps' forward+backward went, by operator
	// kind (only with profiling on), in ms per step.
	Ops []BenchOp `json:"ops,omitempty"`
}

// BenchOp is one operator kind's share of a step.
type BenchOp struct {
	Op        string  `json:"op"`
	MsPerStep float64 `json:"ms_per_step"`
	Calls     float64 `json:"calls_per_step"`
}

// SyntheticBatch draws the reference's benchmark batch: random word ids in
// [5, V), [CLS]=1 at position 0, token types 0 then 1 from the middle, K
// sorted distinct masked positions in [1, S) replaced by [MASK]=4.
func SyntheticBatch(cfg Config, s BenchShape, seed uint64) *Batch {
	rng := rand.New(rand.NewPCG(seed, 0xfe))
	b := &Batch{B: s.B, S: s.S, K: s.K,
		InputIDs: make([]int, s.B*s.S), TypeIDs: make([]int, s.B*s.S),
		MaskedPos: make([]int, s.B*s.K), MaskedLabels: make([]int, s.B*s.K), MaskedWeight: make([]float32, s.B*s.K),
		Labels: make([]int, s.B)}
	for r := 0; r < s.B; r++ {
		for j := 0; j < s.S; j++ {
			b.InputIDs[r*s.S+j] = 5 + rng.IntN(cfg.VocabSize-5)
			if j >= s.S/2 {
				b.TypeIDs[r*s.S+j] = 1
			}
		}
		b.InputIDs[r*s.S] = 1
		perm := rng.Perm(s.S - 1)[:s.K]
		sort.Ints(perm)
		for k, p := range perm {
			pos := p + 1
			b.MaskedPos[r*s.K+k] = pos
			b.MaskedLabels[r*s.K+k] = b.InputIDs[r*s.S+pos]
			b.MaskedWeight[r*s.K+k] = 1
			b.InputIDs[r*s.S+pos] = 4
		}
		b.Labels[r] = rng.IntN(2)
	}
	return b
}

// TrainFLOPs is the model's FLOPs per training step (multiply-add = 2),
// counted as the reference's flops_estimate does: the forward pass of each
// operator times 3 for those with a trained operand (dense layers, heads,
// attention, linear mixing: the backward computes two products) and times 2
// for the FFT and the Random model's fixed matrices (the backward needs only
// the input's gradient). Per layer and sequence, forward: attention 4·S²·H
// plus its four H×H projections; linear and random 2·S²·H + 2·S·H²;
// Fourier 2.5·S·H·log2(S·H); identity 0.
func TrainFLOPs(c Config, s BenchShape) float64 {
	T := float64(s.B * s.S)
	M := float64(s.B * s.K)
	B, S := float64(s.B), float64(s.S)
	H, F, V := float64(c.HiddenSize), float64(c.IntermediateSize), float64(c.VocabSize)
	dense := 2 * T * H * H // the embedding projection
	if !c.HasEmbeddingProjection() {
		dense = 0
	}
	var trained, fixed float64
	for _, k := range c.Mixings() {
		dense += 2 * T * 2 * H * F // the feed-forward sublayer
		switch k {
		case MixAttention:
			trained += B*4*S*S*H + 2*T*4*H*H
		case MixLinear:
			trained += B * (2*S*S*H + 2*S*H*H)
		case MixRandom:
			fixed += B * (2*S*S*H + 2*S*H*H)
		case MixFourier:
			fixed += B * 2.5 * S * H * math.Log2(S*H)
		}
	}
	head := 2 * M * (H*H + V*H)
	return 3*(dense+head+trained) + 2*fixed
}

// BenchArchitectures are the names bench's --arch takes: the
// architectures, and "hybrid" for the paper's FNet-Hybrid (Fourier with
// attention in the top two layers).
var BenchArchitectures = append(append([]string{}, Architectures...), "hybrid")

// WithArchitecture is cfg with a bench architecture name applied.
func WithArchitecture(cfg Config, arch string) (Config, error) {
	switch arch {
	case "", "fnet":
		cfg.Architecture = "fnet"
	case "hybrid":
		cfg.Architecture, cfg.AttentionLayers, cfg.AttentionLayout = "fnet", min(2, cfg.NumLayers), "top"
	default:
		if !slices.Contains(Architectures, arch) {
			return cfg, fmt.Errorf("unknown architecture %q (want %s)", arch, strings.Join(BenchArchitectures, ", "))
		}
		cfg.Architecture = arch
	}
	cfg.ModelType = cfg.HFModelType()
	return cfg, cfg.Validate()
}

// BenchSpec is one benchmark: a preset model with an architecture, at a
// batch shape, with the position table sized to MaxPositions (speed does
// not depend on it; a sweep sizes it to its longest length).
type BenchSpec struct {
	Preset       string
	Arch         string // a BenchArchitectures name; "" = fnet
	Shape        BenchShape
	MaxPositions int // 0 = the preset's
	Steps        int
	Warmup       int
	Mix          kernels.MixMethod
	ProfileOps   bool
}

// BenchConfig is the model a spec benchmarks (dropout off, as the reference).
func BenchConfig(spec BenchSpec) (Config, error) {
	cfg, err := PresetConfig(spec.Preset)
	if err != nil {
		return cfg, err
	}
	cfg.DropoutProb = 0
	cfg.SeqLen = spec.Shape.S
	if spec.MaxPositions > 0 {
		cfg.MaxPositions = spec.MaxPositions
	}
	if cfg.MaxPositions < cfg.SeqLen {
		cfg.MaxPositions = cfg.SeqLen
	}
	return WithArchitecture(cfg, spec.Arch)
}

// RunBench times full training steps (forward, backward, AdamW) of the CPU
// engine on a synthetic batch of the preset's shape, after warm-up.
func RunBench(preset string, steps, warmup int, mix kernels.MixMethod, profileOps bool) (*BenchResult, error) {
	shape, ok := BenchShapes[preset]
	if !ok {
		return nil, fmt.Errorf("no benchmark shape for preset %q", preset)
	}
	return RunBenchSpec(BenchSpec{Preset: preset, Shape: shape, Steps: steps, Warmup: warmup, Mix: mix, ProfileOps: profileOps})
}

// RunBenchSpec is one benchmark on the CPU engine.
func RunBenchSpec(spec BenchSpec) (*BenchResult, error) {
	cfg, err := BenchConfig(spec)
	if err != nil {
		return nil, err
	}
	eng, err := NewCPUEngine(cfg, MaskedLMHeads, DefaultAdamW, CPUOptions{Seed: 1, MixMethod: spec.Mix})
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	res, err := BenchEngine(eng, spec)
	if err != nil {
		return nil, err
	}
	if cfg.HasMixing(MixFourier) {
		res.Mixing = eng.MixMethod(spec.Shape.S).String()
	}
	return res, nil
}

// BenchEngine times training steps of an engine built for BenchConfig(spec)
// with the masked-LM head.
func BenchEngine(eng Engine, spec BenchSpec) (*BenchResult, error) {
	cfg, shape, steps, warmup := eng.Config(), spec.Shape, spec.Steps, spec.Warmup
	if steps < 1 || warmup < 0 {
		return nil, fmt.Errorf("bench: %d steps after %d warm-up steps", steps, warmup)
	}
	batch := SyntheticBatch(cfg, shape, 1)
	layers := make([]string, cfg.NumLayers)
	for l, k := range cfg.Mixings() {
		layers[l] = string(k)
	}
	res := &BenchResult{Preset: spec.Preset, Arch: benchArchName(spec.Arch), Layers: strings.Join(layers, ","), Device: eng.Device(), Threads: runtime.GOMAXPROCS(0),
		Mixing: "-", Batch: shape.B, SeqLen: shape.S, Masked: shape.K,
		Steps: steps, Warmup: warmup, GFLOPPerStep: TrainFLOPs(cfg, shape) / 1e9}
	res.FLOPsPerToken = TrainFLOPs(cfg, shape) / float64(shape.B*shape.S)
	var fb, opt []float64
	var ms runtime.MemStats
	var mallocs uint64
	for i := 0; i < warmup+steps; i++ {
		if i == warmup {
			runtime.ReadMemStats(&ms)
			mallocs = ms.Mallocs
			if spec.ProfileOps {
				ProfileOps(true)
				defer ProfileOps(false)
			}
		}
		t0 := time.Now()
		st, err := eng.ForwardBackward(batch, uint64(i), 1)
		if err != nil {
			return nil, err
		}
		t1 := time.Now()
		if _, err := eng.Step(1e-4, 0); err != nil {
			return nil, err
		}
		t2 := time.Now()
		if i == 0 {
			res.LossFirst = st.MLMLoss()
		}
		res.LossLast = st.MLMLoss()
		if i >= warmup {
			res.StepMs = append(res.StepMs, ms64(t2.Sub(t0)))
			fb = append(fb, ms64(t1.Sub(t0)))
			opt = append(opt, ms64(t2.Sub(t1)))
		}
	}
	runtime.ReadMemStats(&ms)
	res.AllocsPerStep = float64(ms.Mallocs-mallocs) / float64(max(steps, 1))
	sorted := append([]float64{}, res.StepMs...)
	sort.Float64s(sorted)
	res.MsPerStep = median(sorted)
	res.MsMin = sorted[0]
	res.MsP90 = sorted[min(len(sorted)-1, int(math.Round(0.9*float64(len(sorted)-1))))]
	sort.Float64s(fb)
	sort.Float64s(opt)
	res.FwdBwdMs, res.AdamWMs = median(fb), median(opt)
	res.TokensPerS = float64(shape.B*shape.S) / (res.MsPerStep / 1e3)
	res.GFLOPs = res.GFLOPPerStep / (res.MsPerStep / 1e3)
	for _, o := range OpProfile() {
		res.Ops = append(res.Ops, BenchOp{Op: o.Op, MsPerStep: ms64(o.Total) / float64(steps), Calls: float64(o.Calls) / float64(steps)})
	}
	return res, nil
}

func benchArchName(a string) string {
	if a == "" {
		return "fnet"
	}
	return a
}

func ms64(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
