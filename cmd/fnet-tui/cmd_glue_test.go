package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// glueFixture writes a small RTE dev split and a predictions file.
func glueFixture(t *testing.T) (dataDir, predPath string) {
	t.Helper()
	dataDir = t.TempDir()
	rte := "index\tsentence1\tsentence2\tlabel\n" +
		"0\tA man sleeps.\tA man is awake.\tnot_entailment\n" +
		"1\tA dog runs.\tAn animal moves.\tentailment\n" +
		"2\tIt rains.\tThe ground is wet.\tentailment\n" +
		"3\tShe left.\tShe stayed.\tnot_entailment"
	if err := os.MkdirAll(filepath.Join(dataDir, "RTE"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "RTE", "dev.tsv"), []byte(rte), 0o644); err != nil {
		t.Fatal(err)
	}
	predPath = filepath.Join(t.TempDir(), "RTE.tsv")
	pred := "index\tprediction\n3\tnot_entailment\n2\tentailment\n1\tnot_entailment\n0\tnot_entailment\n"
	if err := os.WriteFile(predPath, []byte(pred), 0o644); err != nil {
		t.Fatal(err)
	}
	return dataDir, predPath
}

func TestGlueScoreOutput(t *testing.T) {
	data, pred := glueFixture(t)
	var out, errb bytes.Buffer
	if err := runGlue([]string{"score", "--task", "RTE", pred, "--json", "--data", data}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), `{"task":"rte","split":"dev","examples":4,"accuracy":0.75}`+"\n"; got != want {
		t.Errorf("json = %q, want %q", got, want)
	}
	out.Reset()
	if err := runGlue([]string{"score", "--data", data, "--task", "rte", "--split", "validation", pred}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "rte dev (4 examples, ") || !strings.HasSuffix(got, "accuracy 0.7500\n") {
		t.Errorf("text = %q", got)
	}
}

func TestGlueScoreErrors(t *testing.T) {
	data, pred := glueFixture(t)
	usage := [][]string{
		{"score", pred, "--data", data},                             // no --task
		{"score", "--task", "rte", "--data", data},                  // no file
		{"score", "--task", "rte", pred, pred, "--data", data},      // two files
		{"score", "--task", "squad", pred, "--data", data},          // unknown task
		{"score", "--task", "rte", "--split", "x", pred},            // unknown split
		{"score", "--task", "rte", "--bogus", pred, "--data", data}, // unknown flag
		{"frobnicate"},
		{},
	}
	for _, args := range usage {
		var ue *usageError
		if err := runGlue(args, &bytes.Buffer{}, &bytes.Buffer{}); !errors.As(err, &ue) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
	// Failures that are not usage errors, with messages naming the problem.
	failures := []struct {
		args []string
		want string
	}{
		{[]string{"score", "--task", "mnli", pred, "--data", data}, "fnet-tui glue download --data " + data + " MNLI"},
		{[]string{"score", "--task", "ax", "--split", "test", pred, "--data", data}, "held by the GLUE server"},
		{[]string{"score", "--task", "rte", "--split", "test", pred, "--data", data}, "has no gold labels"},
		{[]string{"score", "--task", "rte", filepath.Join(data, "nope.tsv"), "--data", data}, "nope.tsv"},
	}
	for _, f := range failures {
		err := runGlue(f.args, &bytes.Buffer{}, &bytes.Buffer{})
		var ue *usageError
		if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), f.want) {
			t.Errorf("%q: err = %v, want a failure mentioning %q", f.args, err, f.want)
		}
		if err != nil && strings.HasPrefix(err.Error(), "glue: ") {
			t.Errorf("%q: message repeats the glue prefix: %v", f.args, err)
		}
	}
	// Exit statuses through the dispatcher.
	if code := run([]string{"glue", "score", "--data", data, pred}); code != 2 {
		t.Errorf("usage error exit = %d, want 2", code)
	}
	if code := run([]string{"glue", "score", "--task", "mnli", "--data", data, pred}); code != 1 {
		t.Errorf("missing data exit = %d, want 1", code)
	}
	if code := run([]string{"glue", "score", "--task", "rte", "--data", data, pred}); code != 0 {
		t.Errorf("success exit = %d, want 0", code)
	}
}

func TestGlueTasksJSON(t *testing.T) {
	data, _ := glueFixture(t)
	var out bytes.Buffer
	if err := runGlue([]string{"tasks", "--json", "--data", data}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var infos []taskInfo
	if err := json.Unmarshal(out.Bytes(), &infos); err != nil {
		t.Fatalf("%v in %s", err, out.String())
	}
	if len(infos) != 11 {
		t.Fatalf("%d tasks", len(infos))
	}
	for _, info := range infos {
		if info.Name == "rte" {
			if !info.Splits["dev"] || info.Splits["train"] || !strings.Contains(info.Download, "glue download --data "+data+" RTE") {
				t.Errorf("rte = %+v", info)
			}
		}
	}
	out.Reset()
	if err := runGlue([]string{"tasks", "--data", data}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "rte") || !strings.Contains(out.String(), "missing: train test") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestGlueDownloadCommand(t *testing.T) {
	ax := "index\tsentence1\tsentence2\n0\tThe cat sat.\tThe cat stood.\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/glue/data/AX.tsv" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(ax))
	}))
	defer srv.Close()
	data := filepath.Join(t.TempDir(), "glue")
	t.Setenv("FNET_GLUE_BASE_URL", srv.URL)

	// The official size and checksum do not match this small file.
	var out, errb bytes.Buffer
	err := runGlue([]string{"download", "diagnostic", "--data", data}, &out, &errb)
	if err == nil || !strings.Contains(errb.String(), "want 222257") {
		t.Fatalf("err = %v, stderr %q; want a size failure", err, errb.String())
	}
	out.Reset()
	errb.Reset()
	if err := runGlue([]string{"download", "AX", "--skip-checksum", "--data", data}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "AX: downloaded") || !strings.Contains(errb.String(), "AX.tsv:") {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
	if got, _ := os.ReadFile(filepath.Join(data, "diagnostic", "diagnostic.tsv")); string(got) != ax {
		t.Errorf("installed %q", got)
	}
	out.Reset()
	if err := runGlue([]string{"download", "ax", "--data", data}, &out, &bytes.Buffer{}); err != nil || !strings.Contains(out.String(), "already complete") {
		t.Errorf("second download: %v, %q", err, out.String())
	}
	var ue *usageError
	if err := runGlue([]string{"download", "snli", "--data", data}, &bytes.Buffer{}, &bytes.Buffer{}); !errors.As(err, &ue) {
		t.Errorf("unknown task: %v, want a usage error", err)
	}
}

// TestGlueProbe probes random mini weights on a small RTE fixture (with a
// train split) and checks the JSON lines, then the argument errors.
func TestGlueProbe(t *testing.T) {
	data, _ := glueFixture(t)
	var train strings.Builder
	train.WriteString("index\tsentence1\tsentence2\tlabel\n")
	for i := 0; i < 30; i++ {
		label := []string{"entailment", "not_entailment"}[i%2]
		fmt.Fprintf(&train, "%d\tThe %d cats sleep.\tSome cats are %d.\t%s\n", i, i, i%3, label)
	}
	if err := os.WriteFile(filepath.Join(data, "RTE", "train.tsv"), []byte(train.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	vocab := filepath.Join("..", "..", "..", "shared", "data", "tokenizer", "bert-base-uncased-vocab.txt")
	if _, err := os.Stat(vocab); err != nil {
		t.Skipf("no BERT vocabulary at %s", vocab)
	}
	var out, errb bytes.Buffer
	if err := runGlue([]string{"probe", "--random", vocab, "--task", "rte", "--data", data, "--json"}, &out, &errb); err != nil {
		t.Fatalf("%v (%s)", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 JSON lines, got %q", out.String())
	}
	for i, l := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatal(err)
		}
		acc, ok := obj["accuracy"].(float64)
		if obj["features"] != []string{"cls", "mean", "embeddings"}[i] || obj["task"] != "rte" || !ok || acc < 0 || acc > 1 {
			t.Errorf("line %d: %v", i, obj)
		}
	}
	for _, args := range [][]string{
		{"probe", "--task", "rte", "--data", data},                                   // neither --ckpt nor --random
		{"probe", "--task", "rte", "--ckpt", "x", "--random", vocab, "--data", data}, // both
		{"probe", "--random", vocab, "--data", data},                                 // no task
		{"probe", "--random", vocab, "--task", "rte", "--max-train", "-1", "--data", data},
	} {
		if err := runGlue(args, &out, &errb); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
