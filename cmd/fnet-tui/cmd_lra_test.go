package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/lra"
	"github.com/fnet-tui/fnet-tui/train"
)

// lraGenerate runs `lra generate listops` for a small, short-tree set.
func lraGenerate(t *testing.T, out string, extra ...string) error {
	t.Helper()
	args := append([]string{"generate", "listops", "--out", out, "--train", "64", "--val", "16", "--test", "16",
		"--min-len", "10", "--max-len", "40", "--max-depth", "4", "--max-args", "4"}, extra...)
	var stdout, stderr bytes.Buffer
	return runLRA(args, &stdout, &stderr)
}

// TestLRAGenerateIsDeterministicAndKeepsFiles: the same seed writes the
// same bytes; a second run into the same folder is refused unless
// --force, leaving the files as they were.
func TestLRAGenerateIsDeterministicAndKeepsFiles(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if err := lraGenerate(t, a, "--seed", "5"); err != nil {
		t.Fatal(err)
	}
	if err := lraGenerate(t, b, "--seed", "5"); err != nil {
		t.Fatal(err)
	}
	for _, split := range []string{"train", "val", "test"} {
		x, _ := os.ReadFile(filepath.Join(a, lra.ListOpsFile(split)))
		y, _ := os.ReadFile(filepath.Join(b, lra.ListOpsFile(split)))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s: %d and %d bytes differ for the same seed", split, len(x), len(y))
		}
	}
	before, _ := os.ReadFile(filepath.Join(a, lra.ListOpsFile("train")))
	err := lraGenerate(t, a, "--seed", "6")
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second generate into the same folder: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(a, lra.ListOpsFile("train"))); !bytes.Equal(before, after) {
		t.Error("a refused generate changed the files")
	}
	if err := lraGenerate(t, a, "--seed", "6", "--force"); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(a, lra.ListOpsFile("train"))); bytes.Equal(before, after) {
		t.Error("--force with another seed left the old files")
	}
	var ue *usageError
	for _, args := range [][]string{{"generate", "text", "--out", a}, {"generate", "listops"}, {"frobnicate"}} {
		if err := runLRA(args, &bytes.Buffer{}, &bytes.Buffer{}); !errors.As(err, &ue) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

// TestLRAPredictAndScore trains a tiny ListOps model through the library,
// then checks that `lra predict` (finding the data from the run's config)
// and `lra score` of the file it wrote agree with the run's own test line.
func TestLRAPredictAndScore(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := lraGenerate(t, data, "--seed", "1"); err != nil {
		t.Fatal(err)
	}
	cfg := `kind = "finetune"
[finetune]
task = "listops"
data_dir = "` + data + `"
[model]
hidden_size = 16
num_layers = 1
intermediate_size = 32
heads = 1
[data]
seq_len = 48
batch_size = 8
[train]
steps = 8
threads = 2
[eval]
every = 4
[run]
dir = "` + filepath.Join(dir, "runs") + `"
`
	p := filepath.Join(dir, "l.toml")
	os.WriteFile(p, []byte(cfg), 0o644)
	run, err := train.Finetune(context.Background(), train.Options{ConfigPath: p, RunName: "l"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	pred := filepath.Join(dir, "p.tsv")
	if err := runLRA([]string{"predict", "--ckpt", run, "--out", pred, "--json"}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var got lraScore
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%q: %v", stdout.String(), err)
	}
	ownFile, _ := os.ReadFile(train.LRAPredictionsFile(run, lra.ListOps, "test"))
	if written, _ := os.ReadFile(pred); got.Examples != 16 || got.Split != "test" || !bytes.Equal(written, ownFile) {
		t.Errorf("predict: %+v; its file equals the run's own: %v", got, bytes.Equal(written, ownFile))
	}
	stdout.Reset()
	if err := runLRA([]string{"score", "--task", "listops", "--data", data, pred, "--json"}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var scored lraScore
	json.Unmarshal(stdout.Bytes(), &scored)
	if scored.Accuracy != got.Accuracy || scored.Examples != 16 {
		t.Errorf("score %+v, predict %+v", scored, got)
	}
	// a predictions file for another split's size is refused, naming it
	err = runLRA([]string{"score", "--task", "listops", "--data", data, "--split", "train", pred}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), pred) {
		t.Errorf("scoring 16 predictions against 64 training examples: %v", err)
	}
}
