package glue

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

// The MRPC sources, named as GLUE's download_glue_data.py leaves them in
// the MRPC folder.
const (
	mrpcTrainSrc = "msr_paraphrase_train.txt"
	mrpcTestSrc  = "msr_paraphrase_test.txt"
	mrpcDevIDs   = "dev_ids.tsv"
)

// buildMRPC derives train.tsv, dev.tsv and test.tsv in dir from the MSR
// corpus files and dev_ids.tsv there, byte for byte as GLUE's
// download_glue_data.py does: the train/dev header is the MSR header copied
// as is (byte-order mark included), the pairs listed in dev_ids.tsv go to
// dev.tsv, and test.tsv gets a fresh header and a 0-based index column.
func buildMRPC(dir string) error {
	devIDs, err := readMRPCDevIDs(filepath.Join(dir, mrpcDevIDs))
	if err != nil {
		return err
	}
	trainPath := filepath.Join(dir, mrpcTrainSrc)
	header, rows, err := readMSR(trainPath)
	if err != nil {
		return err
	}
	var train, dev bytes.Buffer
	train.WriteString(header)
	dev.WriteString(header)
	for _, r := range rows {
		out := &train
		if devIDs[r.f[1]+"\t"+r.f[2]] {
			out = &dev
		}
		out.WriteString(strings.Join(r.f, "\t") + "\n")
	}

	testPath := filepath.Join(dir, mrpcTestSrc)
	_, rows, err = readMSR(testPath)
	if err != nil {
		return err
	}
	var test bytes.Buffer
	test.WriteString("index\t#1 ID\t#2 ID\t#1 String\t#2 String\n")
	for i, r := range rows {
		test.WriteString(strconv.Itoa(i) + "\t" + strings.Join(r.f[1:], "\t") + "\n")
	}

	for name, buf := range map[string]*bytes.Buffer{"train.tsv": &train, "dev.tsv": &dev, "test.tsv": &test} {
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("glue: MRPC: %w", err)
		}
	}
	return nil
}

type msrRow struct {
	f []string // quality, #1 ID, #2 ID, #1 String, #2 String
}

// readMSR reads an MSR paraphrase file with Python's universal newlines:
// the header line (with its newline) and the rows, each stripped of
// surrounding whitespace and split into exactly five fields.
func readMSR(path string) (header string, rows []msrRow, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("glue: MRPC: %w", err)
	}
	text := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n")
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return "", nil, fmt.Errorf("glue: MRPC: %s is empty", path)
	}
	for i, line := range lines[1:] {
		f := strings.Split(strings.TrimFunc(line, isPySpace), "\t")
		if len(f) != 5 {
			return "", nil, &ParseError{path, i + 2, fmt.Sprintf("has %d tab-separated fields, want 5 (Quality, #1 ID, #2 ID, #1 String, #2 String)", len(f))}
		}
		rows = append(rows, msrRow{f})
	}
	return lines[0], rows, nil
}

// isPySpace matches Python's str.isspace, which str.strip uses: Unicode
// white space plus the ASCII separators 0x1c-0x1f.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func readMRPCDevIDs(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("glue: MRPC: %w", err)
	}
	ids := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 2 {
			return nil, &ParseError{path, i + 1, fmt.Sprintf("has %d tab-separated fields, want 2 (#1 ID, #2 ID)", len(f))}
		}
		ids[f[0]+"\t"+f[1]] = true
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("glue: MRPC: %s lists no dev pairs", path)
	}
	return ids, nil
}
