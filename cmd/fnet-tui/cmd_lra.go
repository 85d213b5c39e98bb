package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fnet-tui/fnet-tui/lra"
	"github.com/fnet-tui/fnet-tui/train"
)

// lraSub is one `fnet-tui lra` subcommand.
type lraSub struct {
	name, summary, usage string
	run                  func(args []string, stdout, stderr io.Writer) error
}

// lraSubs are the subcommands in the order help lists them (set in init:
// their functions refer back to the table for usage lines).
var lraSubs []lraSub

func init() {
	lraSubs = []lraSub{
		{"generate", "write ListOps data by the official generator's rules (no download)",
			"listops --out DIR [--seed S] [--train 96000 --val 2000 --test 2000] [--min-len 500 --max-len 2000 --max-depth 10 --max-args 10]", runLRAGenerate},
		{"predict", "predictions and accuracy of an LRA checkpoint on a split",
			"--ckpt CHECKPOINT|RUN --data DIR [--split test] [--out FILE] [--device cpu|cuda|auto] [--json]", runLRAPredict},
		{"score", "accuracy of a predictions file against a labelled split",
			"--task listops|text --data DIR [--split test] PRED.tsv [--json]", runLRAScore},
	}
	register(&command{
		name:    "lra",
		summary: "Long Range Arena: generate ListOps, predict and score (train with finetune -c configs/lra-*.toml)",
		usage:   "generate|predict|score [arguments]   (fnet-tui lra help lists them)",
		run:     func(args []string) error { return runLRA(args, os.Stdout, os.Stderr) },
		subs: func() []subcommand {
			out := make([]subcommand, len(lraSubs))
			for i, s := range lraSubs {
				out[i] = subcommand{name: s.name, summary: s.summary, usage: s.usage}
			}
			return out
		},
	})
}

func runLRA(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printLRAUsage(stderr)
		return usagef("missing lra command")
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printLRAUsage(stdout)
		return nil
	}
	for _, s := range lraSubs {
		if s.name == args[0] {
			return s.run(args[1:], stdout, stderr)
		}
	}
	printLRAUsage(stderr)
	return usagef("unknown lra command %q", args[0])
}

func printLRAUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: fnet-tui lra COMMAND [arguments]")
	fmt.Fprintln(w, "\nfnet-tui lra: the Long Range Arena's ListOps and Text tasks (docs/LRA.md)")
	for _, s := range lraSubs {
		fmt.Fprintf(w, "\n  fnet-tui lra %s %s\n      %s\n", s.name, s.usage, s.summary)
	}
	fmt.Fprintln(w, "\nTraining: fnet-tui finetune -c configs/lra-listops.toml [--set model.architecture=bert]")
}

func lraUsage(sub, format string, a ...any) error {
	for _, s := range lraSubs {
		if s.name == sub {
			return usagef("%s: %s (usage: fnet-tui lra %s %s)", sub, fmt.Sprintf(format, a...), sub, s.usage)
		}
	}
	return usagef(format, a...)
}

func runLRAGenerate(args []string, stdout, stderr io.Writer) error {
	def, counts := lra.DefaultListOpsOptions(), lra.DefaultListOpsCounts
	fs := newFlags("lra generate")
	out := fs.String("out", "", "folder for basic_train.tsv, basic_val.tsv and basic_test.tsv (created)")
	seed := fs.Uint64("seed", 0, "generator seed: the same seed gives the same files")
	nTrain := fs.Int("train", counts.Train, "training examples")
	nVal := fs.Int("val", counts.Val, "validation examples")
	nTest := fs.Int("test", counts.Test, "test examples")
	minLen := fs.Int("min-len", def.MinLen, "keep trees longer than this many tokens (strict, as the official generator)")
	maxLen := fs.Int("max-len", def.MaxLen, "keep trees shorter than this many tokens (strict)")
	maxDepth := fs.Int("max-depth", def.MaxDepth, "deepest level of a tree (the root is 1)")
	maxArgs := fs.Int("max-args", def.MaxArgs, "most arguments of an operator")
	force := fs.Bool("force", false, "replace ListOps files already in --out")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "listops" {
		return lraUsage("generate", "name the task: listops (Text is IMDb reviews: download them from %s)", lra.ACLIMDBURL)
	}
	if *out == "" {
		return lraUsage("generate", "--out is required")
	}
	if !*force {
		for _, split := range []string{"train", "val", "test"} {
			if p := filepath.Join(*out, lra.ListOpsFile(split)); fileExists(p) {
				return fmt.Errorf("%s exists; give --force to replace it, or another --out", p)
			}
		}
	}
	opt := def
	opt.Seed, opt.MinLen, opt.MaxLen, opt.MaxDepth, opt.MaxArgs = *seed, *minLen, *maxLen, *maxDepth, *maxArgs
	total := *nTrain + *nVal + *nTest
	opt.Progress = func(kept, drawn int) {
		fmt.Fprintf(stderr, "\rlistops: %d of %d examples (%d trees drawn)", kept, total, drawn)
	}
	err = lra.GenerateListOpsSplits(*out, opt, lra.ListOpsCounts{Train: *nTrain, Val: *nVal, Test: *nTest})
	fmt.Fprintln(stderr)
	if err != nil {
		return err
	}
	for _, split := range []string{"train", "val", "test"} {
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(*out, lra.ListOpsFile(split)))
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// lraScore is what predict and score print with --json.
type lraScore struct {
	Task       string  `json:"task"`
	Split      string  `json:"split"`
	Examples   int     `json:"examples"`
	Accuracy   float64 `json:"accuracy"`
	Checkpoint string  `json:"checkpoint,omitempty"`
	File       string  `json:"file,omitempty"`
}

func printLRAScore(w io.Writer, s lraScore, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(s)
	}
	fmt.Fprintf(w, "%s %s: accuracy %.4f on %d examples\n", s.Task, s.Split, s.Accuracy, s.Examples)
	return nil
}

func runLRAPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lra predict")
	ckpt := fs.String("ckpt", "", "an LRA checkpoint, or its run directory (its best checkpoint)")
	data := fs.String("data", "", "the task's data (as finetune.data_dir); default: the run's finetune.data_dir")
	split := fs.String("split", "test", "train, val or test")
	out := fs.String("out", "", "predictions file to write (index<TAB>prediction); default: none")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	batch := fs.Int("batch", 32, "examples per forward pass")
	inference := inferenceFlags(fs, stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *ckpt == "" {
		return lraUsage("predict", "--ckpt is required")
	}
	inf, err := inference()
	if err != nil {
		return err
	}
	s, err := lra.ResolveSplit(*split)
	if err != nil {
		return lraUsage("predict", "%v", err)
	}
	ck, err := train.LoadCheckpoint(bestOf(*ckpt))
	if err != nil {
		return err
	}
	task, err := train.LRATaskOf(ck)
	if err != nil {
		return err
	}
	dataDir := *data
	if dataDir == "" {
		if dataDir, err = runDataDir(ck.Dir); err != nil {
			return err
		}
	}
	acc, n, err := train.PredictLRASplit(context.Background(), ck, dataDir, s, *out, inf, *batch)
	if err != nil {
		return err
	}
	if *out != "" && !*asJSON {
		fmt.Fprintf(stdout, "wrote %s\n", *out)
	}
	return printLRAScore(stdout, lraScore{Task: task.Name, Split: s, Examples: n, Accuracy: acc, Checkpoint: ck.Dir, File: *out}, *asJSON)
}

// runDataDir is finetune.data_dir of the run a checkpoint belongs to.
func runDataDir(ckDir string) (string, error) {
	runDir := filepath.Dir(filepath.Dir(filepath.Clean(ckDir)))
	cfg, err := train.LoadConfig(filepath.Join(runDir, "config.toml"), nil)
	if err != nil || cfg.Finetune.DataDir == "" {
		return "", fmt.Errorf("give --data: %s is not inside a run whose config names finetune.data_dir", ckDir)
	}
	return cfg.Finetune.DataDir, nil
}

func runLRAScore(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lra score")
	taskName := fs.String("task", "", "listops or text")
	data := fs.String("data", "", "the task's data (as finetune.data_dir)")
	split := fs.String("split", "test", "train, val or test")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *taskName == "" || *data == "" {
		return lraUsage("score", "give --task, --data and one predictions file")
	}
	task, err := lra.Lookup(*taskName)
	if err != nil {
		return lraUsage("score", "%v", err)
	}
	s, err := lra.ResolveSplit(*split)
	if err != nil {
		return lraUsage("score", "%v", err)
	}
	ex, err := task.Load(*data, s)
	if err != nil {
		return err
	}
	preds, err := task.ReadPredictions(pos[0], len(ex))
	if err != nil {
		return err
	}
	acc, err := lra.ExampleAccuracy(preds, ex)
	if err != nil {
		return err
	}
	return printLRAScore(stdout, lraScore{Task: task.Name, Split: s, Examples: len(ex), Accuracy: acc, File: pos[0]}, *asJSON)
}
