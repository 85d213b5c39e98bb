package glue

import "testing"

func TestCheckEntryName(t *testing.T) {
	good := []string{"CoLA/train.tsv", "CoLA/", "a/b/c.txt", "file", "CoLA/..hidden", "a/.../b"}
	bad := []string{"", "/", "../x", "CoLA/../x", "CoLA/..", "/etc/passwd", `CoLA\train.tsv`, `C:\x`, "a/../../b"}
	for _, n := range good {
		if err := checkEntryName(n); err != nil {
			t.Errorf("checkEntryName(%q) = %v, want ok", n, err)
		}
	}
	for _, n := range bad {
		if err := checkEntryName(n); err == nil {
			t.Errorf("checkEntryName(%q) accepted", n)
		}
	}
}
