package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/fnet-tui/fnet-tui/train"
)

// errHelpShown is returned when -h printed a command's flags.
var errHelpShown = errors.New("help shown")

// newFlags makes a FlagSet for a subcommand whose errors are reported by run.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("fnet-tui "+name, flag.ContinueOnError)
	return fs
}

// parseFlags parses args allowing flags and positional arguments in any
// order ("parity W E --tol 1e-3" as well as "parity --tol 1e-3 W E"), which
// the standard library's flag package does not. It returns the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // let fs.Parse report it
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(flags); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(stdoutWriter(), strings.TrimPrefix(fs.Name(), "fnet-tui "), fs)
			return nil, errHelpShown
		}
		return nil, usagef("%v", err)
	}
	return positional, nil
}

// inferenceFlags registers --device (and --precision) for a command that
// only runs a model; the returned function checks them after parsing.
func inferenceFlags(fs *flag.FlagSet, stderr io.Writer) func() (train.Inference, error) {
	device := fs.String("device", "cpu", "where the model runs: cpu, cuda or auto (cuda when a GPU is usable)")
	precision := fs.String("precision", "", "cuda precision: bf16, tf32 or fp32 (default: the training default, bf16)")
	return func() (train.Inference, error) {
		switch *device {
		case "cpu", "cuda", "auto":
		default:
			return train.Inference{}, usagef("--device %q: want cpu, cuda or auto", *device)
		}
		return train.Inference{Device: *device, Precision: *precision,
			Note: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }}, nil
	}
}
