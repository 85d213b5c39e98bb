package tui

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

func TestLaunchSpecArgs(t *testing.T) {
	cases := []struct {
		name string
		spec LaunchSpec
		want []string
		err  string
	}{
		{"pretrain with overrides", LaunchSpec{Kind: "pretrain", Config: "configs/pretrain-mini.toml", Overrides: []string{"train.steps=50", "data.corpus=gostd"}},
			[]string{"pretrain", "-c", "configs/pretrain-mini.toml", "--set", "train.steps=50", "--set", "data.corpus=gostd", "--runs", "runs"}, ""},
		{"finetune from a checkpoint", LaunchSpec{Kind: "finetune", Config: "configs/glue-sst2.toml", From: "runs/x/checkpoints/step-000000100"},
			[]string{"finetune", "-c", "configs/glue-sst2.toml", "--from", "runs/x/checkpoints/step-000000100", "--runs", "runs"}, ""},
		{"resume", LaunchSpec{Kind: "pretrain", Config: "runs/x/config.toml", Resume: "runs/x"},
			[]string{"pretrain", "-c", "runs/x/config.toml", "--resume", "runs/x", "--runs", "runs"}, ""},
		{"demo", DemoSpec("configs"), []string{"pretrain", "-c", "configs/pretrain-mini.toml", "--set", "data.corpus=gostd", "--runs", "runs"}, ""},
		{"finetune needs a checkpoint", LaunchSpec{Kind: "finetune", Config: "c.toml"}, nil, "needs a checkpoint"},
		{"LRA from scratch", LaunchSpec{Kind: "finetune", Config: "configs/lra-listops.toml", Scratch: true},
			[]string{"finetune", "-c", "configs/lra-listops.toml", "--runs", "runs"}, ""},
		{"bad override", LaunchSpec{Kind: "pretrain", Config: "c.toml", Overrides: []string{"steps"}}, nil, `override "steps"`},
		{"unknown kind", LaunchSpec{Kind: "train", Config: "c.toml"}, nil, "unknown kind"},
		{"no config", LaunchSpec{Kind: "pretrain"}, nil, "no config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.spec.Args("runs")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseOverrides(t *testing.T) {
	got, err := ParseOverrides("  a.b=1   c=x=y ")
	if err != nil || !reflect.DeepEqual(got, []string{"a.b=1", "c=x=y"}) {
		t.Errorf("got %q %v", got, err)
	}
	for _, bad := range []string{"=1", "novalue", "a=1 b"} {
		if _, err := ParseOverrides(bad); err == nil {
			t.Errorf("%q should be rejected", bad)
		}
	}
}

// TestLauncherStartsADetachedProcess runs a real child (a shell script
// standing in for the fnet-tui binary) and checks its arguments, its own
// session, and where its output goes.
func TestLauncherStartsADetachedProcess(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "fake-fnet-tui")
	script := "#!/bin/sh\necho \"args: $*\"\necho \"to stderr\" >&2\n"
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(dir, "runs")
	l := Launcher{Exe: exe, RunsDir: runs}
	got, err := l.Start(LaunchSpec{Kind: "pretrain", Config: "configs/pretrain-mini.toml", Overrides: []string{"train.steps=5"}}, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	sid, err := getsid(got.PID)
	if err == nil && sid != got.PID {
		t.Errorf("child session %d, want its own (%d)", sid, got.PID)
	}
	if err := got.Wait(); err != nil {
		t.Fatalf("child failed: %v", err)
	}
	out, err := os.ReadFile(got.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	want := "args: pretrain -c configs/pretrain-mini.toml --set train.steps=5 --runs " + runs + "\nto stderr\n"
	if string(out) != want {
		t.Errorf("child output %q, want %q", out, want)
	}
	if !strings.HasPrefix(got.LogPath, filepath.Join(runs, launchLogDir)) {
		t.Errorf("log %s should be under the hidden launch folder", got.LogPath)
	}
	if rs, _ := rundir.ScanRuns(runs); len(rs) != 0 {
		t.Errorf("the launch folder must not look like a run: %v", rs)
	}
}

func getsid(pid int) (int, error) {
	sid, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, uintptr(pid), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(sid), nil
}

// TestStopRunSendsSIGTERM stops a real process through its status.
func TestStopRunSendsSIGTERM(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	host, _ := os.Hostname()
	st := rundir.Status{State: rundir.StateRunning, PID: cmd.Process.Pid, Host: host}
	if err := StopRun(st); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
			t.Errorf("child ended with %v, want SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child did not stop")
	}
	st.State = rundir.StateDone
	if err := StopRun(st); err == nil {
		t.Error("stopping a finished run should fail")
	}
	other := rundir.Status{State: rundir.StateRunning, PID: os.Getpid(), Host: "elsewhere.example"}
	if err := StopRun(other); err == nil || !strings.Contains(err.Error(), "host") {
		t.Errorf("a run on another host: %v", err)
	}
}

func TestResumeSpec(t *testing.T) {
	root := standardFixtures(t)
	stopped := filepath.Join(root, "pretrain-pretrain-base-20250601-110000")
	st, _ := rundir.ReadStatus(stopped)
	spec, err := ResumeSpec(st, stopped)
	if err != nil {
		t.Fatal(err)
	}
	args, _ := spec.Args("runs")
	want := []string{"pretrain", "-c", filepath.Join(stopped, "config.toml"), "--resume", stopped, "--runs", "runs"}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("args %q, want %q", args, want)
	}
	ft := filepath.Join(root, "finetune-glue-sst2-20250601-101500")
	st, _ = rundir.ReadStatus(ft)
	if _, err := ResumeSpec(st, ft); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Errorf("a finetune run without checkpoints: %v", err)
	}
	os.MkdirAll(filepath.Join(ft, "checkpoints", "step-000000100"), 0o755)
	os.Symlink("step-000000100", filepath.Join(ft, "checkpoints", "latest"))
	spec, err = ResumeSpec(st, ft)
	if err != nil {
		t.Fatal(err)
	}
	args, _ = spec.Args("runs")
	want = []string{"finetune", "-c", filepath.Join(ft, "config.toml"), "--resume", ft, "--runs", "runs"}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("finetune resume args %q, want %q", args, want)
	}
	done := filepath.Join(root, "pretrain-pretrain-mini-20250601-100000")
	st, _ = rundir.ReadStatus(done)
	if _, err := ResumeSpec(st, done); err == nil || !strings.Contains(err.Error(), "done") {
		t.Errorf("a finished run: %v", err)
	}
	live := filepath.Join(root, "pretrain-pretrain-small-20250601-113000")
	st, _ = rundir.ReadStatus(live)
	if _, err := ResumeSpec(st, live); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("a live run: %v", err)
	}
}

func TestListConfigs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"glue-sst2.toml", "pretrain-mini.toml", "lra-listops.toml", "pretrain-base.toml", "other.toml", "pretrain-x.txt"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	cs, err := listConfigs(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name+":"+c.Kind)
	}
	if got := strings.Join(names, " "); got != "pretrain-base.toml:pretrain pretrain-mini.toml:pretrain glue-sst2.toml:finetune lra-listops.toml:finetune" {
		t.Errorf("configs %s", got)
	}
	for _, c := range cs {
		if want := c.Name != "glue-sst2.toml" && c.Kind == "finetune"; c.Scratch != want || c.needsCheckpoint() != (c.Name == "glue-sst2.toml") {
			t.Errorf("%s: scratch %v, needs a checkpoint %v", c.Name, c.Scratch, c.needsCheckpoint())
		}
	}
	if _, err := listConfigs(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("missing folder error %v should name it", err)
	}
}
