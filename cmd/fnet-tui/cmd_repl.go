package main

import (
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/fnet-tui/fnet-tui/tui"
)

// replLoader loads a checkpoint for masked-word queries. It stays nil
// until package infer (the lead's) is in the tree; the REPL then says it
// cannot answer rather than making answers up.
var replLoader tui.LoadFunc

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
