package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/plotfile"
)

func plotRuns(t *testing.T) (root string) {
	t.Helper()
	root = t.TempDir()
	for r, name := range []string{"run-a", "run-b"} {
		dir := filepath.Join(root, name)
		os.MkdirAll(dir, 0o755)
		var b strings.Builder
		for step := 10; step <= 50; step += 10 {
			fmt.Fprintf(&b, `{"t":"2026-01-01T00:00:%02dZ","step":%d,"split":"train","loss":%g,"tokens_per_s":1000,"step_ms":128,"elapsed_s":%d}`+"\n",
				step, step, 5-float64(step)/20-float64(r), step/5)
		}
		fmt.Fprintf(&b, `{"t":"2026-01-01T00:01:00Z","step":50,"split":"eval","loss":4.5}`+"\n")
		os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(b.String()), 0o644)
	}
	return root
}

func TestPlotWritesChartAndCSV(t *testing.T) {
	root := plotRuns(t)
	out := t.TempDir()
	svg, csv := filepath.Join(out, "loss.svg"), filepath.Join(out, "loss.csv")
	code, stdout, stderr := runCLI(t, "plot", "--runs", root, "run-a", filepath.Join(root, "run-b"), "--metric", "loss", "-o", svg, "--csv", csv, "--range", "20:40")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "wrote "+svg) || !strings.Contains(stdout, "run-a 3, run-b 3") {
		t.Errorf("stdout %q", stdout)
	}
	b, err := os.ReadFile(svg)
	if err != nil || !strings.Contains(string(b), ">run-b<") {
		t.Errorf("svg: %v", err)
	}
	f, err := os.Open(csv)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fig, err := plotfile.ReadCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(fig.Series) != 2 || fig.Series[1].Name != "run-b" || fig.Series[1].X[0] != 20 || fig.Series[1].Y[2] != 2 || fig.YLabel != "train/loss" {
		t.Errorf("csv read back: %+v", fig)
	}
	// a PNG by tokens (1000 tokens/s x 128 ms = 128 tokens a step), the last 20 steps' worth
	png := filepath.Join(out, "tok.png")
	code, stdout, stderr = runCLI(t, "plot", filepath.Join(root, "run-a"), "--metric", "train/loss", "--x", "tokens", "--last", "2560", "--size", "320x200", "-o", png, "--csv", csv)
	if code != 0 || !strings.Contains(stdout, "run-a 3") {
		t.Fatalf("tokens: exit %d, %q %q", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(csv); !strings.Contains(string(b), "run-a,6400,") || strings.Contains(string(b), "run-a,2560,") {
		t.Errorf("csv by tokens: %s", b)
	}
}

func TestPlotErrors(t *testing.T) {
	root := plotRuns(t)
	out := t.TempDir()
	run := filepath.Join(root, "run-a")
	svg := filepath.Join(out, "x.svg")
	cases := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{run, "--metric", "f1", "-o", svg}, 1, []string{"no run logs f1", run, "train/loss", "eval/loss", "train/elapsed_s"}},
		{[]string{run, "--metric", "loss", "-o", filepath.Join(out, "x.jpg")}, 2, []string{"-o", "x.jpg", ".svg, .png, .csv"}},
		{[]string{run, "--metric", "loss", "--csv", filepath.Join(out, "x.svg")}, 2, []string{"--csv", "x.svg"}},
		{[]string{run, "--metric", "loss"}, 2, []string{"-o out.svg"}},
		{[]string{run, "-o", svg}, 2, []string{"--metric"}},
		{[]string{"--metric", "loss", "-o", svg}, 2, []string{"RUN"}},
		{[]string{run, "--metric", "loss", "-o", svg, "--last", "5", "--range", "1:2"}, 2, []string{"--last", "--range"}},
		{[]string{run, "--metric", "loss", "-o", svg, "--range", "9:1"}, 2, []string{"--range"}},
		{[]string{run, "--metric", "loss", "-o", svg, "--range", "x:"}, 2, []string{"--range"}},
		{[]string{run, "--metric", "loss", "-o", svg, "--x", "epoch"}, 2, []string{"--x", "epoch"}},
		{[]string{run, "--metric", "loss", "-o", svg, "--size", "10x10"}, 2, []string{"--size"}},
		{[]string{run, "--metric", "loss", "-o", svg, "--range", "1000:"}, 1, []string{"no points", "10 to 50"}},
		{[]string{"--runs", root, "typo", "--metric", "loss", "-o", svg}, 1, []string{"typo", filepath.Join(root, "typo")}},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, append([]string{"plot"}, c.args...)...)
		if code != c.code {
			t.Errorf("%q: exit %d, want %d (%s)", c.args, code, c.code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q: stderr %q lacks %q", c.args, stderr, w)
			}
		}
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("failed plots left %d files in %s", len(ents), out)
	}
}
