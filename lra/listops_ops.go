package lra

// The operators and how a node's value is folded from its children's. The
// generator and the evaluator share this, so a generated target and an
// evaluated one cannot disagree by construction; the tests check both
// against a textbook evaluation.

// operatorNames are the source spellings of ids ListOpsMin..ListOpsSum.
var operatorNames = [...]string{"[MIN", "[MAX", "[MED", "[SM"}

const numOperators = len(operatorNames)

func isOperator(id byte) bool { return id >= ListOpsMin && id <= ListOpsSum }

// opFrame accumulates the arguments of one open operator. Arguments are
// digits, so a histogram is enough for the median and memory per nesting
// level is constant however many arguments there are.
type opFrame struct {
	op   byte
	n    int
	hist [10]int
}

func (f *opFrame) add(v int) {
	f.hist[v]++
	f.n++
}

// value is the operator applied to the arguments added so far (n >= 1).
func (f *opFrame) value() int {
	switch f.op {
	case ListOpsMin:
		for v, c := range f.hist {
			if c > 0 {
				return v
			}
		}
	case ListOpsMax:
		for v := 9; v >= 0; v-- {
			if f.hist[v] > 0 {
				return v
			}
		}
	case ListOpsSum:
		s := 0
		for v, c := range f.hist {
			s += v * (c % 10)
		}
		return s % 10
	case ListOpsMed:
		// int(np.median(xs)): the middle element, or for an even count the
		// mean of the two middle ones truncated (floor, as all are >= 0).
		lo := f.nth((f.n - 1) / 2)
		hi := f.nth(f.n / 2)
		return (lo + hi) / 2
	}
	panic("lra: opFrame.value on an empty frame or a non-operator")
}

// nth is the k-th smallest argument, 0-based.
func (f *opFrame) nth(k int) int {
	for v, c := range f.hist {
		if k < c {
			return v
		}
		k -= c
	}
	panic("lra: opFrame.nth out of range")
}
