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
		summary: "fill [MASK] words from a checkpoint (each argument one query, or one query per stdin line)",
		usage:   "--ckpt CHECKPOINT [-k 5] [--device cpu|cuda|auto] [\"text with [MASK] ...\" ...]",
		run:     func(args []string) error { return runPredict(args, os.Stdin, os.Stdout, os.Stderr) },
	})
}

// maxK bounds -k: more candidates than this are noise, and the output is
// meant to be read.
const maxK = 100

// candidatesPerLine is how many candidates one output line holds; more
// continue on the next lines.
const candidatesPerLine = 5

func runPredict(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("predict")
	ckpt := fs.String("ckpt", "", "checkpoint: a run directory, a checkpoint directory or a model.safetensors")
	k := fs.Int("k", 5, fmt.Sprintf("candidates per [MASK], 1..%d", maxK))
	inference := inferenceFlags(fs, stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *ckpt == "" {
		return usagef("--ckpt is required")
	}
	if *k < 1 || *k > maxK {
		return usagef("-k %d: want 1..%d candidates per [MASK]", *k, maxK)
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
	a := &answerer{w: stdout, errw: stderr, p: p, k: *k}
	if len(pos) > 0 {
		// each argument is one query
		for _, q := range pos {
			a.query(q, len(pos) > 1)
		}
		return a.result()
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			a.query(line, false)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return a.result()
}

// answerer answers queries one by one, reporting each failure and going on.
type answerer struct {
	w, errw        io.Writer
	p              *infer.Predictor
	k              int
	queries, fails int
	noted          bool // the note that fewer than k candidates exist was printed
}

func (a *answerer) query(text string, manyArgs bool) {
	a.queries++
	n, err := answer(a.w, a.p, text, a.k)
	if err != nil {
		a.fails++
		hint := ""
		if manyArgs && !strings.Contains(text, "[MASK]") {
			hint = " (each argument is one query: quote a sentence that has spaces)"
		}
		fmt.Fprintf(a.errw, "%q: %v%s\n", text, err, hint)
		return
	}
	if n < a.k && !a.noted {
		a.noted = true
		fmt.Fprintf(a.errw, "note: only %d candidates per [MASK] (-k %d): the vocabulary has no more pieces that are not special\n", n, a.k)
	}
}

func (a *answerer) result() error {
	if a.fails > 0 {
		return fmt.Errorf("%d of %d queries failed", a.fails, a.queries)
	}
	return nil
}

// answer prints the top-k per mask: a line per mask with token (probability)
// pairs, candidatesPerLine to a line, and returns the fewest candidates a
// mask had.
func answer(w io.Writer, p *infer.Predictor, text string, k int) (int, error) {
	t0 := time.Now()
	res, err := p.FillMask(text, k)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(w, "%s  (%.1f ms)\n", text, float64(time.Since(t0).Microseconds())/1e3)
	fewest := k
	for i, r := range res {
		fewest = min(fewest, len(r.Candidates))
		prefix := fmt.Sprintf("  [MASK] %d: ", i+1)
		for start := 0; start < len(r.Candidates) || start == 0; start += candidatesPerLine {
			chunk := r.Candidates[start:min(start+candidatesPerLine, len(r.Candidates))]
			parts := make([]string, len(chunk))
			for j, c := range chunk {
				parts[j] = fmt.Sprintf("%s (%.3f)", c.Token, c.Prob)
			}
			fmt.Fprintf(w, "%s%s\n", prefix, strings.Join(parts, "  "))
			prefix = strings.Repeat(" ", len(prefix))
		}
	}
	return fewest, nil
}
