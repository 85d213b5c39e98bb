package rundir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RunEntry is one run directory found by ScanRuns.
type RunEntry struct {
	ID        string // the directory's name
	Dir       string
	Status    Status
	StatusErr error     // status.json unreadable or malformed (the run still shows)
	ModTime   time.Time // of status.json, or of the directory when it has none
}

// ScanRuns lists the run directories under root: every subdirectory that
// holds a status.json or a metrics.jsonl. Hidden entries (".launch", temp
// files) are skipped. A missing root is not an error: there are no runs yet.
// Runs are sorted newest first by start time, then by ID.
func ScanRuns(root string) ([]RunEntry, error) {
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("runs folder %s: %w", root, err)
	}
	var runs []RunEntry
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(root, e.Name())
		re := RunEntry{ID: e.Name(), Dir: dir}
		fi, serr := os.Stat(filepath.Join(dir, StatusFile))
		switch {
		case serr == nil:
			re.ModTime = fi.ModTime()
			re.Status, re.StatusErr = ReadStatus(dir)
		case errors.Is(serr, fs.ErrNotExist):
			if _, merr := os.Stat(filepath.Join(dir, MetricsFile)); merr != nil {
				continue // not a run directory
			}
			re.StatusErr = fmt.Errorf("%s: no %s", dir, StatusFile)
			if di, err := e.Info(); err == nil {
				re.ModTime = di.ModTime()
			}
		default:
			re.StatusErr = serr
		}
		runs = append(runs, re)
	}
	sort.SliceStable(runs, func(i, j int) bool {
		a, b := runs[i].Status.StartedAt, runs[j].Status.StartedAt
		if !a.Equal(b) {
			return a.After(b)
		}
		return runs[i].ID > runs[j].ID
	})
	return runs, nil
}

// Checkpoint is one complete checkpoint directory of a run.
type Checkpoint struct {
	Step    int
	Dir     string
	Latest  bool // the `latest` link points here
	Best    bool // the `best` link (finetuning's best dev checkpoint) points here
	ModTime time.Time
}

// Best is what a finetuning run's best checkpoint scored on the dev set,
// from its trainer.json.
type Best struct {
	Step   int
	Metric string  // the task's score metric, e.g. "mcc"
	Score  float64 // its dev value
	Dir    string
}

// BestCheckpoint reads dir/checkpoints/best/trainer.json; ok is false
// when the run has no best checkpoint (pretraining, or none yet) or it
// does not say its score.
func BestCheckpoint(runDir string) (b Best, ok bool) {
	target, err := filepath.EvalSymlinks(filepath.Join(runDir, CheckpointsDir, BestLink))
	if err != nil {
		return Best{}, false
	}
	raw, err := os.ReadFile(filepath.Join(target, TrainerFile))
	if err != nil {
		return Best{}, false
	}
	var t struct {
		Step   int      `json:"step"`
		Metric string   `json:"metric"`
		Score  *float64 `json:"score"`
	}
	if json.Unmarshal(raw, &t) != nil || t.Score == nil || t.Metric == "" {
		return Best{}, false
	}
	return Best{Step: t.Step, Metric: t.Metric, Score: *t.Score, Dir: target}, true
}

// checkpointPrefix names checkpoint directories: step-000002000, or
// step-000002000-r<time> for a later save of the same step.
const checkpointPrefix = "step-"

// Checkpoints lists dir/checkpoints/step-* oldest first. Only directories
// whose name parses are listed: temp names of a checkpoint being written
// are skipped, so a reader never offers half a checkpoint.
func Checkpoints(runDir string) ([]Checkpoint, error) {
	cdir := filepath.Join(runDir, CheckpointsDir)
	ents, err := os.ReadDir(cdir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	latest, _ := os.Readlink(filepath.Join(cdir, LatestLink))
	latest = filepath.Base(latest)
	best, _ := os.Readlink(filepath.Join(cdir, BestLink))
	best = filepath.Base(best)
	var out []Checkpoint
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, checkpointPrefix) {
			continue
		}
		num, resave, _ := strings.Cut(strings.TrimPrefix(name, checkpointPrefix), "-r")
		step, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		if resave != "" {
			if _, err := strconv.ParseInt(resave, 10, 64); err != nil {
				continue
			}
		}
		c := Checkpoint{Step: step, Dir: filepath.Join(cdir, name), Latest: name == latest, Best: best != "." && name == best}
		if fi, err := e.Info(); err == nil {
			c.ModTime = fi.ModTime()
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out, nil
}

// LatestCheckpoint resolves dir/checkpoints/latest, the newest complete
// checkpoint. ok is false when the run has none yet.
func LatestCheckpoint(runDir string) (dir string, ok bool) {
	link := filepath.Join(runDir, CheckpointsDir, LatestLink)
	target, err := filepath.EvalSymlinks(link)
	if err != nil {
		return "", false
	}
	return target, true
}

// Live reports whether the run's process still exists: a status saying
// "running" whose pid is gone means the trainer died without a word.
// Runs recorded on another host are taken at their word.
func (s Status) Live() bool {
	if s.State != StateRunning && s.State != StateStarting && s.State != StateStopping {
		return false
	}
	if s.PID <= 0 {
		return false
	}
	if h, err := os.Hostname(); err == nil && s.Host != "" && s.Host != h {
		return true
	}
	err := syscall.Kill(s.PID, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
