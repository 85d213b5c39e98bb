package main

import (
	"context"
	"os"

	"github.com/fnet-tui/fnet-tui/dist"
	"github.com/fnet-tui/fnet-tui/train"
)

func init() {
	register(&command{
		name:    "finetune",
		summary: "finetune on a GLUE task from a pretraining checkpoint (or from scratch)",
		usage:   "-c configs/glue-TASK.toml [--from CHECKPOINT] [--set key=value ...] [--resume RUN_DIR] [--runs DIR] [--name RUN_ID] [--gpus N]",
		run:     runFinetune,
	})
}

func runFinetune(args []string) error {
	fs := newFlags("finetune")
	cfgPath := fs.String("c", "", "config file (TOML), e.g. configs/glue-sst2.toml")
	from := fs.String("from", "", "pretraining checkpoint to start from (a run directory or checkpoint directory); overrides finetune.from")
	var sets multiFlag
	fs.Var(&sets, "set", "override a config key, e.g. --set train.lr=2e-5 (repeatable)")
	resume := fs.String("resume", "", "continue a finetuning run directory or checkpoint")
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
	req := trainRequest{command: "finetune", fs: fs, args: args, configPath: *cfgPath, resume: *resume, overrides: sets, gpus: *gpus, gpusSet: flagSet(fs, "gpus")}
	return trainAsPlanned(req, func(ctx context.Context, coll dist.Collective) (string, error) {
		return train.Finetune(ctx, train.Options{ConfigPath: *cfgPath, Overrides: sets, Resume: *resume, RunsDir: *runs, RunName: *name, Out: os.Stdout, Collective: coll}, *from)
	})
}
