package tui

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// LaunchSpec is a training run to start as a detached fnet-tui process.
type LaunchSpec struct {
	Kind      string   // "pretrain" or "finetune"
	Config    string   // TOML config path
	Overrides []string // "key=value", passed as --set
	From      string   // checkpoint to finetune from
	Resume    string   // run directory to continue from its latest checkpoint
	// Scratch is a finetune that starts from fresh weights (an LRA task):
	// no checkpoint to start from.
	Scratch bool
}

// DemoSpec is the offline first-run demo: a mini pretraining on the Go
// standard library's doc comments.
func DemoSpec(configsDir string) LaunchSpec {
	return LaunchSpec{
		Kind:      "pretrain",
		Config:    filepath.Join(configsDir, "pretrain-mini.toml"),
		Overrides: []string{"data.corpus=gostd"},
	}
}

// Args is the fnet-tui command line for the spec, runs going to runsDir.
func (s LaunchSpec) Args(runsDir string) ([]string, error) {
	switch s.Kind {
	case "pretrain", "finetune":
	default:
		return nil, fmt.Errorf("launch: unknown kind %q (want pretrain or finetune)", s.Kind)
	}
	if s.Config == "" {
		return nil, errors.New("launch: no config chosen")
	}
	args := []string{s.Kind, "-c", s.Config}
	for _, o := range s.Overrides {
		if err := checkOverride(o); err != nil {
			return nil, err
		}
		args = append(args, "--set", o)
	}
	if s.Kind == "finetune" && s.Resume == "" && !s.Scratch {
		if s.From == "" {
			return nil, errors.New("launch: finetuning needs a checkpoint to start from")
		}
		args = append(args, "--from", s.From)
	}
	if s.Resume != "" {
		args = append(args, "--resume", s.Resume)
	}
	if runsDir != "" {
		args = append(args, "--runs", runsDir)
	}
	return args, nil
}

func checkOverride(o string) error {
	k, _, ok := strings.Cut(o, "=")
	if !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(k, " \t") {
		return fmt.Errorf("override %q: want key=value, e.g. train.steps=200", o)
	}
	return nil
}

// ParseOverrides splits the launch form's override field: key=value pairs
// separated by spaces.
func ParseOverrides(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Fields(s) {
		if err := checkOverride(f); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Launcher starts training processes that outlive the dashboard.
type Launcher struct {
	Exe     string // the fnet-tui binary
	RunsDir string
	WorkDir string // the child's working directory ("" = ours)
}

// Launched is a started process; Wait reaps it (it must be called, or the
// exited child lingers as a zombie that looks alive to kill(pid, 0)).
type Launched struct {
	PID     int
	LogPath string // the process's stdout and stderr until its run directory exists
	cmd     *exec.Cmd
}

// Wait blocks until the process exits.
func (l *Launched) Wait() error { return l.cmd.Wait() }

// launchLogDir holds the output of launched processes; hidden, so the
// run scanner skips it.
const launchLogDir = ".launch"

// Start runs `fnet-tui <spec>` in its own session (setsid), so quitting
// the dashboard or closing its terminal does not stop the run.
func (l Launcher) Start(spec LaunchSpec, now time.Time) (*Launched, error) {
	args, err := spec.Args(l.RunsDir)
	if err != nil {
		return nil, err
	}
	logDir := filepath.Join(l.RunsDir, launchLogDir)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-%s.log", spec.Kind, now.Format("20060102-150405.000")))
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(l.Exe, args...)
	cmd.Dir = l.WorkDir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("launch %s: %w", strings.Join(args, " "), err)
	}
	return &Launched{PID: cmd.Process.Pid, LogPath: logPath, cmd: cmd}, nil
}

// StopRun asks a run to checkpoint and stop (SIGTERM to its pid).
func StopRun(st rundir.Status) error {
	if !st.Live() {
		return fmt.Errorf("run is not running (state %s, pid %d)", st.State, st.PID)
	}
	if h, err := os.Hostname(); err == nil && st.Host != "" && st.Host != h {
		return fmt.Errorf("run is on host %s, not this one", st.Host)
	}
	if err := syscall.Kill(st.PID, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop pid %d: %w", st.PID, err)
	}
	return nil
}

// ResumeSpec continues a stopped run from its latest checkpoint, with the
// resolved config the run saved.
func ResumeSpec(r rundir.Status, runDir string) (LaunchSpec, error) {
	if r.Live() {
		return LaunchSpec{}, errors.New("run is still running")
	}
	if r.Kind != "pretrain" && r.Kind != "finetune" {
		return LaunchSpec{}, fmt.Errorf("unknown run kind %q in %s", r.Kind, filepath.Join(runDir, rundir.StatusFile))
	}
	if r.State == rundir.StateDone {
		return LaunchSpec{}, errors.New("run is done: nothing to resume")
	}
	if _, ok := rundir.LatestCheckpoint(runDir); !ok {
		return LaunchSpec{}, fmt.Errorf("%s has no checkpoint to resume from", runDir)
	}
	return LaunchSpec{Kind: r.Kind, Config: filepath.Join(runDir, rundir.ConfigFile), Resume: runDir}, nil
}

// configEntry is a launchable config file.
type configEntry struct {
	Name string // file name, e.g. pretrain-mini.toml
	Path string
	Kind string // pretrain or finetune, from the name
	// Scratch: a finetune config that trains from scratch (lra-*.toml).
	Scratch bool
}

// needsCheckpoint says whether launching the config asks for a
// pretraining checkpoint to start from.
func (c configEntry) needsCheckpoint() bool { return c.Kind == "finetune" && !c.Scratch }

// listConfigs finds dir/pretrain-*.toml, dir/glue-*.toml and dir/lra-*.toml
// (Long Range Arena tasks, which finetune from scratch).
func listConfigs(dir string) ([]configEntry, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no configs folder %s", dir)
	}
	if err != nil {
		return nil, err
	}
	var out []configEntry
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".toml") {
			continue
		}
		switch {
		case strings.HasPrefix(n, "pretrain-"):
			out = append(out, configEntry{Name: n, Path: filepath.Join(dir, n), Kind: "pretrain"})
		case strings.HasPrefix(n, "glue-"):
			out = append(out, configEntry{Name: n, Path: filepath.Join(dir, n), Kind: "finetune"})
		case strings.HasPrefix(n, "lra-"):
			out = append(out, configEntry{Name: n, Path: filepath.Join(dir, n), Kind: "finetune", Scratch: true})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind == "pretrain"
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
