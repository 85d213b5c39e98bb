package glue

import (
	"archive/zip"
	"bytes"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzZip builds an archive from a spec: one entry per line, "KIND
// name=content" with KIND f (regular file), d (folder), l (symbolic
// link), p (named pipe) or anything else (a regular file too).
func fuzzZip(spec string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, line := range strings.Split(spec, "\n") {
		if line == "" {
			continue
		}
		name, content, _ := strings.Cut(line[1:], "=")
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		mode := fs.FileMode(0o644)
		switch line[0] {
		case 'd':
			mode = fs.ModeDir | 0o755
		case 'l':
			mode = fs.ModeSymlink | 0o777
		case 'p':
			mode = fs.ModeNamedPipe | 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			continue
		}
		if !mode.IsDir() && !strings.HasSuffix(name, "/") {
			w.Write([]byte(content))
		}
	}
	zw.Close()
	return buf.Bytes()
}

// FuzzExtractZip: whatever the archive (built from a spec, or raw bytes
// starting "PK"), extractZip writes nothing outside its target folder; a
// refusal (unsafe entry, missing files, too large) writes nothing at all;
// on success the target holds exactly the entries under the chosen
// folder, by the names they have in the archive and with their contents.
func FuzzExtractZip(f *testing.F) {
	f.Add([]byte("dCoLA/\nfCoLA/train.tsv=a\t1\t\tx\nfCoLA/dev.tsv=b\t0\t*\ty\nf__MACOSX/CoLA/._train.tsv=junk\n"))
	f.Add([]byte("fQQP-clean/train.tsv=t\nfQQP-clean/dev.tsv=d\nfQQP-clean/sub/extra.txt=e\n"))
	f.Add([]byte("ftrain.tsv=t\nfdev.tsv=d\ndempty/\n"))
	f.Add([]byte("fCoLA/train.tsv=t\nfCoLA/dev.tsv=d\nfCoLA/../../escape=x\n"))
	f.Add([]byte("fCoLA/train.tsv=t\nfCoLA/dev.tsv=d\nlCoLA/link=/etc/passwd\n"))
	f.Add([]byte("fCoLA/train.tsv=t\nfCoLA/dev.tsv=d\npCoLA/fifo=\n"))
	f.Add([]byte("fCoLA/train.tsv=t\nfCoLA/dev.tsv=d\nf/abs=x\nfC:\\x=y\n"))
	f.Add([]byte("fCoLA/train.tsv=t\nfCoLA/dev.tsv=d\nfCoLA/a=1\ndCoLA/a/\n"))
	f.Add([]byte("fCoLA/train.tsv=t\nfCoLA/dev.tsv=d\nfCoLA/x=1\nfCoLA/x/y=2\n"))
	f.Add([]byte("fCoLA/train.tsv=t\nfCoLA/dev.tsv=d\nfCoLA//x=1\nfCoLA/./y=2\n"))
	f.Add(fuzzZip("fCoLA/train.tsv=t\nfCoLA/dev.tsv=d\nfCoLA/sub/x=1\n"))
	f.Fuzz(func(t *testing.T, spec []byte) {
		data := spec
		if !bytes.HasPrefix(spec, []byte("PK")) {
			data = fuzzZip(string(spec))
		}
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		root := t.TempDir()
		sentinel := filepath.Join(root, "outside.txt")
		if err := os.WriteFile(sentinel, []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, "out")
		err = extractZip(zr, "x.zip", "CoLA", []string{"train.tsv", "dev.tsv"}, dst)

		// nothing outside dst: root holds the sentinel, unchanged, and dst
		ents, rerr := os.ReadDir(root)
		if rerr != nil {
			t.Fatal(rerr)
		}
		for _, e := range ents {
			if e.Name() != "outside.txt" && e.Name() != "out" {
				t.Fatalf("extractZip (err %v) wrote %s outside the target", err, e.Name())
			}
		}
		if b, rerr := os.ReadFile(sentinel); rerr != nil || string(b) != "keep" {
			t.Fatalf("the file beside the target changed: %q, %v", b, rerr)
		}
		written := map[string]fs.FileMode{}
		if _, serr := os.Lstat(dst); serr == nil {
			werr := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if p == dst {
					return nil
				}
				rel, _ := filepath.Rel(dst, p)
				if !filepath.IsLocal(rel) {
					t.Fatalf("%s is outside %s", p, dst)
				}
				written[filepath.ToSlash(rel)] = d.Type()
				if d.Type()&fs.ModeSymlink != 0 || !(d.Type().IsDir() || d.Type().IsRegular()) {
					t.Fatalf("extractZip (err %v) made %s, of type %v", err, rel, d.Type())
				}
				return nil
			})
			if werr != nil {
				t.Fatal(werr)
			}
		}
		if err != nil {
			msg := err.Error()
			if (strings.Contains(msg, "unsafe archive") || strings.Contains(msg, "archive lacks") || strings.Contains(msg, "unpacks to")) && len(ents) != 1 {
				t.Fatalf("refused (%v), but wrote %v", err, written)
			}
			return
		}

		// success: exactly the entries under one folder of the archive (the
		// task's, another top folder or the top), by their names
		candidates := []string{"CoLA/", ""}
		for _, zf := range zr.File {
			if i := strings.IndexByte(zf.Name, '/'); i > 0 {
				candidates = append(candidates, zf.Name[:i+1])
			}
		}
		found := false
		for _, p := range candidates {
			if matchesFolder(t, zr, p, dst, written) {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("the target holds %v, which is no folder of the archive", written)
		}
	})
}

// matchesFolder reports whether written (the target's paths, slash
// separated) is exactly what the archive holds under prefix: every file
// entry by its name with its content, every folder entry, and the folders
// above them; nothing else.
func matchesFolder(t *testing.T, zr *zip.Reader, prefix, dst string, written map[string]fs.FileMode) bool {
	expect := map[string]bool{} // name -> is a folder
	for _, zf := range zr.File {
		rel, ok := strings.CutPrefix(strings.TrimSuffix(zf.Name, "/"), prefix)
		if !ok || rel == "" {
			continue
		}
		isDir := zf.Mode().IsDir()
		expect[rel] = isDir
		for d := rel; strings.Contains(d, "/"); {
			d = d[:strings.LastIndexByte(d, '/')]
			expect[d] = true
		}
		if !isDir && !sameContent(t, zf, filepath.Join(dst, filepath.FromSlash(rel))) {
			return false
		}
	}
	if len(expect) != len(written) {
		return false
	}
	for name, isDir := range expect {
		mode, ok := written[name]
		if !ok || mode.IsDir() != isDir {
			return false
		}
	}
	return true
}

// sameContent reports whether the file at path holds the entry's bytes.
func sameContent(t *testing.T, zf *zip.File, path string) bool {
	got, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	rc, err := zf.Open()
	if err != nil {
		return false
	}
	defer rc.Close()
	want, err := io.ReadAll(rc)
	return err == nil && bytes.Equal(got, want)
}

// TestExtractZipRefusesSizesThatWrap: the declared sizes are summed
// without overflow, so entries whose sizes add up past 2⁶⁴ (wrapping to a
// few bytes) are refused before anything is written.
func TestExtractZipRefusesSizesThatWrap(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, body string, size uint64) {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc32.ChecksumIEEE([]byte(body)),
			CompressedSize64: uint64(len(body)), UncompressedSize64: size})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	add("CoLA/train.tsv", "t", 1)
	add("CoLA/dev.tsv", "d", 1)
	for _, n := range []string{"a", "b", "c"} {
		add("CoLA/"+n, "x", 6148914691236517206) // three of these sum to 2⁶⁴ + 2
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	err = extractZip(zr, "x.zip", "CoLA", []string{"train.tsv", "dev.tsv"}, dst)
	if err == nil || !strings.Contains(err.Error(), "unpacks to") {
		t.Fatalf("err = %v, want the size refusal", err)
	}
	if _, serr := os.Stat(dst); serr == nil {
		t.Fatal("the target was created")
	}
}
