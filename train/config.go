// Package train runs training jobs: pretraining (masked LM + next-sentence
// prediction) and GLUE finetuning share one loop with AdamW, warmup and
// decay, gradient accumulation, clipping, periodic evaluation, checkpoints
// with exact resume, and the run directory of docs/RUNS.md.
package train

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/lra"
)

// Config is a training config file (TOML). Every key is documented in
// docs/CONFIG.md; unknown keys are errors.
type Config struct {
	Kind       string        `toml:"kind"` // "pretrain" or "finetune"
	Model      ModelSection  `toml:"model"`
	Data       DataSection   `toml:"data"`
	Train      TrainSection  `toml:"train"`
	Eval       EvalSection   `toml:"eval"`
	Checkpoint CkptSection   `toml:"checkpoint"`
	Log        LogSection    `toml:"log"`
	Run        RunSection    `toml:"run"`
	Finetune   FinetuneBlock `toml:"finetune"`

	// Path and Name of the file it came from (not TOML keys).
	Path string `toml:"-"`
	Name string `toml:"-"`
}

// ModelSection picks a preset and overrides its fields. Zero means "the
// preset's value".
type ModelSection struct {
	Preset           string  `toml:"preset"`
	VocabSize        int     `toml:"vocab_size"`
	HiddenSize       int     `toml:"hidden_size"`
	NumLayers        int     `toml:"num_layers"`
	IntermediateSize int     `toml:"intermediate_size"`
	MaxPositions     int     `toml:"max_positions"`
	TypeVocabSize    int     `toml:"type_vocab_size"`
	Dropout          float64 `toml:"dropout"`
	LayerNormEps     float64 `toml:"layer_norm_eps"`
	InitializerRange float64 `toml:"initializer_range"`
	Mixing           string  `toml:"mixing"` // CPU Fourier mixing: auto, fft, dft

	// The token mixing compared against FNet (fnet.Architectures): fnet,
	// bert, linear, random, ff_only; a hybrid sets attention_layers.
	Architecture    string `toml:"architecture"`
	AttentionLayers int    `toml:"attention_layers"`
	AttentionLayout string `toml:"attention_layout"` // top, bottom, middle, mixed
	Heads           int    `toml:"heads"`            // attention heads; 0 = hidden/64
}

// DataSection is the pretraining data.
type DataSection struct {
	Corpus             string  `toml:"corpus"`    // file, folder, or "gostd"
	Tokenizer          string  `toml:"tokenizer"` // .model / vocab.txt path, or "auto"
	TokenizerSentences int     `toml:"tokenizer_sentences"`
	SeqLen             int     `toml:"seq_len"`
	BatchSize          int     `toml:"batch_size"`
	MaskRate           float64 `toml:"mask_rate"`
	MaxPredictions     int     `toml:"max_predictions"`
	HeldOut            float64 `toml:"held_out"`
	Workers            int     `toml:"workers"`
	ShuffleBuffer      int     `toml:"shuffle_buffer"`
}

// TrainSection is the optimisation.
type TrainSection struct {
	Steps        int     `toml:"steps"`
	LR           float64 `toml:"lr"`
	WarmupSteps  int     `toml:"warmup_steps"`
	Decay        string  `toml:"decay"` // linear, cosine, constant
	MinLR        float64 `toml:"min_lr"`
	GradAccum    int     `toml:"grad_accum"`
	ClipGradNorm float64 `toml:"clip_grad_norm"` // 0: off (the official recipe)
	WeightDecay  float64 `toml:"weight_decay"`
	AdamBeta1    float64 `toml:"adam_beta1"`
	AdamBeta2    float64 `toml:"adam_beta2"`
	AdamEps      float64 `toml:"adam_eps"`
	Seed         uint64  `toml:"seed"`
	Device       string  `toml:"device"`    // cpu, cuda, auto
	Precision    string  `toml:"precision"` // cuda: bf16, tf32, fp32
	Threads      int     `toml:"threads"`   // CPU threads; 0 = all cores
	// GPUs is how many data-parallel ranks `fnet-tui pretrain|finetune`
	// starts on this machine, one per visible GPU (--gpus overrides it);
	// 1 trains in one process. Under torchrun, srun or mpirun the
	// launcher's world decides and this key is not read.
	GPUs int `toml:"gpus"`
}

// EvalSection is the periodic evaluation.
type EvalSection struct {
	Every   int `toml:"every"`   // steps between evaluations; 0 = only at the end
	Batches int `toml:"batches"` // held-out batches per evaluation; 0 = the whole split
}

// CkptSection is checkpointing.
type CkptSection struct {
	Every int `toml:"every"` // steps between checkpoints; 0 = only at the end and on a signal
	Keep  int `toml:"keep"`  // checkpoints kept (the newest); 0 = all
}

// LogSection is the train log and metrics.
type LogSection struct {
	Every int `toml:"every"` // steps between train metric lines
}

// RunSection is where the run directory goes.
type RunSection struct {
	Dir  string `toml:"dir"`  // the runs folder
	Name string `toml:"name"` // run id; empty = <kind>-<config>-<time>
}

// FinetuneBlock configures GLUE finetuning (kind = "finetune").
type FinetuneBlock struct {
	Task       string  `toml:"task"`        // GLUE task, or an LRA task (listops, text)
	From       string  `toml:"from"`        // pretraining checkpoint; empty = from scratch
	GlueDir    string  `toml:"glue_dir"`    // GLUE data folder; empty = FNET_GLUE_DIR or ../shared/data/glue
	DataDir    string  `toml:"data_dir"`    // an LRA task's data: a folder or a file (lra.Task.Load)
	Epochs     float64 `toml:"epochs"`      // sets steps when train.steps = 0
	WarmupFrac float64 `toml:"warmup_frac"` // sets warmup when train.warmup_steps = 0
	EvalBatch  int     `toml:"eval_batch"`
	MaxTrain   int     `toml:"max_train"` // cap on training examples (0 = all)
	MaxEval    int     `toml:"max_eval"`  // cap on dev examples (0 = all)
	Metric     string  `toml:"metric"`    // dev metric that picks the best checkpoint; empty = the task's main metric
}

// DefaultConfig holds the values a config file does not set.
func DefaultConfig() Config {
	return Config{
		Kind:  "pretrain",
		Model: ModelSection{Preset: "mini", Dropout: -1, Mixing: "auto", Architecture: "fnet", AttentionLayout: "top"},
		Data: DataSection{Corpus: "gostd", Tokenizer: "auto", TokenizerSentences: 200000,
			MaskRate: 0.15, HeldOut: 0.01, ShuffleBuffer: 1024},
		Train: TrainSection{LR: 1e-4, Decay: "linear", GradAccum: 1, WeightDecay: 0.01,
			AdamBeta1: 0.9, AdamBeta2: 0.999, AdamEps: 1e-6, Seed: 1, Device: "cpu", Precision: "bf16", GPUs: 1},
		Eval:       EvalSection{Every: 0, Batches: 20},
		Checkpoint: CkptSection{Keep: 3},
		Log:        LogSection{Every: 10},
		Run:        RunSection{Dir: "runs"},
		Finetune:   FinetuneBlock{Epochs: 3, WarmupFrac: 0.1, EvalBatch: 32},
	}
}

// LoadConfig reads a TOML config strictly (an unknown key is an error naming
// it), applies key=value overrides (TOML values; a bare word is a string),
// fills defaults and validates.
func LoadConfig(path string, overrides []string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(raw, overrides)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	c.Path = path
	c.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return c, nil
}

// ParseConfig is LoadConfig on bytes. The file is decoded as written, so
// a type error names the user's own line; each override is then decoded
// on its own, so an error in one names that --set.
func ParseConfig(raw []byte, overrides []string) (Config, error) {
	c := DefaultConfig()
	md, err := toml.Decode(string(raw), &c)
	if err != nil {
		return Config{}, err
	}
	if err := undecoded(md, ""); err != nil {
		return Config{}, err
	}
	for _, o := range overrides {
		if err := applyOverride(&c, o); err != nil {
			return Config{}, err
		}
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// undecoded reports keys the config does not have.
func undecoded(md toml.MetaData, where string) error {
	und := md.Undecoded()
	if len(und) == 0 {
		return nil
	}
	keys := make([]string, len(und))
	for i, k := range und {
		keys[i] = k.String()
	}
	sort.Strings(keys)
	return fmt.Errorf("%sunknown key %s (known keys are listed in docs/CONFIG.md)", where, strings.Join(keys, ", "))
}

// applyOverride decodes one "section.key=value" override into c (TOML
// values; a bare word is a string).
func applyOverride(c *Config, kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if !ok || k == "" {
		return fmt.Errorf("--set %q: want key=value, e.g. train.lr=3e-4", kv)
	}
	var probe map[string]any
	if _, err := toml.Decode("v = "+v, &probe); err != nil {
		v = strconv.Quote(v) // a bare word: a string
	}
	parts := strings.Split(k, ".")
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, " \t\"'[]=#\n") {
			return fmt.Errorf("--set %s: %q is not a key", k, p)
		}
	}
	if len(parts) > 1 {
		if f, ok := reflect.TypeOf(Config{}).FieldByNameFunc(func(n string) bool { return tomlName(n) == parts[0] }); ok && f.Type.Kind() != reflect.Struct {
			return fmt.Errorf("--set %s: %s is not a section", k, parts[0])
		}
	}
	var doc string
	if len(parts) > 1 {
		doc = "[" + strings.Join(parts[:len(parts)-1], ".") + "]\n"
	}
	doc += parts[len(parts)-1] + " = " + v + "\n"
	md, err := toml.Decode(doc, c)
	if err != nil {
		return fmt.Errorf("--set %s: %s", kv, stripTOMLLine(err))
	}
	return undecoded(md, "--set "+k+": ")
}

// tomlName is the TOML key of a Config field.
func tomlName(field string) string {
	f, _ := reflect.TypeOf(Config{}).FieldByName(field)
	return strings.Split(f.Tag.Get("toml"), ",")[0]
}

// stripTOMLLine drops the "toml: line N (last key …): " prefix of a decode
// error about a one-line override document, whose line number means nothing
// to the user.
func stripTOMLLine(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "): "); strings.HasPrefix(msg, "toml: line ") && i > 0 {
		return msg[i+3:]
	}
	return strings.TrimPrefix(msg, "toml: ")
}

func (c *Config) validate() error {
	bad := func(key string, v any, want string) error {
		return fmt.Errorf("%s = %v: %s", key, v, want)
	}
	// NaN and ±Inf pass every comparison below: refuse them first
	for _, f := range []struct {
		key string
		v   float64
	}{{"model.dropout", c.Model.Dropout}, {"model.layer_norm_eps", c.Model.LayerNormEps}, {"model.initializer_range", c.Model.InitializerRange},
		{"data.mask_rate", c.Data.MaskRate}, {"data.held_out", c.Data.HeldOut}, {"train.lr", c.Train.LR}, {"train.min_lr", c.Train.MinLR},
		{"train.clip_grad_norm", c.Train.ClipGradNorm}, {"train.weight_decay", c.Train.WeightDecay}, {"train.adam_beta1", c.Train.AdamBeta1},
		{"train.adam_beta2", c.Train.AdamBeta2}, {"train.adam_eps", c.Train.AdamEps}, {"finetune.epochs", c.Finetune.Epochs},
		{"finetune.warmup_frac", c.Finetune.WarmupFrac}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return bad(f.key, f.v, "want a finite number")
		}
	}
	if c.Train.Seed > math.MaxInt64 { // a negative number wrapped into the unsigned seed
		return bad("train.seed", int64(c.Train.Seed), "want 0 or more")
	}
	if c.Kind != "pretrain" && c.Kind != "finetune" {
		return bad("kind", strconv.Quote(c.Kind), "want \"pretrain\" or \"finetune\"")
	}
	if _, err := fnet.PresetConfig(c.Model.Preset); err != nil {
		return fmt.Errorf("model.preset: %w", err)
	}
	if c.Model.Dropout > 1 || (c.Model.Dropout < 0 && c.Model.Dropout != -1) || c.Model.Dropout == 1 {
		return bad("model.dropout", c.Model.Dropout, "want a probability in [0, 1)")
	}
	switch c.Model.Mixing {
	case "auto", "fft", "dft":
	default:
		return bad("model.mixing", strconv.Quote(c.Model.Mixing), "want auto, fft or dft")
	}
	if !slices.Contains(fnet.Architectures, c.Model.Architecture) {
		return bad("model.architecture", strconv.Quote(c.Model.Architecture), "want "+strings.Join(fnet.Architectures, ", "))
	}
	if !slices.Contains(fnet.AttentionLayouts, c.Model.AttentionLayout) {
		return bad("model.attention_layout", strconv.Quote(c.Model.AttentionLayout), "want "+strings.Join(fnet.AttentionLayouts, ", "))
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"model.vocab_size", c.Model.VocabSize}, {"model.hidden_size", c.Model.HiddenSize}, {"model.num_layers", c.Model.NumLayers},
		{"model.intermediate_size", c.Model.IntermediateSize}, {"model.max_positions", c.Model.MaxPositions},
		{"model.type_vocab_size", c.Model.TypeVocabSize}, {"data.seq_len", c.Data.SeqLen}, {"data.batch_size", c.Data.BatchSize},
		{"data.max_predictions", c.Data.MaxPredictions}, {"data.workers", c.Data.Workers}, {"data.tokenizer_sentences", c.Data.TokenizerSentences},
		{"train.warmup_steps", c.Train.WarmupSteps}, {"train.threads", c.Train.Threads}, {"eval.every", c.Eval.Every},
		{"eval.batches", c.Eval.Batches}, {"checkpoint.every", c.Checkpoint.Every}, {"checkpoint.keep", c.Checkpoint.Keep},
		{"finetune.max_train", c.Finetune.MaxTrain}, {"finetune.max_eval", c.Finetune.MaxEval},
		{"model.attention_layers", c.Model.AttentionLayers}, {"model.heads", c.Model.Heads}} {
		if f.v < 0 {
			return bad(f.key, f.v, "must not be negative")
		}
	}
	if c.Kind == "pretrain" && c.Train.Steps < 1 {
		return bad("train.steps", c.Train.Steps, "want at least 1")
	}
	if c.Train.Steps < 0 {
		return bad("train.steps", c.Train.Steps, "must not be negative")
	}
	if !(c.Train.LR > 0) {
		return bad("train.lr", c.Train.LR, "want a positive learning rate")
	}
	if c.Train.MinLR < 0 || c.Train.MinLR > c.Train.LR {
		return bad("train.min_lr", c.Train.MinLR, "want 0 ≤ min_lr ≤ lr")
	}
	if _, err := ParseDecay(c.Train.Decay); err != nil {
		return fmt.Errorf("train.decay: %w", err)
	}
	if c.Train.GradAccum < 1 {
		return bad("train.grad_accum", c.Train.GradAccum, "want at least 1")
	}
	if c.Train.GPUs < 1 {
		return bad("train.gpus", c.Train.GPUs, "want at least 1 (ranks on this machine, one per GPU; 1 = one process)")
	}
	if c.Train.ClipGradNorm < 0 {
		return bad("train.clip_grad_norm", c.Train.ClipGradNorm, "want 0 (off) or a positive norm")
	}
	if c.Train.WeightDecay < 0 {
		return bad("train.weight_decay", c.Train.WeightDecay, "must not be negative")
	}
	if !(c.Train.AdamBeta1 >= 0 && c.Train.AdamBeta1 < 1) {
		return bad("train.adam_beta1", c.Train.AdamBeta1, "want a value in [0, 1)")
	}
	if !(c.Train.AdamBeta2 >= 0 && c.Train.AdamBeta2 < 1) {
		return bad("train.adam_beta2", c.Train.AdamBeta2, "want a value in [0, 1)")
	}
	if !(c.Train.AdamEps > 0) {
		return bad("train.adam_eps", c.Train.AdamEps, "want a positive epsilon")
	}
	switch c.Train.Device {
	case "cpu", "cuda", "auto":
	default:
		return bad("train.device", strconv.Quote(c.Train.Device), "want cpu, cuda or auto")
	}
	switch c.Train.Precision {
	case "bf16", "tf32", "fp32":
	default:
		return bad("train.precision", strconv.Quote(c.Train.Precision), "want bf16, tf32 or fp32")
	}
	if !(c.Data.MaskRate > 0 && c.Data.MaskRate <= 1) {
		return bad("data.mask_rate", c.Data.MaskRate, "want a fraction in (0, 1]")
	}
	if !(c.Data.HeldOut >= 0 && c.Data.HeldOut < 1) {
		return bad("data.held_out", c.Data.HeldOut, "want a fraction in [0, 1)")
	}
	if c.Kind == "pretrain" && c.Data.Corpus == "" {
		return bad("data.corpus", `""`, "want a file, a folder or \"gostd\"")
	}
	if c.Log.Every < 1 {
		return bad("log.every", c.Log.Every, "want at least 1")
	}
	if c.Run.Dir == "" {
		return bad("run.dir", `""`, "want a folder for run directories")
	}
	if c.Kind == "pretrain" && c.Model.TypeVocabSize == 1 {
		return bad("model.type_vocab_size", 1, "pretraining needs 2 segment types ([CLS] A [SEP] is type 0, B [SEP] type 1)")
	}
	if c.Kind == "pretrain" {
		// the data pipeline's own rules, checked before a run directory exists
		opt, err := c.pretrainOptions()
		if err != nil {
			return err
		}
		if err := opt.Validate(); err != nil {
			return inConfigWords(err)
		}
	}
	if c.Kind == "finetune" {
		if c.Finetune.Task == "" {
			return bad("finetune.task", `""`, "want a GLUE task, e.g. sst2, or an LRA task, listops or text")
		}
		_, glueErr := glue.Lookup(c.Finetune.Task)
		_, lraErr := lra.Lookup(c.Finetune.Task)
		if glueErr != nil && lraErr != nil {
			return bad("finetune.task", strconv.Quote(c.Finetune.Task), "not a GLUE task ("+strings.Join(glue.TaskNames(), ", ")+") nor an LRA task (listops, text)")
		}
		if lraErr == nil && c.Finetune.DataDir == "" {
			return bad("finetune.data_dir", `""`, "an LRA task needs its data: a folder made by `fnet-tui lra generate listops --out DIR`, an aclImdb folder, or a TSV file")
		}
		if c.Train.Steps == 0 && !(c.Finetune.Epochs > 0) {
			return bad("finetune.epochs", c.Finetune.Epochs, "want positive epochs when train.steps is 0")
		}
		if !(c.Finetune.WarmupFrac >= 0 && c.Finetune.WarmupFrac < 1) {
			return bad("finetune.warmup_frac", c.Finetune.WarmupFrac, "want a fraction in [0, 1)")
		}
		if c.Finetune.EvalBatch < 1 {
			return bad("finetune.eval_batch", c.Finetune.EvalBatch, "want at least 1")
		}
	}
	return nil
}

// ModelConfig is the preset with the config's overrides applied.
func (c Config) ModelConfig() (fnet.Config, error) {
	m, err := fnet.PresetConfig(c.Model.Preset)
	if err != nil {
		return m, err
	}
	set := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	set(&m.VocabSize, c.Model.VocabSize)
	set(&m.HiddenSize, c.Model.HiddenSize)
	set(&m.NumLayers, c.Model.NumLayers)
	set(&m.IntermediateSize, c.Model.IntermediateSize)
	set(&m.MaxPositions, c.Model.MaxPositions)
	set(&m.TypeVocabSize, c.Model.TypeVocabSize)
	set(&m.SeqLen, c.Data.SeqLen)
	if c.Model.Dropout >= 0 {
		m.DropoutProb = c.Model.Dropout
	}
	if c.Model.LayerNormEps > 0 {
		m.LayerNormEps = c.Model.LayerNormEps
	}
	if c.Model.InitializerRange > 0 {
		m.InitializerRange = c.Model.InitializerRange
	}
	m.Architecture, m.AttentionLayers, m.AttentionLayout, m.NumHeads = c.Model.Architecture, c.Model.AttentionLayers, c.Model.AttentionLayout, c.Model.Heads
	m.ModelType = m.HFModelType()
	if m.SeqLen > m.MaxPositions {
		return m, fmt.Errorf("data.seq_len %d exceeds the model's max_positions %d", m.SeqLen, m.MaxPositions)
	}
	return m, m.Validate()
}

// AdamW is the optimizer's hyper-parameters.
func (c Config) AdamW() fnet.AdamWConfig {
	return fnet.AdamWConfig{Beta1: c.Train.AdamBeta1, Beta2: c.Train.AdamBeta2, Eps: c.Train.AdamEps, WeightDecay: c.Train.WeightDecay}
}

// TOML renders the fully resolved config (for the run directory's config.toml).
func (c Config) TOML() []byte {
	var buf bytes.Buffer
	// %q: a path holding a newline must not end the comment line
	fmt.Fprintf(&buf, "# resolved config of this run (from %q, all overrides applied)\n", c.Path)
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(c); err != nil {
		panic(err) // a Config always encodes
	}
	return buf.Bytes()
}

// keysOf lists the TOML keys of a section type, for documentation tests.
func keysOf(v any) []string {
	t := reflect.TypeOf(v)
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

// FinetuneSource reads a finetuning run directory's config.toml and returns
// finetune.from ("" when the run started from scratch).
func FinetuneSource(runDir string) (string, error) {
	c, err := LoadConfig(filepath.Join(runDir, "config.toml"), nil)
	if err != nil {
		return "", err
	}
	return c.Finetune.From, nil
}
