package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/fnet-tui/fnet-tui/train"
	"github.com/fnet-tui/fnet-tui/tui"
)

func init() {
	register(&command{
		name:    "dashboard",
		summary: "live dashboard of runs, curves, launcher and REPL (the default)",
		usage:   "[--runs DIR] [--configs DIR] [--demo] [--plain]",
		run:     runDashboard,
	})
}

// runsDirDefault is the runs folder: $FNET_RUNS, else ./runs.
func runsDirDefault() string {
	if d := os.Getenv("FNET_RUNS"); d != "" {
		return d
	}
	return "runs"
}

func runDashboard(args []string) error {
	fs := newFlags("dashboard")
	runs := fs.String("runs", runsDirDefault(), "runs folder (env FNET_RUNS)")
	configs := fs.String("configs", "configs", "folder of launchable configs (pretrain-*.toml, glue-*.toml, lra-*.toml)")
	demo := fs.Bool("demo", false, "start the offline demo (mini pretraining on Go doc comments) and open it")
	plain := fs.Bool("plain", false, "print runs and progress as lines instead of the full-screen view (automatic without a terminal)")
	every := fs.Duration("every", 0, "how often run folders are read (default 500ms, 2s in plain mode)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	// Plain mode only reads: a runs folder the user named must exist. The
	// full-screen dashboard launches runs into it, so a folder not there
	// yet is fine; its Runs view says so (and the demo creates it).
	interactive := !*plain && term.IsTerminal(int(os.Stdout.Fd())) && term.IsTerminal(int(os.Stdin.Fd()))
	if !*demo && !interactive {
		if _, err := checkRunsFolder(fs, *runs); err != nil {
			return err
		}
	}
	opts := tui.Options{
		RunsDir:    *runs,
		ConfigsDir: *configs,
		Demo:       *demo,
		Load:       replLoader,
		NoColor:    os.Getenv("NO_COLOR") != "",
		PollEvery:  *every,
		// the form's runs are checked exactly as the child will resolve them
		Validate: func(s tui.LaunchSpec) error {
			return train.Check(train.Options{ConfigPath: s.Config, Overrides: s.Overrides, Resume: s.Resume}, s.Kind)
		},
	}
	if !interactive {
		if opts.PollEvery == 0 {
			opts.PollEvery = 2 * time.Second
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return tui.RunPlain(ctx, opts, os.Stdout)
	}
	return tui.Run(opts)
}
