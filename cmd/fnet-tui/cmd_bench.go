package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/kernels"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "time full training steps (forward, backward, AdamW) of a preset model",
		usage:   "[--preset mini|small|base] [--steps N] [--warmup N] [--mixing auto|fft|dft] [--json] [--ops] [--cpuprofile FILE]",
		run:     runBench,
	})
}

func runBench(args []string) error {
	fs := newFlags("bench")
	preset := fs.String("preset", "mini", "model preset: mini, small, base or large")
	steps := fs.Int("steps", 10, "timed steps")
	warmup := fs.Int("warmup", 3, "untimed warm-up steps")
	mixing := fs.String("mixing", "auto", "Fourier mixing implementation: auto, fft or dft")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a pprof CPU profile of the timed steps to this file")
	ops := fs.Bool("ops", false, "time each operator kind and print where a step's time goes")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if _, ok := fnet.BenchShapes[*preset]; !ok {
		return usagef("unknown preset %q (want mini, small, base or large)", *preset)
	}
	if *steps < 1 || *warmup < 0 {
		return usagef("--steps must be at least 1 and --warmup at least 0")
	}
	method, err := kernels.ParseMixMethod(*mixing)
	if err != nil {
		return usagef("%v", err)
	}
	if kernels.PureGo && !*asJSON {
		fmt.Fprintln(os.Stderr, "note: this is the pure-Go build (-tags pure): matmuls use gonum's BLAS and are several times slower than OpenBLAS")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := fnet.RunBench(*preset, *steps, *warmup, method, *ops)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("preset %s: B%d S%d (%d masked/seq), %s mixing, %s\n", res.Preset, res.Batch, res.SeqLen, res.Masked, res.Mixing, res.Device)
	fmt.Printf("train step ms over %d steps (after %d warm-up): median %.1f  min %.1f  p90 %.1f\n", res.Steps, res.Warmup, res.MsPerStep, res.MsMin, res.MsP90)
	fmt.Printf("  forward+backward %.1f ms, AdamW %.1f ms; loss %.4f -> %.4f\n", res.FwdBwdMs, res.AdamWMs, res.LossFirst, res.LossLast)
	fmt.Printf("tokens/s: %.0f\n", res.TokensPerS)
	fmt.Printf("model GFLOP/step: %.2f -> %.1f GFLOP/s achieved; %.0f allocations/step\n", res.GFLOPPerStep, res.GFLOPs, res.AllocsPerStep)
	if len(res.Ops) > 0 {
		fmt.Println("where forward+backward goes (ms per step, by operator):")
		for _, o := range res.Ops {
			fmt.Printf("  %-26s %7.1f ms  (%.0f calls)\n", o.Op, o.MsPerStep, o.Calls)
		}
	}
	return nil
}
