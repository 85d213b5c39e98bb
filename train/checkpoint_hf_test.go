package train

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/hf"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// TestLoadCheckpointReadsTransformersFolders: an exported folder, or a
// file in it, loads through LoadCheckpoint (so as --ckpt and
// finetune.from) with its weights and tokenizer; a pickle is refused by
// name, in a folder or given directly, with the conversion command.
func TestLoadCheckpointReadsTransformersFolders(t *testing.T) {
	words := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat"}
	wp, err := tokenizer.NewWordPiece([]byte(strings.Join(words, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fnet.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.NumLayers, cfg.IntermediateSize, cfg.MaxPositions, cfg.SeqLen, cfg.PadTokenID = 10, 8, 1, 16, 16, 12, 0
	params := fnet.InitParams(cfg, fnet.PretrainingHeads, 2)
	dir := filepath.Join(t.TempDir(), "fnet-hf")
	if _, err := hf.Export(dir, hf.Source{Model: &fnet.LoadedModel{Config: cfg, Heads: fnet.PretrainingHeads, Params: params}, Tokenizer: wp}, hf.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, hf.ModelFile), filepath.Join(dir, hf.ConfigFile)} {
		ck, err := LoadCheckpoint(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if ck.Dir != dir || ck.Model.Config != cfg || ck.Model.Heads != fnet.PretrainingHeads || ck.Tokenizer == nil || ck.Tokenizer.VocabSize() != 10 {
			t.Fatalf("%s: loaded %+v", p, ck)
		}
		for n, v := range params {
			if !slices.Equal(ck.Model.Params[n], v) {
				t.Errorf("%s: %s differs", p, n)
			}
		}
	}
	os.Remove(filepath.Join(dir, hf.ModelFile))
	bin := filepath.Join(dir, hf.PickleFile)
	os.WriteFile(bin, []byte("\x80\x04"), 0o644)
	for _, p := range []string{dir, bin} {
		_, err := LoadCheckpoint(p)
		if err == nil || !strings.Contains(err.Error(), bin) || !strings.Contains(err.Error(), "safe_serialization=True") {
			t.Errorf("%s: %v, want the pickle refused with the conversion command", p, err)
		}
	}
	os.Remove(filepath.Join(dir, hf.ConfigFile)) // a bare pickle folder
	if _, err := LoadCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "never loads") {
		t.Errorf("bare pickle folder: %v", err)
	}
}
