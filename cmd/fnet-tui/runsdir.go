package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
)

// flagGiven reports whether the command line set the flag name.
func flagGiven(fset *flag.FlagSet, name string) bool {
	given := false
	fset.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// checkRunsFolder checks a runs folder that a command reads (--runs, whose
// default is $FNET_RUNS, else ./runs). A folder the user named, by the flag
// or the environment, must exist: a typo is an error naming it, not "no
// runs". The ./runs default may be missing (no run has been started here
// yet), which gives exists false.
func checkRunsFolder(fset *flag.FlagSet, dir string) (exists bool, err error) {
	st, err := os.Stat(dir)
	switch {
	case err == nil && st.IsDir():
		return true, nil
	case err == nil:
		return false, fmt.Errorf("runs folder %s is not a folder", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("runs folder %w", err)
	}
	switch {
	case flagGiven(fset, "runs"):
		return false, fmt.Errorf("runs folder %s (--runs) does not exist", dir)
	case os.Getenv("FNET_RUNS") != "":
		return false, fmt.Errorf("runs folder %s ($FNET_RUNS) does not exist", dir)
	}
	return false, nil
}
