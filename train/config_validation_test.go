package train

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigValidationInUserWords: what used to slip through or be caught
// late (after the run folder existed, in internal words) is refused when
// the config is read, naming the key — and, for type errors, the user's own
// line or the --set that caused it.
func TestConfigValidationInUserWords(t *testing.T) {
	long := minimal + strings.Repeat("\n# padding comment\n", 5) + "[eval]\nevery = \"often\"\n"
	everyLine := fmt.Sprintf("line %d ", strings.Count(long[:strings.Index(long, "every =")], "\n")+1)
	cases := []struct {
		name      string
		text      string
		overrides []string
		want      string
	}{
		{"NaN dropout", minimal, []string{"model.dropout=nan"}, "model.dropout = NaN: want a finite number"},
		{"infinite lr", minimal, []string{"train.lr=inf"}, "train.lr = +Inf: want a finite number"},
		{"negative seed", minimal, []string{"train.seed=-1"}, "train.seed"},
		{"one segment type", minimal, []string{"model.type_vocab_size=1"}, "model.type_vocab_size = 1: pretraining needs 2 segment types"},
		{"zero batch", minimal, []string{"data.batch_size=0"}, "data.batch_size = 0: want at least 1"},
		{"negative shuffle", minimal, []string{"data.shuffle_buffer=-1"}, "data.shuffle_buffer = -1: want at least 1"},
		{"type error in the file", long, nil, everyLine},
		{"type error in an override", minimal, []string{"train.steps=abc"}, "--set train.steps=abc"},
		{"unknown override", minimal, []string{"train.batch_size=8"}, "--set train.batch_size: unknown key train.batch_size"},
	}
	for _, tc := range cases {
		_, err := ParseConfig([]byte(tc.text), tc.overrides)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	// overrides still override, in order, and a bare word is a string
	c, err := ParseConfig([]byte(minimal), []string{"train.lr=1e-3", "train.lr=2e-3", "run.name=my run", "model.architecture=bert"})
	if err != nil || c.Train.LR != 2e-3 || c.Run.Name != "my run" || c.Model.Architecture != "bert" {
		t.Errorf("overrides: %v, %+v", err, c.Train)
	}
}

// TestCheckIsWhatTheTrainerWouldRefuse: Check (the dashboard launch form's
// test of a launch) refuses what Pretrain refuses, in the same words, and
// creates nothing.
func TestCheckIsWhatTheTrainerWouldRefuse(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	for _, set := range [][]string{{"train.batch_size=8"}, {"train.steps=abc"}, {"data.max_predictions=1000"}} {
		o := Options{ConfigPath: cfg, Overrides: set}
		err := Check(o, "pretrain")
		_, perr := Pretrain(context.Background(), o)
		if err == nil || perr == nil || err.Error() != perr.Error() {
			t.Errorf("%v: Check %v, Pretrain %v", set, err, perr)
		}
	}
	if err := Check(Options{ConfigPath: cfg}, "finetune"); err == nil || !strings.Contains(err.Error(), "fnet-tui pretrain") {
		t.Errorf("a pretraining config launched as finetuning: %v", err)
	}
	if err := Check(Options{ConfigPath: cfg, Overrides: []string{"train.steps=3"}}, "pretrain"); err != nil {
		t.Errorf("a good launch: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "runs")); len(ents) != 0 {
		t.Errorf("Check created %d run folders", len(ents))
	}
}

// TestTOMLWithAnOddPath: the rendered config re-parses whatever its source
// path holds (a newline ended the header comment and broke config.toml).
func TestTOMLWithAnOddPath(t *testing.T) {
	c, err := ParseConfig([]byte(minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Path = "a\nkind = 'x'.toml"
	back, err := ParseConfig(c.TOML(), nil)
	if err != nil || back.Kind != "pretrain" {
		t.Fatalf("re-parse: %v (kind %q)", err, back.Kind)
	}
}

// TestTrainGPUs: train.gpus (the local ranks `--gpus` overrides) is 1 by
// default, taken from the file or --set, and refused below 1 or when not an
// integer, naming the key.
func TestTrainGPUs(t *testing.T) {
	c, err := ParseConfig([]byte(minimal), nil)
	if err != nil || c.Train.GPUs != 1 {
		t.Fatalf("default: train.gpus = %d, %v; want 1", c.Train.GPUs, err)
	}
	c, err = ParseConfig([]byte(strings.Replace(minimal, "[train]\n", "[train]\ngpus = 4\n", 1)), nil)
	if err != nil || c.Train.GPUs != 4 {
		t.Fatalf("gpus = 4 in the file: train.gpus = %d, %v", c.Train.GPUs, err)
	}
	if c, err = ParseConfig([]byte(minimal), []string{"train.gpus=8"}); err != nil || c.Train.GPUs != 8 {
		t.Fatalf("--set train.gpus=8: train.gpus = %d, %v", c.Train.GPUs, err)
	}
	for _, tc := range []struct{ set, want string }{
		{"train.gpus=0", "train.gpus = 0: want at least 1"},
		{"train.gpus=-2", "train.gpus = -2: want at least 1"},
		{"train.gpus=2.5", "--set train.gpus=2.5"},
		{"train.gpus=\"two\"", "--set train.gpus"},
	} {
		if _, err := ParseConfig([]byte(minimal), []string{tc.set}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %s: error %v, want %q", tc.set, err, tc.want)
		}
	}
}
