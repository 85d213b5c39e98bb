package glue

import (
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// fuzzLayout is one split's layout with its task.
type fuzzLayout struct {
	task  Task
	split string
	l     layout
}

// fuzzLayouts lists every (task, split) layout in a fixed order.
func fuzzLayouts(t testing.TB) []fuzzLayout {
	var names []string
	for n := range layouts {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []fuzzLayout
	for _, n := range names {
		task, err := Lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range task.Splits() {
			out = append(out, fuzzLayout{task, s, layouts[n][s]})
		}
	}
	return out
}

// renderTSV writes examples back in a layout: the layout's own columns
// (plus one it ignores), CRLF line ends so a text that ends in CR as the
// last field keeps it, labels as the task's strings, scores exactly.
func renderTSV(fl fuzzLayout, exs []Example) string {
	l := fl.l
	var b strings.Builder
	row := func(fields ...string) {
		b.WriteString(strings.Join(fields, "\t"))
		b.WriteString("\r\n")
	}
	if l.implicit != nil { // CoLA: source, label, original_mark, sentence
		for _, ex := range exs {
			row("src", fl.task.Labels[ex.Label], "", ex.TextA)
		}
		return b.String()
	}
	var header []string
	cols := func(ex Example) []string {
		var f []string
		if l.index != "" {
			f = append(f, strconv.Itoa(ex.Index))
		}
		f = append(f, ex.TextA)
		if l.textB != "" {
			f = append(f, ex.TextB)
		}
		if l.labelLast {
			f = append(f, "ignored")
		}
		if l.label != "" {
			f = append(f, fl.task.Labels[ex.Label])
		}
		if l.score != "" {
			f = append(f, strconv.FormatFloat(ex.Score, 'g', -1, 64))
		}
		if !l.labelLast {
			f = append(f, "ignored")
		}
		return f
	}
	for _, name := range []string{l.index, l.textA, l.textB} {
		if name != "" {
			header = append(header, name)
		}
	}
	if l.labelLast {
		header = append(header, "pad")
	}
	for _, name := range []string{l.label, l.score} {
		if name != "" {
			header = append(header, name)
		}
	}
	if !l.labelLast {
		header = append(header, "pad")
	}
	row(header...)
	for _, ex := range exs {
		row(cols(ex)...)
	}
	return b.String()
}

// FuzzParseTSV: whatever the bytes, the GLUE TSV reader (parse, behind
// Load) for any task and split either fails with file:line or returns
// examples whose labels are class ids of the task (-1 exactly when the
// split is unlabelled or stsb), whose scores lie in [0, 5] (-1 when
// absent), whose indices are non-negative and unique, whose lines run on
// from the header, and which written back in the layout read back the same.
func FuzzParseTSV(f *testing.F) {
	at := func(task, split string) uint8 {
		for i, fl := range fuzzLayouts(f) {
			if fl.task.Name == task && fl.split == split {
				return uint8(i)
			}
		}
		panic(task + " " + split)
	}
	f.Add("gj04\t1\t\tOur friends won't buy this analysis.\n", at("cola", "train"))
	f.Add("\ufeffindex\tsentence\n0\tShe said \"hi.\r\n1\t\n", at("cola", "test"))
	f.Add("sentence\tlabel\r\nit 's a charming journey . \t1\r\nbad\t0", at("sst2", "train"))
	f.Add("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\ta\tb\n", at("mrpc", "dev"))
	f.Add("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tmain\tx\t2012\t1\tnone\tnone\tA plane.\tAn air plane.\t5.000\n1\tm\tx\t1\t1\tn\tn\tx\ty\t0x1p-2\n", at("stsb", "train"))
	f.Add("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n"+
		"0\t1\t1n\tgov\t(\t(\t(\t(\tpremise\thypo\tneutral\tneutral\n1\t1\t1e\tgov\t(\t(\t(\t(\tp\th\tentailment\n", at("mnli", "train"))
	f.Add("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n+7\t1\t2\twhy?\thow?\t0\n007\t1\t2\ta\tb\t1\n", at("qqp", "dev"))
	f.Add("index\tsentence1\tsentence2\n0\ta\tb\r\r\n", at("ax", "test"))
	f.Fuzz(func(t *testing.T, data string, which uint8) {
		all := fuzzLayouts(t)
		fl := all[int(which)%len(all)]
		exs, err := parse(strings.NewReader(data), "x.tsv", fl.task, fl.l)
		if err != nil {
			if exs != nil || !strings.HasPrefix(err.Error(), "glue: ") && !strings.HasPrefix(err.Error(), "x.tsv:") {
				t.Fatalf("%s %s: error %v with %d examples", fl.task.Name, fl.split, err, len(exs))
			}
			return
		}
		first := 2
		if fl.l.implicit != nil {
			first = 1
		}
		seen := map[int]bool{}
		for i, ex := range exs {
			switch {
			case ex.Line != first+i:
				t.Fatalf("example %d on line %d, want %d", i, ex.Line, first+i)
			case ex.Index < 0 || seen[ex.Index]:
				t.Fatalf("example %d: index %d negative or repeated", i, ex.Index)
			case fl.l.index == "" && ex.Index != i:
				t.Fatalf("example %d: index %d in a file without an index column", i, ex.Index)
			case (fl.l.label != "") != (ex.Label >= 0) || ex.Label >= len(fl.task.Labels) || (ex.Label < 0 && ex.Label != -1):
				t.Fatalf("%s %s example %d: label %d", fl.task.Name, fl.split, i, ex.Label)
			case (fl.l.score != "") != (ex.Score != -1) || (ex.Score != -1 && !(ex.Score >= 0 && ex.Score <= 5)):
				t.Fatalf("%s %s example %d: score %v", fl.task.Name, fl.split, i, ex.Score)
			case strings.ContainsAny(ex.TextA+ex.TextB, "\t\n"):
				t.Fatalf("example %d: texts %q, %q hold a tab or newline", i, ex.TextA, ex.TextB)
			case fl.l.textB == "" && ex.TextB != "":
				t.Fatalf("example %d: TextB %q in a single-text layout", i, ex.TextB)
			}
			seen[ex.Index] = true
		}
		text := renderTSV(fl, exs)
		again, err := parse(strings.NewReader(text), "x.tsv", fl.task, fl.l)
		if err != nil {
			t.Fatalf("%s %s: written back, does not parse: %v\n%q", fl.task.Name, fl.split, err, text)
		}
		if !reflect.DeepEqual(again, exs) {
			t.Fatalf("%s %s: round trip changed the examples:\n%+v\n%+v\nvia %q", fl.task.Name, fl.split, exs, again, text)
		}
	})
}
