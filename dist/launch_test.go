package dist

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The launcher's tests start real rank processes: the test binary itself,
// re-executed with FNET_LAUNCH_TEST_CHILD naming what the rank does (the
// standard helper-process pattern), so process start, environment, exit
// statuses, signals and output pipes are the operating system's, not a
// double's.

const (
	childEnv    = "FNET_LAUNCH_TEST_CHILD"
	childDirEnv = "FNET_LAUNCH_TEST_DIR"
)

// childReport is what a "report" rank writes: what it would train as.
type childReport struct {
	World World
	Err   string
	Args  []string // after the test binary's own "--"
}

// TestLaunchHelperProcess is a rank, when the launcher started it; in a
// normal test run it does nothing.
func TestLaunchHelperProcess(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return
	}
	dir := os.Getenv(childDirEnv)
	rank, _ := strconv.Atoi(os.Getenv("RANK"))
	mark := func(name, text string) {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d", name, rank)), []byte(text), 0o644)
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	switch mode {
	case "report":
		w, err := FromEnv(os.Getenv)
		rep := childReport{World: w}
		if err != nil {
			rep.Err = err.Error()
		}
		if i := slices.Index(os.Args, "--"); i >= 0 {
			rep.Args = os.Args[i+1:]
		}
		b, _ := json.Marshal(rep)
		mark("report", string(b))
		fmt.Printf("hello from %d\n", rank)
		fmt.Fprintf(os.Stderr, "[rank %d] already prefixed\n", rank)
		fmt.Fprintf(os.Stderr, "no newline at the end from %d", rank)
		os.Exit(0)
	case "fail": // rank 1 fails; the others would run on (SIGTERM's default action ends them)
		if rank == 1 {
			fmt.Fprintln(os.Stderr, "rank 1: out of memory (on purpose)")
			os.Exit(3)
		}
		time.Sleep(time.Minute)
		os.Exit(0)
	case "fail-then-stop": // rank 1 fails; the others stop on SIGTERM, rank 0 writing its status first, as the trainer does
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		mark("ready", "")
		if rank == 1 {
			for _, r := range []string{"ready-0", "ready-2"} {
				for !exists(r) {
					time.Sleep(5 * time.Millisecond)
				}
			}
			os.Exit(3)
		}
		select {
		case s := <-sigs:
			time.Sleep(100 * time.Millisecond) // the trainer's abort after its grace
			mark("status", "failed after "+s.String())
			os.Exit(1)
		case <-time.After(time.Minute):
			os.Exit(0)
		}
	case "fail-stubborn": // rank 1 fails; the others ignore SIGTERM (a hung rank)
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		go func() {
			for s := range sigs {
				mark("signalled", s.String())
			}
		}()
		mark("ready", "")
		if rank == 1 {
			for _, r := range []string{"ready-0", "ready-2"} { // past their signal.Notify
				for !exists(r) {
					time.Sleep(5 * time.Millisecond)
				}
			}
			os.Exit(3)
		}
		time.Sleep(time.Minute)
		os.Exit(0)
	case "zero-exits": // rank 0 ends; rank 1 never does, and ignores SIGTERM
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		go func() {
			for s := range sigs {
				mark("signalled", s.String())
			}
		}()
		mark("ready", "")
		if rank == 0 {
			for !exists("ready-1") {
				time.Sleep(5 * time.Millisecond)
			}
			os.Exit(0)
		}
		time.Sleep(time.Minute)
		os.Exit(0)
	case "fail-all": // rank 1 fails first; the others fail after it, on their own
		if rank == 1 {
			os.Exit(3)
		}
		time.Sleep(200 * time.Millisecond)
		os.Exit(4)
	case "signal": // rank 0 stops on a signal; the others stop when rank 0 did
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		mark("ready", "")
		for {
			select {
			case s := <-sigs:
				mark("signalled", s.String())
				if rank != 0 {
					os.Exit(5) // a rank other than 0 must not be signalled
				}
				os.Exit(0)
			case <-time.After(10 * time.Millisecond):
				if rank != 0 && exists("signalled-0") {
					os.Exit(0) // as the trainer's agreed stop would end it
				}
			}
		}
	case "stubborn": // takes the first signal and runs on (a long checkpoint)
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		mark("ready", "")
		go func() {
			for s := range sigs {
				mark("signalled", s.String())
			}
		}()
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "unknown %s=%q\n", childEnv, mode)
	os.Exit(99)
}

// syncBuffer is a bytes.Buffer the launcher's goroutines may share.
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

// childSpec launches ranks of the helper process doing mode, with extra
// arguments after "--" (as the CLI's own arguments would be).
func childSpec(t *testing.T, mode string, ranks int, extra ...string) (LaunchSpec, string, *syncBuffer, *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	env := append(os.Environ(), childEnv+"="+mode, childDirEnv+"="+dir,
		// what a shell may hold from an earlier job: the ranks must not see it
		"RANK=7", "WORLD_SIZE=9", "MASTER_PORT=1", "FNET_RUN_ID=stale", "TORCHELASTIC_RUN_ID=old")
	return LaunchSpec{
		Path:   os.Args[0],
		Args:   append([]string{"-test.run=^TestLaunchHelperProcess$", "--"}, extra...),
		Env:    env,
		Ranks:  ranks,
		Stdout: stdout,
		Stderr: stderr,
	}, dir, stdout, stderr
}

func waitFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range names {
		for {
			if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rank file %s never appeared", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Every rank sees exactly torchrun's contract: FromEnv gives ranks 0..N-1
// of N, local rank = rank, one address, port and run id, and the
// arguments unchanged; stale launcher variables of the shell are gone.
func TestLaunchGivesEveryRankTorchrunsContract(t *testing.T) {
	const n = 3
	spec, dir, stdout, stderr := childSpec(t, "report", n, "pretrain", "-c", "configs/x.toml", "--set", "train.lr=1e-3")
	var port int
	var runID string
	spec.Started = func(p int, id string) { port, runID = p, id }
	if err := Launch(context.Background(), spec); err != nil {
		t.Fatalf("Launch: %v\nstderr:\n%s", err, stderr)
	}
	if port < 1 || !strings.HasPrefix(runID, "local-") || len(runID) != len("local-")+16 {
		t.Fatalf("Started got port %d, run id %q", port, runID)
	}
	for r := 0; r < n; r++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("report-%d", r)))
		if err != nil {
			t.Fatalf("rank %d wrote no report: %v", r, err)
		}
		var rep childReport
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		want := World{Rank: r, Size: n, LocalRank: r, MasterAddr: LocalMasterAddr, MasterPort: port, JobID: runID, Launcher: Torchrun}
		if rep.Err != "" || rep.World != want {
			t.Errorf("rank %d: FromEnv = %+v, %q; want %+v", r, rep.World, rep.Err, want)
		}
		if !slices.Equal(rep.Args, []string{"pretrain", "-c", "configs/x.toml", "--set", "train.lr=1e-3"}) {
			t.Errorf("rank %d got arguments %q", r, rep.Args)
		}
	}
	// rank 0's output unchanged; the others' on stderr, prefixed once,
	// an unterminated last line included
	if out := stdout.String(); !strings.Contains(out, "hello from 0\n") || strings.Contains(out, "hello from 1") {
		t.Errorf("stdout (rank 0's) = %q", out)
	}
	e := stderr.String()
	for r := 1; r < n; r++ {
		for _, line := range []string{
			fmt.Sprintf("[rank %d] hello from %d\n", r, r),
			fmt.Sprintf("[rank %d] already prefixed\n", r),
			fmt.Sprintf("[rank %d] no newline at the end from %d\n", r, r),
		} {
			if !strings.Contains(e, line) {
				t.Errorf("stderr lacks %q:\n%s", line, e)
			}
		}
		if strings.Contains(e, fmt.Sprintf("[rank %d] [rank %d]", r, r)) {
			t.Errorf("rank %d's own prefix was doubled:\n%s", r, e)
		}
	}
	if !strings.Contains(e, "[rank 0] already prefixed") || strings.Contains(e, "[rank 0] [rank 0]") {
		t.Errorf("rank 0's stderr should pass through unchanged:\n%s", e)
	}
}

// One rank failing: the launcher sends the others SIGTERM at once (on
// one node they would wait for it in NCCL until the timeout), and
// reports the rank that failed first, with its exit status, as its own.
func TestLaunchTerminatesTheOthersWhenARankFails(t *testing.T) {
	spec, _, _, stderr := childSpec(t, "fail", 3)
	spec.Grace, spec.KillAfter = 200*time.Millisecond, 20*time.Second
	start := time.Now()
	err := Launch(context.Background(), spec)
	took := time.Since(start)
	var le *LaunchError
	if !errors.As(err, &le) {
		t.Fatalf("Launch = %v; want a *LaunchError", err)
	}
	if le.Rank != 1 || le.Code != 3 || le.Status != "exit status 3" || !slices.Equal(le.Terminated, []int{0, 2}) || len(le.Killed) != 0 || le.Interrupted {
		t.Errorf("LaunchError = %+v; want rank 1, exit status 3, ranks 0 and 2 sent SIGTERM, nobody killed", le)
	}
	if le.ExitCode() != 3 {
		t.Errorf("ExitCode = %d, want the rank's 3", le.ExitCode())
	}
	if msg := err.Error(); !strings.Contains(msg, "rank 1 of 3 failed: exit status 3") || !strings.Contains(msg, "sent SIGTERM to ranks 0, 2") {
		t.Errorf("message %q", msg)
	}
	if took < spec.Grace || took > 10*time.Second {
		t.Errorf("Launch took %v; the SIGTERM should end the others after the grace %v, not KillAfter %v or their minute", took, spec.Grace, spec.KillAfter)
	}
	if !strings.Contains(stderr.String(), "[rank 1] rank 1: out of memory (on purpose)") {
		t.Errorf("the failing rank's error did not reach the launcher's stderr:\n%s", stderr)
	}
}

// The survivors of a failure get SIGTERM before anything harder, so rank
// 0 can write its failed status (the trainer aborts its NCCL wait after
// StopGrace) and exit on its own; none is killed.
func TestLaunchLetsTheSurvivorsWriteTheirStatus(t *testing.T) {
	spec, dir, _, _ := childSpec(t, "fail-then-stop", 3)
	spec.Grace, spec.KillAfter = 50*time.Millisecond, 20*time.Second
	err := Launch(context.Background(), spec)
	var le *LaunchError
	if !errors.As(err, &le) || le.Rank != 1 || le.Code != 3 || len(le.Killed) != 0 || !slices.Equal(le.Terminated, []int{0, 2}) {
		t.Fatalf("Launch = %#v; want rank 1's failure, ranks 0 and 2 sent SIGTERM and none killed", err)
	}
	for _, r := range []int{0, 2} {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("status-%d", r)))
		if err != nil || string(b) != "failed after "+syscall.SIGTERM.String() {
			t.Errorf("rank %d's status: %q %v", r, b, err)
		}
	}
}

// Survivors that ignore the SIGTERM (hung) are killed once KillAfter
// has passed after it, not before.
func TestLaunchKillsTheOthersAfterTheGracePeriod(t *testing.T) {
	spec, dir, _, _ := childSpec(t, "fail-stubborn", 3)
	spec.Grace, spec.KillAfter = 50*time.Millisecond, 300*time.Millisecond
	start := time.Now()
	err := Launch(context.Background(), spec)
	took := time.Since(start)
	var le *LaunchError
	if !errors.As(err, &le) || le.Rank != 1 || le.Code != 3 {
		t.Fatalf("Launch = %#v; want rank 1's exit status 3", err)
	}
	if !slices.Equal(le.Terminated, []int{0, 2}) || !slices.Equal(le.Killed, []int{0, 2}) {
		t.Fatalf("LaunchError = %+v; want SIGTERM to ranks 0 and 2, then the stubborn ones killed", le)
	}
	for _, r := range le.Killed {
		if b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("signalled-%d", r))); err != nil || string(b) != syscall.SIGTERM.String() {
			t.Errorf("killed rank %d was not sent SIGTERM first: %q %v", r, b, err)
		}
	}
	if msg := err.Error(); !strings.Contains(msg, "killed") || !strings.Contains(msg, "still running 300ms after the SIGTERM") {
		t.Errorf("message %q", msg)
	}
	if took < spec.Grace+spec.KillAfter || took > 20*time.Second {
		t.Errorf("Launch took %v; want the grace %v and KillAfter %v, not the ranks' minute", took, spec.Grace, spec.KillAfter)
	}
}

// Rank 0 exits (here cleanly) while another rank never does: the launcher
// does not wait for ever; after AfterRankZero it sends SIGTERM, then
// SIGKILL after the grace, and says so.
func TestLaunchEndsRanksThatOutliveRankZero(t *testing.T) {
	spec, dir, _, _ := childSpec(t, "zero-exits", 2)
	spec.KillAfter, spec.AfterRankZero = 200*time.Millisecond, 200*time.Millisecond
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- Launch(context.Background(), spec) }()
	var err error
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("the launcher waits for ever for a rank that outlived rank 0")
	}
	var le *LaunchError
	if !errors.As(err, &le) || !slices.Equal(le.Terminated, []int{1}) || !slices.Equal(le.Killed, []int{1}) || le.Rank != -1 {
		t.Fatalf("Launch = %#v; want rank 1 sent SIGTERM, then killed", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "signalled-1")); err != nil || string(b) != syscall.SIGTERM.String() {
		t.Errorf("rank 1 was not sent SIGTERM before the kill: %q %v", b, err)
	}
	if !strings.Contains(err.Error(), "rank 0 of 2 exited, but not every other rank did; sent SIGTERM to rank 1; killed rank 1") || le.ExitCode() != 1 {
		t.Errorf("message %q, exit code %d", err, le.ExitCode())
	}
	if took := time.Since(start); took < spec.AfterRankZero+spec.KillAfter {
		t.Errorf("took %v: SIGTERM before AfterRankZero, or SIGKILL before KillAfter", took)
	}
}

// Ranks that fail on their own within the grace period are not killed,
// and the first failure is the one reported.
func TestLaunchReportsTheFirstFailure(t *testing.T) {
	spec, _, _, _ := childSpec(t, "fail-all", 3)
	spec.Grace = 20 * time.Second
	start := time.Now()
	err := Launch(context.Background(), spec)
	var le *LaunchError
	if !errors.As(err, &le) || le.Rank != 1 || le.Code != 3 || len(le.Killed) != 0 || len(le.Terminated) != 0 {
		t.Fatalf("Launch = %#v; want rank 1's exit status 3 and nobody signalled or killed", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v: the launcher waited out the grace period for ranks that had exited", took)
	}
}

// A signal to the launcher goes to rank 0 alone (which stops every rank
// through the trainer's agreed stop); the launch then ends cleanly.
func TestLaunchForwardsASignalToRankZero(t *testing.T) {
	spec, dir, _, stderr := childSpec(t, "signal", 3)
	sigs := make(chan os.Signal, 2)
	spec.Signals = sigs
	errc := make(chan error, 1)
	go func() { errc <- Launch(context.Background(), spec) }()
	waitFiles(t, dir, "ready-0", "ready-1", "ready-2")
	sigs <- syscall.SIGTERM
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Launch = %v; want nil (every rank stopped and exited 0)\n%s", err, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the ranks did not stop after the signal")
	}
	got, err := os.ReadFile(filepath.Join(dir, "signalled-0"))
	if err != nil || string(got) != syscall.SIGTERM.String() {
		t.Errorf("rank 0 got %q (%v); want %q", got, err, syscall.SIGTERM.String())
	}
	for _, r := range []int{1, 2} {
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("signalled-%d", r))); err == nil {
			t.Errorf("rank %d was signalled; only rank 0 should be", r)
		}
	}
}

// A second signal kills every rank (the first one still reached rank 0).
func TestLaunchSecondSignalKillsEveryRank(t *testing.T) {
	spec, dir, _, _ := childSpec(t, "stubborn", 3)
	sigs := make(chan os.Signal, 2)
	spec.Signals = sigs
	errc := make(chan error, 1)
	go func() { errc <- Launch(context.Background(), spec) }()
	waitFiles(t, dir, "ready-0", "ready-1", "ready-2")
	sigs <- syscall.SIGINT
	waitFiles(t, dir, "signalled-0")
	sigs <- syscall.SIGINT
	var err error
	select {
	case err = <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("a second signal did not end the launch")
	}
	var le *LaunchError
	if !errors.As(err, &le) || !le.Interrupted || !slices.Equal(le.Killed, []int{0, 1, 2}) || le.Rank != -1 {
		t.Fatalf("Launch = %#v; want an interrupted launch that killed ranks 0, 1, 2", err)
	}
	if !strings.Contains(err.Error(), "stopped by a second signal: killed ranks 0, 1, 2 of 3") || le.ExitCode() != 1 {
		t.Errorf("message %q, exit code %d", err, le.ExitCode())
	}
}

// A program that cannot start is an error naming the rank; nothing is left running.
func TestLaunchStartFailure(t *testing.T) {
	spec, _, _, _ := childSpec(t, "report", 2)
	spec.Path = filepath.Join(t.TempDir(), "no-such-program")
	err := Launch(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "starting rank 0 of 2") {
		t.Fatalf("Launch = %v", err)
	}
	spec.Ranks = 0
	if err := Launch(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "0 ranks") {
		t.Fatalf("Launch of 0 ranks = %v", err)
	}
}

// Lines are prefixed whole, however the rank's writes split them.
func TestLinePrefixerSplitsWritesIntoLines(t *testing.T) {
	var out bytes.Buffer
	p := newLinePrefixer(&out, 2)
	for _, w := range []string{"ab", "c\nde", "f\n[rank 2] own\n[rank 3] not mine\nta", "il"} {
		if n, err := p.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	p.Flush()
	want := "[rank 2] abc\n[rank 2] def\n[rank 2] own\n[rank 2] [rank 3] not mine\n[rank 2] tail\n"
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
	}
}

func TestRankEnvReplacesLauncherVariables(t *testing.T) {
	env := RankEnv([]string{"HOME=/h", "RANK=5", "MASTER_ADDR=10.0.0.1", "FNET_RUN_ID=old", "TORCHELASTIC_RUN_ID=x",
		"TORCHELASTIC_USE_AGENT_STORE=True", "GROUP_RANK=1", "FNET_MASTER_PORT=29600", "PATH=/bin"}, 1, 4, 29511, "local-1")
	want := []string{"HOME=/h", "PATH=/bin", "RANK=1", "LOCAL_RANK=1", "WORLD_SIZE=4", "LOCAL_WORLD_SIZE=4",
		"MASTER_ADDR=127.0.0.1", "MASTER_PORT=29511", "FNET_RUN_ID=local-1"}
	if !slices.Equal(env, want) {
		t.Errorf("RankEnv = %q\nwant %q", env, want)
	}
}
