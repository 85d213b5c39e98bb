// Command fnet-tui trains FNet encoders from a terminal: pretraining, GLUE
// finetuning, a live dashboard and a masked-word REPL.
//
// Every subcommand lives in its own file and registers itself in init, so
// commands can be added without touching this dispatcher.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// command is one subcommand of fnet-tui.
type command struct {
	name    string
	summary string // one line for the usage listing
	usage   string // argument synopsis, e.g. "WEIGHTS EXPECT [--tol 1e-3]"
	run     func(args []string) error
	// subs lists a command's own subcommands (glue score, lra generate ...)
	// for `fnet-tui -h` and their -h; nil for a command without any.
	subs func() []subcommand
}

// subcommand is one entry of a command's own table of subcommands.
type subcommand struct {
	name    string
	summary string // one line
	usage   string // arguments after "fnet-tui COMMAND NAME"
}

// commands is the one table of fnet-tui's commands: run dispatches through
// it and printUsage and -h list from it. Each command's file adds its entry
// in init with register.
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
	if len(args) > 0 && isHelp(args[0]) {
		if len(args) == 1 || args[0] != "help" || isHelp(args[1]) {
			printUsage(os.Stdout)
			return 0
		}
		// help COMMAND [SUB]: that command's -h
		args = append(append([]string{}, args[1:]...), "-h")
	}
	name := "dashboard"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
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

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool { return arg == "help" || arg == "-h" || arg == "--help" }

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "fnet-tui: train FNet encoders from a terminal")
	fmt.Fprintln(w, "\nusage: fnet-tui [command] [arguments]   (no command opens the dashboard)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, n := range names {
		c := commands[n]
		fmt.Fprintf(tw, "  %s\t%s\n", n, c.summary)
		for _, s := range subcommandsOf(c) {
			fmt.Fprintf(tw, "    %s %s\t%s\n", n, s.name, s.summary)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRun 'fnet-tui COMMAND -h' (or 'fnet-tui help COMMAND') for a command's usage and flags.")
}

// subcommandsOf is c's table of subcommands (none for most commands).
func subcommandsOf(c *command) []subcommand {
	if c.subs == nil {
		return nil
	}
	return c.subs()
}

// usageOf finds the synopsis and summary of "NAME" or "NAME SUB" in the
// command table, for -h.
func usageOf(name string) (usage, summary string, ok bool) {
	top, sub, nested := strings.Cut(name, " ")
	c, ok := commands[top]
	if !ok {
		return "", "", false
	}
	if !nested {
		return c.usage, c.summary, true
	}
	for _, s := range subcommandsOf(c) {
		if s.name == sub {
			return s.usage, s.summary, true
		}
	}
	return "", "", false
}

// printCommandHelp is what -h prints: the usage line, the summary, then
// the flags of fs (nil for none).
func printCommandHelp(w io.Writer, name string, fs *flag.FlagSet) {
	usage, summary, _ := usageOf(name)
	fmt.Fprintf(w, "usage: fnet-tui %s %s\n", name, usage)
	if summary != "" {
		fmt.Fprintf(w, "\n%s\n", summary)
	}
	if fs == nil {
		return
	}
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}
