package tokenizer

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// sharedData finds ../shared/data beside the repository root (or $FNET_DATA)
// and skips the test when it is really absent.
func sharedData(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("FNET_DATA"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	d := filepath.Join(filepath.Dir(file), "..", "..", "shared", "data")
	if _, err := os.Stat(d); err != nil {
		t.Skipf("shared data not found at %s (set FNET_DATA): %v", d, err)
	}
	return d
}

func bertVocabPath(t testing.TB) string {
	return filepath.Join(sharedData(t), "tokenizer", "bert-base-uncased-vocab.txt")
}

func gutenbergPath(t testing.TB, name string) string {
	return filepath.Join(sharedData(t), "corpus", "gutenberg", name)
}

// readSentences returns up to n non-blank lines of a corpus file (0 = all).
func readSentences(t testing.TB, path string, n int) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
			if n > 0 && len(out) == n {
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// seqOf adapts a slice to the trainer's iterator type.
func seqOf(lines []string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, l := range lines {
			if !yield(l) {
				return
			}
		}
	}
}
