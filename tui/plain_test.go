package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRunsTableGolden(t *testing.T) {
	root := standardFixtures(t)
	rows, err := ScanRunRows(root, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteRunsTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	requireGolden(t, b.String())
}

func TestRunRowsJSON(t *testing.T) {
	root := standardFixtures(t)
	rows, err := ScanRunRows(root, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 4 {
		t.Fatalf("%d rows", len(back))
	}
	live := back[0]
	if live["state"] != "running" || live["step"] != 900.0 || live["total_steps"] != 3000.0 || live["eta_s"] != 2100.0 {
		t.Errorf("live row %v", live)
	}
	if loss, ok := live["loss"].(float64); !ok || math.Abs(loss-3.302) > 0.001 {
		t.Errorf("live loss %v", live["loss"])
	}
	failed := back[2]
	if failed["eta_s"] != nil || failed["error"] != "loss became NaN at step 121" || failed["task"] != "sst2" {
		t.Errorf("failed row %v", failed)
	}
}

// TestRunRowsReadOnlyTheEnd checks a long metrics file is summarised from
// its tail: the first lines (here broken on purpose) are never parsed.
func TestRunRowsReadOnlyTheEnd(t *testing.T) {
	root := filepath.Join(t.TempDir(), "runs")
	dir := writeFixtureRun(t, root, fixtureSpec{id: "pretrain-long-20250601-100000", kind: "pretrain", state: "done",
		steps: 3000, total: 3000, start: fixtureNow.Add(-time.Hour), stepTime: time.Second, seed: 9})
	path := filepath.Join(dir, "metrics.jsonl")
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append([]byte("garbage that a full parse would trip on\n"), b...), 0o644)
	rows, err := ScanRunRows(root, fixtureNow)
	if err != nil || len(rows) != 1 || rows[0].Step != 3000 || !finite(rows[0].Loss) {
		t.Fatalf("rows %+v %v", rows, err)
	}
}

func TestPlainModeSnapshotOfFinishedRuns(t *testing.T) {
	root := standardFixtures(t)
	// Make the live fixture a finished one so the plain mode does not follow.
	os.RemoveAll(filepath.Join(root, "pretrain-pretrain-small-20250601-113000"))
	var out bytes.Buffer
	err := RunPlain(context.Background(), Options{RunsDir: root, Now: func() time.Time { return fixtureNow }}, &out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "RUN") {
		t.Errorf("plain snapshot:\n%s", out.String())
	}
}

func TestPlainModeNoRuns(t *testing.T) {
	var out bytes.Buffer
	root := filepath.Join(t.TempDir(), "runs")
	if err := RunPlain(context.Background(), Options{RunsDir: root}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "fnet-tui --demo") {
		t.Errorf("no runs: %q", out.String())
	}
}

// syncBuffer is a bytes.Buffer safe to read while RunPlain writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPlainModeFollowsProgress appends metrics to a live run and expects
// a progress line for the new step, then a state change line.
func TestPlainModeFollowsProgress(t *testing.T) {
	root := standardFixtures(t)
	live := filepath.Join(root, "pretrain-pretrain-small-20250601-113000")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- RunPlain(ctx, Options{RunsDir: root, PollEvery: 10 * time.Millisecond, Now: func() time.Time { return fixtureNow }}, &out)
	}()
	waitOut := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("plain output never showed %q:\n%s", what, out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitOut("RUN") // the snapshot table
	f, err := os.OpenFile(filepath.Join(live, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `{"t":"2025-06-01T11:45:01Z","step":901,"split":"train","loss":3.1,"tokens_per_s":12000}`+"\n")
	f.Close()
	waitOut("pretrain-pretrain-small-20250601-113000 running step 901/3000 (30%) loss 3.1 tok/s 12.0k")
	// The run finishes: one state line, then RunPlain returns (nothing is live).
	st := `{"state":"done","kind":"pretrain","pid":0,"step":3000,"total_steps":3000,"started_at":"2025-06-01T11:30:00Z","updated_at":"2025-06-01T12:00:00Z"}`
	os.WriteFile(filepath.Join(live, "status.json.tmp"), []byte(st), 0o644)
	os.Rename(filepath.Join(live, "status.json.tmp"), filepath.Join(live, "status.json"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("plain mode did not end when no run was live")
	}
	if !strings.Contains(out.String(), "pretrain-pretrain-small-20250601-113000 running -> done") {
		t.Errorf("no state change line:\n%s", out.String())
	}
}

// quickTrainer stands in for `fnet-tui pretrain`: it writes a run folder,
// a few train lines while running, then finishes.
const quickTrainer = `#!/bin/sh
runs=""
while [ $# -gt 0 ]; do [ "$1" = "--runs" ] && runs="$2"; shift; done
d="$runs/pretrain-pretrain-mini-20250601-120000"
mkdir -p "$d"
status() {
  printf '{"state":"%s","kind":"pretrain","pid":%d,"step":%d,"total_steps":3,"started_at":"2025-06-01T12:00:00Z","updated_at":"2025-06-01T12:00:00Z"}\n' "$1" $$ "$2" > "$d/s.tmp"
  mv "$d/s.tmp" "$d/status.json"
}
status running 0
for i in 1 2 3; do
  sleep 0.2
  printf '{"t":"2025-06-01T12:00:0%dZ","step":%d,"split":"train","loss":%d.5}\n' $i $i $((4-i)) >> "$d/metrics.jsonl"
  status running $i
done
sleep 0.2
status done 3
`

func TestPlainModeDemoFollowsToTheEnd(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "fnet-tui")
	os.WriteFile(exe, []byte(quickTrainer), 0o755)
	runs := filepath.Join(dir, "runs")
	l := Launcher{Exe: exe, RunsDir: runs}
	var out bytes.Buffer
	err := RunPlain(context.Background(), Options{RunsDir: runs, ConfigsDir: "configs", Demo: true, PollEvery: 10 * time.Millisecond,
		Launch: func(s LaunchSpec) (*Launched, error) { return l.Start(s, fixtureNow) }}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"started the demo: pid", "pretrain-pretrain-mini-20250601-120000 running step 3/3 (100%) loss 1.5", "running -> done"} {
		if !strings.Contains(s, want) {
			t.Errorf("plain demo output lacks %q:\n%s", want, s)
		}
	}
}

func TestPlainModeDemoThatFailsSaysWhere(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "fnet-tui")
	os.WriteFile(exe, []byte("#!/bin/sh\necho 'config: no such file' >&2\nexit 1\n"), 0o755)
	runs := filepath.Join(dir, "runs")
	l := Launcher{Exe: exe, RunsDir: runs}
	var out bytes.Buffer
	err := RunPlain(context.Background(), Options{RunsDir: runs, Demo: true, PollEvery: 10 * time.Millisecond,
		Launch: func(s LaunchSpec) (*Launched, error) { return l.Start(s, fixtureNow) }}, &out)
	if err == nil || !strings.Contains(err.Error(), "exited before creating its run") || !strings.Contains(err.Error(), ".launch") {
		t.Fatalf("err %v", err)
	}
}
