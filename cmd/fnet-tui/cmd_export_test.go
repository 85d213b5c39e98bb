package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/hf"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/safetensors"
	"github.com/fnet-tui/fnet-tui/tokenizer"
	"github.com/fnet-tui/fnet-tui/train"
)

// exportRun makes a run directory as a trainer leaves it: a checkpoint
// at step 20 of a tiny model of the architecture, config.toml and
// metrics.jsonl with eval lines before and at that step.
func exportRun(t *testing.T, arch string) string {
	t.Helper()
	words := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "a", "dog", "ran", "."}
	tok, err := tokenizer.NewWordPiece([]byte(strings.Join(words, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fnet.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.NumLayers, cfg.IntermediateSize = len(words), 16, 2, 32
	cfg.MaxPositions, cfg.SeqLen, cfg.PadTokenID, cfg.DropoutProb = 32, 16, 0, 0
	if arch != "fnet" {
		cfg.Architecture = arch
	}
	if arch == "bert" {
		cfg.ModelType, cfg.HiddenAct, cfg.NumHeads = "bert", "gelu", 2
	}
	eng, err := fnet.NewCPUEngine(cfg, fnet.PretrainingHeads, fnet.DefaultAdamW, fnet.CPUOptions{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	run := filepath.Join(t.TempDir(), "runs", "pretrain-tiny-"+arch)
	os.MkdirAll(run, 0o755)
	if _, err := train.SaveCheckpoint(run, eng, tok, train.TrainerState{Kind: "pretrain", Step: 20, TotalSteps: 40, Tokens: 5120, ElapsedS: 12}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(run, rundir.ConfigFile), []byte("kind = \"pretrain\"\n[train]\nsteps = 40\nlr = 0.003\n"), 0o644)
	os.WriteFile(filepath.Join(run, rundir.MetricsFile), []byte(
		`{"t":"2026-01-02T03:04:05Z","step":10,"split":"eval","mlm_acc":0.125,"loss":5.5}`+"\n"+
			`{"t":"2026-01-02T03:04:06Z","step":20,"split":"train","loss":4.25}`+"\n"+
			`{"t":"2026-01-02T03:04:07Z","step":20,"split":"eval","mlm_acc":0.3125,"loss":4.5}`+"\n"+
			`{"t":"2026-01-02T03:04:08Z","step":30,"split":"eval","mlm_acc":0.5,"loss":3.5}`+"\n"), 0o644)
	return run
}

// TestExportCommand: `export --hf` turns a run into a folder that loads
// back as the same model with a card holding the run's config and eval
// numbers at the checkpoint's step; `export --logits` writes the same
// logits from the run and from its export; bad invocations are usage
// errors and a non-empty folder is refused.
func TestExportCommand(t *testing.T) {
	for _, arch := range []string{"fnet", "bert"} {
		t.Run(arch, func(t *testing.T) {
			run := exportRun(t, arch)
			out := filepath.Join(t.TempDir(), "hf")
			var so, se bytes.Buffer
			if err := runExport([]string{"--hf", out, run}, &so, &se); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"fnet": "FNetForPreTraining", "bert": "BertForPreTraining"}[arch]
			if !strings.Contains(so.String(), want) {
				t.Errorf("stdout %q", so.String())
			}
			ck, err := train.LoadCheckpoint(run)
			if err != nil {
				t.Fatal(err)
			}
			back, err := hf.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			for n, v := range ck.Model.Params {
				if !slices.Equal(back.Model.Params[n], v) {
					t.Errorf("%s differs", n)
				}
			}
			card, _ := os.ReadFile(filepath.Join(out, hf.CardFile))
			for _, s := range []string{"lr = 0.003", "| mlm_acc | 0.3125 |", "at step 20", "20 of 40", "| tokens seen | 5120 |"} {
				if !strings.Contains(string(card), s) {
					t.Errorf("README.md lacks %q:\n%s", s, card)
				}
			}
			if strings.Contains(string(card), "0.5000") {
				t.Error("README.md reports an eval after the checkpoint's step")
			}

			text := filepath.Join(t.TempDir(), "s.txt")
			os.WriteFile(filepath.Join(text), []byte("the cat sat on the mat .\na dog ran\tthe dog sat .\n"), 0o644)
			a, b := filepath.Join(t.TempDir(), "a.safetensors"), filepath.Join(t.TempDir(), "b.safetensors")
			if err := runExport([]string{"--logits", a, "--text", text, run}, &so, &se); err != nil {
				t.Fatal(err)
			}
			if err := runExport([]string{"--logits", b, "--text", text, out}, &so, &se); err != nil {
				t.Fatal(err)
			}
			fa, err := safetensors.ReadFile(a)
			if err != nil {
				t.Fatal(err)
			}
			fb, _ := safetensors.ReadFile(b)
			for _, n := range []string{"ids", "type_ids", "masked_ids", "mask_positions", "mlm_logits"} {
				ta, tb := fa.Tensors[n], fb.Tensors[n]
				if ta == nil || tb == nil || !slices.Equal(ta.F32, tb.F32) || !slices.Equal(ta.Int, tb.Int) {
					t.Errorf("%s differs between the run and its export", n)
				}
			}
			if ids := fa.Tensors["ids"]; !slices.Equal(ids.Shape, []int{2, 16}) || ids.Int[0] != 2 || ids.Int[16+4] != 3 || fa.Tensors["type_ids"].Int[16+5] != 1 {
				t.Errorf("ids %v %v, types %v", ids.Shape, ids.Int, fa.Tensors["type_ids"].Int)
			}
			if l := fa.Tensors["mlm_logits"]; l.Shape[0] != 2 || l.Shape[2] != 14 || slices.Max(l.F32) == 0 {
				t.Errorf("mlm_logits shape %v", l.Shape)
			}

			if err := runExport([]string{"--hf", out, run}, &so, &se); err == nil || !strings.Contains(err.Error(), "--force") {
				t.Errorf("export into a non-empty folder: %v", err)
			}
			if err := runExport([]string{"--hf", out, "--force", "--class", "mlm", run}, &so, &se); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(se.String(), "next-sentence head") {
				t.Errorf("stderr %q: the dropped head is not mentioned", se.String())
			}
		})
	}
	var ue *usageError
	for _, args := range [][]string{{}, {"x"}, {"--hf", "o"}, {"--hf", "o", "--logits", "l", "x"}, {"--logits", "l", "x"}, {"--hf", "o", "a", "b"}} {
		if err := runExport(args, &bytes.Buffer{}, &bytes.Buffer{}); !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	run := exportRun(t, "linear")
	err := runExport([]string{"--hf", filepath.Join(t.TempDir(), "x"), run}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no transformers class") {
		t.Errorf("linear: %v", err)
	}
}
