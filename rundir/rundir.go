// Package rundir is the run-directory contract between trainers and readers
// (the dashboard, `fnet-tui runs`): every training run is one process that
// owns one directory holding config.toml, status.json, metrics.jsonl,
// train.log and checkpoints/. See docs/RUNS.md.
package rundir

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/atomicfile"
)

// Run states, in status.json's "state".
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateStopping = "stopping"
	StateStopped  = "stopped"
	StateDone     = "done"
	StateFailed   = "failed"
)

// File and directory names inside a run directory.
const (
	ConfigFile     = "config.toml"
	StatusFile     = "status.json"
	MetricsFile    = "metrics.jsonl"
	LogFile        = "train.log"
	CheckpointsDir = "checkpoints"
	LatestLink     = "latest"
	BestLink       = "best"         // finetuning: the checkpoint with the best dev score
	TrainerFile    = "trainer.json" // in a checkpoint: step, schedule, data position, and a finetune's dev score
	PredictionsDir = "predictions"
	RanksDir       = "ranks" // data parallel: ranks/<N>.log, the log of rank N ≥ 1 (rank 0's is train.log)
)

// Status is status.json. It is rewritten atomically (temp file + rename).
type Status struct {
	State       string     `json:"state"`
	Kind        string     `json:"kind"` // "pretrain" or "finetune"
	Task        string     `json:"task"` // GLUE task for finetuning, else ""
	Config      string     `json:"config,omitempty"`
	PID         int        `json:"pid"`
	Host        string     `json:"host"`
	Device      string     `json:"device"`
	Step        int        `json:"step"`
	TotalSteps  int        `json:"total_steps"`
	StartedAt   time.Time  `json:"started_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	EndedAt     *time.Time `json:"ended_at"`
	Error       string     `json:"error"`
	ResumedFrom string     `json:"resumed_from"`
	// WorldSize is the number of data-parallel ranks (rank 0 writes the
	// status); omitted for one process.
	WorldSize int `json:"world_size,omitempty"`
}

// Metric is one line of metrics.jsonl: "t", "step", "split" and any number
// of named values. Non-finite values are written as null.
type Metric struct {
	T      time.Time
	Step   int
	Split  string // "train", "eval", "system"
	Task   string // GLUE task on finetuning eval lines
	Values map[string]float64
}

// MarshalJSON writes the flat object of the contract, NaN/Inf as null.
func (m Metric) MarshalJSON() ([]byte, error) {
	obj := make(map[string]any, len(m.Values)+4)
	for k, v := range m.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			obj[k] = nil
		} else {
			obj[k] = v
		}
	}
	obj["t"] = m.T.UTC().Format(time.RFC3339Nano)
	obj["step"] = m.Step
	obj["split"] = m.Split
	if m.Task != "" {
		obj["task"] = m.Task
	}
	return json.Marshal(obj)
}

// UnmarshalJSON reads one metrics line; unknown fields become Values,
// non-numeric ones are ignored, null becomes NaN. "t" may be RFC 3339 or unix
// seconds, within the years 0000-9999 (so the line re-encodes).
func (m *Metric) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*m = Metric{Values: map[string]float64{}}
	for k, v := range raw {
		switch k {
		case "t":
			var s string
			if json.Unmarshal(v, &s) == nil {
				t, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					return fmt.Errorf("field t: %w", err)
				}
				m.T = t
			} else {
				var f float64
				if err := json.Unmarshal(v, &f); err != nil {
					return fmt.Errorf("field t: %w", err)
				}
				sec, frac := math.Modf(f)
				m.T = time.Unix(int64(sec), int64(frac*1e9)).UTC()
			}
		case "step":
			var f float64
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("field step: %w", err)
			}
			m.Step = int(f)
		case "split":
			_ = json.Unmarshal(v, &m.Split)
		case "task":
			_ = json.Unmarshal(v, &m.Task)
		default:
			if string(v) == "null" {
				m.Values[k] = math.NaN()
				continue
			}
			var f float64
			if json.Unmarshal(v, &f) == nil {
				m.Values[k] = f
			}
		}
	}
	if !rfc3339Year(m.T) {
		return fmt.Errorf("field t: %v is outside the years 0000-9999 that RFC 3339 writes", m.T.UTC())
	}
	return nil
}

// rfc3339Year reports whether t's UTC year has the four digits RFC 3339
// (MarshalJSON's "t") can write and time.Parse read back.
func rfc3339Year(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// WriteStatus rewrites dir/status.json atomically.
func WriteStatus(dir string, s Status) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, StatusFile), append(b, '\n'), 0o644)
}

// ReadStatus reads dir/status.json.
func ReadStatus(dir string) (Status, error) {
	var s Status
	b, err := os.ReadFile(filepath.Join(dir, StatusFile))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(dir, StatusFile), err)
	}
	return s, nil
}

// NewRunID makes "<kind>-<config-name>-<YYYYmmdd-HHMMSS>", filesystem-safe.
func NewRunID(kind, configName string, t time.Time) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, strings.TrimSuffix(filepath.Base(configName), filepath.Ext(configName)))
	return fmt.Sprintf("%s-%s-%s", kind, name, t.Format("20060102-150405"))
}
