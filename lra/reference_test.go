package lra

import (
	"fmt"
	"sort"
	"strings"
)

// refNode is a parsed ListOps tree for the tests' textbook evaluation,
// independent of opFrame's histogram.
type refNode struct {
	op    string // "" for a digit
	digit int
	args  []*refNode
	depth int // the root is at depth 1, as in generate_tree
}

// refParse parses the compact or official spelling by recursive descent.
func refParse(src string) (*refNode, error) {
	var toks []string
	// Parentheses are removed, not split on, as LRA's regex_replace does.
	for _, f := range strings.Fields(strings.NewReplacer("(", "", ")", "").Replace(src)) {
		if f == "X" {
			f = "]"
		}
		toks = append(toks, f)
	}
	pos := 0
	var parse func(depth int) (*refNode, error)
	parse = func(depth int) (*refNode, error) {
		if pos >= len(toks) {
			return nil, fmt.Errorf("unexpected end")
		}
		t := toks[pos]
		pos++
		if len(t) == 1 && t[0] >= '0' && t[0] <= '9' {
			return &refNode{digit: int(t[0] - '0'), depth: depth}, nil
		}
		switch t {
		case "[MIN", "[MAX", "[MED", "[SM":
		default:
			return nil, fmt.Errorf("bad token %q", t)
		}
		n := &refNode{op: t, depth: depth}
		for pos < len(toks) && toks[pos] != "]" {
			a, err := parse(depth + 1)
			if err != nil {
				return nil, err
			}
			n.args = append(n.args, a)
		}
		if pos >= len(toks) {
			return nil, fmt.Errorf("unclosed %s", t)
		}
		pos++
		if len(n.args) == 0 {
			return nil, fmt.Errorf("%s without arguments", t)
		}
		return n, nil
	}
	root, err := parse(1)
	if err != nil {
		return nil, err
	}
	if pos != len(toks) {
		return nil, fmt.Errorf("trailing tokens")
	}
	return root, nil
}

// refValue is the official to_value: min, max, int(np.median(xs)) (the
// float mean of the middle pair, truncated) and np.sum(xs) % 10.
func (n *refNode) refValue() int {
	if n.op == "" {
		return n.digit
	}
	xs := make([]int, len(n.args))
	for i, a := range n.args {
		xs[i] = a.refValue()
	}
	sort.Ints(xs)
	switch n.op {
	case "[MIN":
		return xs[0]
	case "[MAX":
		return xs[len(xs)-1]
	case "[MED":
		if len(xs)%2 == 1 {
			return xs[len(xs)/2]
		}
		return int(float64(xs[len(xs)/2-1]+xs[len(xs)/2]) / 2)
	}
	s := 0
	for _, x := range xs {
		s += x
	}
	return s % 10
}

// walk visits every node.
func (n *refNode) walk(fn func(*refNode)) {
	fn(n)
	for _, a := range n.args {
		a.walk(fn)
	}
}

// refOfficial is the official to_string over the tree as generate_tree
// builds it: t = (op, a1); t = (t, a_i) for the rest; t = (t, "]"), each
// pair written "( " + left + " " + right + " )".
func (n *refNode) refOfficial() string {
	if n.op == "" {
		return fmt.Sprint(n.digit)
	}
	t := "( " + n.op + " " + n.args[0].refOfficial() + " )"
	for _, a := range n.args[1:] {
		t = "( " + t + " " + a.refOfficial() + " )"
	}
	return "( " + t + " ] )"
}
