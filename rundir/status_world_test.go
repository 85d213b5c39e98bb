package rundir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusWorldSize: a data-parallel run's status.json carries
// "world_size": N (the dashboard's rank count), one process's has no such
// key, and both read back as written.
func TestStatusWorldSize(t *testing.T) {
	for _, n := range []int{0, 4} {
		dir := t.TempDir()
		if err := WriteStatus(dir, Status{State: StateRunning, Kind: "pretrain", Step: 3, WorldSize: n}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, StatusFile))
		if err != nil {
			t.Fatal(err)
		}
		has := strings.Contains(string(b), `"world_size":4`) || strings.Contains(string(b), `"world_size": 4`)
		if n == 4 && !has || n == 0 && strings.Contains(string(b), "world_size") {
			t.Fatalf("world size %d: %s", n, b)
		}
		st, err := ReadStatus(dir)
		if err != nil || st.WorldSize != n || st.Step != 3 {
			t.Fatalf("world size %d read back: %+v, %v", n, st, err)
		}
	}
}
