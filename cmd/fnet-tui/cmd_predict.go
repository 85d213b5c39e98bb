package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/infer"
)

func init() {
	register(&command{
		name:    "predict",
		summary: "fill [MASK] words from a checkpoint (text as arguments, or one query per stdin line)",
		usage:   "--ckpt CHECKPOINT [-k 5] [--device cpu|cuda|auto] [\"text with [MASK] ...\"]",
		run:     runPredict,
	})
}

func runPredict(args []string) error {
	fs := newFlags("predict")
	ckpt := fs.String("ckpt", "", "checkpoint: a run directory, a checkpoint directory or a model.safetensors")
	k := fs.Int("k", 5, "candidates per [MASK]")
	inference := inferenceFlags(fs, os.Stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *ckpt == "" {
		return usagef("--ckpt is required")
	}
	if *k < 1 {
		return usagef("-k must be at least 1")
	}
	inf, err := inference()
	if err != nil {
		return err
	}
	p, err := infer.Load(*ckpt, inf)
	if err != nil {
		return err
	}
	defer p.Close()
	if len(pos) > 0 {
		return answer(os.Stdout, p, strings.Join(pos, " "), *k)
	}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	failed := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if err := answer(os.Stdout, p, line, *k); err != nil {
			fmt.Fprintf(os.Stderr, "%q: %v\n", line, err)
			failed++
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d queries failed", failed)
	}
	return nil
}

// answer prints the top-k per mask: one line per mask with token (probability) pairs.
func answer(w io.Writer, p *infer.Predictor, text string, k int) error {
	t0 := time.Now()
	res, err := p.FillMask(text, k)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s  (%.1f ms)\n", text, float64(time.Since(t0).Microseconds())/1e3)
	for i, r := range res {
		parts := make([]string, len(r.Candidates))
		for j, c := range r.Candidates {
			parts[j] = fmt.Sprintf("%s (%.3f)", c.Token, c.Prob)
		}
		fmt.Fprintf(w, "  [MASK] %d: %s\n", i+1, strings.Join(parts, "  "))
	}
	return nil
}
