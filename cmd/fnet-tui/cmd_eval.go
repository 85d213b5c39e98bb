package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/pretrain"
	"github.com/fnet-tui/fnet-tui/train"
)

func init() {
	register(&command{
		name:    "eval",
		summary: "masked-LM loss/accuracy and NSP accuracy of a checkpoint on any corpus",
		usage:   "--ckpt CHECKPOINT --corpus PATH|gostd [--split all|train|heldout] [--batches N] [--seed S] [--device cpu|cuda|auto] [--json]",
		run:     runEval,
	})
}

func runEval(args []string) error {
	fs := newFlags("eval")
	ckpt := fs.String("ckpt", "", "checkpoint: a run directory, a checkpoint directory or a model.safetensors")
	spec := fs.String("corpus", "", "corpus: a file, a folder or gostd")
	split := fs.String("split", "all", "documents to use: all, train or heldout (the held-out split pretraining used)")
	heldOut := fs.Float64("held-out", corpus.DefaultHeldOut, "held-out fraction defining the splits")
	batches := fs.Int("batches", 0, "stop after this many batches (0 = the whole split)")
	batchSize := fs.Int("batch-size", 16, "sequences per batch")
	seed := fs.Uint64("seed", 1, "seed of the deterministic masking")
	asJSON := fs.Bool("json", false, "print one JSON object")
	inference := inferenceFlags(fs, os.Stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	inf, err := inference()
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *ckpt == "" || *spec == "" {
		return usagef("--ckpt and --corpus are required")
	}
	sp, err := corpus.ParseSplit(*split)
	if err != nil {
		return usagef("--split: %v", err)
	}
	ck, err := train.LoadCheckpoint(*ckpt)
	if err != nil {
		return err
	}
	if !ck.Model.Heads.MLM {
		return fmt.Errorf("%s has no masked-LM head", ck.Dir)
	}
	if ck.Tokenizer == nil {
		return fmt.Errorf("%s has no tokenizer", ck.Dir)
	}
	c, err := corpus.Open(*spec)
	if err != nil {
		return err
	}
	if c, err = c.WithHeldOut(*heldOut); err != nil {
		return usagef("--held-out: %v", err)
	}
	cfg := ck.Model.Config
	cfg.DropoutProb = 0
	heads := fnet.MaskedLMHeads
	if ck.Model.Heads.NSP {
		heads = fnet.PretrainingHeads
	}
	eng, err := inf.Engine(cfg, heads, ck.Model.Params)
	if err != nil {
		return err
	}
	defer eng.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t0 := time.Now()
	st, err := train.EvaluateCorpus(ctx, eng, c.Split(sp), ck.Tokenizer, pretrain.Options{SeqLen: cfg.SeqLen, BatchSize: *batchSize, Seed: *seed}, *batches)
	if err != nil {
		return err
	}
	res := map[string]any{"checkpoint": ck.Dir, "corpus": c.Spec(), "split": sp.String(), "examples": st.Examples,
		"mlm_loss": st.MLMLoss(), "mlm_acc": st.MLMAcc(), "masked_tokens": st.MLMCount, "seconds": time.Since(t0).Seconds()}
	if heads.NSP {
		res["nsp_acc"], res["nsp_loss"], res["loss"] = st.NSPAcc(), st.NSPLoss(), st.PretrainLoss()
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("%s on %s (%s split): %d examples, %.0f masked tokens\n", ck.Dir, c.Spec(), sp, st.Examples, st.MLMCount)
	fmt.Printf("  mlm loss %.4f  mlm acc %.4f", st.MLMLoss(), st.MLMAcc())
	if heads.NSP {
		fmt.Printf("  nsp loss %.4f  nsp acc %.4f  total loss %.4f", st.NSPLoss(), st.NSPAcc(), st.PretrainLoss())
	}
	fmt.Println()
	return nil
}
