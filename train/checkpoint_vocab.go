package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fnet-tui/fnet-tui/atomicfile"
	"github.com/fnet-tui/fnet-tui/lra"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// LRAVocabFile names the fixed vocabulary of a Long Range Arena model in
// its checkpoint. The vocabularies are code, not data (lra.ListOpsVocab,
// lra.ByteVocab), so the file holds only the vocabulary's kind; a
// checkpoint stays self-describing for predict, eval and resume.
const LRAVocabFile = "vocab.lra"

// tokenizerFiles are the tokenizer files a checkpoint may hold, in the
// order LoadCheckpoint looks for them.
var tokenizerFiles = []string{SPTokenizerFile, WordPieceVocabFile, LRAVocabFile}

// writeCheckpointTokenizer writes tok into the checkpoint folder dir.
func writeCheckpointTokenizer(dir string, tok tokenizer.Tokenizer) error {
	if v, ok := tok.(lra.Vocab); ok {
		return atomicfile.Write(filepath.Join(dir, LRAVocabFile), []byte(v.Kind()+"\n"), 0o644)
	}
	return tokenizer.WriteFile(tok, filepath.Join(dir, tokenizerFileName(tok)))
}

// loadCheckpointTokenizer reads the tokenizer file at path (one of
// tokenizerFiles).
func loadCheckpointTokenizer(path string) (tokenizer.Tokenizer, error) {
	if filepath.Base(path) != LRAVocabFile {
		return tokenizer.Load(path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	kind := strings.TrimSpace(string(b))
	v, err := lra.VocabByKind(kind)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
