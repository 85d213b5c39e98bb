package plotfile

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeRun makes runs/<name>/metrics.jsonl from lines (each a JSON object
// without "t", which is added).
func writeRun(t *testing.T, root, name string, lines ...string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, l := range lines {
		fmt.Fprintf(&b, `{"t":"2026-01-01T00:00:%02dZ",%s`+"\n", i%60, strings.TrimPrefix(l, "{"))
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func train(step int, loss float64) string {
	// 4096 tokens per step: tokens_per_s 40960 at 100 ms a step
	return fmt.Sprintf(`{"step":%d,"split":"train","loss":%g,"lr":0.001,"tokens_per_s":40960,"step_ms":100,"elapsed_s":%g}`, step, loss, float64(step)/10)
}

func TestFromRunsUnknownMetricListsWhatRunsLog(t *testing.T) {
	root := t.TempDir()
	a := writeRun(t, root, "a", train(10, 3), `{"step":10,"split":"eval","accuracy":0.5,"task":"rte"}`)
	_, err := FromRuns([]string{a}, "f1", Step)
	if err == nil {
		t.Fatal("no error for a metric no run logs")
	}
	for _, want := range []string{"no run logs f1", a, "train/loss", "train/lr", "eval/accuracy", "train/elapsed_s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	_, err = FromRuns([]string{a}, "eval/loss", Step)
	if err == nil || !strings.Contains(err.Error(), "no run logs eval/loss") || !strings.Contains(err.Error(), "eval/accuracy") {
		t.Errorf("eval/loss: %v", err)
	}
	for _, bad := range []string{"", "/loss", "eval/"} {
		if _, err := FromRuns([]string{a}, bad, Step); err == nil {
			t.Errorf("metric %q accepted", bad)
		}
	}
	if _, err := FromRuns([]string{filepath.Join(root, "typo")}, "loss", Step); err == nil || !strings.Contains(err.Error(), "typo") {
		t.Errorf("missing run folder: %v", err)
	}
	os.MkdirAll(filepath.Join(root, "empty"), 0o755)
	if _, err := FromRuns([]string{filepath.Join(root, "empty")}, "loss", Step); err == nil || !strings.Contains(err.Error(), "metrics.jsonl") {
		t.Errorf("folder without metrics.jsonl: %v", err)
	}
	if _, err := FromRuns([]string{a}, "loss", XAxis("epochs")); err == nil || !strings.Contains(err.Error(), "epochs") {
		t.Errorf("bad x axis: %v", err)
	}
}

func TestFromRunsSeriesPerRun(t *testing.T) {
	root := t.TempDir()
	a := writeRun(t, root, "a",
		train(10, 3), train(20, 2.5), `{"step":20,"split":"eval","loss":2.75}`,
		train(30, 2.25), `{"step":30,"split":"system","rss_gib":1}`,
		// resumed from step 20: steps 30 and after are replaced
		train(30, 2.0), train(40, 1.5), `{"step":40,"split":"eval","loss":null}`,
		`{"step":40,"split":"eval","loss":1.75}`)
	b := writeRun(t, root, "b", train(10, 4), "{not json", train(20, 3.5))
	c := writeRun(t, root, "c", `{"step":5,"split":"eval","accuracy":0.5}`) // no loss at all

	f, err := FromRuns([]string{a, b, c}, "loss", Step)
	if err != nil {
		t.Fatal(err)
	}
	if f.YLabel != "train/loss" || f.XLabel != "step" || len(f.Series) != 2 {
		t.Fatalf("figure %+v", f)
	}
	if s := f.Series[0]; s.Name != "a" || !slices.Equal(s.X, []float64{10, 20, 30, 40}) || !slices.Equal(s.Y, []float64{3, 2.5, 2.0, 1.5}) {
		t.Errorf("a: %+v", s)
	}
	if s := f.Series[1]; s.Name != "b" || !slices.Equal(s.Y, []float64{4, 3.5}) {
		t.Errorf("b: %+v", s)
	}
	if len(f.Notes) != 1 || !strings.Contains(f.Notes[0], c) || !strings.Contains(f.Notes[0], "eval/accuracy") {
		t.Errorf("notes %q: want c left out, naming what it logs", f.Notes)
	}

	// eval lines: the null is left out with a note; the later step-40 line counts
	f, err = FromRuns([]string{a}, "eval/loss", Tokens)
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Series[0]; !slices.Equal(s.X, []float64{20 * 4096, 40 * 4096}) || !slices.Equal(s.Y, []float64{2.75, 1.75}) {
		t.Errorf("eval/loss by tokens: %+v", s)
	}
	if f.XLabel != "tokens" {
		t.Errorf("x label %q", f.XLabel)
	}

	// time: train lines' elapsed_s; eval interpolated between them
	f, err = FromRuns([]string{a}, "train/loss", Time)
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Series[0]; !slices.Equal(s.X, []float64{1, 2, 3, 4}) {
		t.Errorf("train/loss by time: %v", s.X)
	}
	f, err = FromRuns([]string{c, a}, "eval/accuracy", Step)
	if err != nil || len(f.Series) != 1 || f.Series[0].Name != "c" {
		t.Errorf("eval/accuracy: %+v, %v", f, err)
	}
	if _, err := FromRuns([]string{c}, "eval/accuracy", Time); err == nil || !strings.Contains(err.Error(), "elapsed_s") {
		t.Errorf("time axis without train lines: %v", err)
	}

	// two runs with the same folder name are told apart by path
	d := writeRun(t, filepath.Join(root, "other"), "a", train(10, 1))
	f, err = FromRuns([]string{a, d}, "loss", Step)
	if err != nil || f.Series[0].Name == f.Series[1].Name {
		t.Errorf("same-named runs: %+v, %v", f.Series, err)
	}
}

func TestInterpolate(t *testing.T) {
	xs, ys := []float64{10, 20, 40}, []float64{1, 2, 6}
	for _, c := range []struct{ x, want float64 }{{0, 0}, {5, 0.5}, {10, 1}, {15, 1.5}, {30, 4}, {40, 6}, {50, 8}} {
		if got := interpolate(xs, ys, c.x); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("interpolate(%v) = %v, want %v", c.x, got, c.want)
		}
	}
}
