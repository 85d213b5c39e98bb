package main

import (
	"fmt"
	"math"
	"os"
	"text/tabwriter"

	"github.com/fnet-tui/fnet-tui/cuda"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/kernels"
)

func init() {
	register(&command{
		name:    "parity",
		summary: "check the Go model against a PyTorch reference dump (forward, backward, one AdamW step)",
		usage:   "WEIGHTS.safetensors EXPECT.safetensors [--tol 1e-3] [--mixing auto|fft|dft] [--device cpu|cuda --precision fp32|tf32|bf16]",
		run:     runParity,
	})
}

func runParity(args []string) error {
	fs := newFlags("parity")
	tol := fs.Float64("tol", 1e-3, "largest relative L2 error ||ours-ref||/||ref|| accepted")
	mixing := fs.String("mixing", "auto", "CPU Fourier mixing implementation: auto, fft or dft")
	device := fs.String("device", "cpu", "engine to check: cpu or cuda")
	precision := fs.String("precision", "fp32", "cuda: fp32, tf32 or bf16 (bf16 is expected near 2e-2, not 1e-3)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want WEIGHTS and EXPECT files, got %d arguments", len(pos))
	}
	method, err := kernels.ParseMixMethod(*mixing)
	if err != nil {
		return usagef("%v", err)
	}
	var rep *fnet.ParityReport
	switch *device {
	case "cpu":
		rep, err = fnet.RunParity(pos[0], pos[1], fnet.MixOption{Method: method})
	case "cuda":
		prec, perr := cuda.ParsePrecision(*precision)
		if perr != nil {
			return usagef("--precision: %v", perr)
		}
		if err := cuda.Available(); err != nil {
			return fmt.Errorf("--device cuda: %w", err)
		}
		rep, err = cuda.RunParity(pos[0], pos[1], prec)
	default:
		return usagef("--device %q: want cpu or cuda", *device)
	}
	if err != nil {
		return err
	}
	fmt.Printf("model: %s on %s  (config from %s; lr %g)\n", rep.Config, rep.Device, rep.ConfigSource, rep.LR)
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "tensor\trel_l2\tmax_abs\tupdate_rel\tstatus")
	failed := 0
	for _, r := range rep.Rows {
		status := "ok"
		upd := "-"
		if r.UpdateErr > 0 || len(r.Name) > 17 && r.Name[:17] == "param_after_step." {
			upd = fmt.Sprintf("%.3e", r.UpdateErr)
		}
		switch {
		case r.Err != "":
			status = "FAIL: " + r.Err
		case math.IsNaN(r.RelErr) || r.RelErr > *tol || r.UpdateErr > *tol:
			status = "FAIL"
		}
		if status != "ok" {
			failed++
		}
		fmt.Fprintf(tw, "%s\t%.3e\t%.3e\t%s\t%s\n", r.Name, r.RelErr, r.MaxAbs, upd, status)
	}
	tw.Flush()
	worst, name := rep.Worst()
	if failed > 0 {
		fmt.Printf("PARITY FAIL: %d of %d tensors above %g (worst %.3e, %s)\n", failed, len(rep.Rows), *tol, worst, name)
		return &exitError{code: 1, err: fmt.Errorf("%d tensors exceed the tolerance %g", failed, *tol)}
	}
	fmt.Printf("PARITY PASS: %d tensors, worst %.3e (%s), tolerance %g\n", len(rep.Rows), worst, name, *tol)
	return nil
}
