package fnet

import (
	"fmt"
	"math"
	"runtime"

	"github.com/fnet-tui/fnet-tui/kernels"
)

// CPUEngine is the CPU implementation of Engine: gorgonia graphs of this
// package's fused operators, BLAS matmuls, and a fused AdamW over the raw
// parameter slices.
type CPUEngine struct {
	cfg   Config
	heads Heads
	opt   AdamWConfig
	specs []ParamSpec
	// trained are the specs the optimizer updates (all but the Random
	// model's fixed matrices): gradients, moments and the norm cover these.
	trained []ParamSpec

	params map[string][]float32 // bound to every graph's parameter nodes
	m, v   map[string][]float32
	step   int

	ctr       dropoutCounter
	mixMethod kernels.MixMethod
	mixers    map[[2]int]*kernels.FourierMixer
	train     graphCache
	eval      graphCache

	// gradient accumulation: the last micro-batch's gradients stay in its
	// graph (pending) until another micro-batch or Step needs them folded.
	pending      *graph
	pendingScale float32
	accum        map[string][]float32
	accumulated  bool
	zeros        []float32
}

// CPUOptions tune the CPU engine.
type CPUOptions struct {
	Seed      uint64               // parameter init (when Params is nil) and dropout masks
	Params    map[string][]float32 // initial parameters; nil draws them with InitParams
	MixMethod kernels.MixMethod    // Fourier mixing implementation (auto by default)
}

// NewCPUEngine builds a CPU engine for cfg with the given heads.
func NewCPUEngine(cfg Config, heads Heads, opt AdamWConfig, o CPUOptions) (*CPUEngine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &CPUEngine{
		cfg: cfg, heads: heads, opt: opt, specs: ParamSpecs(cfg, heads),
		ctr:       dropoutCounter{seed: o.Seed},
		mixMethod: o.MixMethod,
		mixers:    map[[2]int]*kernels.FourierMixer{},
		train:     graphCache{max: 2},
		eval:      graphCache{max: 3},
	}
	e.trained = TrainedSpecs(e.specs)
	e.params = make(map[string][]float32, len(e.specs))
	e.m = make(map[string][]float32, len(e.specs))
	e.v = make(map[string][]float32, len(e.specs))
	init := o.Params
	if init == nil {
		init = InitParams(cfg, heads, o.Seed)
	}
	for _, ps := range e.specs {
		e.params[ps.Name] = make([]float32, NumElements(ps.Shape))
	}
	for _, ps := range e.trained {
		n := NumElements(ps.Shape)
		e.m[ps.Name] = make([]float32, n)
		e.v[ps.Name] = make([]float32, n)
	}
	if err := e.SetParams(init); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *CPUEngine) Config() Config { return e.cfg }
func (e *CPUEngine) Heads() Heads   { return e.heads }

// Device describes the CPU engine, e.g. "cpu (2 threads, OpenBLAS 0.3.21 (Zen core, 2 threads))".
func (e *CPUEngine) Device() string {
	return fmt.Sprintf("cpu (%d threads, %s)", runtime.GOMAXPROCS(0), kernels.BLASName())
}

// MixMethod reports the Fourier mixing implementation used for sequence length S.
func (e *CPUEngine) MixMethod(S int) kernels.MixMethod {
	return e.mixer(S).Method
}

func (e *CPUEngine) mixer(S int) *kernels.FourierMixer {
	key := [2]int{S, e.cfg.HiddenSize}
	m, ok := e.mixers[key]
	if !ok {
		m = kernels.NewFourierMixer(S, e.cfg.HiddenSize, e.mixMethod)
		e.mixers[key] = m
	}
	return m
}

// graphCache keeps the compiled graphs of the few batch shapes in use (the
// training shape, and the last eval batch's shape when a split does not
// divide evenly).
type graphCache struct {
	max     int
	entries []*graph
}

func (c *graphCache) get(B, S, K int, build func() (*graph, error)) (*graph, error) {
	for i, g := range c.entries {
		if g.B == B && g.S == S && g.K == K {
			// move to the front
			copy(c.entries[1:i+1], c.entries[:i])
			c.entries[0] = g
			return g, nil
		}
	}
	g, err := build()
	if err != nil {
		return nil, err
	}
	c.entries = append([]*graph{g}, c.entries...)
	if len(c.entries) > c.max {
		c.entries = c.entries[:c.max]
	}
	return g, nil
}

func (e *CPUEngine) graphFor(b *Batch, train bool) (*graph, error) {
	if err := b.Validate(e.cfg); err != nil {
		return nil, err
	}
	if _, err := PlanHeads(e.cfg, e.heads, b); err != nil {
		return nil, err
	}
	cache := &e.eval
	if train {
		cache = &e.train
	}
	return cache.get(b.B, b.S, b.K, func() (*graph, error) {
		return buildGraph(graphSpec{
			cfg: e.cfg, heads: e.heads, B: b.B, S: b.S, K: b.K,
			train: train, dropout: e.cfg.DropoutProb, ctr: &e.ctr, mixer: e.mixer(b.S),
		}, e.params)
	})
}

// ForwardBackward implements Engine.
func (e *CPUEngine) ForwardBackward(b *Batch, dropoutStep uint64, scale float32) (Stats, error) {
	g, err := e.graphFor(b, true)
	if err != nil {
		return Stats{}, err
	}
	if e.pending != nil {
		e.foldPending()
	}
	g.load(b)
	e.ctr.step = dropoutStep
	if err := g.run(); err != nil {
		return Stats{}, fmt.Errorf("fnet: training step: %w", err)
	}
	e.pending, e.pendingScale = g, scale
	return g.stats(e.cfg), nil
}

// foldPending adds the pending micro-batch's scaled gradients to the accumulators.
func (e *CPUEngine) foldPending() {
	if e.accum == nil {
		e.accum = make(map[string][]float32, len(e.trained))
		for _, ps := range e.trained {
			e.accum[ps.Name] = make([]float32, NumElements(ps.Shape))
		}
	}
	s := e.pendingScale
	for name, gn := range e.pending.grads {
		src, dst := value(gn), e.accum[name]
		if !e.accumulated {
			for i, x := range src {
				dst[i] = s * x
			}
		} else {
			for i, x := range src {
				dst[i] += s * x
			}
		}
	}
	if !e.accumulated {
		for name, dst := range e.accum { // parameters without a gradient node
			if _, ok := e.pending.grads[name]; !ok {
				clear(dst)
			}
		}
	}
	e.accumulated = true
	e.pending = nil
}

// gradient returns the parameter's accumulated gradient and the scale to apply.
func (e *CPUEngine) gradient(name string, n int) ([]float32, float32) {
	if e.accumulated {
		return e.accum[name], 1
	}
	if gn, ok := e.pending.grads[name]; ok {
		return value(gn), e.pendingScale
	}
	if len(e.zeros) < n {
		e.zeros = make([]float32, n)
	}
	return e.zeros[:n], 0
}

// GradNorm is the global L2 norm of the gradients awaiting Step.
func (e *CPUEngine) GradNorm() float64 {
	if e.pending == nil && !e.accumulated {
		return 0
	}
	if e.accumulated && e.pending != nil {
		e.foldPending()
	}
	var ss float64
	for _, ps := range e.trained {
		g, s := e.gradient(ps.Name, NumElements(ps.Shape))
		ss += kernels.SumSquares(g) * float64(s) * float64(s)
	}
	return math.Sqrt(ss)
}

// AccumulatedGradients implements GradientTensors: the pending micro-batch
// is folded into the accumulators (scaled), which are returned in the
// trained parameters' order for the caller to rewrite before Step.
func (e *CPUEngine) AccumulatedGradients() ([][]float32, error) {
	if e.pending == nil && !e.accumulated {
		return nil, fmt.Errorf("fnet: AccumulatedGradients without a ForwardBackward")
	}
	if e.pending != nil {
		e.foldPending()
	}
	out := make([][]float32, len(e.trained))
	for i, ps := range e.trained {
		out[i] = e.accum[ps.Name]
	}
	return out, nil
}

// Step implements Engine.
func (e *CPUEngine) Step(lr float64, maxNorm float64) (float64, error) {
	if e.pending == nil && !e.accumulated {
		return 0, fmt.Errorf("fnet: Step without a ForwardBackward")
	}
	if e.accumulated && e.pending != nil {
		e.foldPending()
	}
	norm := e.GradNorm()
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		e.pending, e.accumulated = nil, false
		return norm, fmt.Errorf("fnet: gradient norm is %v", norm)
	}
	clip := float32(1)
	if maxNorm > 0 && norm > maxNorm {
		clip = float32(maxNorm / norm)
	}
	e.step++
	for _, ps := range e.trained {
		p := e.params[ps.Name]
		g, s := e.gradient(ps.Name, len(p))
		kernels.AdamW(p, g, e.m[ps.Name], e.v[ps.Name], lr, e.opt.Beta1, e.opt.Beta2, e.opt.Eps, e.opt.WeightDecay, e.step, s*clip)
	}
	e.pending, e.accumulated = nil, false
	return norm, nil
}

// Evaluate implements Engine.
func (e *CPUEngine) Evaluate(b *Batch) (Stats, []float32, error) {
	g, err := e.graphFor(b, false)
	if err != nil {
		return Stats{}, nil, err
	}
	g.load(b)
	if err := g.run(); err != nil {
		return Stats{}, nil, fmt.Errorf("fnet: evaluation: %w", err)
	}
	var logits []float32
	if g.taskLogits != nil {
		logits = append([]float32{}, value(g.taskLogits)...)
	}
	return g.stats(e.cfg), logits, nil
}

// MaskedLMLogits runs the model without dropout and returns the masked-LM
// logits at the batch's masked positions, [B·K, V] row-major.
func (e *CPUEngine) MaskedLMLogits(b *Batch) ([]float32, error) {
	if !e.heads.MLM {
		return nil, fmt.Errorf("fnet: the model has no masked-LM head")
	}
	g, err := e.graphFor(b, false)
	if err != nil {
		return nil, err
	}
	g.load(b)
	if err := g.run(); err != nil {
		return nil, err
	}
	return append([]float32{}, value(g.mlmLogits)...), nil
}

// HiddenStates runs the model without dropout and returns the embedding
// output and every layer's output, each [B·S, H] row-major (for probes of
// what a checkpoint's representations hold).
func (e *CPUEngine) HiddenStates(b *Batch) (embeddings []float32, layers [][]float32, err error) {
	g, err := e.graphFor(b, false)
	if err != nil {
		return nil, nil, err
	}
	g.load(b)
	if err := g.run(); err != nil {
		return nil, nil, fmt.Errorf("fnet: forward: %w", err)
	}
	embeddings = append([]float32{}, value(g.embeddings)...)
	for _, l := range g.layers {
		layers = append(layers, append([]float32{}, value(l)...))
	}
	return embeddings, layers, nil
}

// Activations returns copies of the last training run's activations under
// the reference dump's names: act.embeddings, act.layer.<i>, act.mlm_logits,
// and with the pooler act.pooled and act.nsp_logits or act.logits.
func (e *CPUEngine) Activations() map[string][]float32 {
	g := e.pending
	if g == nil && len(e.train.entries) > 0 {
		g = e.train.entries[0]
	}
	if g == nil {
		return nil
	}
	out := map[string][]float32{"act.embeddings": append([]float32{}, value(g.embeddings)...)}
	for i, l := range g.layers {
		out[fmt.Sprintf("act.layer.%d", i)] = append([]float32{}, value(l)...)
	}
	if g.mlmLogits != nil {
		out["act.mlm_logits"] = append([]float32{}, value(g.mlmLogits)...)
	}
	addHeadActivations(g, out) // act.pooled, act.nsp_logits, act.logits (parity.go)
	return out
}

// Gradients returns copies of the gradients awaiting Step, scaled.
func (e *CPUEngine) Gradients() map[string][]float32 {
	out := map[string][]float32{}
	if e.pending == nil && !e.accumulated {
		return out
	}
	if e.accumulated && e.pending != nil {
		e.foldPending() // include the last micro-batch
	}
	for _, ps := range e.trained {
		g, s := e.gradient(ps.Name, NumElements(ps.Shape))
		c := make([]float32, len(g))
		for i, x := range g {
			c[i] = s * x
		}
		out[ps.Name] = c
	}
	return out
}

// Params implements Engine.
func (e *CPUEngine) Params() (map[string][]float32, error) { return copyMap(e.params), nil }

// SetParams implements Engine: every parameter must be present with the right size.
func (e *CPUEngine) SetParams(p map[string][]float32) error {
	if err := CheckTensorSet("parameters", e.specs, p); err != nil {
		return err
	}
	for _, ps := range e.specs {
		copy(e.params[ps.Name], p[ps.Name])
	}
	return nil
}

// Optimizer implements Engine.
func (e *CPUEngine) Optimizer() (OptimizerState, error) {
	return OptimizerState{Step: e.step, M: copyMap(e.m), V: copyMap(e.v)}, nil
}

// SetOptimizer implements Engine.
func (e *CPUEngine) SetOptimizer(s OptimizerState) error {
	if err := CheckTensorSet("optimizer first moments", e.trained, s.M); err != nil {
		return err
	}
	if err := CheckTensorSet("optimizer second moments", e.trained, s.V); err != nil {
		return err
	}
	for _, ps := range e.trained {
		copy(e.m[ps.Name], s.M[ps.Name])
		copy(e.v[ps.Name], s.V[ps.Name])
	}
	e.step = s.Step
	return nil
}

// Close implements Engine.
func (e *CPUEngine) Close() error {
	e.train.entries, e.eval.entries, e.pending = nil, nil, nil
	return nil
}

func copyMap(m map[string][]float32) map[string][]float32 {
	out := make(map[string][]float32, len(m))
	for k, v := range m {
		out[k] = append([]float32{}, v...)
	}
	return out
}

var _ Engine = (*CPUEngine)(nil)
