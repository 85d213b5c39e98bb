package tokenizer

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// These tests compare our encoder with the official sentencepiece library
// (Debian's python3-sentencepiece, run with /usr/bin/python3). They skip
// when that module is not importable.

const officialPython = "/usr/bin/python3"

func officialHelper(t *testing.T) string {
	t.Helper()
	if err := exec.Command(officialPython, "-c", "import sentencepiece").Run(); err != nil {
		t.Skipf("official sentencepiece not importable by %s (apt-get install python3-sentencepiece): %v", officialPython, err)
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "spm_ref.py")
}

func runOfficial(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(officialPython, append([]string{officialHelper(t)}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("official sentencepiece %v: %v\n%s", args[:2], err, msg)
	}
	return string(out)
}

func fmtIDs(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, " ")
}

// officialEncode returns the official library's ids for each line.
func officialEncode(t *testing.T, model string, lines []string) [][]int {
	t.Helper()
	in := filepath.Join(t.TempDir(), "lines.txt")
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := strings.Split(strings.TrimSuffix(runOfficial(t, "encode", model, in), "\n"), "\n")
	if len(out) != len(lines) {
		t.Fatalf("official encoder returned %d lines for %d inputs", len(out), len(lines))
	}
	ids := make([][]int, len(out))
	for i, l := range out {
		ids[i] = []int{}
		for _, f := range strings.Fields(l) {
			v, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("official output line %d: %v", i, err)
			}
			ids[i] = append(ids[i], v)
		}
	}
	return ids
}

// trickyLines exercise normalization and whitespace rules: runs of spaces,
// tabs, leading and trailing blanks, full-width and compatibility forms
// (NFKC), ligatures, accents, CJK, emoji, markers and unseen characters.
var trickyLines = []string{
	"The [MASK] sat on the mat.",
	"[CLS] first part [SEP] second part [SEP]",
	"  leading and trailing spaces   ",
	"many     inner      spaces\tand\ttabs",
	"\u3000ideographic space and no\u00a0break space",
	"Ｆｕｌｌｗｉｄｔｈ ＡＳＣＩＩ １２３ and ﬁ ligature, ½ fraction, ℌ",
	"café naïve façade Ångström résumé coöperate",
	"decomposed cafe\u0301 vs composed café",
	"中文字符和日本語のテキスト、한국어",
	"emoji 🙂🚀 and symbols ∑ ∫ ≠ ≤ → ©",
	"Numbers 1234567890 3.14159 1,000,000 and dates 1999-12-31.",
	"zero\u200bwidth\u200dchars and soft\u00adhyphen",
	"MiXeD CaSe WORDS and CamelCaseIdentifiers",
	"a",
	"",
	"   ",
	"[MASK]",
	"[MASK][MASK] [SEP][CLS]",
	"xq zzz qqqq jjjj vvvv",
	"\"Quoted,\" he said; 'single' — em-dash – en-dash … ellipsis",
}

func comparisonLines(t *testing.T) []string {
	lines := append([]string{}, trickyLines...)
	lines = append(lines, readSentences(t, gutenbergPath(t, "pg11_alices_adventures_in_wonderland.txt"), 300)...)
	lines = append(lines, readSentences(t, gutenbergPath(t, "pg16_peter_pan.txt"), 300)...)
	return lines
}

// trainingCorpus writes a small real corpus for the official trainer.
func trainingCorpus(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "corpus.txt")
	lines := readSentences(t, gutenbergPath(t, "pg1184_the_count_of_monte_cristo.txt"), 4000)
	lines = append(lines, trickyLines[5:13]...)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func compareWithOfficial(t *testing.T, model string, lines []string, encode func(*SentencePiece, string) []int) {
	t.Helper()
	sp, err := LoadSentencePiece(model)
	if err != nil {
		t.Fatal(err)
	}
	want := officialEncode(t, model, lines)
	bad := 0
	for i, line := range lines {
		got := encode(sp, line)
		if len(got) == 0 && len(want[i]) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want[i]) {
			bad++
			if bad <= 5 {
				t.Errorf("%s: line %d %q\n ours     %v\n official %v", filepath.Base(model), i, line, got, want[i])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d lines differ from the official encoder", filepath.Base(model), bad, len(lines))
	}
}

// TestOfficialModels loads models trained by the official library with
// several settings and checks every line encodes to the same ids.
func TestOfficialModels(t *testing.T) {
	officialHelper(t)
	corpus := trainingCorpus(t)
	lines := comparisonLines(t)
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
	}{
		{"bpe_nfkc_userdef", []string{"model_type=bpe", "vocab_size=2000", "user_defined_symbols=[CLS],[SEP],[MASK]"}},
		{"bpe_identity_bytefallback_control", []string{"model_type=bpe", "vocab_size=1200", "normalization_rule_name=identity",
			"byte_fallback=true", "control_symbols=[CLS],[SEP],[MASK]"}},
		{"bpe_nfkc_cf_nodummy", []string{"model_type=bpe", "vocab_size=1500", "normalization_rule_name=nmt_nfkc_cf",
			"add_dummy_prefix=false", "remove_extra_whitespaces=false", "character_coverage=0.99"}},
		{"unigram_nfkc_userdef", []string{"model_type=unigram", "vocab_size=2000", "user_defined_symbols=[MASK]"}},
		{"unigram_bytefallback", []string{"model_type=unigram", "vocab_size=1500", "byte_fallback=true", "character_coverage=0.98"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prefix := filepath.Join(dir, c.name)
			runOfficial(t, append([]string{"train", corpus, prefix}, c.args...)...)
			compareWithOfficial(t, prefix+".model", lines, (*SentencePiece).EncodeOfficial)
		})
	}
}
