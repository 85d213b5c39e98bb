// Command fnet-tui trains FNet encoders from a terminal: pretraining, GLUE
// finetuning, a live dashboard and a masked-word REPL.
//
// Every subcommand lives in its own file and registers itself in init, so
// commands can be added without touching this dispatcher.
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// command is one subcommand of fnet-tui.
type command struct {
	name    string
	summary string // one line for the usage listing
	usage   string // argument synopsis, e.g. "WEIGHTS EXPECT [--tol 1e-3]"
	run     func(args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("fnet-tui: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// exitError carries a specific exit status (e.g. 1 for a failed parity check)
// together with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks bad command-line input: exit status 2 and the usage line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	name := "dashboard"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" || name == "-h" || name == "--help" {
		printUsage(os.Stdout)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "fnet-tui: unknown command %q\n\n", name)
		printUsage(os.Stderr)
		return 2
	}
	err := c.run(args)
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "fnet-tui %s: %s\nusage: fnet-tui %s %s\n", c.name, ue.msg, c.name, c.usage)
		return 2
	}
	if errors.Is(err, errHelpShown) {
		return 0
	}
	fmt.Fprintf(os.Stderr, "fnet-tui %s: %v\n", c.name, err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func printUsage(w *os.File) {
	fmt.Fprintln(w, "fnet-tui: train FNet encoders from a terminal")
	fmt.Fprintln(w, "\nusage: fnet-tui [command] [arguments]   (no command opens the dashboard)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'fnet-tui COMMAND -h' for a command's flags.")
}
