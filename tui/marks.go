package tui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fnet-tui/fnet-tui/atomicfile"
)

// stateDir is the dashboard's own folder in the runs folder: hidden, so
// the run scanner skips it, and outside every run folder (the dashboard
// never writes inside a run).
const stateDir = ".dashboard"

// marksFile keeps the runs marked for overlays across restarts.
const marksFile = "marks.json"

type marksState struct {
	Marks []string `json:"marks"` // run IDs in marking order
}

// readMarks is the saved marks of a runs folder (none when never saved).
func readMarks(runsDir string) ([]string, error) {
	path := filepath.Join(runsDir, stateDir, marksFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st marksState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w (marks start empty; the next mark rewrites it)", path, err)
	}
	return st.Marks, nil
}

// writeMarks saves the marks atomically.
func writeMarks(runsDir string, marks []string) error {
	dir := filepath.Join(runsDir, stateDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(marksState{Marks: append([]string{}, marks...)}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, marksFile), append(b, '\n'), 0o644)
}
