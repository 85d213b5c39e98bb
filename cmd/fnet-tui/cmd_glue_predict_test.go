package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/train"
)

func fakeRun(t *testing.T, runs, name string, st rundir.Status) {
	t.Helper()
	dir := filepath.Join(runs, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := rundir.WriteStatus(dir, st); err != nil {
		t.Fatal(err)
	}
}

// TestGluePredictAllReportsProgressAndMissingTasks: --task all says which
// task it is on and, before zipping, which tasks the submission lacks and
// why.
func TestGluePredictAllReportsProgressAndMissingTasks(t *testing.T) {
	fx := tinyRuns(t)
	runs := t.TempDir()
	if err := os.Symlink(fx.finetune, filepath.Join(runs, "ft-rte")); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	fakeRun(t, runs, "ft-cola", rundir.Status{State: rundir.StateFailed, Kind: "finetune", Task: "cola", UpdatedAt: now, Error: "loss is NaN"})
	fakeRun(t, runs, "ft-sst2", rundir.Status{State: rundir.StateDone, Kind: "finetune", Task: "sst2", UpdatedAt: now})
	out := t.TempDir()
	var b bytes.Buffer
	err := runGlue([]string{"predict", "--ckpt", runs, "--task", "all", "--data", fx.glueDir, "--out", out}, &b, &b)
	text := b.String()
	if err == nil || !strings.Contains(err.Error(), "sst2") {
		t.Errorf("err = %v, want the sst2 failure", err)
	}
	for _, want := range []string{
		"[1/2] sst2: predicting", "[1/2] sst2: failed: ", "[2/2] rte: predicting", "rte: wrote ", "[2/2] rte: done in ",
		"cola (CoLA.tsv): no finished run (newest: ft-cola, failed: loss is NaN)",
		"sst2 (SST-2.tsv): failed: ",
		"mrpc (MRPC.tsv): no finetuning run in " + runs,
		"ax (AX.tsv): predicted by the mnli model: no finetuning run",
		fmt.Sprintf("submission.zip (1 of %d files: RTE.tsv)", len(glue.SubmissionFiles())),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	missing, zipped := strings.Index(text, "missing from the submission"), strings.Index(text, "submission.zip")
	if missing < 0 || zipped < missing {
		t.Errorf("the missing tasks are not listed before the zip:\n%s", text)
	}
	if _, err := os.Stat(filepath.Join(out, "RTE.tsv")); err != nil {
		t.Error(err)
	}
}

// TestGlueScoreTestFileHintsAtDevPredictions: scoring a run's test-set
// predictions says so and names the dev predictions the run wrote.
func TestGlueScoreTestFileHintsAtDevPredictions(t *testing.T) {
	fx := tinyRuns(t)
	testFile := filepath.Join(fx.finetune, rundir.PredictionsDir, "RTE.tsv")
	devFile := filepath.Join(fx.finetune, rundir.PredictionsDir, train.DevPredictionsDir, "RTE.tsv")
	err := runGlue([]string{"score", "--task", "rte", "--data", fx.glueDir, testFile}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "test") || !strings.Contains(err.Error(), devFile) {
		t.Fatalf("err = %v, want a hint naming %s", err, devFile)
	}
	// the same file elsewhere: recognised by its indices matching the test split
	copyFile := filepath.Join(t.TempDir(), "RTE.tsv")
	b, _ := os.ReadFile(testFile)
	os.WriteFile(copyFile, b, 0o644)
	err = runGlue([]string{"score", "--task", "rte", "--data", fx.glueDir, copyFile}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "test split") || !strings.Contains(err.Error(), "predictions/dev/RTE.tsv") {
		t.Errorf("copy: err = %v", err)
	}
	var out bytes.Buffer
	if err := runGlue([]string{"score", "--task", "rte", "--data", fx.glueDir, devFile}, &out, &bytes.Buffer{}); err != nil {
		t.Errorf("scoring the dev predictions: %v", err)
	}
}
