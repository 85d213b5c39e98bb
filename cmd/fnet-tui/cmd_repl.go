package main

import (
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/fnet-tui/fnet-tui/infer"
	"github.com/fnet-tui/fnet-tui/train"
	"github.com/fnet-tui/fnet-tui/tui"
)

// replLoader loads a checkpoint for masked-word queries on the CPU (the
// dashboard's REPL view uses it too).
var replLoader tui.LoadFunc = loaderOn(train.Inference{})

// loaderOn adapts package infer to the dashboard's Predictor, loading on
// the device inf names. The previous predictor's engine is closed when the
// next checkpoint loads (one model at a time, as the REPL shows one).
func loaderOn(inf train.Inference) tui.LoadFunc {
	var last *infer.Predictor
	return func(dir string) (tui.Predictor, error) {
		p, err := infer.Load(dir, inf)
		if err != nil {
			return nil, err
		}
		if last != nil {
			last.Close()
		}
		last = p
		return inferPredictor{p}, nil
	}
}

type inferPredictor struct{ p *infer.Predictor }

func (a inferPredictor) Describe() string { return a.p.Describe() }

func (a inferPredictor) FillMask(text string, k int) ([]tui.MaskResult, error) {
	rs, err := a.p.FillMask(text, k)
	if err != nil {
		return nil, err
	}
	out := make([]tui.MaskResult, len(rs))
	for i, r := range rs {
		cs := make([]tui.Candidate, len(r.Candidates))
		for j, c := range r.Candidates {
			cs[j] = tui.Candidate{ID: c.ID, Token: c.Token, Prob: c.Prob}
		}
		out[i] = tui.MaskResult{Position: r.Position, Candidates: cs}
	}
	return out, nil
}

func init() {
	register(&command{
		name:    "repl",
		summary: "fill [MASK]s with a checkpoint (interactive, or lines on stdin)",
		usage:   "--ckpt CHECKPOINT_OR_RUN_DIR [--k N] [--time] [--device cpu|cuda|auto]",
		run:     runREPL,
	})
}

func runREPL(args []string) error {
	fs := newFlags("repl")
	ckpt := fs.String("ckpt", "", "checkpoint folder (step-*) or run folder (uses checkpoints/latest)")
	k := fs.Int("k", tui.DefaultTopK, fmt.Sprintf("candidates shown per [MASK], 1..%d", maxK))
	showTime := fs.Bool("time", false, "print each query's latency (plain mode)")
	inference := inferenceFlags(fs, os.Stderr)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if *ckpt == "" {
		return usagef("--ckpt is required")
	}
	if *k < 1 || *k > maxK {
		return usagef("--k %d: want 1..%d candidates per [MASK]", *k, maxK)
	}
	dir, err := tui.ResolveCheckpoint(*ckpt)
	if err != nil {
		return err
	}
	inf, err := inference()
	if err != nil {
		return err
	}
	load := replLoader
	if inf.Device != "cpu" || inf.Precision != "" {
		load = loaderOn(inf)
	}
	pred, err := load(dir)
	if err != nil {
		return fmt.Errorf("load %s: %w", dir, err)
	}
	if term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd())) {
		return tui.RunREPL(pred, dir, load, *k, os.Getenv("NO_COLOR") != "")
	}
	return tui.PlainREPL(os.Stdin, os.Stdout, pred, load, *k, *showTime)
}
