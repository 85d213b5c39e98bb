package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// Candidate is one proposed token for a masked position.
type Candidate struct {
	ID    int
	Token string
	Prob  float64
}

// MaskResult is the top-k for one [MASK] of a query.
type MaskResult struct {
	Position   int // token position in the encoded input
	Candidates []Candidate
}

// MaskFiller answers masked-word queries; package infer's Predictor is one.
type MaskFiller interface {
	FillMask(text string, k int) ([]MaskResult, error)
}

// Predictor is a loaded checkpoint ready for queries.
type Predictor interface {
	MaskFiller
	Describe() string
}

// LoadFunc loads the checkpoint in dir. The command wires the real
// inference package in; a nil LoadFunc means this build has none, and the
// REPL says so instead of answering.
type LoadFunc func(dir string) (Predictor, error)

// MaskToken is what a query marks the words to fill with.
const MaskToken = "[MASK]"

// DefaultTopK is how many candidates a query shows per mask.
const DefaultTopK = 5

// replCmd is a parsed REPL input line.
type replCmd struct {
	kind string // "query", "k", "ckpt", "help", "empty"
	text string // query text or checkpoint path
	k    int
}

// parseREPLLine reads one REPL line: a query with at least one [MASK], or
// a command (:k N, :ckpt PATH, :help). Errors say what was wrong.
func parseREPLLine(line string) (replCmd, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return replCmd{kind: "empty"}, nil
	}
	if !strings.HasPrefix(line, ":") {
		if !strings.Contains(line, MaskToken) {
			return replCmd{}, fmt.Errorf("no %s in the sentence: mark the words to fill with %s", MaskToken, MaskToken)
		}
		return replCmd{kind: "query", text: line}, nil
	}
	name, arg, _ := strings.Cut(line[1:], " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "k":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 || n > 100 {
			return replCmd{}, fmt.Errorf(":k wants a number from 1 to 100, got %q", arg)
		}
		return replCmd{kind: "k", k: n}, nil
	case "ckpt":
		if arg == "" {
			return replCmd{}, fmt.Errorf(":ckpt wants a checkpoint directory (or a run directory)")
		}
		return replCmd{kind: "ckpt", text: arg}, nil
	case "help", "h", "?":
		return replCmd{kind: "help"}, nil
	}
	return replCmd{}, fmt.Errorf("unknown command :%s (try :help)", name)
}

// replHelp is what :help prints.
const replHelp = `Type a sentence with one or more [MASK], e.g. "the cat sat on the [MASK]."
  :k N        show the top N candidates per mask (now %d)
  :ckpt PATH  load another checkpoint (a step-* folder or a run folder)
  :help       this text
  up/down     walk the query history`

// formatAnswer renders the top-k of each mask as lines: the token, a
// probability bar of barWidth cells (none when 0) and the percentage.
func formatAnswer(results []MaskResult, barWidth int) string {
	var sb strings.Builder
	for i, r := range results {
		fmt.Fprintf(&sb, "%s %d (token %d)\n", MaskToken, i+1, r.Position)
		tw := 4
		for _, c := range r.Candidates {
			tw = max(tw, len([]rune(c.Token)))
		}
		tw = min(tw, 20)
		for j, c := range r.Candidates {
			fmt.Fprintf(&sb, "  %2d. %s ", j+1, pad(c.Token, tw))
			if barWidth > 0 {
				sb.WriteString(progressBar(c.Prob, barWidth) + " ")
			}
			fmt.Fprintf(&sb, "%6.2f%%\n", c.Prob*100)
		}
	}
	return strings.TrimRight(sb.String(), "\n")
}

// formatLatency shows a query time in milliseconds.
func formatLatency(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// ResolveCheckpoint accepts a checkpoint folder (holding model.safetensors)
// or a run folder (its checkpoints/latest) and returns the checkpoint.
func ResolveCheckpoint(path string) (string, error) {
	if _, err := os.Stat(filepath.Join(path, "model.safetensors")); err == nil {
		return path, nil
	}
	if fi, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", path, err)
	} else if !fi.IsDir() {
		return "", fmt.Errorf("checkpoint %s: not a folder", path)
	}
	if dir, ok := rundir.LatestCheckpoint(path); ok {
		return dir, nil
	}
	return "", fmt.Errorf("%s is neither a checkpoint (no model.safetensors) nor a run folder with %s/%s",
		path, rundir.CheckpointsDir, rundir.LatestLink)
}
