package main

import (
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/fnet-tui/fnet-tui/infer"
	"github.com/fnet-tui/fnet-tui/tui"
)

// replLoader loads a checkpoint for masked-word queries (the dashboard's
// REPL view uses it too).
var replLoader tui.LoadFunc = loadPredictor

// loadPredictor adapts package infer to the dashboard's Predictor.
func loadPredictor(dir string) (tui.Predictor, error) {
	p, err := infer.Load(dir)
	if err != nil {
		return nil, err
	}
	return inferPredictor{p}, nil
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
		usage:   "--ckpt CHECKPOINT_OR_RUN_DIR [--k N] [--time]",
		run:     runREPL,
	})
}

func runREPL(args []string) error {
	fs := newFlags("repl")
	ckpt := fs.String("ckpt", "", "checkpoint folder (step-*) or run folder (uses checkpoints/latest)")
	k := fs.Int("k", tui.DefaultTopK, "candidates shown per [MASK]")
	showTime := fs.Bool("time", false, "print each query's latency (plain mode)")
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
	if *k < 1 {
		return usagef("--k must be at least 1, got %d", *k)
	}
	dir, err := tui.ResolveCheckpoint(*ckpt)
	if err != nil {
		return err
	}
	if replLoader == nil {
		return fmt.Errorf("cannot answer from %s: this build has no inference backend (package infer)", dir)
	}
	pred, err := replLoader(dir)
	if err != nil {
		return fmt.Errorf("load %s: %w", dir, err)
	}
	if term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd())) {
		return tui.RunREPL(pred, dir, replLoader, *k, os.Getenv("NO_COLOR") != "")
	}
	return tui.PlainREPL(os.Stdin, os.Stdout, pred, replLoader, *k, *showTime)
}
