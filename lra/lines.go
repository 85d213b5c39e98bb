package lra

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

const bom = "\ufeff"

// eachLine calls fn with every line of r and its 1-based number. It strips
// a byte-order mark on the first line and LF or CRLF ends, and does not
// report the empty "line" after a final newline. Lines may be any length
// (an official ListOps line is up to about 12 KB).
func eachLine(r io.Reader, path string, fn func(no int, line string) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	for no := 1; ; no++ {
		raw, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("lra: read %s: %w", path, err)
		}
		if raw == "" && err == io.EOF {
			return nil
		}
		line := strings.TrimSuffix(strings.TrimSuffix(raw, "\n"), "\r")
		if no == 1 {
			line = strings.TrimPrefix(line, bom)
		}
		if ferr := fn(no, line); ferr != nil {
			return ferr
		}
		if err == io.EOF {
			return nil
		}
	}
}

// parseFile opens path and hands it to parse.
func parseFile(path string, parse func(r io.Reader, path string) ([]Example, error)) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lra: %w", err)
	}
	defer f.Close()
	return parse(f, path)
}

// firstExisting returns the first of paths that is a regular file.
func firstExisting(paths ...string) (string, bool) {
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
