package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplacesWholeAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "status.json")
	for _, content := range []string{"first", strings.Repeat("second ", 10000)} {
		if err := Write(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Fatalf("read back %d bytes, want %d (%v)", len(b), len(content), err)
		}
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d entries left in the folder, want only the file", len(ents))
	}
}

// A write that cannot happen leaves the old file as it was.
func TestFailedWriteKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keep.txt")
	if err := Write(p, []byte("good"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(dir, "missing", "x.txt"), []byte("x"), 0o644); err == nil {
		t.Error("a write into a missing folder succeeded")
	}
	if b, _ := os.ReadFile(p); string(b) != "good" {
		t.Errorf("the old file became %q", b)
	}
}
