package cuda

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"unsafe"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/safetensors"
)

// Activations copies out the last forward pass's encoder outputs under the
// reference's names: act.embeddings, act.layer.<i>, and act.mlm_logits
// (with the output bias) when the masked-LM head ran.
func (e *Engine) Activations() (map[string][]float32, error) {
	unlock, err := e.enter()
	if err != nil {
		return nil, err
	}
	defer unlock()
	a := e.act
	if a == nil {
		return nil, fmt.Errorf("cuda engine: no forward pass has run")
	}
	H, L, V := e.cfg.HiddenSize, e.cfg.NumLayers, e.cfg.VocabSize
	T, M := a.B*a.S, a.B*a.K
	out := map[string][]float32{}
	read := func(p DevPtr, n int) ([]float32, error) {
		h := make([]float32, n)
		return h, e.s.drv.dtoh(unsafe.Pointer(&h[0]), p, 4*n, e.stream)
	}
	for l := 0; l <= L; l++ {
		x, err := read(a.x[l], T*H)
		if err != nil {
			return nil, err
		}
		if e.seqMajor {
			x = fromSeqMajor(x, a.B, a.S)
		}
		name := fmt.Sprintf("act.layer.%d", l-1)
		if l == 0 {
			name = "act.embeddings"
		}
		out[name] = x
	}
	if e.heads.MLM && M > 0 {
		lg, err := read(a.logits, M*V)
		if err != nil {
			return nil, err
		}
		bias, err := read(e.param(e.params, fnet.MLMBias), V)
		if err != nil {
			return nil, err
		}
		for r := 0; r < M; r++ {
			for v := 0; v < V; v++ {
				lg[r*V+v] += bias[v]
			}
		}
		out["act.mlm_logits"] = lg
	}
	return out, nil
}

// refConfigFor reads the PyTorch reference's config: the "config" metadata
// of either file, else the PREFIX.json beside them.
func refConfigFor(wf, ef *safetensors.File) (fnet.RefConfig, error) {
	var rc fnet.RefConfig
	for _, f := range []*safetensors.File{ef, wf} {
		if raw, ok := f.Metadata["config"]; ok && json.Unmarshal([]byte(raw), &rc) == nil {
			return rc, nil
		}
	}
	prefix := strings.TrimSuffix(strings.TrimSuffix(ef.Path, ".safetensors"), ".expect")
	raw, err := os.ReadFile(prefix + ".json")
	if err != nil {
		return rc, fmt.Errorf("no reference config in %s's metadata nor in %s.json: %w", ef.Path, prefix, err)
	}
	if err := json.Unmarshal(raw, &rc); err != nil {
		return rc, fmt.Errorf("%s.json: %w", prefix, err)
	}
	return rc, nil
}

// refBatch rebuilds the reference's input batch (every masked slot real).
func refBatch(ef *safetensors.File, c fnet.Config) (*fnet.Batch, error) {
	get := func(name string) (*safetensors.Tensor, error) {
		t, err := ef.Get(name)
		if err != nil {
			return nil, err
		}
		if t.Int == nil || len(t.Shape) != 2 {
			return nil, fmt.Errorf("%s: %s is %s %v, want a 2-D integer tensor", ef.Path, name, t.DType, t.Shape)
		}
		return t, nil
	}
	var ts [4]*safetensors.Tensor
	for i, n := range []string{"input.input_ids", "input.token_type_ids", "input.masked_positions", "input.masked_labels"} {
		t, err := get(n)
		if err != nil {
			return nil, err
		}
		ts[i] = t
	}
	B, S, K := ts[0].Shape[0], ts[0].Shape[1], ts[2].Shape[1]
	w := make([]float32, B*K)
	for i := range w {
		w[i] = 1
	}
	b := &fnet.Batch{B: B, S: S, K: K, InputIDs: ts[0].Int, TypeIDs: ts[1].Int, MaskedPos: ts[2].Int, MaskedLabels: ts[3].Int, MaskedWeight: w}
	return b, b.Validate(c)
}

// relL2 is ||ours − ref|| / ||ref|| (floored so near-zero references do not
// blow up), with the largest absolute difference.
func relL2(ours []float32, ref *safetensors.Tensor, floor float64) (float64, float64) {
	var num, den, mx float64
	for i, o := range ours {
		r := ref.Float64(i)
		d := float64(o) - r
		num += d * d
		den += r * r
		mx = math.Max(mx, math.Abs(d))
	}
	return math.Sqrt(num) / math.Max(math.Sqrt(den), floor*math.Sqrt(float64(len(ours)))), mx
}

// RunParity checks the CUDA engine against a PyTorch reference pair (as
// fnet.RunParity does for the CPU engine): the loss, every activation, every
// gradient after one forward/backward, and every parameter update after one
// AdamW step, each as a relative L2 error.
func RunParity(weightsPath, expectPath string, mode Precision) (*fnet.ParityReport, error) {
	return RunParityWithOptions(weightsPath, expectPath, mode, Options{})
}

// RunParityWithOptions is RunParity with engine Options (Params is ignored).
func RunParityWithOptions(weightsPath, expectPath string, mode Precision, o Options) (*fnet.ParityReport, error) {
	wf, err := safetensors.ReadFile(weightsPath)
	if err != nil {
		return nil, err
	}
	ef, err := safetensors.ReadFile(expectPath)
	if err != nil {
		return nil, err
	}
	rc, err := refConfigFor(wf, ef)
	if err != nil {
		return nil, err
	}
	cfg, opt, err := rc.ModelConfig()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", expectPath, err)
	}
	params, err := fnet.ParamsFromFile(wf, cfg, fnet.MaskedLMHeads)
	if err != nil {
		return nil, err
	}
	batch, err := refBatch(ef, cfg)
	if err != nil {
		return nil, err
	}
	o.Params = params
	eng, err := NewEngineWithOptions(cfg, fnet.MaskedLMHeads, opt, 0, mode, o)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	st, err := eng.ForwardBackward(batch, 0, 1)
	if err != nil {
		return nil, err
	}
	rep := &fnet.ParityReport{Config: cfg, LR: rc.AdamW.LR, ConfigSource: "cuda " + mode.String()}
	cmp := func(name string, ours []float32) {
		ref, err := ef.Get(name)
		if err != nil {
			rep.Rows = append(rep.Rows, fnet.ParityRow{Name: name, Err: "missing in the reference file"})
			return
		}
		if ours == nil || len(ours) != ref.NumElements() {
			rep.Rows = append(rep.Rows, fnet.ParityRow{Name: name, Err: fmt.Sprintf("have %d values, reference %v", len(ours), ref.Shape)})
			return
		}
		rel, mx := relL2(ours, ref, 1e-6)
		rep.Rows = append(rep.Rows, fnet.ParityRow{Name: name, RelErr: rel, MaxAbs: mx})
	}
	cmp("loss", []float32{float32(st.MLMLoss())})
	acts, err := eng.Activations()
	if err != nil {
		return nil, err
	}
	for _, n := range ef.Names() {
		if strings.HasPrefix(n, "act.") {
			cmp(n, acts[n])
		}
	}
	grads, err := eng.Gradients()
	if err != nil {
		return nil, err
	}
	specs := fnet.ParamSpecs(cfg, fnet.MaskedLMHeads)
	for _, ps := range specs {
		cmp("grad."+ps.Name, grads[ps.Name])
	}
	if _, err := eng.Step(rc.AdamW.LR, 0); err != nil {
		return nil, err
	}
	after := eng.Params()
	for _, ps := range specs {
		name := "param_after_step." + ps.Name
		ref, err := ef.Get(name)
		if err != nil {
			rep.Rows = append(rep.Rows, fnet.ParityRow{Name: name, Err: "missing in the reference file"})
			continue
		}
		// Compare the update (after − before): the parameters themselves are
		// dominated by their initial values. Differences within one float32
		// ulp of the parameter are representation, not error.
		before := params[ps.Name]
		var num, den float64
		for i := range before {
			ru := ref.Float64(i) - float64(before[i])
			a := after[ps.Name][i]
			ou := float64(a) - float64(before[i])
			d := math.Max(0, math.Abs(ou-ru)-ulp32(a))
			num += d * d
			den += ru * ru
		}
		floor := rc.AdamW.LR * 1e-2 * math.Sqrt(float64(len(before)))
		rep.Rows = append(rep.Rows, fnet.ParityRow{Name: name, UpdateErr: math.Sqrt(num) / math.Max(math.Sqrt(den), floor)})
	}
	return rep, nil
}

// ulp32 is the spacing of float32 values at x.
func ulp32(x float32) float64 {
	b := math.Float32bits(x) &^ (1 << 31)
	return float64(math.Float32frombits(b+1)) - float64(math.Float32frombits(b))
}
