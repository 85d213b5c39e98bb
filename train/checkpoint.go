package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/atomicfile"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// Files of a checkpoint directory besides the model and optimizer.
const (
	TrainerFile        = rundir.TrainerFile // the contract's: the dashboard reads a finetune's dev score from it
	SPTokenizerFile    = "tokenizer.model"  // SentencePiece
	WordPieceVocabFile = "vocab.txt"        // BERT WordPiece
	BestLink           = rundir.BestLink    // finetuning: the best dev checkpoint
)

// TrainerState is trainer.json: everything besides weights and optimizer
// moments that a run needs to continue exactly where it stopped.
type TrainerState struct {
	Version    int             `json:"version"`
	Kind       string          `json:"kind"`
	Task       string          `json:"task,omitempty"`
	Step       int             `json:"step"`        // optimizer updates done
	TotalSteps int             `json:"total_steps"` // the schedule's length
	MicroSteps uint64          `json:"micro_steps"` // micro-batches consumed: the dropout counter
	Seed       uint64          `json:"seed"`
	Data       json.RawMessage `json:"data"` // the data stream's position (pretrain.State or the finetuning cursor)
	LR         float64         `json:"lr"`   // of the last update (informational; the schedule is a function of step)
	Tokens     int64           `json:"tokens_seen"`
	ElapsedS   float64         `json:"elapsed_s"`
	SavedAt    time.Time       `json:"saved_at"`
	Config     string          `json:"config"` // the run's config file
	Metric     string          `json:"metric,omitempty"`
	Score      *float64        `json:"score,omitempty"` // finetuning dev score at this step
}

const trainerStateVersion = 1

// StepDirName is the directory of the checkpoint after `step` updates.
func StepDirName(step int) string { return fmt.Sprintf("step-%09d", step) }

// SaveCheckpoint writes a complete checkpoint under runDir/checkpoints: a
// temporary directory is filled, synced and renamed to step-NNNNNNNNN, and
// only then does the latest link move. A crash at any point leaves the
// previous checkpoint loadable.
func SaveCheckpoint(runDir string, eng fnet.Engine, tok tokenizer.Tokenizer, ts TrainerState) (string, error) {
	ckDir := filepath.Join(runDir, rundir.CheckpointsDir)
	name := StepDirName(ts.Step)
	final := filepath.Join(ckDir, name)
	tmp := filepath.Join(ckDir, fmt.Sprintf(".tmp-%s-%d", name, os.Getpid()))
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("checkpoint %s: %w", final, err)
	}
	cfg, heads := eng.Config(), eng.Heads()
	params, err := eng.Params()
	if err != nil {
		return fail(fmt.Errorf("reading the parameters: %w", err))
	}
	if err := fnet.SaveModel(filepath.Join(tmp, fnet.ModelFile), cfg, heads, params); err != nil {
		return fail(err)
	}
	opt, err := eng.Optimizer()
	if err != nil {
		return fail(fmt.Errorf("reading the optimizer state: %w", err))
	}
	if err := fnet.SaveOptimizer(filepath.Join(tmp, fnet.OptimizerFile), cfg, heads, opt); err != nil {
		return fail(err)
	}
	if tok != nil {
		if err := writeCheckpointTokenizer(tmp, tok); err != nil {
			return fail(err)
		}
	}
	ts.Version = trainerStateVersion
	ts.SavedAt = time.Now().UTC()
	b, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := atomicfile.Write(filepath.Join(tmp, TrainerFile), append(b, '\n'), 0o644); err != nil {
		return fail(err)
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return fail(err)
	}
	// A checkpoint of this step may exist already (a resumed run saving the
	// step it resumed from). It is never renamed away while latest may
	// point at it: the new one gets a name of its own, latest moves to it,
	// and only then does the old one go.
	if _, err := os.Stat(final); err == nil {
		name = fmt.Sprintf("%s-r%d", name, time.Now().UnixNano())
		final = filepath.Join(ckDir, name)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fail(err)
	}
	if err := atomicfile.SyncDir(ckDir); err != nil {
		return "", err
	}
	if err := SetLink(ckDir, rundir.LatestLink, name); err != nil {
		return "", err
	}
	removeSupersededSameStep(ckDir, StepDirName(ts.Step), name)
	return final, nil
}

// removeSupersededSameStep deletes the other checkpoints of one step once
// latest points at the newest (best keeps its own unless it moves too).
func removeSupersededSameStep(ckDir, stepName, keep string) {
	best, _ := os.Readlink(filepath.Join(ckDir, BestLink))
	ents, _ := os.ReadDir(ckDir)
	for _, e := range ents {
		n := e.Name()
		if n != keep && n != best && (n == stepName || strings.HasPrefix(n, stepName+"-r")) {
			os.RemoveAll(filepath.Join(ckDir, n))
		}
	}
}

// SetLink points ckDir/link at target atomically (a new symlink renamed over
// the old one).
func SetLink(ckDir, link, target string) error {
	tmp := filepath.Join(ckDir, fmt.Sprintf(".%s.tmp-%d", link, os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(ckDir, link)); err != nil {
		os.Remove(tmp)
		return err
	}
	return atomicfile.SyncDir(ckDir)
}

func tokenizerFileName(tok tokenizer.Tokenizer) string {
	if tok.Kind() == "wordpiece" {
		return WordPieceVocabFile
	}
	return SPTokenizerFile
}

// ListCheckpoints returns the step directories of a run's checkpoints
// folder, oldest first.
func ListCheckpoints(ckDir string) ([]string, error) {
	ents, err := os.ReadDir(ckDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "step-") && !strings.Contains(e.Name(), ".old-") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out) // step-N, then step-N-r<time> of a later save of the same step
	return out, nil
}

// completeCheckpoint reports whether a checkpoint directory holds every
// file a resume needs, with a trainer.json that parses.
func completeCheckpoint(dir string) bool {
	for _, f := range []string{fnet.ModelFile, fnet.OptimizerFile, TrainerFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			return false
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, TrainerFile))
	var ts TrainerState
	return err == nil && json.Unmarshal(b, &ts) == nil
}

// newestComplete is the newest complete checkpoint of a checkpoints folder
// and how many newer incomplete ones it passed over.
func newestComplete(ckDir string) (string, int, error) {
	all, err := ListCheckpoints(ckDir)
	if err != nil {
		return "", 0, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if completeCheckpoint(filepath.Join(ckDir, all[i])) {
			return filepath.Join(ckDir, all[i]), len(all) - 1 - i, nil
		}
	}
	return "", 0, fmt.Errorf("%s holds no complete checkpoint", ckDir)
}

// PruneCheckpoints keeps the newest `keep` step directories (0 keeps all)
// and never removes one that latest or best points at.
func PruneCheckpoints(ckDir string, keep int) error {
	if keep <= 0 {
		return nil
	}
	all, err := ListCheckpoints(ckDir)
	if err != nil {
		return err
	}
	protected := map[string]bool{}
	for _, l := range []string{rundir.LatestLink, BestLink} {
		if t, err := os.Readlink(filepath.Join(ckDir, l)); err == nil {
			protected[filepath.Base(t)] = true
		}
	}
	for i := 0; i < len(all)-keep; i++ {
		if !protected[all[i]] {
			if err := os.RemoveAll(filepath.Join(ckDir, all[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

// Checkpoint is a loaded checkpoint directory.
type Checkpoint struct {
	Dir       string
	Model     *fnet.LoadedModel
	Trainer   *TrainerState // nil for weights without trainer.json
	Tokenizer tokenizer.Tokenizer
	// Note says when latest was missing or dangling and the newest
	// complete checkpoint was used instead (print it).
	Note string
}

// ResolveCheckpoint turns a run directory, its checkpoints folder, or a
// checkpoint directory or model file into the checkpoint directory.
func ResolveCheckpoint(path string) (string, error) {
	dir, _, err := resolveCheckpoint(path)
	return dir, err
}

// resolveCheckpoint is ResolveCheckpoint with a note when latest was
// missing or dangling (a writer killed mid-save) and it fell back to the
// newest complete checkpoint.
func resolveCheckpoint(path string) (string, string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", "", err
	}
	if !st.IsDir() {
		return filepath.Dir(path), "", nil
	}
	if _, err := os.Stat(filepath.Join(path, fnet.ModelFile)); err == nil {
		return path, "", nil // a checkpoint directory itself
	}
	// a run directory, or its checkpoints folder
	for _, ckDir := range []string{filepath.Join(path, rundir.CheckpointsDir), path} {
		link := filepath.Join(ckDir, rundir.LatestLink)
		if t, err := filepath.EvalSymlinks(link); err == nil {
			return t, "", nil
		}
		if dir, _, err := newestComplete(ckDir); err == nil {
			why := "is missing"
			if target, err := os.Readlink(link); err == nil {
				why = "points at " + target + ", which does not exist"
			}
			return dir, fmt.Sprintf("%s %s: using the newest complete checkpoint, %s", link, why, filepath.Base(dir)), nil
		}
	}
	if _, err := os.Stat(filepath.Join(path, rundir.StatusFile)); err == nil {
		return "", "", fmt.Errorf("%s: no checkpoint yet (the run ended before its first one); start it again without --resume", path)
	}
	return "", "", fmt.Errorf("%s: no checkpoint here (no %s, no checkpoints/latest)", path, fnet.ModelFile)
}

// LoadCheckpoint reads a checkpoint's model, trainer state and tokenizer.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	if ck, ok, err := loadHFFolder(path); ok { // a transformers folder (checkpoint_hf.go)
		return ck, err
	}
	dir, note, err := resolveCheckpoint(path)
	if err != nil {
		return nil, err
	}
	modelPath := filepath.Join(dir, fnet.ModelFile)
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		modelPath = path
	}
	m, err := fnet.LoadModel(modelPath)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Dir: dir, Model: m, Note: note}
	if b, err := os.ReadFile(filepath.Join(dir, TrainerFile)); err == nil {
		var ts TrainerState
		if err := json.Unmarshal(b, &ts); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, TrainerFile), err)
		}
		ck.Trainer = &ts
	}
	for _, name := range tokenizerFiles {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			if ck.Tokenizer, err = loadCheckpointTokenizer(p); err != nil {
				return nil, err
			}
			break
		}
	}
	return ck, nil
}
