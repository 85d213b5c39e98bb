package main

import (
	"context"
	"os"
	"strings"

	"github.com/fnet-tui/fnet-tui/dist"
	"github.com/fnet-tui/fnet-tui/train"
)

func init() {
	register(&command{
		name:    "pretrain",
		summary: "pretrain FNet (masked LM + next-sentence prediction) from a TOML config",
		usage:   "-c CONFIG [--set key=value ...] [--resume RUN_DIR|CHECKPOINT] [--runs DIR] [--name RUN_ID] [--gpus N]",
		run:     runPretrain,
	})
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runPretrain(args []string) error {
	fs := newFlags("pretrain")
	cfgPath := fs.String("c", "", "config file (TOML), e.g. configs/pretrain-mini.toml")
	var sets multiFlag
	fs.Var(&sets, "set", "override a config key, e.g. --set train.lr=3e-4 (repeatable)")
	resume := fs.String("resume", "", "continue a run directory (from its latest checkpoint) or a checkpoint directory")
	runs := fs.String("runs", os.Getenv("FNET_RUNS"), "runs folder (overrides run.dir; env FNET_RUNS)")
	name := fs.String("name", "", "run id (overrides run.name)")
	gpus := gpusFlag(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *cfgPath == "" && *resume == "" {
		return usagef("give -c CONFIG or --resume RUN_DIR")
	}
	req := trainRequest{command: "pretrain", fs: fs, args: args, configPath: *cfgPath, resume: *resume, overrides: sets, gpus: *gpus, gpusSet: flagSet(fs, "gpus")}
	return trainAsPlanned(req, func(ctx context.Context, coll dist.Collective) (string, error) {
		return train.Pretrain(ctx, train.Options{ConfigPath: *cfgPath, Overrides: sets, Resume: *resume, RunsDir: *runs, RunName: *name, Out: os.Stdout, Collective: coll})
	})
}
