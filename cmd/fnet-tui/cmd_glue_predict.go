package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

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
	// all: the newest finished finetuning run of each task in the runs folder
	runs, err := os.ReadDir(*ckpt)
	if err != nil {
		return err
	}
	newest := map[string]string{}
	stamp := map[string]int64{}
	for _, e := range runs {
		dir := filepath.Join(*ckpt, e.Name())
		st, err := rundir.ReadStatus(dir)
		if err != nil || st.Kind != "finetune" || st.State != rundir.StateDone || st.Task == "" {
			continue
		}
		if t := st.UpdatedAt.UnixNano(); t > stamp[st.Task] {
			newest[st.Task], stamp[st.Task] = dir, t
		}
	}
	if len(newest) == 0 {
		return fmt.Errorf("no finished finetuning runs in %s", *ckpt)
	}
	tasks := make([]string, 0, len(newest))
	for t := range newest {
		tasks = append(tasks, t)
	}
	sort.Strings(tasks)
	var failed []string
	for _, name := range tasks {
		task, err := glue.Lookup(name)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		ck, err := train.LoadCheckpoint(bestOf(newest[name]))
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		files, err := train.PredictTasks(ctx, ck, dataDir, predicted(task), *out, inf)
		report(stdout, files)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if err := zipUp(stdout, *out); err != nil {
		return err
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
