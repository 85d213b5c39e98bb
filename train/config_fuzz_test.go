package train

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// FuzzParseConfig: whatever the TOML text and the --set overrides (one per
// line of sets), ParseConfig either fails or returns a valid config whose
// resolved TOML (Config.TOML, what a run directory's config.toml holds)
// parses again, with no overrides, to the identical config, and renders
// to the identical text. Path and Name are not TOML keys: ParseConfig
// leaves them empty and the round trip must too.
func FuzzParseConfig(f *testing.F) {
	f.Add(minimal, "")
	f.Add(minimal, "train.lr=3e-4\ntrain.device=cpu\neval.every=5\nmodel.hidden_size=128\nrun.name=x y")
	f.Add(minimal, "model.architecture=bert\nmodel.attention_layers=2\nmodel.attention_layout=mixed\nmodel.heads=2")
	f.Add(minimal, `run.name="a\"b\\c\u00e9\t"`+"\ndata.corpus='''multi\nline'''")
	f.Add(minimal, "model.dropout=-1\ntrain.clip_grad_norm=1.0\ntrain.min_lr=1e-300\ntrain.seed=18446744073709551615")
	f.Add(minimal, "model.dropout=nan\nmodel.layer_norm_eps=inf\nmodel.initializer_range=-0.0")
	f.Add(minimal, "model={preset='base'}\ntrain.steps=1")
	f.Add(strings.Replace(minimal, `kind = "pretrain"`, `kind = "finetune"`, 1), "finetune.task=sst2\nfinetune.epochs=0.5\ntrain.steps=0")
	f.Add("kind = 'finetune'\n[finetune]\ntask = 'mnli'\nfrom = 'runs/x/checkpoints/latest'\nmetric = 'accuracy'\n", "")
	f.Add("", "train.steps=1")
	f.Add("[train]\nsteps = 1\n[data]\nseq_len = 8\nmax_predictions = 8\n", "data.shuffle_buffer=1")
	f.Fuzz(func(t *testing.T, raw, sets string) {
		var overrides []string
		if sets != "" {
			overrides = strings.Split(sets, "\n")
		}
		c, err := ParseConfig([]byte(raw), overrides)
		if err != nil {
			return
		}
		if c.Path != "" || c.Name != "" {
			t.Fatalf("ParseConfig set Path %q, Name %q", c.Path, c.Name)
		}
		text := c.TOML()
		again, err := ParseConfig(text, nil)
		if err != nil {
			t.Fatalf("the resolved config does not parse: %v\n%s", err, text)
		}
		// %#v shows every field, NaN equal to NaN and -0 apart from 0
		if a, b := fmt.Sprintf("%#v", again), fmt.Sprintf("%#v", c); a != b {
			t.Fatalf("round trip changed the config:\n%s\n%s\nfrom\n%s", b, a, text)
		}
		if text2 := again.TOML(); !bytes.Equal(text2, text) {
			t.Fatalf("rendering is not a fixed point:\n%s\n%s", text, text2)
		}
	})
}
