package lra

import (
	"strings"
	"testing"
)

func TestEvalListOpsOperators(t *testing.T) {
	for _, c := range []struct {
		src  string
		want int
	}{
		{"7", 7},
		{"[MIN 4 2 8 ]", 2},
		{"[MAX 4 2 8 ]", 8},
		{"[MIN 3 ]", 3},
		{"[SM 9 9 9 ]", 7},  // 27 mod 10
		{"[SM 5 5 ]", 0},    // 10 mod 10
		{"[MED 3 1 2 ]", 2}, // odd count: the middle of 1 2 3
		{"[MED 1 2 ]", 1},   // int(np.median([1, 2])) = int(1.5)
		{"[MED 2 9 ]", 5},   // int(5.5)
		{"[MED 9 0 0 9 ]", 4},
		{"[MED 7 7 1 9 ]", 7}, // sorted 1 7 7 9: (7+7)/2
		{"[MED 0 1 ]", 0},
		{"[MAX 2 9 [MIN 4 7 ] 0 ]", 9},
		{"[SM [MAX 2 9 ] [MED 1 2 3 4 ] 5 ]", 6}, // 9 + 2 + 5 = 16
		{"[MIN [MAX 1 [SM 4 4 ] ] [MED 9 9 ] ]", 8},
	} {
		got, err := EvalListOps(c.src)
		if err != nil || got != c.want {
			t.Errorf("EvalListOps(%q) = %d, %v; want %d", c.src, got, err, c.want)
		}
	}
}

// The official files, the compact form and LRA's tokenised form (X for ],
// parentheses gone) are the same expression.
func TestEvalListOpsSpellings(t *testing.T) {
	for _, src := range []string{
		"( ( ( ( [MAX 1 ) 7 ) 2 ) ] )",
		"[MAX 1 7 2 ]",
		"[MAX 1 7 2 X",
		"((([MAX 1) 7) 2) ])",
		"\t[MAX  1\n7 2 ]  ",
	} {
		if got, err := EvalListOps(src); err != nil || got != 7 {
			t.Errorf("EvalListOps(%q) = %d, %v; want 7", src, got, err)
		}
	}
}

func TestEvalListOpsErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"", "empty expression"},
		{"( )", "empty expression"},
		{"[MAX 1 2", "not closed"},
		{"[MAX ]", "token 2: [MAX has no arguments"},
		{"]", "token 1: ] closes no operator"},
		{"[MAX 1 ] 3", "token 4: the expression already ended"},
		{"1 2", "token 2: the expression already ended"},
		{"[MAX 1 ] [MIN 2 ]", "token 4 ([MIN): the expression already ended"},
		{"[MAX 12 ]", `token 2 "12" is not ListOps`},
		{"[FIRST 1 2 ]", `token 1 "[FIRST" is not ListOps`},
		{"[max 1 ]", `"[max" is not ListOps`},
	} {
		_, err := EvalListOps(c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("EvalListOps(%q) error = %v; want it to contain %q", c.src, err, c.want)
		}
	}
}

func TestFormatListOpsSourceIsOfficialToString(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"[MAX 2 9 ]", "( ( ( [MAX 2 ) 9 ) ] )"},
		{"[MAX 1 7 2 ]", "( ( ( ( [MAX 1 ) 7 ) 2 ) ] )"},
		{"[MIN [MAX 2 9 ] 4 ]", "( ( ( [MIN ( ( ( [MAX 2 ) 9 ) ] ) ) 4 ) ] )"},
		{"5", "5"},
		// The start of an official training line, closed off.
		{"[MAX 1 [MIN 3 [MED 6 1 ] 4 5 ] 0 ]",
			"( ( ( ( [MAX 1 ) ( ( ( ( ( [MIN 3 ) ( ( ( [MED 6 ) 1 ) ] ) ) 4 ) 5 ) ] ) ) 0 ) ] )"},
	} {
		got, err := FormatListOpsSource(c.src)
		if err != nil || got != c.want {
			t.Errorf("FormatListOpsSource(%q) = %q, %v\nwant %q", c.src, got, err, c.want)
		}
		root, err := refParse(c.src)
		if err != nil {
			t.Fatal(err)
		}
		if ref := root.refOfficial(); ref != c.want {
			t.Errorf("reference to_string(%q) = %q, want %q", c.src, ref, c.want)
		}
	}
	if _, err := FormatListOpsSource("[MAX 1"); err == nil {
		t.Error("FormatListOpsSource accepted an unclosed operator")
	}
}
