package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/fnet-tui/fnet-tui/atomicfile"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/safetensors"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// Source is what Export writes out: a loaded checkpoint and, for the
// model card, what is known about the run that made it.
type Source struct {
	Dir       string // the checkpoint directory, named in messages and the card
	Model     *fnet.LoadedModel
	Tokenizer tokenizer.Tokenizer // nil: no tokenizer files
	Run       *RunInfo            // nil: a card without training details
}

// Options tune Export.
type Options struct {
	// Class is the transformers class to export as (see ChooseClass);
	// empty picks the one whose heads the checkpoint has.
	Class string
	// Force replaces a non-empty output folder.
	Force bool
}

// Result says what Export wrote.
type Result struct {
	Dir   string
	Class Class
	Files []string // names inside Dir
	Notes []string // things the user should know (no tokenizer, a dropped head)
}

// Export writes the folder out for transformers' from_pretrained: the
// files go to out.tmp-<pid>, are synced, and the folder is renamed into
// place, so out is either the complete export or absent (or, with Force,
// the previous folder until the rename). A non-empty out is refused
// unless Force.
func Export(out string, src Source, opt Options) (*Result, error) {
	if src.Model == nil {
		return nil, errors.New("export: no model")
	}
	cfg, have := src.Model.Config, src.Model.Heads
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", src.Dir, err)
	}
	class, err := ChooseClass(cfg, have, opt.Class)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Dir, err)
	}
	specs := fnet.ParamSpecs(cfg, class.Heads)
	if err := fnet.CheckTensorSet("parameters", specs, src.Model.Params); err != nil {
		return nil, fmt.Errorf("%s: %w", src.Dir, err)
	}
	for _, ps := range specs {
		if i := firstNonFinite(src.Model.Params[ps.Name]); i >= 0 {
			return nil, fmt.Errorf("%s: %s[%d] = %v: a diverged model cannot be exported", src.Dir, ps.Name, i, src.Model.Params[ps.Name][i])
		}
	}
	if tok := src.Tokenizer; tok != nil && tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("%s: the tokenizer has %d pieces but the model's vocab_size is %d", src.Dir, tok.VocabSize(), cfg.VocabSize)
	}
	if err := checkOutDir(out, src.Dir, opt.Force); err != nil {
		return nil, err
	}

	res := &Result{Dir: out, Class: class}
	if dropped := dropNote(have, class); dropped != "" {
		res.Notes = append(res.Notes, dropped)
	}
	tmp := fmt.Sprintf("%s.tmp-%d", strings.TrimRight(out, string(filepath.Separator)), os.Getpid())
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	fail := func(err error) (*Result, error) {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("export to %s: %w", out, err)
	}
	write := func(name string, data []byte) error {
		res.Files = append(res.Files, name)
		return atomicfile.Write(filepath.Join(tmp, name), data, 0o644)
	}

	entries := make([]safetensors.Entry, len(specs))
	for i, ps := range specs {
		entries[i] = safetensors.Entry{Name: class.keyName(cfg, ps.Name), Shape: ps.Shape, F32: src.Model.Params[ps.Name]}
	}
	// save_pretrained's metadata; the config lives in config.json
	if err := safetensors.WriteFile(filepath.Join(tmp, ModelFile), entries, map[string]string{"format": "pt"}); err != nil {
		return fail(err)
	}
	res.Files = append(res.Files, ModelFile)

	cj, err := ConfigJSON(cfg, class, src.Tokenizer)
	if err != nil {
		return fail(err)
	}
	if err := write(ConfigFile, cj); err != nil {
		return fail(err)
	}
	files, note, err := tokenizerFiles(cfg, src.Tokenizer)
	if err != nil {
		return fail(err)
	}
	if note != "" {
		res.Notes = append(res.Notes, note)
	}
	for _, f := range files {
		if err := write(f.name, f.data); err != nil {
			return fail(err)
		}
	}
	if err := write(CardFile, []byte(modelCard(src, class, files))); err != nil {
		return fail(err)
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return fail(err)
	}
	if err := replaceDir(tmp, out); err != nil {
		return fail(err)
	}
	return res, nil
}

// checkOutDir refuses an output folder that is a file, is not empty (unless
// force) or would swallow the checkpoint being exported.
func checkOutDir(out, srcDir string, force bool) error {
	if out == "" {
		return errors.New("export: no output folder")
	}
	st, err := os.Stat(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("export: %s exists and is not a folder", out)
	}
	if srcDir != "" {
		a, errA := filepath.Abs(out)
		b, errB := filepath.Abs(srcDir)
		if errA == nil && errB == nil {
			if ra, err := filepath.EvalSymlinks(a); err == nil {
				a = ra
			}
			if rb, err := filepath.EvalSymlinks(b); err == nil {
				b = rb
			}
			if rel, err := filepath.Rel(a, b); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
				return fmt.Errorf("export: %s holds the checkpoint being exported (%s); choose another folder", out, srcDir)
			}
		}
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if len(ents) > 0 && !force {
		return fmt.Errorf("export: %s exists and is not empty (%d entries); use --force to replace it", out, len(ents))
	}
	return nil
}

// replaceDir renames tmp to out, moving an existing out aside first and
// removing it once the new folder is in place.
func replaceDir(tmp, out string) error {
	old := ""
	if _, err := os.Stat(out); err == nil {
		old = fmt.Sprintf("%s.old-%d", strings.TrimRight(out, string(filepath.Separator)), os.Getpid())
		os.RemoveAll(old)
		if err := os.Rename(out, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		if old != "" {
			os.Rename(old, out)
		}
		return err
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return atomicfile.SyncDir(filepath.Dir(filepath.Clean(out)))
}

func firstNonFinite(x []float32) int {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return i
		}
	}
	return -1
}

// dropNote says which heads of the checkpoint the class leaves out.
func dropNote(have fnet.Heads, c Class) string {
	var parts []string
	if have.MLM && !c.Heads.MLM {
		parts = append(parts, "masked-LM head")
	}
	if have.NSP && !c.Heads.NSP {
		parts = append(parts, "next-sentence head")
	}
	if have.Classifier && !c.Heads.Classifier {
		parts = append(parts, "classifier")
	}
	if have.Pooler && !c.Heads.Pooler {
		parts = append(parts, "pooler")
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("%s has no %s: the checkpoint's is left out of the export", c.Name, strings.Join(parts, " and no "))
}

// ConfigJSON is the config.json of a model exported as class c: every
// field transformers' FNetConfig or BertConfig reads, "architectures" and
// "model_type", id2label/label2id for a classifier, and fnet-tui's own
// fnet_tui_* fields (the padded length above all: FNet's Fourier mixing
// sees the padding, so the logits depend on it), which transformers keeps
// as plain attributes and Load reads back.
func ConfigJSON(cfg fnet.Config, c Class, tok tokenizer.Tokenizer) ([]byte, error) {
	m := map[string]any{}
	if err := json.Unmarshal([]byte(cfg.JSON()), &m); err != nil {
		return nil, err
	}
	m["architectures"] = []string{c.Name}
	m["model_type"] = cfg.HFModelType()
	m["torch_dtype"] = "float32"
	if cfg.HFModelType() == "fnet" {
		delete(m, "num_attention_heads")
		m["use_tpu_fourier_optimizations"] = false
		m["tpu_short_seq_length"] = cfg.SeqLen
	} else {
		m["num_attention_heads"] = cfg.AttentionHeads()
		m["attention_probs_dropout_prob"] = cfg.DropoutProb
		m["position_embedding_type"] = "absolute"
		m["classifier_dropout"] = nil
		m["is_decoder"] = false
	}
	if c.Heads.Classifier {
		n := cfg.ClassifierOutputs()
		labels := labelNames(cfg.Task, n)
		id2label, label2id := map[string]string{}, map[string]int{}
		for i, l := range labels {
			id2label[fmt.Sprint(i)] = l
			label2id[l] = i
		}
		m["id2label"], m["label2id"] = id2label, label2id
		m["problem_type"] = "single_label_classification"
		if n == 1 {
			m["problem_type"] = "regression"
		}
		if cfg.Task != "" {
			m["finetuning_task"] = cfg.Task
		}
		m["fnet_tui_num_labels"] = n
	}
	return marshalIndent(m)
}

// labelNames are a classifier's class names: the GLUE task's labels when
// they are words and unique, LABEL_i (transformers' default) otherwise.
func labelNames(task string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("LABEL_%d", i)
	}
	t, err := glue.Lookup(task)
	if err != nil || len(t.Labels) != n {
		return out
	}
	seen := map[string]bool{}
	for _, l := range t.Labels {
		if l == "" || seen[l] {
			return out
		}
		seen[l] = true
	}
	copy(out, t.Labels)
	return out
}
