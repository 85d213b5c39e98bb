package glue

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedGlueDir is ../shared/data/glue beside the repository; tests that
// read the real GLUE files skip when it is absent.
func sharedGlueDir(t *testing.T) string {
	t.Helper()
	dir, err := RepoDataDir()
	if err != nil {
		t.Skipf("shared GLUE data not found: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "CoLA", "dev.tsv")); err != nil {
		t.Skipf("shared GLUE data not found at %s (expected ../shared/data/glue beside the repository)", dir)
	}
	return dir
}

// writeFiles creates files (relative path -> content) under a new temp dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
