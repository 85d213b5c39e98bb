package main

import (
	"fmt"
	"math"
	"os"
	"text/tabwriter"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/kernels"
)

func init() {
	register(&command{
		name:    "parity",
		summary: "check the Go model against a PyTorch reference dump (forward, backward, one AdamW step)",
		usage:   "WEIGHTS.safetensors EXPECT.safetensors [--tol 1e-3] [--mixing auto|fft|dft]",
		run:     runParity,
	})
}

func runParity(args []string) error {
	fs := newFlags("parity")
	tol := fs.Float64("tol", 1e-3, "largest relative L2 error ||ours-ref||/||ref|| accepted")
	mixing := fs.String("mixing", "auto", "Fourier mixing implementation: auto, fft or dft")
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
	rep, err := fnet.RunParity(pos[0], pos[1], fnet.MixOption{Method: method})
	if err != nil {
		return err
	}
	fmt.Printf("model: %s  (config from %s; lr %g)\n", rep.Config, rep.ConfigSource, rep.LR)
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
