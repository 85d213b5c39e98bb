package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

func benchOf(m *Model) *benchView { return m.views[viewBench].(*benchView) }

// benchModel opens the Bench view (b from Runs) over a runs folder holding
// the fixtures' runs and, unless content is "", that bench.json.
func benchModelWith(t *testing.T, content string, w, h int) *Model {
	t.Helper()
	root := standardFixtures(t)
	if content != "" {
		writeBenchJSON(t, root, content)
	}
	m := newTestModel(t, root, w, h)
	press(m, "b")
	if m.view != viewBench || m.keyMap() != keyMap(inBench) {
		t.Fatalf("b opened view %d in context %b", m.view, m.keyMap())
	}
	return m
}

// checkScreen asserts the screen is exactly h lines of at most w cells.
func checkScreen(t *testing.T, s string, w, h int) {
	t.Helper()
	lines := strings.Split(s, "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("line %d is %d wide: %q", i, n, l)
		}
	}
}

func TestBenchViewGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			m := benchModelWith(t, sampleBench, sz[0], sz[1])
			s := screen(m)
			checkScreen(t, s, sz[0], sz[1])
			for _, want := range []string{
				"runs/bench.json · 2 architectures × 3 lengths · 1 OOM · cpu",
				"tokens/s by sequence length", "peak memory (bytes) by sequence length",
				"━━ fnet", "━━ bert", // the legend names each architecture
				"ARCH  SEQ  BATCH   MS/STEP  TOKENS/S  PEAK MEM",
				"fnet  128     16     743.3      2755   367 MiB",
				"bert  256      8    1390.9      1472   600 MiB",
				"bert  512      4       OOM", // the OOM cell, marked
			} {
				if !strings.Contains(s, want) {
					t.Errorf("screen lacks %q:\n%s", want, s)
				}
			}
			if strings.Contains(s, "scroll") {
				t.Errorf("all 6 cells should fit without scrolling:\n%s", s)
			}
			lines := strings.Split(s, "\n")
			chartTop, tableTop := lineOf(lines, "tokens/s by sequence length"), lineOf(lines, "ARCH")
			if sz[0] >= 160 { // beside the chart: same top line, to its right
				if chartTop != tableTop || strings.Index(lines[tableTop], "ARCH") < 100 {
					t.Errorf("wide: chart at line %d, table at %d col %d", chartTop, tableTop, strings.Index(lines[tableTop], "ARCH"))
				}
			} else if legend := lineOf(lines, "━━ fnet"); tableTop <= legend { // below the legend
				t.Errorf("narrow: table at line %d, legend at %d", tableTop, legend)
			}
			requireGolden(t, s)
		})
	}
}

func lineOf(lines []string, sub string) int {
	for i, l := range lines {
		if strings.Contains(l, sub) {
			return i
		}
	}
	return -1
}

func TestBenchViewWithoutAFile(t *testing.T) {
	m := benchModelWith(t, "", 80, 24)
	s := screen(m)
	checkScreen(t, s, 80, 24)
	for _, want := range []string{"runs/bench.json does not exist",
		"fnet-tui bench --arch fnet,bert --seq 128,256,512 --out runs/bench.json"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	requireGolden(t, s)
}

func TestBenchViewMalformedLine(t *testing.T) {
	m := benchModelWith(t, sampleBench+"{\"arch\":\"fnet\",\"seq\":0}\n", 80, 24)
	s := screen(m)
	checkScreen(t, s, 80, 24)
	for _, want := range []string{"Cannot chart runs/bench.json: a line is malformed.",
		`runs/bench.json:7: "seq" 0: want a positive sequence length`,
		"fnet-tui bench --arch fnet,bert --seq 128,256,512 --out runs/bench.json"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "━━ fnet") {
		t.Error("a malformed file should not be charted")
	}
}

func TestBenchViewEmptyFileAndAllFailed(t *testing.T) {
	m := benchModelWith(t, "\n", 80, 24)
	if s := screen(m); !strings.Contains(s, "runs/bench.json has no cells yet") {
		t.Errorf("empty file:\n%s", s)
	}
	m = benchModelWith(t, `{"arch":"bert","seq":8192,"batch":1,"device":"cuda","oom":true}`+"\n"+
		`{"arch":"linear","seq":8192,"batch":1,"device":"cuda","error":"cuda: \u001b[2Jno linear mixing"}`+"\n", 80, 24)
	s := screen(m)
	checkScreen(t, s, 80, 24)
	for _, want := range []string{"nothing to chart", "1 OOM · 1 failed", "bert    8192      1       OOM",
		"linear  8192      1  error: cuda:  [2Jno linear mixing"} { // the escape is a space: no terminal control
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(m.render(), "\x1b[2J") {
		t.Error("the error text reached the terminal raw")
	}
}

// Many cells at 80x24: the table scrolls with ↓/↑ and says where it is;
// the chart keeps its size.
func TestBenchViewScrolls(t *testing.T) {
	var b strings.Builder
	archs := []string{"fnet", "bert", "linear", "random", "ff_only"}
	for _, a := range archs {
		for s := 128; s <= 8192; s *= 2 {
			if a == "bert" && s >= 4096 {
				fmt.Fprintf(&b, `{"arch":%q,"seq":%d,"batch":1,"device":"cuda","oom":true}`+"\n", a, s)
				continue
			}
			fmt.Fprintf(&b, `{"arch":%q,"seq":%d,"batch":%d,"device":"cuda","ms_per_step":%d,"tokens_per_s":%d,"peak_mem_bytes":%d}`+"\n",
				a, s, max(1, 8192/s), 10+s/100, 800000-s*10, int64(s)<<20)
		}
	}
	m := benchModelWith(t, b.String(), 80, 24)
	s := screen(m)
	checkScreen(t, s, 80, 24)
	if !strings.Contains(s, "cells 1–") || !strings.Contains(s, "of 35 · ↑/k ↓/j scroll") {
		t.Fatalf("no scroll line:\n%s", s)
	}
	for _, a := range archs {
		if !strings.Contains(s, "━━ "+a) {
			t.Errorf("legend lacks %s", a)
		}
	}
	for range 40 { // past the end: stops at the last row
		press(m, "down")
	}
	s = screen(m)
	checkScreen(t, s, 80, 24)
	if !strings.Contains(s, "of 35") || !strings.Contains(s, "–35 of 35") || !strings.Contains(s, "ff_only  8192") {
		t.Errorf("at the end:\n%s", s)
	}
	for range 40 { // back to the top
		press(m, "k")
	}
	if s = screen(m); !strings.Contains(s, "cells 1–") {
		t.Errorf("k did not scroll back to the top:\n%s", s)
	}
	for range 10 { // to BERT's OOM rows
		press(m, "j")
	}
	if s = screen(m); !strings.Contains(s, "bert     4096      1       OOM") {
		t.Errorf("the OOM rows:\n%s", s)
	}
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 60}) // taller: everything fits, the offset follows
	if s = screen(m); strings.Contains(s, "scroll") || !strings.Contains(s, "fnet      128") {
		t.Errorf("at 80x60:\n%s", s)
	}
}

// The view follows the file: written, rewritten with a bad line, fixed,
// removed, each picked up by the next poll.
func TestBenchViewReloadsOnChange(t *testing.T) {
	m := benchModelWith(t, "", 100, 30)
	path := filepath.Join("runs", BenchFile) // newTestModel works from the runs folder's parent
	step := func(content string, want string) {
		t.Helper()
		if content == "" {
			os.Remove(path)
		} else {
			os.WriteFile(path, []byte(content), 0o644)
		}
		pollAll(m)
		if s := screen(m); !strings.Contains(s, want) {
			t.Errorf("after writing %d bytes: screen lacks %q:\n%s", len(content), want, s)
		}
	}
	step(sampleBench, "━━ bert")
	step(sampleBench+"garbage\n", "runs/bench.json:7: not a JSON object")
	step(sampleBench[:strings.Index(sampleBench, "\n")+1], "1 architecture × 1 length")
	step("", "does not exist")
	if m.view != viewBench {
		t.Errorf("polls moved the focus to %d", m.view)
	}
	press(m, "esc")
	if m.view != viewRuns {
		t.Errorf("esc went to view %d, want Runs", m.view)
	}
}

// Only the Runs view's b opens it (the table's key); tab reaches it too.
func TestBenchKey(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	press(m, "enter", "b")
	if m.view != viewRun {
		t.Errorf("b in the Run view went to %d", m.view)
	}
	press(m, "esc", "/", "b")
	if m.view != viewRuns || runsOf(m).filter.Value() != "b" {
		t.Errorf("b in the filter: view %d, filter %q", m.view, runsOf(m).filter.Value())
	}
	press(m, "esc", "tab", "tab", "tab", "tab")
	if m.view != viewBench {
		t.Errorf("four tabs from Runs reached %d", m.view)
	}
	if f := strings.Split(screen(m), "\n"); !strings.Contains(f[len(f)-1], "esc back / cancel") || !strings.Contains(f[0], "Bench") {
		t.Errorf("tab bar %q, footer %q", f[0], f[len(f)-1])
	}
	press(m, "?")
	s := screen(m)
	for range 30 { // the help scrolls when it does not fit
		press(m, "down")
		s += screen(m)
	}
	if !strings.Contains(s, "b         bench results") || !strings.Contains(s, "scroll down") {
		t.Errorf("help lacks the Bench keys:\n%s", s)
	}
}

// Every size gives exactly the screen's lines, none wider, whatever the
// file holds; with NO_COLOR the chart has no colour either.
func TestBenchViewResizesCleanly(t *testing.T) {
	var many strings.Builder
	for _, a := range []string{"fnet", "bert", "linear", "random", "ff_only", "hybrid"} {
		for s := 8; s <= 8192; s *= 2 {
			fmt.Fprintf(&many, `{"arch":%q,"seq":%d,"batch":1,"device":"cpu (2 threads)","ms_per_step":%d,"tokens_per_s":%d,"peak_mem_bytes":%d,"error":%q}`+"\n",
				a, s, s, 1e6/s, s<<20, map[bool]string{true: "out of patience " + strings.Repeat("x", 200)}[s == 8192 && a == "hybrid"])
		}
	}
	for name, content := range map[string]string{"sample": sampleBench, "66 cells": many.String(), "none": "", "bad": "x\n"} {
		m := benchModelWith(t, content, 80, 24)
		for _, sz := range [][2]int{{80, 24}, {60, 16}, {40, 10}, {20, 5}, {200, 60}, {81, 25}, {120, 30}, {110, 40}} {
			m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			press(m, "down", "down")
			t.Run(fmt.Sprintf("%s %dx%d", name, sz[0], sz[1]), func(t *testing.T) { checkScreen(t, screen(m), sz[0], sz[1]) })
			if out := m.render(); strings.Contains(out, "38;2;") || strings.Contains(out, "38;5;") {
				t.Errorf("%s %dx%d: colour codes with NoColor", name, sz[0], sz[1])
			}
		}
	}
}
