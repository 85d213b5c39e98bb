package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// TestOwnerLockRefusesASecondTrainer: while one trainer holds a run's owner
// lock, another is refused with the owner's pid and host; two resumes
// started together: exactly one trains.
func TestOwnerLockRefusesASecondTrainer(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	part, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "r", StopAfter: 4})
	if !errors.Is(err, ErrStopped) {
		t.Fatal(err)
	}
	held, err := lockRun(part)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Pretrain(context.Background(), Options{Resume: part})
	host, _ := os.Hostname()
	if !errors.Is(err, ErrLiveRun) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d on %s", os.Getpid(), host)) {
		t.Errorf("resume while the lock is held: %v", err)
	}
	held.Close()

	// Two trainers opening the run at once (the check-then-write race of the
	// status file): exactly one owns it. OpenRun is where a resume takes
	// ownership; a whole Pretrain per goroutine would race on the process's
	// thread settings, which one trainer per process never shares.
	var wg sync.WaitGroup
	runs := make([]*Run, 8)
	errs := make([]error, len(runs))
	for i := range runs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			runs[i], errs[i] = OpenRun(part, rundir.Status{State: rundir.StateStarting, PID: os.Getpid(), Host: host}, nil, true)
		}(i)
	}
	wg.Wait()
	owners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			owners++
			defer runs[i].Close()
		case !errors.Is(err, ErrLiveRun):
			t.Errorf("concurrent open: %v", err)
		}
	}
	if owners != 1 {
		t.Fatalf("%d of %d concurrent opens own the run: %v", owners, len(runs), errs)
	}
}

// TestCheckpointHygiene: a dangling latest (a writer killed mid-save) falls
// back to the newest complete checkpoint and says so; the temporary and
// displaced folders of dead writers are removed when the run is reopened; a
// re-save of the same step never renames the checkpoint latest points at.
func TestCheckpointHygiene(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	part, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "h", StopAfter: 8})
	if !errors.Is(err, ErrStopped) {
		t.Fatal(err)
	}
	ckDir := filepath.Join(part, rundir.CheckpointsDir)
	// what a killed writer leaves: latest at a folder that is gone, a
	// temporary folder and a displaced one
	os.Remove(filepath.Join(ckDir, rundir.LatestLink))
	os.Symlink(StepDirName(12), filepath.Join(ckDir, rundir.LatestLink))
	os.MkdirAll(filepath.Join(ckDir, ".tmp-"+StepDirName(12)+"-4242", "x"), 0o755)
	os.MkdirAll(filepath.Join(ckDir, StepDirName(4)+".old-4242"), 0o755)
	// an incomplete newer folder must be passed over too
	os.MkdirAll(filepath.Join(ckDir, StepDirName(10)), 0o755)

	ck, err := LoadCheckpoint(part)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Trainer == nil || ck.Trainer.Step != 8 || !strings.Contains(ck.Note, "does not exist") || !strings.Contains(ck.Note, StepDirName(8)) {
		t.Fatalf("fallback: step %v, note %q", ck.Trainer, ck.Note)
	}
	var out strings.Builder
	if _, err := Pretrain(context.Background(), Options{Resume: part, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "using the newest complete checkpoint") {
		t.Errorf("the resume did not say it fell back:\n%s", out.String())
	}
	log, _ := os.ReadFile(filepath.Join(part, rundir.LogFile))
	if !strings.Contains(string(log), "removed 2 unfinished checkpoint folders") {
		t.Errorf("train.log does not report the dead writers' folders:\n%s", log)
	}
	ents, _ := os.ReadDir(ckDir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") || strings.Contains(e.Name(), ".old-") {
			t.Errorf("%s left behind", e.Name())
		}
	}
	if st, _ := rundir.ReadStatus(part); st.State != rundir.StateDone || st.Step != 12 {
		t.Errorf("status after the resume %+v", st)
	}

	// re-saving the step latest points at: a new folder, latest moves, the old goes
	ck, err = LoadCheckpoint(part)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := Inference{}.Engine(ck.Model.Config, ck.Model.Heads, ck.Model.Params)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	path, err := SaveCheckpoint(part, eng, ck.Tokenizer, *ck.Trainer)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) == StepDirName(12) || !strings.HasPrefix(filepath.Base(path), StepDirName(12)+"-r") {
		t.Errorf("the re-save went to %s", path)
	}
	if target, _ := os.Readlink(filepath.Join(ckDir, rundir.LatestLink)); target != filepath.Base(path) {
		t.Errorf("latest -> %s, want %s", target, filepath.Base(path))
	}
	if _, err := os.Stat(filepath.Join(ckDir, StepDirName(12))); !os.IsNotExist(err) {
		t.Errorf("the superseded %s is still there (%v)", StepDirName(12), err)
	}
	if again, err := LoadCheckpoint(part); err != nil || again.Trainer.Step != 12 || again.Note != "" {
		t.Errorf("after the re-save: %v, %+v", err, again)
	}
}

// TestRunWithoutACheckpoint: a run killed before its first checkpoint
// cannot be resumed (the error says to start it again) and starts again
// cleanly; one that has a checkpoint needs --resume.
func TestRunWithoutACheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	runDir := filepath.Join(dir, "runs", "early")
	os.MkdirAll(filepath.Join(runDir, rundir.CheckpointsDir), 0o755)
	host, _ := os.Hostname()
	rundir.WriteStatus(runDir, rundir.Status{State: rundir.StateRunning, PID: 1 << 30, Host: host})
	os.WriteFile(filepath.Join(runDir, rundir.MetricsFile), []byte(`{"t":"2026-01-01T00:00:00Z","step":1,"split":"train","loss":9}`+"\n"), 0o644)
	if _, err := Pretrain(context.Background(), Options{Resume: runDir}); err == nil || !strings.Contains(err.Error(), "start it again without --resume") {
		t.Errorf("resume without a checkpoint: %v", err)
	}
	if _, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "early", Overrides: []string{"train.steps=4"}}); err != nil {
		t.Fatalf("starting again: %v", err)
	}
	if m := metricsBySplit(t, runDir, "train"); len(m) != 4 || m[1]["loss"] == 9 {
		t.Errorf("the restarted run's metrics: %v (the old run's lines must go)", m)
	}
	if _, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "early"}); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("a run with a checkpoint started again without --resume: %v", err)
	}
}

// TestTornMetricsLineIsDropped: a metrics.jsonl that ends mid-line (a kill
// or a full disk mid-write) is cut back to its last whole line on resume,
// so the next line is not glued onto the fragment, and the log says so.
func TestTornMetricsLineIsDropped(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	part, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "torn", StopAfter: 4})
	if !errors.Is(err, ErrStopped) {
		t.Fatal(err)
	}
	mf := filepath.Join(part, rundir.MetricsFile)
	f, _ := os.OpenFile(mf, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"t":"2026-12-02T00:00:00Z","step":5,"split":"tra`)
	f.Close()
	if _, err := Pretrain(context.Background(), Options{Resume: part}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(mf)
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") || strings.Count(line, `"t":`) != 1 {
			t.Fatalf("line %d of metrics.jsonl is not one whole record: %q", i+1, line)
		}
	}
	log, _ := os.ReadFile(filepath.Join(part, rundir.LogFile))
	if !strings.Contains(string(log), "torn line") {
		t.Error("train.log does not say the torn line was dropped")
	}
}

// TestRepairTornLine: the cut is at the last newline, whatever the
// fragment's length (across the read-back buffer), and a whole file is
// left alone.
func TestRepairTornLine(t *testing.T) {
	for _, tc := range []struct {
		text, want string
	}{
		{"a\nb\n", "a\nb\n"}, {"a\nb\nfrag", "a\nb\n"}, {"frag", ""}, {"", ""},
		{"a\n" + strings.Repeat("x", 10000), "a\n"}, {strings.Repeat("y\n", 3000) + "z", strings.Repeat("y\n", 3000)},
	} {
		p := filepath.Join(t.TempDir(), "m.jsonl")
		os.WriteFile(p, []byte(tc.text), 0o644)
		n, err := repairTornLine(p)
		b, _ := os.ReadFile(p)
		if err != nil || string(b) != tc.want || n != int64(len(tc.text)-len(tc.want)) {
			t.Errorf("%d bytes: kept %d (want %d), dropped %d, %v", len(tc.text), len(b), len(tc.want), n, err)
		}
	}
}

// TestTrainerStateIsChecked: a trainer.json that disagrees with its folder
// or holds a negative step is refused by --resume, naming the file, before
// the run is reopened (its status stays as it was).
func TestTrainerStateIsChecked(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	part, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "ts", StopAfter: 4})
	if !errors.Is(err, ErrStopped) {
		t.Fatal(err)
	}
	ck := filepath.Join(part, rundir.CheckpointsDir, StepDirName(4))
	orig, _ := os.ReadFile(filepath.Join(ck, TrainerFile))
	for _, edit := range []struct{ from, to, want string }{
		{`"step": 4`, `"step": 2`, "says step 2, but it is in step-000000004"},
		{`"step": 4`, `"step": -7`, "none may be negative"},
	} {
		os.WriteFile(filepath.Join(ck, TrainerFile), []byte(strings.Replace(string(orig), edit.from, edit.to, 1)), 0o644)
		_, err := Pretrain(context.Background(), Options{Resume: part})
		if err == nil || !strings.Contains(err.Error(), edit.want) || !strings.Contains(err.Error(), TrainerFile) {
			t.Errorf("%s: %v", edit.to, err)
		}
		if st, _ := rundir.ReadStatus(part); st.State != rundir.StateStopped {
			t.Errorf("%s: the refused resume changed the status to %s", edit.to, st.State)
		}
	}
	os.WriteFile(filepath.Join(ck, TrainerFile), orig, 0o644)
	// a truncated optimizer file is found before the run is reopened
	opt := filepath.Join(ck, "optimizer.safetensors")
	b, _ := os.ReadFile(opt)
	os.WriteFile(opt, b[:len(b)/2], 0o644)
	if _, err := Pretrain(context.Background(), Options{Resume: part}); err == nil || !strings.Contains(err.Error(), opt) {
		t.Errorf("truncated optimizer: %v", err)
	}
	if st, _ := rundir.ReadStatus(part); st.State != rundir.StateStopped {
		t.Errorf("the refused resume changed the status to %s", st.State)
	}
}

// TestFullDiskStopsTheRun: when metrics cannot be written (ENOSPC, here
// from /dev/full), the run stops at once with the reason in its status
// instead of training on without its metrics.
func TestFullDiskStopsTheRun(t *testing.T) {
	if fi, err := os.Stat("/dev/full"); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Skip("no /dev/full device on this system")
	}
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	part, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "full", StopAfter: 2})
	if !errors.Is(err, ErrStopped) {
		t.Fatal(err)
	}
	mf := filepath.Join(part, rundir.MetricsFile)
	os.Remove(mf)
	if err := os.Symlink("/dev/full", mf); err != nil {
		t.Fatal(err)
	}
	_, err = Pretrain(context.Background(), Options{Resume: part})
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), rundir.MetricsFile) {
		t.Fatalf("resume onto a full disk: %v", err)
	}
	st, _ := rundir.ReadStatus(part)
	if st.State != rundir.StateFailed || !strings.Contains(st.Error, "no space left") || st.Step > 3 {
		t.Errorf("status %+v: want failed within a step, with the reason", st)
	}
}

// TestBadTestFileFailsTheFinetune: a GLUE test.tsv that cannot be read
// fails the run (status failed, the error names the file and line, the
// trained checkpoints kept) instead of ending "done" without predictions;
// a task whose data has no test file at all is only noted.
func TestBadTestFileFailsTheFinetune(t *testing.T) {
	shared := glueDir(t)
	dir := t.TempDir()
	pre, err := Pretrain(context.Background(), Options{ConfigPath: tinyConfig(t, dir, ""), RunName: "pre", Overrides: []string{"train.steps=1", "eval.every=0"}})
	if err != nil {
		t.Fatal(err)
	}
	gd := filepath.Join(dir, "glue")
	os.MkdirAll(filepath.Join(gd, "RTE"), 0o755)
	for _, f := range []string{"train.tsv", "dev.tsv"} {
		b, _ := os.ReadFile(filepath.Join(shared, "RTE", f))
		os.WriteFile(filepath.Join(gd, "RTE", f), b, 0o644)
	}
	cfg := "kind = \"finetune\"\n[finetune]\ntask = \"rte\"\nglue_dir = \"" + gd + "\"\nmax_train = 16\nmax_eval = 8\nepochs = 1\n" +
		"[data]\nseq_len = 32\nbatch_size = 8\n[train]\nthreads = 2\n[run]\ndir = \"" + filepath.Join(dir, "runs") + "\"\n"
	p := filepath.Join(dir, "rte.toml")
	os.WriteFile(p, []byte(cfg), 0o644)

	run, err := Finetune(context.Background(), Options{ConfigPath: p, RunName: "no-test"}, pre)
	if err != nil {
		t.Fatalf("no test file: %v", err)
	}
	if st, _ := rundir.ReadStatus(run); st.State != rundir.StateDone {
		t.Errorf("no test file: state %s", st.State)
	}
	test := filepath.Join(gd, "RTE", "test.tsv")
	os.WriteFile(test, []byte("index\tsentence1\tsentence2\n0\ta\tb\nx\tc\td\n"), 0o644)
	run, err = Finetune(context.Background(), Options{ConfigPath: p, RunName: "bad-test"}, pre)
	if err == nil || !strings.Contains(err.Error(), test) || !strings.Contains(err.Error(), "3") {
		t.Fatalf("bad test file: %v", err)
	}
	st, _ := rundir.ReadStatus(run)
	if st.State != rundir.StateFailed || !strings.Contains(st.Error, "test predictions") {
		t.Errorf("bad test file: status %+v", st)
	}
	if _, err := LoadCheckpoint(filepath.Join(run, rundir.CheckpointsDir, BestLink)); err != nil {
		t.Errorf("the trained checkpoint is gone: %v", err)
	}
}
