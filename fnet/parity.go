package fnet

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/fnet-tui/fnet-tui/kernels"
	"github.com/fnet-tui/fnet-tui/safetensors"
	G "gorgonia.org/gorgonia"
)

// RefConfig is the config JSON the PyTorch reference (../shared/ref)
// stores in its dumps' __metadata__ "config" entry.
type RefConfig struct {
	Model     string  `json:"model"`
	Vocab     int     `json:"vocab"`
	Hidden    int     `json:"hidden"`
	Layers    int     `json:"layers"`
	FFN       int     `json:"ffn"`
	Seq       int     `json:"seq"`
	Batch     int     `json:"batch"`
	MaxPos    int     `json:"max_pos"`
	TypeVocab int     `json:"type_vocab"`
	NumMasked int     `json:"num_masked"`
	MLMHead   string  `json:"mlm_head"`
	GELU      string  `json:"gelu"`
	LNEps     float64 `json:"ln_eps"`
	PadID     int     `json:"pad_id"`
	// MixingLayers is the token mixing of each layer (fourier, attention,
	// linear, random, identity); hybrids mix kinds.
	MixingLayers []string `json:"mixing_layers"`
	// TaskHeads is mlm (also when absent), pretraining or classifier;
	// NumLabels the width of the sentence-level head (2 for NSP, N for the
	// classifier, 1 = regression).
	TaskHeads string `json:"task_heads"`
	NumLabels int    `json:"num_labels"`
	// The attention layers: head count, and a hybrid's layer count and
	// layout (bert records every layer and "all").
	AttnHeads       int    `json:"heads"`
	AttentionLayers int    `json:"attention_layers"`
	AttentionLayout string `json:"attention_layout"`
	AdamW           struct {
		LR          float64   `json:"lr"`
		Betas       []float64 `json:"betas"`
		Eps         float64   `json:"eps"`
		WeightDecay float64   `json:"weight_decay"`
	} `json:"adamw"`
}

// UnsupportedArchitectureError is a model an engine does not build (the
// CUDA engine refuses attention past its dropout-site range, layer 1024).
type UnsupportedArchitectureError struct {
	Arch   string // the architecture, e.g. "bert" or "fnet+2 top attention"
	Engine string // "the CUDA engine"
	Detail string
}

func (e *UnsupportedArchitectureError) Error() string {
	msg := fmt.Sprintf("architecture %s is not supported by %s yet", e.Arch, e.Engine)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

// Architecture is the model the reference describes, as our config's
// architecture fields; the reference's per-layer mixing_layers must be what
// those fields give (the reference's list is authoritative).
func (r RefConfig) Architecture(c *Config) error {
	switch r.Model {
	case "", "fnet":
		c.Architecture = "fnet"
	case "bert", "linear", "random", "ff_only":
		c.Architecture = r.Model
	default:
		return fmt.Errorf("reference model %q: want fnet, bert, linear, random or ff_only", r.Model)
	}
	if r.Model != "bert" {
		c.AttentionLayers, c.AttentionLayout = r.AttentionLayers, r.AttentionLayout
	}
	c.NumHeads = r.AttnHeads
	if len(r.MixingLayers) > 0 {
		got := make([]string, c.NumLayers)
		for l, k := range c.Mixings() {
			got[l] = string(k)
		}
		if strings.Join(got, ",") != strings.Join(r.MixingLayers, ",") {
			return fmt.Errorf("reference mixing_layers %v, but %s gives %v", r.MixingLayers, c.ArchString(), got)
		}
	}
	return nil
}

// Heads are the heads the reference model has: its task_heads (a missing
// entry is mlm, as the reference documents).
func (r RefConfig) Heads() (Heads, error) {
	switch r.TaskHeads {
	case "", "mlm":
		return MaskedLMHeads, nil
	case "pretraining":
		if r.NumLabels != 0 && r.NumLabels != 2 {
			return Heads{}, fmt.Errorf("reference task_heads pretraining with num_labels %d: next-sentence prediction has 2", r.NumLabels)
		}
		return PretrainingHeads, nil
	case "classifier":
		if r.NumLabels < 1 {
			return Heads{}, fmt.Errorf("reference task_heads classifier with num_labels %d", r.NumLabels)
		}
		return ClassifierHeads, nil
	}
	return Heads{}, fmt.Errorf("reference task_heads %q: want mlm, pretraining or classifier", r.TaskHeads)
}

// ModelConfig converts the reference's config to ours (no dropout: the
// reference dumps without it; a classifier's NumLabels from num_labels).
func (r RefConfig) ModelConfig() (Config, AdamWConfig, error) {
	heads, err := r.Heads()
	if err != nil {
		return Config{}, AdamWConfig{}, err
	}
	gelu := "gelu_new"
	switch r.GELU {
	case "", "tanh":
	case "erf":
		gelu = "gelu"
	default:
		return Config{}, AdamWConfig{}, fmt.Errorf("reference GELU %q: want tanh or erf", r.GELU)
	}
	if r.MLMHead != "" && r.MLMHead != "masked" {
		return Config{}, AdamWConfig{}, fmt.Errorf("reference mlm_head %q: only the masked-positions head is supported", r.MLMHead)
	}
	c := DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumLayers, c.IntermediateSize = r.Vocab, r.Hidden, r.Layers, r.FFN
	c.MaxPositions, c.TypeVocabSize, c.SeqLen = r.MaxPos, r.TypeVocab, r.Seq
	c.LayerNormEps, c.DropoutProb, c.PadTokenID, c.HiddenAct = r.LNEps, 0, r.PadID, gelu
	if heads.Classifier {
		c.NumLabels = r.NumLabels
	}
	if err := r.Architecture(&c); err != nil {
		return Config{}, AdamWConfig{}, err
	}
	c.ModelType = c.HFModelType()
	opt := DefaultAdamW
	if len(r.AdamW.Betas) == 2 {
		opt.Beta1, opt.Beta2 = r.AdamW.Betas[0], r.AdamW.Betas[1]
	}
	if r.AdamW.Eps > 0 {
		opt.Eps = r.AdamW.Eps
	}
	opt.WeightDecay = r.AdamW.WeightDecay
	return c, opt, c.Validate()
}

// ParityRow is one compared tensor, or one point of the loss curve.
type ParityRow struct {
	Name   string
	RelErr float64 // ||ours − ref|| / ||ref||
	MaxAbs float64
	// UpdateErr is the relative error of a change the optimizer made:
	// for param_after_step.* the update (after − before), for
	// loss_curve[i] (i ≥ 1) the loss change since step 0.
	UpdateErr float64
	Err       string // a structural problem (missing, misshaped)
}

// ParityReport is the outcome of RunParity.
type ParityReport struct {
	Config Config
	Heads  Heads
	Rows   []ParityRow
	LR     float64
	// ConfigSource says where the reference config came from.
	ConfigSource string
	Device       string
}

// Worst returns the largest error of any row (a structural problem counts as +Inf).
func (r *ParityReport) Worst() (float64, string) {
	worst, name := 0.0, ""
	for _, row := range r.Rows {
		e := math.Max(row.RelErr, row.UpdateErr)
		if row.Err != "" || math.IsNaN(e) {
			e = math.Inf(1)
		}
		if e > worst {
			worst, name = e, row.Name
		}
	}
	return worst, name
}

// ParityTarget is an engine under a parity check, with the views of its
// last forward/backward the comparison needs.
type ParityTarget struct {
	Engine Engine
	// Activations: act.embeddings, act.layer.<i>, and per head
	// act.mlm_logits, act.pooled, act.nsp_logits, act.logits.
	Activations func() (map[string][]float32, error)
	Gradients   func() (map[string][]float32, error) // by parameter name, awaiting Step
}

// ParityBuild makes the engine under check for the reference's model, heads
// and optimizer, starting from the reference's parameters.
type ParityBuild func(cfg Config, heads Heads, opt AdamWConfig, params map[string][]float32) (*ParityTarget, error)

// RunParity loads a reference weights/expect pair, runs forward, backward
// and AdamW steps on the stored batch with the CPU engine, and compares
// the losses, every activation, every gradient, every updated parameter
// and the loss curve.
func RunParity(weightsPath, expectPath string, mix MixOption) (*ParityReport, error) {
	return RunParityOn(weightsPath, expectPath, CPUParityBuild(mix))
}

// CPUParityBuild builds the CPU engine for a parity check.
func CPUParityBuild(mix MixOption) ParityBuild {
	return func(cfg Config, heads Heads, opt AdamWConfig, params map[string][]float32) (*ParityTarget, error) {
		eng, err := NewCPUEngine(cfg, heads, opt, CPUOptions{Params: params, MixMethod: mix.Method})
		if err != nil {
			return nil, err
		}
		return &ParityTarget{Engine: eng,
			Activations: func() (map[string][]float32, error) { return eng.Activations(), nil },
			Gradients:   func() (map[string][]float32, error) { return eng.Gradients(), nil }}, nil
	}
}

// ParityCase is a reference dump read back: the model it describes, its
// initial weights and the batch it was run on.
type ParityCase struct {
	Ref          RefConfig
	ConfigSource string
	Config       Config
	Heads        Heads
	AdamW        AdamWConfig
	Params       map[string][]float32
	Batch        *Batch
	Expect       *safetensors.File
}

// LoadParityCase reads a weights/expect pair written by the reference's
// dump_to_safetensors.py. A model the Go engines do not build is an
// *UnsupportedArchitectureError.
func LoadParityCase(weightsPath, expectPath string) (*ParityCase, error) {
	wf, err := safetensors.ReadFile(weightsPath)
	if err != nil {
		return nil, err
	}
	ef, err := safetensors.ReadFile(expectPath)
	if err != nil {
		return nil, err
	}
	rc, source, err := refConfig(wf, ef)
	if err != nil {
		return nil, err
	}
	cfg, opt, err := rc.ModelConfig()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", expectPath, err)
	}
	heads, err := rc.Heads()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", expectPath, err)
	}
	params, err := ParamsFromFile(wf, cfg, heads)
	if err != nil {
		return nil, err
	}
	batch, err := batchFromExpect(ef, cfg, heads)
	if err != nil {
		return nil, err
	}
	return &ParityCase{Ref: rc, ConfigSource: source, Config: cfg, Heads: heads, AdamW: opt, Params: params, Batch: batch, Expect: ef}, nil
}

// parityLoss is the loss the reference stores as "loss" for the heads, from
// our Stats sums: the mean MLM cross-entropy over the masked positions; for
// pretraining plus the mean NSP cross-entropy over the sequences; for the
// classifier the mean cross-entropy (or, with one output, the mean squared
// error) over the sequences.
func parityLoss(h Heads, st Stats) float64 {
	switch {
	case h.Classifier:
		return st.TaskLoss()
	case h.NSP:
		return st.PretrainLoss()
	}
	return st.MLMLoss()
}

// RunParityOn runs the parity check on the engine build makes for the
// reference's model (CPU here, CUDA in package cuda): forward and backward
// on the stored batch (losses, activations, gradients), one AdamW step with
// the reference's learning rate (every parameter and its update), then the
// reference's loss curve: it repeats forward, backward and an AdamW step on
// the same batch at the same learning rate (no schedule), storing the loss
// before each step, so loss_curve[0] is "loss" and loss_curve[i] the loss
// after i steps. Steps after the first are where β1, β2 and the bias
// correction show (the first AdamW update is about lr·sign(g) whatever the
// betas).
func RunParityOn(weightsPath, expectPath string, build ParityBuild) (*ParityReport, error) {
	pc, err := LoadParityCase(weightsPath, expectPath)
	if err != nil {
		return nil, err
	}
	ef, cfg, heads, params := pc.Expect, pc.Config, pc.Heads, pc.Params
	lr := pc.Ref.AdamW.LR
	target, err := build(cfg, heads, pc.AdamW, params)
	if err != nil {
		return nil, err
	}
	eng := target.Engine
	defer eng.Close()
	st, err := eng.ForwardBackward(pc.Batch, 0, 1)
	if err != nil {
		return nil, err
	}
	rep := &ParityReport{Config: cfg, Heads: heads, LR: lr, ConfigSource: pc.ConfigSource, Device: eng.Device()}
	// A tensor the reference holds at zero up to rounding (attention's key
	// bias gradient: softmax ignores a per-row constant, so it is exactly
	// zero in exact arithmetic) is compared against a floor instead of its
	// own norm: a millionth of the whole reference gradient for grad.*.
	gradFloor := 1e-6 * refGradNorm(ef)
	cmp := func(name string, ours []float32, oursF64 []float64) {
		ref, err := ef.Get(name)
		if err != nil {
			rep.Rows = append(rep.Rows, ParityRow{Name: name, Err: "missing in the reference file"})
			return
		}
		floor := 0.0
		if strings.HasPrefix(name, "grad.") {
			floor = gradFloor
		}
		rep.Rows = append(rep.Rows, compareTensor(name, ours, oursF64, ref, floor))
	}
	loss0 := parityLoss(heads, st)
	cmp("loss", nil, []float64{loss0})
	if heads.NSP {
		cmp("loss_mlm", nil, []float64{st.MLMLoss()})
		cmp("loss_nsp", nil, []float64{st.NSPLoss()})
	}
	acts, err := target.Activations()
	if err != nil {
		return nil, err
	}
	for _, n := range sortedKeys(acts) {
		cmp(n, acts[n], nil)
	}
	for _, n := range ef.Names() {
		if strings.HasPrefix(n, "act.") {
			if _, ok := acts[n]; !ok {
				rep.Rows = append(rep.Rows, ParityRow{Name: n, Err: "not produced by the Go model"})
			}
		}
	}
	grads, err := target.Gradients()
	if err != nil {
		return nil, err
	}
	// the Random model's fixed matrices have no grad.* or param_after_step.*
	specs := TrainedSpecs(ParamSpecs(cfg, heads))
	for _, ps := range specs {
		cmp("grad."+cfg.HFName(ps.Name), grads[ps.Name], nil)
	}
	if _, err := eng.Step(lr, 0); err != nil {
		return nil, err
	}
	after, err := eng.Params()
	if err != nil {
		return nil, err
	}
	for _, ps := range specs {
		name := "param_after_step." + cfg.HFName(ps.Name)
		ref, err := ef.Get(name)
		if err != nil {
			rep.Rows = append(rep.Rows, ParityRow{Name: name, Err: "missing in the reference file"})
			continue
		}
		// a floor of one learning-rate step per element: a parameter that
		// starts at zero (BERT's biases) and barely moves is judged by its
		// update (UpdateErr), not by its own tiny norm
		row := compareTensor(name, after[ps.Name], nil, ref, lr*math.Sqrt(float64(len(after[ps.Name]))))
		if row.Err == "" { // a misshaped reference tensor is reported, never indexed
			row.UpdateErr = updateError(params[ps.Name], after[ps.Name], ref, lr)
		}
		rep.Rows = append(rep.Rows, row)
	}
	for _, ps := range ParamSpecs(cfg, heads) {
		if ps.Fixed { // never trained: the step must leave it bit for bit
			row := ParityRow{Name: "fixed." + cfg.HFName(ps.Name)}
			for i, v := range after[ps.Name] {
				if math.Float32bits(v) != math.Float32bits(params[ps.Name][i]) {
					row.Err = fmt.Sprintf("changed by the AdamW step at element %d", i)
					break
				}
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
	curve, err := ef.Get("loss_curve")
	if err != nil {
		rep.Rows = append(rep.Rows, ParityRow{Name: "loss_curve", Err: "missing in the reference file"})
		return rep, nil
	}
	ours := []float64{loss0}
	for i := 1; i < curve.NumElements(); i++ {
		if i > 1 {
			if _, err := eng.Step(lr, 0); err != nil {
				return nil, fmt.Errorf("loss curve, AdamW step %d: %w", i, err)
			}
		}
		st, err := eng.ForwardBackward(pc.Batch, uint64(i), 1)
		if err != nil {
			return nil, fmt.Errorf("loss curve, forward/backward after %d steps: %w", i, err)
		}
		ours = append(ours, parityLoss(heads, st))
	}
	rep.Rows = append(rep.Rows, compareCurve(ours, curve)...)
	return rep, nil
}

// compareCurve compares the loss curve point by point: the relative error
// of each loss, and for each point after a step the relative error of the
// loss change that step made, curve[i] − curve[i−1]. The change is what the
// optimizer's betas and bias correction decide, and it is small next to
// the loss (0.1% to 1% per step on the fixtures), so the relative error of
// the loss alone would let a wrong optimizer through: with β1 = 0.5 the
// second step's loss moves by 1e-3 to 1e-2 of that step's change, and by
// only 1e-5 of the loss. Its floor, 1e-6 of the loss, keeps a step that
// does not move the loss from dividing by zero.
func compareCurve(ours []float64, ref *safetensors.Tensor) []ParityRow {
	rows := make([]ParityRow, len(ours))
	for i, o := range ours {
		r := ref.Float64(i)
		d := math.Abs(o - r)
		row := ParityRow{Name: fmt.Sprintf("loss_curve[%d]", i), RelErr: d / math.Max(math.Abs(r), 1e-30), MaxAbs: d}
		if i > 0 {
			dr, do := r-ref.Float64(i-1), o-ours[i-1]
			row.UpdateErr = math.Abs(do-dr) / math.Max(math.Abs(dr), 1e-6*math.Abs(r))
		}
		rows[i] = row
	}
	return rows
}

// updateError compares the AdamW update (after − before) itself, as the
// reference's --compare does: a relative error of the parameters alone is
// dominated by their initial values. A float32 parameter cannot hold its
// update more finely than one ulp (at 1.0 that is 1.2e-7, 0.1% of a 1e-4
// step), so that much difference per element is not counted.
func updateError(before, after []float32, ref *safetensors.Tensor, lr float64) float64 {
	var num, den float64
	for i := range before {
		ru := ref.Float64(i) - float64(before[i])
		ou := float64(after[i]) - float64(before[i])
		d := math.Max(0, math.Abs(ou-ru)-ulp32(after[i]))
		num += d * d
		den += ru * ru
	}
	floor := lr * 1e-2 * math.Sqrt(float64(len(before)))
	return math.Sqrt(num) / math.Max(math.Sqrt(den), floor)
}

// MixOption selects the mixing implementation for parity runs.
type MixOption struct{ Method kernels.MixMethod }

// refGradNorm is the L2 norm of all the reference's gradients together.
func refGradNorm(ef *safetensors.File) float64 {
	var ss float64
	for _, n := range ef.Names() {
		if !strings.HasPrefix(n, "grad.") {
			continue
		}
		t, err := ef.Get(n)
		if err != nil {
			continue
		}
		for i := 0; i < t.NumElements(); i++ {
			ss += t.Float64(i) * t.Float64(i)
		}
	}
	return math.Sqrt(ss)
}

// compareTensor is ||ours − ref|| / max(||ref||, floor) and the largest
// absolute difference.
func compareTensor(name string, ours []float32, oursF64 []float64, ref *safetensors.Tensor, floor float64) ParityRow {
	n := ref.NumElements()
	get := func(i int) float64 {
		if oursF64 != nil {
			return oursF64[i]
		}
		return float64(ours[i])
	}
	have := len(ours)
	if oursF64 != nil {
		have = len(oursF64)
	}
	if have != n {
		return ParityRow{Name: name, Err: fmt.Sprintf("ours has %d values, reference %v has %d", have, ref.Shape, n)}
	}
	var num, den, mx float64
	for i := 0; i < n; i++ {
		r := ref.Float64(i)
		d := get(i) - r
		num += d * d
		den += r * r
		mx = math.Max(mx, math.Abs(d))
	}
	rel := math.Sqrt(num) / math.Max(math.Max(math.Sqrt(den), floor), 1e-30)
	if den == 0 && num == 0 {
		rel = 0
	}
	return ParityRow{Name: name, RelErr: rel, MaxAbs: mx}
}

// batchFromExpect reads the reference's batch: input_ids and token_type_ids
// [B, S]; for the masked-LM head masked_positions and masked_labels [B, K];
// for pretraining nsp_labels [B] (int64); for the classifier labels [B]
// (int64 classes, or float scores for a one-output regression).
func batchFromExpect(f *safetensors.File, c Config, h Heads) (*Batch, error) {
	get := func(name string, dims int) (*safetensors.Tensor, error) {
		t, err := f.Get(name)
		if err != nil {
			return nil, err
		}
		if t.Int == nil {
			return nil, fmt.Errorf("%s: %s is %s, want an integer tensor", f.Path, name, t.DType)
		}
		if len(t.Shape) != dims {
			return nil, fmt.Errorf("%s: %s has shape %v, want %d dimensions", f.Path, name, t.Shape, dims)
		}
		return t, nil
	}
	ids, err := get("input.input_ids", 2)
	if err != nil {
		return nil, err
	}
	tt, err := get("input.token_type_ids", 2)
	if err != nil {
		return nil, err
	}
	B, S := ids.Shape[0], ids.Shape[1]
	b := &Batch{B: B, S: S, InputIDs: ids.Int, TypeIDs: tt.Int}
	if h.MLM {
		pos, err := get("input.masked_positions", 2)
		if err != nil {
			return nil, err
		}
		lbl, err := get("input.masked_labels", 2)
		if err != nil {
			return nil, err
		}
		if pos.Shape[0] != B || !sameShape(lbl.Shape, pos.Shape) {
			return nil, fmt.Errorf("%s: input.masked_positions %v and input.masked_labels %v, want [%d, K] both", f.Path, pos.Shape, lbl.Shape, B)
		}
		b.K = pos.Shape[1]
		b.MaskedPos, b.MaskedLabels = pos.Int, lbl.Int
		b.MaskedWeight = make([]float32, B*b.K)
		for i := range b.MaskedWeight {
			b.MaskedWeight[i] = 1
		}
	}
	switch {
	case h.NSP:
		lbl, err := get("input.nsp_labels", 1)
		if err != nil {
			return nil, err
		}
		b.Labels = lbl.Int
	case h.Classifier && c.ClassifierOutputs() == 1:
		t, err := f.Get("input.labels")
		if err != nil {
			return nil, err
		}
		if t.F64 == nil && t.F32 == nil {
			return nil, fmt.Errorf("%s: input.labels is %s, want float regression targets", f.Path, t.DType)
		}
		if len(t.Shape) != 1 {
			return nil, fmt.Errorf("%s: input.labels has shape %v, want [batch]", f.Path, t.Shape)
		}
		b.Targets = make([]float32, t.NumElements())
		for i := range b.Targets {
			b.Targets[i] = float32(t.Float64(i))
		}
	case h.Classifier:
		lbl, err := get("input.labels", 1)
		if err != nil {
			return nil, err
		}
		b.Labels = lbl.Int
	}
	if err := b.Validate(c); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	if _, err := PlanHeads(c, h, b); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	return b, nil
}

// addHeadActivations adds the outputs of the pooler and the sentence-level
// heads of a run graph under the reference's names: act.pooled [B, H],
// act.nsp_logits [B, 2], act.logits [B, NumLabels] (nodes the graph keeps).
func addHeadActivations(g *graph, out map[string][]float32) {
	for name, n := range map[string]*G.Node{"act.pooled": g.pooled, "act.nsp_logits": g.nspLogits, "act.logits": g.taskLogits} {
		if n != nil && n.Value() != nil {
			out[name] = append([]float32{}, value(n)...)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// refConfig finds the reference's config: the "config" metadata entry of
// either file, else the PREFIX.json the reference writes beside its dumps.
// (The shared fixtures' metadata holds numpy's abbreviated repr of the JSON
// bytes, "[123  10  32 ...]", rather than the JSON: dump_to_safetensors.py
// stores str() of a uint8 array. testdata/parity/make_fixtures.py writes it
// correctly.)
func refConfig(wf, ef *safetensors.File) (RefConfig, string, error) {
	var rc RefConfig
	var tried []string
	for _, f := range []*safetensors.File{ef, wf} {
		raw, ok := f.Metadata["config"]
		if !ok {
			continue
		}
		if err := json.Unmarshal([]byte(raw), &rc); err == nil {
			return rc, f.Path + " __metadata__", nil
		}
		tried = append(tried, f.Path+" __metadata__ (not JSON)")
	}
	for _, f := range []*safetensors.File{ef, wf} {
		prefix := strings.TrimSuffix(strings.TrimSuffix(f.Path, ".safetensors"), ".expect")
		prefix = strings.TrimSuffix(prefix, ".weights")
		side := prefix + ".json"
		raw, err := os.ReadFile(side)
		if err != nil {
			tried = append(tried, side+" (absent)")
			continue
		}
		if err := json.Unmarshal(raw, &rc); err != nil {
			return rc, "", fmt.Errorf("%s: %w", side, err)
		}
		return rc, side, nil
	}
	return rc, "", fmt.Errorf("no reference config found; tried %s", strings.Join(tried, ", "))
}

// ulp32 is the spacing of float32 values at x.
func ulp32(x float32) float64 {
	b := math.Float32bits(x) &^ (1 << 31)
	return float64(math.Float32frombits(b+1)) - float64(math.Float32frombits(b))
}
