package rundir

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tailStep is one action on the followed file and what the next Poll must see.
type tailStep struct {
	op    string // "append", "truncate" (to empty, then append), "replace" (new file), "remove"
	data  string
	lines []string
	reset bool
	first int // expected FirstLine when lines are returned
}

func TestTailerSequences(t *testing.T) {
	cases := []struct {
		name  string
		chunk int
		steps []tailStep
	}{
		{"whole lines", 0, []tailStep{
			{op: "append", data: "a\nb\n", lines: []string{"a", "b"}, first: 1},
			{op: "append", data: "c\n", lines: []string{"c"}, first: 3},
			{op: "append", data: "", lines: nil},
		}},
		{"half-written last line is held back", 0, []tailStep{
			{op: "append", data: "a\n{\"step\":", lines: []string{"a"}, first: 1},
			{op: "append", data: "12", lines: nil},
			{op: "append", data: "}\nb", lines: []string{`{"step":12}`}, first: 2},
			{op: "append", data: "\n", lines: []string{"b"}, first: 3},
		}},
		{"crlf and blank lines", 0, []tailStep{
			{op: "append", data: "a\r\n\nb\n", lines: []string{"a", "", "b"}, first: 1},
		}},
		{"truncation restarts", 0, []tailStep{
			{op: "append", data: "one\ntwo\n", lines: []string{"one", "two"}, first: 1},
			{op: "truncate", data: "x\n", lines: []string{"x"}, reset: true, first: 1},
		}},
		{"rewritten in place beyond the old offset", 0, []tailStep{
			{op: "append", data: "first line\n", lines: []string{"first line"}, first: 1},
			{op: "truncate", data: "other line\nand more text\n", lines: []string{"other line", "and more text"}, reset: true, first: 1},
		}},
		{"rotation to a new file", 0, []tailStep{
			{op: "append", data: "old\n", lines: []string{"old"}, first: 1},
			{op: "replace", data: "new1\nnew2\n", lines: []string{"new1", "new2"}, reset: true, first: 1},
		}},
		{"file removed then recreated", 0, []tailStep{
			{op: "append", data: "a\n", lines: []string{"a"}, first: 1},
			{op: "remove", reset: true},
			{op: "append", data: "b\n", lines: []string{"b"}, first: 1},
		}},
		{"small chunks deliver everything in order", 3, []tailStep{
			{op: "append", data: "ab\ncd\nef\n", lines: []string{"ab"}, first: 1},
			{op: "append", data: "", lines: []string{"cd"}, first: 2},
			{op: "append", data: "", lines: []string{"ef"}, first: 3},
			{op: "append", data: "", lines: nil},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.jsonl")
			tl := NewTailer(path)
			tl.Chunk = tc.chunk
			if res, err := tl.Poll(); err != nil || len(res.Lines) != 0 {
				t.Fatalf("poll of a missing file: %v %q", err, res.Lines)
			}
			for i, st := range tc.steps {
				switch st.op {
				case "append":
					appendFile(t, path, st.data)
				case "truncate":
					if err := os.WriteFile(path, []byte(st.data), 0o644); err != nil {
						t.Fatal(err)
					}
				case "replace":
					tmp := path + ".new"
					if err := os.WriteFile(tmp, []byte(st.data), 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.Rename(tmp, path); err != nil {
						t.Fatal(err)
					}
				case "remove":
					if err := os.Remove(path); err != nil {
						t.Fatal(err)
					}
				}
				res, err := tl.Poll()
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				got := make([]string, len(res.Lines))
				for j, l := range res.Lines {
					got[j] = string(l)
				}
				if len(got) == 0 {
					got = nil
				}
				if !reflect.DeepEqual(got, st.lines) {
					t.Errorf("step %d: lines %q, want %q", i, got, st.lines)
				}
				if res.Reset != st.reset {
					t.Errorf("step %d: reset %v, want %v", i, res.Reset, st.reset)
				}
				if len(st.lines) > 0 && res.FirstLine != st.first {
					t.Errorf("step %d: first line %d, want %d", i, res.FirstLine, st.first)
				}
			}
		})
	}
}

// TestTailerReadsOnlyNewBytes checks the offset advances by what was
// appended, i.e. a poll never re-reads the file from the start.
func TestTailerReadsOnlyNewBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	big := strings.Repeat("x", 1000) + "\n"
	appendFile(t, path, strings.Repeat(big, 100))
	tl := NewTailer(path)
	res, err := tl.Poll()
	if err != nil || len(res.Lines) != 100 {
		t.Fatalf("first poll: %v, %d lines", err, len(res.Lines))
	}
	off := tl.Offset()
	appendFile(t, path, "tail\n")
	res, err = tl.Poll()
	if err != nil || len(res.Lines) != 1 || string(res.Lines[0]) != "tail" {
		t.Fatalf("second poll: %v %q", err, res.Lines)
	}
	if got := tl.Offset() - off; got != 5 {
		t.Errorf("second poll consumed %d bytes, want 5", got)
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTailerSeekEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "train.log")
	appendFile(t, path, "old 1\nold 2\n")
	tl := NewTailer(path)
	if err := tl.SeekEnd(); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "new\n")
	res, err := tl.Poll()
	if err != nil || len(res.Lines) != 1 || string(res.Lines[0]) != "new" || res.Reset {
		t.Fatalf("after SeekEnd: %v %q reset=%v", err, res.Lines, res.Reset)
	}
}
