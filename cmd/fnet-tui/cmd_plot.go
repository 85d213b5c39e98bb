package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fnet-tui/fnet-tui/plotfile"
)

func init() {
	register(&command{
		name:    "plot",
		summary: "draw a metric of one or more runs to an SVG or PNG chart, or write it as CSV",
		usage:   "RUN... --metric M [--x step|tokens|time] [--last N | --range A:B] [-o out.svg|out.png] [--csv out.csv] [--size 960x540]",
		run:     func(args []string) error { return runPlot(args, os.Stdout, os.Stderr) },
	})
}

func runPlot(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plot")
	metric := fs.String("metric", "", "metric to draw: NAME (the train split's, else the first split logging it) or SPLIT/NAME, e.g. loss, eval/accuracy, system/rss_gib")
	xName := fs.String("x", "step", "x axis: step, tokens (step x tokens per step) or time (training seconds)")
	last := fs.Float64("last", 0, "only the last N steps, tokens or seconds (of the longest run)")
	rng := fs.String("range", "", "only x in A:B (either side may be empty: 1000: or :5000)")
	out := fs.String("o", "", "chart file: .svg or .png (.csv writes the values)")
	csvOut := fs.String("csv", "", "also write the values as CSV (series,x,y: one row per point)")
	size := fs.String("size", fmt.Sprintf("%dx%d", plotfile.DefaultWidth, plotfile.DefaultHeight), "image size WIDTHxHEIGHT in pixels")
	title := fs.String("title", "", "chart title (default: the metric)")
	runsDir := fs.String("runs", runsDirDefault(), "runs folder in which a RUN that is not a path is looked up (env FNET_RUNS)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	// everything the command line says is checked before any run is read
	switch {
	case len(pos) == 0:
		return usagef("no RUN given: name one or more run folders")
	case *metric == "":
		return usagef("--metric is required (e.g. --metric loss or --metric eval/accuracy)")
	case *out == "" && *csvOut == "":
		return usagef("nothing to write: give -o out.svg|out.png and/or --csv out.csv")
	case *last < 0 || math.IsNaN(*last) || math.IsInf(*last, 0):
		return usagef("--last %v: want a positive number", *last)
	case *last > 0 && *rng != "":
		return usagef("--last and --range are exclusive")
	}
	x, err := plotfile.ParseXAxis(*xName)
	if err != nil {
		return usagef("--x: %v", err)
	}
	if *out != "" {
		if _, err := plotfile.FormatOf(*out); err != nil {
			return usagef("-o %v", err)
		}
	}
	if *csvOut != "" {
		if f, err := plotfile.FormatOf(*csvOut); err != nil || f != "csv" {
			return usagef("--csv %s: want a file ending in .csv", *csvOut)
		}
	}
	w, h, err := parseSize(*size)
	if err != nil {
		return usagef("--size %q: %v", *size, err)
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	if *rng != "" {
		if lo, hi, err = parseRange(*rng); err != nil {
			return usagef("--range %q: %v", *rng, err)
		}
	}
	dirs := make([]string, len(pos))
	for i, p := range pos {
		if dirs[i], err = findRun(p, *runsDir); err != nil {
			return err
		}
	}

	fig, err := plotfile.FromRuns(dirs, *metric, x)
	if err != nil {
		return err
	}
	for _, n := range fig.Notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	all := fig
	switch {
	case *last > 0:
		fig = fig.Last(*last)
	case *rng != "":
		fig = fig.Window(lo, hi)
	}
	if fig.Points() == 0 {
		a, b := all.XRange()
		return fmt.Errorf("no points of %s in the window asked for: the runs' %s goes from %g to %g", fig.YLabel, x, a, b)
	}
	if *title != "" {
		fig.Title = *title
	}
	fig.Width, fig.Height = w, h
	var counts []string
	for _, s := range fig.Series {
		counts = append(counts, fmt.Sprintf("%s %d", s.Name, len(s.X)))
	}
	for _, path := range []string{*out, *csvOut} {
		if path == "" {
			continue
		}
		if err := plotfile.Write(path, fig); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: %s by %s, %d series (points: %s)\n", path, fig.YLabel, x, len(fig.Series), strings.Join(counts, ", "))
	}
	return nil
}

// findRun is p when it exists, else the run p in the runs folder.
func findRun(p, runsDir string) (string, error) {
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if !filepath.IsAbs(p) && runsDir != "" {
		q := filepath.Join(runsDir, p)
		if _, err := os.Stat(q); err == nil {
			return q, nil
		}
		return "", fmt.Errorf("run %s: no such folder (nor %s)", p, q)
	}
	return "", fmt.Errorf("run %s: no such folder", p)
}

// parseSize reads WIDTHxHEIGHT in pixels.
func parseSize(s string) (w, h int, err error) {
	a, b, ok := strings.Cut(strings.ToLower(s), "x")
	if !ok {
		return 0, 0, fmt.Errorf("want WIDTHxHEIGHT, e.g. %dx%d", plotfile.DefaultWidth, plotfile.DefaultHeight)
	}
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || w < 64 || h < 64 || w > plotfile.MaxSide || h > plotfile.MaxSide {
		return 0, 0, fmt.Errorf("want two whole numbers of pixels from 64 to %d, e.g. %dx%d", plotfile.MaxSide, plotfile.DefaultWidth, plotfile.DefaultHeight)
	}
	return w, h, nil
}

// parseRange reads A:B, A: or :B.
func parseRange(s string) (lo, hi float64, err error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("want A:B (or A: or :B)")
	}
	lo, hi = math.Inf(-1), math.Inf(1)
	if a != "" {
		if lo, err = strconv.ParseFloat(a, 64); err != nil || math.IsNaN(lo) {
			return 0, 0, fmt.Errorf("%q is not a number", a)
		}
	}
	if b != "" {
		if hi, err = strconv.ParseFloat(b, 64); err != nil || math.IsNaN(hi) {
			return 0, 0, fmt.Errorf("%q is not a number", b)
		}
	}
	if a == "" && b == "" {
		return 0, 0, fmt.Errorf("want A:B (or A: or :B)")
	}
	if lo > hi {
		return 0, 0, fmt.Errorf("%g is past %g", lo, hi)
	}
	return lo, hi, nil
}
