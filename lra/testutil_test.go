package lra

import (
	"os"
	"path/filepath"
	"testing"
)

// writeFiles creates files (path relative to dir → content) under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// aclImdbFixture is a small aclImdb-shaped tree: two splits, both classes,
// the files' trailing newlines, a <br /> tag, a multi-byte character, and
// the non-review files the real archive has beside them.
var aclImdbFixture = map[string]string{
	"aclImdb/train/pos/0_9.txt":     "A wonderful film.<br /><br />Loved it.\n",
	"aclImdb/train/pos/1_7.txt":     "  Good, café scenes. ",
	"aclImdb/train/neg/0_2.txt":     "Dull and slow.\r\n",
	"aclImdb/train/neg/1_1.txt":     "Terrible.",
	"aclImdb/train/neg/2_3.txt":     "Not\tgood.",
	"aclImdb/train/urls_pos.txt":    "http://www.imdb.com/title/tt0453418/usercomments\n",
	"aclImdb/train/labeledBow.feat": "9 0:9 1:1\n",
	"aclImdb/test/pos/0_10.txt":     "Brilliant.",
	"aclImdb/test/neg/0_1.txt":      "Awful.",
	"aclImdb/imdb.vocab":            "the\nand\n",
	"aclImdb/train/unsup/0_0.txt":   "unlabelled",
	"aclImdb/train/pos/notes.md":    "not a review",
}
