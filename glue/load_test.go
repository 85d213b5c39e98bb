package glue

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Row counts and dev label balances of the official files (see
// ../shared/data/SOURCES.md).
func TestLoadSharedData(t *testing.T) {
	dir := sharedGlueDir(t)
	counts := []struct {
		task, split string
		n           int
		labels      map[int]int // class id -> count, for dev splits
	}{
		{"cola", "train", 8551, nil}, {"cola", "dev", 1043, map[int]int{1: 721, 0: 322}}, {"cola", "test", 1063, nil},
		{"sst2", "train", 67349, nil}, {"sst2", "dev", 872, map[int]int{1: 444, 0: 428}}, {"sst2", "test", 1821, nil},
		{"mrpc", "train", 3668, nil}, {"mrpc", "dev", 408, map[int]int{1: 279, 0: 129}}, {"mrpc", "test", 1725, nil},
		{"stsb", "train", 5749, nil}, {"stsb", "dev", 1500, nil}, {"stsb", "test", 1379, nil},
		{"qnli", "dev", 5463, map[int]int{0: 2702, 1: 2761}}, {"qnli", "test", 5463, nil},
		{"rte", "train", 2490, nil}, {"rte", "dev", 277, map[int]int{0: 146, 1: 131}}, {"rte", "test", 3000, nil},
		{"wnli", "train", 635, nil}, {"wnli", "dev", 71, map[int]int{1: 31, 0: 40}}, {"wnli", "test", 146, nil},
		{"ax", "test", 1104, nil},
	}
	for _, c := range counts {
		ex, err := Load(dir, c.task, c.split)
		if err != nil {
			t.Errorf("%s %s: %v", c.task, c.split, err)
			continue
		}
		if len(ex) != c.n {
			t.Errorf("%s %s: %d examples, want %d", c.task, c.split, len(ex), c.n)
		}
		task, _ := Lookup(c.task)
		got := map[int]int{}
		for i, e := range ex {
			got[e.Label]++
			if c.split == "test" && e.Index != i {
				t.Errorf("%s test: example %d has index %d", c.task, i, e.Index)
				break
			}
			if task.Pair == (e.TextB == "") {
				t.Errorf("%s %s line %d: TextB %q for a task with Pair=%v", c.task, c.split, e.Line, e.TextB, task.Pair)
				break
			}
			if task.IsRegression && c.split != "test" && (e.Score < 0 || e.Score > 5) {
				t.Errorf("%s %s line %d: score %v", c.task, c.split, e.Line, e.Score)
				break
			}
		}
		if c.split == "test" && got[-1] != c.n {
			t.Errorf("%s test: %d unlabelled of %d", c.task, got[-1], c.n)
		}
		for label, n := range c.labels {
			if got[label] != n {
				t.Errorf("%s %s: %d examples of class %d (%s), want %d", c.task, c.split, got[label], label, task.Labels[label], n)
			}
		}
	}
}

// Spot checks of the quirks on the real files.
func TestLoadSharedQuirks(t *testing.T) {
	dir := sharedGlueDir(t)
	// MRPC: byte-order mark before the header, unbalanced quotes kept as text.
	mrpc, err := Load(dir, "mrpc", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if e := mrpc[0]; e.Line != 2 || e.Label != 1 || !strings.HasPrefix(e.TextB, `"The foodservice pie business`) {
		t.Errorf("mrpc dev[0] = %+v", e)
	}
	// CoLA dev: no header, no final newline.
	cola, err := Load(dir, "cola", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if e := cola[0]; e.Line != 1 || e.TextA != "The sailors rode the breeze clear of the rocks." {
		t.Errorf("cola dev[0] = %+v", e)
	}
	if e := cola[len(cola)-1]; e.Line != 1043 || e.TextA != "John talked to Bill about himself." || e.Index != 1042 {
		t.Errorf("cola dev last = %+v", e)
	}
	// AX: hypothesis (sentence2) first, as MNLI; no final newline.
	ax, err := Load(dir, "ax", "test")
	if err != nil {
		t.Fatal(err)
	}
	if e := ax[0]; e.TextA != "The cat did not sit on the mat." || e.TextB != "The cat sat on the mat." {
		t.Errorf("ax[0] = %+v, want hypothesis first", e)
	}
	if e := ax[len(ax)-1]; e.Index != 1103 || !strings.HasSuffix(e.TextB, "off switch.") {
		t.Errorf("ax last = %+v", e)
	}
	// STS-B: float scores, sentence columns among ten.
	sts, err := Load(dir, "stsb", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if e := sts[1]; e.Score != 4.75 || e.TextA != "A young child is riding a horse." || e.Label != -1 {
		t.Errorf("stsb dev[1] = %+v", e)
	}
}

func TestLoadMissingFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir, "mnli", "train")
	var me *MissingError
	if !errors.As(err, &me) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a *MissingError matching fs.ErrNotExist", err)
	}
	wantFile := filepath.Join(dir, "MNLI", "train.tsv")
	wantCmd := "fnet-tui glue download --data " + dir + " MNLI"
	if me.File != wantFile || me.Command != wantCmd || !strings.Contains(err.Error(), wantFile) || !strings.Contains(err.Error(), wantCmd) {
		t.Errorf("error %q: want file %s and command %q", err, wantFile, wantCmd)
	}

	// The default data folder gets the short command.
	t.Setenv(EnvGlueDir, dir)
	_, err = Load(dir, "qqp", "dev")
	if err == nil || !strings.HasSuffix(err.Error(), "download the task with: fnet-tui glue download QQP") {
		t.Errorf("err = %v, want the short download command", err)
	}

	// A read-only folder (like the shared data) says to download elsewhere.
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	_, err = Load(dir, "qnli", "train")
	if err == nil || !strings.HasSuffix(err.Error(), "read-only, so download the task elsewhere with: fnet-tui glue download --data DIR QNLI, then set FNET_GLUE_DIR=DIR") {
		t.Errorf("err = %v, want the read-only hint", err)
	}
}

func TestLoadQuirksSynthetic(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		// BOM, CRLF line ends, unbalanced quotes, no final newline.
		"MRPC/train.tsv": "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n" +
			"1\t11\t12\tHe said \"hi.\tShe said \"bye\" twice.\r\n" +
			"0\t13\t14\t\"\t'",
		// No header: source, label, mark, sentence.
		"CoLA/train.tsv": "gj04\t1\t\tFine sentence.\ngj04\t0\t*\tBad sentence sentence.\n",
		// MNLI: parses ignored, hypothesis first, gold label last even when a
		// row has fewer annotator labels than the header.
		"MNLI/dev_matched.tsv": "index\tpromptID\tpairID\tgenre\tb1\tb2\tp1\tp2\tsentence1\tsentence2\tlabel1\tlabel2\tgold_label\n" +
			"7\t1\t1g\tfiction\t(x)\t(y)\t(X)\t(Y)\tThe premise.\tThe hypothesis.\tneutral\tneutral\tneutral\n" +
			"8\t2\t2g\tfiction\t(x)\t(y)\t(X)\t(Y)\tP2.\tH2.\tcontradiction\n",
		"QQP/dev.tsv": "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n402\t1\t2\tWhy?\tWhy not?\t1\n",
	})
	mrpc, err := Load(dir, "mrpc", "train")
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{
		{Index: 0, TextA: `He said "hi.`, TextB: `She said "bye" twice.`, Label: 1, Score: -1, Line: 2},
		{Index: 1, TextA: `"`, TextB: `'`, Label: 0, Score: -1, Line: 3},
	}
	if len(mrpc) != 2 || mrpc[0] != want[0] || mrpc[1] != want[1] {
		t.Errorf("mrpc = %+v, want %+v", mrpc, want)
	}
	cola, err := Load(dir, "cola", "train")
	if err != nil {
		t.Fatal(err)
	}
	if len(cola) != 2 || cola[1] != (Example{Index: 1, TextA: "Bad sentence sentence.", Label: 0, Score: -1, Line: 2}) {
		t.Errorf("cola = %+v", cola)
	}
	mnli, err := Load(dir, "mnli", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(mnli) != 2 || mnli[0] != (Example{Index: 7, TextA: "The hypothesis.", TextB: "The premise.", Label: 1, Score: -1, Line: 2}) ||
		mnli[1].Label != 2 || mnli[1].TextA != "H2." {
		t.Errorf("mnli = %+v", mnli)
	}
	qqp, err := Load(dir, "qqp", "validation")
	if err != nil {
		t.Fatal(err)
	}
	if len(qqp) != 1 || qqp[0] != (Example{Index: 402, TextA: "Why?", TextB: "Why not?", Label: 1, Score: -1, Line: 2}) {
		t.Errorf("qqp = %+v", qqp)
	}
}

func TestLoadMalformed(t *testing.T) {
	rte := "index\tsentence1\tsentence2\tlabel\n"
	cases := []struct {
		name, file, content, task, split string
		want                             string // file-relative "path:line: message" suffix
	}{
		{"short row", "RTE/dev.tsv", rte + "0\ta\tb\tentailment\n1\ta\tnot_entailment\n", "rte", "dev", "RTE/dev.tsv:3: has 3 tab-separated fields, want 4"},
		{"long row", "RTE/dev.tsv", rte + "0\ta\tb\tc\tentailment\n", "rte", "dev", "RTE/dev.tsv:2: has 5 tab-separated fields, want 4"},
		{"blank line", "RTE/dev.tsv", rte + "0\ta\tb\tentailment\n\n1\ta\tb\tentailment\n", "rte", "dev", "RTE/dev.tsv:3: blank line"},
		{"bad label", "RTE/dev.tsv", rte + "0\ta\tb\tmaybe\n", "rte", "dev", `RTE/dev.tsv:2: label "maybe" is not one of entailment, not_entailment`},
		{"numeric label for named task", "RTE/dev.tsv", rte + "0\ta\tb\t1\n", "rte", "dev", `RTE/dev.tsv:2: label "1"`},
		{"bad index", "RTE/dev.tsv", rte + "x\ta\tb\tentailment\n", "rte", "dev", `RTE/dev.tsv:2: index "x" is not a non-negative integer`},
		{"duplicate index", "RTE/test.tsv", "index\tsentence1\tsentence2\n0\ta\tb\n1\tc\td\n0\te\tf\n", "rte", "test", "RTE/test.tsv:4: index 0 repeats line 2"},
		{"missing column", "RTE/dev.tsv", "index\tsentence1\tsentence2\n0\ta\tb\n", "rte", "dev", `RTE/dev.tsv:1: header lacks column "label"`},
		{"score out of range", "STS-B/dev.tsv", "index\tsentence1\tsentence2\tscore\n0\ta\tb\t5.5\n", "stsb", "dev", `STS-B/dev.tsv:2: score "5.5" is not a number in [0, 5]`},
		{"score not a number", "STS-B/dev.tsv", "index\tsentence1\tsentence2\tscore\n0\ta\tb\tNaN\n", "stsb", "dev", `STS-B/dev.tsv:2: score "NaN"`},
		{"cola wrong width", "CoLA/dev.tsv", "gj04\t1\t\tok\ngj04\t1\tno mark column\n", "cola", "dev", "CoLA/dev.tsv:2: has 3 tab-separated fields, want 4"},
		{"mnli missing label", "MNLI/train.tsv", "index\ta\tb\tc\td\te\tf\tg\tsentence1\tsentence2\tlabel1\tgold_label\n0\t1\t2\t3\t4\t5\t6\t7\tp\th\n", "mnli", "train", "MNLI/train.tsv:2: has 10 tab-separated fields, want 11 to 12"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{c.file: c.content})
			_, err := Load(dir, c.task, c.split)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			want := filepath.Join(dir, filepath.FromSlash(c.want))
			if !strings.HasPrefix(err.Error(), want) && !strings.HasPrefix(err.Error(), filepath.Join(dir, c.file)+":") {
				t.Fatalf("err = %q, want prefix %q", err, want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %q, want %q", err, c.want)
			}
		})
	}
}

func TestLoadEmpty(t *testing.T) {
	dir := writeFiles(t, map[string]string{"RTE/dev.tsv": "index\tsentence1\tsentence2\tlabel\n", "CoLA/dev.tsv": ""})
	for _, task := range []string{"rte", "cola"} {
		_, err := Load(dir, task, "dev")
		if err == nil || !strings.Contains(err.Error(), "holds no examples") {
			t.Errorf("%s: err = %v, want 'holds no examples'", task, err)
		}
	}
}
