package infer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/train"
)

// trainToy pretrains a tiny model on a corpus of templated sentences in
// which the last word of "the <animal> sat on the <thing> ." is determined
// by the animal, so a model that learned anything fills it in.
func trainToy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	pairs := [][2]string{{"cat", "mat"}, {"dog", "rug"}, {"bird", "branch"}, {"fish", "rock"}}
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for doc := 0; doc < 300; doc++ {
		for s := 0; s < 4; s++ {
			p := pairs[rng.IntN(len(pairs))]
			fmt.Fprintf(&b, "the %s sat on the %s .\n", p[0], p[1])
		}
		b.WriteString("\n")
	}
	corpusPath := filepath.Join(dir, "toy.txt")
	os.WriteFile(corpusPath, []byte(b.String()), 0o644)
	cfg := fmt.Sprintf(`kind = "pretrain"
[model]
preset = "mini"
vocab_size = 61
hidden_size = 32
num_layers = 2
intermediate_size = 64
max_positions = 32
dropout = 0.0
[data]
corpus = %q
seq_len = 32
batch_size = 8
held_out = 0.02
[train]
steps = 150
lr = 3e-3
warmup_steps = 10
threads = 2
[eval]
every = 0
batches = 2
[checkpoint]
every = 0
[log]
every = 50
[run]
dir = %q
name = "toy"
`, corpusPath, filepath.Join(dir, "runs"))
	cfgPath := filepath.Join(dir, "toy.toml")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	runDir, err := train.Pretrain(context.Background(), train.Options{ConfigPath: cfgPath})
	if err != nil {
		t.Fatal(err)
	}
	return runDir
}

func TestFillMaskLearnsTheToyCorpus(t *testing.T) {
	p, err := Load(trainToy(t), train.Inference{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Describe(), "step 150") {
		t.Errorf("Describe() = %q", p.Describe())
	}
	res, err := p.FillMask("the dog sat on the [MASK] .", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || len(res[0].Candidates) != 3 {
		t.Fatalf("results %+v", res)
	}
	if got := res[0].Candidates[0].Token; got != "rug" {
		t.Errorf("the dog sat on the [MASK]: top answer %q (%+v), want rug", got, res[0].Candidates)
	}
	// two masks, probabilities sorted and proper
	res, err = p.FillMask("the [MASK] sat on the [MASK] .", 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Position >= res[1].Position {
		t.Fatalf("two masks: %+v", res)
	}
	for _, r := range res {
		sum := 0.0
		for i, c := range r.Candidates {
			sum += c.Prob
			if i > 0 && c.Prob > r.Candidates[i-1].Prob {
				t.Errorf("candidates not sorted: %+v", r.Candidates)
			}
			if c.Token == "" || strings.HasPrefix(c.Token, "[") || strings.HasPrefix(c.Token, "<") {
				t.Errorf("special or empty token offered: %+v", c)
			}
		}
		if sum <= 0 || sum > 1+1e-9 {
			t.Errorf("probabilities sum to %v", sum)
		}
	}
	animals := map[string]bool{"cat": true, "dog": true, "bird": true, "fish": true}
	if !animals[res[0].Candidates[0].Token] {
		t.Errorf("first mask's top answer %q is not an animal", res[0].Candidates[0].Token)
	}
}

func TestQueryErrors(t *testing.T) {
	p, err := Load(trainToy(t), train.Inference{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.FillMask("no mask here", 5); err == nil || !strings.Contains(err.Error(), "[MASK]") {
		t.Errorf("no mask: %v", err)
	}
	if _, err := p.FillMask("the [MASK]", 0); err == nil {
		t.Error("k = 0 accepted")
	}
	long := strings.Repeat("the cat sat on the mat . ", 20) + "[MASK]"
	if _, err := p.FillMask(long, 5); err == nil || !strings.Contains(err.Error(), "at most 32") {
		t.Errorf("too long: %v", err)
	}
	// the stray word-boundary piece before [MASK] is dropped
	ids, masks, err := p.Encode("the [MASK] sat")
	if err != nil {
		t.Fatal(err)
	}
	if p.tok.Piece(ids[masks[0]-1]) == "▁" {
		t.Errorf("lone ▁ kept before [MASK]: %v", ids)
	}
	if _, err := Load(t.TempDir(), train.Inference{}); err == nil {
		t.Error("loading an empty directory succeeded")
	}
}
