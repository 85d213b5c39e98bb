package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Spot is one block of spots.txt: the functions of one file to mutate and
// the tests that must catch the mutants.
type Spot struct {
	Name    string
	File    string   // relative to the repository root
	Funcs   []string // function names (Type.Method or Method) or const/var names
	Pkg     string   // the package whose tests run, e.g. ./train
	Run     string   // -test.run regular expression
	SkipRun string   // -test.skip regular expression ("" = none)
	Timeout time.Duration
	Ops     []string
	Swaps   []Swap
	Subs    []Sub
	Match   *regexp.Regexp // keep only mutants whose statement matches
	Skip    *regexp.Regexp // drop mutants whose statement header matches
	Tags    string         // build tags
	Env     []string       // extra environment (KEY=VALUE)
	Line    int            // where the block starts in the spots file
}

// Swap replaces calls of From with calls of To.
type Swap struct{ From, To string }

// Sub replaces the first occurrence of Old in each target with New.
type Sub struct{ Old, New string }

func (s *Spot) wants(name string) bool {
	for _, f := range s.Funcs {
		if f == name || (!strings.Contains(f, ".") && shortName(name) == f) {
			return true
		}
	}
	return false
}

// ParseSpots reads the spots file format:
//
//	# comment
//	spot NAME
//	  file     path/to/file.go
//	  funcs    Func Type.Method constName ...
//	  pkg      ./path/to/pkg
//	  run      ^(TestA|TestB)$
//	  timeout  90s
//	  ops      +call -const           (or a full list: arith cmp bool ...)
//	  swap     Spearman Pearson       (repeatable)
//	  sub      "old text" "new text"  (repeatable; Go-quoted strings)
//	  match    REGEXP                 (mutants inside statements whose text matches)
//	  skip     REGEXP                 (no mutants in statements whose header matches)
//	  tags     pure
//	  env      CGO_ENABLED=0
func ParseSpots(r io.Reader) ([]*Spot, error) {
	var spots []*Spot
	var cur *Spot
	sc := bufio.NewScanner(r)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		val = strings.TrimSpace(val)
		bad := func(format string, a ...any) error {
			return fmt.Errorf("spots:%d: %s: %s", ln, key, fmt.Sprintf(format, a...))
		}
		if key == "spot" {
			if val == "" {
				return nil, bad("want a name")
			}
			for _, s := range spots {
				if s.Name == val {
					return nil, bad("%s repeats the spot on line %d", val, s.Line)
				}
			}
			cur = &Spot{Name: val, Ops: slices.Clone(defaultOps), Line: ln}
			spots = append(spots, cur)
			continue
		}
		if cur == nil {
			return nil, bad("before the first spot line")
		}
		if val == "" {
			return nil, bad("no value")
		}
		switch key {
		case "file":
			cur.File = val
		case "funcs":
			cur.Funcs = append(cur.Funcs, strings.Fields(val)...)
		case "pkg":
			cur.Pkg = val
		case "run":
			if _, err := regexp.Compile(val); err != nil {
				return nil, bad("%v", err)
			}
			cur.Run = val
		case "skiprun":
			if _, err := regexp.Compile(val); err != nil {
				return nil, bad("%v", err)
			}
			cur.SkipRun = val
		case "timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return nil, bad("want a duration such as 90s")
			}
			cur.Timeout = d
		case "ops":
			ops, err := parseOps(cur.Ops, strings.Fields(val))
			if err != nil {
				return nil, bad("%v", err)
			}
			cur.Ops = ops
		case "swap":
			f := strings.Fields(val)
			if len(f) != 2 {
				return nil, bad("want two function names: FROM TO")
			}
			cur.Swaps = append(cur.Swaps, Swap{f[0], f[1]})
		case "sub":
			f, err := quotedFields(val)
			if err != nil || len(f) != 2 || f[0] == "" {
				return nil, bad("want two Go-quoted strings: \"old\" \"new\"")
			}
			cur.Subs = append(cur.Subs, Sub{f[0], f[1]})
		case "match", "skip":
			re, err := regexp.Compile(val)
			if err != nil {
				return nil, bad("%v", err)
			}
			if key == "match" {
				cur.Match = re
			} else {
				cur.Skip = re
			}
		case "tags":
			cur.Tags = val
		case "env":
			if !strings.Contains(val, "=") {
				return nil, bad("want KEY=VALUE")
			}
			cur.Env = append(cur.Env, val)
		default:
			return nil, bad("unknown key")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, s := range spots {
		if s.File == "" || len(s.Funcs) == 0 || s.Pkg == "" || s.Run == "" {
			return nil, fmt.Errorf("spots:%d: spot %s needs file, funcs, pkg and run", s.Line, s.Name)
		}
	}
	return spots, nil
}

// parseOps applies an ops line to the current list: +op adds, -op removes,
// bare names replace the list.
func parseOps(cur, words []string) ([]string, error) {
	var set []string
	relative := true
	for _, w := range words {
		if w[0] != '+' && w[0] != '-' {
			relative = false
		}
	}
	if relative {
		set = slices.Clone(cur)
	}
	for _, w := range words {
		name := strings.TrimLeft(w, "+-")
		if !slices.Contains(allOps, name) {
			return nil, fmt.Errorf("unknown operator %q (have %s)", name, strings.Join(allOps, ", "))
		}
		switch {
		case w[0] == '-':
			set = slices.DeleteFunc(set, func(s string) bool { return s == name })
		case !slices.Contains(set, name):
			set = append(set, name)
		}
	}
	return set, nil
}

// quotedFields splits s into Go-quoted strings (or bare words).
func quotedFields(s string) ([]string, error) {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' || s[0] == '`' {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, err
			}
			v, _ := strconv.Unquote(q)
			out = append(out, v)
			s = s[len(q):]
			continue
		}
		w, rest, _ := strings.Cut(s, " ")
		out = append(out, w)
		s = rest
	}
	return out, nil
}
