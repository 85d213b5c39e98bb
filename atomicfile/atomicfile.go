// Package atomicfile writes a file so that readers see the old content or
// the new, never a mix: a temporary file beside it, synced, renamed over it,
// and the directory synced so the rename survives a crash. Every package
// that writes a file another process may read at any moment (run status,
// checkpoints' trainer.json, tokenizer caches, GLUE submissions, the CUDA
// kernel cache) writes through it.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data (mode perm). On any error the old file is
// left as it was and the temporary file is removed.
func Write(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, perm); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	// the rename is durable only once the directory entry is on disk
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// SyncDir flushes a directory's entries to disk, so that a rename or a
// new file in it survives a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
