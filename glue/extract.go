package glue

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// maxExtract bounds what one archive may unpack to (MNLI, the largest,
// unpacks to about 1 GB), so a hostile archive cannot fill the disk.
const maxExtract = 8 << 30

// checkEntryName rejects zip entry names that could escape the target
// folder or are ambiguous: absolute paths, ".." elements, backslashes,
// drive letters, empty names and names that are not clean ("a//b", "./a", ".").
func checkEntryName(name string) error {
	n := strings.TrimSuffix(name, "/")
	switch {
	case n == "":
		return fmt.Errorf("entry with an empty name")
	case strings.Contains(n, `\`):
		return fmt.Errorf("entry %q contains a backslash", name)
	case strings.HasPrefix(n, "/") || filepath.IsAbs(n) || filepath.VolumeName(n) != "":
		return fmt.Errorf("entry %q has an absolute path", name)
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return fmt.Errorf("entry %q climbs out of the archive with ..", name)
		}
	}
	if path.Clean(n) != n || n == "." {
		return fmt.Errorf("entry %q is not a clean path (empty or . elements would unpack under another name)", name)
	}
	if !filepath.IsLocal(filepath.FromSlash(n)) {
		return fmt.Errorf("entry %q is not a local path", name)
	}
	return nil
}

// extractZip checks every entry of the archive, finds the folder inside it
// that holds all the wanted files (normally the task folder, e.g. CoLA/),
// and unpacks that folder's contents into dst. Entries elsewhere (such as
// __MACOSX/) are skipped. Nothing is written unless every entry is safe and
// every wanted file is present.
func extractZip(zr *zip.Reader, archive string, dir string, want []string, dst string) error {
	names := map[string]*zip.File{}
	tops := map[string]bool{}
	var total uint64
	for _, f := range zr.File {
		if err := checkEntryName(f.Name); err != nil {
			return fmt.Errorf("%s: unsafe archive: %w", archive, err)
		}
		mode := f.Mode()
		if mode&os.ModeSymlink != 0 {
			return fmt.Errorf("%s: unsafe archive: entry %q is a symbolic link", archive, f.Name)
		}
		if !mode.IsDir() && !mode.IsRegular() {
			return fmt.Errorf("%s: unsafe archive: entry %q is not a regular file (%v)", archive, f.Name, mode)
		}
		clean := strings.TrimSuffix(f.Name, "/")
		if _, dup := names[clean]; dup {
			return fmt.Errorf("%s: unsafe archive: entry %q appears twice", archive, f.Name)
		}
		names[clean] = f
		if i := strings.IndexByte(clean, '/'); i > 0 {
			tops[clean[:i]+"/"] = true
		}
		if f.UncompressedSize64 > maxExtract-total { // not total+size: that can wrap
			return fmt.Errorf("%s: archive unpacks to more than the %d bytes allowed", archive, uint64(maxExtract))
		}
		total += f.UncompressedSize64
	}

	// Prefer the task folder's own name; accept another single top folder
	// (e.g. QQP-clean/) or none.
	candidates := []string{dir + "/"}
	var others []string
	for t := range tops {
		if t != dir+"/" {
			others = append(others, t)
		}
	}
	sort.Strings(others)
	candidates = append(candidates, others...)
	candidates = append(candidates, "")
	prefix, found := "", false
	for _, c := range candidates {
		ok := true
		for _, w := range want {
			if f, has := names[c+w]; !has || f.Mode().IsDir() {
				ok = false
				break
			}
		}
		if ok {
			prefix, found = c, true
			break
		}
	}
	if !found {
		var missing []string
		for _, w := range want {
			if _, has := names[dir+"/"+w]; !has {
				missing = append(missing, dir+"/"+w)
			}
		}
		return fmt.Errorf("%s: archive lacks %s", archive, strings.Join(missing, ", "))
	}

	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, f := range zr.File {
		rel, ok := strings.CutPrefix(strings.TrimSuffix(f.Name, "/"), prefix)
		if !ok || rel == "" {
			continue
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if f.Mode().IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := extractFile(f, target); err != nil {
			return fmt.Errorf("%s: %s: %w", archive, f.Name, err)
		}
	}
	return nil
}

// extractFile writes one entry to a new file; zip's reader checks the
// entry's CRC-32 and length when it reaches the end.
func extractFile(f *zip.File, target string) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, io.LimitReader(rc, int64(f.UncompressedSize64)+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if uint64(n) != f.UncompressedSize64 {
		return fmt.Errorf("unpacked %d bytes, the archive says %d", n, f.UncompressedSize64)
	}
	return nil
}
