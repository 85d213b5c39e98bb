// Command mutate is the project's mutation tester: it changes one token of
// the code users depend on most (the spots in tools/mutate/spots.txt),
// runs only the tests meant to catch that change, and reports which
// mutants the tests killed. The real tree is never written: each mutant is
// a copy of one file that go build's -overlay puts in place.
//
// Usage (from the repository root; scripts/mutate.sh wraps it):
//
//	go run ./tools/mutate [-spots FILE] [-reasons FILE] [-spot a,b] [-list]
//	                      [-j N] [-json FILE] [-o FILE] [-strict] [-v]
//	go run ./tools/mutate -from FILE.json   (report an earlier run again with
//	                                         the reasons file as it is now)
//
// A mutant is killed when a selected test fails, panics or times out,
// survives when they all pass, and is uncompilable (reported apart, not
// counted) when the mutated package does not build. The kill rate is
// killed / (killed + survived). A survivor whose id has an entry in the
// reasons file (REASONS.md) is listed with that reason; -strict exits 1
// while any survivor has none.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	var (
		spotsPath   = flag.String("spots", "tools/mutate/spots.txt", "the spots file")
		reasonsPath = flag.String("reasons", "tools/mutate/REASONS.md", "written reasons for surviving mutants")
		only        = flag.String("spot", "", "comma-separated spot names to run (default: all)")
		list        = flag.Bool("list", false, "list the mutants without running them")
		jobs        = flag.Int("j", 1, "mutants built and tested at once")
		jsonPath    = flag.String("json", "", "write the results as JSON to this file (- for stdout)")
		outPath     = flag.String("o", "", "also write the text report to this file")
		strict      = flag.Bool("strict", false, "exit 1 if a mutant survives without a written reason")
		verbose     = flag.Bool("v", false, "print each result as it comes")
		from        = flag.String("from", "", "report again from an earlier -json file, with the reasons file as it is now (runs nothing)")
	)
	flag.Parse()
	o := options{spots: *spotsPath, reasons: *reasonsPath, only: *only, list: *list, jobs: *jobs, json: *jsonPath, out: *outPath, strict: *strict, verbose: *verbose, from: *from}
	if err := run(o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

var errUnexplained = fmt.Errorf("some mutants survive without a written reason")

// options are the command line's flags.
type options struct {
	spots, reasons, only string
	list                 bool
	jobs                 int
	json, out            string
	strict, verbose      bool
	from                 string
}

func run(o options, stdout, stderr io.Writer) error {
	spotsPath, reasonsPath, only, list, jobs, verbose := o.spots, o.reasons, o.only, o.list, o.jobs, o.verbose
	root, err := repoRoot()
	if err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(root, spotsPath))
	if err != nil {
		return err
	}
	spots, err := ParseSpots(f)
	f.Close()
	if err != nil {
		return err
	}
	if only != "" {
		want := map[string]bool{}
		for _, n := range strings.Split(only, ",") {
			want[strings.TrimSpace(n)] = true
		}
		var keep []*Spot
		for _, s := range spots {
			if want[s.Name] {
				keep = append(keep, s)
				delete(want, s.Name)
			}
		}
		for n := range want {
			return fmt.Errorf("no spot %q in %s", n, spotsPath)
		}
		spots = keep
	}
	reasons := map[string]string{}
	if rf, err := os.Open(filepath.Join(root, reasonsPath)); err == nil {
		reasons, err = ParseReasons(rf)
		rf.Close()
		if err != nil {
			return err
		}
	}

	if o.from != "" {
		return rereport(o, spots, reasons, stdout)
	}

	type work struct {
		sp *Spot
		m  Mutant
	}
	var all []work
	bySpot := map[string][]Mutant{}
	for _, sp := range spots {
		src, err := os.ReadFile(filepath.Join(root, sp.File))
		if err != nil {
			return err
		}
		ms, err := Generate(sp, sp.File, src)
		if err != nil {
			return err
		}
		bySpot[sp.Name] = ms
		for _, m := range ms {
			all = append(all, work{sp, m})
		}
	}
	if list {
		for _, w := range all {
			fmt.Fprintf(stdout, "%s:%d:%d\t%s\n", w.m.File, w.m.Line, w.m.Col, w.m.ID)
		}
		fmt.Fprintf(stdout, "%d mutants in %d spots\n", len(all), len(spots))
		return nil
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	r := &runner{root: root, tmp: tmp, goBin: goBin}
	start := time.Now()

	timeouts := map[string]time.Duration{}
	var baseErrs []string
	for _, sp := range spots {
		d, err := r.baseline(ctx, sp)
		if err != nil {
			baseErrs = append(baseErrs, fmt.Sprintf("spot %s: %v", sp.Name, err))
			continue
		}
		t := sp.Timeout
		if t == 0 {
			t = max(30*time.Second, 4*d+15*time.Second)
		}
		timeouts[sp.Name] = t
		fmt.Fprintf(stderr, "spot %s: %d mutants, tests take %.1fs unmutated (timeout %s)\n", sp.Name, len(bySpot[sp.Name]), d.Seconds(), t)
	}
	if len(baseErrs) > 0 {
		return fmt.Errorf("baseline:\n%s", strings.Join(baseErrs, "\n"))
	}

	results := make([]Result, len(all))
	var mu sync.Mutex
	done := 0
	ch := make(chan int)
	var wg sync.WaitGroup
	for range max(1, jobs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				w := all[i]
				res := r.mutant(ctx, w.sp, w.m, i, timeouts[w.sp.Name])
				if res.Status == Survived {
					res.Reason = reasons[res.ID]
				}
				mu.Lock()
				results[i] = res
				done++
				if verbose {
					fmt.Fprintf(stderr, "[%d/%d] %-12s %s:%d %s\n", done, len(all), res.Status, res.File, res.Line, res.ID)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range all {
		if ctx.Err() != nil {
			break
		}
		ch <- i
	}
	close(ch)
	wg.Wait()
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted")
	}

	return output(o, buildReport(spots, results, reasons, time.Since(start)), stdout)
}

// rereport reads an earlier run's JSON and reports it with today's reasons.
func rereport(o options, spots []*Spot, reasons map[string]string, stdout io.Writer) error {
	b, err := os.ReadFile(o.from)
	if err != nil {
		return err
	}
	var old Report
	if err := json.Unmarshal(b, &old); err != nil {
		return fmt.Errorf("%s: %w", o.from, err)
	}
	ran := map[string]bool{}
	for i := range old.Mutants {
		r := &old.Mutants[i]
		ran[r.Spot] = true
		r.Reason = ""
		if r.Status == Survived {
			r.Reason = reasons[r.ID]
		}
	}
	var used []*Spot
	for _, s := range spots {
		if ran[s.Name] {
			used = append(used, s)
		}
	}
	return output(o, buildReport(used, old.Mutants, reasons, time.Duration(old.DurationS*float64(time.Second))), stdout)
}

func output(o options, rep *Report, stdout io.Writer) error {
	outPath, jsonPath := o.out, o.json
	w := stdout
	if outPath != "" {
		of, err := os.Create(outPath)
		if err != nil {
			return err
		}
		defer of.Close()
		w = io.MultiWriter(stdout, of)
	}
	if jsonPath != "-" {
		rep.writeText(w)
	}
	if jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		b = append(b, '\n')
		if jsonPath == "-" {
			stdout.Write(b)
		} else if err := os.WriteFile(jsonPath, b, 0o644); err != nil {
			return err
		}
	}
	if o.strict && rep.Total.Unexplained > 0 {
		return errUnexplained
	}
	return nil
}

// Counts are one spot's (or all spots') tallies.
type Counts struct {
	Mutants      int     `json:"mutants"`
	Killed       int     `json:"killed"`
	Survived     int     `json:"survived"`
	Explained    int     `json:"survived_with_reason"`
	Unexplained  int     `json:"survived_without_reason"`
	Uncompilable int     `json:"uncompilable"`
	Errors       int     `json:"errors"`
	KillRate     float64 `json:"kill_rate"` // killed / (killed + survived)
}

func (c *Counts) add(r Result) {
	c.Mutants++
	switch r.Status {
	case Killed:
		c.Killed++
	case Survived:
		c.Survived++
		if r.Reason != "" {
			c.Explained++
		} else {
			c.Unexplained++
		}
	case Uncompilable:
		c.Uncompilable++
	default:
		c.Errors++
	}
	if n := c.Killed + c.Survived; n > 0 {
		c.KillRate = float64(c.Killed) / float64(n)
	}
}

// Report is the whole run.
type Report struct {
	Spots        []SpotReport `json:"spots"`
	Total        Counts       `json:"total"`
	Mutants      []Result     `json:"mutants"`
	StaleReasons []string     `json:"stale_reasons,omitempty"` // reasons for ids this run did not make survive
	DurationS    float64      `json:"duration_s"`
}

// SpotReport is one spot's tallies.
type SpotReport struct {
	Name string `json:"name"`
	File string `json:"file"`
	Pkg  string `json:"pkg"`
	Run  string `json:"run"`
	Counts
}

func buildReport(spots []*Spot, results []Result, reasons map[string]string, d time.Duration) *Report {
	rep := &Report{Mutants: results, DurationS: d.Seconds()}
	idx := map[string]int{}
	for _, s := range spots {
		idx[s.Name] = len(rep.Spots)
		rep.Spots = append(rep.Spots, SpotReport{Name: s.Name, File: s.File, Pkg: s.Pkg, Run: s.Run})
	}
	used := map[string]bool{}
	for _, r := range results {
		rep.Spots[idx[r.Spot]].add(r)
		rep.Total.add(r)
		if r.Reason != "" {
			used[r.ID] = true
		}
	}
	for id := range reasons {
		// only ids of the spots that ran can be judged stale
		if !used[id] && ranSpotFor(id, spots) {
			rep.StaleReasons = append(rep.StaleReasons, id)
		}
	}
	sort.Strings(rep.StaleReasons)
	return rep
}

func ranSpotFor(id string, spots []*Spot) bool {
	file, rest, ok := strings.Cut(id, ":")
	if !ok {
		return false
	}
	fn, _, _ := strings.Cut(rest, " ")
	for _, s := range spots {
		if s.File == file && s.wants(fn) {
			return true
		}
	}
	return false
}

func (rep *Report) writeText(w io.Writer) {
	order := map[string]int{Survived: 0, Uncompilable: 1, Errored: 2, Killed: 3}
	res := append([]Result(nil), rep.Mutants...)
	sort.SliceStable(res, func(i, j int) bool { return order[res[i].Status] < order[res[j].Status] })
	for _, r := range res {
		status := strings.ToUpper(r.Status)
		detail := r.Detail
		if r.Status == Survived {
			if r.Reason != "" {
				status = "SURVIVED (reason)"
				detail = r.Reason
			} else {
				status = "SURVIVED (no reason)"
			}
		}
		fmt.Fprintf(w, "%-20s %s:%d  %s\n", status, r.File, r.Line, r.ID)
		if detail != "" {
			fmt.Fprintf(w, "%20s   %s\n", "", detail)
		}
	}
	fmt.Fprintf(w, "\n%-14s %7s %6s %8s %9s %12s %6s %9s\n", "spot", "mutants", "killed", "survived", "no reason", "uncompilable", "errors", "kill rate")
	line := func(name string, c Counts) {
		rate := "-"
		if c.Killed+c.Survived > 0 {
			rate = fmt.Sprintf("%.1f%%", 100*c.KillRate)
		}
		fmt.Fprintf(w, "%-14s %7d %6d %8d %9d %12d %6d %9s\n", name, c.Mutants, c.Killed, c.Survived, c.Unexplained, c.Uncompilable, c.Errors, rate)
	}
	for _, s := range rep.Spots {
		line(s.Name, s.Counts)
	}
	line("total", rep.Total)
	fmt.Fprintf(w, "\nkilled %d of %d compiled mutants (%.1f%%); %d survived (%d with a written reason, %d without); %d did not compile; %s\n",
		rep.Total.Killed, rep.Total.Killed+rep.Total.Survived, 100*rep.Total.KillRate, rep.Total.Survived, rep.Total.Explained, rep.Total.Unexplained,
		rep.Total.Uncompilable, time.Duration(rep.DurationS*float64(time.Second)).Round(time.Second))
	for _, id := range rep.StaleReasons {
		fmt.Fprintf(w, "stale reason (the mutant was killed or not made): %s\n", id)
	}
}

// repoRoot is the folder of the go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}
