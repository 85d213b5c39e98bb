package lra

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// ListOpsOptions are the official generator's parameters. Start from
// DefaultListOpsOptions: every field is taken as given, zero included.
type ListOpsOptions struct {
	Seed uint64
	// Count is how many examples GenerateListOps writes (GenerateListOpsSplits
	// takes its counts separately and ignores it).
	Count int
	// A tree is kept when MinLen < length < MaxLen, both bounds strict as in
	// the official generator, where length counts the tokens LRA's model
	// sees: digits, operators and closing brackets, not parentheses. The LRA
	// values 500 and 2000 keep 501..1999 tokens.
	MinLen, MaxLen int
	// MaxDepth bounds a node's depth, the root being at depth 1: a node at
	// MaxDepth is always a digit, so operators nest at most MaxDepth-1 deep.
	MaxDepth int
	// MaxArgs is the most arguments an operator gets (at least 2).
	MaxArgs int
	// Progress, when set, is called after every 1000 kept examples and once
	// at the end with the examples kept and the trees drawn so far.
	Progress func(kept, drawn int)
}

// DefaultListOpsOptions are LRA's: 96000 training examples of 501..1999
// tokens, depth 10, up to 10 arguments (listops.py's flag defaults).
func DefaultListOpsOptions() ListOpsOptions {
	return ListOpsOptions{Count: 96000, MinLen: 500, MaxLen: 2000, MaxDepth: 10, MaxArgs: 10}
}

// ListOpsCounts are the sizes of the three splits.
type ListOpsCounts struct{ Train, Val, Test int }

// DefaultListOpsCounts are LRA's split sizes.
var DefaultListOpsCounts = ListOpsCounts{Train: 96000, Val: 2000, Test: 2000}

// stallLimit is how many trees in a row may be drawn without a new example
// before generation gives up: bounds that are possible but practically out
// of reach, or a count larger than the distinct trees the bounds allow,
// would otherwise loop forever. At LRA's settings about 1 in 40 trees is
// kept, so this is never reached by chance.
const stallLimit = 20_000_000

func (o ListOpsOptions) validate() error {
	switch {
	case o.MaxDepth < 2:
		return fmt.Errorf("lra: listops max depth %d: need at least 2 (the root operator and its digits)", o.MaxDepth)
	case o.MaxArgs < 2:
		return fmt.Errorf("lra: listops max args %d: need at least 2", o.MaxArgs)
	case o.MinLen < 0:
		return fmt.Errorf("lra: listops min length %d is negative", o.MinLen)
	case o.MaxLen <= o.MinLen+1:
		return fmt.Errorf("lra: listops lengths must satisfy min < length < max, and no integer lies strictly between %d and %d", o.MinLen, o.MaxLen)
	case o.Count < 0:
		return fmt.Errorf("lra: listops count %d is negative", o.Count)
	}
	if longest := longestTree(o.MaxDepth, o.MaxArgs, o.MinLen+1); longest <= o.MinLen {
		return fmt.Errorf("lra: listops trees of depth %d with %d arguments are at most %d tokens long, never more than the minimum %d", o.MaxDepth, o.MaxArgs, longest, o.MinLen)
	}
	return nil
}

// longestTree is the length of the full tree of a depth and fan-out,
// capped at limit (it grows as args^depth).
func longestTree(depth, args, limit int) int {
	l := 1 // a leaf at the deepest level
	for range depth - 1 {
		l = 2 + args*l
		if l > limit {
			return limit
		}
	}
	return l
}

// GenerateListOps writes opt.Count ListOps examples to w in the official TSV
// layout: a "Source\tTarget" header, then one example per line, its source
// as the official generator's to_string spells it and its value. The same
// options give the same bytes on every platform and Go release; no example
// repeats. It streams: memory is one tree plus an 8-byte hash per example
// written (for the duplicates). It returns the examples written.
func GenerateListOps(w io.Writer, opt ListOpsOptions) (int, error) {
	if err := opt.validate(); err != nil {
		return 0, err
	}
	g := newListOpsGenerator(opt, opt.Count)
	n, err := g.writeTSV(w, opt.Count)
	g.reportEnd()
	return n, err
}

// ListOpsFile is the file name of a split as the official release and
// GenerateListOpsSplits name it (the official generator's task "basic").
func ListOpsFile(split string) string { return "basic_" + split + ".tsv" }

// GenerateListOpsSplits writes basic_train.tsv, basic_val.tsv and
// basic_test.tsv into dir (created if needed) from one generator stream:
// the training split is exactly what GenerateListOps writes with Count =
// counts.Train, and no sequence appears twice in or across the splits, as
// the official generator guarantees by drawing all three from one set.
// Each file is written under a temporary name and renamed when complete.
func GenerateListOpsSplits(dir string, opt ListOpsOptions, counts ListOpsCounts) error {
	opt.Count = 0
	if err := opt.validate(); err != nil {
		return err
	}
	if counts.Train < 0 || counts.Val < 0 || counts.Test < 0 {
		return fmt.Errorf("lra: listops split counts %+v: negative", counts)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lra: %w", err)
	}
	g := newListOpsGenerator(opt, counts.Train+counts.Val+counts.Test)
	defer g.reportEnd()
	for _, s := range []struct {
		split string
		n     int
	}{{"train", counts.Train}, {"val", counts.Val}, {"test", counts.Test}} {
		if err := g.writeFile(filepath.Join(dir, ListOpsFile(s.split)), s.n); err != nil {
			return err
		}
	}
	return nil
}

func (g *listOpsGenerator) writeFile(path string, n int) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("lra: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = g.writeTSV(tmp, n); err != nil {
		return fmt.Errorf("lra: write %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("lra: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("lra: write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("lra: %w", err)
	}
	return nil
}

// listOpsGenerator draws trees as the official generate_tree does, keeping
// those of the wanted length that it has not kept before.
type listOpsGenerator struct {
	opt   ListOpsOptions
	rng   *splitMix64
	ids   []byte // the tree being drawn, as vocabulary ids
	open  int    // operators in ids not yet closed
	seen  map[uint64]struct{}
	kept  int
	drawn int
	p     listOpsParser
	line  []byte
}

func newListOpsGenerator(opt ListOpsOptions, capacity int) *listOpsGenerator {
	return &listOpsGenerator{opt: opt, rng: newRNG(opt.Seed), seen: make(map[uint64]struct{}, capacity)}
}

// writeTSV writes the header and the next n examples.
func (g *listOpsGenerator) writeTSV(w io.Writer, n int) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.WriteString("Source\tTarget\n"); err != nil {
		return 0, err
	}
	for i := range n {
		ids, value, err := g.next()
		if err != nil {
			return i, err
		}
		g.line = g.p.renderOfficial(g.line[:0], ids)
		g.line = append(g.line, '\t')
		g.line = strconv.AppendInt(g.line, int64(value), 10)
		g.line = append(g.line, '\n')
		if _, err := bw.Write(g.line); err != nil {
			return i, err
		}
	}
	return n, bw.Flush()
}

// errTooLong abandons a tree as soon as it cannot end below MaxLen; the
// official generator finishes and then rejects such trees, which draws the
// same distribution of kept trees, only slower.
var errTooLong = errors.New("tree too long")

// next returns the next kept tree (valid until the following call) and its value.
func (g *listOpsGenerator) next() ([]byte, int, error) {
	for stalled := 0; ; stalled++ {
		if stalled == stallLimit {
			return nil, 0, fmt.Errorf("lra: drew %d ListOps trees in a row without a new one of %d < length < %d (depth %d, args %d) after %d examples: the bounds are out of practical reach or allow too few distinct trees",
				stallLimit, g.opt.MinLen, g.opt.MaxLen, g.opt.MaxDepth, g.opt.MaxArgs, g.kept)
		}
		g.ids, g.open = g.ids[:0], 0
		g.drawn++
		value, err := g.tree(1)
		if err != nil || len(g.ids) <= g.opt.MinLen {
			continue
		}
		h := fnv1a(g.ids)
		if _, dup := g.seen[h]; dup {
			continue
		}
		g.seen[h] = struct{}{}
		g.kept++
		if g.opt.Progress != nil && g.kept%1000 == 0 {
			g.opt.Progress(g.kept, g.drawn)
		}
		return g.ids, value, nil
	}
}

func (g *listOpsGenerator) reportEnd() {
	if g.opt.Progress != nil {
		g.opt.Progress(g.kept, g.drawn)
	}
}

// tree appends one node at depth (and its subtree) to g.ids and returns its
// value. As in generate_tree: above MaxDepth a node is an operator with
// probability 1/4 (random() <= VALUE_P) with 2..MaxArgs arguments, uniform,
// and a uniform operator; otherwise it is a uniform digit. The official
// code draws the operator after the arguments; the order of independent
// draws does not change the distribution.
func (g *listOpsGenerator) tree(depth int) (int, error) {
	if depth < g.opt.MaxDepth && g.rng.quarter() {
		n := 2 + g.rng.intn(g.opt.MaxArgs-1)
		f := opFrame{op: byte(ListOpsMin + g.rng.intn(numOperators))}
		g.ids = append(g.ids, f.op)
		g.open++
		if len(g.ids)+g.open >= g.opt.MaxLen {
			return 0, errTooLong
		}
		for range n {
			v, err := g.tree(depth + 1)
			if err != nil {
				return 0, err
			}
			f.add(v)
		}
		g.ids = append(g.ids, ListOpsClose)
		g.open--
		return f.value(), nil
	}
	v := g.rng.intn(10)
	g.ids = append(g.ids, byte(v))
	if len(g.ids)+g.open >= g.opt.MaxLen {
		return 0, errTooLong
	}
	return v, nil
}

// fnv1a is the 64-bit FNV-1a hash; the generator keeps hashes, not trees.
// A collision (about 1 in 10^9 at LRA's size) drops a new tree as a
// duplicate and so can only skip an example, never repeat one.
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
