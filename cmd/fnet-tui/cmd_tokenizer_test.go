package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/tokenizer"
)

func TestTokenizerTrainEncodeDecode(t *testing.T) {
	dir := t.TempDir()
	corpusDir := filepath.Join(dir, "corpus")
	if err := os.Mkdir(corpusDir, 0o755); err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("The cat sat on the mat.\nThe dog sat on the log.\n\nA bird sang in the tree.\n\n", 20)
	if err := os.WriteFile(filepath.Join(corpusDir, "a.txt"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "tok.model")
	if err := runTokenizer([]string{"train", "--corpus", corpusDir, "--vocab-size", "50", "-o", model}); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 50 || tok.Special() != tokenizer.TrainedSpecial {
		t.Fatalf("trained %d pieces, specials %+v", tok.VocabSize(), tok.Special())
	}

	var out bytes.Buffer
	in := "The [MASK] sat on the mat.\n\nThe dog sat.\r\n"
	if err := encodeLines(tok, strings.NewReader(in), &out, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 || lines[1] != "" {
		t.Fatalf("encode gave %d lines %q, want 3 with an empty middle one", len(lines), lines)
	}
	if !strings.Contains(" "+lines[0]+" ", " 6 ") {
		t.Fatalf("[MASK] not id 6 in %q", lines[0])
	}

	var text2 bytes.Buffer
	if err := decodeLines(tok, strings.NewReader(out.String()), &text2); err != nil {
		t.Fatal(err)
	}
	if want := "The [MASK] sat on the mat.\n\nThe dog sat.\n"; text2.String() != want {
		t.Fatalf("decode = %q, want %q", text2.String(), want)
	}
	err = decodeLines(tok, strings.NewReader("1 2\n3 x\n"), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "stdin line 2") {
		t.Fatalf("bad id error %v", err)
	}

	var pieces bytes.Buffer
	if err := encodeLines(tok, strings.NewReader("the mat\n"), &pieces, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pieces.String(), "▁the") {
		t.Fatalf("pieces output %q", pieces.String())
	}
}

func TestTokenizerUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"train", "--vocab-size", "100", "-o", "x"},
		{"train", "--corpus", "c", "-o", "x"},
		{"train", "--corpus", "c", "--vocab-size", "100"},
		{"train", "--corpus", "c", "--vocab-size", "100", "-o", "x", "--max-sentences", "-1"},
		{"encode"},
		{"encode", "--model", "m", "extra"},
		{"decode", "--nope"},
	} {
		var ue *usageError
		if err := runTokenizer(args); !errors.As(err, &ue) {
			t.Errorf("%q: error %v, want a usage error", args, err)
		}
	}
	err := runTokenizer([]string{"encode", "--model", filepath.Join(t.TempDir(), "none.model")})
	var ue *usageError
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "none.model") {
		t.Errorf("missing model: %v", err)
	}
}
