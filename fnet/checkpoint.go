package fnet

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/fnet-tui/fnet-tui/safetensors"
)

// Checkpoint files. A checkpoint directory holds model.safetensors (the
// weights under Hugging Face names, F32, the config JSON in __metadata__),
// optimizer.safetensors (AdamW moments and step) and whatever the trainer
// adds beside them.
const (
	ModelFile     = "model.safetensors"
	OptimizerFile = "optimizer.safetensors"
)

// HeadsString names the heads for the metadata, e.g. "mlm,nsp,pooler".
func (h Heads) String() string {
	var parts []string
	if h.MLM {
		parts = append(parts, "mlm")
	}
	if h.NSP {
		parts = append(parts, "nsp")
	}
	if h.Classifier {
		parts = append(parts, "classifier")
	}
	if h.Pooler {
		parts = append(parts, "pooler")
	}
	return strings.Join(parts, ",")
}

// SaveModel writes the parameters of a model as F32 safetensors, atomically,
// with the config in __metadata__["config"].
func SaveModel(path string, cfg Config, heads Heads, params map[string][]float32) error {
	specs := ParamSpecs(cfg, heads)
	if err := CheckTensorSet("parameters", specs, params); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	entries := make([]safetensors.Entry, len(specs))
	for i, ps := range specs {
		entries[i] = safetensors.Entry{Name: cfg.HFName(ps.Name), Shape: ps.Shape, F32: params[ps.Name]}
	}
	meta := map[string]string{"format": "pt", "config": cfg.JSON(), "fnet_tui_heads": heads.String()}
	return safetensors.WriteFile(path, entries, meta)
}

// LoadedModel is a model read from a checkpoint.
type LoadedModel struct {
	Config Config
	Heads  Heads
	Params map[string][]float32
}

// LoadModel reads model weights. The config comes from the file's
// __metadata__, or from a Hugging Face config.json beside it (the hub's
// google/fnet-base converted to safetensors carries only {"format": "pt"}).
// The heads present are detected from the tensor names.
func LoadModel(path string) (*LoadedModel, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, ModelFile)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if raw, ok := f.Metadata["config"]; ok {
		if cfg, err = ParseConfig([]byte(raw)); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else {
		side := filepath.Join(filepath.Dir(path), "config.json")
		raw, err := os.ReadFile(side)
		if err != nil {
			return nil, fmt.Errorf("%s: no model config: neither a \"config\" entry in __metadata__ nor %s", path, side)
		}
		if cfg, err = ParseConfig(raw); err != nil {
			return nil, fmt.Errorf("%s: %w", side, err)
		}
	}
	names := NormalizedNames(f, cfg)
	heads := Heads{
		MLM:        names[MLMDenseW] != "",
		NSP:        names[NSPWeight] != "",
		Classifier: names[ClsWeight] != "",
		Pooler:     names[PoolerWeight] != "",
	}
	if heads.Classifier && cfg.NumLabels == 0 {
		if t := f.Tensors[names[ClsWeight]]; t != nil && len(t.Shape) == 2 {
			cfg.NumLabels = t.Shape[0]
		}
	}
	params, err := ParamsFromFile(f, cfg, heads)
	if err != nil {
		return nil, err
	}
	return &LoadedModel{Config: cfg, Heads: heads, Params: params}, nil
}

// NormalizedNames maps our parameter names to the file's: a bare FNetModel
// or BertModel state dict ("embeddings.word_embeddings.weight") gets the
// "fnet." prefix, a bert model's "bert." names become the engines' (HFName),
// and the decoder bias alias stands in for cls.predictions.bias.
func NormalizedNames(f *safetensors.File, cfg Config) map[string]string {
	out := map[string]string{}
	for n := range f.Tensors {
		canon := cfg.EngineName(n)
		if strings.HasPrefix(n, "embeddings.") || strings.HasPrefix(n, "encoder.") || strings.HasPrefix(n, "pooler.") {
			canon = "fnet." + n
		}
		out[canon] = n
	}
	if _, ok := out[MLMBias]; !ok {
		if n, ok := out[MLMDecoderBias]; ok {
			out[MLMBias] = n
		}
	}
	return out
}

// ignorable tensors a Hugging Face state dict carries that are not parameters.
func ignorable(canon string) bool {
	return canon == PositionIDs || canon == MLMDecoderWeight || canon == MLMDecoderBias ||
		canon == "fnet.embeddings.token_type_ids"
}

// ParamsFromFile extracts the parameters of cfg/heads from a safetensors
// file, converting any float dtype to float32. Missing, unexpected and
// misshaped tensors are reported together, by name.
func ParamsFromFile(f *safetensors.File, cfg Config, heads Heads) (map[string][]float32, error) {
	names := NormalizedNames(f, cfg)
	specs := ParamSpecs(cfg, heads)
	want := map[string]bool{}
	out := make(map[string][]float32, len(specs))
	var missing, misshaped, unexpected, nonFinite []string
	for _, ps := range specs {
		want[ps.Name] = true
		fileName, ok := names[ps.Name]
		if !ok {
			missing = append(missing, ps.Name)
			continue
		}
		t := f.Tensors[fileName]
		shape := t.Shape
		if ps.Name == PosEmbName && len(shape) == 3 && shape[0] == 1 { // Flax's [1, 512, d]
			shape = shape[1:]
		}
		if t.F32 == nil || !sameShape(shape, ps.Shape) {
			misshaped = append(misshaped, fmt.Sprintf("%s: file has %s%v, model needs %v", fileName, t.DType, t.Shape, ps.Shape))
			continue
		}
		if i := firstNonFinite(t.F32); i >= 0 {
			nonFinite = append(nonFinite, fmt.Sprintf("%s[%d] = %v", fileName, i, t.F32[i]))
			continue
		}
		out[ps.Name] = t.F32
	}
	for canon, fileName := range names {
		if !want[canon] && !ignorable(canon) && !(canon == MLMBias && names[MLMDecoderBias] == fileName) {
			unexpected = append(unexpected, fileName)
		}
	}
	sort.Strings(unexpected)
	if len(nonFinite) > 0 { // a diverged run's weights: nothing good can come of them
		return nil, fmt.Errorf("%s holds non-finite weights: %s", f.Path, strings.Join(nonFinite, ", "))
	}
	if len(missing)+len(misshaped)+len(unexpected) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, fmt.Sprintf("missing %d: %s", len(missing), strings.Join(missing, ", ")))
		}
		if len(misshaped) > 0 {
			parts = append(parts, fmt.Sprintf("misshaped %d: %s", len(misshaped), strings.Join(misshaped, "; ")))
		}
		if len(unexpected) > 0 {
			parts = append(parts, fmt.Sprintf("unexpected %d: %s", len(unexpected), strings.Join(unexpected, ", ")))
		}
		return nil, fmt.Errorf("%s does not match the model (%s, heads %s): %s", f.Path, cfg, heads, strings.Join(parts, "; "))
	}
	return out, nil
}

// firstNonFinite is the index of the first NaN or ±Inf, or -1.
func firstNonFinite(x []float32) int {
	for i, v := range x {
		if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
			return i
		}
	}
	return -1
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// SaveOptimizer writes AdamW's state: m.<name>, v.<name> (Hugging Face
// names) of every trained parameter, and the step.
func SaveOptimizer(path string, cfg Config, heads Heads, s OptimizerState) error {
	specs := TrainedSpecs(ParamSpecs(cfg, heads))
	if err := CheckTensorSet("optimizer first moments", specs, s.M); err != nil {
		return err
	}
	if err := CheckTensorSet("optimizer second moments", specs, s.V); err != nil {
		return err
	}
	entries := make([]safetensors.Entry, 0, 2*len(specs))
	for _, ps := range specs {
		entries = append(entries,
			safetensors.Entry{Name: "m." + cfg.HFName(ps.Name), Shape: ps.Shape, F32: s.M[ps.Name]},
			safetensors.Entry{Name: "v." + cfg.HFName(ps.Name), Shape: ps.Shape, F32: s.V[ps.Name]})
	}
	meta := map[string]string{"step": strconv.Itoa(s.Step), "optimizer": "adamw", "fnet_tui_heads": heads.String()}
	return safetensors.WriteFile(path, entries, meta)
}

// LoadOptimizer reads AdamW's state for cfg/heads, listing any missing or
// misshaped moment.
func LoadOptimizer(path string, cfg Config, heads Heads) (OptimizerState, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return OptimizerState{}, err
	}
	step, err := strconv.Atoi(f.Metadata["step"])
	if err != nil {
		return OptimizerState{}, fmt.Errorf("%s: __metadata__ step %q is not an integer", path, f.Metadata["step"])
	}
	s := OptimizerState{Step: step, M: map[string][]float32{}, V: map[string][]float32{}}
	var problems []string
	for _, ps := range TrainedSpecs(ParamSpecs(cfg, heads)) {
		for _, k := range []string{"m.", "v."} {
			t, ok := f.Tensors[k+cfg.HFName(ps.Name)]
			if !ok || t.F32 == nil || !sameShape(t.Shape, ps.Shape) {
				problems = append(problems, k+cfg.HFName(ps.Name))
				continue
			}
			if k == "m." {
				s.M[ps.Name] = t.F32
			} else {
				s.V[ps.Name] = t.F32
			}
		}
	}
	if len(problems) > 0 {
		return OptimizerState{}, fmt.Errorf("%s: missing or misshaped optimizer tensors: %s", path, strings.Join(problems, ", "))
	}
	return s, nil
}

// LoadModelFile reads the parameters of cfg/heads from a safetensors file.
func LoadModelFile(path string, cfg Config, heads Heads) (map[string][]float32, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParamsFromFile(f, cfg, heads)
}

func readFile(path string) (*safetensors.File, error) { return safetensors.ReadFile(path) }
