package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/train"
)

func init() {
	registerGlue(&glueSub{name: "predict",
		summary: "write GLUE test-set predictions (submission format) and submission.zip from finetuned checkpoints",
		usage:   "--ckpt CHECKPOINT|RUNS_DIR --task TASK|all [--out DIR] [--data DIR] [--device cpu|cuda|auto]",
		run:     runGluePredict})
}

func runGluePredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("glue predict")
	ckpt := fs.String("ckpt", "", "a finetuned checkpoint (or its run directory); with --task all, a runs folder holding finetuning runs")
	taskName := fs.String("task", "", "task to predict, or all (each task's newest finished finetuning run in the --ckpt runs folder)")
	out := fs.String("out", "predictions", "folder for the submission files and submission.zip")
	data := fs.String("data", "", "GLUE data folder (default: $FNET_GLUE_DIR, $FNET_DATA/glue or ../shared/data/glue)")
	inference := inferenceFlags(fs, stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *ckpt == "" || *taskName == "" {
		return subUsage("predict", "--ckpt and --task are required")
	}
	inf, err := inference()
	if err != nil {
		return err
	}
	dataDir := *data
	if dataDir == "" {
		if dataDir, err = glue.DefaultDir(); err != nil {
			return err
		}
	}
	ctx := context.Background()
	if *taskName != "all" {
		task, err := glue.Lookup(*taskName)
		if err != nil {
			return subUsage("predict", "%v", err)
		}
		ck, err := train.LoadCheckpoint(bestOf(*ckpt))
		if err != nil {
			return err
		}
		files, err := train.PredictTasks(ctx, ck, dataDir, predicted(task), *out, inf)
		report(stdout, files)
		if err != nil {
			return err
		}
		return zipUp(stdout, *out)
	}
	return predictAll(ctx, *ckpt, dataDir, *out, inf, stdout, stderr)
}

// predictAll predicts the test sets with each GLUE task's newest finished
// finetuning run in the runs folder, saying which task it is on, then lists
// the submission files it could not write and why before zipping.
func predictAll(ctx context.Context, runsDir, dataDir, out string, inf train.Inference, stdout, stderr io.Writer) error {
	ents, err := os.ReadDir(runsDir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--ckpt %s: no such folder (with --task all, the runs folder holding the finetuning runs)", runsDir)
	}
	if err != nil {
		return err
	}
	type found struct {
		dir, state, errText string
		at                  int64
	}
	done, latest := map[string]found{}, map[string]found{} // by task: newest done run, newest run
	for _, e := range ents {
		dir := filepath.Join(runsDir, e.Name())
		st, err := rundir.ReadStatus(dir)
		if err != nil || st.Kind != "finetune" || st.Task == "" {
			continue
		}
		task, err := glue.Lookup(st.Task)
		if err != nil {
			continue // an LRA run
		}
		f := found{dir: dir, state: st.State, errText: st.Error, at: st.UpdatedAt.UnixNano()}
		if prev, ok := latest[task.Name]; !ok || f.at > prev.at {
			latest[task.Name] = f
		}
		if prev, ok := done[task.Name]; st.State == rundir.StateDone && (!ok || f.at > prev.at) {
			done[task.Name] = f
		}
	}
	if len(done) == 0 {
		return fmt.Errorf("no finished finetuning runs in %s", runsDir)
	}
	why := map[string]string{} // model task -> why it wrote nothing
	var tasks []glue.Task
	for _, t := range glue.AllTasks {
		if t.ModelTask != t.Name {
			continue
		}
		if _, ok := done[t.Name]; ok {
			tasks = append(tasks, t)
			continue
		}
		if l, ok := latest[t.Name]; ok {
			state := l.state
			if l.errText != "" {
				state += ": " + l.errText
			}
			why[t.Name] = fmt.Sprintf("no finished run (newest: %s, %s)", filepath.Base(l.dir), state)
		} else {
			why[t.Name] = "no finetuning run in " + runsDir
		}
	}
	var failed []string
	written := map[string]bool{}
	for i, task := range tasks {
		dir := done[task.Name].dir
		t0 := time.Now()
		fmt.Fprintf(stderr, "[%d/%d] %s: predicting the test set with %s\n", i+1, len(tasks), task.Name, bestOf(dir))
		ck, err := train.LoadCheckpoint(bestOf(dir))
		var files []string
		if err == nil {
			files, err = train.PredictTasks(ctx, ck, dataDir, predicted(task), out, inf)
		}
		for _, f := range files {
			written[filepath.Base(f)] = true
			fmt.Fprintf(stdout, "%s: wrote %s\n", task.Name, f)
		}
		if err != nil {
			why[task.Name] = "failed: " + err.Error()
			failed = append(failed, fmt.Sprintf("%s: %v", task.Name, err))
			fmt.Fprintf(stderr, "[%d/%d] %s: failed: %v\n", i+1, len(tasks), task.Name, err)
			continue
		}
		fmt.Fprintf(stderr, "[%d/%d] %s: done in %.1fs\n", i+1, len(tasks), task.Name, time.Since(t0).Seconds())
	}
	var missing []string
	for _, t := range glue.AllTasks {
		if written[t.SubmissionFile] {
			continue
		}
		reason := why[t.ModelTask]
		if reason == "" {
			reason = "not written" // e.g. its test file is absent, reported by the model's run above
		}
		if t.ModelTask != t.Name {
			reason = "predicted by the " + t.ModelTask + " model: " + reason
		}
		missing = append(missing, fmt.Sprintf("%s (%s): %s", t.Name, t.SubmissionFile, reason))
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "missing from the submission (%d of %d files):\n  %s\n", len(missing), len(glue.AllTasks), joinLines(missing))
	}
	if len(written) == 0 {
		return fmt.Errorf("no task was predicted, so no submission.zip was written:\n  %s", joinLines(failed))
	}
	path, included, err := glue.ZipSubmission(out)
	if err != nil {
		return err
	}
	var stale []string
	for _, f := range included {
		if !written[f] {
			stale = append(stale, f)
		}
	}
	fmt.Fprintf(stdout, "wrote %s (%d of %d files: %s)\n", path, len(included), len(glue.AllTasks), strings.Join(included, ", "))
	if len(stale) > 0 {
		fmt.Fprintf(stderr, "note: %s in %s were not written by this command but are in the zip (older predictions)\n", strings.Join(stale, ", "), out)
	}
	if len(failed) > 0 {
		return fmt.Errorf("some tasks failed:\n  %s", joinLines(failed))
	}
	return nil
}

// bestOf prefers a run's best dev checkpoint over its latest.
func bestOf(path string) string {
	best := filepath.Join(path, rundir.CheckpointsDir, train.BestLink)
	if _, err := os.Stat(best); err == nil {
		return best
	}
	return path
}

func predicted(task glue.Task) []glue.Task { return train.TasksPredictedBy(task) }

func report(w io.Writer, files []string) {
	for _, f := range files {
		fmt.Fprintf(w, "wrote %s\n", f)
	}
}

func zipUp(w io.Writer, dir string) error {
	path, included, err := glue.ZipSubmission(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s (%d files: %v)\n", path, len(included), included)
	return nil
}

func joinLines(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "\n  "
		}
		out += x
	}
	return out
}
