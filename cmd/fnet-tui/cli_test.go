package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// runCLI runs the command line as main would, with stdout and stderr
// captured, and returns the exit status.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	outF, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outF, errF
	func() {
		defer func() { os.Stdout, os.Stderr = oldOut, oldErr }()
		code = run(args)
	}()
	outF.Close()
	errF.Close()
	o, _ := os.ReadFile(outF.Name())
	e, _ := os.ReadFile(errF.Name())
	return code, string(o), string(e)
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestTopLevelHelpListsEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"help", "help"}, {"help", "-h"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || errOut != "" {
			t.Errorf("%q: exit %d, stderr %q; want 0 and nothing", args, code, errOut)
		}
		for _, n := range commandNames() {
			c := commands[n]
			if c.summary == "" {
				t.Errorf("command %s has no summary", n)
			}
			if !strings.Contains(out, "  "+n+" ") || !strings.Contains(out, c.summary) {
				t.Errorf("%q: the listing lacks %s (%s):\n%s", args, n, c.summary, out)
			}
			for _, s := range subcommandsOf(c) {
				if !strings.Contains(out, n+" "+s.name) || !strings.Contains(out, s.summary) {
					t.Errorf("%q: the listing lacks %s %s (%s)", args, n, s.name, s.summary)
				}
			}
		}
	}
	// an unknown command is an error that lists them, on stderr
	code, out, errOut := runCLI(t, "frobnicate")
	if code != 2 || out != "" || !strings.Contains(errOut, `unknown command "frobnicate"`) || !strings.Contains(errOut, "  pretrain ") {
		t.Errorf("unknown command: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestEveryCommandHelpExitsZero: -h and --help of every command and
// subcommand print its usage on stdout and exit 0.
func TestEveryCommandHelpExitsZero(t *testing.T) {
	var cases [][]string
	for _, n := range commandNames() {
		c := commands[n]
		cases = append(cases, []string{n, "-h"}, []string{n, "--help"}, []string{"help", n})
		for _, s := range subcommandsOf(c) {
			cases = append(cases, []string{n, s.name, "-h"}, []string{n, s.name, "--help"}, []string{"help", n, s.name})
		}
	}
	for _, args := range cases {
		code, out, errOut := runCLI(t, args...)
		name := strings.Join(args[:len(args)-1], " ")
		if args[0] == "help" {
			name = strings.Join(args[1:], " ")
		}
		if code != 0 {
			t.Errorf("%q: exit %d (stderr %q), want 0", args, code, errOut)
			continue
		}
		if !strings.Contains(out, "usage: fnet-tui "+name) {
			t.Errorf("%q: stdout has no %q:\n%s", args, "usage: fnet-tui "+name, out)
		}
	}
	// help for something that does not exist is an error
	if code, _, errOut := runCLI(t, "help", "frobnicate"); code != 2 || !strings.Contains(errOut, "frobnicate") {
		t.Errorf("help frobnicate: exit %d, stderr %q", code, errOut)
	}
}

// TestMissingRunsFolderIsAnError: a --runs (or $FNET_RUNS) folder that does
// not exist is named in an error with a non-zero exit, not reported as
// "no runs".
func TestMissingRunsFolderIsAnError(t *testing.T) {
	typo := filepath.Join(t.TempDir(), "typo")
	for _, args := range [][]string{
		{"runs", "--runs", typo},
		{"runs", "--runs", typo, "--json"},
		{"glue", "results", "--runs", typo},
		{"dashboard", "--plain", "--runs", typo},
		{"--runs", typo, "--plain"},
		{"glue", "predict", "--ckpt", typo, "--task", "all"},
	} {
		code, _, errOut := runCLI(t, args...)
		if code == 0 || !strings.Contains(errOut, typo) {
			t.Errorf("%q: exit %d, stderr %q; want an error naming %s", args, code, errOut, typo)
		}
	}
	t.Setenv("FNET_RUNS", typo)
	if code, _, errOut := runCLI(t, "runs"); code == 0 || !strings.Contains(errOut, typo) || !strings.Contains(errOut, "FNET_RUNS") {
		t.Errorf("FNET_RUNS=%s runs: exit %d, stderr %q", typo, code, errOut)
	}
	// a file is not a runs folder
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if code, _, errOut := runCLI(t, "runs", "--runs", file); code == 0 || !strings.Contains(errOut, file) {
		t.Errorf("runs --runs FILE: exit %d, stderr %q", code, errOut)
	}
	// the default ./runs of a fresh checkout is not there yet: no runs, exit 0
	t.Setenv("FNET_RUNS", "")
	t.Chdir(t.TempDir())
	if code, out, errOut := runCLI(t, "runs"); code != 0 || !strings.Contains(out, "no runs") {
		t.Errorf("runs without ./runs: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// an existing empty folder has no runs
	empty := t.TempDir()
	if code, out, _ := runCLI(t, "runs", "--runs", empty); code != 0 || !strings.Contains(out, "no runs in "+empty) {
		t.Errorf("runs --runs EMPTY: exit %d, stdout %q", code, out)
	}
}
