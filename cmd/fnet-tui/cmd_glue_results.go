package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/train"
)

func init() {
	registerGlue(&glueSub{name: "results",
		summary: "tabulate the best dev score of every finetuning run in a runs folder (markdown or JSON)",
		usage:   "[--runs DIR] [--json]",
		run:     runGlueResults})
}

// glueResult is one finetuning run's best dev evaluation.
type glueResult struct {
	Run     string             `json:"run"`
	Task    string             `json:"task"`
	State   string             `json:"state"`
	From    string             `json:"from"` // "scratch" or the pretraining checkpoint
	Step    int                `json:"step"` // of the best evaluation
	Metric  string             `json:"metric"`
	Score   float64            `json:"score"`
	Metrics map[string]float64 `json:"metrics"`
}

func runGlueResults(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("glue results")
	runs := fs.String("runs", runsDirDefault(), "runs folder (env FNET_RUNS)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return subUsage("results", "unexpected argument %q", pos[0])
	}
	if _, err := checkRunsFolder(fs, *runs); err != nil {
		return err
	}
	entries, err := rundir.ScanRuns(*runs)
	if err != nil {
		return err
	}
	var out []glueResult
	for _, e := range entries {
		st := e.Status
		if st.Kind != "finetune" || st.Task == "" {
			continue
		}
		task, err := glue.Lookup(st.Task)
		if err != nil {
			continue
		}
		r := glueResult{Run: e.ID, Task: task.Name, State: st.State, Metric: task.ScoreMetric, Score: math.NaN(), From: "scratch"}
		if cfg, err := readResolvedFrom(e.Dir); err == nil && cfg != "" {
			r.From = cfg
		}
		rd := rundir.NewMetricsReader(e.Dir)
		for {
			p, err := rd.Poll()
			if err != nil {
				return err
			}
			for _, m := range p.Metrics {
				if m.Split != "eval" {
					continue
				}
				if v, ok := m.Values[task.ScoreMetric]; ok && (math.IsNaN(r.Score) || v > r.Score) {
					r.Score, r.Step, r.Metrics = v, m.Step, m.Values
				}
			}
			if !p.More {
				break
			}
		}
		if !math.IsNaN(r.Score) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Task != out[j].Task {
			return out[i].Task < out[j].Task
		}
		return out[i].Run < out[j].Run
	})
	if *asJSON {
		return json.NewEncoder(stdout).Encode(out)
	}
	if len(out) == 0 {
		fmt.Fprintf(stdout, "no finetuning runs with dev evaluations in %s\n", *runs)
		return nil
	}
	fmt.Fprintln(stdout, "| task | run | from | best step | dev metrics |")
	fmt.Fprintln(stdout, "|---|---|---|---:|---|")
	for _, r := range out {
		task, _ := glue.Lookup(r.Task)
		var parts []string
		for _, m := range task.Metrics {
			if v, ok := r.Metrics[m]; ok {
				parts = append(parts, fmt.Sprintf("%s %.4f", m, v))
			}
		}
		fmt.Fprintf(stdout, "| %s | %s | %s | %d | %s |\n", task.Display, r.Run, r.From, r.Step, strings.Join(parts, ", "))
	}
	return nil
}

func readResolvedFrom(runDir string) (string, error) { return train.FinetuneSource(runDir) }
