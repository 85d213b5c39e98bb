package tui_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// e2eConfig is a tiny pretraining the end-to-end test launches from the
// dashboard: a few dozen steps of a one-layer model, a checkpoint every few
// steps, on the shared Gutenberg corpus with the BERT vocabulary.
const e2eConfig = `kind = "pretrain"

[model]
preset = "mini"
hidden_size = 32
num_layers = 1
intermediate_size = 64
max_positions = 64

[data]
corpus = %q
tokenizer = %q
seq_len = 32
batch_size = 4

[train]
steps = 20000
warmup_steps = 5
threads = 1

[eval]
every = 20
batches = 2

[checkpoint]
every = 10

[log]
every = 1
`

// tmux drives one tmux server of the test's own (its own socket).
type tmux struct {
	t      *testing.T
	socket string
}

func (x tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", x.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (x tmux) screen() string { return x.run("capture-pane", "-p", "-t", "e2e") }

func (x tmux) keys(keys ...string) { x.run(append([]string{"send-keys", "-t", "e2e"}, keys...)...) }

func (x tmux) text(s string) { x.run("send-keys", "-t", "e2e", "-l", s) }

// waitScreen polls the pane until ok accepts it, failing with the last
// screen after the deadline.
func (x tmux) waitScreen(what string, d time.Duration, ok func(string) bool) string {
	x.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := x.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("waiting for %s: last screen:\n%s", what, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (x tmux) waitFor(text string, d time.Duration) string {
	x.t.Helper()
	return x.waitScreen(strconv.Quote(text), d, func(s string) bool { return strings.Contains(s, text) })
}

var stepRE = regexp.MustCompile(`step (\d+)/(\d+)`)

func shownStep(screen string) int {
	m := stepRE.FindStringSubmatch(screen)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// missing skips for something outside the repository the test needs (a
// tool, the shared data), except under CI, which provides both: there a
// missing one fails rather than hide the test.
func missing(t *testing.T, why string) {
	t.Helper()
	if underCI(os.Getenv("CI")) {
		t.Fatal(why + " (CI is set: CI provides it)")
	}
	t.Skip(why)
}

// underCI reads $CI: set to anything but a false value ("false", "0").
func underCI(v string) bool {
	b, err := strconv.ParseBool(v)
	return v != "" && (err != nil || b)
}

func TestUnderCI(t *testing.T) {
	for v, want := range map[string]bool{"": false, "true": true, "1": true, "yes": true, "false": false, "0": false, "FALSE": false} {
		if got := underCI(v); got != want {
			t.Errorf("CI=%q: underCI %v, want %v", v, got, want)
		}
	}
}

// TestEndToEndInTmux builds the real binary and drives it in tmux: launch
// a tiny pretraining from the dashboard, watch the chart and step count
// move, stop it (confirmed), then query its checkpoint in the REPL view and
// with `fnet-tui repl` on stdin.
func TestEndToEndInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		missing(t, "tmux is not installed (.ci/run installs it): cannot drive the dashboard")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(repo, "..", "shared", "data")
	if d := os.Getenv("FNET_DATA"); d != "" {
		data = d
	}
	corpus := filepath.Join(data, "corpus", "gutenberg")
	vocab := filepath.Join(data, "tokenizer", "bert-base-uncased-vocab.txt")
	for _, p := range []string{corpus, vocab} {
		if _, err := os.Stat(p); err != nil {
			missing(t, fmt.Sprintf("shared data missing (%v): the e2e run trains on ../shared/data", err))
		}
	}

	work := t.TempDir()
	bin := filepath.Join(work, "fnet-tui")
	build := exec.Command("go", "build", "-o", bin, "./cmd/fnet-tui")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	help, _ := exec.Command(bin, "help").CombinedOutput()
	if !regexp.MustCompile(`(?m)^\s+pretrain\s`).Match(help) {
		t.Fatalf("`fnet-tui help` does not list pretrain: the dashboard launches it\n%s", help)
	}

	if err := os.MkdirAll(filepath.Join(work, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(e2eConfig, corpus, vocab)
	if err := os.WriteFile(filepath.Join(work, "configs", "pretrain-e2e.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(work, "runs")
	x := tmux{t: t, socket: fmt.Sprintf("fnet-e2e-%d", os.Getpid())}
	x.run("new-session", "-d", "-s", "e2e", "-x", "100", "-y", "30", "-c", work,
		"env", "NO_COLOR=1", bin, "--runs", "runs", "--configs", "configs")
	t.Cleanup(func() {
		exec.Command("tmux", "-L", x.socket, "kill-server").Run()
		// The trainer is detached on purpose; end it if the test left it running.
		if ents, _ := rundir.ScanRuns(runs); len(ents) > 0 {
			for _, e := range ents {
				if e.Status.Live() {
					syscall.Kill(e.Status.PID, syscall.SIGKILL)
				}
			}
		}
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(runs, "*", "train.log"))
			logs2, _ := filepath.Glob(filepath.Join(runs, ".launch", "*.log"))
			for _, l := range append(logs, logs2...) {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, b)
			}
		}
	})

	x.waitFor("No runs in runs yet", 20*time.Second)
	x.keys("n")
	x.waitFor("pretrain-e2e.toml", 10*time.Second)
	// A bad override (the form's own hint once named train.batch_size; the
	// key is data.batch_size) is refused before anything starts, in the
	// trainer's words, and leaves no run behind.
	x.keys("f")
	x.text("train.batch_size=8")
	x.keys("Enter", "Enter")
	x.waitFor("not started", 20*time.Second)
	if s := x.screen(); !strings.Contains(s, "batch_size") || strings.Contains(s, "started pid") {
		t.Errorf("the refused launch is not explained:\n%s", s)
	}
	if ents, _ := rundir.ScanRuns(runs); len(ents) != 0 {
		t.Fatalf("a refused launch left runs: %v", ents)
	}
	x.keys("f", "C-u", "Enter") // clear the overrides, back to the configs
	x.keys("Enter")
	x.waitFor("started pid", 10*time.Second)
	x.keys("Escape")
	x.waitFor("running", 60*time.Second)
	x.keys("Enter") // open the run
	first := x.waitScreen("the step count", 60*time.Second, func(s string) bool { return shownStep(s) > 0 })
	later := x.waitScreen("the step count to move", 120*time.Second, func(s string) bool { return shownStep(s) > shownStep(first)+5 })
	if !strings.ContainsAny(later, "⠁⠂⠄⡀⠈⠐⠠⢀⣀⣤⣶⣿") {
		t.Errorf("no braille chart on the run view:\n%s", later)
	}
	if !strings.Contains(later, "Throughput") || !strings.Contains(later, "train.log") {
		t.Errorf("run view panels missing:\n%s", later)
	}
	x.waitScreen("a checkpoint", 120*time.Second, func(s string) bool { return strings.Contains(s, "▸step-") })

	x.keys("s")
	x.waitFor("[y/N]", 10*time.Second)
	x.keys("y")
	x.waitFor("sent SIGTERM", 10*time.Second)
	stopped := x.waitFor("stopped", 120*time.Second)
	atStop := shownStep(stopped)
	if atStop <= 0 || atStop >= 20000 {
		t.Errorf("stopped at step %d, want mid-run", atStop)
	}

	x.keys("p") // query the latest checkpoint in the REPL view
	x.waitScreen("the checkpoint to load", 60*time.Second, func(s string) bool {
		return strings.Contains(s, "› ") || strings.Contains(s, "cannot load")
	})
	if s := x.screen(); strings.Contains(s, "cannot load") {
		t.Fatalf("the REPL could not load the checkpoint (is package infer wired into cmd/fnet-tui?):\n%s", s)
	}
	x.text("the [MASK] of the house.")
	x.keys("Enter")
	answer := x.waitFor("[MASK] 1", 60*time.Second)
	if !strings.Contains(answer, " ms)") || !strings.Contains(answer, "%") {
		t.Errorf("REPL answer lacks latency or probabilities:\n%s", answer)
	}
	x.keys("C-c")

	// The same query through `fnet-tui repl` with stdin not a terminal.
	ents, err := rundir.ScanRuns(runs)
	if err != nil || len(ents) != 1 {
		t.Fatalf("runs: %v %v", ents, err)
	}
	repl := exec.Command(bin, "repl", "--ckpt", ents[0].Dir, "--k", "3")
	repl.Stdin = strings.NewReader("the [MASK] of the house.\n")
	out, err := repl.CombinedOutput()
	if err != nil {
		t.Fatalf("fnet-tui repl: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "[MASK] 1") || strings.Count(string(out), "%") != 3 {
		t.Errorf("plain repl answer:\n%s", out)
	}
}
