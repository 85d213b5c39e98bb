package hf

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// RunInfo is what the model card says about the run behind a checkpoint.
type RunInfo struct {
	RunDir     string
	Kind, Task string
	Step       int // the checkpoint's
	TotalSteps int
	Tokens     int64
	Elapsed    time.Duration
	Metric     string   // finetuning: the dev metric checkpoints are picked by
	Score      *float64 // and this checkpoint's value of it
	ConfigTOML string   // the run's resolved config.toml
	// Eval holds the eval lines at the checkpoint's step (or the last step
	// before it that has one): one per task (MNLI writes two). Test is the
	// LRA test line, if any.
	Eval []rundir.Metric
	Test *rundir.Metric
}

// ReadRun fills what a run directory tells about the checkpoint in ckDir
// (runs/<id>/checkpoints/<step>/) at step: the run's config.toml and its
// eval and test metrics. nil when ckDir is not inside a run directory.
func ReadRun(ckDir string, step int) *RunInfo {
	ckDir, err := filepath.EvalSymlinks(ckDir)
	if err != nil || filepath.Base(filepath.Dir(ckDir)) != rundir.CheckpointsDir {
		return nil
	}
	runDir := filepath.Dir(filepath.Dir(ckDir))
	ri := &RunInfo{RunDir: runDir, Step: step}
	if b, err := os.ReadFile(filepath.Join(runDir, rundir.ConfigFile)); err == nil {
		ri.ConfigTOML = string(b)
	}
	r := rundir.NewMetricsReader(runDir)
	var all []rundir.Metric
	for i := 0; i < 1<<20; i++ {
		p, err := r.Poll()
		if err != nil {
			break
		}
		if p.Reset {
			all = all[:0]
		}
		all = append(all, p.Metrics...)
		if !p.More {
			break
		}
	}
	at := -1
	for _, m := range all {
		if m.Split == "eval" && m.Step <= step && m.Step > at {
			at = m.Step
		}
	}
	byTask := map[string]rundir.Metric{}
	for _, m := range all {
		switch {
		case m.Split == "eval" && m.Step == at:
			byTask[m.Task] = m // a later line of the same step wins (a resumed run)
		case m.Split == "test":
			t := m
			ri.Test = &t
		}
	}
	tasks := make([]string, 0, len(byTask))
	for t := range byTask {
		tasks = append(tasks, t)
	}
	sort.Strings(tasks)
	for _, t := range tasks {
		ri.Eval = append(ri.Eval, byTask[t])
	}
	return ri
}

// modelCard is the README.md of an export: what the model is, how to load
// it, how it was trained and what it scored.
func modelCard(src Source, c Class, tokFiles []namedFile) string {
	cfg := src.Model.Config
	var b strings.Builder
	pipeline := "fill-mask"
	if c.Heads.Classifier {
		pipeline = "text-classification"
	} else if c.Base {
		pipeline = "feature-extraction"
	}
	fmt.Fprintf(&b, "---\nlibrary_name: transformers\npipeline_tag: %s\ntags:\n- fnet-tui\n- %s\n", pipeline, cfg.HFModelType())
	if cfg.Task != "" {
		fmt.Fprintf(&b, "- %s\n", cfg.Task)
	}
	b.WriteString("---\n\n")
	title := filepath.Base(filepath.Clean(src.Dir))
	if src.Run != nil {
		title = filepath.Base(src.Run.RunDir) + " / " + title
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	what := "An FNet"
	if cfg.HFModelType() == "bert" {
		what = "A BERT"
	}
	fmt.Fprintf(&b, "%s model trained with [fnet-tui](https://github.com/fnet-tui/fnet-tui) and exported as `%s`.\n\n", what, c.Name)

	b.WriteString("## Model\n\n| | |\n|---|---|\n")
	row := func(k string, v any) { fmt.Fprintf(&b, "| %s | %v |\n", k, v) }
	row("class", "`"+c.Name+"`")
	row("architecture", cfg.ArchString())
	row("hidden size", cfg.HiddenSize)
	row("layers", cfg.NumLayers)
	row("feed-forward size", cfg.IntermediateSize)
	if cfg.HFModelType() == "bert" {
		row("attention heads", cfg.AttentionHeads())
	}
	row("vocabulary", cfg.VocabSize)
	row("max positions", cfg.MaxPositions)
	row("trained sequence length", cfg.SeqLen)
	row("activation", cfg.HiddenAct)
	row("parameters (encoder and pooler)", cfg.NumParams())
	if c.Heads.Classifier {
		row("labels", cfg.ClassifierOutputs())
	}
	if src.Tokenizer != nil && len(tokFiles) > 0 {
		row("tokenizer", fmt.Sprintf("%s (`%s`, %d pieces)", src.Tokenizer.Kind(), tokFiles[0].name, src.Tokenizer.VocabSize()))
	}
	b.WriteString("\n## Use\n\n```python\nimport torch\n")
	fmt.Fprintf(&b, "from transformers import AutoTokenizer, %s\n\n", c.Name)
	fmt.Fprintf(&b, "tok = AutoTokenizer.from_pretrained(\"PATH\")\nmodel = %s.from_pretrained(\"PATH\").eval()\n", c.Name)
	input := `"The capital of France is [MASK]."`
	if c.Heads.Classifier {
		input = `"A man is playing a guitar.", "Someone plays music."`
	}
	if cfg.HFModelType() == "fnet" {
		fmt.Fprintf(&b, "# FNet mixes every position, padding included: pad to the trained length, as fnet-tui does\n")
		fmt.Fprintf(&b, "enc = tok(%s, padding=\"max_length\", max_length=%d, return_tensors=\"pt\")\n", input, cfg.SeqLen)
	} else {
		fmt.Fprintf(&b, "enc = tok(%s, return_tensors=\"pt\")\n", input)
	}
	b.WriteString("with torch.no_grad():\n    out = model(**enc)\n```\n")
	if cfg.HFModelType() == "fnet" {
		fmt.Fprintf(&b, "\nFNet has no attention mask: its Fourier mixing sees the padding, so outputs match fnet-tui's only for inputs padded to %d tokens with the pad id %d.\n", cfg.SeqLen, cfg.PadTokenID)
	}

	if ri := src.Run; ri != nil {
		b.WriteString("\n## Training\n\n| | |\n|---|---|\n")
		if ri.Kind != "" {
			row("kind", ri.Kind)
		}
		if ri.Task != "" {
			row("task", ri.Task)
		}
		if ri.TotalSteps > 0 {
			row("step", fmt.Sprintf("%d of %d", ri.Step, ri.TotalSteps))
		} else {
			row("step", ri.Step)
		}
		if ri.Tokens > 0 {
			row("tokens seen", ri.Tokens)
		}
		if ri.Elapsed > 0 {
			row("training time", ri.Elapsed.Round(time.Second))
		}
		if ri.Metric != "" && ri.Score != nil {
			row("dev "+ri.Metric+" (this checkpoint)", formatValue(*ri.Score))
		}
		if len(ri.Eval) > 0 || ri.Test != nil {
			b.WriteString("\n## Evaluation\n\n")
			for _, m := range ri.Eval {
				what := "held-out"
				if m.Task != "" {
					what = m.Task + " dev"
				}
				fmt.Fprintf(&b, "%s at step %d:\n\n", what, m.Step)
				metricTable(&b, m)
			}
			if ri.Test != nil {
				fmt.Fprintf(&b, "test (the best validation checkpoint, step %d):\n\n", ri.Test.Step)
				metricTable(&b, *ri.Test)
			}
		}
		if ri.ConfigTOML != "" {
			b.WriteString("\n## Training config\n\nThe run's resolved `config.toml`:\n\n```toml\n")
			b.WriteString(strings.TrimRight(ri.ConfigTOML, "\n"))
			b.WriteString("\n```\n")
		}
	}
	b.WriteString("\n## Files\n\n`config.json` and `model.safetensors` (float32) as `save_pretrained` writes them")
	if len(tokFiles) > 0 {
		names := make([]string, len(tokFiles))
		for i, f := range tokFiles {
			names[i] = "`" + f.name + "`"
		}
		fmt.Fprintf(&b, "; the tokenizer in %s", strings.Join(names, ", "))
	}
	b.WriteString(". fnet-tui reads this folder back as a checkpoint (`--ckpt`, `finetune.from`).\n")
	return b.String()
}

func metricTable(b *strings.Builder, m rundir.Metric) {
	keys := make([]string, 0, len(m.Values))
	for k := range m.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("| metric | value |\n|---|---|\n")
	for _, k := range keys {
		fmt.Fprintf(b, "| %s | %s |\n", k, formatValue(m.Values[k]))
	}
	b.WriteString("\n")
}

func formatValue(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e12 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4f", v)
}
