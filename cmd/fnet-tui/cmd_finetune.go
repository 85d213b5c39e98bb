package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fnet-tui/fnet-tui/train"
)

func init() {
	register(&command{
		name:    "finetune",
		summary: "finetune on a GLUE task from a pretraining checkpoint (or from scratch)",
		usage:   "-c configs/glue-TASK.toml [--from CHECKPOINT] [--set key=value ...] [--resume RUN_DIR] [--runs DIR] [--name RUN_ID]",
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := train.Finetune(ctx, train.Options{ConfigPath: *cfgPath, Overrides: sets, Resume: *resume, RunsDir: *runs, RunName: *name, Out: os.Stdout}, *from)
	if errors.Is(err, train.ErrStopped) {
		fmt.Printf("run %s stopped; resume with: fnet-tui finetune --resume %s\n", dir, dir)
		return nil
	}
	if err != nil {
		if dir != "" {
			return fmt.Errorf("%w (run directory %s)", err, dir)
		}
		return err
	}
	fmt.Printf("run %s done\n", dir)
	return nil
}
