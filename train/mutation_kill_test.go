package train

// Behavioural tests of the training loop and finetuning that compare the
// code with what it must compute, not one run of it with another run of
// the same code (tools/mutate lists the mutants they kill). The GLUE data
// are made here: a small STS-B-shaped task whose train labels a tiny model
// learns in a few steps, and a WordPiece vocabulary for it, so the tests
// need no shared data and run in about a second.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/rundir"
)

var synthWords = strings.Fields("red blue green black white cat dog bird fish cow big small old new fast slow runs eats sees likes")

// synthSTSB writes an STS-B folder (train, dev, test) and a vocab.txt into
// dir and returns the GLUE folder and the vocabulary's path. A pair's score
// is 5·(words from the first half of the list)/(words): what training learns. With devReversed the
// dev scores are 5 minus that, so the more the model learns, the worse its
// dev correlation gets, and the best dev checkpoint is an early one.
func synthSTSB(t *testing.T, dir string, nTrain, nDev int, devReversed bool) (string, string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	sentence := func() []string {
		n := 3 + rng.IntN(3)
		w := make([]string, n)
		for i := range w {
			w[i] = synthWords[rng.IntN(len(synthWords))]
		}
		return w
	}
	// the first half of the words count toward the score: a bag-of-words
	// sum, which a small model learns quickly
	pair := func() (string, string, float64) {
		a, b := sentence(), sentence()
		pos := 0
		for _, w := range append(a, b...) {
			if slices.Index(synthWords, w) < len(synthWords)/2 {
				pos++
			}
		}
		return strings.Join(a, " "), strings.Join(b, " "), 5 * float64(pos) / float64(len(a)+len(b))
	}
	gd := filepath.Join(dir, "glue")
	sd := filepath.Join(gd, "STS-B")
	if err := os.MkdirAll(sd, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, n int, labelled, reversed bool) {
		var b strings.Builder
		if labelled {
			b.WriteString("index\tsentence1\tsentence2\tscore\n")
		} else {
			b.WriteString("index\tsentence1\tsentence2\n")
		}
		for i := range n {
			s1, s2, score := pair()
			if reversed {
				score = 5 - score
			}
			if labelled {
				fmt.Fprintf(&b, "%d\t%s\t%s\t%.3f\n", i, s1, s2, score)
			} else {
				fmt.Fprintf(&b, "%d\t%s\t%s\n", i, s1, s2)
			}
		}
		if err := os.WriteFile(filepath.Join(sd, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("train.tsv", nTrain, true, false)
	write("dev.tsv", nDev, true, devReversed)
	write("test.tsv", 12, false, false)
	vocab := filepath.Join(dir, "vocab.txt")
	v := append([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}, synthWords...)
	if err := os.WriteFile(vocab, []byte(strings.Join(v, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return gd, vocab
}

// synthFinetuneConfig is a finetuning config for synthSTSB: a model small
// enough that a step takes a millisecond, dropout off unless extra sets it.
func synthFinetuneConfig(t *testing.T, dir, glueDir, vocab, name, extra string) string {
	t.Helper()
	text := `kind = "finetune"
[model]
preset = "mini"
hidden_size = 16
num_layers = 1
intermediate_size = 32
max_positions = 16
dropout = 0.0
[finetune]
task = "stsb"
glue_dir = "` + glueDir + `"
eval_batch = 16
[data]
tokenizer = "` + vocab + `"
seq_len = 16
batch_size = 8
[train]
steps = 12
lr = 1e-2
warmup_steps = 2
decay = "constant"
threads = 2
seed = 5
[eval]
every = 2
[checkpoint]
every = 0
keep = 0
[log]
every = 1
[run]
dir = "` + filepath.Join(dir, "runs") + `"
`
	text = mergeTOML(text, extra)
	p := filepath.Join(dir, name+".toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mergeTOML sets the "section.key = value" lines of extra in the config
// text (replacing a key the section has, adding it otherwise).
func mergeTOML(text, extra string) string {
	for _, line := range strings.Split(strings.TrimSpace(extra), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		key, val, _ := strings.Cut(line, "=")
		sec, k, _ := strings.Cut(strings.TrimSpace(key), ".")
		val = strings.TrimSpace(val)
		lines := strings.Split(text, "\n")
		in, done := false, false
		for i, l := range lines {
			if strings.HasPrefix(l, "[") {
				if in && !done {
					lines = append(lines[:i], append([]string{k + " = " + val}, lines[i:]...)...)
					done = true
					break
				}
				in = l == "["+sec+"]"
				continue
			}
			if in && strings.HasPrefix(l, k+" =") {
				lines[i] = k + " = " + val
				done = true
				break
			}
		}
		if !done {
			lines = append(lines, "["+sec+"]", k+" = "+val)
		}
		text = strings.Join(lines, "\n")
	}
	return text
}

// evalLines are a run's eval metric lines in file order (a resumed run
// appends to the same file).
type evalLine struct {
	step   int
	values map[string]float64
}

func evalLines(t *testing.T, runDir string) []evalLine {
	t.Helper()
	f, err := os.Open(filepath.Join(runDir, rundir.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []evalLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m rundir.Metric
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m.Split == "eval" {
			out = append(out, evalLine{m.Step, m.Values})
		}
	}
	return out
}

// bestCheckpoint reads checkpoints/best: the step its link names and the
// score its trainer.json records.
func bestCheckpoint(t *testing.T, runDir string) (string, *TrainerState) {
	t.Helper()
	ck := filepath.Join(runDir, rundir.CheckpointsDir)
	target, err := os.Readlink(filepath.Join(ck, BestLink))
	if err != nil {
		t.Fatalf("no best link: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(ck, BestLink, TrainerFile))
	if err != nil {
		t.Fatal(err)
	}
	var ts TrainerState
	if err := json.Unmarshal(b, &ts); err != nil {
		t.Fatal(err)
	}
	return target, &ts
}

// argmaxFirst is the step of the first highest score, and that score.
func argmaxFirst(evals []evalLine, metric string) (int, float64) {
	step, best := -1, math.Inf(-1)
	for _, e := range evals {
		if v := e.values[metric]; v > best {
			step, best = e.step, v
		}
	}
	return step, best
}

// TestBestCheckpointIsTheHighestDevScore: the best checkpoint is the first
// evaluation with the highest dev score, its trainer.json records that
// score and metric, and the run's test predictions are the best
// checkpoint's, not the last one's. The dev labels run against what
// training learns, so the best evaluation is an early one.
func TestBestCheckpointIsTheHighestDevScore(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 64, 32, true)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "best", "train.steps = 24")
	run, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunName: "best"}, "")
	if err != nil {
		t.Fatal(err)
	}
	evals := evalLines(t, run)
	if len(evals) != 12 {
		t.Fatalf("%d evaluations, want 12 (every 2 of 24 steps)", len(evals))
	}
	step, score := argmaxFirst(evals, "corr")
	lo, _ := argmaxFirst(negated(evals, "corr"), "corr")
	if step == evals[len(evals)-1].step || lo == step {
		t.Fatalf("premise: the dev scores must vary and peak before the end (best at %d, worst at %d): %v", step, lo, evals)
	}
	link, ts := bestCheckpoint(t, run)
	if link != StepDirName(step) || ts.Step != step {
		t.Errorf("best -> %s (step %d), want the highest dev corr, at step %d (%.4f)", link, ts.Step, step, score)
	}
	if ts.Score == nil || *ts.Score != score || ts.Metric != "corr" {
		t.Errorf("best checkpoint records %s = %v, want corr = %v", ts.Metric, ts.Score, score)
	}
	for _, e := range evals {
		// corr is the mean of the two correlations the line reports
		if got, want := e.values["corr"], (e.values["pearson"]+e.values["spearman"])/2; math.Abs(got-want) > 1e-12 {
			t.Errorf("step %d: corr %v, want (pearson + spearman)/2 = %v", e.step, got, want)
		}
	}

	// test predictions: the best checkpoint's
	ck := filepath.Join(run, rundir.CheckpointsDir)
	written, err := os.ReadFile(filepath.Join(run, rundir.PredictionsDir, "STS-B.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	predict := func(name string) string {
		c, err := LoadCheckpoint(filepath.Join(ck, name))
		if err != nil {
			t.Fatal(err)
		}
		task, _ := glue.Lookup("stsb")
		out := filepath.Join(t.TempDir(), name)
		if _, err := PredictTasks(context.Background(), c, gd, TasksPredictedBy(task), out, Inference{Device: "cpu"}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(out, "STS-B.tsv"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	fromBest, fromLatest := predict(BestLink), predict(rundir.LatestLink)
	if fromBest == fromLatest {
		t.Fatal("premise: the best and the last checkpoint predict alike")
	}
	if string(written) != fromBest {
		t.Errorf("predictions/STS-B.tsv is not the best checkpoint's")
	}
	// without a best checkpoint, the predictions come from the latest
	os.Remove(filepath.Join(ck, BestLink))
	task, _ := glue.Lookup("stsb")
	if err := writeTestPredictions(context.Background(), run, gd, task, Inference{Device: "cpu"}, t.Logf); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(run, rundir.PredictionsDir, "STS-B.tsv")); string(b) != fromLatest {
		t.Errorf("without a best checkpoint, predictions/STS-B.tsv is not the latest checkpoint's")
	}

	// one "best ... so far" line, and one best checkpoint, per improvement
	improved, top := 0, math.Inf(-1)
	for _, e := range evals {
		if e.values["corr"] > top {
			improved, top = improved+1, e.values["corr"]
		}
	}
	log, _ := os.ReadFile(filepath.Join(run, rundir.LogFile))
	if n := strings.Count(string(log), "best corr "); n != improved {
		t.Errorf("train.log names a new best %d times, the scores improved %d times", n, improved)
	}
}

func negated(evals []evalLine, metric string) []evalLine {
	out := make([]evalLine, len(evals))
	for i, e := range evals {
		out[i] = evalLine{e.step, map[string]float64{metric: -e.values[metric]}}
	}
	return out
}

// TestResumeKeepsTheBestScore stops a run right after its best evaluation
// and resumes it: the later, worse evaluations must not replace the best
// checkpoint, which a resumed run that forgot the earlier best would do.
func TestResumeKeepsTheBestScore(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 64, 32, true)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "best", "train.steps = 24")
	ctx := context.Background()
	full, err := Finetune(ctx, Options{ConfigPath: cfg, RunName: "full"}, "")
	if err != nil {
		t.Fatal(err)
	}
	evals := evalLines(t, full)
	step, score := argmaxFirst(evals, "corr")
	var after []evalLine
	for _, e := range evals {
		if e.step > step {
			after = append(after, e)
		}
	}
	if len(after) == 0 {
		t.Fatalf("premise: no evaluation after the best one (step %d)", step)
	}
	part, err := Finetune(ctx, Options{ConfigPath: cfg, RunName: "part", StopAfter: step}, "")
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("StopAfter %d: %v", step, err)
	}
	if _, err := Finetune(ctx, Options{Resume: part}, ""); err != nil {
		t.Fatal(err)
	}
	link, ts := bestCheckpoint(t, part)
	if link != StepDirName(step) || ts.Score == nil || *ts.Score != score {
		t.Errorf("after resuming, best -> %s (score %v), want step %d (%v) from before the stop", link, ts.Score, step, score)
	}
	// the resumed evaluations are the uninterrupted run's
	pe := evalLines(t, part)
	if len(pe) != len(evals) {
		t.Fatalf("%d evaluations after resuming, %d uninterrupted", len(pe), len(evals))
	}
	for i := range pe {
		if pe[i].step != evals[i].step || pe[i].values["corr"] != evals[i].values["corr"] {
			t.Errorf("evaluation %d: step %d corr %v, uninterrupted step %d corr %v", i, pe[i].step, pe[i].values["corr"], evals[i].step, evals[i].values["corr"])
		}
	}
	log, _ := os.ReadFile(filepath.Join(part, rundir.LogFile))
	if !strings.Contains(string(log), fmt.Sprintf("best dev corr: %.4f", score)) {
		t.Errorf("train.log does not end with the best dev corr %.4f", score)
	}
}

// TestBestCheckpointTiesKeepTheFirst: with a learning rate too small to
// change a float32 weight, every evaluation scores the same; the best
// checkpoint is the first of them, also across a resume.
func TestBestCheckpointTiesKeepTheFirst(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "tie", "train.lr = 1e-30\ntrain.steps = 12")
	ctx := context.Background()
	part, err := Finetune(ctx, Options{ConfigPath: cfg, RunName: "tie", StopAfter: 5}, "")
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("StopAfter: %v", err)
	}
	if _, err := Finetune(ctx, Options{Resume: part}, ""); err != nil {
		t.Fatal(err)
	}
	evals := evalLines(t, part)
	if len(evals) != 6 {
		t.Fatalf("%d evaluations, want 6", len(evals))
	}
	for _, e := range evals {
		if e.values["corr"] != evals[0].values["corr"] {
			t.Fatalf("premise: the scores differ (%v at step %d, %v at %d)", e.values["corr"], e.step, evals[0].values["corr"], evals[0].step)
		}
	}
	if link, ts := bestCheckpoint(t, part); link != StepDirName(2) || ts.Step != 2 {
		t.Errorf("best -> %s, want the first of the equal evaluations (step 2)", link)
	}
}

// TestGradAccumEqualsOneLargerBatch: two accumulated micro-batches of 4
// are one batch of 8 (dropout off, the same examples in the same order):
// the same losses and gradient norms step by step, and the same weights.
func TestGradAccumEqualsOneLargerBatch(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 64, 16, false)
	ctx := context.Background()
	runs := map[string]string{}
	for name, extra := range map[string]string{
		"accum": "data.batch_size = 4\ntrain.grad_accum = 2",
		"big":   "data.batch_size = 8\ntrain.grad_accum = 1",
		"small": "data.batch_size = 4\ntrain.grad_accum = 1",
	} {
		cfg := synthFinetuneConfig(t, dir, gd, vocab, name, extra+"\ntrain.steps = 6\neval.every = 100\ntrain.clip_grad_norm = 0")
		run, err := Finetune(ctx, Options{ConfigPath: cfg, RunName: name}, "")
		if err != nil {
			t.Fatal(err)
		}
		runs[name] = run
	}
	a, b, s := metricsBySplit(t, runs["accum"], "train"), metricsBySplit(t, runs["big"], "train"), metricsBySplit(t, runs["small"], "train")
	rel := func(x, y float64) float64 { return math.Abs(x-y) / math.Max(1e-12, math.Abs(y)) }
	for step := 1; step <= 6; step++ {
		for _, k := range []string{"loss", "grad_norm"} {
			if d := rel(a[step][k], b[step][k]); !(d < 1e-4) {
				t.Errorf("step %d %s: accumulated %v, one batch of 8 %v", step, k, a[step][k], b[step][k])
			}
		}
	}
	// premise: half the batch alone is measurably different
	if d := rel(s[1]["grad_norm"], b[1]["grad_norm"]); d < 1e-3 {
		t.Fatalf("premise: a batch of 4 has the gradient norm of a batch of 8 (%v vs %v)", s[1]["grad_norm"], b[1]["grad_norm"])
	}
	ca, err := LoadCheckpoint(runs["accum"])
	if err != nil {
		t.Fatal(err)
	}
	cb, err := LoadCheckpoint(runs["big"])
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for name, pa := range ca.Model.Params {
		for i, x := range pa {
			worst = math.Max(worst, math.Abs(float64(x)-float64(cb.Model.Params[name][i])))
		}
	}
	if !(worst < 1e-5) {
		t.Errorf("weights differ by up to %g after 6 steps", worst)
	}
	if ta, tb := ca.Trainer, cb.Trainer; ta.MicroSteps != 12 || tb.MicroSteps != 6 || ta.Tokens != tb.Tokens {
		t.Errorf("micro-steps %d and %d (want 12 and 6), tokens %d and %d (want equal)", ta.MicroSteps, tb.MicroSteps, ta.Tokens, tb.Tokens)
	}
}

// TestNonFiniteLossStopsTheRun: an absurd learning rate makes the second
// step's loss NaN; the run must fail saying so, before the update, and the
// last checkpoint (after step 1) must hold finite weights.
func TestNonFiniteLossStopsTheRun(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "nan", "train.lr = 1e30\ntrain.warmup_steps = 0\ncheckpoint.every = 1\neval.every = 100")
	run, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunName: "nan"}, "")
	if err == nil || !strings.Contains(err.Error(), "loss is NaN at step 2") {
		t.Fatalf("err = %v, want the loss named as NaN at step 2", err)
	}
	st, _ := rundir.ReadStatus(run)
	if st.State != rundir.StateFailed || !strings.Contains(st.Error, "loss is NaN") {
		t.Errorf("status %+v", st)
	}
	ck, err := LoadCheckpoint(run)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Trainer.Step != 1 {
		t.Errorf("last checkpoint at step %d, want 1", ck.Trainer.Step)
	}
	if name, ok := nonFinite(ck.Model.Params); !ok {
		t.Errorf("the kept checkpoint holds a non-finite %s", name)
	}
}

// TestNonFinite: NaN and ±Inf are caught in any parameter; the largest
// finite float32 values are not.
func TestNonFinite(t *testing.T) {
	ok := map[string][]float32{"a": {0, 1, -2}, "b": {math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}}
	if name, fine := nonFinite(ok); !fine {
		t.Errorf("finite parameters reported non-finite (%s)", name)
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		p := map[string][]float32{"a": {0, 1}, "b": {2, bad, 3}}
		if name, fine := nonFinite(p); fine || name != "b" {
			t.Errorf("%v: reported (%q, %v), want (b, false)", bad, name, fine)
		}
	}
}

// TestResumeContinuesTheCounters: a resumed run continues the micro-step,
// token and elapsed-time counters of its checkpoint (elapsed is set to a
// value no run reaches here, so only a restored one shows).
func TestResumeContinuesTheCounters(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "cnt", "train.grad_accum = 2\ndata.batch_size = 4\neval.every = 100")
	ctx := context.Background()
	full, err := Finetune(ctx, Options{ConfigPath: cfg, RunName: "full"}, "")
	if err != nil {
		t.Fatal(err)
	}
	part, err := Finetune(ctx, Options{ConfigPath: cfg, RunName: "part", StopAfter: 7}, "")
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("StopAfter: %v", err)
	}
	// the stop checkpoint claims 1000 s of training so far
	tf := filepath.Join(part, rundir.CheckpointsDir, StepDirName(7), TrainerFile)
	b, err := os.ReadFile(tf)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.Unmarshal(b, &raw)
	raw["elapsed_s"] = 1000.0
	b, _ = json.Marshal(raw)
	os.WriteFile(tf, b, 0o644)
	if _, err := Finetune(ctx, Options{Resume: part}, ""); err != nil {
		t.Fatal(err)
	}
	cf, err := LoadCheckpoint(full)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := LoadCheckpoint(part)
	if err != nil {
		t.Fatal(err)
	}
	f, p := cf.Trainer, cp.Trainer
	if p.Step != 12 || p.MicroSteps != f.MicroSteps || p.MicroSteps != 24 || p.Tokens != f.Tokens || p.Tokens != 24*4*16 {
		t.Errorf("resumed: step %d micro-steps %d tokens %d; uninterrupted: micro-steps %d tokens %d (want 24 and %d)", p.Step, p.MicroSteps, p.Tokens, f.MicroSteps, f.Tokens, 24*4*16)
	}
	if f.ElapsedS <= 0 || f.ElapsedS > 60 {
		t.Errorf("uninterrupted elapsed %.1f s, want this test's few seconds", f.ElapsedS)
	}
	if p.ElapsedS < 1000 || p.ElapsedS > 1000+60 {
		t.Errorf("resumed elapsed %.1f s, want the checkpoint's 1000 s plus this process's", p.ElapsedS)
	}
}
