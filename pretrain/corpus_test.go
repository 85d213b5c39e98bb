package pretrain

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/corpus"
)

// synthCorpus is a generated corpus on disk whose every sentence starts with
// a unique marker word "s<N>", so a test can trace any example back to the
// document lines it came from.
type synthCorpus struct {
	dir       string
	sentences []string // by marker number
	doc       []int    // marker -> generated document number
	line      []int    // marker -> line number within that document
	tok       *wordTokenizer
}

// writeSynthCorpus writes plain, gzipped and JSON Lines files with docs
// documents in total. Sentence lengths vary from 2 to 12 words with an
// occasional 40-word line, which never fits a 32-token sequence; some
// documents have a single line and make no example.
func writeSynthCorpus(t testing.TB, seed uint64, docs int) *synthCorpus {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	sc := &synthCorpus{dir: t.TempDir()}
	type file struct {
		name  string
		jsonl bool
		docs  [][]string
	}
	files := []*file{{name: "a.txt"}, {name: "b.jsonl", jsonl: true}, {name: "sub/c.txt.gz"}, {name: "d.jsonl.gz", jsonl: true}}
	for d := range docs {
		f := files[d%len(files)]
		nLines := 1 + rng.IntN(12)
		if rng.IntN(8) == 0 {
			nLines = 1
		}
		var lines []string
		for l := range nLines {
			n := len(sc.sentences)
			words := []string{"s" + strconv.Itoa(n)}
			length := 1 + rng.IntN(11)
			if rng.IntN(15) == 0 {
				length = 40
			}
			for range length {
				words = append(words, fmt.Sprintf("w%03d", rng.IntN(300)))
			}
			s := strings.Join(words, " ")
			sc.sentences = append(sc.sentences, s)
			sc.doc = append(sc.doc, d)
			sc.line = append(sc.line, l)
			lines = append(lines, s)
		}
		f.docs = append(f.docs, lines)
	}
	for _, f := range files {
		var sb strings.Builder
		for i, lines := range f.docs {
			if f.jsonl {
				b, _ := json.Marshal(map[string]any{"text": strings.Join(lines, "\n"), "url": "x"})
				sb.Write(b)
				sb.WriteString("\n")
				continue
			}
			if i > 0 {
				sb.WriteString("\n")
			}
			sb.WriteString(strings.Join(lines, "\n") + "\n")
		}
		path := filepath.Join(sc.dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(sb.String())
		if strings.HasSuffix(path, ".gz") {
			var gz strings.Builder
			zw := gzip.NewWriter(&gz)
			zw.Write(data)
			zw.Close()
			data = []byte(gz.String())
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sc.tok = newWordTokenizer(strings.Join(sc.sentences, "\n"))
	return sc
}

func (sc *synthCorpus) open(t testing.TB, heldOut float64) *corpus.Corpus {
	t.Helper()
	c, err := corpus.Open(sc.dir)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = c.WithHeldOut(heldOut); err != nil {
		t.Fatal(err)
	}
	return c
}

// marker returns the marker number of a token, or -1.
func (sc *synthCorpus) marker(id int) int {
	p := sc.tok.Piece(id)
	if !strings.HasPrefix(p, "s") {
		return -1
	}
	n, err := strconv.Atoi(p[1:])
	if err != nil {
		return -1
	}
	return n
}

// documents returns the generated documents' sentences by document number.
func (sc *synthCorpus) documents() [][]string {
	var docs [][]string
	for m, s := range sc.sentences {
		if sc.doc[m] == len(docs) {
			docs = append(docs, nil)
		}
		docs[sc.doc[m]] = append(docs[sc.doc[m]], s)
	}
	return docs
}
