package main

import (
	"strings"
	"testing"
)

// queryHeaders are the output lines that start a query's answers.
func queryHeaders(out string) []string {
	var h []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, " ") {
			h = append(h, l)
		}
	}
	return h
}

func TestPredictEachArgumentIsAQuery(t *testing.T) {
	fx := tinyRuns(t)
	code, out, errOut := runCLI(t, "predict", "--ckpt", fx.pretrain, "-k", "2", "the [MASK] sat .", "the dog sat on the [MASK] .")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	h := queryHeaders(out)
	if len(h) != 2 || !strings.HasPrefix(h[0], "the [MASK] sat .  (") || !strings.HasPrefix(h[1], "the dog sat on the [MASK] .  (") {
		t.Fatalf("want one answer per argument, got headers %q in\n%s", h, out)
	}
	if n := strings.Count(out, "[MASK] 1:"); n != 2 {
		t.Errorf("%d mask lines, want 2:\n%s", n, out)
	}
	// a query without [MASK] fails on its own; the others are answered
	code, out, errOut = runCLI(t, "predict", "--ckpt", fx.pretrain, "the", "[MASK] sat .")
	if code != 1 || len(queryHeaders(out)) != 1 || !strings.Contains(errOut, `"the"`) || !strings.Contains(errOut, "1 of 2 queries failed") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !strings.Contains(errOut, "quote") {
		t.Errorf("no hint to quote a sentence: %q", errOut)
	}
}

func TestPredictKIsBoundedAndReadable(t *testing.T) {
	for _, k := range []string{"100000", "101", "0"} {
		code, _, errOut := runCLI(t, "predict", "--ckpt", "nonexistent", "-k", k, "a [MASK]")
		if code != 2 || !strings.Contains(errOut, "-k "+k) {
			t.Errorf("-k %s: exit %d, stderr %q; want a usage error naming -k", k, code, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "repl", "--ckpt", "nonexistent", "--k", "100000"); code != 2 || !strings.Contains(errOut, "--k 100000") {
		t.Errorf("repl --k 100000: exit %d, stderr %q", code, errOut)
	}
	fx := tinyRuns(t)
	code, out, errOut := runCLI(t, "predict", "--ckpt", fx.pretrain, "-k", "100", "the [MASK] sat .")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	total := 0
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n")[1:] {
		n := strings.Count(l, ")")
		if n > candidatesPerLine {
			t.Errorf("%d candidates on one line: %q", n, l)
		}
		total += n
	}
	// the vocabulary has 48 pieces, 5 or more of them special
	if total == 0 || total > 43 {
		t.Errorf("%d candidates printed", total)
	}
	if !strings.Contains(errOut, "only") {
		t.Errorf("no note that fewer than 100 candidates exist: %q", errOut)
	}
}
