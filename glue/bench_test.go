package glue

import (
	"math/rand"
	"testing"
)

func BenchmarkLoadSST2Train(b *testing.B) {
	dir, err := RepoDataDir()
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := Load(dir, "sst2", "train"); err != nil {
			b.Skip(err)
		}
	}
}

// One training step's batch at the official shape (64 × 512).
func BenchmarkBatch64x512(b *testing.B) {
	tok := newWS()
	rng := rand.New(rand.NewSource(1))
	words := []string{"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"}
	ex := make([]Example, 4096)
	for i := range ex {
		var a, c []byte
		for j := 0; j < 20+rng.Intn(100); j++ {
			a = append(append(a, words[rng.Intn(len(words))]...), ' ')
		}
		for j := 0; j < 20+rng.Intn(100); j++ {
			c = append(append(c, words[rng.Intn(len(words))]...), ' ')
		}
		ex[i] = Example{Index: i, TextA: string(a), TextB: string(c), Label: rng.Intn(3)}
	}
	enc, err := Tokenize(tok, mustTaskB(b, "mnli"), ex, 512)
	if err != nil {
		b.Fatal(err)
	}
	idx := rng.Perm(len(ex))[:64]
	for b.Loop() {
		enc.Batch(idx)
	}
}

func BenchmarkSpearman40k(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	x, y := make([]float64, 40000), make([]float64, 40000)
	for i := range x {
		x[i] = float64(rng.Intn(26)) / 5 // many ties, as STS-B gold scores
		y[i] = rng.Float64() * 5
	}
	for b.Loop() {
		Spearman(x, y)
	}
}

func mustTaskB(b *testing.B, name string) Task {
	t, err := Lookup(name)
	if err != nil {
		b.Fatal(err)
	}
	return t
}
