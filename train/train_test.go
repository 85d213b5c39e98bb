package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// testCorpus is one real book from the shared corpus.
func testCorpus(t *testing.T) string {
	p := filepath.Join("..", "..", "shared", "data", "corpus", "gutenberg", "pg11_alices_adventures_in_wonderland.txt")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared corpus not found at %s (../shared must sit beside the checkout)", p)
	}
	return p
}

// tinyConfig writes a config for a model small enough to train in
// milliseconds per step.
func tinyConfig(t *testing.T, dir string, extra string) string {
	text := `kind = "pretrain"
[model]
preset = "mini"
vocab_size = 400
hidden_size = 32
num_layers = 2
intermediate_size = 64
max_positions = 64
dropout = 0.1
[data]
corpus = "` + testCorpus(t) + `"
tokenizer = "auto"
tokenizer_sentences = 2000
seq_len = 32
batch_size = 4
held_out = 0.05
workers = 2
shuffle_buffer = 64
[train]
steps = 12
lr = 2e-3
warmup_steps = 3
grad_accum = 2
clip_grad_norm = 1.0
threads = 2
seed = 7
[eval]
every = 6
batches = 2
[checkpoint]
every = 4
keep = 2
[log]
every = 1
[run]
dir = "` + filepath.Join(dir, "runs") + `"
` + extra
	p := filepath.Join(dir, "tiny.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// metricsBySplit reads metrics.jsonl: the values of each line of a split, by step.
func metricsBySplit(t *testing.T, runDir, split string) map[int]map[string]float64 {
	f, err := os.Open(filepath.Join(runDir, rundir.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int]map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m rundir.Metric
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		if m.Split == split {
			out[m.Step] = m.Values
		}
	}
	return out
}

// TestResumeIsExact stops a run at step 5 (between checkpoints, with
// gradient accumulation, dropout and a shuffled multi-worker data stream),
// resumes it, and requires every later loss, gradient norm and evaluation
// to equal, bit for bit, those of a run that never stopped.
func TestResumeIsExact(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	ctx := context.Background()
	full, err := Pretrain(ctx, Options{ConfigPath: cfg, RunName: "full"})
	if err != nil {
		t.Fatal(err)
	}
	part, err := Pretrain(ctx, Options{ConfigPath: cfg, RunName: "part", StopAfter: 5})
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("StopAfter: err = %v, want ErrStopped", err)
	}
	if st, _ := rundir.ReadStatus(part); st.State != rundir.StateStopped || st.Step != 5 {
		t.Fatalf("stopped run status %+v", st)
	}
	if _, err := Pretrain(ctx, Options{Resume: part}); err != nil {
		t.Fatalf("resume: %v", err)
	}
	a, b := metricsBySplit(t, full, "train"), metricsBySplit(t, part, "train")
	for step := 6; step <= 12; step++ {
		for _, k := range []string{"loss", "mlm_loss", "nsp_loss", "mlm_acc", "grad_norm", "lr"} {
			if a[step][k] != b[step][k] {
				t.Errorf("step %d %s: uninterrupted %v, resumed %v", step, k, a[step][k], b[step][k])
			}
		}
	}
	if a[12]["loss"] == 0 || a[12]["loss"] == a[1]["loss"] {
		t.Fatalf("suspicious losses: %v %v", a[1], a[12])
	}
	ea, eb := metricsBySplit(t, full, "eval"), metricsBySplit(t, part, "eval")
	if ea[12]["loss"] != eb[12]["loss"] || ea[12]["mlm_acc"] != eb[12]["mlm_acc"] {
		t.Errorf("final eval differs: %v vs %v", ea[12], eb[12])
	}
	// checkpoints: keep 2, latest points at the final step, no temp dirs
	ck := filepath.Join(full, rundir.CheckpointsDir)
	steps, _ := ListCheckpoints(ck)
	if len(steps) != 2 || steps[1] != StepDirName(12) {
		t.Errorf("checkpoints %v, want the last two ending at step 12", steps)
	}
	if target, _ := os.Readlink(filepath.Join(ck, rundir.LatestLink)); target != StepDirName(12) {
		t.Errorf("latest -> %q", target)
	}
	ents, _ := os.ReadDir(ck)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover %s", e.Name())
		}
	}
	for _, f := range []string{"model.safetensors", "optimizer.safetensors", TrainerFile, SPTokenizerFile} {
		if _, err := os.Stat(filepath.Join(ck, StepDirName(12), f)); err != nil {
			t.Errorf("checkpoint lacks %s", f)
		}
	}
	if st, _ := rundir.ReadStatus(full); st.State != rundir.StateDone || st.Step != 12 || st.EndedAt == nil {
		t.Errorf("final status %+v", st)
	}
}

// TestNaNStopsTheRun: an absurd learning rate blows the model up; the run
// must fail with a clear error, and the latest checkpoint must still load
// and hold finite weights.
func TestNaNStopsTheRun(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	runDir, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "nan",
		Overrides: []string{"train.lr=1e12", "train.clip_grad_norm=0", "train.warmup_steps=0", "train.steps=40", "checkpoint.every=1", "eval.every=0"}})
	if err == nil {
		t.Fatal("a diverging run finished without error")
	}
	if !strings.Contains(err.Error(), "NaN") && !strings.Contains(err.Error(), "Inf") {
		t.Errorf("error does not say what happened: %v", err)
	}
	st, _ := rundir.ReadStatus(runDir)
	if st.State != rundir.StateFailed || st.Error == "" {
		t.Errorf("status %+v", st)
	}
	ck, err := LoadCheckpoint(runDir)
	if err != nil {
		t.Skipf("diverged before the first checkpoint: %v", err) // nothing to keep; still a clean failure
	}
	if name, ok := nonFinite(ck.Model.Params); !ok {
		t.Errorf("latest checkpoint holds non-finite %s", name)
	}
}

// TestSignalCheckpointsAndStops cancels the run's context (what SIGINT and
// SIGTERM do) once it is training.
func TestSignalCheckpointsAndStops(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDir := filepath.Join(dir, "runs", "sig")
	go func() {
		for ctx.Err() == nil {
			if st, err := rundir.ReadStatus(runDir); err == nil && st.Step >= 2 {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, err := Pretrain(ctx, Options{ConfigPath: cfg, RunName: "sig", Overrides: []string{"train.steps=100000", "checkpoint.every=0", "eval.every=0"}})
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err = %v, want ErrStopped", err)
	}
	st, _ := rundir.ReadStatus(runDir)
	if st.State != rundir.StateStopped {
		t.Errorf("state %s", st.State)
	}
	ck, err := LoadCheckpoint(runDir)
	if err != nil {
		t.Fatalf("no checkpoint after the signal: %v", err)
	}
	if ck.Trainer.Step != st.Step || ck.Trainer.Step < 2 {
		t.Errorf("checkpoint at step %d, status at %d", ck.Trainer.Step, st.Step)
	}
}

func TestRefusesALiveRunDirectory(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	runDir := filepath.Join(dir, "runs", "busy")
	os.MkdirAll(runDir, 0o755)
	host, _ := os.Hostname()
	rundir.WriteStatus(runDir, rundir.Status{State: rundir.StateRunning, PID: os.Getpid(), Host: host})
	_, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "busy"})
	if !errors.Is(err, ErrLiveRun) {
		t.Fatalf("err = %v, want ErrLiveRun", err)
	}
	// a dead owner's directory is not live; it ended before any checkpoint,
	// so it starts again cleanly (reliability_test.go covers one that has a
	// checkpoint: that needs --resume)
	rundir.WriteStatus(runDir, rundir.Status{State: rundir.StateRunning, PID: 1 << 30, Host: host})
	if _, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "busy", Overrides: []string{"train.steps=2"}}); err != nil {
		t.Fatalf("dead owner without a checkpoint: err = %v", err)
	}
}
