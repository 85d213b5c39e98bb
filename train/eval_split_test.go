package train

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/pretrain"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// TestEvaluateCorpusHonoursTheSplit: `fnet-tui eval --split` evaluates the
// split asked for: the training and held-out passes together are the
// whole corpus's, and each differs from the others (it used to evaluate the
// held-out split whatever was asked, labelled with the split asked for).
func TestEvaluateCorpusHonoursTheSplit(t *testing.T) {
	dir := t.TempDir()
	pre, err := Pretrain(context.Background(), Options{ConfigPath: tinyConfig(t, dir, ""), RunName: "pre", Overrides: []string{"train.steps=1", "eval.every=0"}})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := LoadCheckpoint(filepath.Join(pre, rundir.CheckpointsDir, rundir.LatestLink))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := Inference{}.Engine(ck.Model.Config, fnet.PretrainingHeads, ck.Model.Params)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	c, err := corpus.Open(testCorpus(t))
	if err != nil {
		t.Fatal(err)
	}
	if c, err = c.WithHeldOut(0.3); err != nil {
		t.Fatal(err)
	}
	opt := pretrain.Options{SeqLen: ck.Model.Config.SeqLen, BatchSize: 8, Seed: 1}
	n := map[corpus.Split]int{}
	for _, sp := range []corpus.Split{corpus.All, corpus.Train, corpus.HeldOut} {
		st, err := EvaluateCorpus(context.Background(), eng, c.Split(sp), ck.Tokenizer, opt, 0)
		if err != nil {
			t.Fatalf("%v: %v", sp, err)
		}
		n[sp] = st.Examples
	}
	if n[corpus.Train]+n[corpus.HeldOut] != n[corpus.All] || n[corpus.Train] == 0 || n[corpus.HeldOut] == 0 || n[corpus.Train] == n[corpus.HeldOut] {
		t.Errorf("examples: all %d, train %d, held-out %d", n[corpus.All], n[corpus.Train], n[corpus.HeldOut])
	}
}
