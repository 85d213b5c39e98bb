package train

import (
	"os"
	"path/filepath"

	"github.com/fnet-tui/fnet-tui/hf"
)

// loadHFFolder reads path as a Hugging Face transformers folder (a
// config.json beside model.safetensors, as save_pretrained writes it, or a
// file in such a folder), so every --ckpt and finetune.from takes one. ok
// is false when path is not one, and LoadCheckpoint goes on with its own
// layout. A PyTorch pickle is refused by name, folder or not.
func loadHFFolder(path string) (ck *Checkpoint, ok bool, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, false, nil
	}
	dir := path
	if !st.IsDir() {
		if hf.IsPickle(path) {
			return nil, true, hf.PickleError(path, "")
		}
		dir = filepath.Dir(path)
	}
	if !hf.IsFolder(dir) {
		if _, err := os.Stat(filepath.Join(dir, hf.ModelFile)); err != nil {
			if _, err := os.Stat(filepath.Join(dir, hf.PickleFile)); err == nil {
				return nil, true, hf.PickleError(filepath.Join(dir, hf.PickleFile), "")
			}
		}
		return nil, false, nil
	}
	l, err := hf.Load(dir)
	if err != nil {
		return nil, true, err
	}
	return &Checkpoint{Dir: dir, Model: l.Model, Tokenizer: l.Tokenizer}, true, nil
}
