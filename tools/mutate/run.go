package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Result statuses.
const (
	Killed       = "killed"       // a test failed, panicked or timed out
	Survived     = "survived"     // every selected test passed
	Uncompilable = "uncompilable" // the mutated package did not build (not counted)
	Errored      = "error"        // the tool could not run the mutant
)

// Result is a mutant and what its tests did.
type Result struct {
	Mutant
	Status    string  `json:"status"`
	Detail    string  `json:"detail,omitempty"` // the killing test, a timeout, or a build error
	Reason    string  `json:"reason,omitempty"` // REASONS.md's entry for a survivor
	DurationS float64 `json:"duration_s"`
}

// runner builds and runs test binaries with an overlay.
type runner struct {
	root  string // repository root (absolute)
	tmp   string // scratch folder
	goBin string
}

// Overlay is go build's -overlay file.
type Overlay struct {
	Replace map[string]string
}

// writeOverlay writes the mutated file and the overlay that puts it in
// place of the real one, in dir; it returns the overlay's path.
func writeOverlay(dir, realPath string, src []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	mut := filepath.Join(dir, filepath.Base(realPath))
	if err := os.WriteFile(mut, src, 0o644); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(Overlay{Replace: map[string]string{realPath: mut}}, "", "\t")
	if err != nil {
		return "", err
	}
	ov := filepath.Join(dir, "overlay.json")
	return ov, os.WriteFile(ov, b, 0o644)
}

var (
	failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)
	panicRe  = regexp.MustCompile(`(?m)^panic: (.*)$`)
)

// build compiles sp's test binary (with overlay, when not "") into bin.
func (r *runner) build(ctx context.Context, sp *Spot, overlay, bin string) (string, error) {
	args := []string{"test", "-c", "-vet=off", "-o", bin}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	if sp.Tags != "" {
		args = append(args, "-tags", sp.Tags)
	}
	args = append(args, sp.Pkg)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.goBin, args...)
	cmd.Dir = r.root
	cmd.Env = append(os.Environ(), sp.Env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// test runs the binary in the package's folder (as go test does).
func (r *runner) test(ctx context.Context, sp *Spot, bin string, timeout time.Duration, extra ...string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	args := append([]string{"-test.run", sp.Run, "-test.count", "1", "-test.timeout", timeout.String()}, extra...)
	if sp.SkipRun != "" {
		args = append(args, "-test.skip", sp.SkipRun)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = filepath.Join(r.root, sp.Pkg)
	cmd.Env = append(os.Environ(), sp.Env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	timedOut := ctx.Err() != nil || bytes.Contains(out, []byte("panic: test timed out"))
	return string(out), timedOut, err
}

// baseline checks that sp's tests exist and pass on the real code, and
// returns how long they took.
func (r *runner) baseline(ctx context.Context, sp *Spot) (time.Duration, error) {
	dir, err := os.MkdirTemp(r.tmp, "base-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "pkg.test")
	if out, err := r.build(ctx, sp, "", bin); err != nil {
		return 0, fmt.Errorf("the unmutated package does not build: %v\n%s", err, tail(out, 20))
	}
	list, err := exec.CommandContext(ctx, bin, "-test.list", sp.Run).Output()
	if err != nil {
		return 0, err
	}
	if len(bytes.Fields(list)) == 0 {
		return 0, fmt.Errorf("run %q selects no test in %s", sp.Run, sp.Pkg)
	}
	t0 := time.Now()
	out, _, err := r.test(ctx, sp, bin, 20*time.Minute)
	if err != nil {
		return 0, fmt.Errorf("the tests fail on the unmutated code: %v\n%s", err, tail(out, 30))
	}
	return time.Since(t0), nil
}

// mutant builds and tests one mutant.
func (r *runner) mutant(ctx context.Context, sp *Spot, m Mutant, n int, timeout time.Duration) Result {
	t0 := time.Now()
	res := Result{Mutant: m}
	defer func() { res.DurationS = time.Since(t0).Seconds() }()
	dir := filepath.Join(r.tmp, fmt.Sprintf("m%04d", n))
	defer os.RemoveAll(dir)
	ov, err := writeOverlay(dir, filepath.Join(r.root, m.File), m.src)
	if err != nil {
		res.Status, res.Detail = Errored, err.Error()
		return res
	}
	bin := filepath.Join(dir, "pkg.test")
	if out, err := r.build(ctx, sp, ov, bin); err != nil {
		res.Status, res.Detail = Uncompilable, firstError(out)
		if ctx.Err() != nil {
			res.Status, res.Detail = Errored, ctx.Err().Error()
		}
		return res
	}
	out, timedOut, err := r.test(ctx, sp, bin, timeout)
	switch {
	case ctx.Err() != nil:
		res.Status, res.Detail = Errored, ctx.Err().Error()
	case err == nil:
		res.Status = Survived
	case timedOut:
		res.Status, res.Detail = Killed, "timeout"
	default:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			res.Status, res.Detail = Errored, err.Error()
			break
		}
		res.Status = Killed
		if f := failLine.FindAllStringSubmatch(out, -1); f != nil {
			names := []string{}
			for _, x := range f {
				names = append(names, x[1])
			}
			res.Detail = strings.Join(dedupe(names), ",")
		} else if p := panicRe.FindStringSubmatch(out); p != nil {
			res.Detail = "panic: " + p[1]
		} else {
			res.Detail = "exit " + fmt.Sprint(ee.ExitCode())
		}
	}
	return res
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// firstError is the first compiler error line of go build's output.
func firstError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, ".go:") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(tail(out, 2))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
