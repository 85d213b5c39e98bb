package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/tokenizer"
	"github.com/fnet-tui/fnet-tui/train"
)

func init() {
	registerGlue(&glueSub{name: "probe",
		summary: "linear probe: how much a checkpoint's frozen features know about a task (vs random weights)",
		usage:   "--ckpt CHECKPOINT | --random TOKENIZER [--preset mini] --task TASK [--max-train N] [--seed N] [--data DIR] [--device cpu|cuda|auto] [--json]",
		run:     runGlueProbe})
}

func runGlueProbe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("glue probe")
	ckpt := fs.String("ckpt", "", "a checkpoint (or run directory) whose encoder is probed")
	random := fs.String("random", "", "probe randomly initialised weights instead, with this tokenizer (.model or vocab.txt): the baseline")
	preset := fs.String("preset", "mini", "model preset for --random")
	taskName := fs.String("task", "", "GLUE task (cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli)")
	maxTrain := fs.Int("max-train", 5000, "training examples the probe fits on (0 = all)")
	seed := fs.Uint64("seed", 1, "seed of the random weights and of the held-out split that picks the ridge strength")
	data := fs.String("data", "", "GLUE data folder (default: $FNET_GLUE_DIR, $FNET_DATA/glue or ../shared/data/glue)")
	asJSON := fs.Bool("json", false, "print one JSON object per feature set")
	inference := inferenceFlags(fs, stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *taskName == "" || (*ckpt == "") == (*random == "") {
		return subUsage("probe", "--task and exactly one of --ckpt or --random are required")
	}
	if *maxTrain < 0 {
		return subUsage("probe", "--max-train %d: want 0 (all) or more", *maxTrain)
	}
	task, err := glue.Lookup(*taskName)
	if err != nil {
		return subUsage("probe", "%v", err)
	}
	dataDir := *data
	if dataDir == "" {
		if dataDir, err = glue.DefaultDir(); err != nil {
			return err
		}
	}
	inf, err := inference()
	if err != nil {
		return err
	}
	m := train.ProbeModel{Seed: *seed, Inference: inf}
	source := *ckpt
	if *ckpt != "" {
		ck, err := train.LoadCheckpoint(*ckpt)
		if err != nil {
			return err
		}
		if ck.Tokenizer == nil {
			return fmt.Errorf("%s has no tokenizer", ck.Dir)
		}
		m.Config, m.Params, m.Tokenizer = ck.Model.Config, ck.Model.Params, ck.Tokenizer
	} else {
		if m.Config, err = fnet.PresetConfig(*preset); err != nil {
			return subUsage("probe", "--preset: %v", err)
		}
		if m.Tokenizer, err = tokenizer.Load(*random); err != nil {
			return fmt.Errorf("--random: %w", err)
		}
		m.Config.VocabSize, m.Config.PadTokenID = m.Tokenizer.VocabSize(), m.Tokenizer.Special().Pad
		source = fmt.Sprintf("random %s weights (seed %d)", *preset, *seed)
	}
	res, err := train.Probe(context.Background(), m, dataDir, task, *maxTrain)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range res {
			obj := map[string]any{"task": task.Name, "features": r.Features, "lambda": r.Lambda, "source": source}
			for k, v := range r.Metrics {
				obj[k] = v
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintf(stdout, "%s dev, ridge probe on frozen features of %s\n", task.Display, source)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "features\tλ\tdev metrics")
	for _, r := range res {
		names := make([]string, 0, len(r.Metrics))
		for k := range r.Metrics {
			names = append(names, k)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, k := range names {
			parts[i] = fmt.Sprintf("%s %.4f", k, r.Metrics[k])
		}
		fmt.Fprintf(tw, "%s\t%g\t%s\n", r.Features, r.Lambda, strings.Join(parts, ", "))
	}
	return tw.Flush()
}
