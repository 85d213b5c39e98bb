package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fnet-tui/fnet-tui/train"
)

var fixtureRoot string

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureRoot != "" {
		os.RemoveAll(fixtureRoot)
	}
	os.Exit(code)
}

// tinyFixture is a 2-step pretraining run and an RTE finetuning run from it
// on a small RTE fixture (train, dev and a 6-example test split), trained
// once per test binary.
type tinyFixture struct {
	glueDir, runs, pretrain, finetune string
}

var tiny struct {
	once sync.Once
	fx   tinyFixture
	err  error
}

func tinyRuns(t *testing.T) tinyFixture {
	t.Helper()
	tiny.once.Do(func() { tiny.fx, tiny.err = buildTiny() })
	if tiny.err != nil {
		t.Fatal(tiny.err)
	}
	return tiny.fx
}

func buildTiny() (tinyFixture, error) {
	root, err := os.MkdirTemp("", "fnet-cmd-fixture-")
	if err != nil {
		return tinyFixture{}, err
	}
	fixtureRoot = root
	fx := tinyFixture{glueDir: filepath.Join(root, "glue"), runs: filepath.Join(root, "runs")}
	write := func(path, text string) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, []byte(text), 0o644)
	}
	var corpus strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&corpus, "the %s sat on the %s .\n", []string{"cat", "dog", "bird"}[i%3], []string{"mat", "rug", "log", "box"}[i%4])
		if i%4 == 3 {
			corpus.WriteString("\n")
		}
	}
	rows := func(n int, labelled bool) string {
		var b strings.Builder
		b.WriteString("index\tsentence1\tsentence2")
		if labelled {
			b.WriteString("\tlabel")
		}
		b.WriteString("\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "%d\tthe cat sat on the %d mat .\tthe cat sat .", i, i)
			if labelled {
				b.WriteString("\t" + []string{"entailment", "not_entailment"}[i%2])
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	for path, text := range map[string]string{
		filepath.Join(root, "corpus.txt"):          corpus.String(),
		filepath.Join(fx.glueDir, "RTE/train.tsv"): rows(16, true),
		filepath.Join(fx.glueDir, "RTE/dev.tsv"):   rows(4, true),
		filepath.Join(fx.glueDir, "RTE/test.tsv"):  rows(6, false),
		filepath.Join(root, "pre.toml"): `kind = "pretrain"
[model]
preset = "mini"
vocab_size = 48
hidden_size = 16
num_layers = 1
intermediate_size = 32
max_positions = 32
[data]
corpus = "` + filepath.Join(root, "corpus.txt") + `"
seq_len = 32
batch_size = 4
held_out = 0.05
[train]
steps = 2
threads = 2
[eval]
every = 0
[checkpoint]
every = 0
[log]
every = 1
[run]
dir = "` + fx.runs + `"
`,
		filepath.Join(root, "rte.toml"): `kind = "finetune"
[finetune]
task = "rte"
glue_dir = "` + fx.glueDir + `"
eval_batch = 4
epochs = 1
[data]
seq_len = 32
batch_size = 8
[train]
threads = 2
[log]
every = 1
[run]
dir = "` + fx.runs + `"
`,
	} {
		if err := write(path, text); err != nil {
			return fx, err
		}
	}
	ctx := context.Background()
	if fx.pretrain, err = train.Pretrain(ctx, train.Options{ConfigPath: filepath.Join(root, "pre.toml"), RunName: "pre"}); err != nil {
		return fx, fmt.Errorf("pretrain: %w", err)
	}
	if fx.finetune, err = train.Finetune(ctx, train.Options{ConfigPath: filepath.Join(root, "rte.toml"), RunName: "ft-rte"}, fx.pretrain); err != nil {
		return fx, fmt.Errorf("finetune: %w", err)
	}
	return fx, nil
}
