package train

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const minimal = `
kind = "pretrain"
[model]
preset = "mini"
[data]
corpus = "gostd"
seq_len = 64
batch_size = 4
[train]
steps = 10
lr = 5e-4
`

func TestConfigDefaultsAndOverrides(t *testing.T) {
	c, err := ParseConfig([]byte(minimal), []string{"train.lr=3e-4", "train.device=cpu", "eval.every=5", "model.hidden_size=128", "run.name=x y"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Train.LR != 3e-4 || c.Train.Device != "cpu" || c.Eval.Every != 5 || c.Run.Name != "x y" {
		t.Errorf("overrides not applied: %+v", c.Train)
	}
	if c.Train.AdamEps != 1e-6 || c.Train.WeightDecay != 0.01 || c.Data.MaskRate != 0.15 {
		t.Errorf("defaults missing: %+v", c.Train)
	}
	mc, err := c.ModelConfig()
	if err != nil {
		t.Fatal(err)
	}
	if mc.HiddenSize != 128 || mc.NumLayers != 4 || mc.SeqLen != 64 || mc.VocabSize != 8192 {
		t.Errorf("model config %s", mc)
	}
	// the resolved TOML reads back to the same config
	again, err := ParseConfig(c.TOML(), nil)
	if err != nil {
		t.Fatalf("resolved config does not parse: %v\n%s", err, c.TOML())
	}
	if again.Train != c.Train || again.Model != c.Model || again.Data != c.Data || again.Eval != c.Eval {
		t.Errorf("round trip changed the config:\n%+v\n%+v", again, c)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name      string
		text      string
		overrides []string
		want      string
	}{
		{"unknown key", minimal + "\n[train2]\nx = 1\n", nil, "train2"},
		{"unknown nested key", strings.Replace(minimal, "lr = 5e-4", "lr = 5e-4\nlearning_rate = 1", 1), nil, "train.learning_rate"},
		{"unknown override", minimal, []string{"train.lrr=1"}, "train.lrr"},
		{"bad preset", minimal, []string{"model.preset=huge"}, "model.preset"},
		{"bad lr", minimal, []string{"train.lr=-1"}, "train.lr"},
		{"bad device", minimal, []string{"train.device=tpu"}, "train.device"},
		{"bad type", minimal, []string{`train.steps="many"`}, "steps"},
		{"seq too long", minimal, []string{"data.seq_len=4096"}, "seq_len"},
		{"bad decay", minimal, []string{"train.decay=step"}, "train.decay"},
		{"no steps", minimal, []string{"train.steps=0"}, "train.steps"},
		{"bad mask", minimal, []string{"data.mask_rate=1.5"}, "data.mask_rate"},
		{"malformed override", minimal, []string{"train.lr"}, "key=value"},
		{"not a section", minimal, []string{"kind.x=1"}, "kind"},
		{"bad toml", "kind = ", nil, "line 1"},
		{"finetune without task", strings.Replace(minimal, `kind = "pretrain"`, `kind = "finetune"`, 1), nil, "finetune.task"},
		// the data pipeline's rules, in config words, when the config is read
		{"too many predictions", minimal, []string{"data.max_predictions=1000"}, "data.max_predictions = 1000: want 1 to the sequence length"},
		{"zero shuffle buffer", minimal, []string{"data.shuffle_buffer=-1"}, "data.shuffle_buffer = -1: want at least 1"},
		{"sequence too short", minimal, []string{"data.seq_len=4"}, "data.seq_len = 4: want at least 8"},
	}
	for _, tc := range cases {
		c, err := ParseConfig([]byte(tc.text), tc.overrides)
		if err == nil {
			_, err = c.ModelConfig()
		}
		if err != nil && strings.Contains(err.Error(), "Options.") {
			t.Errorf("%s: error %q uses the pipeline's Go names, not the config's keys", tc.name, err)
		}
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not name %q", tc.name, err, tc.want)
		}
	}
}

func TestScheduleTable(t *testing.T) {
	lin := Schedule{Peak: 1, Min: 0, Warmup: 10, Total: 110, Decay: DecayLinear}
	cos := Schedule{Peak: 1, Min: 0.1, Warmup: 0, Total: 100, Decay: DecayCosine}
	con := Schedule{Peak: 2, Warmup: 4, Total: 10, Decay: DecayConstant}
	rsq := Schedule{Peak: 2, Min: 0.1, Warmup: 100, Total: 50, Decay: DecayRsqrt} // Total does not matter
	cases := []struct {
		s    Schedule
		step int
		want float64
	}{
		{lin, 1, 0.1}, {lin, 5, 0.5}, {lin, 10, 1}, {lin, 60, 0.5}, {lin, 110, 0}, {lin, 200, 0},
		{cos, 0, 1}, {cos, 50, 0.55}, {cos, 100, 0.1},
		{con, 2, 1}, {con, 4, 2}, {con, 9, 2},
		{rsq, 50, 1}, {rsq, 100, 2}, {rsq, 400, 1}, {rsq, 10000, 0.2}, {rsq, 1000000, 0.1},
		// LRA's ListOps schedule: learning_rate 0.05, warmup 1000 is a peak of 0.05/sqrt(1000)
		{Schedule{Peak: 0.05 / math.Sqrt(1000), Warmup: 1000, Decay: DecayRsqrt}, 4000, 0.05 / math.Sqrt(4000)},
		{Schedule{Peak: 1, Decay: DecayRsqrt}, 4, 0.5}, // no warmup: 1/sqrt(step)
		{Schedule{Peak: 1, Total: 5}, 3, 0.4},          // no warmup: linear decay from the first step
	}
	for _, c := range cases {
		if got := c.s.LR(c.step); !(math.Abs(got-c.want) <= 1e-12) { // NaN fails too
			t.Errorf("%+v LR(%d) = %v, want %v", c.s, c.step, got, c.want)
		}
	}
}

// TestEveryKeyIsDocumented keeps docs/CONFIG.md true: every TOML key of
// every section appears in its table.
func TestEveryKeyIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]any{"model": ModelSection{}, "data": DataSection{}, "train": TrainSection{}, "eval": EvalSection{},
		"checkpoint": CkptSection{}, "log": LogSection{}, "run": RunSection{}, "finetune": FinetuneBlock{}}
	for name, sec := range sections {
		part := string(doc)
		i := strings.Index(part, "## ["+name+"]")
		if i < 0 {
			t.Errorf("docs/CONFIG.md has no [%s] section", name)
			continue
		}
		part = part[i:]
		if j := strings.Index(part[3:], "\n## "); j >= 0 {
			part = part[:j+3]
		}
		for _, k := range keysOf(sec) {
			if !strings.Contains(part, "`"+k+"`") {
				t.Errorf("[%s] %s is not documented in docs/CONFIG.md", name, k)
			}
		}
	}
}

// TestShippedConfigsParse: every config in configs/ is valid and describes
// a valid model.
func TestShippedConfigsParse(t *testing.T) {
	paths, _ := filepath.Glob("../configs/*.toml")
	if len(paths) < 13 {
		t.Fatalf("found %d configs, want pretrain-{mini,small,base,large} and glue-* for nine tasks", len(paths))
	}
	for _, p := range paths {
		c, err := LoadConfig(p, nil)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if _, err := c.ModelConfig(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if strings.HasPrefix(filepath.Base(p), "glue-") && (c.Kind != "finetune" || "glue-"+c.Finetune.Task+".toml" != filepath.Base(p)) {
			t.Errorf("%s: kind %q task %q", p, c.Kind, c.Finetune.Task)
		}
	}
}
