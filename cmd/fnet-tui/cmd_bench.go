package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/fnet-tui/fnet-tui/cuda"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/kernels"
	"github.com/fnet-tui/fnet-tui/tui"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "time training steps of a preset model; --arch/--seq sweep architectures by sequence length (speed, memory, FLOPs)",
		usage: "[--preset mini|small|base] [--steps N] [--warmup N] [--mixing auto|fft|dft] [--json] [--ops] [--cpuprofile FILE]\n" +
			"       bench --arch fnet,bert,linear,random,ff_only,hybrid --seq 128,256,...,8192 [--tokens-per-step N] [--device cpu|cuda] [--json] [--out bench.json]",
		run: runBench,
	})
}

// benchCell is one (architecture, length) of a sweep, as --json prints it
// and the dashboard's Bench view reads it (tui.ReadBench).
type benchCell = tui.BenchCell

func runBench(args []string) error {
	fs := newFlags("bench")
	preset := fs.String("preset", "mini", "model preset: mini, small, base or large")
	steps := fs.Int("steps", 10, "timed steps (a sweep's default: 3)")
	warmup := fs.Int("warmup", 3, "untimed warm-up steps (a sweep's default: 1)")
	mixing := fs.String("mixing", "auto", "Fourier mixing implementation: auto, fft or dft")
	asJSON := fs.Bool("json", false, "print JSON: one object, or one per line per (architecture, length) in a sweep")
	cpuProfile := fs.String("cpuprofile", "", "write a pprof CPU profile of the timed steps to this file")
	ops := fs.Bool("ops", false, "time each operator kind and print where a step's time goes")
	archs := fs.String("arch", "", "sweep these architectures: "+strings.Join(fnet.BenchArchitectures, ", "))
	seqs := fs.String("seq", "", "sweep these sequence lengths, e.g. 128,256,512,1024")
	tokens := fs.Int("tokens-per-step", 0, "a sweep's tokens per step: batch = max(1, N / length) (default: the preset's benchmark batch × its length)")
	device := fs.String("device", "cpu", "cpu or cuda")
	out := fs.String("out", "", "also write the sweep's cells to this file (one JSON object per line; the dashboard charts a bench.json in the runs folder)")
	cell := fs.String("cell", "", "internal: run one sweep cell ARCH,SEQ,BATCH,MAXPOS in this process and print it as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	shape, ok := fnet.BenchShapes[*preset]
	if !ok {
		return usagef("unknown preset %q (want mini, small, base or large)", *preset)
	}
	sweep := *archs != "" || *seqs != "" || *cell != ""
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if sweep {
		if !set["steps"] {
			*steps = 3
		}
		if !set["warmup"] {
			*warmup = 1
		}
	}
	if *steps < 1 || *warmup < 0 {
		return usagef("--steps must be at least 1 and --warmup at least 0")
	}
	method, err := kernels.ParseMixMethod(*mixing)
	if err != nil {
		return usagef("%v", err)
	}
	if *device != "cpu" && *device != "cuda" {
		return usagef("--device %q: want cpu or cuda", *device)
	}
	if *cell != "" {
		return runBenchCell(*cell, *preset, *steps, *warmup, method, *device)
	}
	if sweep {
		return runBenchSweep(*preset, *archs, *seqs, *tokens, shape, *steps, *warmup, *mixing, *device, *asJSON, *out)
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

// parseList splits a comma-separated flag value.
func parseList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// runBenchSweep runs every (architecture, length) cell in a child process
// of its own, so each cell's peak memory is its own and an out-of-memory
// cell is reported as OOM instead of ending the sweep.
func runBenchSweep(preset, archList, seqList string, tokens int, shape fnet.BenchShape, steps, warmup int, mixing, device string, asJSON bool, outPath string) error {
	archs := parseList(archList)
	if len(archs) == 0 {
		archs = []string{"fnet"}
	}
	for _, a := range archs {
		if _, err := fnet.WithArchitecture(fnet.Presets[preset], a); err != nil {
			return usagef("--arch: %v", err)
		}
	}
	var seqs []int
	for _, f := range parseList(seqList) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 8 {
			return usagef("--seq %q: want lengths of at least 8", f)
		}
		seqs = append(seqs, n)
	}
	if len(seqs) == 0 {
		seqs = []int{shape.S}
	}
	sort.Ints(seqs)
	if tokens < 0 {
		return usagef("--tokens-per-step %d: want a positive count", tokens)
	}
	if tokens == 0 {
		tokens = shape.B * shape.S
	}
	maxPos := 0
	for _, s := range seqs {
		maxPos = max(maxPos, s)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var outFile io.Writer
	if outPath != "" {
		f, err := os.Create(outPath)
		if err != nil {
			return err
		}
		defer f.Close()
		outFile = f
	}
	var cells []benchCell
	for _, a := range archs {
		for _, s := range seqs {
			b := max(1, tokens/s)
			c := runCellProcess(exe, preset, a, s, b, maxPos, steps, warmup, mixing, device)
			cells = append(cells, c)
			line, _ := json.Marshal(c)
			if asJSON {
				fmt.Println(string(line))
			} else {
				fmt.Fprintf(os.Stderr, "%s at %d: %s\n", a, s, cellSummary(c))
			}
			if outFile != nil {
				fmt.Fprintln(outFile, string(line))
			}
		}
	}
	if asJSON {
		return nil
	}
	fmt.Printf("\npreset %s, %d tokens per step (batch = tokens / length, at least 1), %d timed steps after %d warm-up, %s\n", preset, tokens, steps, warmup, device)
	printBenchTable(os.Stdout, cells)
	fmt.Println()
	fmt.Println(tui.BenchChart(toBenchPoints(cells), 72, 12))
	return nil
}

func cellSummary(c benchCell) string {
	switch {
	case c.OOM:
		return "out of memory"
	case c.Error != "":
		return "error: " + c.Error
	}
	return fmt.Sprintf("%.1f ms/step, %.0f tokens/s, %s peak", c.MsPerStep, c.TokensPerS, gib(c.PeakMemBytes))
}

func gib(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", b>>10)
}

// runCellProcess runs one cell in a child process and reads its JSON line.
func runCellProcess(exe, preset, arch string, seq, batch, maxPos, steps, warmup int, mixing, device string) benchCell {
	c := benchCell{Arch: arch, Seq: seq, Batch: batch, Device: device}
	cmd := exec.Command(exe, "bench", "--cell", fmt.Sprintf("%s,%d,%d,%d", arch, seq, batch, maxPos),
		"--preset", preset, "--steps", strconv.Itoa(steps), "--warmup", strconv.Itoa(warmup), "--mixing", mixing, "--device", device)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &c); jerr != nil {
			c.Error = fmt.Sprintf("unreadable cell output %q: %v", stdout.String(), jerr)
		}
		return c
	}
	msg := strings.TrimSpace(stderr.String())
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			c.OOM = true // the kernel's OOM killer
			return c
		}
	}
	if isOOM(msg) {
		c.OOM = true
		return c
	}
	if i := strings.LastIndex(msg, "\n"); i >= 0 {
		msg = msg[i+1:]
	}
	c.Error = strings.TrimPrefix(msg, "fnet-tui: ")
	if c.Error == "" {
		c.Error = err.Error()
	}
	return c
}

// isOOM recognises an allocation failure in a cell's error output: the Go
// runtime's, or the CUDA driver's.
func isOOM(msg string) bool {
	return strings.Contains(msg, "out of memory") || strings.Contains(msg, "CUDA_ERROR_OUT_OF_MEMORY")
}

// runBenchCell is one cell, in this process: it prints the cell as JSON.
// The CPU's peak memory is the resident set's high-water mark above what the
// process held before building the model; the GPU's is the engine's device
// allocations at their peak.
func runBenchCell(spec, preset string, steps, warmup int, method kernels.MixMethod, device string) error {
	f := strings.Split(spec, ",")
	if len(f) != 4 {
		return usagef("--cell %q: want ARCH,SEQ,BATCH,MAXPOS", spec)
	}
	seq, err1 := strconv.Atoi(f[1])
	batch, err2 := strconv.Atoi(f[2])
	maxPos, err3 := strconv.Atoi(f[3])
	if err := errors.Join(err1, err2, err3); err != nil || seq < 8 || batch < 1 {
		return usagef("--cell %q: bad numbers", spec)
	}
	base, _ := procStatusBytes("VmRSS")
	k := max(1, int(0.15*float64(seq)+0.5))
	bs := fnet.BenchSpec{Preset: preset, Arch: f[0], Shape: fnet.BenchShape{B: batch, S: seq, K: k}, MaxPositions: maxPos,
		Steps: steps, Warmup: warmup, Mix: method}
	c := benchCell{Arch: f[0], Seq: seq, Batch: batch, Device: device}
	var res *fnet.BenchResult
	if device == "cuda" {
		cfg, err := fnet.BenchConfig(bs)
		if err != nil {
			return err
		}
		fuse, err := cuda.FusionFromEnv(os.Getenv)
		if err != nil {
			return err
		}
		eng, err := cuda.NewEngineWithOptions(cfg, fnet.MaskedLMHeads, fnet.DefaultAdamW, 1, cuda.BF16, cuda.Options{Fuse: fuse})
		if err != nil {
			return err
		}
		defer eng.Close()
		if res, err = fnet.BenchEngine(eng, bs); err != nil {
			return err
		}
		_, peak := eng.AllocatedBytes()
		c.PeakMemBytes = int64(peak)
	} else {
		var err error
		if res, err = fnet.RunBenchSpec(bs); err != nil {
			return err
		}
		if hwm, err := procStatusBytes("VmHWM"); err == nil {
			c.PeakMemBytes = hwm - base
		}
	}
	c.Device, c.MsPerStep, c.TokensPerS, c.FLOPsPerToken = res.Device, res.MsPerStep, res.TokensPerS, res.FLOPsPerToken
	return json.NewEncoder(os.Stdout).Encode(c)
}

// procStatusBytes reads a kB field of /proc/self/status (VmRSS, VmHWM).
func procStatusBytes(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// printBenchTable prints one row per cell, with each length's speed and
// memory relative to FNet's at that length.
func printBenchTable(w io.Writer, cells []benchCell) {
	fnetAt := map[int]benchCell{}
	for _, c := range cells {
		if c.Arch == "fnet" && !c.OOM && c.Error == "" {
			fnetAt[c.Seq] = c
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "arch\tseq\tbatch\tms/step\ttokens/s\tpeak mem\tGFLOP/token\tspeed vs fnet\tmem vs fnet\t")
	for _, c := range cells {
		if c.OOM || c.Error != "" {
			what := "OOM"
			if !c.OOM {
				what = "error: " + c.Error
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\t\t\t\t\t\n", c.Arch, c.Seq, c.Batch, what)
			continue
		}
		rel, mem := "", ""
		if f, ok := fnetAt[c.Seq]; ok && c.Arch != "fnet" {
			rel = fmt.Sprintf("%.2fx", c.TokensPerS/f.TokensPerS)
			if f.PeakMemBytes > 0 {
				mem = fmt.Sprintf("%.2fx", float64(c.PeakMemBytes)/float64(f.PeakMemBytes))
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.0f\t%s\t%.3f\t%s\t%s\t\n", c.Arch, c.Seq, c.Batch, c.MsPerStep, c.TokensPerS, gib(c.PeakMemBytes), c.FLOPsPerToken/1e9, rel, mem)
	}
	tw.Flush()
}

func toBenchPoints(cells []benchCell) []tui.BenchPoint {
	out := make([]tui.BenchPoint, 0, len(cells))
	for _, c := range cells {
		out = append(out, tui.BenchPoint{Arch: c.Arch, Seq: c.Seq, TokensPerS: c.TokensPerS, PeakMemBytes: c.PeakMemBytes, OOM: c.Failed()})
	}
	return out
}
