package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// TestResumedBestNeedsTheSameMetric: a resumed finetune keeps its best dev
// score only when that score was recorded under the metric it now picks by;
// a best chosen by another finetune.metric is no bound (comparing an F1 with
// an accuracy would keep the wrong checkpoint as "best").
func TestResumedBestNeedsTheSameMetric(t *testing.T) {
	mrpc, err := glue.Lookup("mrpc")
	if err != nil {
		t.Fatal(err)
	}
	score := 0.71
	cases := []struct {
		name, recorded, metric string
		noScore                bool
		want                   *float64
		logs                   string
	}{
		{name: "same metric", recorded: "f1", metric: "f1", want: &score},
		{name: "another metric", recorded: "f1", metric: "accuracy", logs: "chosen by f1"},
		{name: "legacy checkpoint, the task's main metric", recorded: "", metric: mrpc.ScoreMetric, want: &score},
		{name: "legacy checkpoint, another metric", recorded: "", metric: "accuracy", logs: "chosen by " + mrpc.ScoreMetric},
		{name: "no score recorded", recorded: "f1", metric: "f1", noScore: true},
	}
	if mrpc.ScoreMetric == "accuracy" {
		t.Fatalf("the table assumes MRPC's main metric is not accuracy (it is %s)", mrpc.ScoreMetric)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run := t.TempDir()
			best := filepath.Join(run, rundir.CheckpointsDir, BestLink)
			os.MkdirAll(best, 0o755)
			ts := TrainerState{Kind: "finetune", Task: "mrpc", Step: 20, Metric: tc.recorded, Score: &score}
			if tc.noScore {
				ts.Score = nil
			}
			b, _ := json.Marshal(ts)
			os.WriteFile(filepath.Join(best, TrainerFile), b, 0o644)
			var log strings.Builder
			got := resumedBest(run, mrpc.ScoreMetric, tc.metric, func(f string, a ...any) { fmt.Fprintf(&log, f+"\n", a...) })
			switch {
			case tc.want == nil && got != nil:
				t.Errorf("best = %v, want none", *got)
			case tc.want != nil && (got == nil || *got != *tc.want):
				t.Errorf("best = %v, want %v", got, *tc.want)
			}
			if tc.logs != "" && !strings.Contains(log.String(), tc.logs) {
				t.Errorf("log %q does not say %q", log.String(), tc.logs)
			}
		})
	}
	if got := resumedBest(t.TempDir(), mrpc.ScoreMetric, "f1", t.Logf); got != nil {
		t.Errorf("a run without a best checkpoint has best %v", *got)
	}
}
