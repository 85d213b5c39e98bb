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
	AdamW     struct {
		LR          float64   `json:"lr"`
		Betas       []float64 `json:"betas"`
		Eps         float64   `json:"eps"`
		WeightDecay float64   `json:"weight_decay"`
	} `json:"adamw"`
}

// ModelConfig converts the reference's config to ours (no dropout: the
// reference dumps without it).
func (r RefConfig) ModelConfig() (Config, AdamWConfig, error) {
	if r.Model != "" && r.Model != "fnet" {
		return Config{}, AdamWConfig{}, fmt.Errorf("reference model is %q, not fnet", r.Model)
	}
	if r.GELU != "" && r.GELU != "tanh" {
		return Config{}, AdamWConfig{}, fmt.Errorf("reference uses %q GELU; FNet uses the tanh approximation", r.GELU)
	}
	if r.MLMHead != "" && r.MLMHead != "masked" {
		return Config{}, AdamWConfig{}, fmt.Errorf("reference mlm_head %q: only the masked-positions head is supported", r.MLMHead)
	}
	c := DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumLayers, c.IntermediateSize = r.Vocab, r.Hidden, r.Layers, r.FFN
	c.MaxPositions, c.TypeVocabSize, c.SeqLen = r.MaxPos, r.TypeVocab, r.Seq
	c.LayerNormEps, c.DropoutProb, c.PadTokenID = r.LNEps, 0, r.PadID
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

// ParityRow is one compared tensor.
type ParityRow struct {
	Name      string
	RelErr    float64 // ||ours − ref|| / ||ref||
	MaxAbs    float64
	UpdateErr float64 // param_after_step only: relative error of the update (after − before)
	Err       string  // a structural problem (missing, misshaped)
}

// ParityReport is the outcome of RunParity.
type ParityReport struct {
	Config Config
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
	Engine      Engine
	Activations func() (map[string][]float32, error) // act.embeddings, act.layer.<i>, act.mlm_logits
	Gradients   func() (map[string][]float32, error) // by parameter name, awaiting Step
}

// RunParity loads a reference weights/expect pair, runs forward, backward
// and one AdamW step on the stored batch with the CPU engine, and compares
// the loss, every activation, every gradient and every updated parameter.
func RunParity(weightsPath, expectPath string, mix MixOption) (*ParityReport, error) {
	return RunParityOn(weightsPath, expectPath, func(cfg Config, opt AdamWConfig, params map[string][]float32) (*ParityTarget, error) {
		eng, err := NewCPUEngine(cfg, MaskedLMHeads, opt, CPUOptions{Params: params, MixMethod: mix.Method})
		if err != nil {
			return nil, err
		}
		return &ParityTarget{Engine: eng,
			Activations: func() (map[string][]float32, error) { return eng.Activations(), nil },
			Gradients:   func() (map[string][]float32, error) { return eng.Gradients(), nil }}, nil
	})
}

// ParityCase is a reference dump read back: the model it describes, its
// initial weights and the batch it was run on.
type ParityCase struct {
	Ref          RefConfig
	ConfigSource string
	Config       Config
	AdamW        AdamWConfig
	Params       map[string][]float32
	Batch        *Batch
	Expect       *safetensors.File
}

// LoadParityCase reads a weights/expect pair written by the reference's
// dump_to_safetensors.py.
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
	params, err := ParamsFromFile(wf, cfg, MaskedLMHeads)
	if err != nil {
		return nil, err
	}
	batch, err := batchFromExpect(ef, cfg)
	if err != nil {
		return nil, err
	}
	return &ParityCase{Ref: rc, ConfigSource: source, Config: cfg, AdamW: opt, Params: params, Batch: batch, Expect: ef}, nil
}

// RunParityOn runs the parity check on the engine build makes for the
// reference's model (CPU here, CUDA in package cuda).
func RunParityOn(weightsPath, expectPath string, build func(cfg Config, opt AdamWConfig, params map[string][]float32) (*ParityTarget, error)) (*ParityReport, error) {
	pc, err := LoadParityCase(weightsPath, expectPath)
	if err != nil {
		return nil, err
	}
	ef, cfg, params := pc.Expect, pc.Config, pc.Params
	target, err := build(cfg, pc.AdamW, params)
	if err != nil {
		return nil, err
	}
	eng := target.Engine
	defer eng.Close()
	st, err := eng.ForwardBackward(pc.Batch, 0, 1)
	if err != nil {
		return nil, err
	}
	rep := &ParityReport{Config: cfg, LR: pc.Ref.AdamW.LR, ConfigSource: pc.ConfigSource, Device: eng.Device()}
	cmp := func(name string, ours []float32, oursF64 []float64) {
		ref, err := ef.Get(name)
		if err != nil {
			rep.Rows = append(rep.Rows, ParityRow{Name: name, Err: "missing in the reference file"})
			return
		}
		rep.Rows = append(rep.Rows, compareTensor(name, ours, oursF64, ref))
	}
	cmp("loss", nil, []float64{st.MLMLoss()})
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
	for _, ps := range ParamSpecs(cfg, MaskedLMHeads) {
		cmp("grad."+ps.Name, grads[ps.Name], nil)
	}
	if _, err := eng.Step(pc.Ref.AdamW.LR, 0); err != nil {
		return nil, err
	}
	after, err := eng.Params()
	if err != nil {
		return nil, err
	}
	for _, ps := range ParamSpecs(cfg, MaskedLMHeads) {
		name := "param_after_step." + ps.Name
		ref, err := ef.Get(name)
		if err != nil {
			rep.Rows = append(rep.Rows, ParityRow{Name: name, Err: "missing in the reference file"})
			continue
		}
		row := compareTensor(name, after[ps.Name], nil, ref)
		row.UpdateErr = updateError(params[ps.Name], after[ps.Name], ref, pc.Ref.AdamW.LR)
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
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

func compareTensor(name string, ours []float32, oursF64 []float64, ref *safetensors.Tensor) ParityRow {
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
	rel := math.Sqrt(num) / math.Max(math.Sqrt(den), 1e-30)
	if den == 0 && num == 0 {
		rel = 0
	}
	return ParityRow{Name: name, RelErr: rel, MaxAbs: mx}
}

func batchFromExpect(f *safetensors.File, c Config) (*Batch, error) {
	get := func(name string) (*safetensors.Tensor, error) {
		t, err := f.Get(name)
		if err != nil {
			return nil, err
		}
		if t.Int == nil {
			return nil, fmt.Errorf("%s: %s is %s, want an integer tensor", f.Path, name, t.DType)
		}
		if len(t.Shape) != 2 {
			return nil, fmt.Errorf("%s: %s has shape %v, want [batch, n]", f.Path, name, t.Shape)
		}
		return t, nil
	}
	ids, err := get("input.input_ids")
	if err != nil {
		return nil, err
	}
	tt, err := get("input.token_type_ids")
	if err != nil {
		return nil, err
	}
	pos, err := get("input.masked_positions")
	if err != nil {
		return nil, err
	}
	lbl, err := get("input.masked_labels")
	if err != nil {
		return nil, err
	}
	B, S, K := ids.Shape[0], ids.Shape[1], pos.Shape[1]
	w := make([]float32, B*K)
	for i := range w {
		w[i] = 1
	}
	b := &Batch{B: B, S: S, K: K, InputIDs: ids.Int, TypeIDs: tt.Int, MaskedPos: pos.Int, MaskedLabels: lbl.Int, MaskedWeight: w}
	if err := b.Validate(c); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	return b, nil
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
