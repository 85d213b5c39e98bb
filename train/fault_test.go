package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// The fault-injection test runs real trainer processes: this test binary
// re-executed with FNET_TRAIN_CHILD set runs one Pretrain and exits, so a
// SIGKILL hits a whole process, mid-step or mid-checkpoint, as it would in
// production.
func TestMain(m *testing.M) {
	if spec := os.Getenv("FNET_TRAIN_CHILD"); spec != "" {
		var o Options
		if err := json.Unmarshal([]byte(spec), &o); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		_, err := Pretrain(context.Background(), o)
		if err != nil && !errors.Is(err, ErrStopped) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child starts a trainer process running Pretrain with o.
func child(t *testing.T, o Options) *exec.Cmd {
	t.Helper()
	spec, _ := json.Marshal(o)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FNET_TRAIN_CHILD="+string(spec))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// lastByStep is the last train metrics line of each step (a step re-run
// after a kill logs again; the resumed run's line is the one that counts).
func lastByStep(t *testing.T, runDir string) map[int]float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runDir, rundir.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		var m struct {
			Step  int     `json:"step"`
			Split string  `json:"split"`
			Loss  float64 `json:"loss"`
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Split == "train" {
			out[m.Step] = m.Loss
		}
	}
	return out
}

// TestKillNineAnywhere: a trainer SIGKILLed at random moments — half of them
// while a checkpoint is being written — always leaves a checkpoint that
// loads, --resume always continues, and the losses of every step equal those
// of a run that was never interrupted, bit for bit. Then two resumes of one
// run started together: exactly one trains.
func TestKillNineAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("starts about 25 trainer processes")
	}
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	const steps = 200 // each trainer is killed within 8 steps, so 20 kills land before the end
	set := []string{fmt.Sprintf("train.steps=%d", steps), "checkpoint.every=3", "checkpoint.keep=2", "eval.every=0", "log.every=1"}
	full, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "full", Overrides: set})
	if err != nil {
		t.Fatal(err)
	}
	want := lastByStep(t, full)

	runDir := filepath.Join(dir, "runs", "killed")
	ckDir := filepath.Join(runDir, rundir.CheckpointsDir)
	rng := rand.New(rand.NewPCG(7, 9))
	kills, atCheckpoint := 0, 0
	o := Options{ConfigPath: cfg, RunName: "killed", Overrides: set}
	for attempt := 0; attempt < 60; attempt++ {
		if st, err := rundir.ReadStatus(runDir); err == nil && st.State == rundir.StateDone {
			break
		}
		if attempt > 0 {
			// after every kill: the newest checkpoint loads (or there is none
			// yet, and the run starts again from scratch)
			if _, err := LoadCheckpoint(runDir); err == nil {
				o = Options{Resume: runDir}
			} else if strings.Contains(err.Error(), "no checkpoint yet") {
				o = Options{ConfigPath: cfg, RunName: "killed", Overrides: set}
			} else {
				t.Fatalf("after kill %d the run has no loadable checkpoint: %v", kills, err)
			}
		}
		cmd := child(t, o)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if kills >= 20 { // enough: let this one finish
			if err := <-done; err != nil {
				t.Fatalf("the last, unkilled run failed: %v", err)
			}
			continue
		}
		killed := false
		// strike after a few steps (progress, not time: the test must not
		// depend on the machine's speed), or at the first checkpoint write
		mf := filepath.Join(runDir, rundir.MetricsFile)
		strikeAt := lastLoggedStep(mf) + 1 + rng.IntN(8)
		deadline := time.Now().Add(30 * time.Second) // a hung trainer fails the test, never the CI
		waitForCheckpoint := rng.IntN(2) == 0
		for !killed {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("trainer failed on its own: %v", err)
				}
				killed = true // it finished before we struck
				continue
			default:
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("a trainer made no progress for 30 s")
			}
			strike := lastLoggedStep(mf) >= strikeAt
			if waitForCheckpoint {
				if ents, _ := os.ReadDir(ckDir); hasTemp(ents) {
					strike, atCheckpoint = true, atCheckpoint+1
				}
			}
			if strike {
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				kills++
				killed = true
				continue
			}
			time.Sleep(500 * time.Microsecond)
		}
	}
	st, _ := rundir.ReadStatus(runDir)
	if st.State != rundir.StateDone {
		t.Fatalf("after %d kills the run is %s at step %d", kills, st.State, st.Step)
	}
	got := lastByStep(t, runDir)
	for step := 1; step <= steps; step++ {
		if got[step] != want[step] || want[step] == 0 {
			t.Errorf("step %d: loss %v after kills, %v uninterrupted", step, got[step], want[step])
		}
	}
	t.Logf("%d kills (%d while a checkpoint was being written), run done, all %d losses equal", kills, atCheckpoint, steps)
	if kills < 20 {
		t.Errorf("only %d kills landed: the test did not exercise what it claims", kills)
	}

	// two resumes of one stopped run, started together: exactly one trains
	part := filepath.Join(dir, "runs", "twice")
	if _, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "twice", Overrides: set, StopAfter: 9}); !errors.Is(err, ErrStopped) {
		t.Fatal(err)
	}
	a, b := child(t, Options{Resume: part}), child(t, Options{Resume: part})
	ea, eb := a.Wait(), b.Wait()
	if (ea == nil) == (eb == nil) {
		t.Fatalf("two concurrent resumes: %v and %v, want exactly one to succeed", ea, eb)
	}
	if got := lastByStep(t, part); len(got) != steps || got[steps] != want[steps] {
		t.Errorf("the resumed run: %d steps logged, final loss %v (want %v)", len(got), got[steps], want[steps])
	}
}

// lastLoggedStep is the step of the last whole train line of metrics.jsonl
// (0 when there is none), read from the file's tail.
func lastLoggedStep(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	off := max(st.Size()-2048, 0)
	buf := make([]byte, st.Size()-off)
	n, _ := f.ReadAt(buf, off)
	lines := strings.Split(string(buf[:n]), "\n")
	for i := len(lines) - 2; i >= 0; i-- { // the last element follows the final newline
		var m struct {
			Step  int    `json:"step"`
			Split string `json:"split"`
		}
		if json.Unmarshal([]byte(lines[i]), &m) == nil && m.Split == "train" {
			return m.Step
		}
	}
	return 0
}

func hasTemp(ents []os.DirEntry) bool {
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			return true
		}
	}
	return false
}
