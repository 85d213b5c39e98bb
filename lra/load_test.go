package lra

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestListOpsLoadOfficialLayoutRoundTrip(t *testing.T) {
	dir := t.TempDir()
	opt := smallListOps(9, 0)
	if err := GenerateListOpsSplits(dir, opt, ListOpsCounts{Train: 120, Val: 30, Test: 30}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ListOpsFile("val")))
	if err != nil {
		t.Fatal(err)
	}
	rows := tsvRows(t, data)
	ex, err := ListOps.Load(dir, "validation")
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != len(rows) {
		t.Fatalf("loaded %d examples of %d lines", len(ex), len(rows))
	}
	for i, e := range ex {
		official, err := FormatListOpsSource(e.Text)
		if err != nil {
			t.Fatal(err)
		}
		if official != rows[i][0] || ListOps.Labels[e.Label] != rows[i][1] || e.Line != i+2 {
			t.Fatalf("example %d: %q label %d line %d does not give back line %d %q", i, e.Text, e.Label, e.Line, i+2, rows[i])
		}
		if strings.ContainsAny(e.Text, "()") || strings.Contains(e.Text, " X") {
			t.Fatalf("example %d's Text is not compact: %q", i, e.Text)
		}
	}
}

// The official release's folder, the headerless target-first original
// ListOps files, CRLF ends and a byte-order mark all read the same.
func TestListOpsLoadLayouts(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"lra_release/listops-1000/basic_test.tsv": "Source\tTarget\r\n( ( ( [MAX 2 ) 9 ) ] )\t9\r\n( ( ( [MED 1 ) 2 ) ] )\t1\r\n",
		"orig.tsv":     "9\t( ( ( [MAX 2 ) 9 ) ] )\n1\t( ( ( [MED 1 ) 2 ) ] )",
		"swapped.tsv":  "\ufeffTarget\tSource\n9\t[MAX 2 9 ]\n1\t[MED 1 2 X\n",
		"noheader.tsv": "[MAX 2 9 ]\t9\n[MED 1 2 ]\t1\n",
	})
	want := []Example{{Text: "[MAX 2 9 ]", Label: 9}, {Text: "[MED 1 2 ]", Label: 1}}
	for _, path := range []string{"lra_release", "orig.tsv", "swapped.tsv", "noheader.tsv"} {
		ex, err := ListOps.Load(filepath.Join(dir, path), "test")
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		for i := range ex {
			ex[i].Line = 0
		}
		if !reflect.DeepEqual(ex, want) {
			t.Errorf("%s: %+v, want %+v", path, ex, want)
		}
	}
}

func TestListOpsLoadErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ body, want string }{
		{"Source\tTarget\n[MAX 2 9 ]\t9\n[MAX 2 9 ]\t8\n", ":3: target 8, but the source evaluates to 9"},
		{"Source\tTarget\n[MAX 2 9 ]\t9\n[MAX 2 9\t9\n", ":3: source: 1 operator(s) not closed"},
		{"Source\tTarget\n[MAX 2 9 ]\t10\n", `:2: target "10" is not a value 0-9`},
		{"Source\tTarget\n[MAX 2 9 ]\n", ":2: has 1 tab-separated fields, want 2"},
		{"Source\tTarget\n[MAX 2 9 ]\t9\textra\n", ":2: has 3 tab-separated fields"},
		{"Source\tTarget\n\n[MAX 2 9 ]\t9\n", ":2: blank line"},
		{"Source\tTarget\n[MAX 2 [FIRST 9 ] ]\t9\n", `:2: source: token 3 "[FIRST" is not ListOps`},
	} {
		path := filepath.Join(dir, "bad.tsv")
		writeFiles(t, dir, map[string]string{"bad.tsv": c.body})
		_, err := ListOps.Load(path, "train")
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), path+c.want) {
			t.Errorf("%q: error %v, want a ParseError containing %q", c.body, err, path+c.want)
		}
	}
	writeFiles(t, dir, map[string]string{"empty.tsv": "Source\tTarget\n"})
	if _, err := ListOps.Load(filepath.Join(dir, "empty.tsv"), "train"); err == nil || !strings.Contains(err.Error(), "holds no ListOps examples") {
		t.Errorf("header only: %v", err)
	}
}

func TestListOpsLoadMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := ListOps.Load(dir, "train")
	var me *MissingError
	if !errors.As(err, &me) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v, want a MissingError matching fs.ErrNotExist", err)
	}
	for _, want := range []string{filepath.Join(dir, "basic_train.tsv"), GenerateListOpsCommand, LRAReleaseURL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not say %q", err, want)
		}
	}
	if _, err := ListOps.Load(dir, "holdout"); err == nil || !strings.Contains(err.Error(), `unknown split "holdout"`) {
		t.Errorf("bad split: %v", err)
	}
}

func TestTextLoadACLIMDB(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, aclImdbFixture)
	train, err := Text.Load(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{
		{Text: "Dull and slow.", Label: 0, Name: "neg/0_2.txt"},
		{Text: "Terrible.", Label: 0, Name: "neg/1_1.txt"},
		{Text: "Not\tgood.", Label: 0, Name: "neg/2_3.txt"},
		{Text: "A wonderful film.<br /><br />Loved it.", Label: 1, Name: "pos/0_9.txt"},
		{Text: "Good, café scenes.", Label: 1, Name: "pos/1_7.txt"},
	}
	if !reflect.DeepEqual(train, want) {
		t.Errorf("train:\n%+v\nwant\n%+v", train, want)
	}
	// The aclImdb folder itself works too, and val is test (LRA validates on test).
	val, err := Text.Load(filepath.Join(dir, "aclImdb"), "val")
	if err != nil {
		t.Fatal(err)
	}
	test, err := Text.Load(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(val, test) || len(test) != 2 || test[0].Text != "Awful." || test[1].Label != 1 {
		t.Errorf("val %+v, test %+v", val, test)
	}
}

func TestTextLoadMissing(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{dir, filepath.Join(dir, "absent")} {
		_, err := Text.Load(path, "train")
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), ACLIMDBURL) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want a not-exist error naming the path and %s", path, err, ACLIMDBURL)
		}
	}
	writeFiles(t, dir, map[string]string{"aclImdb/train/pos/0_9.txt": "good"})
	_, err := Text.Load(dir, "train")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join("train", "neg")) {
		t.Errorf("a split without neg/: %v", err)
	}
}

func TestTextLoadTSV(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"SST-2/train.tsv": "sentence\tlabel\nit 's a charming journey \t1\nunfunny\t0\n",
		"SST-2/dev.tsv":   "sentence\tlabel\r\nlovely\t1\r\n",
		"named.tsv":       "text with\ta tab\tpos\nmeh\tNEG",
		"bad.tsv":         "text\tlabel\nfine\t1\nworse\t7\n",
		"notab.tsv":       "good\t1\njust text\n",
	})
	train, err := Text.Load(filepath.Join(dir, "SST-2"), "train")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Example{{Text: "it 's a charming journey ", Label: 1, Line: 2}, {Text: "unfunny", Label: 0, Line: 3}}; !reflect.DeepEqual(train, want) {
		t.Errorf("train %+v, want %+v", train, want)
	}
	if dev, err := Text.Load(filepath.Join(dir, "SST-2"), "dev"); err != nil || len(dev) != 1 || dev[0].Text != "lovely" {
		t.Errorf("dev (GLUE's name for val): %+v, %v", dev, err)
	}
	named, err := Text.Load(filepath.Join(dir, "named.tsv"), "test")
	if want := []Example{{Text: "text with\ta tab", Label: 1, Line: 1}, {Text: "meh", Label: 0, Line: 2}}; err != nil || !reflect.DeepEqual(named, want) {
		t.Errorf("named labels: %+v, %v; want %+v", named, err, want)
	}
	for file, msg := range map[string]string{"bad.tsv": `:3: label "7" is not one of 0, 1, neg, pos`, "notab.tsv": ":2: no tab"} {
		path := filepath.Join(dir, file)
		if _, err := Text.Load(path, "train"); err == nil || !strings.Contains(err.Error(), path+msg) {
			t.Errorf("%s: %v, want %q", file, err, path+msg)
		}
	}
}

func TestLookup(t *testing.T) {
	for name, want := range map[string]string{"listops": "listops", "LRA/ListOps": "listops", "text": "text", "imdb": "text"} {
		if task, err := Lookup(name); err != nil || task.Name != want {
			t.Errorf("Lookup(%q) = %s, %v", name, task.Name, err)
		}
	}
	if _, err := Lookup("pathfinder"); err == nil {
		t.Error("Lookup(pathfinder) succeeded")
	}
}
