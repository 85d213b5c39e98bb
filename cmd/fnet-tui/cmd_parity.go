package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/fnet-tui/fnet-tui/cuda"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/kernels"
)

func init() {
	register(&command{
		name:    "parity",
		summary: "check the Go model against a PyTorch reference dump (every head: forward, backward, AdamW steps, loss curve)",
		usage:   "WEIGHTS.safetensors EXPECT.safetensors [--tol 1e-3] [--mixing auto|fft|dft] [--device cpu|cuda --precision fp32|tf32|bf16]",
		run:     runParity,
	})
}

func runParity(args []string) error {
	fs := newFlags("parity")
	tol := fs.Float64("tol", 1e-3, "largest relative error accepted: ||ours-ref||/||ref|| of every tensor and loss, and of the AdamW update and each loss-curve step's loss change")
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
	return printParityReport(stdoutWriter(), rep, *tol)
}

// printParityReport prints one row per compared tensor and loss-curve
// point, and fails (exit status 1) when any is above tol. update_rel is the
// relative error of what the optimizer changed: the AdamW update for
// param_after_step.*, the loss change of step i for loss_curve[i].
func printParityReport(w io.Writer, rep *fnet.ParityReport, tol float64) error {
	fmt.Fprintf(w, "model: %s, heads %s, on %s  (config from %s; lr %g)\n", rep.Config, rep.Heads, rep.Device, rep.ConfigSource, rep.LR)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "tensor\trel_l2\tmax_abs\tupdate_rel\tstatus")
	failed := 0
	for _, r := range rep.Rows {
		status := "ok"
		upd := "-"
		if r.UpdateErr > 0 || strings.HasPrefix(r.Name, "param_after_step.") || strings.HasPrefix(r.Name, "loss_curve[") && r.Name != "loss_curve[0]" {
			upd = fmt.Sprintf("%.3e", r.UpdateErr)
		}
		switch {
		case r.Err != "":
			status = "FAIL: " + r.Err
		case math.IsNaN(r.RelErr) || math.IsNaN(r.UpdateErr) || r.RelErr > tol || r.UpdateErr > tol:
			status = "FAIL"
		}
		if status != "ok" {
			failed++
		}
		fmt.Fprintf(tw, "%s\t%.3e\t%.3e\t%s\t%s\n", r.Name, r.RelErr, r.MaxAbs, upd, status)
	}
	tw.Flush()
	fmt.Fprintln(w, "update_rel: param_after_step.* = the first AdamW update; loss_curve[i] = the loss change of AdamW step i (same batch, same lr)")
	worst, name := rep.Worst()
	if failed > 0 {
		fmt.Fprintf(w, "PARITY FAIL: %d of %d rows above %g (worst %.3e, %s)\n", failed, len(rep.Rows), tol, worst, name)
		return &exitError{code: 1, err: fmt.Errorf("%d rows exceed the tolerance %g", failed, tol)}
	}
	fmt.Fprintf(w, "PARITY PASS: %d rows, worst %.3e (%s), tolerance %g\n", len(rep.Rows), worst, name, tol)
	return nil
}
