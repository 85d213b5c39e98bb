package main

import (
	"encoding/json"
	"os"
	"time"

	"github.com/fnet-tui/fnet-tui/tui"
)

func init() {
	register(&command{
		name:    "runs",
		summary: "list runs with state, step, last loss, speed and ETA",
		usage:   "[--runs DIR] [--json]",
		run:     runRuns,
	})
}

func runRuns(args []string) error {
	fs := newFlags("runs")
	runs := fs.String("runs", runsDirDefault(), "runs folder (env FNET_RUNS)")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	exists, err := checkRunsFolder(fs, *runs)
	if err != nil {
		return err
	}
	rows, err := tui.ScanRunRows(*runs, time.Now())
	if err != nil {
		return err
	}
	if *asJSON {
		if rows == nil {
			rows = []tui.RunRow{}
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(rows) == 0 {
		msg := "no runs in " + *runs + "\n"
		if !exists {
			msg = "no runs yet: " + *runs + " does not exist (pretrain and finetune create it; --runs DIR or $FNET_RUNS reads another folder)\n"
		}
		_, err := os.Stdout.WriteString(msg)
		return err
	}
	return tui.WriteRunsTable(os.Stdout, rows)
}
