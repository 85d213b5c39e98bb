package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const snippetSrc = `package p

import "math"

const rate = 0.9

func f(a, b int) int {
	if a < b && b != 0 {
		a++
	}
	x := a + 2
	x = x * b
	return -x
}

func g(xs []float64) float64 { return h(xs) + math.Sqrt(2) }

func h(xs []float64) float64 { return 0 }

func (t *T) M() string { return "a" + "b" }

type T struct{}
`

// TestGenerateMakesTheExpectedMutants: every operator on a small snippet,
// only inside the listed functions, each mutant one edit that still parses.
func TestGenerateMakesTheExpectedMutants(t *testing.T) {
	sp := &Spot{Name: "s", File: "p/p.go", Funcs: []string{"f", "g", "rate", "T.M"}, Ops: slices.Clone(defaultOps),
		Swaps: []Swap{{"h", "k"}}, Subs: []Sub{{"x = x * b", "x = b"}}}
	ms, err := Generate(sp, "p/p.go", []byte(snippetSrc))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Mutant{}
	for _, m := range ms {
		if _, dup := got[m.ID]; dup {
			t.Errorf("id %q made twice", m.ID)
		}
		got[m.ID] = m
	}
	want := []string{
		"p/p.go:rate const: 0.9 => 0.45",
		"p/p.go:f negate: a < b && b != 0 => !(a < b && b != 0)",
		"p/p.go:f bool: a < b && b != 0 => a < b || b != 0",
		"p/p.go:f cmp: a < b => a <= b",
		"p/p.go:f cmp: a < b => a > b",
		"p/p.go:f cmp: b != 0 => b == 0",
		"p/p.go:f const: b != 0 => b != 1",
		"p/p.go:f arith: a++ => a--",
		"p/p.go:f remove: a++ => _ = a",
		"p/p.go:f arith: a + 2 => a - 2",
		"p/p.go:f const: a + 2 => a + 3",
		"p/p.go:f remove: x = x * b => _, _ = x, x * b",
		"p/p.go:f arith: x * b => x / b",
		"p/p.go:f arith: -x => x",
		"p/p.go:f sub: x = x * b => x = b",
		"p/p.go:g swap: h(xs) => k(xs)",
		"p/p.go:g arith: h(xs) + math.Sqrt(2) => h(xs) - math.Sqrt(2)",
		"p/p.go:g const: math.Sqrt(2) => math.Sqrt(3)",
	}
	for _, id := range want {
		if _, ok := got[id]; !ok {
			t.Errorf("missing mutant %q", id)
		}
	}
	if len(ms) != len(want) {
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		t.Errorf("%d mutants, want %d:\n%s", len(ms), len(want), strings.Join(ids, "\n"))
	}
	for _, m := range ms {
		if strings.Contains(m.ID, ":h ") || strings.Contains(m.ID, "T.M") {
			t.Errorf("mutant outside the spot's functions (or a string concatenation): %s", m.ID)
		}
		if _, err := parser.ParseFile(token.NewFileSet(), "x.go", m.src, 0); err != nil {
			t.Errorf("%s: mutated file does not parse: %v", m.ID, err)
		}
		if bytes.Equal(m.src, []byte(snippetSrc)) {
			t.Errorf("%s: no change", m.ID)
		}
	}
	if m := got["p/p.go:f cmp: a < b => a <= b"]; m.Line != 8 || m.Col != 7 {
		t.Errorf("position %d:%d, want 8:7", m.Line, m.Col)
	}
	// one edit: the mutant's text equals the original outside one window
	m := got["p/p.go:f arith: x * b => x / b"]
	if want := strings.Replace(snippetSrc, "x = x * b", "x = x / b", 1); string(m.src) != want {
		t.Errorf("arith mutant:\n%s", m.src)
	}

	// a listed function that is not in the file, and a sub that matches nothing, are errors
	if _, err := Generate(&Spot{Name: "s", Funcs: []string{"nope"}, Ops: defaultOps}, "p.go", []byte(snippetSrc)); err == nil {
		t.Error("a missing function was accepted")
	}
	if _, err := Generate(&Spot{Name: "s", Funcs: []string{"f"}, Ops: defaultOps, Subs: []Sub{{"zzz", "y"}}}, "p.go", []byte(snippetSrc)); err == nil {
		t.Error("a sub that matches nothing was accepted")
	}
}

func TestMatchAndSkip(t *testing.T) {
	src := `package p

func f(a int) int {
	if a > 0 {
		log(a + 1)
	}
	best := a * 2
	return best
}

func log(int) {}
`
	spots, err := ParseSpots(strings.NewReader("spot s\n file p.go\n funcs f\n pkg .\n run .\n skip log\n"))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Generate(spots[0], "p.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if strings.Contains(m.ID, "a + 1") || strings.Contains(m.ID, "a + 2") {
			t.Errorf("skip: %s was made inside a log statement", m.ID)
		}
	}
	if !slices.ContainsFunc(ms, func(m Mutant) bool { return m.Op == opNegate }) {
		t.Error("skip looks at the header of an if statement only: its condition is still mutated")
	}
	spots[0].Skip = nil
	spots[0].Match = regexp.MustCompile("best")
	ms, _ = Generate(spots[0], "p.go", []byte(src))
	for _, m := range ms {
		if m.Before != "a * 2" {
			t.Errorf("match best: %s", m.ID)
		}
	}
	if len(ms) == 0 {
		t.Error("match best made nothing")
	}
}

func TestParseSpots(t *testing.T) {
	text := `# comment
spot a
  file  x/y.go
  funcs F T.M
  pkg   ./x
  run   ^(TestA|TestB)$
  skiprun ^TestSlow$
  timeout 45s
  ops   +call -const
  swap  Pearson Spearman
  sub   "a := 1" "a := 2\n"
  match best
  tags  pure
  env   CGO_ENABLED=0
spot b
  file z.go
  funcs G
  pkg ./z
  run .
  ops arith cmp
`
	spots, err := ParseSpots(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	a, b := spots[0], spots[1]
	if a.Name != "a" || a.File != "x/y.go" || !slices.Equal(a.Funcs, []string{"F", "T.M"}) || a.Pkg != "./x" || a.Run != "^(TestA|TestB)$" || a.SkipRun != "^TestSlow$" ||
		a.Timeout.Seconds() != 45 || a.Tags != "pure" || !slices.Equal(a.Env, []string{"CGO_ENABLED=0"}) || a.Match == nil {
		t.Errorf("spot a = %+v", a)
	}
	if slices.Contains(a.Ops, opConst) || !slices.Contains(a.Ops, opCall) || !slices.Contains(a.Ops, opArith) {
		t.Errorf("ops +call -const: %v", a.Ops)
	}
	if !slices.Equal(b.Ops, []string{opArith, opCmp}) {
		t.Errorf("ops arith cmp: %v", b.Ops)
	}
	if len(a.Swaps) != 1 || a.Swaps[0] != (Swap{"Pearson", "Spearman"}) || len(a.Subs) != 1 || a.Subs[0] != (Sub{"a := 1", "a := 2\n"}) {
		t.Errorf("swaps %v subs %q", a.Swaps, a.Subs)
	}
	if a.wants("M") || !a.wants("T.M") || a.wants("U.M") || !a.wants("F") || !(&Spot{Funcs: []string{"M"}}).wants("U.M") {
		t.Error("wants: Type.Method names one method, a bare name any function or method of that name")
	}
	for _, bad := range []string{
		"file x.go\n",             // before a spot
		"spot a\n colour red\n",   // unknown key
		"spot a\n file x.go\n",    // incomplete
		"spot a\n ops +nope\n",    // unknown operator
		"spot a\n sub \"x\"\n",    // one string
		"spot a\n run (\n",        // bad regexp
		"spot a\n timeout soon\n", // bad duration
		"spot a\nspot a\n",        // repeated
		"spot a\n file x\n funcs F\n pkg .\n run .\nspot a\n", // repeated
	} {
		if _, err := ParseSpots(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParseReasons(t *testing.T) {
	md := "# Reasons\n\nSome prose.\n\n- `a.go:f cmp: x < y => x <= y`: equal only when\n  x == y, which never happens.\n- `b.go:g const: 1 => 2` — harmless\n\n* not an id\n"
	r, err := ParseReasons(strings.NewReader(md))
	if err != nil {
		t.Fatal(err)
	}
	if got := r["a.go:f cmp: x < y => x <= y"]; got != "equal only when x == y, which never happens." {
		t.Errorf("reason a = %q", got)
	}
	if got := r["b.go:g const: 1 => 2"]; got != "harmless" {
		t.Errorf("reason b = %q", got)
	}
	if len(r) != 2 {
		t.Errorf("%d reasons: %v", len(r), r)
	}
}

func TestOverlayIsValid(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.go")
	ov, err := writeOverlay(filepath.Join(dir, "m1"), real, []byte("package x\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(ov)
	if err != nil {
		t.Fatal(err)
	}
	var o struct{ Replace map[string]string }
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("overlay %s: %v", b, err)
	}
	if len(o.Replace) != 1 || o.Replace[real] == "" {
		t.Fatalf("overlay %s does not replace %s", b, real)
	}
	if got, _ := os.ReadFile(o.Replace[real]); string(got) != "package x\n" {
		t.Errorf("replacement holds %q", got)
	}
	if _, err := os.Stat(real); err == nil {
		t.Error("the real file was written")
	}
}

// TestRunOnATinyModule runs the whole tool on a module made here: a killed,
// a surviving (explained and not), and an uncompilable mutant, the real
// file untouched, and the counts in the JSON report.
func TestRunOnATinyModule(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	src := "package calc\n\n// Abs is |x|.\nfunc Abs(x int) int {\n\tif x < 0 {\n\t\treturn -x\n\t}\n\treturn x\n}\n"
	files := map[string]string{
		"go.mod":            "module example.com/m\n\ngo 1.22\n",
		"calc/calc.go":      src,
		"calc/calc_test.go": "package calc\n\nimport \"testing\"\n\nfunc TestAbs(t *testing.T) {\n\tif Abs(-3) != 3 || Abs(2) != 2 {\n\t\tt.Fatal(Abs(-3), Abs(2))\n\t}\n}\n",
		"spots.txt":         "spot abs\n file calc/calc.go\n funcs Abs\n pkg ./calc\n run ^TestAbs$\n sub \"return x\\n}\" \"return y\\n}\"\n",
		"REASONS.md":        "- `calc/calc.go:Abs cmp: x < 0 => x <= 0`: -0 is 0.\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(filepath.Join(dir, "calc")) // the root is found upward
	var out, errOut bytes.Buffer
	jsonPath := filepath.Join(dir, "out.json")
	err := run(options{spots: "spots.txt", reasons: "REASONS.md", jobs: 2, json: jsonPath, strict: true}, &out, &errOut)
	if !errors.Is(err, errUnexplained) {
		t.Fatalf("strict run: err = %v, want errUnexplained\n%s\n%s", err, out.String(), errOut.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, m := range rep.Mutants {
		status[m.ID] = m.Status
	}
	want := map[string]string{
		"calc/calc.go:Abs negate: x < 0 => !(x < 0)":     Killed,
		"calc/calc.go:Abs cmp: x < 0 => x <= 0":          Survived, // explained
		"calc/calc.go:Abs cmp: x < 0 => x > 0":           Killed,
		"calc/calc.go:Abs const: x < 0 => x < 1":         Survived, // not explained
		"calc/calc.go:Abs arith: -x => x":                Killed,
		"calc/calc.go:Abs sub: return x } => return y }": Uncompilable,
	}
	for id, st := range want {
		if status[id] != st {
			t.Errorf("%s: %q, want %q", id, status[id], st)
		}
	}
	c := rep.Total
	if c.Mutants != 6 || c.Killed != 3 || c.Survived != 2 || c.Explained != 1 || c.Unexplained != 1 || c.Uncompilable != 1 || c.Errors != 0 {
		t.Errorf("counts %+v\n%s", c, out.String())
	}
	if c.KillRate != 0.6 {
		t.Errorf("kill rate %v, want 3/5", c.KillRate)
	}
	if !strings.Contains(out.String(), "killed 3 of 5 compiled mutants (60.0%)") {
		t.Errorf("report:\n%s", out.String())
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "calc", "calc.go")); string(got) != src {
		t.Error("the real file changed")
	}

	// -from reports the same results again with the reasons file as it is now
	os.WriteFile(filepath.Join(dir, "REASONS.md"), []byte(files["REASONS.md"]+"- `calc/calc.go:Abs const: x < 0 => x < 1`: 0 is its own absolute value.\n"), 0o644)
	out.Reset()
	if err := run(options{spots: "spots.txt", reasons: "REASONS.md", from: jsonPath, strict: true}, &out, &errOut); err != nil {
		t.Fatalf("-from with every survivor explained: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "2 survived (2 with a written reason, 0 without)") {
		t.Errorf("-from report:\n%s", out.String())
	}
}

// TestRemoveKeepsTheProgramCompiling: a removed store still reads what it
// read, so no variable becomes unused and every removal type-checks.
func TestRemoveKeepsTheProgramCompiling(t *testing.T) {
	src := `package p

func two() (int, int) { return 1, 2 }

func f(xs []int) int {
	var a, b int
	for i, x := range xs {
		xs[i] = x * 2
	}
	a, b = two()
	for i := 0; i < len(xs); i++ {
		a += xs[i]
	}
	switch {
	case a > 0:
		a, b = two()
	}
	_, b = two()
	return a + b
}
`
	sp := &Spot{Name: "s", Funcs: []string{"f"}, Ops: []string{opRemove}}
	ms, err := Generate(sp, "p.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 6 {
		t.Errorf("%d removals, want 6", len(ms))
	}
	for _, m := range ms {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "p.go", m.src, 0)
		if err != nil {
			t.Fatalf("%s: %v", m.ID, err)
		}
		if _, err := (&types.Config{}).Check("p", fset, []*ast.File{f}, nil); err != nil {
			t.Errorf("%s does not type-check: %v", m.ID, err)
		}
		t.Log(m.ID)
	}
}
