package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/train"
)

// glueSub is one `fnet-tui glue` subcommand.
type glueSub struct {
	name    string
	summary string
	usage   string // arguments after "fnet-tui glue NAME"
	run     func(args []string, stdout, stderr io.Writer) error
}

var glueSubs = map[string]*glueSub{}

// registerGlue adds a glue subcommand; other files may call it from init.
func registerGlue(s *glueSub) {
	if _, dup := glueSubs[s.name]; dup {
		panic("fnet-tui: glue subcommand registered twice: " + s.name)
	}
	glueSubs[s.name] = s
}

func init() {
	register(&command{
		name:    "glue",
		summary: "GLUE: list tasks, download them, score, predict test sets, tabulate results, probe checkpoints",
		usage:   "tasks|download|score|predict|probe [arguments]   (fnet-tui glue help lists them)",
		run:     func(args []string) error { return runGlue(args, os.Stdout, os.Stderr) },
		subs:    glueSubcommands,
	})
	registerGlue(&glueSub{name: "tasks", summary: "list the tasks, their labels, metrics and which files are present",
		usage: "[--data DIR] [--json]", run: runGlueTasks})
	registerGlue(&glueSub{name: "download", summary: "fetch, verify and unpack the official GLUE archives",
		usage: "[TASK...] [--data DIR] [--force] [--base-url URL] [--skip-checksum] [--mrpc-dir DIR]", run: runGlueDownload})
	registerGlue(&glueSub{name: "score", summary: "score a submission-format predictions file against a labelled split",
		usage: "--task TASK [--split dev] PRED.tsv [--json] [--data DIR]", run: runGlueScore})
	// glue predict registers itself in cmd_glue_predict.go
}

func runGlue(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printGlueUsage(stderr)
		return usagef("missing glue command")
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		printGlueUsage(stdout)
		return nil
	}
	s, ok := glueSubs[name]
	if !ok {
		printGlueUsage(stderr)
		return usagef("unknown glue command %q", name)
	}
	return trimGluePrefix(s.run(args[1:], stdout, stderr))
}

// prefixTrimmed drops the package's "glue: " prefix, which would repeat
// the "fnet-tui glue: " that main prints, and keeps the error chain.
type prefixTrimmed struct{ err error }

func (e prefixTrimmed) Error() string { return strings.TrimPrefix(e.err.Error(), "glue: ") }
func (e prefixTrimmed) Unwrap() error { return e.err }

func trimGluePrefix(err error) error {
	if err == nil || !strings.HasPrefix(err.Error(), "glue: ") {
		return err
	}
	return prefixTrimmed{err}
}

// glueSubcommands is the glue table in name order.
func glueSubcommands() []subcommand {
	out := make([]subcommand, 0, len(glueSubs))
	for _, s := range glueSubs {
		out = append(out, subcommand{name: s.name, summary: s.summary, usage: s.usage})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func printGlueUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: fnet-tui glue COMMAND [arguments]")
	fmt.Fprintln(w, "\nfnet-tui glue commands:")
	for _, s := range glueSubcommands() {
		fmt.Fprintf(w, "  %-9s %s\n            fnet-tui glue %s %s\n", s.name, s.summary, s.name, s.usage)
	}
	fmt.Fprintf(w, "\nThe data folder is --data, else $%s, else $%s/glue, else ../shared/data/glue beside the repository.\n",
		glue.EnvGlueDir, glue.EnvDataDir)
}

// glueDataDir is --data when given, else the default folder.
func glueDataDir(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	return glue.DefaultDir()
}

func subUsage(sub string, format string, a ...any) error {
	return usagef("%s: %s (usage: fnet-tui glue %s %s)", sub, fmt.Sprintf(format, a...), sub, glueSubs[sub].usage)
}

// ---- glue tasks ----

type taskInfo struct {
	Name           string          `json:"name"`
	Display        string          `json:"display"`
	Dir            string          `json:"dir"`
	Labels         []string        `json:"labels"`
	Regression     bool            `json:"regression"`
	Metrics        []string        `json:"metrics"`
	ScoreMetric    string          `json:"score_metric"`
	SubmissionFile string          `json:"submission_file"`
	ModelTask      string          `json:"model_task"`
	Splits         map[string]bool `json:"splits"` // split -> file present
	Download       string          `json:"download,omitempty"`
}

func runGlueTasks(args []string, stdout, _ io.Writer) error {
	fs := newFlags("glue tasks")
	data := fs.String("data", "", "GLUE data folder")
	asJSON := fs.Bool("json", false, "print a JSON array")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return subUsage("tasks", "unexpected argument %q", pos[0])
	}
	dir, err := glueDataDir(*data)
	if err != nil {
		return err
	}
	var infos []taskInfo
	for _, t := range glue.AllTasks {
		info := taskInfo{Name: t.Name, Display: t.Display, Dir: t.Dir, Labels: t.Labels, Regression: t.IsRegression,
			Metrics: t.Metrics, ScoreMetric: t.ScoreMetric, SubmissionFile: t.SubmissionFile, ModelTask: t.ModelTask,
			Splits: map[string]bool{}}
		for _, s := range t.Splits() {
			f, _ := t.SplitFile(s)
			st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f)))
			info.Splits[s] = err == nil && st.Mode().IsRegular()
			if !info.Splits[s] {
				info.Download = glue.DownloadCommand(dir, t.Archive)
			}
		}
		infos = append(infos, info)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	fmt.Fprintf(stdout, "GLUE data folder: %s\n\n", dir)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tFOLDER\tLABELS\tMETRICS\tSUBMISSION\tFILES")
	for i, info := range infos {
		t := glue.AllTasks[i]
		labels := strings.Join(info.Labels, " ")
		if info.Regression {
			labels = "score 0-5"
		}
		var have, missing []string
		for _, s := range t.Splits() {
			if info.Splits[s] {
				have = append(have, s)
			} else {
				missing = append(missing, s)
			}
		}
		files := strings.Join(have, " ")
		if len(missing) > 0 {
			files = strings.TrimSpace(files + "  missing: " + strings.Join(missing, " ") + " (" + info.Download + ")")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", info.Name, info.Dir, labels, strings.Join(info.Metrics, " "), info.SubmissionFile, files)
	}
	return tw.Flush()
}

// ---- glue download ----

func runGlueDownload(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("glue download")
	data := fs.String("data", "", "GLUE data folder to download into")
	force := fs.Bool("force", false, "replace task folders that are already complete")
	base := fs.String("base-url", "", "mirror serving the official paths (default $"+glue.EnvBaseURL+" or "+glue.DefaultBaseURL+")")
	skip := fs.Bool("skip-checksum", false, "accept files whose size or SHA-256 differ from the official ones")
	mrpcDir := fs.String("mrpc-dir", "", "build MRPC from MSR's msr_paraphrase_{train,test}.txt in this folder instead of the SentEval copies")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	var archives []glue.Archive
	if len(pos) == 0 || (len(pos) == 1 && strings.EqualFold(pos[0], "all")) {
		archives = glue.Archives
	} else {
		seen := map[string]bool{}
		for _, p := range pos {
			a, err := glue.LookupArchive(p)
			if err != nil {
				return subUsage("download", "%v", err)
			}
			if !seen[a.Name] {
				seen[a.Name] = true
				archives = append(archives, a)
			}
		}
	}
	dir, err := glueDataDir(*data)
	if err != nil {
		return err
	}
	if *base == "" {
		*base = os.Getenv(glue.EnvBaseURL)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &glue.Downloader{DataDir: dir, BaseURL: *base, Force: *force, SkipChecksums: *skip, MRPCDir: *mrpcDir,
		Progress: progressPrinter(stderr)}
	var failed []string
	for _, a := range archives {
		res, err := d.Fetch(ctx, a)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "%s: %v\n", a.Name, err)
			failed = append(failed, a.Name)
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted; nothing half-written was left in %s", dir)
			}
		case res.Skipped:
			fmt.Fprintf(stdout, "%s: already complete in %s (--force replaces it)\n", a.Name, res.Dir)
		default:
			fmt.Fprintf(stdout, "%s: downloaded %s, installed %s\n", a.Name, humanBytes(res.Bytes), res.Dir)
			for _, w := range res.Warnings {
				fmt.Fprintf(stderr, "%s: warning: %s\n", a.Name, w)
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d downloads failed: %s", len(failed), len(archives), strings.Join(failed, ", "))
	}
	return nil
}

// progressPrinter reports each file at every tenth of its size (or every
// 16 MiB when the size is unknown).
func progressPrinter(w io.Writer) func(string, int64, int64) {
	var file string
	var next int64
	return func(name string, done, total int64) {
		if name != file {
			file, next = name, 0
		}
		step := int64(16 << 20)
		if total > 0 {
			step = max(total/10, 1)
		}
		if done < next && done != total {
			return
		}
		next = (done/step + 1) * step
		if total > 0 {
			fmt.Fprintf(w, "  %s: %s of %s (%d%%)\n", name, humanBytes(done), humanBytes(total), done*100/total)
		} else {
			fmt.Fprintf(w, "  %s: %s\n", name, humanBytes(done))
		}
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// ---- glue score ----

func runGlueScore(args []string, stdout, _ io.Writer) error {
	fs := newFlags("glue score")
	taskName := fs.String("task", "", "task the predictions are for (cola, sst2, mrpc, stsb, qqp, mnli, mnli-mm, qnli, rte, wnli)")
	split := fs.String("split", "dev", "labelled split to score against")
	asJSON := fs.Bool("json", false, "print one JSON object with the metrics by name")
	data := fs.String("data", "", "GLUE data folder")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *taskName == "" {
		return subUsage("score", "--task is required")
	}
	if len(pos) != 1 {
		return subUsage("score", "want one predictions file, got %d arguments", len(pos))
	}
	task, err := glue.Lookup(*taskName)
	if err != nil {
		return subUsage("score", "%v", err)
	}
	if !task.Labelled("dev") && !task.Labelled("train") {
		return fmt.Errorf("%s has no labelled split: its gold labels are held by the GLUE server, so submit %s there", task.Name, task.SubmissionFile)
	}
	task, s, err := glue.ResolveSplit(task, *split)
	if err != nil {
		return subUsage("score", "%v", err)
	}
	dir, err := glueDataDir(*data)
	if err != nil {
		return err
	}
	metrics, n, err := glue.ScoreFile(dir, task, s, pos[0])
	if err != nil {
		if hint := testPredictionsHint(dir, task, pos[0]); hint != "" {
			return fmt.Errorf("%w\n%s", trimGluePrefix(err), hint)
		}
		return err
	}
	if *asJSON {
		return writeScoreJSON(stdout, task, s, n, metrics)
	}
	fmt.Fprintf(stdout, "%s %s (%d examples, %s):", task.Name, s, n, pos[0])
	for _, m := range task.Metrics {
		fmt.Fprintf(stdout, "  %s %.4f", m, metrics[m])
	}
	fmt.Fprintln(stdout)
	return nil
}

// testPredictionsHint explains a file that failed to score because it holds
// test-set predictions (a finetuning run's predictions/TASK.tsv, or a file
// whose indices are exactly the test split's): GLUE's test labels are
// secret, and the run's dev-set predictions are what glue score can score.
// It is "" for any other file.
func testPredictionsHint(dataDir string, task glue.Task, path string) string {
	base := filepath.Base(path)
	devFile := ""
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	predDir := filepath.Dir(abs)
	run := filepath.Dir(predDir)
	inRun := filepath.Base(predDir) == rundir.PredictionsDir
	if inRun {
		_, err := os.Stat(filepath.Join(run, rundir.StatusFile))
		inRun = err == nil
	}
	why := ""
	if inRun {
		devFile = filepath.Join(filepath.Dir(path), train.DevPredictionsDir, base)
		why = fmt.Sprintf("%s is the run %s's test-set predictions", path, run)
	} else if sameIndices(dataDir, task, path) {
		why = fmt.Sprintf("%s holds predictions for the %s test split (its indices are the test set's)", path, task.Name)
	}
	if why == "" {
		return ""
	}
	hint := "hint: " + why + "; GLUE's test labels are secret, so only the GLUE server scores them.\n" +
		"      A finetuning run writes its best checkpoint's dev-set predictions to RUN/" +
		filepath.ToSlash(filepath.Join(rundir.PredictionsDir, train.DevPredictionsDir, task.SubmissionFile)) + ", which glue score can score"
	if devFile != "" {
		if _, err := os.Stat(devFile); err == nil {
			return hint + ":\n      fnet-tui glue score --task " + task.Name + " " + devFile
		}
		return hint + "; this run has none (runs finetuned before fnet-tui wrote dev predictions lack them: finetune again)"
	}
	return hint + "."
}

// sameIndices reports whether the predictions file holds exactly the
// indices of the task's test split.
func sameIndices(dataDir string, task glue.Task, path string) bool {
	preds, err := glue.ReadPredictions(path, task)
	if err != nil {
		return false
	}
	test, err := glue.Load(dataDir, task.Name, "test")
	if err != nil || len(test) != len(preds) {
		return false
	}
	want := make(map[int]bool, len(test))
	for _, ex := range test {
		want[ex.Index] = true
	}
	for _, p := range preds {
		if !want[p.Index] {
			return false
		}
	}
	return true
}

// writeScoreJSON prints {"task":..,"split":..,"examples":..,<metrics in the task's order>}.
func writeScoreJSON(w io.Writer, task glue.Task, split string, n int, metrics map[string]float64) error {
	var b bytes.Buffer
	field := func(k string, v any) error {
		if b.Len() > 0 {
			b.WriteByte(',')
		} else {
			b.WriteByte('{')
		}
		kj, _ := json.Marshal(k)
		vj, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
		return nil
	}
	field("task", task.Name)
	field("split", split)
	field("examples", n)
	for _, m := range task.Metrics {
		if err := field(m, metrics[m]); err != nil {
			return err
		}
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}
