package tui

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// sentencePredictor is a test Predictor until package infer lands: it
// proposes the sentence's own words for each [MASK], weighted by how often
// they occur, so answers depend on the input and are checkable by hand.
type sentencePredictor struct{ name string }

func (p sentencePredictor) Describe() string { return "test predictor " + p.name }

func (p sentencePredictor) FillMask(text string, k int) ([]MaskResult, error) {
	words := strings.Fields(strings.ToLower(text))
	count := map[string]int{}
	var masks []int
	for i, w := range words {
		if strings.Contains(w, "[mask]") {
			masks = append(masks, i+1) // +1: [CLS] comes first
			continue
		}
		count[strings.Trim(w, ".,")]++
	}
	if len(masks) == 0 {
		return nil, errors.New("no [MASK]")
	}
	var cands []Candidate
	total := 0
	for w, c := range count {
		cands = append(cands, Candidate{Token: w, Prob: float64(c)})
		total += c
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].Prob != cands[j].Prob {
			return cands[i].Prob > cands[j].Prob
		}
		return cands[i].Token < cands[j].Token
	})
	for i := range cands {
		cands[i].Prob /= float64(total)
		cands[i].ID = i
	}
	cands = cands[:min(k, len(cands))]
	out := make([]MaskResult, len(masks))
	for i, pos := range masks {
		out[i] = MaskResult{Position: pos, Candidates: cands}
	}
	return out, nil
}

func TestParseREPLLine(t *testing.T) {
	cases := []struct {
		in   string
		want replCmd
		err  string
	}{
		{"the cat sat on the [MASK].", replCmd{kind: "query", text: "the cat sat on the [MASK]."}, ""},
		{"  ", replCmd{kind: "empty"}, ""},
		{":k 3", replCmd{kind: "k", k: 3}, ""},
		{":k 0", replCmd{}, ":k wants a number"},
		{":k many", replCmd{}, ":k wants a number"},
		{":ckpt runs/x", replCmd{kind: "ckpt", text: "runs/x"}, ""},
		{":ckpt", replCmd{}, ":ckpt wants"},
		{":help", replCmd{kind: "help"}, ""},
		{":quit", replCmd{}, "unknown command :quit"},
		{"no mask here", replCmd{}, "no [MASK]"},
	}
	for _, tc := range cases {
		got, err := parseREPLLine(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestFormatAnswerGolden(t *testing.T) {
	res := []MaskResult{
		{Position: 6, Candidates: []Candidate{{1, "carpenter", 0.4321}, {2, "farmer", 0.25}, {3, "a", 0.0012}}},
		{Position: 9, Candidates: []Candidate{{4, "house", 0.9}}},
	}
	requireGolden(t, formatAnswer(res, 10)+"\n---\n"+formatAnswer(res, 0))
}

// checkpointRun makes a run folder with one checkpoint holding a
// model.safetensors placeholder, as ResolveCheckpoint expects.
func checkpointRun(t *testing.T) (runDir, ckpt string) {
	runDir = filepath.Join(t.TempDir(), "pretrain-x")
	ckpt = filepath.Join(runDir, rundir.CheckpointsDir, "step-000000010")
	os.MkdirAll(ckpt, 0o755)
	os.WriteFile(filepath.Join(ckpt, "model.safetensors"), nil, 0o644)
	os.Symlink("step-000000010", filepath.Join(runDir, rundir.CheckpointsDir, rundir.LatestLink))
	return runDir, ckpt
}

func TestResolveCheckpoint(t *testing.T) {
	runDir, ckpt := checkpointRun(t)
	for _, in := range []string{runDir, ckpt} {
		got, err := ResolveCheckpoint(in)
		if err != nil || filepath.Base(got) != "step-000000010" {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	if _, err := ResolveCheckpoint(t.TempDir()); err == nil || !strings.Contains(err.Error(), "neither a checkpoint") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := ResolveCheckpoint(filepath.Join(runDir, "nope")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing path: %v", err)
	}
}

func TestPlainREPL(t *testing.T) {
	runDir, _ := checkpointRun(t)
	load := func(dir string) (Predictor, error) { return sentencePredictor{filepath.Base(dir)}, nil }
	in := strings.Join([]string{
		"the dog saw the [MASK] dog.",
		":k 1",
		"a b b [MASK]",
		"no mask",
		":ckpt " + runDir,
		":help",
	}, "\n")
	var out bytes.Buffer
	err := PlainREPL(strings.NewReader(in), &out, sentencePredictor{"first"}, load, 2, false)
	if err == nil || !strings.Contains(err.Error(), "1 of 6 input lines failed") {
		t.Errorf("err %v, want one failed line counted", err)
	}
	want := "> the dog saw the [MASK] dog.\n" +
		"[MASK] 1 (token 5)\n" +
		"   1. dog   40.00%\n" +
		"   2. the   40.00%\n" +
		"> a b b [MASK]\n" +
		"[MASK] 1 (token 4)\n" +
		"   1. b     66.67%\n" +
		"error: line 4: no [MASK] in the sentence: mark the words to fill with [MASK]\n" +
		"loaded " + filepath.Join(runDir, "checkpoints", "step-000000010") + "\n" +
		fmt.Sprintf(replHelp, 1) + "\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestPlainREPLWithoutBackendSaysSo(t *testing.T) {
	runDir, _ := checkpointRun(t)
	var out bytes.Buffer
	err := PlainREPL(strings.NewReader(":ckpt "+runDir+"\n"), &out, sentencePredictor{}, nil, 5, false)
	if err == nil || !strings.Contains(out.String(), "no inference backend") {
		t.Errorf("err %v output %q", err, out.String())
	}
}

func TestREPLViewQueryHistoryAndCommands(t *testing.T) {
	root := standardFixtures(t)
	runDir := filepath.Join(root, "pretrain-pretrain-mini-20250601-100000")
	// The fixture's checkpoints need a model file to be loadable.
	cks, _ := rundir.Checkpoints(runDir)
	for _, c := range cks {
		os.WriteFile(filepath.Join(c.Dir, "model.safetensors"), nil, 0o644)
	}
	var loaded []string
	m := newTestModel(t, root, 80, 24, func(o *Options) {
		o.Load = func(dir string) (Predictor, error) {
			loaded = append(loaded, dir)
			return sentencePredictor{filepath.Base(dir)}, nil
		}
	})
	press(m, "down", "down", "down") // the mini run
	cmd := press(m, "p")             // query its latest checkpoint
	if m.view != viewREPL || cmd == nil {
		t.Fatalf("p: view %d", m.view)
	}
	m.Update(cmd())
	if len(loaded) != 1 || filepath.Base(loaded[0]) != "step-000000600" {
		t.Fatalf("loaded %v, want the latest checkpoint", loaded)
	}
	if !m.typing() {
		t.Fatal("after loading, the REPL should take typing")
	}
	typeText(m, "q the quick fox saw the [MASK]")
	if cmd := press(m, "q"); isQuit(m, cmd) {
		t.Fatal("q quit while typing in the REPL")
	}
	replOf(m).input.SetValue("the quick fox saw the [MASK]")
	cmd = press(m, "enter")
	m.Update(cmd())
	s := screen(m)
	for _, want := range []string{"[MASK] 1 (token 6)", "the", "40.00%", " ms)"} {
		if !strings.Contains(s, want) {
			t.Errorf("answer lacks %q:\n%s", want, s)
		}
	}
	// The screen with a fixed latency, for the golden file.
	res, _ := sentencePredictor{}.FillMask("the quick fox saw the [MASK]", DefaultTopK)
	m.Update(answerMsg{query: "the quick fox saw the [MASK]", results: res, latency: 2500 * time.Microsecond})
	requireGolden(t, screen(m))
	typeText(m, ":k 1")
	press(m, "enter")
	if k := replOf(m).k; k != 1 {
		t.Errorf(":k 1 left k = %d", k)
	}
	press(m, "up")
	if got := replOf(m).input.Value(); got != ":k 1" {
		t.Errorf("up: %q", got)
	}
	press(m, "up")
	if got := replOf(m).input.Value(); got != "the quick fox saw the [MASK]" {
		t.Errorf("up twice: %q", got)
	}
	press(m, "down", "down")
	if got := replOf(m).input.Value(); got != "" {
		t.Errorf("down back to a new line: %q", got)
	}
	typeText(m, ":help")
	press(m, "enter")
	if !strings.Contains(screen(m), ":ckpt PATH") {
		t.Errorf(":help text missing:\n%s", screen(m))
	}
	typeText(m, ":ckpt "+filepath.Join(runDir, "checkpoints", "step-000000200"))
	cmd = press(m, "enter")
	m.Update(cmd())
	if len(loaded) != 2 || filepath.Base(loaded[1]) != "step-000000200" || !strings.Contains(screen(m), "step-000000200") {
		t.Errorf(":ckpt did not load step 200: %v", loaded)
	}
	press(m, "esc")
	if !replOf(m).picking || !strings.Contains(screen(m), "Pick a checkpoint") {
		t.Error("esc should return to the checkpoint picker")
	}
}

func TestREPLViewWithoutBackend(t *testing.T) {
	root := standardFixtures(t)
	runDir := filepath.Join(root, "pretrain-pretrain-mini-20250601-100000")
	cks, _ := rundir.Checkpoints(runDir)
	os.WriteFile(filepath.Join(cks[len(cks)-1].Dir, "model.safetensors"), nil, 0o644)
	m := newTestModel(t, root, 80, 24)
	press(m, "down", "down", "down")
	m.Update(press(m, "p")())
	if s := screen(m); !strings.Contains(s, "no inference backend") {
		t.Errorf("missing backend should be explained:\n%s", s)
	}
}
