package rundir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMetricsReaderSkipsBadLinesNamingThem(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	appendFile(t, path, `{"t":"2025-01-02T03:04:05Z","step":1,"split":"train","loss":3.5}`+"\n"+
		"not json\n"+
		`{"step":2,"split":"train","loss":null,"lr":1e-4}`+"\n"+
		`{"step":3,"split":"eval","loss":2.`)
	r := NewMetricsReader(dir)
	p, err := r.Poll()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Metrics) != 2 {
		t.Fatalf("got %d metrics, want 2", len(p.Metrics))
	}
	if p.Metrics[0].Step != 1 || p.Metrics[0].Values["loss"] != 3.5 || p.Metrics[0].T.IsZero() {
		t.Errorf("first metric %+v", p.Metrics[0])
	}
	if v, ok := p.Metrics[1].Values["loss"]; !ok || v == v {
		t.Errorf("null loss should read as NaN, got %v %v", v, ok)
	}
	if r.BadLines != 1 || r.LastError == nil || !strings.Contains(r.LastError.Error(), MetricsFile+":2:") {
		t.Errorf("bad lines %d, last error %v; want 1 naming %s:2", r.BadLines, r.LastError, MetricsFile)
	}
	appendFile(t, path, "5}\n")
	p, err = r.Poll()
	if err != nil || len(p.Metrics) != 1 || p.Metrics[0].Split != "eval" || p.Metrics[0].Values["loss"] != 2.5 {
		t.Fatalf("completed line: %v %+v", err, p.Metrics)
	}
}

func TestLastLinesAndLastMetrics(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	var sb strings.Builder
	for i := 1; i <= 5000; i++ { // ~300 KB: several 64 KiB blocks
		fmt.Fprintf(&sb, `{"step":%d,"split":"train","loss":%g,"pad":"%s"}`+"\n", i, 1.0/float64(i), strings.Repeat("p", 20))
	}
	sb.WriteString(`{"step":5001,"spl`) // half-written
	appendFile(t, path, sb.String())

	for _, n := range []int{1, 3, 2000} {
		lines, err := LastLines(path, n)
		if err != nil || len(lines) != n {
			t.Fatalf("LastLines(%d): %v, %d lines", n, err, len(lines))
		}
		want := fmt.Sprintf(`{"step":%d,`, 5000)
		if !strings.HasPrefix(string(lines[n-1]), want) {
			t.Errorf("LastLines(%d) last = %q", n, lines[n-1])
		}
		first := fmt.Sprintf(`{"step":%d,`, 5000-n+1)
		if !strings.HasPrefix(string(lines[0]), first) {
			t.Errorf("LastLines(%d) first = %q, want prefix %q", n, lines[0], first)
		}
	}
	ms, err := LastMetrics(dir, 10)
	if err != nil || len(ms) != 10 || ms[9].Step != 5000 {
		t.Fatalf("LastMetrics: %v %d", err, len(ms))
	}
	if lines, err := LastLines(filepath.Join(dir, "missing"), 3); err != nil || lines != nil {
		t.Errorf("missing file: %v %q", err, lines)
	}
	short := filepath.Join(dir, "short")
	appendFile(t, short, "a\nb\n")
	if lines, _ := LastLines(short, 10); len(lines) != 2 || string(lines[0]) != "a" {
		t.Errorf("short file: %q", lines)
	}
}

func writeRun(t *testing.T, root, id string, st Status) string {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteStatus(dir, st); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestScanRuns(t *testing.T) {
	root := t.TempDir()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	writeRun(t, root, "pretrain-a", Status{State: StateDone, Kind: "pretrain", StartedAt: t0})
	writeRun(t, root, "pretrain-b", Status{State: StateRunning, Kind: "pretrain", StartedAt: t0.Add(time.Hour)})
	// A run whose status is broken still shows, with the error.
	bad := filepath.Join(root, "finetune-c")
	os.MkdirAll(bad, 0o755)
	os.WriteFile(filepath.Join(bad, StatusFile), []byte("{"), 0o644)
	// Metrics but no status yet: a run that is starting.
	early := filepath.Join(root, "pretrain-d")
	os.MkdirAll(early, 0o755)
	os.WriteFile(filepath.Join(early, MetricsFile), nil, 0o644)
	// Not runs: a plain folder, a hidden folder, a file.
	os.MkdirAll(filepath.Join(root, "notes"), 0o755)
	os.MkdirAll(filepath.Join(root, ".launch"), 0o755)
	os.WriteFile(filepath.Join(root, "README"), nil, 0o644)

	runs, err := ScanRuns(root)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	if got := strings.Join(ids, ","); got != "pretrain-b,pretrain-a,pretrain-d,finetune-c" {
		t.Errorf("runs %s", got)
	}
	for _, r := range runs {
		switch r.ID {
		case "finetune-c":
			if r.StatusErr == nil || !strings.Contains(r.StatusErr.Error(), StatusFile) {
				t.Errorf("broken status error %v should name %s", r.StatusErr, StatusFile)
			}
		case "pretrain-d":
			if r.StatusErr == nil {
				t.Error("run without status.json should carry an error")
			}
		default:
			if r.StatusErr != nil {
				t.Errorf("%s: %v", r.ID, r.StatusErr)
			}
		}
	}
	if runs, err := ScanRuns(filepath.Join(root, "absent")); err != nil || runs != nil {
		t.Errorf("absent root: %v %v", runs, err)
	}
}

func TestCheckpoints(t *testing.T) {
	dir := t.TempDir()
	cdir := filepath.Join(dir, CheckpointsDir)
	for _, n := range []string{"step-000000200", "step-000000100", ".tmp-step-000000300", "step-000000300.tmp"} {
		os.MkdirAll(filepath.Join(cdir, n), 0o755)
	}
	if _, ok := LatestCheckpoint(dir); ok {
		t.Error("no latest link yet, LatestCheckpoint should say so")
	}
	if err := os.Symlink("step-000000200", filepath.Join(cdir, LatestLink)); err != nil {
		t.Fatal(err)
	}
	cks, err := Checkpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cks) != 2 || cks[0].Step != 100 || cks[1].Step != 200 || cks[0].Latest || !cks[1].Latest {
		t.Errorf("checkpoints %+v", cks)
	}
	if d, ok := LatestCheckpoint(dir); !ok || filepath.Base(d) != "step-000000200" {
		t.Errorf("latest %q %v", d, ok)
	}
	// a later save of the same step (its own folder; latest moved to it)
	// and the folder a killed writer displaced
	os.MkdirAll(filepath.Join(cdir, "step-000000200-r1733150000000000000"), 0o755)
	os.MkdirAll(filepath.Join(cdir, "step-000000100.old-42"), 0o755)
	os.Remove(filepath.Join(cdir, LatestLink))
	os.Symlink("step-000000200-r1733150000000000000", filepath.Join(cdir, LatestLink))
	cks, _ = Checkpoints(dir)
	if len(cks) != 3 || cks[2].Step != 200 || !cks[2].Latest || cks[1].Latest || filepath.Base(cks[2].Dir) != "step-000000200-r1733150000000000000" {
		t.Errorf("with a re-save: %+v", cks)
	}
}

func TestStatusWatcherRereadsOnlyOnChange(t *testing.T) {
	dir := t.TempDir()
	w := NewStatusWatcher(dir)
	if _, changed, err := w.Poll(); err == nil || !changed {
		t.Fatalf("missing status: changed=%v err=%v", changed, err)
	}
	if _, changed, _ := w.Poll(); changed {
		t.Error("still missing: should not report a change again")
	}
	WriteStatus(dir, Status{State: StateRunning, Step: 10})
	st, changed, err := w.Poll()
	if err != nil || !changed || st.Step != 10 {
		t.Fatalf("first status: %+v %v %v", st, changed, err)
	}
	if _, changed, _ := w.Poll(); changed {
		t.Error("unchanged file reported as changed")
	}
	WriteStatus(dir, Status{State: StateRunning, Step: 20})
	if st, changed, _ := w.Poll(); !changed || st.Step != 20 {
		t.Errorf("rewritten status: %+v %v", st, changed)
	}
	os.WriteFile(filepath.Join(dir, StatusFile+".x"), nil, 0o644)
	rundirTmp := filepath.Join(dir, "s.tmp")
	os.WriteFile(rundirTmp, []byte("{broken"), 0o644)
	os.Rename(rundirTmp, filepath.Join(dir, StatusFile))
	st, _, err = w.Poll()
	if err == nil || !strings.Contains(err.Error(), StatusFile) || st.Step != 20 {
		t.Errorf("broken status: keep the last good one (%d) and name the file: %v", st.Step, err)
	}
}

func TestStatusLive(t *testing.T) {
	host, _ := os.Hostname()
	self := Status{State: StateRunning, PID: os.Getpid(), Host: host}
	if !self.Live() {
		t.Error("this process should be live")
	}
	done := self
	done.State = StateDone
	if done.Live() {
		t.Error("a finished run is not live")
	}
	gone := self
	gone.PID = 1 << 22 // above pid_max's default: no such process
	if gone.Live() {
		t.Error("a missing pid is not live")
	}
}
