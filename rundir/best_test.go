package rundir

import (
	"os"
	"path/filepath"
	"testing"
)

// A finetune's best checkpoint: the best link marks its folder in
// Checkpoints, and BestCheckpoint reads its dev score from trainer.json;
// no link, a dangling one, or a trainer.json without a score is no best.
func TestBestCheckpoint(t *testing.T) {
	run := t.TempDir()
	ck := filepath.Join(run, CheckpointsDir)
	for _, s := range []string{"step-000000020", "step-000000040"} {
		if err := os.MkdirAll(filepath.Join(ck, s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := BestCheckpoint(run); ok {
		t.Fatal("a best without a link")
	}
	os.Symlink("step-000000020", filepath.Join(ck, BestLink))
	if _, ok := BestCheckpoint(run); ok {
		t.Fatal("a best without a trainer.json")
	}
	os.WriteFile(filepath.Join(ck, "step-000000020", TrainerFile), []byte(`{"step":20}`), 0o644)
	if _, ok := BestCheckpoint(run); ok {
		t.Fatal("a best without a score (pretraining trainer.json)")
	}
	os.WriteFile(filepath.Join(ck, "step-000000020", TrainerFile), []byte(`{"step":20,"metric":"mcc","score":0.41}`), 0o644)
	b, ok := BestCheckpoint(run)
	if !ok || b.Step != 20 || b.Metric != "mcc" || b.Score != 0.41 || filepath.Base(b.Dir) != "step-000000020" {
		t.Fatalf("best %+v ok %v", b, ok)
	}
	cks, err := Checkpoints(run)
	if err != nil || len(cks) != 2 || !cks[0].Best || cks[1].Best {
		t.Fatalf("checkpoints %+v %v: the first should be marked best", cks, err)
	}
	os.RemoveAll(filepath.Join(ck, "step-000000020"))
	if _, ok := BestCheckpoint(run); ok {
		t.Error("a dangling best link")
	}
}
